/**
 * sync()'s options, events and result, the sync file as parseSyncFile gives it, and the shard a
 * process takes, as the library exposes them: types only, so the published declarations reach
 * these and not the code of sync.ts, rate-gate.ts, config.ts, target.ts and shard.ts.
 */
import type { ErrorCode } from '../errors.js';
import type { HttpStats } from '../http/stats-report.js';
import type { Logger } from '../log.js';
import type { ImageReference } from '../ref/reference.js';
import type { ConnectionOptions } from '../registry/connection-options.js';
import type { BlobEvents } from '../transfer/blob-report.js';
import type { SkippedReferrer } from '../transfer/referrer-report.js';

// sync(): its options, events and result

/** What the gate tells of its waits (part of SyncEvents). */
export interface GateEvents {
  /** The rate-limit gate holds new units back, or the next manifest reads of units under way. */
  waiting?: ((registry: string, remaining: number, min: number) => void) | undefined;
}

/** sync()'s options that the gate reads (SyncOptions extends them); checked by checkGateOptions. */
export interface GateOptions {
  /**
   * Keep this many of the source's ratelimit-remaining: a unit's manifest GETs (the first one, and each after it) wait while the
   * count, less the pulls under way, would go below it; HEADs never wait.
   */
  minRateLimit?: number | undefined;
  /** How long the gate may hold (ms, default 0: stop at once). */
  maxWaitMs?: number | undefined;
  /** Between the gate's checks (ms, default 30 000). */
  rateLimitPollMs?: number | undefined;
  events?: GateEvents | undefined;
}

/** Progress of a sync, for the CLI's display. */
export interface SyncEvents extends BlobEvents, GateEvents {
  /**
   * A unit's turn (`index` of `total`, from 1, the units of this shard's plan: each counted once, in the
   * order they are told): it starts; or, for a unit that failed without starting (its entry's tags
   * could not be listed, or it would write a target tag another entry writes), it is told before
   * any unit starts, its unitEnd right after.
   */
  unitStart?: ((source: string, index: number, total: number) => void) | undefined;
  /**
   * A unit is done, after its unitStart. (Units not started because the sync was interrupted are
   * not told one by one: they are in the report.)
   */
  unitEnd?: ((result: SyncUnitReport) => void) | undefined;
}

/** Options of sync(); the pull-limit gate's (minRateLimit, maxWaitMs, rateLimitPollMs) are GateOptions. */
export interface SyncOptions extends ConnectionOptions, GateOptions {
  /**
   * The checked sync file: what parseSyncFile returns (or an object of its shape, e.g. a subset of
   * its images). The file's content as written is refused (E_USAGE): parseSyncFile(JSON.stringify(content), 'sync.json') reads it.
   */
  spec: SyncSpec;
  /** Take only this share of the images. */
  shard?: Shard | undefined;
  /**
   * Units (one source reference each) in flight at once (default 4; a unit whose manifest reads the pull-limit gate holds lends
   * its slot meanwhile and takes one back when let go, even above this).
   */
  images?: number | undefined;
  /** Blob transfers per unit (default 4). */
  jobs?: number | undefined;
  /** HEADs and plans only; nothing written. */
  dryRun?: boolean | undefined;
  logger?: Logger | undefined;
  events?: SyncEvents | undefined;
  retries?: number | undefined;
}

/** What happened to one unit at one target (SyncUnitReport.targets). */
export interface SyncTargetReport {
  target: string;
  /** copied: written; skipped: already held the source digest under the tag; planned: dry run; failed. */
  action: 'copied' | 'skipped' | 'planned' | 'failed';
  /** action is not 'failed': the same test as push's and copy's target reports carry. */
  ok: boolean;
  error?: { code: ErrorCode; message: string };
  /**
   * The manifest digest the target's tag points at now (copied, skipped), or would (planned): the
   * source's, or with `platforms` the new index's. '' when failed (`ok` false), as a failed
   * target's `digest` is in push's and copy's reports: always a string, never absent, so the
   * three reports read alike (test `ok`, or `digest !== ''`, before using it).
   */
  digest: string;
  /** Blobs mounted (from the source repository or from a repository this run landed them in). */
  mounted: number;
  /** Blobs streamed from the source, and their bytes. */
  streamed: number;
  bytes: number;
  /** Referrers copied (the entry's `referrers: true`), referrers of referrers included, those the target held already not counted; as copy's report counts them. */
  referrers: number;
  /**
   * Referrers found and not copied: those naming the index `platforms` made anew, those past a bound of the walk, those listed
   * and gone from the source, those stored as an OCI 1.1-rc artifact manifest, and those whose manifest this target refused
   * (and what refers to them) (a warning says which).
   */
  referrersSkipped: number;
  /** The referrers counted in `referrersSkipped`, each with why (in the walk's order); absent when none. */
  skippedReferrers?: SkippedReferrer[];
  /**
   * Dry run only: the plan could not check that the credentials may write to this target, and why
   * (a registry taking Basic credentials or none, a token that does not list its rights); absent
   * where it did (a target they may not write to fails, `E_DENIED`), or where nothing is to be written.
   */
  writeNotChecked?: string;
}

/** What happened to one unit: one source reference and its targets (SyncResult.units). */
export interface SyncUnitReport {
  /** The file entry it comes from (`images[2] (ghcr.io/acme/app)`). */
  entry: string;
  /** The source reference copied (`ghcr.io/acme/app:v2.1.0` or `…@sha256:…`). */
  source: string;
  /** The digest it resolved to ('' when it could not be read). */
  sourceDigest: string;
  ok: boolean;
  /** Why the unit failed before reaching its targets (tag list or source manifest). */
  error?: { code: ErrorCode; message: string };
  targets: SyncTargetReport[];
  /** Bytes read from the source for this unit (each blob once, whatever the number of targets). */
  bytesRead: number;
}

/** @deprecated The same type under its former name: use SyncTargetReport. */
export type SyncTargetResult = SyncTargetReport;

/** @deprecated The same type under its former name: use SyncUnitReport. */
export type SyncUnitResult = SyncUnitReport;

/** What sync() did. */
export interface SyncResult {
  file: string;
  shard?: Shard;
  dryRun: boolean;
  units: SyncUnitReport[];
  /**
   * The entries whose tag filter (`all`, or regex / semver / newest) kept none of the tags their
   * source listed: nothing was copied for them, and the sync did not fail for it (a rule for
   * release candidates between releases matches nothing, legitimately). Absent when none.
   * `listed`: the tags the filter chose from (0: the repository has no tags).
   */
  noMatch?: { entry: string; source: string; listed: number }[];
  totals: {
    /** Entries of the file in this shard (an entry with `shard: 'tag'` is in every shard; its units are shared out). */
    entries: number;
    units: number;
    /** Per target: written, already up to date, planned, failed. */
    copied: number;
    skipped: number;
    planned: number;
    failed: number;
    bytesRead: number;
    mounted: number;
    streamed: number;
    /** Per target, summed: referrers copied and left behind. */
    referrers: number;
    referrersSkipped: number;
  };
  timings: Record<string, number>;
  http: HttpStats;
}

// The sync file as parseSyncFile gives it, and the shard as parseShard does

/** Which tags of a source repository to copy. */
export type TagRule =
  /** Exactly these tags, in this order; the source is not listed, a missing tag fails at the source. */
  | { kind: 'list'; tags: readonly string[] }
  /** Every tag the source lists. */
  | { kind: 'all' }
  /** The listed tags that pass every filter given (see selectTags). */
  | TagFilter;

/** `tags: {regex, semver, newest, prerelease}`: at least one of regex, semver, newest is set. */
export interface TagFilter {
  kind: 'filter';
  /** JavaScript regular expression source, unanchored (use ^ and $ to anchor). */
  regex?: string | undefined;
  /** A node-semver range such as ">=2.0.0 <3.0.0". */
  semver?: string | undefined;
  /** Keep only the N highest versions that pass the other filters. */
  newest?: number | undefined;
  /** Whether semver pre-release tags (1.2.3-rc.1, also 1.2.3-alpine) take part in semver and newest. */
  prerelease: boolean;
}

/** One entry of `images`, normalised: defaults applied, every value checked. */
export interface SyncImage {
  /** Position in the file's `images` list, from 0. */
  index: number;
  /** `images[3] (ghcr.io/acme/app)`: how messages and reports name the entry. */
  label: string;
  /** Canonical source repository (`docker.io/library/nginx`): the shard key (see inShard). */
  key: string;
  /** Source registry and repository; `digest` set for a pinned source; `tag` never set. */
  source: ImageReference;
  /** Which tags to copy; undefined exactly when the source is pinned by digest. */
  tags?: TagRule | undefined;
  /** For a pinned source written `repo:tag@sha256:…`: the tag its prefix targets get. */
  pinnedTag?: string | undefined;
  /** Where to write; never empty, no duplicates. */
  destinations: readonly SyncDestination[];
  /** "all" (every platform, digest kept) or canonical "os/arch[/variant]" strings. */
  platforms: 'all' | readonly string[];
  /** Also copy signatures, attestations and SBOMs that refer to each image. */
  referrers: boolean;
  /**
   * How `shard` shares the entry out: 'repository' (the default, also when absent) puts the whole
   * entry in the shard of `key`; 'tag' has every shard list it and select its tags, then copy the
   * units whose `<key>:<tag>` (a pinned source: `<key>@<digest>`) hashes to it, for one repository
   * of many tags. parseSyncFile sets it only for 'tag'.
   */
  shard?: 'repository' | 'tag' | undefined;
}

/** A checked sync file. */
export interface SyncSpec {
  /** The file name as given, for messages. */
  file: string;
  images: readonly SyncImage[];
}

/** Where an image is written: the target rule under a prefix, or one explicit reference. */
export type SyncDestination =
  /** `<registry>/<path>/<source repository>:<tag>` (path may be empty). */
  | { kind: 'prefix'; prefix: TargetPrefix }
  /**
   * The `target` key: this repository; with `ref.tag` set, exactly that tag (a rename or the tag
   * of a pinned digest), else each source tag keeps its name. `ref.digest` is never set.
   */
  | { kind: 'reference'; ref: ImageReference };

/** A target prefix: a registry host[:port], optionally followed by a repository path. */
export interface TargetPrefix {
  /** Canonical host[:port] as parseReference spells it (lower-case, Docker Hub is "docker.io"). */
  registry: string;
  /** Path under the registry, "" for a bare registry, never with a leading or trailing "/". */
  path: string;
}

/** One share of the work: shard `index` of `count` (0 ≤ index < count). */
export interface Shard {
  index: number;
  count: number;
}
