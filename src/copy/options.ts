/**
 * copy()'s options and result, as the library exposes them: types only, so the published
 * declarations reach these and not copy.ts's code.
 */
import type { ErrorCode } from '../errors.js';
import type { HttpStats } from '../http/stats-report.js';
import type { Logger } from '../log.js';
import type { ConnectionOptions } from '../registry/connection-options.js';
import type { BlobEvents, BlobReport } from '../transfer/blob-report.js';
import type { SkippedReferrer } from '../transfer/referrer-report.js';

/** Options of copy(). */
export interface CopyOptions extends ConnectionOptions {
  /** Source reference (tag or digest); with allTags, a repository. */
  from: string;
  /** One or more targets; with allTags, repositories. */
  to: readonly string[];
  /** Extra tags written at every target. */
  tags?: readonly string[] | undefined;
  /** "all" (default: keep the index and its digest) or a comma list of os/arch[/variant] for a new index. */
  platform?: string | undefined;
  /** Convert manifests and indexes to "oci" or "docker" media types (new digests, the same blobs). */
  format?: 'oci' | 'docker' | undefined;
  /** Also copy signatures, attestations and SBOMs that refer to the image. */
  referrers?: boolean | undefined;
  /** Copy every tag of the source repository. */
  allTags?: boolean | undefined;
  /** With allTags: tags copied at once, each with `jobs` blob transfers (default 4, at most 64; sync's --images). */
  images?: number | undefined;
  /** Refuse to move a target tag that points at another digest. */
  noClobber?: boolean | undefined;
  /** Resolve and HEAD each blob at each target, report the plan; write nothing. */
  dryRun?: boolean | undefined;
  /** Parallel blob transfers (default 4, at most 64). */
  jobs?: number | undefined;
  logger?: Logger | undefined;
  events?: BlobEvents | undefined;
  retries?: number | undefined;
}

/** What happened at one target (CopyResult.targets). */
export interface CopyTargetReport {
  /** "<target repo>@<digest>" when it succeeded. */
  reference: string;
  target: string;
  digest: string;
  tags: string[];
  /** Tags that already pointed at the image, so were not written again (in a dry run: would not be; the other tags would be written). */
  tagsUnchanged?: string[];
  ok: boolean;
  error?: { code: ErrorCode; message: string };
  blobs: BlobReport[];
  /** Referrers copied (--referrers), referrers of referrers included: written by this run (or, dry, to be); one the target held already does not count. */
  referrers: number;
  /**
   * Referrers found and not copied: those naming a digest --format or --platform changed, those past a bound of the walk, those
   * listed and gone from the source (a stale listing), those stored as an OCI 1.1-rc artifact manifest, those whose manifest this
   * target refused (and what refers to them), and with --no-clobber those whose tag the target holds for another manifest (kept;
   * a warning says which).
   */
  referrersSkipped: number;
  /** The referrers counted in `referrersSkipped`, each with why (in the walk's order; with allTags, tag after tag); absent when none. */
  skippedReferrers?: SkippedReferrer[];
  /**
   * Dry run only: the plan could not check that the credentials may write to this target, and why
   * (a registry taking Basic credentials or none, a token that does not list its rights); absent
   * where it did (a target they may not write to fails, `E_DENIED`), or where nothing is to be written.
   */
  writeNotChecked?: string;
}

/** @deprecated The same type under its former name: use CopyTargetReport. */
export type CopyTargetResult = CopyTargetReport;

/** What copy() did. */
export interface CopyResult {
  /** `mirror`: the registry mirror the source reference was resolved through (absent: the registry itself). */
  source: { reference: string; digest: string; mirror?: string };
  digest: string;
  mediaType: string;
  /** True when --platform made a new index or --format converted a manifest, so the digest differs from the source's. */
  digestChanged: boolean;
  targets: CopyTargetReport[];
  /** For an index: each child's platform and digest (the same at every target), whether it was written or every target held it. */
  platforms?: { platform: string; digest: string; mediaType: string }[];
  /** True when nothing was written (blob actions are `planned-*` or `skipped`). */
  dryRun: boolean;
  timings: Record<string, number>;
  /** Requests, retries and registry rate-limit headers (Docker Hub's `ratelimit-remaining`) seen. */
  http?: HttpStats;
}
