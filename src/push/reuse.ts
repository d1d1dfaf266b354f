/**
 * The warm path: when the target tag already holds an image whose top layer has the same diffID
 * as the layer we would build, reuse that layer's descriptor — no gzip, no upload. Computing the
 * diffID needs only tar + sha256, far cheaper than gzip. Best effort: any doubt means "build".
 *
 * It starts before the base is resolved: the target's manifest is fetched, and the diffID pass
 * begins as soon as the tag turns out to exist, while the base manifest and config are still on
 * their way. So a warm push costs about max(resolve, diffID) instead of their sum.
 */
import type { LayerResult } from '../layer/index.js';
import { CONFIG_CAP } from '../http/response.js';
import { NotFoundError } from '../errors.js';
import { parseManifest } from '../image/manifest.js';
import { mediaFamily } from '../image/mediatypes.js';
import { selectPlatform } from '../image/platform.js';
import type { ImageConfig } from '../image/types.js';
import type { ImageReference } from '../ref/reference.js';
import type { RepoEndpoint } from '../transfer/types.js';
import type { ResolvedBase } from './resolve.js';

/** What the warm path found at a target whose top layer can be reused. */
export interface ReuseFound {
  /** The existing top layer, as the new image's layer. */
  layer: LayerResult;
  /** Blobs this run has just seen in the target repository (the layer by HEAD, the existing config by GET): no need to ask again. */
  present: string[];
  /** Digest of what the target tag held (its manifest, or index), computed from the bytes fetched. */
  tagDigest: string;
}

/** The layer's diffID and tar size; callers share one computation between targets. */
export type DiffIdOf = () => Promise<{ diffId: string; uncompressedSize: number }>;

/** Memoises `f`: the first call starts it, later calls share its promise. */
export function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

/**
 * The existing top layer of the target tag, when it equals what the layer would produce.
 * `base` may still be resolving; a failed resolve is the push's error, not this check's.
 */
export async function findReusableLayer(target: RepoEndpoint, toRef: ImageReference, base: Promise<ResolvedBase>, diffIdOf: DiffIdOf): Promise<ReuseFound | undefined> {
  const log = target.client.logger;
  try {
    let top;
    try {
      top = await target.client.getManifest(target.repo, toRef.tag ?? 'latest');
    } catch (err) {
      if (err instanceof NotFoundError) return undefined; // a first push: nothing to reuse
      throw err;
    }
    const mine = diffIdOf(); // the tag exists: start hashing now, alongside the requests below
    mine.catch(() => undefined); // awaited below; an early return must not leave it unhandled
    const resolved = await base;
    let parsed = parseManifest(top.bytes, top.mediaType);
    if (parsed.kind === 'index') {
      const child = selectPlatform(parsed.index, resolved.images[0]!.platform);
      const m = await target.client.getManifest(target.repo, child.digest);
      parsed = parseManifest(m.bytes, m.mediaType);
    }
    if (parsed.kind !== 'image') return undefined;
    const last = parsed.manifest.layers.at(-1);
    if (!last || mediaFamily(last.mediaType) !== resolved.family) return undefined;
    const cfg = JSON.parse((await target.client.getBlobBytes(target.repo, parsed.manifest.config.digest, CONFIG_CAP)).toString('utf8')) as ImageConfig;
    const lastDiff = cfg.rootfs?.diff_ids?.at(-1);
    if (!lastDiff) return undefined;
    const { diffId, uncompressedSize } = await mine;
    if (diffId !== lastDiff) return undefined;
    if ((await target.client.headBlob(target.repo, last.digest)) === undefined) return undefined;
    log.info(`app layer unchanged (diffID ${diffId}); reusing ${last.digest}`);
    return {
      layer: { digest: last.digest, diffId, size: last.size, uncompressedSize, entries: 0 },
      present: [last.digest, parsed.manifest.config.digest],
      tagDigest: top.digest,
    };
  } catch (err) {
    log.debug(`layer reuse check skipped: ${(err as Error).message}`);
    return undefined;
  }
}
