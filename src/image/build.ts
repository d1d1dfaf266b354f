/**
 * Pure manifest and index rewriting: the base's documents with our config and layer put in, in
 * the base's media-type family, unknown fields kept. The caller hashes the exact bytes that
 * serializeManifest returns and uploads those same bytes.
 */
import { InternalError } from '../errors.js';
import { MediaType, indexMediaTypeFor, manifestMediaTypeFor, mediaFamily, type MediaFamily } from './mediatypes.js';
import { isAttestation } from './platform.js';
import type { Descriptor, ImageIndex, ImageManifest } from './types.js';

/** What appendLayerToManifest puts into a manifest. */
export interface ManifestAddition {
  /** The rewritten config's descriptor (replaces the base's). */
  config: Descriptor;
  /** The new layer's descriptor (appended after the base layers). */
  layer?: Descriptor;
  /** Several new layers, appended in this order after `layer` (if any). */
  layers?: readonly Descriptor[];
  /** Manifest annotations, e.g. org.opencontainers.image.base.name; Docker v2 has no place for them. */
  annotations?: Record<string, string>;
}

/** Throws an internal error when a descriptor we built is of the other family: a bug, never user input. */
function checkFamily(family: MediaFamily, desc: Descriptor, what: string): void {
  if (mediaFamily(desc.mediaType) !== family) {
    throw new InternalError(`${what} media type ${desc.mediaType} does not belong in a ${family} manifest`);
  }
}

/**
 * The base manifest with the config replaced and the new layer(s) appended. Keeps the base's family and
 * unknown fields; writes `mediaType` explicitly (OCI allows omitting it, but registries and tools
 * are more reliable with it); annotations go only into OCI manifests.
 */
export function appendLayerToManifest(manifest: ImageManifest, add: ManifestAddition): ImageManifest {
  const family = mediaFamily(manifest.mediaType ?? MediaType.OCI_MANIFEST);
  checkFamily(family, add.config, 'config');
  const added = [...(add.layer ? [add.layer] : []), ...(add.layers ?? [])];
  for (const l of added) checkFamily(family, l, 'layer');
  const base = structuredClone(manifest);
  // Leading keys fix the position of a mediaType the base lacked; the spread keeps the rest in order.
  const out: ImageManifest = {
    mediaType: base.mediaType ?? manifestMediaTypeFor(family),
    ...base,
    config: structuredClone(add.config),
    layers: [...base.layers, ...added.map((l) => structuredClone(l))],
  };
  if (family === 'oci' && add.annotations && Object.keys(add.annotations).length > 0) {
    out.annotations = { ...(base.annotations ?? {}), ...add.annotations };
  }
  return out;
}

/** The exact bytes to hash and PUT: compact JSON in the document's key order. */
export function serializeManifest(m: ImageManifest | ImageIndex): Buffer {
  return Buffer.from(JSON.stringify(m), 'utf8');
}

/**
 * A new index in the base's family listing `children` (our rewritten platform manifests).
 * Attestation children are dropped: they describe the old digests and would be wrong here.
 * `anyFamily`: the children are entries of an existing index, kept whatever their family.
 */
export function buildIndex(base: ImageIndex, children: Descriptor[], opts: { anyFamily?: boolean } = {}): ImageIndex {
  const family = mediaFamily(base.mediaType ?? MediaType.OCI_INDEX);
  const manifests = children.filter((d) => !isAttestation(d)).map((d) => structuredClone(d));
  if (!opts.anyFamily) for (const d of manifests) checkFamily(family, d, `index child ${d.digest}`);
  const copy = structuredClone(base);
  return { mediaType: copy.mediaType ?? indexMediaTypeFor(family), ...copy, manifests };
}

/** A manifest for `--from scratch`: the family's manifest type, the given config and layers. */
export function scratchManifest(family: MediaFamily, config: Descriptor, layers: Descriptor[]): ImageManifest {
  checkFamily(family, config, 'config');
  return { schemaVersion: 2, mediaType: manifestMediaTypeFor(family), config: structuredClone(config), layers: layers.map((l) => structuredClone(l)) };
}
