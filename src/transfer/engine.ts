/**
 * The transfer engine: what push, copy and sync do with one or more targets, in one place.
 *
 *   TransferRun   one operation: its transport, its abort signal, what it learns about each
 *                 registry's uploads, where it has landed blobs. Closing it closes the sockets.
 *   TargetSet     the targets of one image: connected with their scopes, planned blob by blob
 *                 (skip / mount / stream / foreign), moved with one read for all of them (the
 *                 tee), each blob confirmed as it lands, failed targets set aside, manifests
 *                 written only at targets that hold every blob, per-target results and the
 *                 partial-failure error.
 *
 * With one target a set is fail-fast: its first failure is the operation's, and every request
 * still running is cancelled. With several, a failing target is set aside and the others go on.
 */
import { setMaxListeners } from 'node:events';
import pLimit, { type LimitFunction } from 'p-limit';
import { abortedOr, AbortedError, InternalError, PartialFailureError, RegistryError, RegpushError, UsageError } from '../errors.js';
import { isForeignLayer } from '../image/mediatypes.js';
import type { Descriptor } from '../image/types.js';
import { silentLogger, type Logger } from '../log.js';
import { formatReference, type ImageReference } from '../ref/reference.js';
import { ClientMemory, connect, transportFor, type ConnectionOptions } from '../registry/connect.js';
import { CANCEL_TIMEOUT_MS } from '../registry/client.js';
import { UploadSessions } from './sessions.js';
import { UploadMemory } from '../registry/quirks.js';
import type { Transport } from '../http/transport.js';
import { largestFirst, moveBlobToMany, planBlob } from './blobs.js';
import { LandedBlobs, statedKey, type BlobEvents, type BlobReport, type PlanAction, type RepoEndpoint, type TransferContext } from './types.js';
// A 201 is not an upload's confirmation on every registry (Aliyun ACR; docs/registry-quirks.md).
import { headsAfterUpload } from '../registry/quirks.js';

/**
 * Default parallel blob transfers. Measured (2026-11-27, 2 vCPU, cold cross-registry push of a
 * 322 MB four-layer base between two local registries, 3 interleaved rounds): --jobs 1/2/4/8 took
 * 3.18/2.83/2.88/3.13 s (medians). 2 and 4 are equal within noise; 4 keeps every layer of a
 * typical base in flight, and more only adds contention with the registries for the two cores.
 */
export const DEFAULT_JOBS = 4;

/** The longest settle() waits: an interrupted upload request's grace, then the DELETE of its session. */
const SETTLE_MS = 2 * CANCEL_TIMEOUT_MS + 1_000;

/** HEADs in flight while planning: cheap requests, so more than --jobs. */
const MIN_PLAN_CONCURRENCY = 8;

/** Checks a --jobs value; the one rule for every command. */
export function checkJobs(jobs: number | undefined, flag = '--jobs'): number {
  const n = jobs ?? DEFAULT_JOBS;
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`${flag} must be a whole number from 1 to 64 (got ${jobs})`);
  return n;
}

/** What a run needs from the operation's options. */
export interface TransferRunOptions extends ConnectionOptions {
  logger?: Logger;
  retries?: number;
  events?: BlobEvents;
  /** Parallel blob transfers per image (checked with checkJobs). */
  jobs?: number;
  /** Track where blobs land so later repositories of a registry mount them (sync). */
  trackLanded?: boolean;
}

/** One operation's transfer state. */
export class TransferRun {
  readonly transport: Transport;
  readonly ctx: TransferContext;
  readonly jobs: number;
  readonly logger: Logger;
  private readonly abort = new AbortController();
  private readonly conn: ConnectionOptions;
  /** Schemes, tokens, credentials and mirror health learned once for every client of the run. */
  private readonly auth = new ClientMemory();
  private readonly onOuterAbort = () => this.abort.abort();
  /** The failure that made a fail-fast set stop the run, reported instead of the aborts it caused. */
  private stoppedBy: unknown;

  constructor(private readonly opts: TransferRunOptions) {
    this.jobs = checkJobs(opts.jobs);
    this.logger = opts.logger ?? silentLogger;
    // Every in-flight request and open body listens on it; the default of 10 would warn falsely.
    setMaxListeners(1000, this.abort.signal);
    opts.signal?.addEventListener('abort', this.onOuterAbort, { once: true });
    this.conn = { ...opts, signal: this.abort.signal };
    this.transport = transportFor({ ...opts, logger: this.logger });
    this.ctx = {
      transport: this.transport,
      signal: this.abort.signal,
      events: opts.events,
      uploads: new UploadMemory({ chunkSize: opts.chunkSize }),
      landed: opts.trackLanded ? new LandedBlobs() : undefined,
      stated: new Set(),
      sessions: new UploadSessions(),
    };
  }

  /** The run's own signal: the caller's, and the stop of a fail-fast set. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** A source repository, read with pull scope and the `from` credentials. */
  source(ref: ImageReference): RepoEndpoint {
    return { repo: ref.repository, client: connect(this.transport, ref.registry, 'from', [{ repo: ref.repository, actions: ['pull'] }], this.conn, this.auth) };
  }

  /**
   * The targets of one image. Each client asks for pull+push on its repository and, on the
   * source's registry, pull on the source repository (a cross-repository mount needs both).
   */
  targets(specs: { ref: ImageReference; tags: string[] }[], sourceRef?: ImageReference, mode: TargetSetMode = {}): TargetSet {
    const list = specs.map(({ ref, tags }): TransferTarget => ({
      ref,
      tags,
      plans: new Map(),
      present: new Set(),
      blobs: [],
      ep: {
        repo: ref.repository,
        client: connect(this.transport, ref.registry, 'to', [
          { repo: ref.repository, actions: ['pull', 'push'] },
          ...(sourceRef && sourceRef.registry === ref.registry && sourceRef.repository !== ref.repository ? [{ repo: sourceRef.repository, actions: ['pull' as const] }] : []),
        ], this.conn, this.auth),
      },
    }));
    return new TargetSet(list, this, { failFast: mode.failFast ?? list.length === 1, stopRun: mode.stopRun ?? false });
  }

  /** Cancels every request of the run because of `err` (a fail-fast set's first failure). */
  stop(err: unknown): void {
    if (this.abort.signal.aborted) return;
    this.stoppedBy = err;
    this.abort.abort();
  }

  /**
   * The error to report for `err`: a step that failed because the run was stopped reports the
   * failure that stopped it; a caller's abort is E_ABORTED.
   */
  failure(err: unknown): unknown {
    const sessions = this.ctx.sessions!;
    const left = sessions.describeLeft();
    if (this.opts.signal?.aborted) return abortedOr(err, this.opts.signal, left ?? (sessions.pending ? `${sessions.pending} upload session(s) were still being cancelled` : undefined));
    const e = err instanceof AbortedError && this.stoppedBy !== undefined ? this.stoppedBy : err;
    // The failure's one line also names what it left in the registry (once: a sync reports per image).
    if (left && e instanceof RegpushError && !e.message.includes(left)) e.message = `${e.message}; ${left}`;
    return e;
  }

  /**
   * Waits (bounded) until every upload session of the run is completed, cancelled or known to be
   * left, so that failure() can say which stay: an interrupted request's grace, then its DELETE.
   */
  async settle(): Promise<void> {
    await this.ctx.sessions!.settled(SETTLE_MS);
  }

  /** The first rejection among `settled` that is not an abort this run caused itself. */
  firstFailure(settled: PromiseSettledResult<unknown>[]): unknown {
    const own = (s: PromiseSettledResult<unknown>) => s.status === 'rejected' && !(s.reason instanceof AbortedError && !this.opts.signal?.aborted);
    const f = settled.find(own) ?? settled.find((s) => s.status === 'rejected');
    return f && f.status === 'rejected' ? f.reason : undefined;
  }

  /** Stops work nobody waits for any more and closes idle sockets. */
  close(): void {
    this.opts.signal?.removeEventListener('abort', this.onOuterAbort);
    this.abort.abort();
    this.transport.close();
  }
}

/** How a target set treats a failure. */
export interface TargetSetMode {
  /** The first failure is the operation's (default: when there is one target); else the target is set aside and the others go on. */
  failFast?: boolean;
  /**
   * With failFast, also cancel every request still running (push: its layer upload stops at
   * once). Without it, transfers in flight finish or fail on their own and nothing new starts,
   * so every upload session they opened is completed or cancelled.
   */
  stopRun?: boolean;
}

/** One target repository of an image and what happened there. */
export interface TransferTarget {
  ref: ImageReference;
  ep: RepoEndpoint;
  /** Tags to write. */
  tags: string[];
  /** What planning decided per blob digest. */
  plans: Map<string, PlanAction>;
  /** Blobs known to be at the target in this run (skipped, confirmed, or seen by the caller). */
  present: Set<string>;
  /** One line per blob moved (or planned, in a dry run). */
  blobs: BlobReport[];
  /** Why this target was set aside. */
  failed?: RegpushError;
}

/** A manifest to write: by digest (an index's child, a referrer) or under tags. */
export interface ManifestToWrite {
  digest: string;
  bytes: Buffer;
  mediaType: string;
}

/** What commitManifests did at one target. */
export interface CommitResult {
  /** Digest of the top manifest (what the tags point at). */
  digest: string;
  /** Tags actually written. */
  written: string[];
  /** Tags that already held this manifest, so were not written again. */
  unchanged: string[];
}

/** The targets of one image, moved together. */
export class TargetSet {
  constructor(
    readonly list: TransferTarget[],
    private readonly run: TransferRun,
    private readonly mode: Required<TargetSetMode>,
    /** --jobs blob transfers at a time, shared with the set's subsets. */
    private readonly limit: LimitFunction = pLimit(run.jobs),
    /** Landings this set announced (for mounts by other images of the run), settled as blobs land or at finish(). */
    private readonly landings = new Map<string, (ok: boolean) => void>(),
    /** Targets waiting for another image's landing of a blob (in their own repository, or one to mount from). */
    private readonly waits = new Map<string, { sameRepo: boolean; landing: Promise<string | undefined> }>(),
    /** Blobs each target confirmed by its upload's 201 alone (no HEAD): checked again on MANIFEST_BLOB_UNKNOWN. */
    private readonly takenOnWord = new Map<TransferTarget, Set<string>>(),
  ) {}

  /** A set over some of these targets (the same objects: a target set aside there is set aside here). */
  subset(list: TransferTarget[]): TargetSet {
    return new TargetSet(list, this.run, this.mode, this.limit, this.landings, this.waits, this.takenOnWord);
  }

  /** The run's transfer context (transport, signal, upload memory). */
  get ctx(): TransferContext {
    return this.run.ctx;
  }

  get logger(): Logger {
    return this.run.logger;
  }

  /** Targets not set aside. */
  get live(): TransferTarget[] {
    return this.list.filter((t) => !t.failed);
  }

  /** Targets set aside. */
  get failed(): TransferTarget[] {
    return this.list.filter((t) => t.failed);
  }

  /** With one target its failure is the operation's. */
  get failFast(): boolean {
    return this.mode.failFast;
  }

  /** Sets `t` aside because of `err`; in a fail-fast set, rethrows (and, with stopRun, cancels the run). */
  setAside(t: TransferTarget, err: unknown): void {
    const first = !t.failed;
    t.failed ??= asRegpushError(err);
    if (this.mode.failFast) {
      if (this.mode.stopRun) this.run.stop(err);
      throw err;
    }
    if (first) this.run.logger.warn(`${formatReference(t.ref)}: ${t.failed.message}; the other targets go on`);
  }

  /** Runs `step` for every live target at once; a step that throws sets its target aside. */
  async each(step: (t: TransferTarget) => Promise<void>): Promise<void> {
    await Promise.all(
      this.live.map(async (t) => {
        try {
          await step(t);
        } catch (err) {
          this.setAside(t, err);
        }
      }),
    );
  }

  /**
   * Plans every blob at every live target (a HEAD each, bounded), recording the plans on the
   * targets. A blob this run has landed (or is landing) in another repository of the same
   * registry is planned as a mount from there.
   */
  async plan(source: RepoEndpoint, blobs: readonly Descriptor[]): Promise<void> {
    const heads = pLimit(Math.max(this.run.jobs, MIN_PLAN_CONCURRENCY));
    await this.each(async (t) => {
      await Promise.all(blobs.map((d) => heads(() => this.planOne(t, source, d))));
    });
  }

  /**
   * The plan of `d` at `t`, made once. With the run's record of landed blobs: a blob another
   * image is landing in this very repository is waited for and skipped; one landed (or landing)
   * in another repository of the registry is mounted from there; otherwise this target claims
   * the landing, for the images after it.
   */
  private async planOne(t: TransferTarget, source: RepoEndpoint, d: Descriptor): Promise<PlanAction> {
    let plan = t.plans.get(d.digest);
    if (plan) return plan;
    // Known present (the warm path saw a manifest there that names it): no HEAD.
    plan = t.present.has(d.digest) ? 'skip' : await planBlob(d, source, t.ep);
    const landed = this.run.ctx.landed;
    const registry = t.ep.client.registry;
    const key = landingKey(t, d.digest);
    if (landed && plan === 'skip') landed.note(registry, d.digest, t.ep.repo, Promise.resolve());
    else if (landed && (plan === 'stream' || plan === 'mount') && !this.landings.has(key)) {
      const here = landed.claimed(registry, t.ep.repo, d.digest);
      const elsewhere = registry === source.client.registry ? undefined : landed.find(registry, d.digest);
      if (here) {
        this.waits.set(key, { sameRepo: true, landing: here.then((ok) => (ok ? t.ep.repo : undefined)) });
        plan = 'mount';
      } else {
        if (elsewhere && plan === 'stream') {
          this.waits.set(key, { sameRepo: false, landing: elsewhere });
          plan = 'mount';
        }
        this.claim(t, d.digest, key);
      }
    }
    t.plans.set(d.digest, plan);
    if (plan === 'skip') t.present.add(d.digest);
    return plan;
  }

  /** Records that `t` is about to land `digest` in its repository; settled when confirmed, or withdrawn by finish(). */
  private claim(t: TransferTarget, digest: string, key: string): void {
    let settle!: (ok: boolean) => void;
    const landing = new Promise<void>((resolve, reject) => (settle = (ok) => (ok ? resolve() : reject(new Error('not landed')))));
    landing.catch(() => undefined);
    this.run.ctx.landed!.note(t.ep.client.registry, digest, t.ep.repo, landing);
    this.landings.set(key, settle);
  }

  /** The dry-run report of the plan at `t`. */
  plannedReports(t: TransferTarget, blobs: readonly Descriptor[]): BlobReport[] {
    return blobs.map((d) => {
      const plan = t.plans.get(d.digest);
      const action = plan === 'skip' ? 'skipped' : plan === 'foreign' ? 'foreign' : plan === 'mount' ? 'planned-mount' : 'planned-stream';
      return { digest: d.digest, size: d.size, mediaType: d.mediaType, action, bytes: 0, retries: 0, resumes: 0 };
    });
  }

  /**
   * Moves every blob to every live target that lacks it, largest first, --jobs at a time; the
   * source is read once per blob for all targets that need a stream. Each blob is confirmed
   * (HEAD) as soon as it lands, so the checks overlap the blobs still moving. Resolves when all
   * have settled; in a fail-fast set, rejects with the first failure.
   */
  async transfer(source: RepoEndpoint, blobs: readonly Descriptor[]): Promise<void> {
    await this.plan(source, blobs); // made once: a no-op for blobs planned already
    const tasks: Promise<void>[] = [];
    for (const d of largestFirst(blobs)) {
      const waiting = this.live.filter((t) => this.waits.has(landingKey(t, d.digest)));
      const ready = this.live.filter((t) => !waiting.includes(t));
      if (ready.length) tasks.push(this.limit(() => this.moveOne(source, d, ready)));
      // A target that needs another image's landing waits for it without holding a transfer slot,
      // and on its own: its set's other targets go on (one of them may be the landing another
      // image waits for), so images waiting on each other's blobs cannot deadlock.
      for (const t of waiting) tasks.push(this.afterLanding(source, d, t));
    }
    const failure = this.run.firstFailure(await Promise.allSettled(tasks));
    if (failure !== undefined) throw failure;
  }

  /** Moves `d` to `t` once the landing it waits for has settled: skipped (same repository), mounted, or streamed after all. */
  private async afterLanding(source: RepoEndpoint, d: Descriptor, t: TransferTarget): Promise<void> {
    const key = landingKey(t, d.digest);
    const wait = this.waits.get(key)!;
    const from = await wait.landing;
    this.waits.delete(key);
    if (t.failed) return;
    if (wait.sameRepo && from !== undefined) {
      t.blobs.push({ digest: d.digest, size: d.size, mediaType: d.mediaType, action: 'skipped', bytes: 0, retries: 0, resumes: 0 });
      t.present.add(d.digest);
      return;
    }
    if (from === undefined) {
      // The landing failed: this target moves the blob itself, and claims it for the others.
      t.plans.set(d.digest, 'stream');
      if (wait.sameRepo) this.claim(t, d.digest, key);
    }
    await this.limit(() => this.moveOne(source, d, [t]));
  }

  private async moveOne(source: RepoEndpoint, d: Descriptor, targets: TransferTarget[]): Promise<void> {
    const ts = targets.filter((t) => !t.failed && t.plans.has(d.digest));
    if (!ts.length) return;
    const results = await moveBlobToMany(d, source, ts.map((t) => t.ep), this.run.ctx, ts.map((t) => t.plans.get(d.digest)));
    await Promise.all(
      results.map(async (r, k) => {
        const t = ts[k]!;
        if (r.status !== 'fulfilled') return this.setAside(t, r.reason);
        t.blobs.push(r.value);
        if (r.value.action === 'skipped' || r.value.action === 'foreign') return;
        try {
          await this.confirm(t, d.digest);
          this.landings.get(landingKey(t, d.digest))?.(true);
        } catch (err) {
          this.setAside(t, err);
        }
      }),
    );
  }

  /**
   * Records `digest`, which `t` has just accepted, as present. The registry's 201 naming the
   * digest is the confirmation; without one (200/204, no digest header, a mount), or on a
   * registry known to answer 201 before the blob can be read (headsAfterUpload), a HEAD is.
   * E_REGISTRY when the HEAD does not find it.
   */
  async confirm(t: TransferTarget, digest: string): Promise<void> {
    const registry = t.ep.client.registry;
    if (this.run.ctx.stated?.has(statedKey(registry, t.ep.repo, digest)) && !headsAfterUpload(registry)) {
      t.present.add(digest);
      let word = this.takenOnWord.get(t);
      if (!word) this.takenOnWord.set(t, (word = new Set()));
      word.add(digest);
      return;
    }
    await this.headConfirm(t, digest);
  }

  private async headConfirm(t: TransferTarget, digest: string): Promise<void> {
    if ((await t.ep.client.headBlob(t.ep.repo, digest)) === undefined) {
      throw new RegistryError(`blob ${digest} is missing at ${t.ref.registry}/${t.ref.repository} after upload; no manifest written`);
    }
    t.present.add(digest);
  }

  /**
   * Before any manifest: every non-foreign blob the manifests name must be at the target (Aliyun
   * ACR has accepted a blob it could not serve yet: GoogleContainerTools/jib#2868,
   * GoogleContainerTools/kaniko#3164; docs/registry-quirks.md). Blobs are
   * confirmed as they land; this HEADs the rest, which the target neither skipped nor had
   * confirmed in this run — normally none.
   */
  async confirmAll(layersAndConfigs: readonly Descriptor[]): Promise<void> {
    const heads = pLimit(Math.max(this.run.jobs, MIN_PLAN_CONCURRENCY));
    await this.each(async (t) => {
      const todo = new Set(layersAndConfigs.filter((d) => !isForeignLayer(d) && !t.present.has(d.digest)).map((d) => d.digest));
      await Promise.all([...todo].map((d) => heads(() => this.confirm(t, d))));
    });
  }

  /**
   * Writes the manifests at `t`: `children` by digest first (an index's images), then `top` under
   * every tag in `tags` (default: the target's; by digest when there are none). A tag known to hold these very bytes
   * already (`held`) is not written again, nor are the children of an index it holds: the
   * registry checked them when that index was written. So an unchanged re-run writes nothing, and
   * a registry with immutable tags does not refuse a no-op.
   */
  async commitManifests(t: TransferTarget, top: ManifestToWrite, children: readonly ManifestToWrite[] = [], held: ReadonlySet<string> = new Set(), tags: readonly string[] = t.tags): Promise<CommitResult> {
    const unchanged = tags.filter((tag) => held.has(tag));
    if (unchanged.length === 0 || children.length === 0) {
      for (const c of unchanged.length ? [] : children) await this.putManifest(t, c.digest, c);
    }
    const written: string[] = [];
    for (const tag of tags) {
      if (held.has(tag)) continue;
      await this.putManifest(t, tag, top); // checks the registry's digest
      written.push(tag);
    }
    if (tags.length === 0) await this.putManifest(t, top.digest, top);
    return { digest: top.digest, written, unchanged };
  }

  /**
   * PUTs a manifest. When the registry answers MANIFEST_BLOB_UNKNOWN and some blob of `t` was
   * taken on its 201's word, those blobs are HEADed (E_REGISTRY when one is missing) and the PUT
   * is sent once more: a registry whose 201 came before the blob was readable gets that time.
   */
  private async putManifest(t: TransferTarget, ref: string, m: ManifestToWrite): Promise<void> {
    try {
      await t.ep.client.putManifest(t.ep.repo, ref, m.bytes, m.mediaType);
    } catch (err) {
      const word = this.takenOnWord.get(t);
      if (!word?.size || !(err instanceof RegpushError) || !err.details.registryCodes?.includes('MANIFEST_BLOB_UNKNOWN')) throw err;
      t.ep.client.logger.info(`${t.ref.registry} did not find a blob of ${formatReference(t.ref)} it had accepted; checking ${word.size} blob(s) and writing the manifest once more`);
      const heads = pLimit(Math.max(this.run.jobs, MIN_PLAN_CONCURRENCY));
      await Promise.all([...word].map((d) => heads(() => this.headConfirm(t, d))));
      word.clear();
      await t.ep.client.putManifest(t.ep.repo, ref, m.bytes, m.mediaType);
    }
  }

  /** The per-target error line of a report. */
  static summary(t: TransferTarget): { code: string; message: string } | undefined {
    return t.failed ? { code: t.failed.code, message: t.failed.message } : undefined;
  }

  /**
   * E_PARTIAL naming every failed target (with `result` in its details, for --json), or undefined
   * when none failed. When every target failed, the first one's own error.
   */
  outcome(what: string, result: unknown): RegpushError | undefined {
    const failed = this.failed;
    if (!failed.length) return undefined;
    if (failed.length === this.list.length) return failed[0]!.failed;
    return new PartialFailureError(
      `${failed.length} of ${this.list.length} ${what} failed: ${failed.map((t) => `${formatReference(t.ref)} (${t.failed!.code}: ${t.failed!.message})`).join('; ')}`,
      { details: { result, failed: failed.map((t) => formatReference(t.ref)) } },
    );
  }

  /** Withdraws the landings this set announced but did not confirm (a failed target, a dry run, an error). */
  finish(): void {
    for (const settle of this.landings.values()) settle(false); // a settled promise ignores a second call
    this.landings.clear();
  }
}

function landingKey(t: TransferTarget, digest: string): string {
  return `${t.ep.client.registry}/${t.ep.repo} ${digest}`;
}

/** Any error as a RegpushError (a bug's error keeps its message, code E_INTERNAL). */
export function asRegpushError(err: unknown): RegpushError {
  return err instanceof RegpushError ? err : new InternalError(String((err as Error)?.message ?? err), { cause: err });
}
