/**
 * Media types of the two families regpush handles (OCI image-spec and Docker image manifest v2),
 * and the small decisions that depend on them. A manifest never mixes families: whatever we add
 * follows the family of the base.
 */
import { UnsupportedError } from '../errors.js';
import type { Descriptor } from './types.js';

/** Every media type regpush names. */
export const MediaType = {
  OCI_INDEX: 'application/vnd.oci.image.index.v1+json',
  OCI_MANIFEST: 'application/vnd.oci.image.manifest.v1+json',
  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  OCI_LAYER: 'application/vnd.oci.image.layer.v1.tar',
  OCI_LAYER_GZIP: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OCI_LAYER_ZSTD: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OCI_LAYER_NONDIST: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OCI_LAYER_NONDIST_GZIP: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OCI_LAYER_NONDIST_ZSTD: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  OCI_EMPTY: 'application/vnd.oci.empty.v1+json',
  /**
   * The artifact manifest of the OCI 1.1 release candidates, dropped from OCI 1.1 itself: Notation
   * signed with it in 2023, and ACR, Zot and Harbor stored it (notaryproject/notation#502, #509).
   * Asked for, so a registry answers with it rather than a 404, and refused by name (manifest.ts).
   */
  OCI_ARTIFACT_MANIFEST: 'application/vnd.oci.artifact.manifest.v1+json',
  DOCKER_LIST: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DOCKER_MANIFEST: 'application/vnd.docker.distribution.manifest.v2+json',
  DOCKER_CONFIG: 'application/vnd.docker.container.image.v1+json',
  DOCKER_LAYER: 'application/vnd.docker.image.rootfs.diff.tar',
  DOCKER_LAYER_GZIP: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DOCKER_FOREIGN_LAYER: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DOCKER_SCHEMA1: 'application/vnd.docker.distribution.manifest.v1+json',
  DOCKER_SCHEMA1_SIGNED: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** The family a manifest, config or layer media type belongs to. */
export type MediaFamily = 'oci' | 'docker';

/**
 * Accept header for manifest requests. All four types, always: distribution 2.8 converts a
 * schema 2 manifest to signed schema 1 when OCI or Docker v2 is missing, returns only the amd64
 * child of a list asked for as v2 only, and 404s an OCI index asked for without the OCI type.
 * And the OCI 1.1-rc artifact manifest, which a registry that stores one may answer only when it is
 * asked for (a 404 otherwise): it is then refused by name, not taken for a manifest gone.
 */
export const MANIFEST_ACCEPT = [MediaType.OCI_INDEX, MediaType.OCI_MANIFEST, MediaType.DOCKER_LIST, MediaType.DOCKER_MANIFEST, MediaType.OCI_ARTIFACT_MANIFEST].join(', ');

/** "application/x; charset=utf-8" → "application/x": registries may add parameters to Content-Type. */
export function baseMediaType(contentType: string): string {
  return contentType.split(';', 1)[0]!.trim().toLowerCase();
}

/** True for an OCI index or a Docker manifest list. */
export function isIndexMediaType(mt: string | undefined): boolean {
  if (mt === undefined) return false;
  const b = baseMediaType(mt);
  return b === MediaType.OCI_INDEX || b === MediaType.DOCKER_LIST;
}

/** True for an OCI image manifest or a Docker v2 schema 2 manifest. */
export function isImageManifestMediaType(mt: string | undefined): boolean {
  if (mt === undefined) return false;
  const b = baseMediaType(mt);
  return b === MediaType.OCI_MANIFEST || b === MediaType.DOCKER_MANIFEST;
}

/**
 * True for the config types of a container image (OCI or Docker v2). A manifest with another
 * config type (a Helm chart, an SBOM or signature with the empty config) is an artifact: nothing
 * a runtime can start, and nothing to put an app layer on.
 */
export function isImageConfigMediaType(mt: string | undefined): boolean {
  if (mt === undefined) return false;
  const b = baseMediaType(mt);
  return b === MediaType.OCI_CONFIG || b === MediaType.DOCKER_CONFIG;
}

/** True for the schema 1 types, which regpush refuses rather than silently mis-handling. */
export function isSchema1MediaType(mt: string | undefined): boolean {
  if (mt === undefined) return false;
  const b = baseMediaType(mt);
  return b === MediaType.DOCKER_SCHEMA1 || b === MediaType.DOCKER_SCHEMA1_SIGNED;
}

/** The family of a media type; throws UnsupportedError for a type of neither family. */
export function mediaFamily(mt: string): MediaFamily {
  const b = baseMediaType(mt);
  if (b.startsWith('application/vnd.oci.')) return 'oci';
  if (b.startsWith('application/vnd.docker.')) return 'docker';
  throw new UnsupportedError(`media type "${mt}" is neither OCI nor Docker`);
}

/** Layer types that registries may refuse to store: referenced by manifests, never copied. */
const FOREIGN_LAYER_TYPES: ReadonlySet<string> = new Set([
  MediaType.DOCKER_FOREIGN_LAYER,
  MediaType.OCI_LAYER_NONDIST,
  MediaType.OCI_LAYER_NONDIST_GZIP,
  MediaType.OCI_LAYER_NONDIST_ZSTD,
]);

/** True for a layer that lives elsewhere (Windows base layers): foreign/non-distributable type, or any `urls`. */
export function isForeignLayer(desc: Pick<Descriptor, 'mediaType' | 'urls'>): boolean {
  if (Array.isArray(desc.urls) && desc.urls.length > 0) return true;
  return typeof desc.mediaType === 'string' && FOREIGN_LAYER_TYPES.has(baseMediaType(desc.mediaType));
}

/** The gzip layer type of a family: the type of the layer regpush builds. */
export function layerMediaTypeFor(family: MediaFamily): string {
  return family === 'oci' ? MediaType.OCI_LAYER_GZIP : MediaType.DOCKER_LAYER_GZIP;
}

/** The config type of a family. */
export function configMediaTypeFor(family: MediaFamily): string {
  return family === 'oci' ? MediaType.OCI_CONFIG : MediaType.DOCKER_CONFIG;
}

/** The image manifest type of a family. */
export function manifestMediaTypeFor(family: MediaFamily): string {
  return family === 'oci' ? MediaType.OCI_MANIFEST : MediaType.DOCKER_MANIFEST;
}

/** The index (manifest list) type of a family. */
export function indexMediaTypeFor(family: MediaFamily): string {
  return family === 'oci' ? MediaType.OCI_INDEX : MediaType.DOCKER_LIST;
}
