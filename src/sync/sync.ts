/**
 * sync(): promote and mirror the images of a sync file, on the transfer engine.
 *
 *   shard    → this process's share of the file's images (stable hash of the source repository);
 *              an entry with `shard: tag` is every shard's
 *   tags     → the explicit list, or the source's tag list through the entry's filters; under
 *              --shard also the tags of other shards' entries that write into a target
 *              repository this shard writes into (crossShardWriters), for the clash check only
 *   units    → one source reference (tag or digest) and its targets each; units of different
 *              entries that would write one target tag are refused before anything is written;
 *              then a `shard: tag` entry keeps the units whose tag hashes to this shard (the
 *              selection and the clash check saw them all, as an unsharded run does)
 *   copy     → copyImage per unit, --images units at a time, each with --jobs blob transfers:
 *              a unit whose targets already hold the source digest is skipped after HEADs only
 *              (HEADs do not count against Docker Hub's pull limit); a blob this run has landed
 *              in one repository of a registry is mounted into the next; one failing unit is
 *              reported and the others go on
 *   gate     → with minRateLimit, a unit's first manifest GET goes only while the source's
 *              ratelimit-remaining, less the pulls (manifest GETs) that registry's units in flight
 *              have under way and one for itself, stays at or above it (a unit whose targets
 *              hold it, HEADs only, is never held); after maxWait that registry sends no more
 *              pulls: its images not started still get their HEAD-only check (up to date, or
 *              failed unsent), and the sync ends with E_TOO_MANY_REQUESTS; a 429 saying the
 *              pull limit is used up is, under maxWait, a count of 0 the gate waits out (the
 *              refused GET sent again), not the stop for the run it is without maxWait
 *
 * One TransferRun for the whole sync: one transport (keep-alive sockets, token caches), one
 * upload memory per registry, one record of where blobs landed.
 */
import { AbortedError, asRegpushError, InputError, PartialFailureError, RegpushError, UsageError, type ErrorCode } from '../errors.js';
import { parsePlatform, unknownPlatformPart } from '../image/platform.js';
import { silentLogger, type Logger } from '../log.js';
import { formatReference, manifestRef, repositoryName, type ImageReference } from '../ref/reference.js';
import { checkOptions, type Shape } from '../options-check.js';
import { optionPaths, type OptionNames } from '../option-names.js';
import { CONNECTION_SHAPE } from '../registry/connection-shape.js';
import { anchorPaths } from '../registry/working-directory.js';
import { checkImages, checkJobs } from '../transfer/concurrency.js';
import { TransferRun } from '../transfer/engine.js';
import { checkConnectionRanges } from '../registry/limits.js';
import type { TargetSet, TransferTarget } from '../transfer/target-set.js';
import { CallerCallbacks } from '../transfer/callbacks.js';

/** Images in flight by default (the engine's, shared with copy --all-tags). */
import { PROGRESS_EVENTS_SHAPE } from '../transfer/types.js';
import type { PullMeter } from '../transfer/graph.js';
import { copyImage, warnAlikeOnce } from '../transfer/image-copy.js';
import { newImageCopyOutcome } from '../transfer/image-copy-types.js';
import { checkSpecValues, rawSyncSpec, SYNC_SPEC_SHAPE } from './config.js';
import { OutageBreaker, outageThreshold } from './outage.js';
import { answeredBy, expandEntries, type Expanded, type PullsOwnerOf, type Work } from './expand.js';
import { crossShardWriters, listsEntry, shardOf, unitKey, type Neighbour } from './shard.js';
import { Slots } from './slots.js';
import { checkGateOptions, RateGate, type GateTicket } from './rate-gate.js';
import type { PullsReader, RegistryClient } from '../registry/registry-client.js';
import { MirroredClient } from '../registry/mirrors.js';
import type { Shard, SyncImage, SyncOptions, SyncResult, SyncUnitReport } from './options.js';

/**
 * Checks sync()'s pull-limit options (the CLI checks its flags with it before reading the sync file).
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export { checkGateOptions } from './rate-gate.js';
import { copyKey, destinationRepository, sharedTargets, targetClashes } from './target.js';
import {
  bytesRead,
  elsewhereHeld,
  entryFailed,
  failedList,
  FailureLines,
  interruptedTarget,
  ownFailure,
  report,
  resultOf,
  sameFailure,
  targetError,
  targetNotAttempted,
  targetResult,
  type FailureLine,
} from './report.js';
import { scrubbedRejections } from '../redact.js';

/**
 * SyncOptions as a plain-JS caller must give them (options-check.ts); `spec` is what parseSyncFile returns.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export const SYNC_SHAPE = {
  fields: {
    ...CONNECTION_SHAPE,
    // parseSyncFile's result: checked for its shape, its entries' values were checked by parseSyncFile.
    spec: SYNC_SPEC_SHAPE,
    shard: { fields: { index: 'whole', count: 'whole' }, required: ['index', 'count'] },
    images: 'number',
    jobs: 'number',
    dryRun: 'boolean',
    minRateLimit: 'number',
    maxWaitMs: 'whole',
    rateLimitPollMs: 'whole',
    events: { fields: PROGRESS_EVENTS_SHAPE },
  },
  required: ['spec'],
} satisfies Shape;

/** Syncs the file's images; rejects with E_PARTIAL (the result in its details) when some failed. */
export async function sync(given: SyncOptions): Promise<SyncResult> {
  return scrubbedRejections(given, (opts) => syncAs(opts, SYNC_NAMES));
}

/**
 * What sync()'s messages call its options: their paths (`sync(): minRateLimit`); an entry's
 * `platforms` where copy's would say `platform`, and the report an error carries (details.result).
 */
const SYNC_NAMES = optionPaths('sync()', { platform: 'platforms' });

/**
 * sync() for a caller whose messages name the options its own way (`names`): the CLI, whose
 * messages name its flags (src/cli/commands/sync.ts). Not part of the library's surface.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export async function syncAs(given: SyncOptions, names: OptionNames): Promise<SyncResult> {
  // The caller's callbacks go through one guard (transfer/callbacks.ts): a throw there stops the
  // sync, and the sync rejects with that error; any other failure, the checks' included, is a RegpushError.
  const callbacks = new CallerCallbacks();
  return callbacks.around(() => {
    // A sync file's content given as it is written: said as such, rather than as the first of its
    // keys the shape does not know.
    const raw = rawSyncSpec((given as { spec?: unknown } | undefined)?.spec);
    if (raw !== undefined) {
      throw new UsageError(
        `sync(): spec is a sync file's content as written (${raw}): spec must be what parseSyncFile(text, fileName) returns, ` +
          `which checks each entry and applies the defaults; for content held as an object, parseSyncFile(JSON.stringify(content), "sync.json")`,
      );
    }
    checkOptions('sync()', given, SYNC_SHAPE);
    // The shape alone let a hand-built spec through that syncs nothing or writes to malformed targets.
    given = { ...given, spec: checkSpecValues(given.spec, names.about('spec')) };
    const anchored = anchorPaths(given); // relative paths (TLS files, env's path variables) taken in the `cwd` option
    return syncChecked({ ...anchored, events: callbacks.guard(given.events, SYNC_EVENTS) }, callbacks, names);
  }, 'sync');
}

/** The callbacks sync() calls (SYNC_SHAPE's `events`; `close` is the CLI's, which calls it itself). */
const SYNC_EVENTS = Object.keys(SYNC_SHAPE.fields.events.fields).filter((k) => k !== 'close');

/** sync() once its options' shape is checked and its callbacks guarded. */
async function syncChecked(opts: SyncOptions, callbacks: CallerCallbacks, names: OptionNames): Promise<SyncResult> {
  // A shard out of range would silently take no image at all (parseShard refuses it on the CLI).
  if (opts.shard && !(opts.shard.count >= 1 && opts.shard.index < opts.shard.count)) {
    throw new UsageError(`${names.about('shard')} must have 0 ≤ index < count (got ${opts.shard.index}/${opts.shard.count})`);
  }
  const images = checkImages(opts.images, names.about('images'));
  checkJobs(opts.jobs, names.about('jobs'));
  checkConnectionRanges(opts, (o) => names.about(o));
  checkGateOptions(opts, names);
  const platformsOf = (img: SyncImage) => (img.platforms === 'all' ? undefined : img.platforms.map((p) => parsePlatform(p)));
  const entries = opts.spec.images.filter((img) => !opts.shard || listsEntry(img, opts.shard));
  const logger = opts.logger ?? silentLogger;
  for (const line of unknownPlatformLines(entries)) logger.warn(line);
  const t0 = performance.now();
  const run = new TransferRun({ ...opts, logger, trackLanded: true, callbacks });
  const units: SyncUnitReport[] = [];
  // An entry whose filter kept no tag is not a failure (a rule for release candidates matches
  // none between releases) but is recorded in the report, where a mistyped regex run hourly is
  // otherwise a stderr line nobody reads (docs/sync.md, "A rule that matches no tag"). Every
  // report of the run names them, an interrupted run's included.
  const noMatch: NonNullable<SyncResult['noMatch']> = [];
  const reportNow = (): SyncResult => report(opts, entries.length, units, run, t0, noMatch);
  const lines = new FailureLines();
  try {
    const neighbours = opts.shard ? crossShardWriters(opts.spec.images, opts.shard) : [];
    const breaker = new OutageBreaker(outageThreshold(images));
    // Every list is read through the run's memory (repo-memory.ts), which leaves out and warns of the tags no reference can name;
    // one that a --referrers walk will look in for cosign's tags is kept for the run, another dropped once selected from.
    // A listing whose turn comes after the sync was interrupted is not sent: its entry is "not
    // started", as the images are, not "aborted: GET …/tags/list" as if a request had been cut off.
    // So is one the interruption cut before any of its requests went out (`details.unsent`: still
    // waiting for a connection, its token or the scheme): nothing of it reached the registry.
    const notStarted = () => new AbortedError(`not started: the sync was ${opts.signal?.aborted ? 'interrupted' : 'stopped'}`);
    const listTags = async (source: ImageReference, forReferrers: boolean, warn: (line: string) => void) => {
      if (run.signal.aborted) throw notStarted();
      try {
        return await run.ctx.repos.tagList(run.source(source), warn, forReferrers);
      } catch (err) {
        throw err instanceof AbortedError && err.details.unsent === true ? notStarted() : err;
      }
    };
    // Who reads an image's source and whose pulls its reads spend (Docker Hub counts per account or
    // address): the breaker keeps a used-up limit per owner (outage.ts), the gate a count per reader.
    // Never rejects: a source that cannot be connected to fails where the image reads it.
    const ask = async <T>(source: ImageReference, what: (client: RegistryClient) => Promise<T> | undefined): Promise<T | undefined> => {
      try {
        return await what(run.source(source).client);
      } catch {
        return undefined;
      }
    };
    // Asked only once a reader's pull limit at the registry is used up (OutageBreaker), and each
    // time then, not kept: a reader's owner key may move during the run (an anonymous or
    // credential key joins the account an answer names: TransportStats.rateLimitSource), and a
    // mirrored source's first reader changes when a mirror is given up; a key kept from the first
    // ask would be another key than the transport's used-up mark, and the breaker would count one
    // account's limit as two readers'. Cheap: the credential behind it is looked up once per source
    // repository for the run (AuthMemory.credential), however often the owner is asked.
    // `answeredBy`: the registry whose 429 said so (a mirror the source is read through, or the
    // registry itself): the stop is that reader's, not the first mirror's (RegistryClient.pullsOwner).
    // A source read directly has one reader whoever answered: `answeredBy` is not passed on.
    const throughMirrors = (source: ImageReference): boolean => {
      try {
        return run.source(source).client instanceof MirroredClient;
      } catch {
        return false;
      }
    };
    const ownerOf: PullsOwnerOf = async (source, by) => {
      const at = throughMirrors(source) ? by : undefined;
      return (await ask(source, (c) => c.pullsOwner?.(source.repository, at))) ?? '';
    };
    // Who reads is a credential lookup (a credential helper's run, perhaps), not asked where the
    // registry has shown that it sends no count (a manifest answer without one, and none sent
    // since: countsPulls false once pullsKnown): the gate has no reader's count to hold an image
    // by there, and groups it by its registry. Asked until that is known, so that the images of a
    // registry whose first answers bring counts are grouped by reader from the first. A registry
    // whose counts begin only after answers without them has images in both kinds of group: the
    // gate weighs its registry's group with its readers' (RateGate.peers), so that neither spends
    // the room above the reserve the other's pulls under way take.
    const readerOf = (source: ImageReference): Promise<PullsReader | undefined> =>
      ask(source, (c) => {
        const repo = source.repository;
        const noCounts = (c.pullsKnown?.(repo) ?? false) && !(c.countsPulls?.(repo) ?? true);
        return noCounts ? undefined : c.pullsReader?.(repo);
      });
    const expanded = await expandEntries([...entries, ...neighbours.map((n) => n.image)], breaker, logger, listTags, ownerOf);
    const own = expanded.slice(0, entries.length);
    for (const e of own) {
      if (e.error) units.push(entryFailed(e.image, lines.of(e.error)));
      else if (e.work!.length === 0) {
        const source = repositoryName(e.image.source);
        noMatch.push({ entry: e.image.label, source, listed: e.listed ?? 0 });
        logger.warn(`${e.image.label}: no tag of ${source} matches${e.listed === undefined ? '' : ` (of ${e.listed} listed)`}; nothing to copy`);
      }
    }
    const work = refuseClashes(
      own.flatMap((e) => e.work ?? []),
      neighbours.map((n, i) => ({ ...n, ...expanded[entries.length + i]! })),
      units,
      logger,
      lines,
      opts.shard,
    );
    // The units failed so far (a tag list that could not be read, a clash refused) never start:
    // they are told as ended now, before the first image starts, so that a log of the run names
    // every failure: otherwise a CI log would say only how many failed, and a listing failure past
    // the fifth the error line names would be in --json alone. Listings the signal cut short are
    // not: as for the images not started, a line each would bury the log (the report has them).
    // They are counted with the images that start, first, in the order their lines come, so that
    // the counter's total is the report's image count and says how many failed before starting.
    const told = units.filter((u) => u.error?.code !== 'E_ABORTED');
    const total = told.length + work.length;
    told.forEach((u, i) => {
      opts.events?.unitStart?.(u.source, i + 1, total);
      opts.events?.unitEnd?.(u);
    });
    const gate = new RateGate(run, opts, logger, names);
    const slots = new Slots(images);
    let started = 0;
    try {
      await Promise.all(
        work.map(async (w) => {
          const slot = slots.claim();
          let ticket: GateTicket | undefined;
          try {
            await slot.take();
            if (run.signal.aborted) {
              // Interrupted (or stopped by a throw in the caller's callbacks): the images not
              // started are reported as such, without a request or a line each (a CI log of 2,000
              // images would otherwise end in 2,000 failures).
              units.push(notAttemptedFor(w, lines.of(notStarted())));
              return;
            }
            const n = ++started; // not inside the optional call below, which may not run
            // The image that takes the next free slot gets its tokens now, while this one runs.
            const next = work[n - 1 + images];
            if (next && !notAttempted(next, breaker, lines)) run.prefetchAuth(next.unit.source, next.unit.targets);
            opts.events?.unitStart?.(formatReference(w.unit.source), told.length + n, total);
            // The gate meters the image's manifest GETs; its HEAD-only check that the targets hold
            // it already costs no pull, and goes on whatever the count (the gate is met at the first GET).
            // A registry that takes no more pulls this run — its gate gave up (--max-wait, or the
            // run was stopped), or a 429 said its limit is used up — still answers HEADs, which
            // cost none: the image is checked as ever, up to date if its targets hold it, and
            // fails with that stop's error, its GET not sent, if it needs a pull. One that is down
            // gets no request at all (notAttempted). Other registries' images go on; the sync
            // then ends with the stop's error (gate.failure, spentFailure).
            const reader = opts.minRateLimit === undefined ? undefined : await readerOf(w.unit.source);
            // Whose pulls the image spends is a credential lookup: asked only where a limit is used up (pullRefusal).
            const noPulls = gate.stopped(w.unit.source, reader) ?? (await breaker.pullRefusal(w.unit.source.registry, () => ownerOf(w.unit.source)));
            ticket = noPulls ? undefined : gate.ticket(w.unit.source, slot, reader);
            const pulls = noPulls ? refusedPulls(noPulls) : ticket?.pulls;
            const r = notAttempted(w, breaker, lines) ?? (await syncUnit(run, w, platformsOf(w.image), opts, pulls, breaker, lines, names, ownerOf));
            units.push(r);
            opts.events?.unitEnd?.(r);
          } finally {
            slot.done();
            ticket?.ended();
          }
        }),
      );
    } finally {
      gate.close();
    }
    // The pull-limit gate gave up on a registry (--max-wait): the sync ends with its error once
    // the rest is done. A source whose pull limit a 429 said is used up stopped its images' pulls
    // as the gate stops them: the same exit (5).
    const gateFailure = gate.failure ?? breaker.spentFailure(units.filter((u) => !u.ok));
    const result = reportNow();
    if (gateFailure) throw Object.assign(gateFailure, { details: { ...gateFailure.details, result } });
    const failed = units.filter((u) => !u.ok);
    // A file of one image fails as `regpush copy` of it would: with the failure's own class and
    // details (`instanceof NotFoundError`, details.status…), the report in details.result.
    const alone = failed.length === 1 && units.length === 1 ? ownFailure(failed[0]!) : undefined;
    if (alone) throw lines.error(alone, { result });
    // Every image failed, each for the same reason (a target's password refused, a source down):
    // nothing was done, so E_PARTIAL's "the others are done" would be false, and an hourly job's
    // alert should see the reason's own exit code (3, 5…), as a copy whose every target failed does.
    const same = failed.length > 1 && failed.length === units.length ? sameFailure(failed) : undefined;
    if (same) {
      throw lines.error(same, { result, failed: failed.map((u) => u.source) }, `all ${failed.length} images failed with ${same.code}: ${failedList(failed, names, same.code)}`);
    }
    if (failed.length) {
      throw new PartialFailureError(`${failed.length} of ${units.length} images failed${elsewhereHeld(failed)}: ${failedList(failed, names)}`, {
        details: { result, failed: failed.map((u) => u.source) },
      });
    }
    return result;
  } catch (err) {
    await run.settle();
    const failure = run.failure(err);
    // Interrupted (Ctrl-C; SIGTERM, as Kubernetes stops a CronJob that overran): the images
    // finished before it stay written, so the report of what was done still comes with the error.
    if (failure instanceof AbortedError) failure.details.result ??= resultOf(err) ?? reportNow();
    throw failure;
  } finally {
    run.close();
  }
}

/**
 * Takes out the units that would write a target another entry's unit writes too (targetClashes),
 * this shard's or a neighbour's (crossShardWriters; their units are checked, never copied): each
 * becomes a failed unit, E_INPUT, naming the target and the other entries; nothing is read or
 * written for them. `work` holds every unit of a `shard: tag` entry, other shards' too, so that
 * its clashes are found as an unsharded run finds them; only this shard's units are reported and
 * returned: every shard reaches the same verdict on the others, and reports its own. A neighbour
 * whose tags could not be listed might write any tag of its repositories, and its own shard may have listed it fine: this shard's units writing there are
 * refused with that error rather than risk the race (a re-run decides once the list is readable)
 * — unless the answer was one its own shard gets too and then writes nothing (WRITES_NOTHING).
 */
function refuseClashes(work: Work[], neighbours: readonly (Neighbour<SyncImage> & Expanded)[], units: SyncUnitReport[], logger: Logger, lines: FailureLines, shard?: Shard): Work[] {
  // The shard that copies each unit (a `shard: tag` entry's units are spread), as the messages name it.
  const copier = work.map((w) => (shard ? shardOf(unitKey(w.image, w.unit.source), shard.count) : 0));
  const copies = (i: number) => !shard || copier[i] === shard.index;
  const checked = [
    ...work.map((w, i) => ({ label: w.image.label, unit: w.unit, shard: shard && `${copier[i]}/${shard.count}`, copy: copyKey(w.image) })),
    ...neighbours.flatMap((n) => (n.work ?? []).map((w) => ({ label: n.image.label, unit: w.unit, shard: `${n.shard}/${shard!.count}`, copy: copyKey(n.image) }))),
  ];
  const refused = new Map<number, FailureLine>();
  for (const [i, why] of targetClashes(checked)) if (i < work.length) refused.set(i, lines.of(new InputError(why)));
  for (const n of neighbours) {
    if (!n.error || WRITES_NOTHING.has(n.error.code)) continue;
    const repos = new Set(n.image.destinations.map((d) => destinationRepository(d, n.image.source)));
    work.forEach((w, i) => {
      const hit = w.unit.targets.find((t) => repos.has(repositoryName(t)));
      if (hit === undefined || refused.has(i)) return;
      const message =
        `${w.image.label} cannot tell whether ${formatReference(hit)} is free: ${n.image.label}, in shard ${n.shard}/${shard!.count}, ` +
        `writes into ${repositoryName(hit)} too and its tags could not be listed (${n.error!.code}: ${n.error!.message}); not copied`;
      refused.set(i, lines.of(n.error!, message));
    });
  }
  work.forEach((w, i) => {
    const error = refused.get(i);
    if (error === undefined || !copies(i)) return;
    const targets = w.unit.targets.map((t) => targetNotAttempted(t, error));
    units.push({ entry: w.image.label, source: formatReference(w.unit.source), sourceDigest: '', ok: false, error, targets, bytesRead: 0 });
  });
  // copyOnce sees only what this shard copies: a copy it leaves to another unit is then one this shard makes.
  return copyOnce(work.filter((_, i) => !refused.has(i) && copies(i)), logger);
}

/**
 * Two entries that make the same copy into one target (a tag one lists and another's filter
 * picks, both into one prefix: sharedTargets): the first entry's unit writes it, the others leave
 * that target out, and a unit left with no target is not run (it would read the source for
 * nothing). The log says which entry writes it.
 */
function copyOnce(work: Work[], logger: Logger): Work[] {
  const shared = sharedTargets(work.map((w) => ({ label: w.image.label, unit: w.unit, copy: copyKey(w.image) })));
  if (shared.size === 0) return work;
  return work.flatMap((w, i) => {
    const gone = shared.get(i);
    if (!gone) return [w];
    for (const [t, writer] of gone) logger.info(`${w.image.label}: ${formatReference(w.unit.source)} → ${t} is the copy ${writer} makes too; copied once, by that entry`);
    const targets = w.unit.targets.filter((t) => !gone.has(formatReference(t)));
    return targets.length ? [{ image: w.image, unit: { ...w.unit, targets } }] : [];
  });
}

/**
 * Listing failures that every shard meets alike and after which the entry writes nothing: its
 * source repository does not exist (a removed image would otherwise hold this shard's units back
 * on every run), or registries.conf blocks it. A network error, a 5xx or an auth failure may be
 * one machine's alone, so it still holds them.
 */
const WRITES_NOTHING: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['E_NOT_FOUND', 'E_DENIED']);

/**
 * A unit whose source registry, or every target registry, has failed image after image
 * (OutageBreaker), as failed at once without a request; undefined for a unit to attempt. A source
 * whose pull limit is used up is attempted: its HEADs are free (its GETs are refused: refusedPulls).
 * So is a target whose pull limit is used up: its HEADs and writes cost no pull (only down() skips one).
 */
function notAttempted(w: Work, breaker: OutageBreaker, lines: FailureLines): SyncUnitReport | undefined {
  const targets = w.unit.targets.map((t) => breaker.down(t.registry));
  const e = breaker.down(w.unit.source.registry) ?? (targets.every(Boolean) ? targets[0] : undefined);
  return e ? notAttemptedFor(w, lines.of(e)) : undefined;
}

/**
 * The pull meter of an image whose source registry takes no more pulls this run: every manifest
 * GET at the source is refused, unsent, with `why`. Its HEAD-only check still runs (copyImage
 * checks HEAD-first whenever it is given a meter: never the GET-first read it makes where a GET
 * costs nothing), so an image its targets hold is up to date at no pull.
 */
function refusedPulls(why: RegpushError): PullMeter {
  return { will: () => undefined, did: () => undefined, send: () => Promise.reject(why) };
}

/** A unit not attempted because of `e` (an outage, the run interrupted). */
function notAttemptedFor(w: Work, error: FailureLine): SyncUnitReport {
  return {
    entry: w.image.label,
    source: formatReference(w.unit.source),
    sourceDigest: '',
    ok: false,
    error,
    targets: w.unit.targets.map((t) => targetNotAttempted(t, error)),
    bytesRead: 0,
  };
}

/** Copies one unit; never rejects (its failure is in the result, and told to `breaker`). */
async function syncUnit(
  run: TransferRun,
  w: Work,
  platforms: ReturnType<typeof parsePlatform>[] | undefined,
  opts: SyncOptions,
  pulls: PullMeter | undefined,
  breaker: OutageBreaker,
  lines: FailureLines,
  names: OptionNames,
  ownerOf: PullsOwnerOf,
): Promise<SyncUnitReport> {
  const source = formatReference(w.unit.source);
  let set: TargetSet;
  try {
    set = run.targets(w.unit.targets.map((ref) => ({ ref, tags: ref.tag ? [ref.tag] : [] })), w.unit.source, { failFast: false, asideWarnedOncePerRegistry: true, image: source });
  } catch (err) {
    // A target the configuration refuses (registries.conf's `blocked`: E_DENIED, before any
    // request) fails this image, as a blocked source does; thrown from here it rejected the whole
    // sync without its report while the other images went on unawaited.
    return notAttemptedFor(w, lines.of(asRegpushError(err)));
  }
  const result: SyncUnitReport = { entry: w.image.label, source, sourceDigest: '', ok: false, targets: [], bytesRead: 0 };
  // Filled as the image is copied: an interrupted image's targets say what was resolved by then
  // (those that held it already, the referrers copied to those it landed at: interruptedTarget).
  const resolved = newImageCopyOutcome();
  // The breaker counts images, not targets: once per registry the unit writes to (two prefixes
  // on one registry must not count an image twice), and a success there by any of its targets wins.
  const tellTargets = (): void => {
    const byRegistry = new Map<string, TransferTarget[]>();
    for (const t of set.list) byRegistry.set(t.ref.registry, [...(byRegistry.get(t.ref.registry) ?? []), t]);
    for (const [registry, ts] of byRegistry) {
      const failed = ts.find((t) => t.failed)?.failed;
      if (failed && ts.every((t) => t.failed)) breaker.targetFailed(registry, failed);
      else breaker.succeeded(registry);
    }
  };
  try {
    // headUntilKnown: the first --images images of a registry start together, before any answer
    // could say whether it counts pulls (Docker Hub is known by name; another registry only by
    // the rate-limit headers it sends). Read with a GET at once, each would spend a pull, and
    // where the limit is used up an unchanged one would fail with the 429 that its HEADs (free)
    // would have spared it. So until the registry has answered a manifest request, the source is
    // HEADed first; from its first answer without rate-limit headers on, the top manifest is read
    // at once again. For an unchanged image a HEAD costs what the GET did (one request, the same
    // round trip); a changed image started before that answer pays a HEAD more (and a round trip
    // more before its children are read), and an unchanged index whose referrers are walked reads
    // the index at a target (no pull) — only the images started before the first answer.
    const outcome = await copyImage(set, run.source(w.unit.source), manifestRef(w.unit.source), {
      platforms,
      referrers: w.image.referrers,
      dryRun: opts.dryRun,
      warn: (m) => run.logger.warn(`${source}: ${m}`),
      warnAlike: warnAlikeOnce(run, 'image', `${source}: `),
      pulls,
      headUntilKnown: true,
      names,
    }, resolved);
    breaker.succeeded(w.unit.source.registry);
    tellTargets();
    result.sourceDigest = outcome.sourceDigest;
    result.targets = set.list.map((t) => targetResult(t, targetError(t, run, lines), !!opts.dryRun, outcome));
    result.bytesRead = bytesRead(set.list);
    result.ok = result.targets.every((t) => t.action !== 'failed');
  } catch (err) {
    // Its line names the upload sessions this image left, not the run's others (the sync's own error names every one).
    const e = asRegpushError(run.failure(err, set));
    // Every target failed (copyImage then throws the first one's error): the targets' registries
    // failed. Otherwise the source did.
    if (set.list.every((t) => t.failed)) tellTargets();
    else await breaker.failed(w.unit.source.registry, e, () => ownerOf(w.unit.source, answeredBy(e)));
    result.error = lines.of(e);
    // What moved before the failure (planned, in a dry run) is counted as a finished unit's is: a
    // dry run's plan then matches the run's report for a unit that fails after its blobs (its
    // referrers unreadable, say), and the bytes read from the source are not left out. Cut short
    // by the caller's signal, each target says what the interruption left there: a tag written
    // before it is copied, as copy's interrupted report says (interruptedTarget).
    const interrupted = e instanceof AbortedError && !!opts.signal?.aborted && !opts.dryRun;
    result.targets = set.list.map((t) => (interrupted ? interruptedTarget(t, run, lines, e, resolved) : targetResult(t, targetError(t, run, lines, e), !!opts.dryRun)));
    result.bytesRead = bytesRead(set.list);
  } finally {
    set.finish();
  }
  return result;
}

/**
 * A warning per entry platform whose os or architecture the OCI spec does not name, given before
 * any request: a typo (`linux/amd65`) otherwise fails each image with E_NOT_FOUND after its
 * source index was read (a pull, at Docker Hub), run after run. Not refused: new ports appear.
 */
function unknownPlatformLines(entries: readonly SyncImage[]): string[] {
  return entries.flatMap((img) =>
    img.platforms === 'all'
      ? []
      : img.platforms.flatMap((p) => {
          const why = unknownPlatformPart(parsePlatform(p));
          return why ? [`${img.label}: platform ${p}: ${why}; an image without it fails with E_NOT_FOUND (check the spelling)`] : [];
        }),
  );
}
