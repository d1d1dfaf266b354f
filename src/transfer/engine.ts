/**
 * The transfer engine: what push, copy and sync do with one or more targets, in one place.
 *
 *   TransferRun   one operation (this file): its transport, its abort signal, what it learns
 *                 about each registry's uploads, where it has landed blobs. Closing it closes
 *                 the sockets.
 *   TargetSet     the targets of one image (target-set.ts): planned, moved with one read for
 *                 all of them, manifests written only where every blob is in place.
 */
import type { OptionNames } from '../option-names.js';
import { setMaxListeners } from 'node:events';
import { AbortedError, errorForCode, RegpushError } from '../errors.js';
import { abortedBeforeStart } from '../abort.js';
import { silentLogger, type Logger } from '../log.js';
import type { ImageReference } from '../ref/reference.js';
import { ClientMemory } from '../registry/client-memory.js';
import { connect } from '../registry/connect.js';
import { transportFor } from '../registry/operation-transport.js';
import type { ConnectionOptions } from '../registry/connection-options.js';
import { CANCEL_TIMEOUT_MS } from '../registry/upload-grace.js';
import { UploadSessions, type LeftSession } from './sessions.js';
import { Turns } from './turns.js';
import { RepoMemory } from './repo-memory.js';
import { TakenOnWord } from './on-word.js';
import { UploadMemory } from '../registry/quirks.js';
import type { Transport } from '../http/transport.js';
import type { RegistryClient } from '../registry/registry-client.js';
import { LandedBlobs, type BlobEvents, type RepoEndpoint, type TransferContext } from './types.js';
import type { CallerCallbacks } from './callbacks.js';
import { DEFAULT_JOBS } from './concurrency.js';
import { SMALL_BLOB_JOBS, TargetSet, type SetOwner, type TargetSetMode, type TransferTarget } from './target-set.js';

/** The longest settle() waits: an interrupted upload request's grace, then the DELETE of its session. */
const SETTLE_MS = 2 * CANCEL_TIMEOUT_MS + 1_000;


/** What a run needs from the operation's options. */
export interface TransferRunOptions extends ConnectionOptions {
  logger?: Logger;
  /** The guard over the caller's callbacks (callbacks.ts): a throw there stops the run, and failure() passes the caller's error on as thrown. */
  callbacks?: CallerCallbacks;
  retries?: number;
  events?: BlobEvents;
  /** Parallel blob transfers per image (checked with checkJobs); given, it bounds small blobs too (SMALL_BLOB_BYTES). */
  jobs?: number;
  /**
   * Track where blobs land, so that images copied at once never upload one blob into one
   * repository twice (the later waits for the earlier's landing and skips it). `true` also
   * mounts a blob landed in one repository into the next of that registry (sync);
   * 'same-repository' does only the former (copy --all-tags, whose targets already share one
   * read per blob through the tee).
   */
  trackLanded?: boolean | 'same-repository';
  /** Plan only, write nothing: no speculative start (no upload session is opened while planning). */
  dryRun?: boolean;
  /** The operation's option names where it has a `format` option (push, copy): TransferContext.formatNames. */
  formatNames?: OptionNames;
}

/** One operation's transfer state. */
export class TransferRun implements SetOwner {
  readonly transport: Transport;
  readonly ctx: TransferContext;
  readonly jobs: number;
  /** Small blobs' own slots: SMALL_BLOB_JOBS with the default --jobs, none (they share --jobs) with a --jobs given. */
  readonly smallBlobJobs: number | undefined;
  readonly logger: Logger;
  private readonly abort = new AbortController();
  /**
   * The run's signal: the caller's and the run's own stop in one (AbortSignal.any), which adds no
   * listener to the caller's signal. A listener per run there made 11 operations sharing one
   * signal print MaxListenersExceededWarning in the caller's process.
   */
  private readonly runSignal: AbortSignal;
  private readonly conn: ConnectionOptions;
  /** Schemes, tokens, credentials and mirror health learned once for every client of the run. */
  private readonly auth = new ClientMemory((s) => this.ctx.sessions!.cancelledByClient(s));
  /** The failure that made a fail-fast set stop the run, reported instead of the aborts it caused. */
  private stoppedBy: unknown;
  /** Clean-ups still running (a speculative session's DELETE): close() lets them finish first. */
  private readonly cleanups = new Set<Promise<void>>();
  /**
   * Repositories ("registry/repo") where a speculative start found a blob present: a new tag in a
   * repository that already holds the base. The rest of the run plans there with a HEAD first.
   */
  readonly headFirstRepos = new Set<string>();
  /** Target registries a set-aside warning has been given for (SetOwner.asideWarned). */
  readonly asideWarned = new Set<string>();
  /** The kinds of warning said once in the run, every image giving them alike (sync's referrer warnings, ImageCopyOptions.warnAlike). */
  readonly warnedOnce = new Set<string>();

  /**
   * A warning every image of a run of many (a sync, copy --all-tags) may give alike: the first of
   * its `kind` is a warning ending with `later` (what is not warned of again), the rest debug
   * lines. `--quiet` keeps warnings, so 2,000 images gave 2,000 such lines; each image's result
   * still counts what the warning was about.
   */
  warnOnce(kind: string, line: string, later: string): void {
    if (this.warnedOnce.has(kind)) return this.logger.debug(line);
    this.warnedOnce.add(kind);
    this.logger.warn(`${line} (${later})`);
  }

  constructor(private readonly opts: TransferRunOptions) {
    // A signal that fired before the call never fires again: the abort listener below would not
    // run, and the whole operation would go on (and write tags) as if it had not been cancelled.
    if (opts.signal?.aborted) throw abortedBeforeStart(opts.signal);
    // Checked by each operation (checkJobs), which names its own option.
    this.jobs = opts.jobs ?? DEFAULT_JOBS;
    this.smallBlobJobs = opts.jobs === undefined ? SMALL_BLOB_JOBS : undefined;
    this.logger = opts.logger ?? silentLogger;
    this.runSignal = opts.signal ? AbortSignal.any([opts.signal, this.abort.signal]) : this.abort.signal;
    // Unbounded: every request (also one queued in the agent behind maxSockets), open response
    // body, started blob read and wait listens on it, and a sync has --images images × --jobs
    // blobs × targets of them at once: no fixed bound is true (1,000 was passed by 64 images of
    // 20 layers). Each is removed when its request, body, read or wait ends; tests count them
    // back to none after a run (test/unit/abort-listeners.test.ts).
    setMaxListeners(0, this.runSignal);
    opts.callbacks?.onThrow((err) => this.stop(err));
    this.conn = { ...opts, signal: this.runSignal };
    // push, copy and sync: their hints may say to lower `jobs`.
    this.transport = transportFor({ ...opts, logger: this.logger }, { jobs: true, credentials: true });
    this.ctx = {
      transport: this.transport,
      signal: this.runSignal,
      events: opts.events,
      uploads: new UploadMemory({ chunkSize: opts.chunkSize }),
      landed: opts.trackLanded ? new LandedBlobs(opts.trackLanded === true) : undefined,
      stated: new Set(),
      onWord: new TakenOnWord(),
      sessions: new UploadSessions(),
      fallbackIndexes: new Turns(),
      repos: new RepoMemory(),
      formatNames: opts.formatNames,
    };
  }

  /** The run's own signal: the caller's, and the stop of a fail-fast set. */
  get signal(): AbortSignal {
    return this.runSignal;
  }

  /**
   * One source client per registry that can warm (see warmFor): warming opens connections to the
   * registry's origin, whichever repository the client reads, or, read through mirrors, to the
   * mirror of the repository warmFor names (MirroredClient.warm). Not one per source() call: a sync
   * asks for a source per image, and warming every one of them for each cold target made a
   * 2,000-image sync quadratic (measured: 27 s, of which ~9 s opening no connection at all).
   */
  private readonly sources = new Map<string, RegistryClient>();

  /** A source repository, read with pull scope and the `from` credentials. */
  source(ref: ImageReference): RepoEndpoint {
    const client = connect(this.transport, ref.registry, 'from', [{ repo: ref.repository, actions: ['pull'] }], this.conn, this.auth);
    if (client.warm && !this.sources.has(ref.registry)) this.sources.set(ref.registry, client);
    return { repo: ref.repository, client };
  }

  /**
   * Connections opened ahead (--jobs per registry, nothing sent on them) once a target turns out
   * to lack its tag — a first push or copy there, which will write blobs to that target and read
   * them from the source — so the requests that start the transfer skip the handshake. They open
   * while the source's manifest request is in flight. An update or an unchanged re-run (the tag
   * exists), or a dry run, opens none; a spare nobody uses closes after a few seconds or at close().
   * Only the image's own source registry is warmed, where that image's reads go first: mirrors may
   * be configured per namespace, and the registry's one source client here was made for the run's
   * first image, whose mirror may not be this image's. The run's other source registries are not:
   * this image reads nothing there (warming each of them, a sync from two registries opened
   * --jobs connections at the other registry, or at its first image's mirror, for every cold
   * target of either, which idled and closed).
   */
  private warmFor(target: RegistryClient, sourceRef: ImageReference | undefined): void {
    if (this.dryRun) return;
    target.warm?.(this.jobs);
    const source = sourceRef && this.sources.get(sourceRef.registry);
    if (source && source.registry !== target.registry) source.warm?.(this.jobs, sourceRef.repository);
  }

  /**
   * The targets of one image. Each client asks for pull+push on its repository and, on the
   * source's registry, pull on the source repository (a cross-repository mount needs both).
   */
  targets(specs: { ref: ImageReference; tags: string[] }[], sourceRef?: ImageReference, mode: TargetSetMode = {}): TargetSet {
    const list = specs.map(({ ref, tags }): TransferTarget => {
      const client = this.targetClient(ref, sourceRef);
      client.whenTagAbsent?.(() => this.warmFor(client, sourceRef));
      return { ref, tags, plans: new Map(), present: new Set(), blobs: [], ep: { repo: ref.repository, client } };
    });
    this.made.push(...list);
    const set = new TargetSet(list, this, {
      failFast: mode.failFast ?? list.length === 1,
      stopRun: mode.stopRun ?? false,
      asideWarnedOncePerRegistry: mode.asideWarnedOncePerRegistry ?? false,
      image: mode.image,
    });
    this.sets.add(set);
    return set;
  }

  private targetClient(ref: ImageReference, sourceRef: ImageReference | undefined): RegistryClient {
    return connect(this.transport, ref.registry, 'to', [
      { repo: ref.repository, actions: ['pull', 'push'] },
      ...(sourceRef && sourceRef.registry === ref.registry && sourceRef.repository !== ref.repository ? [{ repo: sourceRef.repository, actions: ['pull' as const] }] : []),
    ], this.conn, this.auth);
  }

  /**
   * Fetches the tokens that an image from `sourceRef` to `targetRefs` will need, where each
   * registry's token service is known in this run, or named by its scheme probe
   * (RegistryClient.prefetchAuth): a sync does it for the image that will take the next free slot,
   * so that image starts with its tokens in hand instead of a round trip to the token service
   * first. Nothing else is sent but a loopback registry's scheme probe (GET /v2/, once per
   * registry and run), which that image's first request would send anyway.
   */
  prefetchAuth(sourceRef: ImageReference, targetRefs: readonly ImageReference[]): void {
    if (this.runSignal.aborted) return;
    try {
      this.source(sourceRef).client.prefetchAuth?.();
      for (const ref of targetRefs) this.targetClient(ref, sourceRef).prefetchAuth?.();
    } catch {
      // A repository the configuration blocks: that image reports it when it starts.
    }
  }

  /** Cancels every request of the run because of `err` (a fail-fast set's first failure). */
  stop(err: unknown): void {
    if (this.runSignal.aborted) return;
    this.stoppedBy = err;
    this.abort.abort();
  }

  /**
   * The error to report for `err`: a step that failed because the run was stopped reports the
   * failure that stopped it; a caller's abort is E_ABORTED. Its line names the upload sessions
   * left behind: those of `image` (the set of one image of many, which a sync reports on its own
   * line), else every one the run left.
   */
  failure(err: unknown, image?: TargetSet): unknown {
    // A callback's throw is the caller's own error: the operation rejects with it as it was.
    if (this.opts.callbacks?.threw) return err;
    const left = this.leftAt(image?.list);
    if (this.opts.signal?.aborted) return abortedOr(err, this.opts.signal, left ?? this.stillCancelling(image?.list), tagsCut(image?.list ?? this.made));
    const e = err instanceof AbortedError && this.stoppedBy !== undefined ? this.stoppedBy : err;
    return withLeft(e, left);
  }

  /**
   * The failure of one target of a set that went on without it (`t.failed`), as that target's own
   * line says it: with the upload sessions left at that target named, as failure() names an
   * image's, and in its own words otherwise (the set's other targets went on; an abort, if any,
   * is said by failure()). A target cut off by the caller's abort says so as failure() does
   * (`interrupted: …`, about that target's sessions), not as the request that was cut (`aborted: HEAD …`).
   */
  targetFailure(t: TransferTarget): unknown {
    if (this.opts.callbacks?.threw) return t.failed;
    const left = this.leftAt([t]);
    if (this.opts.signal?.aborted && t.failed instanceof AbortedError) return abortedOr(t.failed, this.opts.signal, left ?? this.stillCancelling([t], 'target'), tagsCut([t]));
    return withLeft(t.failed, left);
  }

  /** The line naming the sessions left at `targets` (every target of the run: undefined), marked as named; undefined when none is. */
  private leftAt(targets: readonly TransferTarget[] | undefined): string | undefined {
    const sessions = this.ctx.sessions!;
    const eps = targets ? endpointsOf(targets) : undefined;
    const named = eps ? sessions.left.filter((s) => s.target !== undefined && eps.has(s.target)) : sessions.left;
    for (const s of named) this.leftNamed.add(s);
    return sessions.describeLeft(named);
  }

  /**
   * How many upload sessions of `targets` (one image's; every target of the run: undefined) were
   * still being cancelled when the interrupted run reported: an image of a sync reports while the
   * others still cancel theirs, and its line is about its own sessions, as leftAt's is. The run's
   * own report comes after settle(), with none still open. Undefined: none was.
   */
  private stillCancelling(targets: readonly TransferTarget[] | undefined, whose: 'image' | 'target' = 'image'): string | undefined {
    const sessions = this.ctx.sessions!;
    const n = targets ? sessions.pendingAt(endpointsOf(targets)) : sessions.pending;
    if (!n) return targets ? `every upload session this ${whose} had open was completed or cancelled` : undefined;
    return `${n === 1 ? '1 upload session' : `${n} upload sessions`}${targets ? ` of this ${whose}` : ''} ${n === 1 ? 'was' : 'were'} still being cancelled`;
  }

  /**
   * Ends the run's sets (their early starts are undone) and waits (bounded) until every upload
   * session of the run is completed, cancelled or known to be left, so that failure() can say
   * which stay: an interrupted request's grace, then its DELETE. For a failed operation only.
   */
  async settle(): Promise<void> {
    // What a set sent early and nobody took (a session opened with its blob's HEAD) is not in the
    // run's sessions: it is cancelled now, so that none is open once the operation reports; one
    // whose cancel the registry refuses joins them then (cancelUnused), to be named as they are.
    for (const set of this.sets) set.finish();
    await this.cleanedUp();
    await this.ctx.sessions!.settled(SETTLE_MS);
  }

  /** The target sets of the run not yet finished (settle() releases what they started early). */
  private readonly sets = new Set<TargetSet>();

  /** A set has finished (TargetSet.finish): the run no longer holds it, nor its plans and reports. */
  setFinished(set: TargetSet): void {
    this.sets.delete(set);
  }

  /** The first rejection among `settled` that is not an abort this run caused itself. */
  firstFailure(settled: PromiseSettledResult<unknown>[]): unknown {
    const own = (s: PromiseSettledResult<unknown>) => s.status === 'rejected' && !(s.reason instanceof AbortedError && !this.opts.signal?.aborted);
    const f = settled.find(own) ?? settled.find((s) => s.status === 'rejected');
    return f && f.status === 'rejected' ? f.reason : undefined;
  }

  /** True when the run plans only (dry run): nothing may be opened at a target. */
  get dryRun(): boolean {
    return this.opts.dryRun === true;
  }

  /** Keeps `p` (a clean-up that never rejects) until it settles; close() waits for it. */
  track(p: Promise<void>): void {
    this.cleanups.add(p);
    void p.finally(() => this.cleanups.delete(p));
  }

  /** Settles when every clean-up started so far has (never rejects). */
  async cleanedUp(): Promise<void> {
    while (this.cleanups.size) await Promise.all([...this.cleanups]);
  }

  /**
   * Stops work nobody waits for any more and closes idle sockets. Clean-ups still running (a
   * session DELETE, bounded by CANCEL_TIMEOUT_MS) finish first, so no upload session is left behind.
   */
  close(): void {
    this.abort.abort();
    this.warnLeft();
    if (!this.cleanups.size) return this.transport.close();
    void this.cleanedUp().then(() => {
      this.warnLeft();
      this.transport.close();
    });
  }

  /** Every target of the run (each set's list): an interrupted run's line names the tag PUTs cut off at any of them. */
  private readonly made: TransferTarget[] = [];

  /** The run's sessions left behind (UploadSessions.left) that a failure's line or warnLeft has named. */
  private readonly leftNamed = new Set<LeftSession>();

  /**
   * Warns once of the sessions left behind that no failure's line named: a run that succeeded
   * after a request was cut in the middle of its body (the blob went again on a new session). The
   * cut session is harmless to the image, but its bytes may stay in the registry's upload area until
   * the registry purges stale uploads (never, where purging is off), which its owner should know
   * of: a warning, which `--quiet` keeps, not a note.
   */
  private warnLeft(): void {
    const sessions = this.ctx.sessions!;
    const unnamed = sessions.left.filter((s) => !this.leftNamed.has(s));
    for (const s of unnamed) this.leftNamed.add(s);
    const line = sessions.describeLeft(unnamed);
    if (line) this.logger.warn(line);
  }
}

/** The endpoints of `targets`, which the sessions opened for them carry (TrackedSession.target). */
function endpointsOf(targets: readonly TransferTarget[]): Set<object> {
  return new Set<object>(targets.map((t) => t.ep));
}

/**
 * `e` with `left` (the upload sessions it left in the registry) on its one line, on a copy: the
 * error may be shared (stoppedBy, a scheme probe's rejection every read of a sync meets), and a
 * sync reports per image and per target, so writing into it would give one line another's count.
 */
function withLeft(e: unknown, left: string | undefined): unknown {
  if (left && e instanceof RegpushError && !e.message.includes(left)) return errorForCode(e.code, `${e.message}; ${left}`, { details: { ...e.details }, cause: e.cause });
  return e;
}

/** The tags (`registry/repository:tag`) whose manifest PUT the interruption cut off at `targets` (TransferTarget.tagsCut). */
function tagsCut(targets: readonly TransferTarget[]): string[] {
  // Each once: copy --all-tags records a tag's on the copy's target as well as on its own set's (all-tags.ts).
  return [...new Set(targets.flatMap((t) => (t.tagsCut ?? []).map((tag) => `${t.ref.registry}/${t.ref.repository}:${tag}`)))];
}

/**
 * What an operation reports once the caller's signal has fired (Ctrl-C): an AbortedError, whatever
 * failure the abort caused further down (a destroyed stream, a cancelled request). Else `err` as is.
 * `sessionsLeft` names the upload sessions the registry did not let the run cancel (none: absent);
 * `cut` the tags whose manifest PUT was on its way when the signal fired: the registry may have
 * taken it (its answer is what was cut), so the line does not say that no tag was written.
 */
function abortedOr(err: unknown, signal: AbortSignal | undefined, sessionsLeft?: string, cut: readonly string[] = []): unknown {
  if (!signal?.aborted) return err;
  const sessions = sessionsLeft ?? 'every upload session that was open was completed or cancelled';
  const tags = cut.length
    ? `the manifest PUT${cut.length === 1 ? ' of' : 's of'} ${cut.join(', ')} ${cut.length === 1 ? 'was' : 'were'} cut off ` +
      'and may have taken effect at the registry; no tag was sent after the interruption'
    : 'no tag was written after the interruption';
  // The caller's reason (AbortSignal.timeout's TimeoutError, the Error given to abort()) is the
  // cause: what the abort did further down (a cancelled request) says nothing the caller needs.
  return new AbortedError(`interrupted: ${tags}; ${sessions}`, { cause: signal.reason });
}
