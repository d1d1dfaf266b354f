/** Resolving the base image: the manifest(s) and config(s) the new image is built on. */
import { InternalError, NotFoundError, ProtocolError, UnsupportedError } from '../errors.js';
import { CONFIG_CAP } from '../http/response.js';
import { checkDiffIds, configPlatform, parseConfig, scratchConfig } from '../image/config.js';
import pLimit from 'p-limit';
import { CHILD_MANIFEST_READS, checkIndexChildren, GraphBudget, parseManifest } from '../image/manifest.js';
import { isImageConfigMediaType, MediaType, type MediaFamily } from '../image/mediatypes.js';
import { formatPlatform, imagePlatforms, platformMatches } from '../image/platform.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform } from '../image/types.js';
import { digestReference, manifestRef, type ImageReference } from '../ref/reference.js';
import type { RegistryClient } from '../registry/registry-client.js';
import { platformChild } from '../transfer/graph.js';

/** One platform image of the base. */
export interface BasePlatformImage {
  /** The platform from the index entry, or from the config. */
  platform: Platform;
  /** The child manifest's digest (or the manifest's own for a single image; '' for scratch). */
  digest: string;
  /** The index entry, when the base is an index (kept to preserve its annotations). */
  indexEntry?: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
}

/** The resolved base: one or more platform images, and the index when there was one. */
export interface ResolvedBase {
  /** Digest the reference resolved to (the index's for a multi-arch base; '' for scratch). */
  digest: string;
  /** The mirror the base's manifest was read from, when it was read through one. */
  mirror?: string;
  family: MediaFamily;
  index?: ImageIndex;
  images: BasePlatformImage[];
}

/**
 * Reads the base named by `ref` and picks `platform` ("all" = every image child). `onManifest`
 * hears of a single-image base's manifest before its config is read, so blob work can start a
 * round trip earlier (the platform check that needs the config may still fail the push after).
 */
export async function resolveBase(
  client: RegistryClient,
  ref: ImageReference,
  platform: Platform | 'all',
  platformGiven: boolean,
  onManifest?: (m: ImageManifest, family: MediaFamily) => void,
): Promise<ResolvedBase> {
  const top = await client.getManifest(ref.repository, manifestRef(ref));
  const parsed = parseManifest(top.bytes, top.mediaType);
  if (parsed.kind === 'image') {
    const notImage = artifactKind(parsed.manifest);
    if (notImage) throw new UnsupportedError(`base ${digestReference(ref, top.digest)} is not a container image (${notImage}): nothing to add layers to`);
    onManifest?.(parsed.manifest, familyOf(parsed.mediaType));
    const image = await readImage(client, ref.repository, top.digest, parsed.manifest);
    if (platformGiven && platform !== 'all' && !platformMatches(platform, image.platform)) {
      throw new NotFoundError(`base ${ref.registry}/${ref.repository} is a single ${formatPlatform(image.platform)} image, not ${formatPlatform(platform)}`);
    }
    return { digest: top.digest, ...(top.mirror ? { mirror: top.mirror } : {}), family: familyOf(parsed.mediaType), images: [image] };
  }
  const name = digestReference(ref, top.digest);
  // Bounded before any child is fetched: a hostile index must not turn into thousands of GETs.
  checkIndexChildren(parsed.index, name);
  // An artifact listed in the index (an SBOM, a signature: OCI 1.1 descriptors say artifactType)
  // is no platform image; without this it would be read as linux/amd64 and get the app layer.
  // One platform: picked as inspect, digest and copy pick it (platformChild), its warning naming the base.
  const children = platform === 'all' ? imagePlatforms(parsed.index).filter((d) => d.artifactType === undefined) : [platformChild(parsed.index, platform, `base ${name}`, client.logger)];
  if (children.length === 0) throw new NotFoundError(`index ${name} has no image children`);
  const budget = new GraphBudget(`base ${name}`);
  // A few at a time, and none started after a failure: each child is a manifest and a config GET.
  const limit = pLimit(CHILD_MANIFEST_READS);
  let failed = false;
  const images = await Promise.all(
    children.map((d) =>
      limit(async () => {
        if (failed) throw new InternalError('stopped'); // never seen: Promise.all already rejected with the first failure
        try {
          const m = await client.getManifest(ref.repository, d.digest);
          budget.child();
          budget.hold(m.bytes.length);
          const p = parseManifest(m.bytes, m.mediaType);
          if (p.kind !== 'image') throw new ProtocolError(`index ${top.digest} lists ${d.digest}, which is not an image manifest`);
          const notImage = artifactKind(p.manifest);
          if (notImage) {
            // One platform asked for by name must be an image; with "all", an artifact whose index entry did not say so is left out.
            if (platform !== 'all') throw new UnsupportedError(`index ${name} lists ${d.digest} for ${formatPlatform(platform)}, which is not a container image (${notImage})`);
            client.logger.info(`index ${name}: ${d.digest} is not a container image (${notImage}); left out`);
            return undefined;
          }
          const img = await readImage(client, ref.repository, m.digest, p.manifest, budget);
          return { ...img, platform: d.platform ?? img.platform, indexEntry: d };
        } catch (err) {
          failed = true;
          throw err;
        }
      }),
    ),
  );
  const kept = images.filter((i) => i !== undefined);
  if (kept.length === 0) throw new NotFoundError(`index ${name} has no image children`);
  return { digest: top.digest, ...(top.mirror ? { mirror: top.mirror } : {}), family: familyOf(parsed.mediaType), index: parsed.index, images: kept };
}

/** Why a manifest is an artifact rather than a container image ("artifactType …", "config type …"), or undefined for an image. */
function artifactKind(m: ImageManifest): string | undefined {
  if (m.artifactType !== undefined) return `artifactType ${m.artifactType}`;
  if (!isImageConfigMediaType(m.config.mediaType)) return `config type ${m.config.mediaType}`;
  return undefined;
}

/** An empty base for `--from scratch`. */
export function scratchBase(platforms: Platform[], family: MediaFamily): ResolvedBase {
  return {
    digest: '',
    family,
    images: platforms.map((p) => ({
      platform: p,
      digest: '',
      manifest: { schemaVersion: 2, mediaType: family === 'oci' ? MediaType.OCI_MANIFEST : MediaType.DOCKER_MANIFEST, config: { mediaType: '', digest: '', size: 0 }, layers: [] },
      config: scratchConfig(p),
    })),
  };
}

function familyOf(mediaType: string): MediaFamily {
  return mediaType.includes('docker') ? 'docker' : 'oci';
}

async function readImage(client: RegistryClient, repo: string, digest: string, manifest: ImageManifest, budget?: GraphBudget): Promise<BasePlatformImage> {
  const bytes = await client.getBlobBytes(repo, manifest.config.digest, CONFIG_CAP);
  budget?.hold(bytes.length);
  const what = `config ${manifest.config.digest} of ${client.registry}/${repo}`;
  const config = parseConfig(bytes, what);
  checkDiffIds(config, manifest.layers.length, what);
  return { platform: configPlatform(config), digest, manifest, config };
}
