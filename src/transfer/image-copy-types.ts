/**
 * The types of an image copy (image-copy.ts): its options and outcome, and the shape of copyImage
 * itself. Apart from both modules that use them, so that the referrers phase (referrers.ts), which
 * copies each referrer as an image, and copyImage, which runs that phase, need not import each other:
 * copyImage hands itself to copyReferrers (`CopyImage`).
 */
import type { FetchedManifest } from '../registry/registry-client.js';
import type { CopyGraph, GraphOptions, ManifestNode } from './graph.js';
import type { TargetSet, TransferTarget } from './target-set.js';
import type { RepoEndpoint } from './types.js';
import type { SkippedReferrer } from './referrer-report.js';

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
   * A referrer's copy (copyReferrers): a target's refusal of the manifest PUT is handed to it;
   * when it answers true, that target is not set aside (the image it refers to is written there),
   * nothing more of this image is written there, and the caller says so (refusedReferrer). What
   * it throws is that target's failure in place of `err` (reworded for a referrer's copy).
   */
  refused?: (t: TransferTarget, err: unknown) => boolean;
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
   * a bound of the walk left (cutOff); `refused`, a referrer whose manifest a target refused
   * (refusedReferrer), `about` naming that target's registry (ECR refuses the same kind of
   * referrer for every image); `stale`, a referrer listed and gone from the source, and
   * `artifact-manifest`, one stored as an OCI 1.1-rc artifact manifest, `about` naming the
   * source's registry (its listings lag, or it stored every image's signatures so, alike). sync and copy --all-tags say each kind (and `about`) once per run
   * (an entry's `platforms` gives every image of it the same line). Without it they go to `warn`,
   * as a single copy's do (one image).
   */
  warnAlike?: (kind: AlikeWarning, msg: string, about?: string) => void;
}

/** The kinds of ImageCopyOptions.warnAlike. */
export type AlikeWarning = 'moved' | 'bound' | 'refused' | 'stale' | 'artifact-manifest';

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
  /**
   * Referrers found and not copied, per target, each with why (the reports' `skippedReferrers`; their count, `referrersSkipped`):
   * those naming a digest the copy changed, those past a bound of the walk, those listed and not in the source repository, those
   * stored as an OCI 1.1-rc artifact manifest, those whose manifest the target refused (and what refers to them), and with
   * noClobber those whose tag the target holds for another manifest.
   */
  referrersSkipped: Map<TransferTarget, SkippedReferrer[]>;
}

/** An outcome with nothing resolved yet: what copyImage fills. */
export function newImageCopyOutcome(): ImageCopyOutcome {
  return { sourceDigest: '', digest: '', mediaType: '', unchanged: new Set(), tagsHeld: new Map(), referrers: new Map(), referrersSkipped: new Map() };
}

/**
 * The referrers at `t` as the reports (copy's, sync's) state them: copied, left behind, and which
 * (`skippedReferrers`, only where any): what `outcome` had counted, all 0 without one.
 */
export function referrersAt(
  outcome: ImageCopyOutcome | undefined,
  t: TransferTarget,
): { referrers: number; referrersSkipped: number; skippedReferrers?: SkippedReferrer[] } {
  const skipped = outcome?.referrersSkipped.get(t) ?? [];
  return { referrers: outcome?.referrers.get(t) ?? 0, referrersSkipped: skipped.length, ...(skipped.length ? { skippedReferrers: [...skipped] } : {}) };
}

/** copyImage's shape: copies the image `ref` of `source` to every live target of `set`. */
export type CopyImage = (set: TargetSet, source: RepoEndpoint, ref: string, opts: ImageCopyOptions) => Promise<ImageCopyOutcome>;
