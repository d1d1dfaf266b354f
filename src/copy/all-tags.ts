/**
 * copy --all-tags: the source repository's tags, --images at a time, each with --jobs blob
 * transfers, the shape sync gives its images. Each tag goes through a TargetSet of its own over
 * the command's target repositories (run.targets), so tags in flight never share a plan; what
 * they do share is the run: its transport and tokens, and its record of landed blobs (the copy's
 * TransferRun has trackLanded 'same-repository'), so a blob two tags in flight both lack is
 * uploaded into a repository once: the later tag waits for that landing and skips the blob.
 *
 * What stays as it was when tags went one after the other:
 *   - a target that fails is set aside: no tag not yet started is copied there (tags already in
 *     flight there finish or fail on their own), and the other targets go on;
 *   - with one target, or when a tag fails for all of them (its source manifest cannot be read),
 *     the first failure is the copy's: no further tag starts and every request still running is
 *     cancelled (the caller's catch undoes what was started early);
 *   - the outcomes come back in the order of `refs` (sorted), whatever order the tags ended in.
 */
import pLimit from 'p-limit';
import { formatReference, type ImageReference } from '../ref/reference.js';
import type { TransferRun } from '../transfer/engine.js';
import type { TargetSet, TransferTarget } from '../transfer/target-set.js';
import { RegpushError } from '../errors.js';
import { NOT_APPLICABLE } from '../transfer/graph.js';
import type { BlobReport, RepoEndpoint } from '../transfer/types.js';
import { copyImage } from '../transfer/image-copy.js';
import { newImageCopyOutcome, type ImageCopyOptions, type ImageCopyOutcome } from '../transfer/image-copy-types.js';
import type { SkippedReferrer } from '../transfer/referrer-report.js';

/** What the copy's report takes from one tag at one of the command's targets (record(), copy.ts). */
export interface TagAtTarget {
  /** The tag failed there: it adds its blob reports and nothing else. */
  failed: boolean;
  /** Its blob reports, to add to the target's ([] where the tag's target is the command's own: a single image). */
  blobs: BlobReport[];
  /** The target held the image under every tag: nothing written. */
  unchanged: boolean;
  /** Otherwise, the tags that held it already and were not written again. */
  tagsHeld: string[];
  referrers: number;
  /** The referrers left behind there, each with why. */
  skippedReferrers: SkippedReferrer[];
}

/**
 * One tag copied, for the report: the digest written and, for each of the command's targets (not
 * set aside when the tag started), what it did there. The whole outcome (the manifest graph, the
 * manifests as read) is kept for the first tag copied only, whose digest, source and platforms
 * are the copy's own: kept for every tag, a copy of 2,000 tags held all their manifests to the end.
 */
export interface TagCopy {
  tag: string;
  digest: string;
  /** The whole outcome: the first tag copied (in the order of the tags) only. */
  outcome?: ImageCopyOutcome;
  at: Map<TransferTarget, TagAtTarget>;
}

/**
 * `outcome` reduced to what the report takes (see TagCopy); `at` maps each of the command's
 * targets to the tag's own target there (the same target for a single image).
 */
export function tagCopy(tag: string, outcome: ImageCopyOutcome, at: ReadonlyMap<TransferTarget, TransferTarget>): TagCopy {
  const reduced = new Map<TransferTarget, TagAtTarget>();
  for (const [t, own] of at) {
    reduced.set(t, {
      failed: own.failed !== undefined,
      blobs: own === t ? [] : own.blobs,
      unchanged: outcome.unchanged.has(own),
      tagsHeld: outcome.tagsHeld.get(own) ?? [],
      referrers: outcome.referrers.get(own) ?? 0,
      skippedReferrers: outcome.referrersSkipped.get(own) ?? [],
    });
  }
  return { tag, digest: outcome.digest, outcome, at: reduced };
}

/**
 * Copies each tag of `refs` from `source` to the live targets of `targets`, `images` at a time.
 * Resolves with one entry per tag copied, in the order of `refs` (a tag started after every
 * target was set aside has none, and so has a tag --platform or --format cannot apply to: left
 * out with a warning); rejects with the first failure that ends the copy. `firstRead`: filled as
 * the first tag of `refs` is copied (copyImage's outcome), so an interrupted copy can name the
 * source digest it read.
 */
export async function copyTags(
  run: TransferRun,
  targets: TargetSet,
  source: RepoEndpoint,
  sourceRef: ImageReference,
  refs: readonly string[],
  images: number,
  opts: ImageCopyOptions,
  firstRead?: ImageCopyOutcome,
): Promise<TagCopy[]> {
  const limit = pLimit(images);
  const copied: (TagCopy | undefined)[] = [];
  /** The index of the first tag copied so far, the one whose outcome is kept whole. */
  let first: number | undefined;
  let stopped: { err: unknown } | undefined;
  let firstLeftOut: RegpushError | undefined;
  await Promise.all(
    refs.map((tag, i) =>
      limit(async () => {
        if (stopped) return;
        try {
          const c = (copied[i] = await copyTag(run, targets, source, sourceRef, tag, opts, i === 0 ? firstRead : undefined));
          // Tags end in any order: an earlier tag's end takes the whole outcome over.
          if (c && (first === undefined || i < first)) {
            if (first !== undefined) delete copied[first]!.outcome;
            first = i;
          } else if (c) delete c.outcome;
        } catch (err) {
          // --platform or --format cannot apply to this tag (a cosign signature, an artifact, an
          // image of another platform): it is left out, said once, and the other tags go on.
          if (err instanceof RegpushError && err.details[NOT_APPLICABLE] === true && !stopped) {
            firstLeftOut ??= err;
            opts.warn?.(`${tag}: not copied: ${err.message}`);
            return;
          }
          // The first failure is the copy's: the tags in flight stop now (their aborts are
          // reported as this failure by run.failure) and no other tag starts.
          if (stopped) return;
          stopped = { err };
          run.stop(err);
        }
      }),
    ),
  );
  if (stopped) throw stopped.err;
  const done = copied.filter((c): c is TagCopy => c !== undefined);
  // Every tag left out (and none set aside): the copy did nothing, which is its first tag's error.
  if (done.length === 0 && firstLeftOut && targets.live.length) throw firstLeftOut;
  return done;
}

/**
 * Copies one tag through a set of its own; a target it sets aside is set aside for the copy, and
 * what the tag's commit left at each target (its tag written, found holding the image, or its PUT
 * cut off) is recorded on the copy's target too: an interrupted copy's report reads it there
 * (TargetSet.interruptedAt). `outcome`: filled as the tag is copied.
 */
async function copyTag(
  run: TransferRun,
  targets: TargetSet,
  source: RepoEndpoint,
  sourceRef: ImageReference,
  tag: string,
  opts: ImageCopyOptions,
  outcome: ImageCopyOutcome = newImageCopyOutcome(),
): Promise<TagCopy | undefined> {
  const live = targets.live;
  if (!live.length) return undefined;
  // failFast as the command's set has it: one target given means its first failure is the copy's,
  // even where an earlier failure left one of several live.
  // Its blob events name the tag's image (`host/repo:TAG`): --images tags move at once.
  const image = formatReference({ registry: sourceRef.registry, repository: sourceRef.repository, tag });
  const set = run.targets(live.map((t) => ({ ref: t.ref, tags: [tag] })), sourceRef, { failFast: targets.failFast, image });
  const at = new Map(live.map((t, k) => [t, set.list[k]!] as const));
  // What each repository is known to hold is shared by its tags: a blob one tag found or landed
  // there costs the next no HEAD, as when one set went through the tags one after the other.
  for (const [t, own] of at) own.present = t.present;
  try {
    // headUntilKnown: --images tags start together, before any answer could tell whether the
    // source registry counts pulls (as sync's images do): HEAD first until it has answered.
    await copyImage(set, source, tag, { ...opts, tags: [tag], headUntilKnown: true }, outcome);
    return tagCopy(tag, outcome, at);
  } finally {
    for (const [t, own] of at) {
      if (own.failed) t.failed ??= own.failed;
      // A dry run's "write permission not checked" is said of the target, whichever tag found it.
      if (own.writeNotChecked !== undefined) t.writeNotChecked ??= own.writeNotChecked;
      recordCommit(t, own, outcome.unchanged.has(own) ? [tag] : []);
    }
    set.finish();
  }
}

/**
 * Adds what one tag's commit left at `own` (its set's target) to the copy's target `t`: the tags
 * written, those found holding the image (`held`: the no-op check's, which commits nothing), and
 * the PUTs cut off. The digest is the first one recorded, as the report's is the first tag's.
 */
function recordCommit(t: TransferTarget, own: TransferTarget, held: readonly string[]): void {
  if (own === t) return;
  const unchanged = [...held, ...(own.tagsUnchanged ?? [])];
  if (own.tagsWritten?.length) (t.tagsWritten ??= []).push(...own.tagsWritten);
  if (unchanged.length) (t.tagsUnchanged ??= []).push(...unchanged);
  if (own.tagsCut?.length) (t.tagsCut ??= []).push(...own.tagsCut);
  if (own.tagsWritten?.length || own.tagsUnchanged?.length) t.digestWritten ??= own.digestWritten;
}
