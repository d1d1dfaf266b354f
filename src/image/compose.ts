/**
 * Composing the new image from the base's documents (pure): the rewritten config, the manifest
 * with our config and layer in it, and the index over the rewritten platform manifests. push()
 * serialises what these return and uploads those exact bytes.
 */
import { applyConfigChanges, type ConfigChanges, type LayerRecord } from './config.js';
import { appendLayerToManifest, buildIndex, scratchManifest, serializeManifest } from './build.js';
import { sha256Digest } from './digest.js';
import { MediaType, type MediaFamily } from './mediatypes.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform } from './types.js';

/** The base an image was built on, as recorded in labels and annotations. */
export interface BaseName {
  /** The reference as the user gave it, normalised ("docker.io/library/alpine:3.20"). */
  name: string;
  /** The digest that reference resolved to. */
  digest: string;
}

/** The history entry of a config-only change (no layer). */
const CONFIG_CHANGE_HISTORY = { created: new Date(0).toISOString(), createdBy: 'regpush: config change' };

/**
 * The base config with the user's changes, the new layer's diffID and history entry, and (with
 * `baseLabels`) the base's name and digest as labels — Docker v2 manifests have no annotations.
 */
export function rewriteConfig(config: ImageConfig, changes: ConfigChanges | undefined, layer: LayerRecord | undefined, baseLabels?: BaseName): ImageConfig {
  const all = { ...(changes ?? {}) };
  if (baseLabels) {
    all.labels = {
      ...(all.labels ?? {}),
      'org.opencontainers.image.base.name': baseLabels.name,
      'org.opencontainers.image.base.digest': baseLabels.digest,
    };
  }
  return applyConfigChanges(config, all, layer, layer ? undefined : CONFIG_CHANGE_HISTORY);
}

/** The OCI annotations naming the base (none for Docker v2 or scratch). */
export function baseAnnotations(base: BaseName | undefined, family: MediaFamily): Record<string, string> | undefined {
  if (!base || family !== 'oci') return undefined;
  return { 'org.opencontainers.image.base.name': base.name, 'org.opencontainers.image.base.digest': base.digest };
}

/**
 * The new manifest: the base's with `config` in place and `layer` appended (or, from scratch, a
 * fresh manifest of the family). Without a layer only the config changes.
 */
export function composeManifest(
  base: ImageManifest | undefined,
  config: Descriptor,
  layer: Descriptor | undefined,
  annotations: Record<string, string> | undefined,
  family: MediaFamily,
): ImageManifest {
  if (!base) return scratchManifest(family, config, layer ? [layer] : []);
  if (layer) return appendLayerToManifest(base, { config, layer, annotations });
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
export function composeIndex(baseIndex: ImageIndex | undefined, children: readonly IndexChild[]): { bytes: Buffer; mediaType: string } {
  const entries: Descriptor[] = children.map((c) => {
    const entry: Descriptor = { mediaType: c.manifest.mediaType ?? MediaType.OCI_MANIFEST, digest: sha256Digest(c.bytes), size: c.bytes.length, platform: c.platform };
    if (c.annotations) entry.annotations = c.annotations;
    return entry;
  });
  const index = buildIndex(baseIndex ?? { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] }, entries);
  return { bytes: serializeManifest(index), mediaType: index.mediaType ?? MediaType.OCI_INDEX };
}
