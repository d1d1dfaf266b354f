/**
 * Copying one image (a source tag or digest) to the targets of a TargetSet, as it is: same
 * manifest bytes, same digests. The engine's image-level operation: copy() runs it for each
 * source reference, sync() for each image of its file.
 *
 *   unchanged? → HEAD the source (GET its manifest where that costs no pull; nothing when it is
 *                named by digest) and every target tag: targets that already hold the source
 *                digest under every tag, or for a platform subset an index whose record names
 *                that digest and those platforms, are left alone (no write, and no manifest GET
 *                at a source that counts pulls)
 *   graph      → the manifests (exact bytes) and the blobs they name
 *   clobber    → with noClobber, a tag pointing elsewhere sets its target aside
 *   blobs      → the transfer engine (one read for all targets, confirmed on landing)
 *   manifests  → children by digest, then the tags
 *   referrers  → signatures, attestations, SBOMs of the image and of each child copied, then
 *                theirs (a signature of an SBOM), level by level within bounds, each by the same
 *                steps, the referrers of one level together (their subjects are written by then);
 *                not those of a manifest written under a new digest (they name the source's)
 */
import { DigestMismatchError, ExistsError, NotFoundError, ProtocolError, UnsupportedError } from '../errors.js';
import { digestMismatch, isValidDigest } from '../image/digest.js';
import { parseManifest } from '../image/manifest.js';
import { isIndexMediaType } from '../image/mediatypes.js';
import { formatPlatform } from '../image/platform.js';
import { isSubsetOf } from '../image/subset.js';
import type { Platform } from '../image/types.js';
import type { TargetSet, TransferTarget } from './target-set.js';
import type { FetchedManifest, ManifestHead } from '../registry/registry-client.js';
import type { BlobReport, RepoEndpoint } from './types.js';
import { notThePlatform, readGraph, type CopyGraph, type GraphOptions, type ManifestNode } from './graph.js';
import { findReferrers, indexChildren, listInFallbackIndex, REFERRER_BOUNDS, REFERRER_COPIES, walkReferrers, type FoundReferrer, type ListedReferrer, type ReferrerWalk } from './referrers.js';

/** How to copy one image: how its graph is read (platforms, format, notes, pull meter — referrers' included), and: */
export interface ImageCopyOptions extends GraphOptions {
  /** Also copy what refers to the image. */
  referrers?: boolean;
  /** Refuse to move a target tag that points at another digest. */
  noClobber?: boolean;
  /** Plan only: HEADs, no writes. */
  dryRun?: boolean;
  /** Tags to write at every target instead of each target's own; [] stores the image by digest only. */
  tags?: string[];
  /**
   * A referrer's --no-clobber (copyReferrers): a target whose tag points at another manifest than
   * the source's keeps it, is told to `keep` (tag, the digest there) and is not written; the
   * others get the copy. Read from the unchanged check's HEADs, so it costs no request of its own.
   */
  keep?: (t: TransferTarget, tag: string, digest: string) => void;
  /**
   * Read the source's manifest with a GET at once only where the registry has shown that it counts
   * no pulls (RegistryClient.pullsKnown), not merely where nothing has said so yet: until its first
   * manifest answer, HEAD first, as where it counts them. Referrers' copies inherit it. sync and
   * copy --all-tags set it (their images start --images at a time, each before any answer could
   * tell); a single copy does not (one image, where a HEAD first would cost a round trip on every
   * cold copy).
   */
  headUntilKnown?: boolean;
  /**
   * The top manifest is wanted even where the targets hold it (copy's report lists an index's
   * platforms, `--referrers` its children): for a source named by digest, which is not asked, one
   * target's first tag is read with a GET instead of its HEAD, the same round trip, and what it
   * holds is kept as `heldTop` (no GET of the index after the no-op check). Only at a target where
   * a GET is not known to count a pull (countsPulls), as the source's own GET first (see `free`).
   */
  readHeldTop?: boolean;
  /**
   * Where the referrer warnings that every image of a run may give alike go, by kind: `moved`,
   * the referrers of a manifest written under a new digest left behind (leftBehind); `bound`, those
   * a bound of the walk left (cutOff). sync says each kind once per run (an entry's `platforms`
   * gives every image of it the same line). Without it they go to `warn`, as copy's do (one image).
   */
  warnAlike?: (kind: AlikeWarning, msg: string) => void;
}

/** The kinds of ImageCopyOptions.warnAlike. */
export type AlikeWarning = 'moved' | 'bound';

/**
 * What the first warning of an alike kind adds in a run of many (TransferRun.warnOnce): that the
 * later ones (`noun`: images of a sync, tags of copy --all-tags) are not warned of again.
 */
export function laterAlike(kind: AlikeWarning, noun: 'image' | 'tag'): string {
  const why = kind === 'moved' ? 'whose referrers stay behind for this reason' : 'whose referrer walk stops at a bound';
  return `later ${noun}s ${why} are not warned of again: each ${noun}'s result counts its referrers left behind`;
}

/** What happened to one image at its targets. */
export interface ImageCopyOutcome {
  /** The digest the source reference resolved to. */
  sourceDigest: string;
  /** The mirror the source reference was resolved through (absent: the registry itself). */
  sourceMirror?: string;
  /** The digest written (differs from the source's when platforms made a new index). */
  digest: string;
  mediaType: string;
  /** The graph, when it was read (not when every target already held the image). */
  graph?: CopyGraph;
  /** The source's top manifest as read, when it was read with a GET first (see copyImage). */
  top?: FetchedManifest;
  /** A platform subset's index as read at a target that holds it, when every target did (the graph not read). */
  written?: ManifestNode;
  /** The source's top manifest as read at a target that held it, with the no-op check (readHeldTop) or for its children (copiedChildren): the report's platforms come from it too. */
  heldTop?: FetchedManifest;
  /** Targets that already held the image under every tag: nothing written there. */
  unchanged: Set<TransferTarget>;
  /** At the other targets, the tags that already held the image and were not written again (a copy adding a --tag); in a dry run, those that would not be. */
  tagsHeld: Map<TransferTarget, string[]>;
  /** Referrers copied, per target. */
  referrers: Map<TransferTarget, number>;
  /** Referrers found and not copied, per target: those naming a digest the copy changed, those past a bound of the walk, those listed and not in the source repository, and with noClobber those whose tag the target holds for another manifest. */
  referrersSkipped: Map<TransferTarget, number>;
}

/** Copies the image `ref` of `source` to every live target of `set` (tags: each target's own). */
export async function copyImage(set: TargetSet, source: RepoEndpoint, ref: string, opts: ImageCopyOptions): Promise<ImageCopyOutcome> {
  const outcome: ImageCopyOutcome = { sourceDigest: '', digest: '', mediaType: '', unchanged: new Set(), tagsHeld: new Map(), referrers: new Map(), referrersSkipped: new Map() };
  // The no-op check: a HEAD does not count against Docker Hub's pull limit, a manifest GET does.
  // The source's and the targets' tags are asked at once: one round trip, not two. A platform
  // subset (a new index) is recognised by the record of its source it carries (image/subset.ts);
  // --format's conversion is compared once the graph has been read.
  const check = !opts.format;
  const subset = check && opts.platforms?.length ? opts.platforms : undefined;
  // A source named by digest names what the targets must hold (or, for a subset, what their index
  // was made from): the check asks the targets only, and a source that is down or short of pulls
  // does not fail an image that every target has. It is read once a target turns out to lack it.
  const pinned = check && isValidDigest(ref) ? ref : undefined;
  // Where a manifest GET costs no pull (not Docker Hub, no rate-limit headers seen, no pull meter
  // counting for sync's gate), the source's top manifest is read at once instead of HEADed: the
  // answer tells the digest as the HEAD would, and a target that lacks the image does not wait for
  // its own HEAD before the source's manifest is asked for (one round trip less on a cold copy).
  // An unchanged re-run then reads one manifest of a few kilobytes instead of a HEAD: the same
  // round trip. With headUntilKnown a registry not heard from yet is HEADed as one that counts.
  const free = source.client.countsPulls?.(source.repo) === false && (!opts.headUntilKnown || source.client.pullsKnown?.(source.repo) === true);
  const topRead = check && !pinned && opts.pulls === undefined && free ? source.client.getManifest(source.repo, ref) : undefined;
  topRead?.catch(() => undefined); // awaited below; a target's failure may end the copy first
  // One spare connection to the source beside the first read's: a target that lacks a tag has the
  // source manifest (HEAD first) or its children (GET first) read while that first request may
  // still hold its connection, and a new connection there would put a handshake on the critical
  // path. Unused, it is closed with the run.
  if (check && !pinned && !opts.dryRun && set.live.length > 0) source.client.warm?.(2);
  // A pinned image's top manifest read where a target holds it, in place of that tag's HEAD (readHeldTop).
  const reader = pinned && !subset && opts.readHeldTop ? set.live.find((t) => (opts.tags ?? t.tags).length > 0 && t.ep.client.countsPulls?.(t.ep.repo) !== true) : undefined;
  const keepHeld = (m: FetchedManifest): void => {
    outcome.heldTop ??= m;
  };
  const held = new Map(check ? set.live.map((t) => [t, t === reader ? tagHeadsRead(t, opts.tags ?? t.tags, pinned!, keepHeld) : tagHeads(t, opts.tags ?? t.tags)] as const) : []);
  // What each target's tags point at, asked once: the unchanged check and --no-clobber both read it.
  const headsAt = (t: TransferTarget): Promise<(ManifestHead | undefined)[]> => {
    let p = held.get(t);
    if (!p) held.set(t, (p = tagHeads(t, opts.tags ?? t.tags)));
    return p;
  };
  const heldAt = async (t: TransferTarget): Promise<(string | undefined)[]> => (await headsAt(t)).map((h) => h?.digest);
  // A subset's index is known from the source index alone: where every target not up to date by
  // now already holds it, its children are not read (GraphOptions.topHeld). The targets asked
  // include every one the graph is later needed for (`need` only shrinks), so a graph read that
  // way leaves nothing to write.
  const topHeld = async (top: ManifestNode): Promise<boolean> => {
    const ask = set.live.filter((t) => !outcome.unchanged.has(t));
    // A target whose heads failed is read for (not held); its failure, abort and refusal included, is reported where set.each awaits those heads.
    const there = await Promise.all(ask.map((t) => heldEverywhere(t, opts.tags ?? t.tags, top.digest, headsAt(t)).catch(() => undefined)));
    return there.every(Boolean);
  };
  let graphRead: Promise<CopyGraph> | undefined;
  const readOnce = (): Promise<CopyGraph> => (graphRead ??= readGraph(source.client, source.repo, ref, subset ? { ...opts, topHeld } : opts, topRead));
  for (const p of held.values()) {
    p.then(
      // A target without one of its tags needs the image whatever the source HEAD says: its graph
      // is read now, not after that HEAD (which behind a token registry waits for a 401 and a
      // token first). An unchanged re-run has every tag, so it still reads no manifest.
      (heads) => {
        if (heads.some((h) => h?.digest === undefined)) readOnce().catch(() => undefined); // awaited below
      },
      () => undefined, // awaited below, inside set.each
    );
  }
  if (topRead) outcome.top = await topRead;
  const head = outcome.top ?? (pinned ? { digest: pinned } : check ? await source.client.headManifest(source.repo, ref) : undefined);
  const headDigest = head?.digest;
  if (headDigest) {
    outcome.sourceDigest = outcome.digest = headDigest;
    if (head?.mirror) outcome.sourceMirror = head.mirror;
    outcome.mediaType = head?.mediaType ?? '';
    await set.each(async (t) => {
      const tags = opts.tags ?? t.tags;
      if (subset) {
        const written = await subsetHeld(t, tags, headDigest, outcome.mediaType, subset, held.get(t));
        if (!written) return;
        outcome.unchanged.add(t);
        // The index written there (a subset's digest is its own): the outcome's digest, and the
        // children whose referrers come with --referrers.
        if (written.digest === headDigest) outcome.mediaType ||= written.mediaType;
        else if (!outcome.written) {
          outcome.written = { digest: written.digest, mediaType: written.mediaType, bytes: written.bytes };
          outcome.digest = written.digest;
          outcome.mediaType = written.mediaType;
        }
        return;
      }
      const there = await heldEverywhere(t, tags, headDigest, held.get(t));
      if (!there) return;
      outcome.unchanged.add(t);
      // Named by digest, the source was not asked: the type is the target's answer.
      outcome.mediaType ||= there.mediaType ?? '';
    });
  }
  let need = set.subset(set.live.filter((t) => !outcome.unchanged.has(t)));
  if (opts.keep && headDigest) need = await keptApart(need, headDigest, opts.tags, heldAt, opts.keep);
  if (need.live.length > 0) {
    const graph = await readOnce();
    outcome.graph = graph;
    outcome.sourceDigest = graph.sourceDigest;
    if (graph.sourceMirror) outcome.sourceMirror = graph.sourceMirror;
    outcome.digest = graph.top.digest;
    outcome.mediaType = graph.top.mediaType;
    if (opts.platforms?.length || opts.format) {
      // --platform or --format make a top manifest of their own, known only once the graph has been
      // read: the targets' tags are compared with it now, so an unchanged image is not planned and
      // written again (the source's manifests had to be read for it, which the HEAD check spares).
      await need.each(async (t) => {
        if (graph.childrenUnread || (await heldEverywhere(t, opts.tags ?? t.tags, graph.top.digest, headsAt(t)))) outcome.unchanged.add(t);
      });
      need = set.subset(need.live.filter((t) => !outcome.unchanged.has(t)));
    }
    // The subset as regpush wrote it before it kept its record is the same image: --no-clobber lets
    // the record be added (the digest changes once) rather than refuse the tag it wrote itself.
    if (opts.noClobber) await refuseClobber(need, [graph.top.digest, ...(graph.unrecorded ? [graph.unrecorded] : [])], opts.tags, heldAt, opts.names.name('noClobber'));
    // A source HEAD that named no digest: the targets to keep apart are known from the graph.
    if (opts.keep && !headDigest) need = await keptApart(need, graph.top.digest, opts.tags, heldAt, opts.keep);
    if (need.live.length > 0) await copyGraph(need, source, graph, opts, heldAt, outcome.tagsHeld);
  }
  if (opts.referrers && outcome.sourceDigest) await copyReferrers(set, source, outcome, opts);
  return outcome;
}

/** What each tag of `t` points at now (HEADs, in parallel); none for an image stored by digest only. */
function tagHeads(t: TransferTarget, tags: readonly string[]): Promise<(ManifestHead | undefined)[]> {
  return Promise.all(tags.map((tag) => t.ep.client.headManifest(t.ep.repo, tag)));
}

/**
 * As tagHeads, with the first tag read by a GET: when it holds `pinned`, the manifest is handed to
 * `got` and its head is `pinned` (what the HEAD's Docker-Content-Digest says of the same bytes). A
 * GET refused for what a HEAD does not look at (a schema 1 manifest, bytes that do not match the
 * digest the registry states, a body past the size cap or not JSON) is asked again as the HEAD it
 * replaces; any other failure is the HEAD's own (the transport has retried it: one retry level).
 */
function tagHeadsRead(t: TransferTarget, tags: readonly string[], pinned: string, got: (m: FetchedManifest) => void): Promise<(ManifestHead | undefined)[]> {
  const [first, ...rest] = tags;
  const read = t.ep.client.getManifest(t.ep.repo, first!).then(
    (m): ManifestHead => {
      if (digestMismatch(m.bytes, pinned) !== undefined) return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
      got(m);
      return { digest: pinned, mediaType: m.mediaType, size: m.bytes.length };
    },
    (err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      // ProtocolError: a body the GET refuses unread (past the manifest size cap, not JSON).
      if (err instanceof UnsupportedError || err instanceof DigestMismatchError || err instanceof ProtocolError) return t.ep.client.headManifest(t.ep.repo, first!);
      throw err;
    },
  );
  return Promise.all([read, tagHeads(t, rest)]).then(([head, others]) => [head, ...others]);
}

/** The HEAD answer of `t` for `digest` when every tag of `t` already points at it (by digest only: the manifest is there); else undefined. */
async function heldEverywhere(t: TransferTarget, tags: readonly string[], digest: string, held: Promise<(ManifestHead | undefined)[]> | undefined): Promise<ManifestHead | undefined> {
  if (tags.length === 0) {
    const h = await t.ep.client.headManifest(t.ep.repo, digest);
    return h?.digest === digest ? h : undefined;
  }
  const heads = await (held ?? tagHeads(t, tags));
  return heads.every((h) => h?.digest === digest) ? heads[0] : undefined;
}

/**
 * For a platform subset of the source `source` (of type `sourceType` when known): the manifest
 * every tag of `t` points at when it is that subset, else undefined. An index is that subset when
 * its record names `source` and `platforms` as asked; it is read at the target (a GET there, not
 * at the source whose pulls are counted). A single image is copied as it is, so a target holding
 * `source` itself has it when it is of those platforms, as its config at the target says. An image
 * kept by digest only names no index to look at: the source is read.
 */
async function subsetHeld(t: TransferTarget, tags: readonly string[], source: string, sourceType: string, platforms: readonly Platform[], held: Promise<(ManifestHead | undefined)[]> | undefined): Promise<FetchedManifest | undefined> {
  if (tags.length === 0) return undefined;
  const heads = await (held ?? tagHeads(t, tags));
  const digest = heads[0]?.digest;
  if (!digest || heads.some((h) => h?.digest !== digest)) return undefined;
  // The whole source index, copied earlier without the platform list: the subset is still to write.
  if (digest === source && sourceType && isIndexMediaType(sourceType)) return undefined;
  // A read that fails here (a manifest or config the target cannot give) only means the copy is
  // done as without the record: the copy then meets, and reports, what is wrong there.
  const look = async (): Promise<FetchedManifest | undefined> => {
    const there = await t.ep.client.getManifest(t.ep.repo, digest);
    if (digest !== source) return isSubsetOf(there.bytes, there.mediaType, source, platforms) ? there : undefined;
    const p = parseManifest(there.bytes, there.mediaType);
    if (p.kind !== 'image') return undefined;
    const wrong = await notThePlatform(t.ep.client, t.ep.repo, p.manifest, platforms, `${t.ref.registry}/${t.ref.repository}@${digest}`);
    return wrong ? undefined : there;
  };
  return look().catch(() => undefined); // see above: the copy goes on without the record and meets what is wrong itself
}

/** --no-clobber (`noClobber`: what the caller called it): a tag that exists and points elsewhere sets its target aside before any write. */
async function refuseClobber(set: TargetSet, ours: readonly string[], tags: readonly string[] | undefined, heldAt: (t: TransferTarget) => Promise<(string | undefined)[]>, noClobber: string): Promise<void> {
  await set.each(async (t) => {
    // The tags this image is written under: with --all-tags, the one being copied, not the target's own.
    const names = tags ?? t.tags;
    const digests = await heldAt(t);
    const i = digests.findIndex((d) => d !== undefined && !ours.includes(d));
    if (i >= 0) throw new ExistsError(`${t.ref.registry}/${t.ref.repository}:${names[i]} already points at ${digests[i]} (${noClobber})`);
  });
}

/**
 * Blobs, then manifests (children first); in a dry run, the plan only, which says as the copy's
 * report would which tags already hold the image (`tagsHeld`).
 */
async function copyGraph(set: TargetSet, source: RepoEndpoint, graph: CopyGraph, opts: ImageCopyOptions, heldAt: (t: TransferTarget) => Promise<(string | undefined)[]>, tagsHeld: Map<TransferTarget, string[]>): Promise<void> {
  // A tag that points at this image already (a copy that adds a --tag) is not written again: a
  // registry with immutable tags refuses even a PUT of the same bytes, and the children it names
  // are there. What each tag points at was asked once, by a HEAD per tag, with the unchanged check
  // (or, for --format's new manifest, before it was compared): this costs no request.
  const heldTags = async (t: TransferTarget): Promise<string[]> => {
    const digests = await heldAt(t);
    return (opts.tags ?? t.tags).filter((_, i) => digests[i] === graph.top.digest);
  };
  await set.plan(source, graph.blobs);
  if (opts.dryRun) {
    for (const t of set.live) t.blobs.push(...set.plannedReports(t, graph.blobs));
    set.landAsPlanned();
    await set.each(async (t) => {
      const held = await heldTags(t);
      if (held.length) tagsHeld.set(t, held);
    });
    return;
  }
  await set.transfer(source, graph.blobs);
  await set.each(async (t) => {
    const { unchanged } = await set.commitManifests(t, graph.top, graph.children, new Set(await heldTags(t)), opts.tags ?? t.tags);
    if (unchanged.length) tagsHeld.set(t, unchanged);
  });
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
 * warning. What stays behind, for these reasons or for a bound, is counted in the outcome
 * (`referrersSkipped`).
 */
async function copyReferrers(set: TargetSet, source: RepoEndpoint, outcome: ImageCopyOutcome, opts: ImageCopyOptions): Promise<void> {
  const roots = [outcome.sourceDigest, ...(await copiedChildren(source, outcome, opts))];
  const moved = movedDigests(outcome);
  const alike = (kind: AlikeWarning, msg: string): void => (opts.warnAlike ? opts.warnAlike(kind, msg) : opts.warn?.(msg));
  let left = 0;
  const find = async (subjects: string[]) => {
    const found = await findReferrers(source, subjects, set.ctx.repos, opts.pulls);
    // Only the first level's subjects can have moved (the image and its children).
    const stay = found.filter((f) => moved.has(f.subject)).length;
    if (stay > 0) alike('moved', leftBehind(stay, found.length - stay, opts));
    left += stay;
    return found.filter((f) => !moved.has(f.subject));
  };
  // Each copy's number in the walk's order (walkReferrers starts them in that order), the blobs its
  // graph names, and this level's referrers by digest still to list in the fallback indexes.
  let started = 0;
  const blobsOf: string[][] = [];
  const toList: { n: number; subject: string; referrer: ListedReferrer }[] = [];
  const copyOne = async ({ subject, referrer: r }: FoundReferrer): Promise<string[]> => {
    const n = started++;
    const ref = r.kind === 'digest' ? r.digest : r.tag;
    // --no-clobber holds for a referrer's tag too (cosign's .sig, .att): where it points at
    // another manifest (a signature made at the target), that target keeps it (keepTheirs).
    const kept = new Set<TransferTarget>();
    const keep = opts.noClobber && r.kind === 'tag' ? keepTheirs(kept, outcome, opts) : undefined;
    const into = set.live;
    // A referrer found by the API is stored by digest (found through its subject); one found by tag keeps its tag.
    let copied: ImageCopyOutcome;
    try {
      copied = await copyImage(set, source, ref, { dryRun: opts.dryRun, tags: r.kind === 'tag' ? [r.tag] : [], pulls: opts.pulls, keep, headUntilKnown: opts.headUntilKnown, names: opts.names });
    } catch (err) {
      // Listed and gone (a stale fallback index, a referrers API slow to forget a deleted
      // manifest, a tag deleted since the list was read): the image and its other referrers
      // are there; this one is left behind with a warning, not the whole image failed for it.
      if (!(await goneAtSource(err, source, ref))) throw err;
      opts.warn?.(`referrer ${ref} of ${source.client.registry}/${source.repo}@${subject} is listed but not in the repository (a stale listing): not copied`);
      count(outcome.referrersSkipped, into, 1);
      return [];
    }
    blobsOf[n] = copied.graph?.blobs.map((b) => b.digest) ?? [];
    // Kept everywhere: what refers to the source's manifest would name one no target has.
    const copiedTo = into.filter((t) => !kept.has(t));
    if (copiedTo.length === 0) return [];
    // Listed whether copied now or held already: an earlier run may have written it and not its
    // subject's fallback index (interrupted in between); where the index lists it, nothing is written.
    if (r.kind === 'digest' && !opts.dryRun) toList.push({ n, subject, referrer: { digest: r.digest, node: copied.graph?.top ?? copied.top } });
    // Counted where it was written (or, in a dry run, would be): a target that already held it
    // (an unchanged re-run) copied nothing, and an hourly sync must not report a new signature.
    count(outcome.referrers, copiedTo.filter((t) => !copied.unchanged.has(t)), 1);
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
    const bySubject = new Map<string, ListedReferrer[]>();
    for (const { subject, referrer } of level) bySubject.set(subject, [...(bySubject.get(subject) ?? []), referrer]);
    if (bySubject.size === 0) return;
    await set.each(async (t) => {
      await Promise.all([...bySubject].map(([subject, referrers]) => listInFallbackIndex(t.ep, subject, referrers, set.ctx)));
    });
  };
  const reported = new Map(set.list.map((t) => [t, t.blobs.length]));
  try {
    const walk = await walkReferrers([...new Set(roots)], find, copyOne, REFERRER_BOUNDS, { parallel: REFERRER_COPIES, done: listLevel });
    if (walk.beyondDepth || walk.beyondTotal) alike('bound', cutOff(walk, source, outcome.sourceDigest));
    count(outcome.referrersSkipped, set.live, left + walk.beyondDepth + walk.beyondTotal);
  } finally {
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
function keepTheirs(kept: Set<TransferTarget>, outcome: ImageCopyOutcome, opts: ImageCopyOptions): NonNullable<ImageCopyOptions['keep']> {
  return (t, tag, digest) => {
    opts.warn?.(`${t.ref.registry}/${t.ref.repository}:${tag} already points at ${digest} (${opts.names.name('noClobber')}): kept, the source's not copied there`);
    outcome.referrersSkipped.set(t, (outcome.referrersSkipped.get(t) ?? 0) + 1);
    kept.add(t);
  };
}

/** The targets of `need` whose tags point at no other manifest than `digest`; each other one is told to `keep` (ImageCopyOptions.keep). */
async function keptApart(need: TargetSet, digest: string, tags: readonly string[] | undefined, heldAt: (t: TransferTarget) => Promise<(string | undefined)[]>, keep: NonNullable<ImageCopyOptions['keep']>): Promise<TargetSet> {
  const theirs = await Promise.all(
    need.live.map(async (t) => {
      const digests = await heldAt(t);
      const i = digests.findIndex((d) => d !== undefined && d !== digest);
      if (i >= 0) keep(t, (tags ?? t.tags)[i]!, digests[i]!);
      return i < 0;
    }),
  );
  return need.subset(need.live.filter((_, k) => theirs[k]));
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
