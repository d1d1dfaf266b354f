/**
 * sync()'s report: per unit (one source reference and its targets) what was done at each target,
 * the totals, the timings and the HTTP counts; and the failure lines it holds, each with the error
 * it stands for, from which sync() makes the error it ends with (one image's own, one shared by
 * every image, or E_PARTIAL naming the first few).
 */
import { asRegpushError, errorForCode, RegpushError, type ErrorCode, type ErrorDetails } from '../errors.js';
import type { OptionNames } from '../option-names.js';
import { formatReference, repositoryName, type ImageReference } from '../ref/reference.js';
import type { TransferRun } from '../transfer/engine.js';
import { referrersAt, type ImageCopyOutcome } from '../transfer/image-copy-types.js';
import { TargetSet, type TransferTarget } from '../transfer/target-set.js';
import type { SyncImage, SyncOptions, SyncResult, SyncTargetReport, SyncUnitReport } from './options.js';
import { byEntryThenSource } from './report-order.js';

/** The report an error of this sync carries (E_PARTIAL, the gate's), if any. */
export function resultOf(err: unknown): SyncResult | undefined {
  return err instanceof RegpushError ? (err.details.result as SyncResult | undefined) : undefined;
}

/**
 * The one failure a failed unit stands for: its own (the source), or its targets' when every one
 * failed (the first's, as copy reports it); none when some targets succeeded (a partial failure).
 */
export function ownFailure(u: SyncUnitReport): FailureLine | undefined {
  if (u.error) return u.error;
  return u.targets.length > 0 && u.targets.every((t) => t.action === 'failed') ? u.targets[0]!.error : undefined;
}

/** The failure every unit stands for when all of them failed with one code; none otherwise. */
export function sameFailure(failed: readonly SyncUnitReport[]): FailureLine | undefined {
  const own = failed.map(ownFailure);
  const first = own[0];
  return first && own.every((f) => f?.code === first.code) ? first : undefined;
}

/**
 * What the E_PARTIAL line adds where some failed images are in place at their other targets: an
 * image fails when any of its targets does, so with one of two target registries down "24 of 25
 * images failed" alone would read as if almost nothing had been copied.
 */
export function elsewhereHeld(failed: readonly SyncUnitReport[]): string {
  const held = failed.filter((u) => !u.error && u.targets.some((t) => t.ok)).length;
  if (held === 0) return '';
  return held === failed.length ? ' (at some of their targets only; their other targets hold them)' : ` (${held} of them at some of their targets only; their other targets hold them)`;
}

/** Images named in the error line: a sync of thousands that fails must still end in one readable line (the report has every one). */
const FAILED_NAMED = 5;

/**
 * `names`: where the caller finds the report (the error's details.result, the CLI's --json).
 * `said`: the code the line has named already (`all 12 images failed with E_AUTH: …`).
 */
export function failedList(failed: readonly SyncUnitReport[], names: OptionNames, said?: string): string {
  // Images that failed for one reason (a target registry down or refusing the password gives
  // each the same code and message) are named together and the reason said once: five times
  // over, each a few hundred characters, it made a CI log's last line unreadable.
  const groups = new Map<string, { why: string; units: SyncUnitReport[] }>();
  failed.forEach((u, i) => {
    const c = cause(u);
    const key = c ? `${c.code} ${c.message}` : `#${i}`;
    const g = groups.get(key) ?? { why: c ? `${c.code === said ? '' : `${c.code}: `}${c.message}` : '', units: [] };
    g.units.push(u);
    groups.set(key, g);
  });
  const parts: string[] = [];
  let named = 0;
  for (const g of groups.values()) {
    if (named === FAILED_NAMED) break;
    const shown = g.units.slice(0, FAILED_NAMED - named);
    named += shown.length;
    parts.push(g.units.length === 1 ? `${g.units[0]!.source} (${failureLine(g.units[0]!)})` : `${shown.map((u) => u.source).join(', ')} (each with ${g.why})`);
  }
  const more = failed.length - named;
  return parts.join('; ') + (more > 0 ? `; and ${more} more (each in the report: ${names.name('details.result')})` : '');
}

/** Why the image failed: its own error, else its failed targets' one error (none where they differ). */
function cause(u: SyncUnitReport): FailureLine | undefined {
  if (u.error) return u.error;
  const errors = u.targets.flatMap((t) => (t.error ? [t.error] : []));
  const first = errors[0];
  return first && errors.every((e) => e.code === first.code && e.message === first.message) ? first : undefined;
}

function failureLine(u: SyncUnitReport): string {
  if (u.error) return `${u.error.code}: ${u.error.message}`;
  const t = u.targets.find((x) => x.error);
  return t?.error ? `${t.target}: ${t.error.code}: ${t.error.message}` : 'failed';
}

/** An entry whose tags could not be listed, as one failed unit. */
export function entryFailed(image: SyncImage, error: FailureLine): SyncUnitReport {
  return { entry: image.label, source: repositoryName(image.source), sourceDigest: '', ok: false, error, targets: [], bytesRead: 0 };
}

/** A failure as the report shows it. */
export type FailureLine = { code: ErrorCode; message: string };

/**
 * The failure lines of one sync's report, each with the error it stands for: a file of one image
 * fails with that error's class and details, as `regpush copy` of the image would.
 */
export class FailureLines {
  private readonly errors = new WeakMap<FailureLine, RegpushError>();

  /** `e` as a report line; `message`, when given, says more than e's own. */
  of(e: RegpushError, message = e.message): FailureLine {
    const line = { code: e.code, message };
    this.errors.set(line, e);
    return line;
  }

  /** The error `line` stands for, of its code's class, with its details and `more` (the report). */
  error(line: FailureLine, more: ErrorDetails, message = line.message): RegpushError {
    const e = this.errors.get(line);
    return errorForCode(line.code, message, { details: { ...e?.details, ...more }, cause: e?.cause });
  }
}

/** The counts of a target nothing was done at (and no digest: nothing written there). */
const NOTHING_MOVED = { digest: '', mounted: 0, streamed: 0, bytes: 0, referrers: 0, referrersSkipped: 0 } as const;

/**
 * The error line of a unit's target, the one place that decides it; undefined for a target that
 * did not fail. A target that failed on its own (the set went on without it) says its own
 * failure, naming the upload sessions left at that target only (run.targetFailure), whether or
 * not the unit failed too; any other target of a unit that failed (`unitFailure`: copyImage threw)
 * says the unit's failure.
 */
export function targetError(t: TransferTarget, run: TransferRun, lines: FailureLines, unitFailure?: RegpushError): FailureLine | undefined {
  if (t.failed) return lines.of(asRegpushError(run.targetFailure(t)));
  return unitFailure && lines.of(unitFailure);
}

/**
 * What happened at `t`, failed when `error` (targetError) is given; without `outcome` (the unit
 * failed before copyImage answered) nothing counts as unchanged or copied by referrers.
 */
export function targetResult(t: TransferTarget, error: FailureLine | undefined, dryRun: boolean, outcome?: ImageCopyOutcome): SyncTargetReport {
  // A dry run counts what it planned, and the bytes a stream would move (it moved none).
  const moved = (a: 'mounted' | 'streamed') => t.blobs.filter((b) => b.action === (dryRun ? `planned-${a === 'mounted' ? 'mount' : 'stream'}` : a));
  const streamed = moved('streamed');
  const r: SyncTargetReport = {
    target: formatReference(t.ref),
    action: error ? 'failed' : outcome?.unchanged.has(t) ? 'skipped' : dryRun ? 'planned' : 'copied',
    ok: !error,
    // One digest for every target of the unit: each tag holds, or now gets, what copyImage wrote (copy's report does the same).
    digest: error ? '' : (outcome?.digest ?? ''),
    mounted: moved('mounted').length,
    streamed: streamed.length,
    bytes: streamed.reduce((a, b) => a + (dryRun ? b.size : b.bytes), 0),
    ...referrersAt(outcome, t),
  };
  if (r.action === 'planned' && t.writeNotChecked) r.writeNotChecked = t.writeNotChecked;
  if (error) r.error = error;
  return r;
}

/**
 * A target of a unit the caller's interruption cut short (`unitFailure`: its E_ABORTED), as the
 * interruption left it, read from the target's record of manifest PUTs as copy's interrupted
 * report reads it (TargetSet.interruptedAt), with what copyImage had resolved by then (`outcome`,
 * filled as it went): `skipped`, where every tag held the image already (the no-op check found it
 * there, or the commit found its tags holding it: tagsUnchanged), as a finished sync says;
 * `copied`, with the digest written, where its tag was written before the signal and no PUT of it
 * was cut off, with the referrers copied there before it; otherwise failed, saying whether the tag
 * was written, its PUT cut off (which may have taken effect) or nothing was. Failed with every
 * other target said as before, the line gave a tag already in place as missing. A target that
 * failed on its own before the signal keeps its own failure; one named by digest alone (no tag to
 * go by) the unit's.
 */
export function interruptedTarget(t: TransferTarget, run: TransferRun, lines: FailureLines, unitFailure: RegpushError, outcome?: ImageCopyOutcome): SyncTargetReport {
  if (t.tags.length === 0 || (t.failed && t.failed.code !== 'E_ABORTED')) return targetResult(t, targetError(t, run, lines, unitFailure), false);
  const unchanged = outcome?.unchanged.has(t) ? t.tags : (t.tagsUnchanged ?? []);
  const at = TargetSet.interruptedAt(t, t.tags, unchanged);
  if (!at.ok) return targetResult(t, lines.of(unitFailure, at.error?.message ?? unitFailure.message), false);
  const r = targetResult(t, undefined, false, outcome);
  const held = at.written.length === 0;
  return { ...r, action: held ? 'skipped' : 'copied', digest: t.digestWritten ?? outcome?.digest ?? '' };
}

/** A target of a unit not attempted (a clash refused, an outage, the run interrupted): failed with the unit's `error`, nothing moved. */
export function targetNotAttempted(target: ImageReference, error: FailureLine): SyncTargetReport {
  return { target: formatReference(target), action: 'failed', ok: false, error, ...NOTHING_MOVED };
}

/** Bytes read from the source: each streamed blob once (the tee reads once for all targets); in a dry run, those a planned stream would read. */
export function bytesRead(targets: readonly TransferTarget[]): number {
  const read = new Map<string, number>();
  for (const t of targets) {
    for (const b of t.blobs) {
      if (b.action === 'streamed') read.set(b.digest, Math.max(read.get(b.digest) ?? 0, b.bytes));
      else if (b.action === 'planned-stream') read.set(b.digest, b.size);
    }
  }
  return [...read.values()].reduce((a, b) => a + b, 0);
}

export function report(opts: SyncOptions, entries: number, units: SyncUnitReport[], run: TransferRun, t0: number, noMatch: NonNullable<SyncResult['noMatch']> = []): SyncResult {
  const all = units.flatMap((u) => u.targets);
  const count = (a: SyncTargetReport['action']) => all.filter((t) => t.action === a).length;
  units.sort(byEntryThenSource);
  return {
    file: opts.spec.file,
    ...(opts.shard ? { shard: opts.shard } : {}),
    dryRun: !!opts.dryRun,
    units,
    ...(noMatch.length ? { noMatch } : {}),
    totals: {
      entries,
      units: units.length,
      copied: count('copied'),
      skipped: count('skipped'),
      planned: count('planned'),
      failed: count('failed') + units.filter((u) => u.targets.length === 0 && !u.ok).length,
      bytesRead: units.reduce((a, u) => a + u.bytesRead, 0),
      mounted: all.reduce((a, t) => a + t.mounted, 0),
      streamed: all.reduce((a, t) => a + t.streamed, 0),
      referrers: all.reduce((a, t) => a + t.referrers, 0),
      referrersSkipped: all.reduce((a, t) => a + t.referrersSkipped, 0),
    },
    timings: { total: Math.round(performance.now() - t0) },
    http: run.transport.stats.snapshot(),
  };
}
