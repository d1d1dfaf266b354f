/**
 * Converting documents between the OCI and Docker v2 families (`--format oci|docker`). Layer and
 * config bytes are the same in both (a gzip tar is a gzip tar; the config JSON is shared), so only
 * the media types in the manifest and index change and every blob can still be skipped or mounted.
 * What has no equivalent in the other family is refused with the reason, never rewritten silently:
 * zstd and uncompressed OCI layers have no Docker v2 type, and Docker v2 cannot carry a subject or
 * an artifactType. Annotations are the exception: they are dropped, and the caller is told which
 * (DroppedAnnotations for those on descriptors), to say so.
 */
import { InputError, UnsupportedError } from '../errors.js';
import { MediaType, baseMediaType, indexMediaTypeFor, manifestMediaTypeFor, mediaFamily, type MediaFamily } from './mediatypes.js';
import { isAttestation } from './platform.js';
import type { Descriptor, ImageIndex, ImageManifest } from './types.js';

/** Layer media types with a counterpart in the other family (gzip, and the foreign/non-distributable gzip). */
const LAYER_TO_DOCKER: Record<string, string> = {
  [MediaType.OCI_LAYER_GZIP]: MediaType.DOCKER_LAYER_GZIP,
  [MediaType.OCI_LAYER_NONDIST_GZIP]: MediaType.DOCKER_FOREIGN_LAYER,
};
const LAYER_TO_OCI: Record<string, string> = {
  [MediaType.DOCKER_LAYER_GZIP]: MediaType.OCI_LAYER_GZIP,
  [MediaType.DOCKER_FOREIGN_LAYER]: MediaType.OCI_LAYER_NONDIST_GZIP,
};

/** The layer's media type in `family`; UnsupportedError when it has none there. */
export function convertLayerMediaType(mediaType: string, family: MediaFamily): string {
  const mt = baseMediaType(mediaType);
  if (mediaFamily(mt) === family) return mediaType;
  const out = (family === 'docker' ? LAYER_TO_DOCKER : LAYER_TO_OCI)[mt];
  if (!out) {
    throw new UnsupportedError(`layer type ${mediaType} has no ${family === 'docker' ? 'Docker v2' : 'OCI'} equivalent; push with --format ${family === 'docker' ? 'oci' : 'docker'} (or leave --format out) to keep it`);
  }
  return out;
}

/** A descriptor of the other family: the media type converted; for Docker, OCI-only fields refused or dropped. */
function convertDescriptor(d: Descriptor, mediaType: string, family: MediaFamily): Descriptor {
  const out: Descriptor = { ...structuredClone(d), mediaType };
  if (family === 'docker') {
    // Docker v2 descriptors have mediaType, size, digest, urls (and platform in a list).
    delete out.annotations;
    delete out.artifactType;
    delete out.data;
  }
  return out;
}

/** Refuses the OCI fields Docker v2 has no place for, naming them. */
function checkDockerable(doc: { subject?: unknown; artifactType?: unknown }, what: string): void {
  if (doc.subject !== undefined) throw new UnsupportedError(`${what} has a subject (it refers to another manifest); Docker v2 cannot carry it: use --format oci`);
  if (doc.artifactType !== undefined) throw new UnsupportedError(`${what} is an artifact (${String(doc.artifactType)}), not an image; Docker v2 cannot carry it: use --format oci`);
}

/** What a descriptor whose annotations were dropped describes. */
export type DescriptorRole = 'config' | 'layer' | 'index entry';

/**
 * Counts the descriptors whose annotations a conversion to Docker v2 dropped (eStargz's TOC digest
 * on a layer, a platform entry's own notes), so that one line can say so for a whole conversion.
 */
export class DroppedAnnotations {
  private readonly counts = new Map<DescriptorRole, number>();

  /** Counts `d` when it has annotations (called for each descriptor converted to Docker v2). */
  note(d: Descriptor, role: DescriptorRole): void {
    if (d.annotations && Object.keys(d.annotations).length > 0) this.counts.set(role, (this.counts.get(role) ?? 0) + 1);
  }

  /** One line naming what was dropped, e.g. "annotations on 2 layer descriptors dropped: …"; undefined when nothing was. */
  line(): string | undefined {
    const parts = (['config', 'layer', 'index entry'] as const).flatMap((role) => {
      const n = this.counts.get(role);
      if (!n) return [];
      return [role === 'index entry' ? `${n} index ${n === 1 ? 'entry' : 'entries'}` : `${n} ${role} descriptor${n === 1 ? '' : 's'}`];
    });
    if (parts.length === 0) return undefined;
    const inManifests = this.counts.has('config') || this.counts.has('layer');
    const where = inManifests && this.counts.has('index entry') ? 'Docker v2 manifests and manifest lists have none' : inManifests ? 'Docker v2 manifests have none' : 'Docker v2 manifest lists have none';
    const list = parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)!}`;
    return `annotations on ${list} dropped: ${where}`;
  }
}

/**
 * The manifest in `family` (the same object when it already is). Annotations are dropped for
 * Docker: `dropped` says which of the manifest's own, `annotations` counts its descriptors'.
 */
export function convertManifest(m: ImageManifest, family: MediaFamily, dropped?: (what: string) => void, annotations?: DroppedAnnotations): ImageManifest {
  const from = mediaFamily(m.mediaType ?? MediaType.OCI_MANIFEST);
  if (from === family) return m;
  if (family === 'docker') {
    checkDockerable(m, 'the base manifest');
    annotations?.note(m.config, 'config');
    for (const l of m.layers) annotations?.note(l, 'layer');
  }
  const out: ImageManifest = {
    ...structuredClone(m),
    mediaType: manifestMediaTypeFor(family),
    config: convertDescriptor(m.config, family === 'oci' ? MediaType.OCI_CONFIG : MediaType.DOCKER_CONFIG, family),
    layers: m.layers.map((l) => convertDescriptor(l, convertLayerMediaType(l.mediaType, family), family)),
  };
  if (family === 'docker' && out.annotations !== undefined) {
    dropped?.(`manifest annotations (${Object.keys(out.annotations).join(', ')})`);
    delete out.annotations;
  }
  return out;
}

/** The index in `family`: its own media type and its children's; the children themselves are converted by the caller. */
export function convertIndex(index: ImageIndex, family: MediaFamily, dropped?: (what: string) => void): ImageIndex {
  const from = mediaFamily(index.mediaType ?? MediaType.OCI_INDEX);
  if (from === family) return index;
  if (family === 'docker') checkDockerable(index, 'the base index');
  const out: ImageIndex = { ...structuredClone(index), mediaType: indexMediaTypeFor(family), manifests: index.manifests.map((d) => convertDescriptor(d, convertChildType(d.mediaType, family), family)) };
  if (family === 'docker' && out.annotations !== undefined) {
    dropped?.(`index annotations (${Object.keys(out.annotations).join(', ')})`);
    delete out.annotations;
  }
  return out;
}

/** An index child's media type in `family` (image manifest or nested index). */
function convertChildType(mt: string, family: MediaFamily): string {
  const b = baseMediaType(mt);
  if (b === MediaType.OCI_MANIFEST || b === MediaType.DOCKER_MANIFEST) return manifestMediaTypeFor(family);
  if (b === MediaType.OCI_INDEX || b === MediaType.DOCKER_LIST) return indexMediaTypeFor(family);
  throw new UnsupportedError(`index child type ${mt} has no ${family} equivalent`);
}

/** Parses `--format`: "oci" or "docker". */
export function parseFormat(v: string): MediaFamily {
  const f = v.trim().toLowerCase();
  if (f === 'oci' || f === 'docker') return f;
  throw new InputError(`--format must be "oci" or "docker" (got ${JSON.stringify(v)})`);
}

/** A converted child manifest, as its parent index must now name it. */
export interface ConvertedChild {
  digest: string;
  mediaType: string;
  size: number;
}

/**
 * The index in `family` with each child entry pointing at its converted child (`children` by the
 * child's old digest). Attestation children are dropped: they describe the old digests. The
 * entries' annotations, which Docker v2 lists have no place for, are counted in `annotations`.
 */
export function convertIndexTo(index: ImageIndex, family: MediaFamily, children: ReadonlyMap<string, ConvertedChild>, dropped?: (what: string) => void, annotations?: DroppedAnnotations): ImageIndex {
  const base = convertIndex(index, family, dropped);
  const manifests: Descriptor[] = [];
  for (const d of index.manifests) {
    if (isAttestation(d)) {
      dropped?.(`attestation ${d.digest} (it names the old digests)`);
      continue;
    }
    const c = children.get(d.digest);
    const entry: Descriptor = { ...structuredClone(d), ...(c ? { mediaType: c.mediaType, digest: c.digest, size: c.size } : { mediaType: convertChildType(d.mediaType, family) }) };
    if (family === 'docker') {
      annotations?.note(entry, 'index entry');
      delete entry.annotations;
      delete entry.artifactType;
    }
    manifests.push(entry);
  }
  return { ...base, mediaType: indexMediaTypeFor(family), manifests };
}
