/**
 * The referrers phase of an image copy (copyReferrers, run by copyImage): finding what refers to
 * an image (signatures, attestations, SBOMs) — the OCI 1.1 referrers API when the source has it,
 * else the tag schemes cosign and the OCI fallback use (`sha256-<hex>`, `sha256-<hex>.sig`,
 * `.att`, `.sbom`) —, the bounded walk through referrers of referrers (walkReferrers), each
 * referrer copied as an image, and the fallback indexes that list them at a target. copyImage
 * hands itself in (image-copy-types.ts: `CopyImage`), so this module does not import it.
 */
import pLimit from 'p-limit';
import { NotFoundError, ProtocolError, RegpushError, UnsupportedError } from '../errors.js';
import { formatPlatform } from '../image/platform.js';
import { isDockerHub } from '../ref/registry.js';
import { serializeManifest } from '../image/build.js';
import { CHILD_MANIFEST_READS, checkIndexChildren, parseManifest } from '../image/manifest.js';
import { digestMismatch } from '../image/digest.js';
import { isIndexMediaType, MediaType } from '../image/mediatypes.js';
import type { Descriptor, ImageIndex } from '../image/types.js';
import type { FetchedManifest, RegistryClient } from '../registry/registry-client.js';
import { rewordMissingRepository } from '../registry/registry-http.js';
import type { BlobReport, RepoEndpoint } from './types.js';
import type { Turns } from './turns.js';
import type { RepoMemory } from './repo-memory.js';
import type { TargetSet, TransferTarget } from './target-set.js';
import { MAX_DEPTH, pull, type ManifestNode, type PullMeter } from './graph.js';
import type { AlikeWarning, CopyImage, ImageCopyOptions, ImageCopyOutcome } from './image-copy-types.js';
import type { SkippedReferrer, SkippedReferrerReason } from './referrer-report.js';

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

/**
 * A referrer found at the source: by digest (referrers API, fallback index), with the media type
 * and artifact type its listing gave, or by tag (cosign's scheme).
 */
export type Referrer = { kind: 'digest'; digest: string; mediaType?: string; artifactType?: string } | { kind: 'tag'; tag: string };

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
 * replace the target's and drop what only the target lists. `warn`: the image's warnings, told
 * of the listed tags no reference can name when this walk is the first to read the list.
 */
export async function findReferrers(source: RepoEndpoint, subjects: readonly string[], repos: RepoMemory, warn: (line: string) => void, pulls?: PullMeter): Promise<FoundReferrer[]> {
  const { client, repo } = source;
  const [tags, answers] = await Promise.all([repos.tagList(source, warn), Promise.all(subjects.map((d) => repos.referrers(source, d)))]);
  const tagSet = new Set(tags);
  const listed = await Promise.all(
    subjects.map((subject, i) => {
      const fallbackTag = referrersTag(subject);
      return answers[i] === undefined && tagSet.has(fallbackTag) ? fallbackListing(client, repo, subject, fallbackTag, pulls) : undefined;
    }),
  );
  return subjects.flatMap((subject, i) => {
    const api = answers[i] ?? listed[i];
    // cosign's tags; without the API, also the fallback tag when it holds no index (copied as it is).
    // The list holds only names the tag grammar accepts (RepoMemory.tagList leaves the others out,
    // with a warning): a prefix match alone let `sha256-<hex>.sig/../../../prod/manifests/latest`
    // through into a PUT of another repository when the list was taken as the registry gave it.
    const prefix = cosignTagPrefix(subject) + '.';
    const fallbackTag = referrersTag(subject);
    const byTag = tags.filter((t) => t.startsWith(prefix) || (!api && t === fallbackTag));
    const byDigest = (api?.manifests ?? []).map((d): Referrer => ({ kind: 'digest', digest: d.digest, ...listedTypes(d) }));
    return [...byDigest, ...byTag.map((tag) => ({ kind: 'tag', tag }) as const)].map((referrer) => ({ subject, referrer }));
  });
}

/** What a listing's descriptor says of a referrer's types (the media type only where it is a string: a fallback index is any index). */
function listedTypes(d: { mediaType?: unknown; artifactType?: unknown }): { mediaType?: string; artifactType?: string } {
  return { ...(typeof d.mediaType === 'string' ? { mediaType: d.mediaType } : {}), ...(typeof d.artifactType === 'string' ? { artifactType: d.artifactType } : {}) };
}

/**
 * The manifests the fallback index `tag` of `subject` lists; undefined when that tag holds no index
 * (then copied as it is, under its tag); none when the answer is `subject` itself (isSubjectItself).
 */
async function fallbackListing(client: RegistryClient, repo: string, subject: string, tag: string, pulls?: PullMeter): Promise<{ manifests: Descriptor[] } | undefined> {
  pulls?.will(1);
  let fetched: FetchedManifest;
  try {
    fetched = await pull(pulls, () => client.getManifest(repo, tag));
  } finally {
    pulls?.did();
  }
  if (isSubjectItself(fetched, subject)) return { manifests: [] };
  const p = parseManifest(fetched.bytes, fetched.mediaType);
  if (p.kind !== 'index') return undefined;
  checkIndexChildren(p.index, `${client.registry}/${repo}:${tag}`);
  return { manifests: p.index.manifests };
}

/**
 * True when what a registry answered for the fallback tag `sha256-<hex>` is the manifest
 * `sha256:<hex>` itself: GitLab's registry resolves that reference to the digest
 * (oras-project/oras-go#1396), and a subject index taken for its fallback index would have its own
 * platform manifests listed (and copied) as its referrers. Its bytes hash to the subject's digest;
 * a fallback index never does (it lists the subject's referrers, not the subject's children).
 */
function isSubjectItself(fetched: FetchedManifest, subject: string): boolean {
  return digestMismatch(fetched.bytes, subject) === undefined;
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
export async function listInFallbackIndex(
  target: RepoEndpoint,
  subject: string,
  referrers: readonly ListedReferrer[],
  run: { fallbackIndexes?: Turns; repos: RepoMemory },
  warn?: (line: string) => void,
): Promise<void> {
  if (referrers.length === 0) return;
  if (await run.repos.hasReferrersApi(target, subject)) return;
  if (run.repos.fallbackTagUnusable(target)) return;
  const tag = referrersTag(subject);
  const where = `${target.client.registry}/${target.repo}:${tag}`;
  const write = () => mergeIntoFallbackIndex(target, subject, tag, referrers, run.repos, warn);
  if (!run.fallbackIndexes) return write();
  await run.fallbackIndexes.take(where, write, () => target.client.logger.debug(`${where}: waiting for another image's write of this fallback index`));
}

/**
 * One read-modify-write of the fallback index `tag` of `subject` (listInFallbackIndex). Where the
 * registry answers the tag with the subject itself (GitLab: isSubjectItself), nothing is written:
 * merged, the subject's own children would be listed as its referrers, and a PUT under a reference
 * the registry reads as a digest is no tag. One warning per repository for the run (`warn`).
 */
async function mergeIntoFallbackIndex(target: RepoEndpoint, subject: string, tag: string, referrers: readonly ListedReferrer[], repos: RepoMemory, warn?: (line: string) => void): Promise<void> {
  let index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] };
  try {
    const current = await target.client.getManifest(target.repo, tag);
    if (isSubjectItself(current, subject)) {
      if (repos.markFallbackTagIsDigest(target)) {
        warn?.(
          `${target.client.registry}/${target.repo}: the registry answers the fallback tag ${tag} with the manifest ${subject} itself ` +
            '(it reads the tag as a digest), so no OCI fallback index can list referrers there: those found by digest are copied, not listed',
        );
      }
      return;
    }
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
  /** Told of the referrers a bound left (those counted in ReferrerWalk's beyondDepth or beyondTotal), for the report. */
  beyond?: (found: readonly FoundReferrer[], bound: 'depth' | 'total') => void;
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
      level.beyond?.(fresh, 'depth');
      break;
    }
    const take = Math.min(fresh.length, Math.max(0, bounds.total - out.copied));
    const answers = await copyAll(fresh.slice(0, take), copy, level.parallel ?? REFERRER_COPIES);
    out.copied += take;
    if (take > 0) await level.done?.();
    if (take < fresh.length) {
      out.beyondTotal = fresh.length - take;
      level.beyond?.(fresh.slice(take), 'total');
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

/**
 * Copies every referrer of the image and of each child manifest it copied (`cosign sign
 * --recursive` signs every platform manifest of an index too), then what refers to those
 * referrers (a signature or attestation of an SBOM), level by level (walkReferrers, within
 * REFERRER_BOUNDS, the referrers of one level REFERRER_COPIES at a time), each with its own no-op
 * check and listed under its subject where the target lacks the referrers API. A referrer names
 * its subject by digest: where the copy wrote a manifest under a new digest (--format, or
 * --platform's new index), that manifest's referrers would name one the target does not have (a
 * signature of another digest verifies nothing), so they stay behind, and one warning says how
 * many. The children --platform keeps and those --format leaves as they are keep their digests,
 * and their referrers come along. A referrer listed and gone from the source is left behind with a
 * warning, as is one stored as an OCI 1.1-rc artifact manifest, and one whose manifest a target
 * refuses (isContentRefusal: that target keeps the image and the other referrers, and is not set
 * aside; what refers to the refused one is not copied there). What stays behind, for these reasons or for a bound, is counted in the outcome
 * (`referrersSkipped`). Each referrer is copied by `copyImage`, which copyImage passes as itself:
 * a parameter, so that this module does not import image-copy.ts (which imports it).
 */
export async function copyReferrers(set: TargetSet, source: RepoEndpoint, outcome: ImageCopyOutcome, opts: ImageCopyOptions, copyImage: CopyImage): Promise<void> {
  const roots = [outcome.sourceDigest, ...(await copiedChildren(source, outcome, opts))];
  const moved = movedDigests(outcome);
  const alike = (kind: AlikeWarning, msg: string, about?: string): void => (opts.warnAlike ? opts.warnAlike(kind, msg, about) : opts.warn?.(msg));
  const left = new LeftBehind();
  // Left behind at every target live when the walk ends: those naming a moved digest, those past a bound.
  const atEnd: { rank: number; entry: SkippedReferrer }[] = [];
  const find = async (subjects: string[]) => {
    const found = await findReferrers(source, subjects, set.ctx.repos, (m) => opts.warn?.(m), opts.pulls);
    // Only the first level's subjects can have moved (the image and its children).
    const stay = found.filter((f) => moved.has(f.subject));
    if (stay.length > 0) alike('moved', leftBehind(stay.length, found.length - stay.length, opts));
    atEnd.push(...stay.map((f) => ({ rank: -1, entry: skipped(f, 'digest-changed') })));
    return found.filter((f) => !moved.has(f.subject));
  };
  // Each copy's number in the walk's order (walkReferrers starts them in that order), the blobs its
  // graph names, and this level's referrers by digest still to list in the fallback indexes.
  let started = 0;
  const blobsOf: string[][] = [];
  const toList: { n: number; subject: string; referrer: ListedReferrer; refusedAt: ReadonlySet<TransferTarget> }[] = [];
  // Per source digest of a referrer, the targets that refused its manifest (refusedReferrer): what
  // refers to it is not copied there, where it would name a manifest the target does not hold.
  const refusedAt = new Map<string, Set<TransferTarget>>();
  const copyOne = async (found: FoundReferrer): Promise<string[]> => {
    const { subject, referrer: r } = found;
    const n = started++;
    const ref = r.kind === 'digest' ? r.digest : r.tag;
    // --no-clobber holds for a referrer's tag too (cosign's .sig, .att): where it points at
    // another manifest (a signature made at the target), that target keeps it (keepTheirs).
    const kept = new Set<TransferTarget>();
    const keep = opts.noClobber && r.kind === 'tag' ? keepTheirs(kept, found, n, left, opts) : undefined;
    const lacking = set.live.filter((t) => refusedAt.get(subject)?.has(t));
    left.add(n, lacking, skipped(found, 'subject-not-copied'));
    const into = set.live.filter((t) => !lacking.includes(t));
    if (into.length === 0) return [];
    // An OCI 1.1-rc artifact manifest its listing names as one (referrers API, fallback index): left
    // behind without reading it (a GET, a pull where pulls count, to learn what the listing said).
    if (r.kind === 'digest' && r.mediaType === MediaType.OCI_ARTIFACT_MANIFEST) {
      alike('artifact-manifest', artifactManifest(ref, source, subject), source.client.registry);
      left.add(n, into, skipped(found, 'artifact-manifest'));
      return [];
    }
    const refused = new Map<TransferTarget, unknown>();
    // A referrer found by the API is stored by digest (found through its subject); one found by tag keeps its tag.
    let copied: ImageCopyOutcome;
    try {
      copied = await copyImage(lacking.length ? set.subset(into) : set, source, ref, {
        dryRun: opts.dryRun,
        tags: r.kind === 'tag' ? [r.tag] : [],
        pulls: opts.pulls,
        keep,
        headUntilKnown: opts.headUntilKnown,
        names: opts.names,
        refused: (t, err) => {
          if (isContentRefusal(err, t.ref.registry)) return (refused.set(t, err), true);
          // That target fails; its repository is there (the image was just written to it), so "create it first" is not the advice.
          throw rewordMissingRepository(err, REFERRER_REPOSITORY_GONE) ?? err;
        },
      });
    } catch (err) {
      cutOffAt(into, found, n, left);
      // Listed and gone (a stale fallback index, a referrers API slow to forget a deleted
      // manifest, a tag deleted since the list was read): the image and its other referrers
      // are there; this one is left behind with a warning, not the whole image failed for it.
      // So is one stored as an OCI 1.1-rc artifact manifest, which regpush does not copy.
      let why: SkippedReferrerReason;
      if (isArtifactManifest(err)) {
        // Found by a tag, or listed under another media type: known once read.
        alike('artifact-manifest', artifactManifest(ref, source, subject), source.client.registry);
        why = 'artifact-manifest';
      } else if (await goneAtSource(err, source, ref)) {
        // Alike for every image of a registry whose listings lag (a stale fallback index, a slow referrers API).
        alike('stale', `referrer ${ref} of ${source.client.registry}/${source.repo}@${subject} is listed but not in the repository (a stale listing): not copied`, source.client.registry);
        why = 'not-at-source';
      } else throw err;
      left.add(n, into, skipped(found, why, why === 'artifact-manifest' ? { mediaType: MediaType.OCI_ARTIFACT_MANIFEST } : {}));
      return [];
    }
    blobsOf[n] = copied.graph?.blobs.map((b) => b.digest) ?? [];
    cutOffAt(into, found, n, left);
    for (const [t, err] of refused) {
      const said = registrySaid(err);
      // Alike for every image whose referrers are of that kind (ECR and sigstore bundles): once per run and registry in a run of many.
      alike('refused', refusedReferrer(ref, copied, source, subject, t, said), t.ref.registry);
      left.add(n, [t], skipped(found, 'refused', { ...copiedTypes(copied), message: said }));
    }
    if (copied.sourceDigest && (refused.size || lacking.length)) refusedAt.set(copied.sourceDigest, new Set([...refused.keys(), ...lacking]));
    // Kept everywhere: what refers to the source's manifest would name one no target has.
    const copiedTo = into.filter((t) => !kept.has(t) && !refused.has(t));
    if (copiedTo.length === 0) return [];
    // Listed whether copied now or held already: an earlier run may have written it and not its
    // subject's fallback index (interrupted in between); where the index lists it, nothing is written.
    if (r.kind === 'digest' && !opts.dryRun) toList.push({ n, subject, referrer: { digest: r.digest, node: copied.graph?.top ?? copied.top }, refusedAt: new Set([...refused.keys(), ...lacking]) });
    // Counted where it was written (or, in a dry run, would be): a target that already held it
    // (an unchanged re-run) copied nothing, and an hourly sync must not report a new signature;
    // one this copy set aside (its PUT cut off by an interruption) did not get it.
    count(outcome.referrers, copiedTo.filter((t) => !copied.unchanged.has(t) && !t.failed), 1);
    // What refers to this referrer comes next: to it, and to its children when it is an index
    // (the OCI fallback index of a source without the API lists the referrers as its children).
    return copied.sourceDigest ? [copied.sourceDigest, ...(await copiedChildren(source, copied, opts))] : [];
  };
  // A subject's referrers are all found in one level (its referrers are listed once), so listing
  // them together once the level is copied is one read-modify-write of its fallback index per
  // target: none lost to another copy's write of the same index, and in the order found. Another
  // image of the run writing that index (the same subject in its graph) takes its turn (the run's
  // fallbackIndexes).
  const listLevel = async () => {
    const level = toList.splice(0).sort((a, b) => a.n - b.n);
    if (level.length === 0) return;
    await set.each(async (t) => {
      // Not at a target that refused the referrer: it is not there to list.
      const bySubject = new Map<string, ListedReferrer[]>();
      for (const { subject, referrer, refusedAt } of level) if (!refusedAt.has(t)) bySubject.set(subject, [...(bySubject.get(subject) ?? []), referrer]);
      await Promise.all([...bySubject].map(([subject, referrers]) => listInFallbackIndex(t.ep, subject, referrers, set.ctx, (m) => opts.warn?.(m))));
    });
  };
  const reported = new Map(set.list.map((t) => [t, t.blobs.length]));
  try {
    const beyond = (found: readonly FoundReferrer[], bound: 'depth' | 'total') =>
      atEnd.push(...found.map((f) => ({ rank: Number.MAX_SAFE_INTEGER, entry: skipped(f, bound === 'depth' ? 'depth-bound' : 'total-bound') })));
    const walk = await walkReferrers([...new Set(roots)], find, copyOne, REFERRER_BOUNDS, { parallel: REFERRER_COPIES, done: listLevel, beyond });
    if (walk.beyondDepth || walk.beyondTotal) alike('bound', cutOff(walk, source, outcome.sourceDigest));
    for (const { rank, entry } of atEnd) left.add(rank, set.live, entry);
  } finally {
    // Also when the walk is cut short (the caller's signal): an interrupted target's report says
    // the referrers left behind before it (refused there, gone from the source), as it counts
    // those copied (interruptedTarget).
    left.into(outcome);
    for (const t of set.list) inWalkOrder(t.blobs, reported.get(t)!, blobsOf);
  }
}

/**
 * Puts the blob lines the referrers' copies added to a target's report (from `from` on) in the
 * walk's order, as one copy after the other would have: by the first referrer naming the blob, then
 * by its place in that referrer's graph. They were added as they landed, which the concurrent
 * copies of a level interleave differently from one run to the next.
 */
function inWalkOrder(blobs: BlobReport[], from: number, blobsOf: readonly string[][]): void {
  if (blobs.length - from < 2) return;
  const rank = new Map<string, number>();
  let i = 0;
  for (const list of blobsOf) for (const d of list ?? []) if (!rank.has(d)) rank.set(d, i++);
  const key = (b: BlobReport) => rank.get(b.digest) ?? Number.MAX_SAFE_INTEGER;
  // A blob two referrers share (the empty config of OCI artifacts): the move first, then the skips.
  const skip = (b: BlobReport) => Number(b.action === 'skipped');
  const tail = blobs.splice(from).sort((a, b) => key(a) - key(b) || skip(a) - skip(b) || a.action.localeCompare(b.action));
  blobs.push(...tail);
}

/**
 * --no-clobber for a referrer kept under a tag: the targets where `tag` exists and points at
 * another manifest than the source's keep theirs, each with a warning and counted in
 * `referrersSkipped` (a signature is not worth setting a whole target aside for, as a clobbered
 * image tag is); the others get the copy. copyImage finds them (ImageCopyOptions.keep) from the
 * HEADs its unchanged check asks anyway; they are added to `kept`.
 */
function keepTheirs(kept: Set<TransferTarget>, found: FoundReferrer, n: number, left: LeftBehind, opts: ImageCopyOptions): NonNullable<ImageCopyOptions['keep']> {
  return (t, tag, digest) => {
    opts.warn?.(`${t.ref.registry}/${t.ref.repository}:${tag} already points at ${digest} (${opts.names.name('noClobber')}): kept, the source's not copied there`);
    left.add(n, [t], skipped(found, 'tag-held', { message: `the target's tag points at ${digest}` }));
    kept.add(t);
  };
}

/**
 * True for a target's refusal of a manifest for what it holds: the refusals RegistryHttp.failWrite
 * marks `manifestRefused` (400 `MANIFEST_INVALID`, Quay's artifact allowlist: oras-project/oras#738;
 * 405 with its reason, ECR's for a media type with parameters, as sigstore bundles'
 * `;version=0.2`: aws/containers-roadmap#2306; 415, Quay), and Docker Hub's 404 for a manifest with
 * a `subject` (docker/hub-feedback#2307), or a bare 405. Not a failure of the connection, the
 * credentials, a rate limit or the registry itself (5xx), nor an answer that the target lacks or
 * got wrong bytes the manifest names (`MANIFEST_BLOB_UNKNOWN`, `DIGEST_INVALID`, `SIZE_INVALID`,
 * whatever the status) or has no such repository (`NAME_UNKNOWN`), nor any other 400: those fail
 * the target, as for the image.
 */
export function isContentRefusal(err: unknown, registry: string): boolean {
  if (!(err instanceof RegpushError) || err.code === 'E_DIGEST_MISMATCH') return false;
  if (err.details.manifestRefused === true) return true;
  // Docker Hub makes a repository on its first push, so its 404 to a manifest with a `subject` in
  // a repository the image was just written to is that refusal whatever code it carries (the
  // reports of hub-feedback#2307 quote the status, not the code).
  const failures = isDockerHub(registry) ? TRANSFER_FAILURE_CODES_HUB : TRANSFER_FAILURE_CODES;
  if ((err.details.registryCodes ?? []).some((c) => failures.has(c))) return false;
  return [404, 405, 415].includes(err.details.status ?? 0);
}

/**
 * A manifest PUT's answers that are a transfer failure, not a refusal of the referrer: the target
 * lacks, or holds wrong, bytes the manifest names; or it says the repository does not exist
 * (`NAME_UNKNOWN`), which of a repository the image was just written to is no answer about this
 * kind of artifact (the repository deleted meanwhile, or access the registry words so): the
 * target fails (E_NOT_FOUND from the write), where skipping the referrer with a warning would
 * report a copy that did not land as a success.
 */
const TRANSFER_FAILURE_CODES: ReadonlySet<string> = new Set(['BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN', 'DIGEST_INVALID', 'SIZE_INVALID', 'NAME_UNKNOWN']);
/** What the E_NOT_FOUND for a referrer's PUT answered NAME_UNKNOWN advises (TRANSFER_FAILURE_CODES). */
const REFERRER_REPOSITORY_GONE =
  "said of this referrer's manifest right after the image it refers to was written there: " +
  'the repository may have been deleted meanwhile, or the registry words a refusal of this write so; ' +
  'check that it is there and that these credentials may push to it';
const TRANSFER_FAILURE_CODES_HUB: ReadonlySet<string> = new Set([...TRANSFER_FAILURE_CODES].filter((c) => c !== 'NAME_UNKNOWN'));

/** True when `err` is the refusal of an OCI 1.1-rc artifact manifest (parseManifest). */
function isArtifactManifest(err: unknown): boolean {
  return err instanceof UnsupportedError && err.details.mediaType === MediaType.OCI_ARTIFACT_MANIFEST;
}

/**
 * The registry's own answer in a refusal (isContentRefusal): the innermost cause's message (a 405
 * is worded as a registry that takes no pushes at all, which this one is not: it took the image).
 */
function registrySaid(err: unknown): string {
  let said = err as RegpushError;
  while (said.cause instanceof RegpushError) said = said.cause;
  return said.message;
}

/** The warning for a referrer `t` refused (isContentRefusal): which one, of what type, and the registry's answer (`said`, registrySaid). */
function refusedReferrer(ref: string, copied: ImageCopyOutcome, source: RepoEndpoint, subject: string, t: TransferTarget, said: string): string {
  const type = copiedTypes(copied).artifactType;
  return (
    `referrer ${ref}${type ? ` (${type})` : ''} of ${source.client.registry}/${source.repo}@${subject} ` +
    `not copied to ${t.ref.registry}/${t.ref.repository}: the registry refused its manifest (${said}); the image and its other referrers are copied`
  );
}

/** The warning for a referrer stored as an OCI 1.1-rc artifact manifest. */
function artifactManifest(ref: string, source: RepoEndpoint, subject: string): string {
  return (
    `referrer ${ref} of ${source.client.registry}/${source.repo}@${subject} is an OCI artifact manifest ` +
    `(${MediaType.OCI_ARTIFACT_MANIFEST}, of the OCI 1.1 release candidates, dropped from OCI 1.1): not copied`
  );
}

/** A referrer's digest and types as its copy read it (the report's entry for a target that refused it). */
function copiedTypes(copied: ImageCopyOutcome): Pick<SkippedReferrer, 'digest' | 'mediaType' | 'artifactType'> {
  const node = copied.graph?.top;
  const artifactType = node ? fallbackEntry(node).artifactType : undefined;
  return { ...(copied.sourceDigest ? { digest: copied.sourceDigest } : {}), ...(copied.mediaType ? { mediaType: copied.mediaType } : {}), ...(artifactType ? { artifactType } : {}) };
}

/** The report's entry for `found` left behind for `reason`; `more` adds or corrects what the listing said. */
function skipped({ subject, referrer: r }: FoundReferrer, reason: SkippedReferrerReason, more: Partial<SkippedReferrer> = {}): SkippedReferrer {
  const listed = r.kind === 'digest' ? { digest: r.digest, ...listedTypes(r) } : { tag: r.tag };
  return { ...listed, subject, ...more, reason };
}

/** True when `err` is a not-found and the manifest `ref` is not at the source (one HEAD, no pull): not a target's 404, nor a blob's. */
async function goneAtSource(err: unknown, source: RepoEndpoint, ref: string): Promise<boolean> {
  if (!(err instanceof NotFoundError)) return false;
  return (await source.client.headManifest(source.repo, ref).catch(() => null)) === undefined;
}

/** Adds `n` to the count in `m` of each of `targets`. */
function count(m: Map<TransferTarget, number>, targets: readonly TransferTarget[], n: number): void {
  if (n) for (const t of targets) m.set(t, (m.get(t) ?? 0) + n);
}

/**
 * The referrers a walk leaves behind, each at its targets, recorded as found and put in the
 * outcome (`referrersSkipped`) in the walk's order (`rank`: the copy's number; those naming a moved
 * digest before all, those past a bound after), not in the order the concurrent copies of a level
 * ended in, which differs from one run to the next: the report is the same run to run.
 */
class LeftBehind {
  private readonly found: { rank: number; targets: readonly TransferTarget[]; entry: SkippedReferrer }[] = [];

  add(rank: number, targets: readonly TransferTarget[], entry: SkippedReferrer): void {
    if (targets.length) this.found.push({ rank, targets, entry });
  }

  into(outcome: ImageCopyOutcome): void {
    for (const { targets, entry } of this.found.sort((a, b) => a.rank - b.rank)) {
      for (const t of targets) {
        const list = outcome.referrersSkipped.get(t);
        if (list) list.push(entry);
        else outcome.referrersSkipped.set(t, [entry]);
      }
    }
  }
}

/**
 * Lists `found` as left behind at each target of `into` where the caller's signal cut its manifest
 * PUT by digest off once sent (TransferTarget.digestsCut): not counted as copied there, and the
 * report says that PUT may have taken effect, as it says of a tag's (TargetSet.interruptedAt). A
 * referrer kept under a tag is said so by the target's tagsCut.
 */
function cutOffAt(into: readonly TransferTarget[], found: FoundReferrer, n: number, left: LeftBehind): void {
  const r = found.referrer;
  if (r.kind !== 'digest') return;
  const at = into.filter((t) => t.digestsCut?.includes(r.digest));
  left.add(n, at, skipped(found, 'cut-off', { message: 'the interruption cut its manifest PUT off: it may have taken effect at the registry' }));
}

/** The one warning for referrers a bound of the walk left behind. */
function cutOff(walk: ReferrerWalk, source: RepoEndpoint, digest: string): string {
  const where = walk.beyondTotal
    ? `at ${REFERRER_BOUNDS.total} referrers; ${walk.beyondTotal} more found are`
    : `${REFERRER_BOUNDS.depth} levels below the image (a referrer of a referrer of …); ${walk.beyondDepth} found deeper ${walk.beyondDepth === 1 ? 'is' : 'are'}`;
  return `referrers of ${source.client.registry}/${source.repo}@${digest}: the walk stops ${where} not copied, nor what refers to them`;
}

/**
 * The source digests of the manifests the copy wrote under another digest. Without the graph
 * (every target held the image), the top's when a subset's index was found there; a subset keeps
 * its children's digests.
 */
function movedDigests(outcome: ImageCopyOutcome): Set<string> {
  const g = outcome.graph;
  if (!g) return new Set(outcome.digest !== outcome.sourceDigest ? [outcome.sourceDigest] : []);
  const moved = new Set<string>();
  if (g.top.digest !== g.sourceDigest) moved.add(g.sourceDigest);
  // children[i] was written for sourceChildren[i] (the same digest unless converted); children
  // left unread are a subset's, held under their own digests.
  g.sourceChildren.forEach((d, i) => {
    if (!g.childrenUnread && g.children[i]?.digest !== d) moved.add(d);
  });
  return moved;
}

/** The warning for referrers left behind: what changed the digest, how many stay, how many still come. */
function leftBehind(n: number, copied: number, opts: ImageCopyOptions): string {
  const why = opts.format ? opts.names.set('format', opts.format) : `keeping only ${(opts.platforms ?? []).map(formatPlatform).join(', ')}`;
  const one = n === 1;
  const rest = copied > 0 ? `; the ${copied} of the manifests it keeps as they are ${copied === 1 ? 'is' : 'are'} copied` : '';
  return `${why} changes the image's digest: its ${n} referrer${one ? '' : 's'} (signatures, attestations) refer${one ? 's' : ''} to the source digest and ${one ? 'is' : 'are'} not copied${rest}`;
}

/**
 * The source digests of the child manifests the copy wrote: from its graph; when every target
 * already held the image the graph was not read, and the children are the index's own (one GET
 * of the index, none of its image manifests), read at a target that holds it: the same bytes
 * (same digest), and a GET there costs no pull, where at Docker Hub every unchanged
 * multi-platform image of an hourly sync would spend one. Read at the source (counted as pulls)
 * only when that target cannot answer.
 */
async function copiedChildren(source: RepoEndpoint, outcome: ImageCopyOutcome, opts: ImageCopyOptions): Promise<string[]> {
  if (outcome.graph) return outcome.graph.sourceChildren;
  // A subset's index as the target holds it lists the children kept (under their source digests).
  const holder = [...outcome.unchanged][0];
  if (outcome.written && holder) return indexChildren(holder.ep.client, holder.ep.repo, outcome.written.digest, { ...outcome.written });
  // A HEAD without a Content-Type says nothing: the GET tells.
  if (outcome.mediaType && !isIndexMediaType(outcome.mediaType)) return [];
  if (holder && !outcome.top) {
    // Either read failing at the target falls back on the source's read below, which reports an abort or a refusal of its own.
    const held = outcome.heldTop ?? (await holder.ep.client.getManifest(holder.ep.repo, outcome.sourceDigest).catch(() => undefined));
    const there = held && (await indexChildren(holder.ep.client, holder.ep.repo, outcome.sourceDigest, held).catch(() => undefined));
    if (there) {
      outcome.heldTop = held;
      return there;
    }
  }
  opts.pulls?.will(1);
  try {
    return await indexChildren(source.client, source.repo, outcome.sourceDigest, outcome.top, opts.pulls);
  } finally {
    opts.pulls?.did();
  }
}
