/**
 * Finding what refers to an image (signatures, attestations, SBOMs): the OCI 1.1 referrers API
 * when the source has it, else the tag schemes cosign and the OCI fallback use
 * (`sha256-<hex>`, `sha256-<hex>.sig`, `.att`, `.sbom`).
 */
import pLimit from 'p-limit';
import { NotFoundError, ProtocolError } from '../errors.js';
import { serializeManifest } from '../image/build.js';
import { CHILD_MANIFEST_READS, checkIndexChildren, parseManifest } from '../image/manifest.js';
import { isIndexMediaType, MediaType } from '../image/mediatypes.js';
import { tagProblem } from '../ref/grammar.js';
import type { Descriptor, ImageIndex } from '../image/types.js';
import type { FetchedManifest, RegistryClient } from '../registry/registry-client.js';
import type { RepoEndpoint } from './types.js';
import type { Turns } from './turns.js';
import type { RepoMemory } from './repo-memory.js';
import { MAX_DEPTH, pull, type ManifestNode, type PullMeter } from './graph.js';

/**
 * The tag of `digest`'s OCI fallback index, by the distribution spec's referrers tag schema: the
 * algorithm cut to 32 characters, `-`, the encoded part cut to 64, any character a tag may not
 * hold replaced with `-`. So `sha256:<64 hex>` is `sha256-<64 hex>`, and `sha512:<128 hex>` is
 * `sha512-<first 64 hex>`: with the whole encoded part it would be 135 characters, over the
 * 128 a tag may have, and a registry would refuse it (TAG_INVALID) or another client look under
 * the spec's tag and not find it.
 */
export function referrersTag(digest: string): string {
  const colon = digest.indexOf(':');
  return `${digest.slice(0, colon).slice(0, 32)}-${digest.slice(colon + 1).slice(0, 64)}`.replace(/[^a-zA-Z0-9._-]/g, '-');
}

/**
 * The tags cosign stores `digest`'s signature, attestations and SBOM under start with this and a
 * `.`: the algorithm, `-`, the whole encoded part (cosign does not cut it; for sha256, the same
 * as referrersTag).
 */
function cosignTagPrefix(digest: string): string {
  return digest.replace(':', '-');
}

/**
 * True for a tag of the schemes the referrer walk finds referrers by: the OCI fallback index
 * (referrersTag: `sha256-<64 hex>`, `sha512-<64 hex>`) and cosign's `sha256-<64 hex>.sig`,
 * `.att`, `.sbom` (a sha512 one would be over a tag's 128 characters). A copy of every tag with
 * referrers (copy --all-tags, sync's `tags: all` or a filter) leaves these to the walk: copied as
 * an ordinary tag, a fallback index would replace the target's and drop what only the target
 * lists, where the walk merges the two (listInFallbackIndex).
 */
export function isReferrerTag(tag: string): boolean {
  return /^sha256-[0-9a-f]{64}(?:\.(?:sig|att|sbom))?$|^sha512-[0-9a-f]{64}$/.test(tag);
}

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
 * for all subjects (an index and its platform manifests, which `cosign sign --recursive` signs),
 * and once for the run (`repos`: every level of a walk, every image of the repository); the API
 * is asked no more once the repository has said it has none.
 *
 * A fallback index is read (one GET, told to `pulls`) and what it lists is found by digest, as
 * the API would have answered: each is then listed at the target in a fallback index merged with
 * the one there (listInFallbackIndex), where copying the source's index under its tag would
 * replace the target's and drop what only the target lists.
 */
export async function findReferrers(source: RepoEndpoint, subjects: readonly string[], repos: RepoMemory, pulls?: PullMeter): Promise<FoundReferrer[]> {
  const { client, repo } = source;
  const [tags, answers] = await Promise.all([repos.tagList(source), Promise.all(subjects.map((d) => repos.referrers(source, d)))]);
  const tagSet = new Set(tags);
  const listed = await Promise.all(
    subjects.map((subject, i) => {
      const fallbackTag = referrersTag(subject);
      return answers[i] === undefined && tagSet.has(fallbackTag) ? fallbackListing(client, repo, fallbackTag, pulls) : undefined;
    }),
  );
  return subjects.flatMap((subject, i) => {
    const api = answers[i] ?? listed[i];
    // cosign's tags; without the API, also the fallback tag when it holds no index (copied as it is).
    // Whole tags only (anchored by tagProblem): the list is a registry's, and a prefix alone let
    // `sha256-<hex>.sig/../../../prod/manifests/latest` through into a PUT of another repository.
    const prefix = cosignTagPrefix(subject) + '.';
    const fallbackTag = referrersTag(subject);
    const byTag = tags.filter((t) => (t.startsWith(prefix) && tagProblem(t) === undefined) || (!api && t === fallbackTag));
    const byDigest = (api?.manifests ?? []).map((d) => ({ kind: 'digest', digest: d.digest }) as const);
    return [...byDigest, ...byTag.map((tag) => ({ kind: 'tag', tag }) as const)].map((referrer) => ({ subject, referrer }));
  });
}

/** The manifests the fallback index `tag` lists; undefined when that tag holds no index (then copied as it is, under its tag). */
async function fallbackListing(client: RegistryClient, repo: string, tag: string, pulls?: PullMeter): Promise<{ manifests: Descriptor[] } | undefined> {
  pulls?.will(1);
  let fetched: FetchedManifest;
  try {
    fetched = await pull(pulls, () => client.getManifest(repo, tag));
  } finally {
    pulls?.did();
  }
  const p = parseManifest(fetched.bytes, fetched.mediaType);
  if (p.kind !== 'index') return undefined;
  checkIndexChildren(p.index, `${client.registry}/${repo}:${tag}`);
  return { manifests: p.index.manifests };
}

/**
 * Every child manifest under the index `digest` of `repo`, nested indexes' included, as digests:
 * the index (unless `top` is its GET, already answered) and each nested index are read (one GET
 * each, through `pulls` when given), its image manifests are not.
 */
export async function indexChildren(client: RegistryClient, repo: string, digest: string, top?: FetchedManifest, pulls?: PullMeter): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const read = async (d: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) throw new ProtocolError(`index nesting deeper than ${MAX_DEPTH} at ${d}`);
    const fetched = depth === 0 && top ? top : await pull(pulls, () => client.getManifest(repo, d));
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

/** A referrer to list in its subject's fallback index: its digest, and its manifest when the copy holds it. */
export interface ListedReferrer {
  digest: string;
  /** The manifest as copied; absent where every target already held the referrer (read at the target, only when its index lacks it). */
  node?: ManifestNode;
}

/**
 * Makes `referrers` (of one `subject`, in order) discoverable at a target without the referrers
 * API: the OCI fallback is an index tagged `sha256-<subject hex>` listing every referrer, merged
 * with what is already there. That is a read-modify-write of one index, and two writers of it at
 * once would each drop the other's entry: within one walk a subject's referrers are listed
 * together (one GET, at most one PUT), and across the run's images (two sync units or two tags of
 * copy --all-tags whose graphs share the subject, written to one repository) the run's
 * `fallbackIndexes` lets one write of an index at a time, the next reading what the last wrote.
 * The referrers an earlier run copied are listed too: one whose copy landed and whose index write
 * did not (an interrupted run) is listed by the next, and for one listed already the merge writes
 * nothing. A target with the API indexes each referrer itself through its `subject`; nothing to do
 * then. Whether it has the API is asked once per target repository for the run (`repos`).
 */
export async function listInFallbackIndex(target: RepoEndpoint, subject: string, referrers: readonly ListedReferrer[], run: { fallbackIndexes?: Turns; repos: RepoMemory }): Promise<void> {
  if (referrers.length === 0) return;
  if (await run.repos.hasReferrersApi(target, subject)) return;
  const tag = referrersTag(subject);
  const where = `${target.client.registry}/${target.repo}:${tag}`;
  const write = () => mergeIntoFallbackIndex(target, tag, referrers);
  if (!run.fallbackIndexes) return write();
  await run.fallbackIndexes.take(where, write, () => target.client.logger.debug(`${where}: waiting for another image's write of this fallback index`));
}

/** One read-modify-write of the fallback index `tag` (listInFallbackIndex). */
async function mergeIntoFallbackIndex(target: RepoEndpoint, tag: string, referrers: readonly ListedReferrer[]): Promise<void> {
  let index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] };
  try {
    const current = await target.client.getManifest(target.repo, tag);
    const parsed = parseManifest(current.bytes, current.mediaType);
    if (parsed.kind === 'index') index = parsed.index;
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  const listed = new Set(index.manifests.map((m) => m.digest));
  const added: Descriptor[] = [];
  for (const r of referrers) {
    if (listed.has(r.digest)) continue;
    listed.add(r.digest);
    // Held by the target since an earlier run: its bytes are there, where a read costs no pull.
    added.push(fallbackEntry(r.node ?? (await target.client.getManifest(target.repo, r.digest))));
  }
  if (added.length === 0) return;
  const next: ImageIndex = { ...index, manifests: [...index.manifests, ...added] };
  await target.client.putManifest(target.repo, tag, serializeManifest(next), MediaType.OCI_INDEX);
}

/** A referrer's entry in a fallback index: its descriptor, with the artifact type and annotations the referrers API would show. */
function fallbackEntry(referrer: ManifestNode): Descriptor {
  const p = parseManifest(referrer.bytes, referrer.mediaType);
  const entry: Descriptor = { mediaType: referrer.mediaType, digest: referrer.digest, size: referrer.bytes.length };
  if (p.kind === 'image') {
    const artifactType = p.manifest.artifactType ?? p.manifest.config.mediaType;
    if (typeof artifactType === 'string') entry.artifactType = artifactType;
    if (p.manifest.annotations) entry.annotations = p.manifest.annotations;
  } else if (p.kind === 'index') {
    // An index may be a referrer too (OCI 1.1 gives it artifactType and subject): the distribution
    // spec's referrers list carries its artifactType and annotations as for a manifest.
    if (typeof p.index.artifactType === 'string') entry.artifactType = p.index.artifactType;
    if (p.index.annotations) entry.annotations = p.index.annotations;
  }
  return entry;
}

/**
 * How far walkReferrers follows referrers of referrers (a signature of an SBOM that refers to the
 * image, an attestation of that signature, …). Real chains are two or three deep (cosign signs
 * what `cosign attach sbom` or `cosign attest` stored); the depth bound is for a registry whose
 * answers go on without end, the total for one that names thousands. Levels count from the image:
 * its own referrers (and its platform manifests') are level 1.
 */
export const REFERRER_BOUNDS = { depth: 8, total: 1000 };

/**
 * Referrers of one level copied at once. A signed multi-platform image has dozens (`cosign sign
 * --recursive` signs every platform manifest; attestations and SBOMs come on top), and each copy
 * costs several round trips, mostly small ones — HEADs, a manifest GET and PUT, a few kilobytes
 * of blobs, which queue behind the set's --jobs transfers like any other — the same work as
 * reading an index's children, so the same bound as those reads.
 */
export const REFERRER_COPIES = CHILD_MANIFEST_READS;

/** What walkReferrers did. */
export interface ReferrerWalk {
  /** Referrers handed to `copy`. */
  copied: number;
  /** Found below the depth bound, not copied. */
  beyondDepth: number;
  /** Found once the total bound was reached, not copied (what refers to them was not looked for). */
  beyondTotal: number;
}

/** How walkReferrers copies the referrers of one level. */
export interface LevelCopies {
  /** How many at once (default REFERRER_COPIES); `copy` is called in the order they were found. */
  parallel?: number;
  /** Called once every copy of a level (one at least) has succeeded, before the next level is listed. */
  done?: () => Promise<void>;
}

/**
 * Walks what refers to `roots`, breadth first: `find` lists the referrers of one level's subjects,
 * `copy` copies one and answers the digests whose referrers come next (the referrer's own and, for
 * an index, its children's: a referrer is written after its subject, one level after it). The
 * referrers of one level are copied together (`level.parallel` at a time): their subjects are all
 * written by then. A digest's referrers are listed once and a referrer by digest copied once,
 * whatever names it again (a registry may list one under two subjects; a tag scheme may point
 * back at the image), so the walk ends; the bounds end it where the source's answers do not.
 */
export async function walkReferrers(
  roots: readonly string[],
  find: (subjects: string[]) => Promise<FoundReferrer[]>,
  copy: (found: FoundReferrer) => Promise<string[]>,
  bounds: { depth: number; total: number } = REFERRER_BOUNDS,
  level: LevelCopies = {},
): Promise<ReferrerWalk> {
  const out: ReferrerWalk = { copied: 0, beyondDepth: 0, beyondTotal: 0 };
  const listed = new Set(roots);
  const taken = new Set<string>();
  let subjects = [...listed];
  for (let depth = 1; subjects.length > 0; depth++) {
    const fresh = (await find(subjects)).filter((f) => {
      const key = f.referrer.kind === 'digest' ? f.referrer.digest : `tag ${f.referrer.tag}`;
      if (taken.has(key) || listed.has(key)) return false;
      taken.add(key);
      return true;
    });
    if (depth > bounds.depth) {
      out.beyondDepth = fresh.length;
      break;
    }
    const take = Math.min(fresh.length, Math.max(0, bounds.total - out.copied));
    const answers = await copyAll(fresh.slice(0, take), copy, level.parallel ?? REFERRER_COPIES);
    out.copied += take;
    if (take > 0) await level.done?.();
    if (take < fresh.length) {
      out.beyondTotal = fresh.length - take;
      return out;
    }
    // The next level in the order this one was found, whatever order its copies ended in.
    subjects = [];
    for (const d of answers.flat()) {
      if (listed.has(d)) continue;
      listed.add(d);
      subjects.push(d);
    }
  }
  return out;
}

/**
 * `copy` over `found`, `parallel` at a time, started in order; the answers in that order. None
 * starts once one has failed; the first failure is thrown once those under way have settled, so
 * nothing of the walk still runs when it rejects.
 */
async function copyAll<T>(found: readonly FoundReferrer[], copy: (f: FoundReferrer) => Promise<T>, parallel: number): Promise<T[]> {
  const limit = pLimit(parallel);
  let failed: { err: unknown } | undefined;
  const settled = await Promise.allSettled(
    found.map((f) =>
      limit(async () => {
        if (failed) throw failed.err;
        try {
          return await copy(f);
        } catch (err) {
          failed ??= { err };
          throw err;
        }
      }),
    ),
  );
  if (failed) throw failed.err;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}
