/**
 * The record a platform subset (copy --platform LIST, sync's `platforms: [list]`) keeps in the
 * index it writes: which source index it was made from and which platforms were asked for. With
 * it a re-run knows the target is up to date from a HEAD of the source (free on Docker Hub) and a
 * read of the index at the target, instead of the source index and every child it keeps (each a
 * pull). The OCI keys `org.opencontainers.image.base.{name,digest}` do not fit: they name the image
 * this one was built on (tools that track base image updates read them that way), not a copy of
 * the same image, and push keeps the base's own in an index, which this would overwrite. The
 * `org.opencontainers` prefix is reserved for OCI's own keys, so these are namespaced as the image
 * spec's annotation rules ask (reverse domain notation).
 */
import { MediaType, mediaFamily } from './mediatypes.js';
import { formatPlatform } from './platform.js';
import type { ImageIndex, Platform } from './types.js';
import { parseManifest } from './manifest.js';

/** The digest of the source index the subset was made from. */
export const SUBSET_SOURCE = 'dev.regpush.subset.source';
/** The platforms asked for, in the order given, each spelt canonically, comma-separated. */
export const SUBSET_PLATFORMS = 'dev.regpush.subset.platforms';

/** The platforms as the record spells them: "linux/amd64,linux/arm64/v8". */
function subsetPlatforms(platforms: readonly Platform[]): string {
  return platforms.map(formatPlatform).join(',');
}

/**
 * `index` (a subset made from the source index `source`) with the record in its annotations; only
 * an OCI index gets it: a Docker manifest list has no place for annotations (as push and
 * --format docker treat it), so it stays as it was and a re-run still reads the source.
 */
export function recordSubset(index: ImageIndex, source: string, platforms: readonly Platform[]): ImageIndex {
  if (mediaFamily(index.mediaType ?? MediaType.OCI_INDEX) !== 'oci') return index;
  return { ...index, annotations: { ...(index.annotations ?? {}), [SUBSET_SOURCE]: source, [SUBSET_PLATFORMS]: subsetPlatforms(platforms) } };
}

/** True when `bytes` are an index whose record says it is the subset `platforms` of `source`. */
export function isSubsetOf(bytes: Buffer, mediaType: string, source: string, platforms: readonly Platform[]): boolean {
  let p: ReturnType<typeof parseManifest>;
  try {
    p = parseManifest(bytes, mediaType);
  } catch {
    return false; // not what regpush wrote: the copy reads the source and writes it again
  }
  const a = p.kind === 'index' ? p.index.annotations : undefined;
  return a?.[SUBSET_SOURCE] === source && a[SUBSET_PLATFORMS] === subsetPlatforms(platforms);
}
