/**
 * Composing the new image from the base's documents (pure): the rewritten config, the manifest
 * with our config and layer in it, and the index over the rewritten platform manifests. push()
 * serialises what these return and uploads those exact bytes.
 */
import { applyConfigChanges, type ConfigChanges, type LayerRecord, type Refuse } from './config.js';
import { appendLayerToManifest, buildIndex, scratchManifest, serializeManifest } from './build.js';
import { sha256Digest } from './digest.js';
import { InternalError } from '../errors.js';
import { MediaType, indexMediaTypeFor, mediaFamily, type MediaFamily } from './mediatypes.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform } from './types.js';

/** The base an image was built on, as recorded in labels and annotations. */
export interface BaseName {
  /** The reference as the user gave it, normalised ("docker.io/library/alpine:3.20"). */
  name: string;
  /** The digest that reference resolved to. */
  digest: string;
}

/** The history line of a config-only change (no layer). */
const CONFIG_CHANGE = 'regpush: config change';

/**
 * The base config with the user's changes, the new layer's diffID and history entry, and (with
 * `baseLabels`) the base's name and digest as labels — Docker v2 manifests have no annotations.
 * `created` (RFC 3339) dates a config-only change, as each layer's record dates a layer: the
 * push's fixed time (SOURCE_DATE_EPOCH, else the epoch), so that the image is reproducible.
 * `name`: what the messages call an option path (`config.workdir`), as the caller gave it.
 */
export function rewriteConfig(
  config: ImageConfig,
  changes: ConfigChanges | undefined,
  layer: LayerRecord | readonly LayerRecord[] | undefined,
  baseLabels?: BaseName,
  created: string = new Date(0).toISOString(),
  name?: (path: string) => string,
  refuse?: (path: string) => Refuse,
): ImageConfig {
  const all = { ...(changes ?? {}) };
  if (baseLabels) {
    all.labels = {
      ...(all.labels ?? {}),
      'org.opencontainers.image.base.name': baseLabels.name,
      'org.opencontainers.image.base.digest': baseLabels.digest,
    };
  }
  const any = Array.isArray(layer) ? layer.length > 0 : layer !== undefined;
  return applyConfigChanges(config, all, any ? layer : undefined, any ? undefined : { created, createdBy: CONFIG_CHANGE }, name, refuse);
}

/** The OCI annotations naming the base (none for Docker v2 or scratch). */
export function baseAnnotations(base: BaseName | undefined, family: MediaFamily): Record<string, string> | undefined {
  if (!base || family !== 'oci') return undefined;
  return { 'org.opencontainers.image.base.name': base.name, 'org.opencontainers.image.base.digest': base.digest };
}

/**
 * The new manifest: the base's with `config` in place and `layers` appended in order (or, from
 * scratch, a fresh manifest of the family). Without layers only the config changes. The base
 * must already be of `family` (see convert.ts).
 */
export function composeManifest(
  base: ImageManifest | undefined,
  config: Descriptor,
  layer: Descriptor | readonly Descriptor[] | undefined,
  annotations: Record<string, string> | undefined,
  family: MediaFamily,
): ImageManifest {
  const layers: readonly Descriptor[] = layer === undefined ? [] : Array.isArray(layer) ? layer : [layer as Descriptor];
  if (!base) {
    const m = scratchManifest(family, config, [...layers]);
    if (annotations && family === 'oci' && Object.keys(annotations).length) m.annotations = { ...annotations };
    return m;
  }
  if (layers.length) return appendLayerToManifest(base, { config, layers, annotations });
  const m = structuredClone(base);
  m.config = config;
  if (annotations && family === 'oci') m.annotations = { ...(m.annotations ?? {}), ...annotations };
  return m;
}

/** One rewritten platform image, as an index lists it. */
export interface IndexChild {
  manifest: ImageManifest;
  /** The exact bytes that are uploaded. */
  bytes: Buffer;
  platform: Platform;
  /** The base index entry's annotations, kept. */
  annotations?: Record<string, string>;
}

/** The new index for a multi-platform image: the base index's family and fields, our children (attestations dropped). */
export function composeIndex(
  baseIndex: ImageIndex | undefined,
  children: readonly IndexChild[],
  annotations?: Record<string, string>,
  family: MediaFamily = 'oci',
): { bytes: Buffer; mediaType: string } {
  const entries: Descriptor[] = children.map((c) => {
    const entry: Descriptor = { mediaType: c.manifest.mediaType ?? MediaType.OCI_MANIFEST, digest: sha256Digest(c.bytes), size: c.bytes.length, platform: c.platform };
    if (c.annotations) entry.annotations = c.annotations;
    return entry;
  });
  const index = buildIndex(baseIndex ?? { schemaVersion: 2, mediaType: indexMediaTypeFor(family), manifests: [] }, entries);
  if (annotations && Object.keys(annotations).length) {
    if (mediaFamily(index.mediaType ?? MediaType.OCI_INDEX) !== 'oci') throw new InternalError('annotations on a Docker manifest list');
    index.annotations = { ...(index.annotations ?? {}), ...annotations };
  }
  return { bytes: serializeManifest(index), mediaType: index.mediaType ?? MediaType.OCI_INDEX };
}
