/**
 * The targets of one image, moved together: planned blob by blob (skip / mount / stream /
 * foreign), moved with one read for all of them (the tee), each blob confirmed as it lands, failed
 * targets set aside, manifests written only at targets that hold every blob, per-target results
 * and the partial-failure error. A TransferRun (engine.ts) connects the targets with their scopes,
 * makes the set (TransferRun.targets) and holds what the sets of a run share (SetOwner).
 * What a set started early for its largest layer is an EarlyStarts (early-start.ts); its part in
 * the landings across the images of a run (sync, copy --all-tags) is a Landings (landings.ts).
 *
 * With one target a set is fail-fast: its first failure is the operation's, and every request
 * still running is cancelled. With several, a failing target is set aside and the others go on.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { asRegpushError, errorForCode, PartialFailureError, RegistryError, RegpushError, type ErrorCode } from '../errors.js';
import { isForeignLayer } from '../image/mediatypes.js';
import type { Descriptor } from '../image/types.js';
import type { Logger } from '../log.js';
import { formatReference } from '../ref/reference.js';
import { largestFirst, moveBlobToMany, planBlob, type Early } from './blobs.js';
import { EarlyStarts } from './early-start.js';
import { landingKey, Landings } from './landings.js';
import { MIN_PLAN_CONCURRENCY } from './concurrency.js';
import { ManifestCommit, type CommitResult, type ManifestToWrite } from './manifest-commit.js';
import type { MountResult } from '../registry/registry-client.js';
import { statedKey, type BlobReport, type PlanAction, type RepoEndpoint, type TransferContext, type TransferTarget } from './types.js';
import type { BlobAction, BlobEvents } from './blob-report.js';
// A 201 is not an upload's confirmation on every registry (Aliyun ACR; docs/registry-quirks.md).
import { headsAfterUpload } from '../registry/quirks.js';

/**
 * What a set needs of the operation it belongs to. TransferRun (engine.ts) is the one, and makes
 * the sets (TransferRun.targets); named here so that this file does not import it back.
 */
export interface SetOwner {
  readonly ctx: TransferContext;
  /** Parallel blob transfers per image (--jobs). */
  readonly jobs: number;
  /** Small blobs' own slots (SMALL_BLOB_JOBS), or undefined when they share --jobs. */
  readonly smallBlobJobs: number | undefined;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Plan only: nothing may be opened at a target. */
  readonly dryRun: boolean;
  /** Repositories ("registry/repo") where a speculative start found its blob present: the run plans HEAD first there. */
  readonly headFirstRepos: Set<string>;
  /** Target registries a set-aside warning has been given for in the run (TargetSetMode.asideWarnedOncePerRegistry). */
  readonly asideWarned: Set<string>;
  /** Stops the whole operation (a fail-fast set with stopRun). */
  stop(err: unknown): void;
  /** The first rejection among `settled` that is not an abort the run caused itself. */
  firstFailure(settled: PromiseSettledResult<unknown>[]): unknown;
  /** The set has finished: the owner no longer holds it. */
  setFinished(set: TargetSet): void;
  /** Keeps a clean-up (never rejects) until it settles. */
  track(p: Promise<void>): void;
  /** Settles when every clean-up started so far has. */
  cleanedUp(): Promise<void>;
}

/**
 * With the default --jobs, blobs under this size move beside its slots, SMALL_BLOB_JOBS at a time.
 * --jobs bounds the layers that share the link and the buffers; a config or an attestation's
 * layer is a round trip or two and almost no bytes, and a multi-platform image has dozens of them:
 * at 4 at a time, 32 of them took 8 rounds of POST → PUT on an 80 ms link (the bench's copy-multi
 * row). A --jobs the user gives bounds every blob: it may be there for a registry that cannot
 * take more.
 */
export const SMALL_BLOB_BYTES = 1024 * 1024;
export const SMALL_BLOB_JOBS = 16;

/** The transfer slots of a set and its subsets: --jobs for blobs of SMALL_BLOB_BYTES or more, and for smaller ones SMALL_BLOB_JOBS beside them (default --jobs) or the same slots. */
interface TransferSlots {
  large: LimitFunction;
  small: LimitFunction;
}

function transferSlots(run: SetOwner): TransferSlots {
  const large = pLimit(run.jobs);
  return { large, small: run.smallBlobJobs === undefined ? large : pLimit(run.smallBlobJobs) };
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
  /**
   * The operation reports every image's failed targets on lines of its own (sync's unit lines, its
   * report): a target set aside is warned of once per target registry in the run, the later ones
   * only in debug. A registry refusing every image of a 2,000-image sync would otherwise add a
   * warning per image, under --quiet too, where the unit lines are left out.
   */
  asideWarnedOncePerRegistry?: boolean;
  /**
   * The image this set moves, where several move at once (a sync's unit, a tag of copy
   * --all-tags): its source reference, passed to the blob events (start, bytes, end) as their
   * last argument, so a caller can tell which image a blob's progress belongs to. Absent: not
   * passed (push, copy of one image).
   */
  image?: string;
}

/** `events` with the blob events given `image` as their last argument (the others as they are). */
function namingImage(events: BlobEvents | undefined, image: string): BlobEvents | undefined {
  if (!events) return undefined;
  const { start, bytes, end } = events;
  return {
    ...events,
    ...(start ? { start: (digest: string, action: BlobAction, size: number | undefined, target?: string) => start(digest, action, size, target, image) } : {}),
    ...(bytes ? { bytes: (digest: string, n: number) => bytes(digest, n, image) } : {}),
    ...(end ? { end: (report: BlobReport, target?: string) => end(report, target, image) } : {}),
  };
}

/** One target repository of an image: kept in types.ts, which early-start.ts and landings.ts share with this file. */
export type { TransferTarget } from './types.js';

/** The targets of one image, moved together. */
export class TargetSet {
  constructor(
    readonly list: TransferTarget[],
    private readonly run: SetOwner,
    private readonly mode: Required<Omit<TargetSetMode, 'image'>> & Pick<TargetSetMode, 'image'>,
    /** Blob transfers at a time (TransferSlots), shared with the set's subsets. */
    private readonly slots: TransferSlots = transferSlots(run),
    /** The landings this set announced for the run's other images, and those its targets wait for (landings.ts). */
    private readonly landings = new Landings(run),
    /** The requests sent with a blob's plan's HEAD (the speculative start, early-start.ts), until a transfer takes them or they are released. */
    private readonly early = new EarlyStarts(run),
    /** Per blob digest: the move of a blob started early, begun by plan() (transfer() waits for it). */
    private readonly moving = new Map<string, Promise<void>>(),
    /** Per target and blob (landingKey): its move under way, started by transfer() for one image of this set. */
    private readonly underWay = new Map<string, Promise<void>>(),
  ) {}

  /** A set over some of these targets (the same objects: a target set aside there is set aside here). */
  subset(list: TransferTarget[]): TargetSet {
    return new TargetSet(list, this.run, this.mode, this.slots, this.landings, this.early, this.moving, this.underWay);
  }

  /** The run's transfer context (transport, signal, upload memory). */
  get ctx(): TransferContext {
    return this.run.ctx;
  }

  /** The run's context for this set's blob moves: the same, its blob events naming the image (mode.image) where one is named. */
  private get movesCtx(): TransferContext {
    if (this.mode.image === undefined) return this.run.ctx;
    return (this.namedCtx ??= { ...this.run.ctx, events: namingImage(this.run.ctx.events, this.mode.image) });
  }

  private namedCtx: TransferContext | undefined;

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

  /** Sets `t` aside because of `err`; in a fail-fast set, or for a local input error, rethrows (and, with stopRun, cancels the run). */
  setAside(t: TransferTarget, err: unknown): void {
    const first = !t.failed;
    t.failed ??= asRegpushError(err);
    // What it was landing for the run's other images will not land: they stop waiting for it now
    // (and move the blob themselves), not when this image ends, which may itself wait for one of
    // theirs (two images of a sync failing at one registry would otherwise wait on each other).
    this.landings.settleAt(t, false);
    // A local input error (a layer's file that cannot be read) is every target's: setting one
    // target aside would say "the other targets go on" and then fail them all with it.
    if (this.mode.failFast || t.failed.code === 'E_INPUT') {
      if (this.mode.stopRun) this.run.stop(err);
      throw err;
    }
    // Said only while it is true: not when the run is being stopped (Ctrl-C sets every target
    // aside), nor for the last target going (a sync image's only one), whose failure the
    // operation's own result and error line say.
    if (!first || this.run.signal.aborted || this.live.length === 0) return;
    const line = `${formatReference(t.ref)}: ${t.failed.message}; the other targets go on`;
    if (!this.mode.asideWarnedOncePerRegistry) this.run.logger.warn(line);
    else if (this.run.asideWarned.has(t.ref.registry)) this.run.logger.debug(line);
    else {
      this.run.asideWarned.add(t.ref.registry);
      this.run.logger.warn(`${line} (later images failing at ${t.ref.registry} are not warned of again: each image's result says where it failed)`);
    }
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
   * A dry run's check that the credentials may write to each live target, asked once its reads
   * have gone (RegistryClient.writeAccess: the token they were sent with says what it grants, where
   * it says). A target they may not write to is set aside with the error its write would meet, as
   * the run would set it aside; one where that cannot be told says why (writeNotChecked). A client
   * that cannot be asked (a test's) is left as it is.
   */
  async checkWrites(): Promise<void> {
    await this.each(async (t) => {
      const access = await t.ep.client.writeAccess?.(t.ep.repo);
      if (access?.kind === 'denied') throw access.error;
      if (access?.kind === 'unchecked') t.writeNotChecked = access.why;
    });
  }

  /**
   * Plans every blob at every live target (a HEAD each, bounded), recording the plans on the
   * targets. A blob this run has landed (or is landing) in another repository of the same
   * registry is planned as a mount from there.
   */
  async plan(source: RepoEndpoint, blobs: readonly Descriptor[]): Promise<void> {
    const heads = pLimit(Math.max(this.run.jobs, MIN_PLAN_CONCURRENCY));
    const first = this.early.start(source, blobs, this.live, (digest) => this.moving.has(digest), (t, digest) => this.landings.claim(t, digest));
    this.landings.claimAhead(blobs, this.live);
    // The blob started early moves as soon as its own HEADs have answered, not after every
    // blob's: transfer() then waits for that move instead of starting it. A target waiting for
    // another image's landing of it is left out: inside the move it would wait in a --jobs slot
    // (and hold the other targets' tee back), or mount into a repository still being written;
    // transfer() moves it once that landing has settled (Landings.afterLanding).
    const own = first ? this.each(async (t) => void (await this.planOne(t, source, first))) : undefined;
    if (first && own) {
      const moving = own.then(() => {
        this.early.releaseUnneeded([first], (t, digest) => this.landings.waiting(t, digest));
        const ready = this.live.filter((t) => !this.landings.waiting(t, first.digest));
        return ready.length ? this.slot(first)(() => this.moveOne(source, first, ready)) : undefined;
      });
      moving.catch(() => undefined); // awaited by transfer(); an error before it must not go unhandled
      this.moving.set(first.digest, moving);
    }
    try {
      await Promise.all([
        own,
        this.each(async (t) => {
          await Promise.all(blobs.filter((d) => d !== first).map((d) => heads(() => this.planOne(t, source, d))));
        }),
      ]);
    } finally {
      this.early.releaseUnneeded(blobs, (t, digest) => this.landings.waiting(t, digest));
    }
  }

  /**
   * The plan of `d` at `t`, made once. With the run's record of landed blobs: a blob another
   * image is landing in this very repository is waited for and skipped; one landed (or landing)
   * in another repository of the registry is mounted from there; otherwise this target claims
   * the landing, for the images after it.
   */
  private async planOne(t: TransferTarget, source: RepoEndpoint, d: Descriptor): Promise<PlanAction> {
    let plan = t.plans.get(d.digest);
    // Landed here since it was planned (by an earlier image of this set: copy --all-tags with two
    // tags on one image): skipped now, not streamed a second time.
    if (plan && plan !== 'skip' && t.present.has(d.digest)) t.plans.set(d.digest, (plan = 'skip'));
    if (plan) return plan;
    const mount = this.early.mountAt(d.digest, t);
    // Known present (the warm path saw a manifest there that names it): no HEAD.
    plan = t.present.has(d.digest) ? 'skip' : await planOrMounted(d, source, t.ep, mount);
    // A mount sent with the HEAD may have linked the blob before the HEAD looked: it was mounted.
    if (plan === 'skip' && mount && (await mount.peek())?.mounted) plan = 'mount';
    plan = this.landings.planned(t, source, d, plan);
    t.plans.set(d.digest, plan);
    if (plan === 'skip') t.present.add(d.digest);
    return plan;
  }

  /**
   * The dry-run report of the plan at `t`. A blob another image of the run lands in this very
   * repository is not moved by this one (a real run waits for it and skips it): skipped.
   */
  plannedReports(t: TransferTarget, blobs: readonly Descriptor[]): BlobReport[] {
    return blobs.map((d) => {
      const plan = t.plans.get(d.digest);
      const landedHere = plan === 'mount' && this.landings.landsHere(t, d.digest);
      const action = plan === 'skip' || landedHere ? 'skipped' : plan === 'foreign' ? 'foreign' : plan === 'mount' ? 'planned-mount' : 'planned-stream';
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
    // Blobs started early go first (their GET is open and waiting), each group largest first.
    const order = largestFirst(blobs).sort((a, b) => Number(this.early.has(b.digest)) - Number(this.early.has(a.digest)));
    for (const d of order) {
      const started = this.moving.get(d.digest);
      const waiting = this.live.filter((t) => this.landings.waiting(t, d.digest));
      if (started) {
        // Started by plan() for the targets not waiting; the waiting ones follow below.
        this.moving.delete(d.digest);
        tasks.push(started);
      } else {
        // A target another image of this set is moving the blob to already (the referrers of one
        // level, copied together, share the empty config of OCI artifacts) waits for that move,
        // outside a --jobs slot, instead of moving it a second time.
        const ready = this.live.filter((t) => !waiting.includes(t) && !this.underWay.has(landingKey(t, d.digest)));
        for (const t of this.live.filter((t) => !waiting.includes(t) && !ready.includes(t))) tasks.push(this.afterOwnMove(source, d, t));
        if (ready.length) tasks.push(this.moveMarked(source, d, ready));
      }
      // A target that needs another image's landing waits for it without holding a transfer slot,
      // and on its own: its set's other targets go on (one of them may be the landing another
      // image waits for), so images waiting on each other's blobs cannot deadlock.
      for (const t of waiting) tasks.push(this.landings.afterLanding(d, t, () => this.slot(d)(() => this.moveOne(source, d, [t]))));
    }
    const settled = await Promise.allSettled(tasks);
    for (const d of blobs) this.early.releaseBlob(d.digest);
    // A present blob's DELETE ran alongside the transfers; it is over before the manifests.
    await this.run.cleanedUp();
    const failure = this.run.firstFailure(settled);
    if (failure !== undefined) throw failure;
  }

  /** moveOne in a transfer slot, marked under way at each of `targets` until it has ended (see afterOwnMove). */
  private moveMarked(source: RepoEndpoint, d: Descriptor, targets: TransferTarget[]): Promise<void> {
    const move = this.slot(d)(() => this.moveOne(source, d, targets));
    const keys = targets.map((t) => landingKey(t, d.digest));
    for (const k of keys) this.underWay.set(k, move);
    const unmark = () => {
      for (const k of keys) if (this.underWay.get(k) === move) this.underWay.delete(k);
    };
    move.then(unmark, unmark);
    return move;
  }

  /** Moves `d` to `t` once the move another image of this set started there has ended: skipped when it landed, moved again when it did not. */
  private async afterOwnMove(source: RepoEndpoint, d: Descriptor, t: TransferTarget): Promise<void> {
    await this.underWay.get(landingKey(t, d.digest))?.catch(() => undefined);
    if (t.failed) return;
    if (t.present.has(d.digest)) {
      t.blobs.push({ digest: d.digest, size: d.size, mediaType: d.mediaType, action: 'skipped', bytes: 0, retries: 0, resumes: 0 });
      return;
    }
    await this.moveMarked(source, d, [t]);
  }

  /** The slots `d` moves in: --jobs, or beside them for a small blob. */
  private slot(d: Descriptor): LimitFunction {
    return d.size < SMALL_BLOB_BYTES ? this.slots.small : this.slots.large;
  }

  private async moveOne(source: RepoEndpoint, d: Descriptor, targets: TransferTarget[]): Promise<void> {
    const ts = targets.filter((t) => !t.failed && t.plans.has(d.digest));
    if (!ts.length) return this.early.releaseBlob(d.digest);
    const early = this.early.forMove(d.digest, ts);
    let results;
    try {
      results = await moveBlobToMany(d, source, ts.map((t) => t.ep), this.movesCtx, ts.map((t) => t.plans.get(d.digest)), early);
    } finally {
      this.early.releaseBlob(d.digest); // what the moves did not take (a target that failed first)
    }
    await Promise.all(
      results.map(async (r, k) => {
        const t = ts[k]!;
        if (r.status !== 'fulfilled') return this.setAside(t, r.reason);
        t.blobs.push(r.value);
        if (r.value.action === 'skipped' || r.value.action === 'foreign') return;
        try {
          await this.confirm(t, d.digest);
          this.landings.landed(t, d.digest);
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
    const key = statedKey(registry, t.ep.repo, digest);
    if (this.run.ctx.stated?.has(key) && !headsAfterUpload(registry)) {
      t.present.add(digest);
      this.run.ctx.onWord?.note(key);
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
   * Writes the manifests at `t` (ManifestCommit.commitManifests, manifest-commit.ts): `children`
   * by digest first, then `top` under every tag in `tags` (default: the target's).
   */
  commitManifests(t: TransferTarget, top: ManifestToWrite, children: readonly ManifestToWrite[] = [], held: ReadonlySet<string> = new Set(), tags: readonly string[] = t.tags): Promise<CommitResult> {
    // One per set: it holds only the run and this set's headConfirm, nothing of one call.
    this.manifestCommit ??= new ManifestCommit<TransferTarget>(this.run, (t, digest) => this.headConfirm(t, digest));
    return this.manifestCommit.commitManifests(t, top, children, held, tags);
  }

  private manifestCommit: ManifestCommit<TransferTarget> | undefined;

  /** The per-target error line of a report. */
  static summary(t: TransferTarget): { code: ErrorCode; message: string } | undefined {
    return t.failed ? { code: t.failed.code, message: t.failed.message } : undefined;
  }

  /**
   * What an interruption (the caller's abort) left at `t`, as its record of manifest PUTs says
   * (TransferTarget.tagsWritten, tagsCut): `ok` where every tag of `tags` was written or found
   * holding the image already (`unchanged`: the target's tagsUnchanged, or the caller's where it
   * knew so before any commit: copy's no-op check), and none was cut off (without `tags`, never: copy
   * --all-tags knows no list of tags in advance); else the error its report carries: the target's
   * own failure, where it failed before the interruption, or E_ABORTED naming the tags written
   * before it, those found holding the image already, and the PUT that was cut off (which may
   * have taken effect at the registry). A PUT cut while still queued (never sent) is no PUT cut
   * off: its tag did not move.
   */
  static interruptedAt(
    t: TransferTarget,
    tags?: readonly string[],
    unchanged: readonly string[] = t.tagsUnchanged ?? [],
  ): { ok: boolean; written: string[]; error?: { code: ErrorCode; message: string } } {
    const written = t.tagsWritten ?? [];
    const cut = t.tagsCut ?? [];
    if (t.failed && t.failed.code !== 'E_ABORTED') return { ok: false, written, error: TargetSet.summary(t) };
    const holds = (tag: string): boolean => written.includes(tag) || unchanged.includes(tag);
    if (tags && cut.length === 0 && tags.every(holds)) return { ok: true, written };
    const where = `${t.ref.registry}/${t.ref.repository}`;
    const tagsNamed = (list: readonly string[]): string => `tag${list.length === 1 ? '' : 's'} ${list.join(', ')}`;
    // The tags found holding the image are named too: the one line a log shows must not read as if
    // the target had none of the image's tags.
    const kept = unchanged.filter((tag) => !written.includes(tag));
    const heldAlready = kept.length ? `${tagsNamed(kept)} already held the image` : '';
    const said = [
      written.length ? `${tagsNamed(written)} written before it` : '',
      heldAlready,
      cut.length ? `the manifest PUT of ${cut.join(', ')} cut off: it may have taken effect at the registry` : '',
    ].filter(Boolean);
    const message = written.length || cut.length
      ? `interrupted at ${where}: ${said.join('; ')}`
      : [`interrupted before any tag was written at ${where}`, heldAlready].filter(Boolean).join('; ');
    return { ok: false, written, error: { code: 'E_ABORTED', message } };
  }

  /**
   * E_PARTIAL naming every failed target (with `result` in its details, for --json), or undefined
   * when none failed. When every target failed, the first one's own error (its class and code: the
   * exit code is that failure's), with `result` and `failed` in its details as E_PARTIAL has them,
   * so that a library caller still sees every target's outcome.
   */
  outcome(what: string, result: unknown): RegpushError | undefined {
    const failed = this.failed;
    if (!failed.length) return undefined;
    const details = { result, failed: failed.map((t) => formatReference(t.ref)) };
    if (failed.length === this.list.length) {
      const first = failed[0]!.failed!;
      // A copy of the first error, not the error itself: it is the target's own record (summary()), and may be shared.
      return errorForCode(first.code, first.message, { details: { ...first.details, ...details }, cause: first.cause });
    }
    return new PartialFailureError(
      `${failed.length} of ${this.list.length} ${what} failed: ${failed.map((t) => `${formatReference(t.ref)} (${t.failed!.code}: ${t.failed!.message})`).join('; ')}`,
      { details },
    );
  }

  /**
   * Dry run: what this image planned to move to its live targets counts as landed there for the
   * run's later images, which then plan what a real run does: a skip in that repository, a mount
   * into another repository of the registry. Withdrawn, they would leave the images after to plan
   * their own streams (a dry run of 200 images of 40 repositories sharing two base layers, to two
   * registries, would plan 640 mounts and 960 streams where the run makes 156 and 804).
   */
  landAsPlanned(): void {
    for (const t of this.live) this.landings.settleAt(t, true);
  }

  /** Withdraws the landings this set announced but did not confirm (a failed target, a dry run, an error), and releases what was started early and never used. */
  finish(): void {
    this.landings.withdrawAll();
    this.early.releaseAll();
    this.run.setFinished(this);
  }
}

/**
 * planBlob, where a mount of the blob was sent with the HEAD (EarlyStarts.start): a HEAD that fails is
 * settled by that mount's answer. distribution's filesystem storage can answer the HEAD 500
 * ("invalid checksum digest format") while the mount is writing the blob's link in that very
 * repository: the run's own speculation must not fail the run, and a mount answered 201 says the
 * blob is there. Any other failure (the mount refused, or an interruption) stays the HEAD's error.
 */
async function planOrMounted(d: Descriptor, source: RepoEndpoint, target: RepoEndpoint, mount: Early<MountResult> | undefined): Promise<PlanAction> {
  try {
    return await planBlob(d, source, target);
  } catch (err) {
    if (!mount || (err instanceof RegpushError && err.code === 'E_ABORTED')) throw err;
    if ((await mount.peek())?.mounted) return 'mount';
    throw err;
  }
}
