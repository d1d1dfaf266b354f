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
import { isSubsetOf } from '../image/subset.js';
import type { Platform } from '../image/types.js';
import type { TargetSet, TransferTarget } from './target-set.js';
import type { FetchedManifest, ManifestHead } from '../registry/registry-client.js';
import type { RepoEndpoint } from './types.js';
import { notThePlatform, readGraph, type CopyGraph, type ManifestNode } from './graph.js';
import { copyReferrers } from './referrers.js';
import { newImageCopyOutcome, type AlikeWarning, type ImageCopyOptions, type ImageCopyOutcome } from './image-copy-types.js';

/**
 * What the first warning of an alike kind adds in a run of many (TransferRun.warnOnce): that the
 * later ones (`noun`: images of a sync, tags of copy --all-tags) are not warned of again.
 */
function laterAlike(kind: AlikeWarning, noun: 'image' | 'tag'): string {
  const why: Record<AlikeWarning, string> = {
    moved: 'whose referrers stay behind for this reason',
    bound: 'whose referrer walk stops at a bound',
    refused: 'with referrers this registry refuses',
    stale: 'with referrers listed and gone at this registry',
    'artifact-manifest': 'with OCI artifact manifests as referrers at this registry',
  };
  return `later ${noun}s ${why[kind]} are not warned of again: each ${noun}'s result counts its referrers left behind, and --json names them`;
}

/**
 * ImageCopyOptions.warnAlike for a run of many (`noun`: images of a sync, tags of copy --all-tags):
 * each kind said once per run through `run` (TransferRun.warnOnce) — a refusal once per target
 * registry, a stale listing or an artifact manifest once per source registry (`about`), as another
 * registry's is news —, each line given `label` (sync's image name).
 */
export function warnAlikeOnce(run: { warnOnce(kind: string, line: string, later: string): void }, noun: 'image' | 'tag', label = ''): NonNullable<ImageCopyOptions['warnAlike']> {
  return (kind, msg, about) => run.warnOnce(about ? `${kind} ${about}` : kind, `${label}${msg}`, laterAlike(kind, noun));
}

/**
 * Copies the image `ref` of `source` to every live target of `set` (tags: each target's own),
 * filling `outcome` as it goes: the caller of an interrupted copy reads there what was resolved.
 */
export async function copyImage(set: TargetSet, source: RepoEndpoint, ref: string, opts: ImageCopyOptions, outcome = newImageCopyOutcome()): Promise<ImageCopyOutcome> {
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
  // The referrers phase copies each referrer as an image: it is handed copyImage (referrers.ts does not import this module).
  if (opts.referrers && outcome.sourceDigest) await copyReferrers(set, source, outcome, opts, copyImage);
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
async function subsetHeld(
  t: TransferTarget,
  tags: readonly string[],
  source: string,
  sourceType: string,
  platforms: readonly Platform[],
  held: Promise<(ManifestHead | undefined)[]> | undefined,
): Promise<FetchedManifest | undefined> {
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
async function refuseClobber(
  set: TargetSet,
  ours: readonly string[],
  tags: readonly string[] | undefined,
  heldAt: (t: TransferTarget) => Promise<(string | undefined)[]>,
  noClobber: string,
): Promise<void> {
  await set.each(async (t) => {
    // The tags this image is written under: with --all-tags, the one being copied, not the target's own.
    const names = tags ?? t.tags;
    const digests = await heldAt(t);
    const i = digests.findIndex((d) => d !== undefined && !ours.includes(d));
    if (i >= 0) throw new ExistsError(`${t.ref.registry}/${t.ref.repository}:${names[i]} already points at ${digests[i]} (${noClobber})`);
  });
}

/**
 * Blobs, then manifests (children first); in a dry run, the plan only, with each target's write
 * permission checked where its token tells it (TargetSet.checkWrites), which says as the copy's
 * report would which tags already hold the image (`tagsHeld`).
 */
async function copyGraph(
  set: TargetSet,
  source: RepoEndpoint,
  graph: CopyGraph,
  opts: ImageCopyOptions,
  heldAt: (t: TransferTarget) => Promise<(string | undefined)[]>,
  tagsHeld: Map<TransferTarget, string[]>,
): Promise<void> {
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
    // What the writes would meet where the credentials may only read: after the plan's HEADs, whose
    // token says what it grants (a target that cannot be planned has failed by then).
    await set.checkWrites();
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
    try {
      const { unchanged } = await set.commitManifests(t, graph.top, graph.children, new Set(await heldTags(t)), opts.tags ?? t.tags);
      if (unchanged.length) tagsHeld.set(t, unchanged);
    } catch (err) {
      if (!opts.refused?.(t, err)) throw err;
    }
  });
}

/** The targets of `need` whose tags point at no other manifest than `digest`; each other one is told to `keep` (ImageCopyOptions.keep). */
async function keptApart(
  need: TargetSet,
  digest: string,
  tags: readonly string[] | undefined,
  heldAt: (t: TransferTarget) => Promise<(string | undefined)[]>,
  keep: NonNullable<ImageCopyOptions['keep']>,
): Promise<TargetSet> {
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
