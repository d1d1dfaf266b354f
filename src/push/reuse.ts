/**
 * The warm path: when the target tag already holds an image whose top layer has the same diffID
 * as the layer we would build, reuse that layer's descriptor — no gzip, no upload. Computing the
 * diffID needs only tar + sha256, far cheaper than gzip. Best effort: any doubt means "build".
 */
import { computeDiffId, type LayerOptions, type LayerResult } from '../layer/index.js';
import { CONFIG_CAP } from '../http/response.js';
import { parseManifest } from '../image/manifest.js';
import { mediaFamily, type MediaFamily } from '../image/mediatypes.js';
import { selectPlatform } from '../image/platform.js';
import type { ImageConfig } from '../image/types.js';
import type { ImageReference } from '../ref/reference.js';
import type { RepoEndpoint } from '../transfer/blobs.js';
import type { ResolvedBase } from './resolve.js';

/** The existing top layer of the target tag, when it equals what `layer` would produce. */
export async function findReusableLayer(target: RepoEndpoint, toRef: ImageReference, base: ResolvedBase, layer: LayerOptions, family: MediaFamily): Promise<LayerResult | undefined> {
  const log = target.client.logger;
  try {
    if ((await target.client.headManifest(target.repo, toRef.tag ?? 'latest')) === undefined) return undefined;
    const top = await target.client.getManifest(target.repo, toRef.tag ?? 'latest');
    let parsed = parseManifest(top.bytes, top.mediaType);
    if (parsed.kind === 'index') {
      const child = selectPlatform(parsed.index, base.images[0]!.platform);
      const m = await target.client.getManifest(target.repo, child.digest);
      parsed = parseManifest(m.bytes, m.mediaType);
    }
    if (parsed.kind !== 'image') return undefined;
    const last = parsed.manifest.layers.at(-1);
    if (!last || mediaFamily(last.mediaType) !== family) return undefined;
    const cfg = JSON.parse((await target.client.getBlobBytes(target.repo, parsed.manifest.config.digest, CONFIG_CAP)).toString('utf8')) as ImageConfig;
    const lastDiff = cfg.rootfs?.diff_ids?.at(-1);
    if (!lastDiff) return undefined;
    const mine = await computeDiffId(layer);
    if (mine.diffId !== lastDiff) return undefined;
    if ((await target.client.headBlob(target.repo, last.digest)) === undefined) return undefined;
    log.info(`app layer unchanged (diffID ${mine.diffId}); reusing ${last.digest}`);
    return { digest: last.digest, diffId: mine.diffId, size: last.size, uncompressedSize: mine.uncompressedSize, entries: 0 };
  } catch (err) {
    log.debug(`layer reuse check skipped: ${(err as Error).message}`);
    return undefined;
  }
}
