/**
 * Converting documents between the OCI and Docker v2 families (`--format oci|docker`). Layer and
 * config bytes are the same in both (a gzip tar is a gzip tar; the config JSON is shared), so only
 * the media types in the manifest and index change and every blob can still be skipped or mounted.
 * What has no equivalent in the other family is refused with the reason, never rewritten silently:
 * zstd and uncompressed non-distributable OCI layers have no Docker v2 type, and Docker v2 cannot
 * carry a subject or an artifactType. Descriptor fields Docker v2 has no place for (annotations, artifactType, data)
 * and a manifest's own annotations are the exception: they are dropped, and the caller is told
 * which (DroppedFields for those on descriptors), to say so.
 */
import { UnsupportedError, UsageError } from '../errors.js';
import type { OptionNames } from '../option-names.js';
import { MediaType, baseMediaType, indexMediaTypeFor, isImageConfigMediaType, manifestMediaTypeFor, mediaFamily, type MediaFamily } from './mediatypes.js';
import { isAttestation } from './platform.js';
import type { Descriptor, ImageIndex, ImageManifest } from './types.js';

/**
 * Layer media types with a counterpart in the other family: the plain tar, gzip, and the
 * foreign/non-distributable gzip. The plain tar pair is Docker's schema 2 "uncompressed layer"
 * (distribution's schema2.MediaTypeUncompressedLayer), which containerd's converter
 * (images/converter, ConvertDockerMediaTypeToOCI) maps to OCI's `layer.v1.tar`.
 */
const LAYER_TO_DOCKER: Record<string, string> = {
  [MediaType.OCI_LAYER]: MediaType.DOCKER_LAYER,
  [MediaType.OCI_LAYER_GZIP]: MediaType.DOCKER_LAYER_GZIP,
  [MediaType.OCI_LAYER_NONDIST_GZIP]: MediaType.DOCKER_FOREIGN_LAYER,
};
const LAYER_TO_OCI: Record<string, string> = Object.fromEntries(Object.entries(LAYER_TO_DOCKER).map(([oci, docker]) => [docker, oci]));

/**
 * The layer's media type in `family`; UnsupportedError when it has none there. `byFormat`: the
 * conversion is --format's alone, so that leaving --format out keeps the type, and the message
 * says so; false where a child is converted to its index's family, which happens without it.
 * `names`: what the caller calls the format option, for the advice (none without it).
 */
export function convertLayerMediaType(mediaType: string, family: MediaFamily, byFormat = true, names?: OptionNames): string {
  const mt = baseMediaType(mediaType);
  if (mediaFamily(mt) === family) return mediaType;
  const out = (family === 'docker' ? LAYER_TO_DOCKER : LAYER_TO_OCI)[mt];
  if (!out) {
    const instead = names && names.set('format', family === 'docker' ? 'oci' : 'docker');
    const advice = names && `; ${names.op ?? names.command ?? 'push'} with ${instead}${byFormat ? ` (or leave ${names.name('format')} out)` : ''} to keep it`;
    throw new UnsupportedError(`layer type ${mediaType} has no ${family === 'docker' ? 'Docker v2' : 'OCI'} equivalent${advice ?? ''}`);
  }
  return out;
}

/**
 * The OCI descriptor fields a Docker v2 descriptor has no place for. Image Manifest V2, Schema 2
 * gives a config or layer descriptor mediaType, size, digest and urls (foreign layers), and a
 * manifest list entry mediaType, size, digest and platform (os.version, os.features and variant
 * included): those are kept. OCI 1.1's artifactType and data (embedded content) and the
 * annotations have no counterpart; fields neither family defines are left as they are.
 */
const OCI_ONLY_FIELDS = ['annotations', 'artifactType', 'data'] as const;

/** A descriptor field a conversion to Docker v2 drops. */
export type DroppedField = (typeof OCI_ONLY_FIELDS)[number];

/**
 * A descriptor of the other family: the media type converted; for Docker, the OCI-only fields
 * dropped, and counted in `tally` under `role` where given (the caller says each once).
 */
export function convertDescriptor(d: Descriptor, mediaType: string, family: MediaFamily, role?: DescriptorRole, tally?: DroppedFields): Descriptor {
  const out: Descriptor = { ...structuredClone(d), mediaType };
  if (family === 'docker') {
    if (role) tally?.note(out, role);
    for (const f of OCI_ONLY_FIELDS) delete out[f];
  }
  return out;
}

/** Refuses the OCI fields Docker v2 has no place for, naming them; `names` words the advice (the format option). */
function checkDockerable(doc: { subject?: unknown; artifactType?: unknown }, what: string, names: OptionNames | undefined): void {
  const advice = names ? `: use ${names.set('format', 'oci')}` : '';
  if (doc.subject !== undefined) throw new UnsupportedError(`${what} has a subject (it refers to another manifest); Docker v2 cannot carry it${advice}`);
  if (doc.artifactType !== undefined) throw new UnsupportedError(`${what} is an artifact (${String(doc.artifactType)}), not an image; Docker v2 cannot carry it${advice}`);
}

/** What a descriptor that lost fields describes. */
export type DescriptorRole = 'config' | 'layer' | 'index entry';

const ROLES: readonly DescriptorRole[] = ['config', 'layer', 'index entry'];

/** How the warning names each field. */
const FIELD_NAMES: Record<DroppedField, string> = { annotations: 'annotations', artifactType: 'artifactType', data: 'data (embedded content)' };

/**
 * Counts, per field, the descriptors that lost it in a conversion to Docker v2 (eStargz's TOC
 * digest in a layer's annotations, a platform entry's own notes, a small config embedded as
 * `data`), so that one line can say so for a whole conversion.
 */
export class DroppedFields {
  private readonly counts = new Map<DroppedField, Map<DescriptorRole, number>>();

  /** Counts each OCI-only field `d` has, empty ones left out (called once per descriptor converted to Docker v2). */
  note(d: Descriptor, role: DescriptorRole): void {
    for (const f of OCI_ONLY_FIELDS) {
      const v = d[f];
      const empty = v === undefined || v === '' || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
      if (empty) continue;
      const byRole = this.counts.get(f) ?? new Map<DescriptorRole, number>();
      byRole.set(role, (byRole.get(role) ?? 0) + 1);
      this.counts.set(f, byRole);
    }
  }

  /**
   * One line naming what was dropped, e.g. "annotations on 2 layer descriptors dropped: Docker v2
   * manifests have none", fields apart by "; "; undefined when nothing was.
   */
  line(): string | undefined {
    const fields = OCI_ONLY_FIELDS.filter((f) => this.counts.has(f));
    if (fields.length === 0) return undefined;
    const roles = new Set<DescriptorRole>();
    const parts = fields.map((f) => {
      const byRole = this.counts.get(f)!;
      const on = ROLES.flatMap((role) => {
        const n = byRole.get(role);
        if (!n) return [];
        roles.add(role);
        return [role === 'index entry' ? `${n} index ${n === 1 ? 'entry' : 'entries'}` : `${n} ${role} descriptor${n === 1 ? '' : 's'}`];
      });
      const list = on.length === 1 ? on[0]! : `${on.slice(0, -1).join(', ')} and ${on.at(-1)!}`;
      return `${FIELD_NAMES[f]} on ${list}`;
    });
    const inManifests = roles.has('config') || roles.has('layer');
    const where = inManifests && roles.has('index entry') ? 'Docker v2 manifests and manifest lists have' : inManifests ? 'Docker v2 manifests have' : 'Docker v2 manifest lists have';
    return `${parts.join('; ')} dropped: ${where} ${fields.length === 1 ? 'none' : 'none of these'}`;
  }
}

/**
 * The manifest in `family` (the same object when it already is). Annotations are dropped for
 * Docker: `dropped` says which of the manifest's own; `fields` counts the OCI-only fields its
 * descriptors lose. `byFormat`: as for convertLayerMediaType. `names`: what the caller calls the
 * format option, for the advice a refusal gives (none without it).
 */
export function convertManifest(m: ImageManifest, family: MediaFamily, dropped?: (what: string) => void, fields?: DroppedFields, byFormat = true, names?: OptionNames): ImageManifest {
  const from = mediaFamily(m.mediaType ?? MediaType.OCI_MANIFEST);
  if (from === family) return m;
  if (family === 'docker') checkDockerable(m, 'the base manifest', names);
  // Only an image's config becomes the other family's: any other (an artifact's empty config, a
  // Helm chart's, a Docker plugin's) would be retyped into an image config it is not.
  if (!isImageConfigMediaType(m.config.mediaType)) {
    const advice = names ? `; copy it without ${names.name('format')}` : '';
    throw new UnsupportedError(
      `the manifest's config is ${JSON.stringify(m.config.mediaType)}, not an image config: it is not an image, ` +
        `and converting it to ${family === 'oci' ? 'OCI' : 'Docker v2'} would retype it${advice}`,
    );
  }
  const out: ImageManifest = {
    ...structuredClone(m),
    mediaType: manifestMediaTypeFor(family),
    config: convertDescriptor(m.config, family === 'oci' ? MediaType.OCI_CONFIG : MediaType.DOCKER_CONFIG, family, 'config', fields),
    layers: m.layers.map((l) => convertDescriptor(l, convertLayerMediaType(l.mediaType, family, byFormat, names), family, 'layer', fields)),
  };
  if (family === 'docker' && out.annotations !== undefined) {
    dropped?.(`manifest annotations (${Object.keys(out.annotations).join(', ')})`);
    delete out.annotations;
  }
  return out;
}

/** The index in `family`: its own media type and its children's; the children themselves are converted by the caller. `names`: as for convertManifest. */
export function convertIndex(index: ImageIndex, family: MediaFamily, dropped?: (what: string) => void, names?: OptionNames): ImageIndex {
  const from = mediaFamily(index.mediaType ?? MediaType.OCI_INDEX);
  if (from === family) return index;
  if (family === 'docker') checkDockerable(index, 'the base index', names);
  const out: ImageIndex = {
    ...structuredClone(index),
    mediaType: indexMediaTypeFor(family),
    manifests: index.manifests.map((d) => convertDescriptor(d, convertChildType(d.mediaType, family), family)),
  };
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

/** Parses a format, "oci" or "docker"; `name` is what the message calls it (`push(): format`). */
export function parseFormat(v: string, name: string): MediaFamily {
  const f = v.trim().toLowerCase();
  if (f === 'oci' || f === 'docker') return f;
  throw new UsageError(`${name} must be "oci" or "docker" (got ${JSON.stringify(v)})`);
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
 * entries' OCI-only fields, which Docker v2 lists have no place for, are counted in `fields`.
 * `names`: as for convertManifest.
 */
export function convertIndexTo(
  index: ImageIndex,
  family: MediaFamily,
  children: ReadonlyMap<string, ConvertedChild>,
  dropped?: (what: string) => void,
  fields?: DroppedFields,
  names?: OptionNames,
): ImageIndex {
  const base = convertIndex(index, family, dropped, names);
  const manifests: Descriptor[] = [];
  for (const d of index.manifests) {
    if (isAttestation(d)) {
      dropped?.(`attestation ${d.digest} (it names the old digests)`);
      continue;
    }
    const c = children.get(d.digest);
    const entry = convertDescriptor(c ? { ...d, digest: c.digest, size: c.size } : d, c ? c.mediaType : convertChildType(d.mediaType, family), family, 'index entry', fields);
    manifests.push(entry);
  }
  return { ...base, mediaType: indexMediaTypeFor(family), manifests };
}
