/**
 * Turning manifest bytes from a registry into a typed index or image manifest. The bytes are
 * untrusted: every descriptor is checked before anything acts on it, and the documents are kept
 * whole (unknown fields included) so they can be rewritten without loss.
 */
import { ProtocolError, UnsupportedError } from '../errors.js';
import { isObject } from '../json-object.js';
import { isValidDigest } from './digest.js';
import { MediaType, baseMediaType, isImageManifestMediaType, isIndexMediaType, isSchema1MediaType } from './mediatypes.js';
import type { Descriptor, ImageIndex, ImageManifest } from './types.js';

/** A parsed manifest: either an index (list of platform manifests) or one image manifest. */
export type ParsedManifest =
  | { kind: 'index'; mediaType: string; index: ImageIndex }
  | { kind: 'image'; mediaType: string; manifest: ImageManifest };

/** Throws ProtocolError unless `v` is a well-formed descriptor; `where` names it in the message. */
export function checkDescriptor(v: unknown, where: string): asserts v is Descriptor {
  if (!isObject(v)) throw new ProtocolError(`manifest ${where} is not an object`);
  if (typeof v.mediaType !== 'string' || v.mediaType === '') throw new ProtocolError(`manifest ${where}.mediaType is missing`);
  if (v.digest === undefined) throw new ProtocolError(`manifest ${where}.digest is missing`);
  if (!isValidDigest(v.digest)) throw new ProtocolError(`manifest ${where}.digest ${JSON.stringify(v.digest)} is not a valid digest`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw new ProtocolError(`manifest ${where}.size ${JSON.stringify(v.size)} is not a non-negative integer`);
  }
  if (v.urls !== undefined && !(Array.isArray(v.urls) && v.urls.every((u) => typeof u === 'string'))) {
    throw new ProtocolError(`manifest ${where}.urls is not a list of strings`);
  }
  if (v.platform !== undefined) {
    const p = v.platform;
    if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') {
      throw new ProtocolError(`manifest ${where}.platform lacks os or architecture`);
    }
  }
}

/** The schema 1 refusal, with the hint that usually fixes it. */
function schema1(why: string): UnsupportedError {
  return new UnsupportedError(
    `schema 1 manifests are not supported (${why}); re-push the image with a current client as Docker v2 schema 2 or OCI`,
  );
}

/**
 * Parses manifest bytes. The media type comes from the body's `mediaType`, else from a known
 * Content-Type, else from the shape (OCI allows omitting it). Schema 1 and unknown media types are
 * UnsupportedError; bytes that are not a well-formed manifest are ProtocolError.
 */
export function parseManifest(bytes: Buffer, contentType?: string): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ProtocolError(`manifest is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(doc)) throw new ProtocolError('manifest is not a JSON object');

  const header = contentType === undefined || contentType === '' ? undefined : baseMediaType(contentType);
  if (doc.schemaVersion === 1) throw schema1('schemaVersion 1');
  if (typeof doc.mediaType === 'string' && isSchema1MediaType(doc.mediaType)) throw schema1(`media type ${doc.mediaType}`);
  // The header only decides when the body does not say schema 2 itself (the body is what we keep).
  if (header !== undefined && isSchema1MediaType(header) && doc.schemaVersion !== 2) throw schema1(`Content-Type ${header}`);

  let mediaType: string;
  if (doc.mediaType !== undefined) {
    if (typeof doc.mediaType !== 'string' || doc.mediaType === '') throw new ProtocolError('manifest mediaType is not a string');
    // The body wins over the header: the body is what the digest covers.
    mediaType = baseMediaType(doc.mediaType);
  } else if (header !== undefined && (isIndexMediaType(header) || isImageManifestMediaType(header))) {
    mediaType = header;
  } else if (Array.isArray(doc.manifests)) {
    mediaType = MediaType.OCI_INDEX;
  } else if (isObject(doc.config)) {
    mediaType = MediaType.OCI_MANIFEST;
  } else {
    throw new ProtocolError('cannot tell the manifest media type: no mediaType, no known Content-Type, neither "manifests" nor "config"');
  }

  const isIndex = isIndexMediaType(mediaType);
  if (!isIndex && !isImageManifestMediaType(mediaType)) {
    const what = mediaType === MediaType.OCI_ARTIFACT_MANIFEST ? ' (an OCI artifact manifest of the OCI 1.1 release candidates, dropped from OCI 1.1; regpush does not copy it)' : '';
    throw new UnsupportedError(`unsupported manifest media type "${mediaType}"${what}`, { details: { mediaType } });
  }
  if (doc.schemaVersion !== 2) throw new ProtocolError(`manifest schemaVersion is ${JSON.stringify(doc.schemaVersion)}, expected 2`);

  if (isIndex) {
    if (!Array.isArray(doc.manifests)) throw new ProtocolError(`${mediaType} has no "manifests" list`);
    doc.manifests.forEach((d, i) => checkDescriptor(d, `manifests[${i}]`));
    if (doc.subject !== undefined) checkDescriptor(doc.subject, 'subject');
    return { kind: 'index', mediaType, index: doc as ImageIndex };
  }
  if (doc.config === undefined) throw new ProtocolError(`${mediaType} has no "config" descriptor`);
  checkDescriptor(doc.config, 'config');
  if (!Array.isArray(doc.layers)) throw new ProtocolError(`${mediaType} has no "layers" list`);
  doc.layers.forEach((d, i) => checkDescriptor(d, `layers[${i}]`));
  if (doc.subject !== undefined) checkDescriptor(doc.subject, 'subject');
  return { kind: 'image', mediaType, manifest: doc as ImageManifest };
}

/**
 * Most children one index may list. Real multi-platform indexes list a few dozen (platforms plus
 * their attestations); an index of thousands is a hostile or broken registry, and following it
 * would mean a GET per child and every child held in memory. Refused before any child is fetched.
 */
export const MAX_INDEX_CHILDREN = 1000;

/**
 * Most bytes of child manifests and configs one image graph may hold at once (they are kept whole
 * to be re-pushed byte for byte). A thousand real children take a few megabytes; the cap keeps a
 * hostile index of huge children within the memory goal.
 */
const MAX_GRAPH_BYTES = 32 * 1024 * 1024;

/**
 * Child manifests of one index read at once: a Docker Hub library image lists 16 or more (a
 * platform image and its attestation each), which one after the other cost a round trip apiece;
 * 16 is also the connections the transport keeps per registry.
 */
export const CHILD_MANIFEST_READS = 16;

/** UnsupportedError when `index` (named `name`, e.g. "host/repo@sha256:…") lists more than MAX_INDEX_CHILDREN manifests. */
export function checkIndexChildren(index: ImageIndex, name: string): void {
  const n = index.manifests.length;
  if (n > MAX_INDEX_CHILDREN) {
    throw new UnsupportedError(`index ${name} lists ${n} manifests; regpush follows at most ${MAX_INDEX_CHILDREN} per index`, {
      details: { children: n, limit: MAX_INDEX_CHILDREN },
    });
  }
}

/** Counts the children and bytes one graph holds; UnsupportedError past MAX_INDEX_CHILDREN distinct children or MAX_GRAPH_BYTES. */
export class GraphBudget {
  private children = 0;
  private bytes = 0;
  constructor(private readonly name: string) {}

  /** Counts one more distinct child manifest (nested indexes count every level). */
  child(): void {
    if (++this.children > MAX_INDEX_CHILDREN) {
      throw new UnsupportedError(`${this.name} has more than ${MAX_INDEX_CHILDREN} manifests in all (nested indexes included); regpush follows at most ${MAX_INDEX_CHILDREN}`, {
        details: { limit: MAX_INDEX_CHILDREN },
      });
    }
  }

  /** Counts bytes held (a child manifest, a config). */
  hold(n: number): void {
    this.bytes += n;
    if (this.bytes > MAX_GRAPH_BYTES) {
      throw new UnsupportedError(`${this.name}: its manifests and configs take more than ${MAX_GRAPH_BYTES / 1024 / 1024} MiB; regpush holds at most that much of one image graph`, {
        details: { limit: MAX_GRAPH_BYTES },
      });
    }
  }
}

/** What an artifact manifest is: its `artifactType` where it states one, else its config's media type (the OCI 1.1 rule). */
export function artifactTypeOf(m: ImageManifest): string {
  return typeof m.artifactType === 'string' && m.artifactType !== '' ? m.artifactType : m.config.mediaType;
}
