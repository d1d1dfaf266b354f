/**
 * Finding what refers to an image (signatures, attestations, SBOMs): the OCI 1.1 referrers API
 * when the source has it, else the tag schemes cosign and the OCI fallback use
 * (`sha256-<hex>`, `sha256-<hex>.sig`, `.att`, `.sbom`).
 */
import { NotFoundError, ProtocolError } from '../errors.js';
import { serializeManifest } from '../image/build.js';
import { checkIndexChildren, parseManifest } from '../image/manifest.js';
import { isIndexMediaType, MediaType } from '../image/mediatypes.js';
import type { Descriptor, ImageIndex } from '../image/types.js';
import type { RegistryClient } from '../registry/registry-client.js';
import type { RepoEndpoint } from './types.js';
import { MAX_DEPTH, type ManifestNode } from './graph.js';

/** A referrer found at the source: by digest (referrers API) or by tag (fallback scheme). */
export type Referrer = { kind: 'digest'; digest: string } | { kind: 'tag'; tag: string };

/** A referrer, with the manifest it refers to. */
export interface FoundReferrer {
  subject: string;
  referrer: Referrer;
}

/**
 * Lists referrers of each of `subjects` in `repo`, in that order: what the referrers API names,
 * and the tags of cosign's scheme (`.sig`, `.att`, `.sbom`), which the API does not list (those
 * manifests have no subject) and which most signatures still are, registries with the API
 * included (Harbor, ACR, ECR). Without the API, also the OCI fallback index tagged
 * `sha256-<hex>`; with it, that index only repeats what the API said. The tags are listed once
 * for all subjects (an index and its platform manifests, which `cosign sign --recursive` signs);
 * `tagList`, when given, is that list already asked for (one list for every level of a walk).
 */
export async function findReferrers(client: RegistryClient, repo: string, subjects: readonly string[], tagList?: Promise<string[]>): Promise<FoundReferrer[]> {
  const [tags, answers] = await Promise.all([tagList ?? client.listTags(repo), Promise.all(subjects.map((d) => client.referrers(repo, d)))]);
  return subjects.flatMap((subject, i) => {
    const api = answers[i];
    const prefix = subject.replace(':', '-');
    const byTag = tags.filter((t) => (api ? t.startsWith(prefix + '.') : t === prefix || t.startsWith(prefix + '.')));
    const byDigest = (api?.manifests ?? []).map((d) => ({ kind: 'digest', digest: d.digest }) as const);
    return [...byDigest, ...byTag.map((tag) => ({ kind: 'tag', tag }) as const)].map((referrer) => ({ subject, referrer }));
  });
}

/**
 * Every child manifest under the index `digest` of `repo`, nested indexes' included, as digests:
 * the index and each nested index are read (one GET each), its image manifests are not.
 */
export async function indexChildren(client: RegistryClient, repo: string, digest: string): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const read = async (d: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) throw new ProtocolError(`index nesting deeper than ${MAX_DEPTH} at ${d}`);
    const fetched = await client.getManifest(repo, d);
    const p = parseManifest(fetched.bytes, fetched.mediaType);
    if (p.kind !== 'index') return;
    checkIndexChildren(p.index, `${client.registry}/${repo}@${d}`);
    for (const c of p.index.manifests) {
      if (seen.has(c.digest)) continue;
      seen.add(c.digest);
      if (isIndexMediaType(c.mediaType)) await read(c.digest, depth + 1);
      out.push(c.digest);
    }
  };
  await read(digest, 0);
  return out;
}

/**
 * Makes `referrer` discoverable at a target without the referrers API: the OCI fallback is an
 * index tagged `sha256-<subject hex>` listing every referrer (merged with what is already there).
 * A target with the API indexes the referrer itself through its `subject`; nothing to do then.
 */
export async function listInFallbackIndex(target: RepoEndpoint, subject: string, referrer: ManifestNode): Promise<void> {
  if (await target.client.referrers(target.repo, subject)) return;
  const tag = subject.replace(':', '-');
  let index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] };
  try {
    const current = await target.client.getManifest(target.repo, tag);
    const parsed = parseManifest(current.bytes, current.mediaType);
    if (parsed.kind === 'index') index = parsed.index;
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  if (index.manifests.some((m) => m.digest === referrer.digest)) return;
  const p = parseManifest(referrer.bytes, referrer.mediaType);
  const entry: Descriptor = { mediaType: referrer.mediaType, digest: referrer.digest, size: referrer.bytes.length };
  if (p.kind === 'image') {
    const artifactType = p.manifest.artifactType ?? p.manifest.config.mediaType;
    if (typeof artifactType === 'string') entry.artifactType = artifactType;
    if (p.manifest.annotations) entry.annotations = p.manifest.annotations;
  }
  const next: ImageIndex = { ...index, manifests: [...index.manifests, entry] };
  await target.client.putManifest(target.repo, tag, serializeManifest(next), MediaType.OCI_INDEX);
}

/**
 * How far walkReferrers follows referrers of referrers (a signature of an SBOM that refers to the
 * image, an attestation of that signature, …). Real chains are two or three deep (cosign signs
 * what `cosign attach sbom` or `cosign attest` stored); the depth bound is for a registry whose
 * answers go on without end, the total for one that names thousands. Levels count from the image:
 * its own referrers (and its platform manifests') are level 1.
 */
export const REFERRER_BOUNDS = { depth: 8, total: 1000 };

/** What walkReferrers did. */
export interface ReferrerWalk {
  /** Referrers handed to `copy`. */
  copied: number;
  /** Found below the depth bound, not copied. */
  beyondDepth: number;
  /** Found once the total bound was reached, not copied (what refers to them was not looked for). */
  beyondTotal: number;
}

/**
 * Walks what refers to `roots`, breadth first: `find` lists the referrers of one level's subjects,
 * `copy` copies one and answers the digests whose referrers come next (the referrer's own and, for
 * an index, its children's: a referrer is written after its subject, one level after it). A
 * digest's referrers are listed once and a referrer by digest copied once, whatever names it again
 * (a registry may list one under two subjects; a tag scheme may point back at the image), so the
 * walk ends; the bounds end it where the source's answers do not.
 */
export async function walkReferrers(
  roots: readonly string[],
  find: (subjects: string[]) => Promise<FoundReferrer[]>,
  copy: (found: FoundReferrer) => Promise<string[]>,
  bounds: { depth: number; total: number } = REFERRER_BOUNDS,
): Promise<ReferrerWalk> {
  const out: ReferrerWalk = { copied: 0, beyondDepth: 0, beyondTotal: 0 };
  const listed = new Set(roots);
  const taken = new Set<string>();
  let level = [...listed];
  for (let depth = 1; level.length > 0; depth++) {
    const fresh = (await find(level)).filter((f) => {
      const key = f.referrer.kind === 'digest' ? f.referrer.digest : `tag ${f.referrer.tag}`;
      if (taken.has(key) || listed.has(key)) return false;
      taken.add(key);
      return true;
    });
    if (depth > bounds.depth) {
      out.beyondDepth = fresh.length;
      break;
    }
    const next: string[] = [];
    for (const [i, f] of fresh.entries()) {
      if (out.copied >= bounds.total) {
        out.beyondTotal = fresh.length - i;
        return out;
      }
      const subjects = await copy(f);
      out.copied++;
      for (const d of subjects) {
        if (listed.has(d)) continue;
        listed.add(d);
        next.push(d);
      }
    }
    level = next;
  }
  return out;
}
