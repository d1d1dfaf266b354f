/**
 * Moving one blob from a source repository to one or more target repositories, the cheapest way
 * the protocol allows: skip when the target has it, cross-repository mount within one registry,
 * otherwise a stream GET → upload. Nothing here buffers a blob. The engine (engine.ts) decides
 * what to move where; this file moves one blob.
 *
 * Retries: each request is retried by the transport; a stream upload that breaks (its body cannot
 * be replayed) restarts the whole blob within the blob's RetryBudget, which the source's Range
 * resumes share — and a failure the transport has already retried is never restarted
 * (restartOutcome), so retries do not multiply.
 */
import { PassThrough, type Readable } from 'node:stream';
import { RegpushError } from '../errors.js';
import { restartOutcome, RetryBudget } from '../http/retry.js';
import { sleep } from '../abort.js';
import type { Descriptor } from '../image/types.js';
import { isForeignLayer } from '../image/mediatypes.js';
import { isFallbackable } from '../registry/blob-uploads.js';
import { resumableRead } from './resumable-read.js';
import { statedKey, type BlobReport, type PlanAction, type RepoEndpoint, type TransferContext } from './types.js';
import { cancel, handOver, isUploadRefusal, KNOWN_BLOB_METHODS, landedBeforeRestart, openSession, uploadBlob, type HandedSession } from './upload.js';
import { pickUploadMethod } from '../registry/quirks.js';
import type { MountResult, UploadSession } from '../registry/registry-client.js';

/** A source blob opened for reading (getBlob's answer). */
export type OpenedBlob = Awaited<ReturnType<RepoEndpoint['client']['getBlob']>>;

/**
 * A request sent before the plan knew it was needed (the engine's speculative start: an upload
 * session, a mount or a source GET sent together with the plan's HEAD). Either one transfer takes
 * it, or it is released: `undo` cancels what it opened (DELETE of a session, abort of a read).
 */
export class Early<T> {
  private taken = false;
  constructor(
    private readonly value: Promise<T>,
    private readonly undo: (v: T) => Promise<unknown> | void,
  ) {
    value.catch(() => undefined); // taken (and awaited) or released; never unhandled
  }

  /** The request's answer, for the one transfer that uses it; undefined once taken or released. */
  take(): Promise<T> | undefined {
    if (this.taken) return undefined;
    this.taken = true;
    return this.value;
  }

  /** The answer without taking it; undefined when the request failed. */
  peek(): Promise<T | undefined> {
    return this.value.catch(() => undefined);
  }

  /** Undoes the request if nobody took it; never rejects. */
  release(): Promise<void> {
    if (this.taken) return Promise.resolve();
    this.taken = true;
    return this.value.then((v) => this.undo(v)).then(
      () => undefined,
      () => undefined,
    );
  }
}

/** What the engine started early for one blob at one target. */
export interface EarlyStart {
  /** The source GET from byte 0: the first read of the blob uses it. */
  read?: Early<OpenedBlob>;
  /** An upload session at the target, counted by the run from its answer on (openSession). */
  session?: Early<HandedSession>;
  /** A mount POST at the target (same registry). */
  mount?: Early<MountResult>;
}

/**
 * The source GET from byte 0, sent now — beside the upload session's POST rather than after its
 * answer: a round trip less per blob, which is all a config or an attestation's layer costs.
 * Paused until an upload reads it (the transport's idle watch listens for 'data', which would set
 * the body flowing with nobody reading it; resumable-read.ts resumes it); destroyed if released
 * unread.
 */
export function readAhead(desc: Descriptor, source: RepoEndpoint): Early<OpenedBlob> {
  const opened = source.client.getBlob(source.repo, desc.digest).then((r) => (r.body.pause(), r));
  return new Early(opened, (r) => void r.body.destroy());
}

/** The source's read of one blob for an upload (withSourceRead). */
interface SourceRead {
  /** "blob sha256:… from host/repo", for messages. */
  what: string;
  /** A new body of the whole blob, resumed with Range where it breaks off; `onBytes` sees each chunk's length. */
  body(onBytes: (n: number) => void): Readable;
}

/**
 * Runs `use` with the source's read of `desc`. Each body it makes is resumable (resumableRead)
 * within `budget`; its resumes, and the mirror that served it, go to `reports`. The first read at
 * byte 0 takes `read` (the engine's early GET) or else a GET sent now, beside the upload session's
 * POST (readAhead); every other read asks the source. A GET sent here that nothing read (the
 * upload failed, or no session opened, first) is released.
 */
async function withSourceRead<T>(
  desc: Descriptor,
  source: RepoEndpoint,
  ctx: TransferContext,
  budget: RetryBudget,
  reports: BlobReport[],
  read: Early<OpenedBlob> | undefined,
  use: (src: SourceRead) => Promise<T>,
): Promise<T> {
  const ahead = read ? undefined : readAhead(desc, source);
  const first = read ?? ahead;
  const open = (start: number) => (start === 0 ? first?.take() : undefined) ?? source.client.getBlob(source.repo, desc.digest, start);
  const what = `blob ${desc.digest} from ${source.client.registry}/${source.repo}`;
  try {
    return await use({
      what,
      body: (onBytes) =>
        resumableRead({
          open: (start) => fromMirror(open(start), reports),
          readsElsewhere: source.client.readsElsewhere?.bind(source.client),
          size: desc.size,
          what,
          policy: ctx.transport.retryPolicy,
          budget,
          logger: ctx.transport.logger,
          signal: ctx.signal,
          onResume: () => reports.forEach((r) => r.resumes++),
          onBytes,
        }),
    });
  } finally {
    void ahead?.release();
  }
}

/**
 * The session opened early, when there is one. A refusal (the registry will not take an upload
 * that way) leaves it to uploadBlob, which opens its own and falls back through the methods as
 * before; any other failure is final (the POST had the transport's retries).
 */
async function earlySession(early: EarlyStart | undefined): Promise<HandedSession | undefined> {
  const p = early?.session?.take();
  if (!p) return undefined;
  try {
    return await p;
  } catch (err) {
    if (isUploadRefusal(err)) return undefined;
    throw err;
  }
}

/**
 * The order to start transfers in: largest first. With --jobs slots, the biggest blob is the
 * critical path; started last (manifest order puts the big runtime layer at the end, and copy adds
 * the config in front) it began only when a slot freed up and ran on alone at the end.
 */
export function largestFirst<T extends { size: number }>(blobs: readonly T[]): T[] {
  return [...blobs].sort((a, b) => b.size - a.size); // stable: equal sizes keep their order
}

/**
 * Decides what to do with one blob: skip if present, mount within a registry, else stream. (The
 * engine turns a stream into a mount from another repository when this run has landed the blob
 * in the same registry already.)
 */
export async function planBlob(desc: Descriptor, source: RepoEndpoint, target: RepoEndpoint): Promise<PlanAction> {
  if (isForeignLayer(desc)) return 'foreign';
  const have = await target.client.headBlob(target.repo, desc.digest);
  if (have !== undefined) return 'skip';
  return source.client.registry === target.client.registry ? 'mount' : 'stream';
}

/** The repository a 'mount' plan mounts from: the source's within one registry, else where this run landed the blob. */
async function mountSource(desc: Descriptor, source: RepoEndpoint, target: RepoEndpoint, ctx: TransferContext): Promise<string | undefined> {
  if (source.client.registry === target.client.registry) return source.repo;
  return ctx.landed?.find(target.client.registry, desc.digest);
}

/**
 * Moves one blob per `action` (from planBlob); falls back from mount to stream when mounting
 * fails. `budget`: the blob's retries at this target, when an earlier pass has spent some.
 */
export async function moveBlob(desc: Descriptor, action: PlanAction, source: RepoEndpoint, target: RepoEndpoint, ctx: TransferContext, budget?: RetryBudget, early?: EarlyStart): Promise<BlobReport> {
  const report: BlobReport = { digest: desc.digest, size: desc.size, mediaType: desc.mediaType, action: 'skipped', bytes: 0, retries: 0, resumes: 0 };
  const at = targetName(target);
  if (action === 'skip' || action === 'foreign') {
    report.action = action === 'skip' ? 'skipped' : 'foreign';
    ctx.events?.start?.(desc.digest, report.action, desc.size, at);
    ctx.events?.end?.(report, at);
    return report;
  }
  let session: string | UploadSession | undefined;
  if (action === 'mount') {
    const m = await tryMount(desc, source, target, ctx, report, early);
    if (m.mounted) return report;
    session = m.session;
  } else {
    ctx.events?.start?.(desc.digest, 'streamed', desc.size, at);
    session = await earlySession(early);
  }
  await streamBlob(desc, source, target, ctx, report, budget ?? new RetryBudget(ctx.transport.retryPolicy), session, early?.read);
  report.action = 'streamed';
  ctx.events?.end?.(report, at);
  return report;
}

/**
 * A mount of `desc` into `target` from where mountSource says: `mounted` (the report filled and
 * ended) or, to stream instead, the session a 202 opened (distribution opens a normal upload when
 * it cannot mount; used rather than wasted), or none where the mount was refused.
 */
async function tryMount(desc: Descriptor, source: RepoEndpoint, target: RepoEndpoint, ctx: TransferContext, report: BlobReport, early?: EarlyStart): Promise<{ mounted: boolean; session?: string }> {
  const from = await mountSource(desc, source, target, ctx);
  if (from === undefined) return { mounted: false };
  const at = targetName(target);
  ctx.events?.start?.(desc.digest, 'mounted', desc.size, at);
  try {
    // The early mount was sent from the source repository: only that one is taken.
    const res = await ((from === source.repo ? early?.mount?.take() : undefined) ?? target.client.mountBlob(target.repo, desc.digest, from));
    if (res.mounted) {
      report.action = 'mounted';
      // A 201 naming the digest confirms the mount as it confirms an upload (TargetSet.confirm).
      if (res.stated) ctx.stated?.add(statedKey(target.client.registry, target.repo, desc.digest));
      if (from !== source.repo || source.client.registry !== target.client.registry) report.mountedFrom = from;
      ctx.events?.end?.(report, at);
      return { mounted: true };
    }
    return { mounted: false, session: res.uploadUrl };
  } catch (err) {
    // Harbor answers 401 and Docker Hub 400 to mounts they will not do: fall back to streaming.
    if (!isFallbackable(err)) throw err;
    ctx.transport.logger.debug(`mount of ${desc.digest} refused (${(err as Error).message}); streaming instead`);
    return { mounted: false };
  }
}

/** "registry/repo", how progress names a target. */
export function targetName(t: RepoEndpoint): string {
  return `${t.client.registry}/${t.repo}`;
}

/**
 * Streams GET → upload with a known digest and length; when the upload breaks, the whole transfer
 * starts again on a new session. Resumed reads and whole restarts share `budget`, so --retries
 * bounds their sum; a source that fails after its own retries is final.
 */
function streamBlob(
  desc: Descriptor,
  source: RepoEndpoint,
  target: RepoEndpoint,
  ctx: TransferContext,
  report: BlobReport,
  budget: RetryBudget,
  session?: string | UploadSession,
  read?: Early<OpenedBlob>,
): Promise<void> {
  return withSourceRead(desc, source, ctx, budget, [report], read, (src) => streamBlobAttempts(desc, source, target, ctx, report, budget, src, session));
}

/** streamBlob's attempts, each reading through `src`. */
async function streamBlobAttempts(
  desc: Descriptor,
  source: RepoEndpoint,
  target: RepoEndpoint,
  ctx: TransferContext,
  report: BlobReport,
  budget: RetryBudget,
  src: SourceRead,
  session?: string | UploadSession,
): Promise<void> {
  for (;;) {
    let sourceError: unknown;
    try {
      await uploadBlob(
        target,
        {
          methods: KNOWN_BLOB_METHODS,
          size: desc.size,
          session,
          what: `blob ${desc.digest}`,
          open: () => {
            const body = src.body((n) => {
              report.bytes += n;
              ctx.events?.bytes?.(desc.digest, n);
            });
            body.once('error', (e) => (sourceError ??= e));
            return { data: body, digest: desc.digest, size: desc.size };
          },
        },
        ctx,
      );
      return;
    } catch (err) {
      session = undefined;
      // The source already spent its retries (requests and resumes): report its own error.
      if (sourceError !== undefined) throw sourceError;
      if (rerouted(err, report.mirror, source)) {
        report.retries++;
        continue;
      }
      const outcome = restartOutcome(err, ctx.transport.silence);
      const delay = outcome ? budget.next(outcome) : null;
      if (delay === null) throw err;
      report.retries++;
      // A progress note, not a warning (resumable-read.ts says why).
      ctx.transport.logger.info(`${src.what}: upload failed (${(err as Error).message}); retrying the whole blob in ${delay} ms`);
      await sleep(delay, ctx.signal);
      // A PUT carrying the stream whose answer was lost may have stored the blob (it is never sent
      // again to its session): a HEAD spares reading and sending the whole blob again.
      if (await landedBeforeRestart(target, desc.digest, desc.size, `blob ${desc.digest}`, ctx)) return;
    }
  }
}

/**
 * One read, many writes: moves a blob to several targets, reading the source once for all the
 * targets that need a stream. Back-pressure comes from pipe(): the source pauses until every
 * target has drained, so a slow target slows the read and nothing piles up in memory. A target
 * that fails mid-way is detached (the others go on) and then retried on its own, within the same
 * per-target budget.
 */
export async function moveBlobToMany(
  desc: Descriptor,
  source: RepoEndpoint,
  targets: RepoEndpoint[],
  ctx: TransferContext,
  knownPlans?: (PlanAction | undefined)[],
  early?: { read?: Early<OpenedBlob>; at?: (Omit<EarlyStart, 'read'> | undefined)[] },
): Promise<PromiseSettledResult<BlobReport>[]> {
  // Plans made earlier (push HEADs every blob while planning) are not asked for again.
  const plans = await Promise.allSettled(targets.map((t, i) => (knownPlans?.[i] ? Promise.resolve(knownPlans[i]!) : planBlob(desc, source, t))));
  const results: (PromiseSettledResult<BlobReport> | undefined)[] = targets.map(() => undefined);
  const streamers: number[] = [];
  /** Sessions a mount answered 202 opened: those targets join the one read instead of reading again. */
  const opened: (Early<HandedSession> | undefined)[] = targets.map(() => undefined);
  await Promise.all(
    targets.map(async (t, i) => {
      const p = plans[i]!;
      if (p.status === 'rejected') {
        results[i] = p;
        return;
      }
      if (p.value === 'mount' && targets.length > 1) {
        // The mount first: one the registry will not do (ECR unless enabled, a source repository
        // it cannot read from) streams from the read the other targets share, not a second one.
        const report: BlobReport = { digest: desc.digest, size: desc.size, mediaType: desc.mediaType, action: 'skipped', bytes: 0, retries: 0, resumes: 0 };
        const m = await settle(tryMount(desc, source, t, ctx, report, early?.at?.[i]));
        if (m.status === 'rejected' || m.value.mounted) {
          results[i] = m.status === 'rejected' ? m : { status: 'fulfilled', value: report };
          return;
        }
        const url = m.value.session;
        // Counted by the run from here: it waits for the other targets' plans, and then for their POSTs.
        if (url) opened[i] = new Early(Promise.resolve(handOver(t, { url }, ctx)), (s) => cancel(t, s.tracked, ctx));
        streamers.push(i);
        return;
      }
      if (p.value !== 'stream' || targets.length === 1) {
        // The early read goes to the one target that streams (the only one, when it is alone).
        const read = p.value === 'stream' ? early?.read : undefined;
        results[i] = await settle(moveBlob(desc, p.value, source, t, ctx, undefined, { ...early?.at?.[i], read }));
        return;
      }
      streamers.push(i);
    }),
  );
  if (streamers.length) {
    // The shared read's resumes count against every target it fed: a target that then gets a pass
    // of its own has only what is left of --retries, so the sum stays bounded for each of them.
    const readBudget = new RetryBudget(ctx.transport.retryPolicy);
    const { settled: shared, sourceFailed, mirror } = await teeUpload(
      desc,
      source,
      streamers.map((i) => targets[i]!),
      ctx,
      readBudget,
      early?.read,
      streamers.map((i) => opened[i] ?? early?.at?.[i]?.session),
    );
    const budgets = streamers.map(() => new RetryBudget(ctx.transport.retryPolicy, readBudget.spent));
    let rereads = false;
    for (const [k, i] of streamers.entries()) {
      const r = shared[k]!;
      if (r.status === 'fulfilled' || sourceFailed) {
        // A source that gave up after its own retries: reading it again per target would only multiply them.
        results[i] = r;
        continue;
      }
      // Every target refused a mirror's bad bytes: each reads them again from where reads now go.
      if (rereads || (rereads = rerouted(r.reason, mirror, source))) {
        results[i] = await settle(moveBlob(desc, 'stream', source, targets[i]!, ctx, budgets[k]));
        if (results[i]!.status === 'fulfilled') (results[i] as PromiseFulfilledResult<BlobReport>).value.retries++;
        continue;
      }
      // A target whose shared upload broke (or refused the method) gets its own pass from the same budget.
      const outcome = isUploadRefusal(r.reason) ? undefined : restartOutcome(r.reason, ctx.transport.silence);
      const delay = outcome ? budgets[k]!.next(outcome) : isUploadRefusal(r.reason) ? 0 : null;
      if (delay === null) {
        results[i] = r;
        continue;
      }
      if (delay > 0) await sleep(delay, ctx.signal);
      // As in streamBlobAttempts: a broken upload whose bytes all landed is found by a HEAD, not sent again.
      const landed = outcome ? await settle(landedBeforeRestart(targets[i]!, desc.digest, desc.size, `blob ${desc.digest}`, ctx)) : undefined;
      if (landed?.status === 'rejected') {
        results[i] = landed;
        continue;
      }
      if (landed?.value) {
        const report: BlobReport = { digest: desc.digest, size: desc.size, mediaType: desc.mediaType, action: 'streamed', bytes: desc.size, retries: 1, resumes: 0 };
        ctx.events?.end?.(report, targetName(targets[i]!));
        results[i] = { status: 'fulfilled', value: report };
        continue;
      }
      results[i] = await settle(moveBlob(desc, 'stream', source, targets[i]!, ctx, budgets[k]));
      if (results[i]!.status === 'fulfilled' && outcome) (results[i] as PromiseFulfilledResult<BlobReport>).value.retries++;
    }
  }
  return results as PromiseSettledResult<BlobReport>[];
}

function settle<T>(p: Promise<T>): Promise<PromiseSettledResult<T>> {
  return p.then(
    (value) => ({ status: 'fulfilled', value }) as const,
    (reason: unknown) => ({ status: 'rejected', reason }) as const,
  );
}

async function teeUpload(
  desc: Descriptor,
  source: RepoEndpoint,
  targets: RepoEndpoint[],
  ctx: TransferContext,
  budget: RetryBudget,
  read?: Early<OpenedBlob>,
  early?: (Early<HandedSession> | undefined)[],
): Promise<{ settled: PromiseSettledResult<BlobReport>[]; sourceFailed: boolean; mirror?: string }> {
  const reports: BlobReport[] = targets.map(() => ({ digest: desc.digest, size: desc.size, mediaType: desc.mediaType, action: 'streamed', bytes: 0, retries: 0, resumes: 0 }));
  return withSourceRead(desc, source, ctx, budget, reports, read, (src) => teeInto(desc, targets, ctx, reports, src, early));
}

/** teeUpload once the source read is under way: the sessions, then one read piped into each. */
async function teeInto(
  desc: Descriptor,
  targets: RepoEndpoint[],
  ctx: TransferContext,
  reports: BlobReport[],
  src: SourceRead,
  early?: (Early<HandedSession> | undefined)[],
): Promise<{ settled: PromiseSettledResult<BlobReport>[]; sourceFailed: boolean; mirror?: string }> {
  // A session opened early that was refused fails its branch here; the target then gets its own pass (below in moveBlobToMany), as a refused POST always did.
  // Each is counted by the run from its answer (openSession): one answered waits here for the others' POSTs, which a stop of the run lets finish.
  const sessions = await Promise.allSettled(targets.map((t, i) => early?.[i]?.take() ?? openSession(t, ctx)));
  const live = sessions.map((s) => s.status === 'fulfilled');
  if (!live.some(Boolean)) return { settled: sessions.map((s) => s as PromiseRejectedResult), sourceFailed: false };
  const body = src.body((n) => ctx.events?.bytes?.(desc.digest, n));
  ctx.events?.start?.(desc.digest, 'streamed', desc.size);
  // pipe() does not pass a source error on: fail every branch with it, or their uploads would
  // wait for bytes that never come until the idle timeout.
  let sourceError: unknown;
  const branches: PassThrough[] = [];
  // Each branch's pipe() listens on the source ('data', 'end'): one listener per target, not a
  // leak, and Node's warning past 10 would print in the middle of a copy to eleven targets.
  body.setMaxListeners(body.getMaxListeners() + targets.length);
  body.once('error', (e) => {
    sourceError = e;
    for (const b of branches) b.destroy(e);
  });
  const uploads = targets.map(async (t, i): Promise<BlobReport> => {
    const s = sessions[i]!;
    if (s.status === 'rejected') throw s.reason;
    const branch = new PassThrough({ highWaterMark: 1 << 16 });
    branches.push(branch);
    branch.on('data', (c: Buffer) => (reports[i]!.bytes += c.length));
    branch.pause();
    body.pipe(branch);
    try {
      const method = pickUploadMethod(ctx.uploads.of(t.client.registry), KNOWN_BLOB_METHODS, desc.size);
      await uploadBlob(
        t,
        {
          methods: method ? [method] : [],
          size: desc.size,
          once: true,
          session: s.value,
          what: `blob ${desc.digest}`,
          open: () => ({ data: branch, digest: desc.digest, size: desc.size }),
        },
        ctx,
      );
      return reports[i]!;
    } catch (err) {
      body.unpipe(branch);
      branch.destroy();
      // If every branch is gone the source must stop too, or it would wait forever on back-pressure.
      live[i] = false;
      if (!live.some(Boolean)) body.destroy();
      else body.resume();
      // (uploadBlob has cancelled the session.)
      throw sourceError ?? err;
    }
  });
  const settled = await Promise.allSettled(uploads);
  settled.forEach((r, i) => {
    if (r.status === 'fulfilled') ctx.events?.end?.(r.value, targetName(targets[i]!));
  });
  return { settled, sourceFailed: sourceError !== undefined, mirror: reports[0]?.mirror };
}

/**
 * True when `err` is a target refusing bytes read from `mirror` for their digest, and the source
 * now reads elsewhere (the mirror is distrusted for the rest of the run): the blob is worth one
 * more transfer, which no retry budget pays for (each mirror can cause it once). A registry
 * itself serving bad bytes, or a target that refuses good ones, stays an error.
 */
function rerouted(err: unknown, mirror: string | undefined, source: RepoEndpoint): boolean {
  if (!(err instanceof RegpushError) || err.code !== 'E_DIGEST_MISMATCH' || mirror === undefined) return false;
  return source.client.distrustMirror?.(mirror, err.message) === true;
}

/** Records in the reports which mirror served a blob's bytes (the last one, if a resume went elsewhere). */
async function fromMirror<T extends { mirror?: string }>(opened: Promise<T>, reports: BlobReport[]): Promise<T> {
  const r = await opened;
  for (const rep of reports) {
    if (r.mirror) rep.mirror = r.mirror;
    else delete rep.mirror;
  }
  return r;
}
