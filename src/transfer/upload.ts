/**
 * Uploading one blob with a method the target registry accepts (put, patch or chunked; see
 * registry/quirks.ts). A method the registry refuses is remembered for the run and the next one
 * is tried on a fresh session; every session that fails is cancelled (DELETE) with the state the
 * registry last answered, and the run's UploadSessions (sessions.ts) keeps the ones it could not
 * cancel, for the run's error to name. Transient failures are not retried here: each
 * request without upload bytes has had the transport's retries, and one with them (a PUT or PATCH
 * with a body, a Buffer's included) is never sent again to its session (HttpRequest.replayable):
 * the caller restarts the blob on a new session, within the blob's one budget (restartOutcome).
 */
import type { Readable } from 'node:stream';
import { InternalError, RegpushError, UnsupportedError } from '../errors.js';
import { uploadLocationOf, type RegistryClient, type UploadSession } from '../registry/registry-client.js';
import { chunkSizeFor, MIN_CHUNK_SIZE, pickUploadMethod, type UploadMethod, type UploadQuirks } from '../registry/quirks.js';
import type { TrackedSession } from './sessions.js';
import { statedKey, type RepoEndpoint, type TransferContext } from './types.js';

/** Upload methods for a blob whose digest and size are known (a source blob, a config), best first. */
export const KNOWN_BLOB_METHODS: readonly UploadMethod[] = ['put', 'patch', 'chunked'];

/** The bytes of one upload attempt. */
export interface BlobBody {
  /** A Buffer (sent again as it is by a restart) or a stream read once. */
  data: Buffer | Readable;
  /** Digest and size when known up front (a monolithic PUT needs both). */
  digest?: string;
  size?: number;
  /** The digest once `data` has been read to its end, when it is not known up front. */
  digestAtEnd?: () => Promise<string>;
}

/**
 * A session handed over with the run's record of it, still open (openSession): the upload
 * goes on under that record, so the session is never out of the run's count (UploadSessions)
 * between its opener and this upload.
 */
export interface HandedSession extends UploadSession {
  tracked: TrackedSession;
}

/**
 * Opens an upload session for an upload that takes it later (a spare, the engine's early POST,
 * each target's session of a shared read): counted in the run's UploadSessions from the registry's
 * answer on, and handed over with that record. The count must hold a session from its answer,
 * not from when an upload takes it: a holder may still wait for another target's POST (the tee
 * takes them all at once), and a push stopped meanwhile (its base blobs move in the background)
 * settles on the count alone, so a session outside it would stay open past the push's end.
 */
export function openSession(target: RepoEndpoint, ctx: TransferContext): Promise<HandedSession> {
  return target.client.startUpload(target.repo).then((s) => handOver(target, s, ctx));
}

/** `s`, a session the registry has opened (a POST, a mount answered 202), counted by the run from now on: uploadBlob goes on with it, or cancel(s.tracked) ends it. */
export function handOver(target: RepoEndpoint, s: UploadSession, ctx: TransferContext): HandedSession {
  const tracked = trackedAt(target, s.url);
  ctx.sessions?.track(tracked);
  return { ...s, tracked };
}

/** One blob to upload. */
export interface UploadRequest {
  /** Methods this blob can use, best first. */
  methods: readonly UploadMethod[];
  /** The body's size where it is known before it is opened (a source blob, a config, a layer held whole): after a 413 it still goes whole if it is smaller than the refused body (pickUploadMethod). */
  size?: number;
  /** A fresh body for an attempt with `method`; undefined when the target turned out to have the blob already. */
  open(method: UploadMethod): Promise<BlobBody | undefined> | BlobBody | undefined;
  /** A session opened earlier (a mount answered 202, a tee, a spare: HandedSession), used by the first attempt. */
  session?: string | UploadSession | HandedSession;
  /** The body can be opened once (a tee branch): after a refusal, remember it and give up; the caller retries on its own. */
  once?: boolean;
  /** What to call the blob in logs. */
  what: string;
  /**
   * Awaited just before the request that commits the blob (the closing PUT; a monolithic PUT,
   * which carries the bytes too): a blob that must not land before something else is known waits
   * there, its session open and (streamed) its bytes sent. A rejection ends the attempt as any
   * failure does: the session is cancelled.
   */
  beforeCommit?: () => Promise<void>;
}

/** How the blob got there. */
export interface UploadOutcome {
  method: UploadMethod;
  /** False when open() said the target already had it. */
  sent: boolean;
}

/** Statuses with which a registry says "not this way" to an upload method. */
const REFUSALS: ReadonlySet<number> = new Set([400, 405, 411, 413, 415, 416, 501]);

/** True when `err` is a registry refusing the upload method (not a digest error, not auth, not a transient failure). */
export function isUploadRefusal(err: unknown): boolean {
  if (!(err instanceof RegpushError) || err.code === 'E_DIGEST_MISMATCH') return false;
  const s = err.details.status;
  return typeof s === 'number' && REFUSALS.has(s);
}

/** Uploads one blob, falling back through `req.methods` as the registry refuses them. */
export async function uploadBlob(target: RepoEndpoint, req: UploadRequest, ctx: TransferContext): Promise<UploadOutcome> {
  const q = ctx.uploads.of(target.client.registry);
  const log = ctx.transport.logger;
  let session = typeof req.session === 'string' ? { url: req.session } : req.session;
  // The run's record of a session handed over, which this upload goes on with rather than one of its own.
  const handed = (session as Partial<HandedSession> | undefined)?.tracked;
  let refusal: unknown;
  // Bounded: each round either refuses a method for good or halves the chunk size.
  for (let round = 0; round < req.methods.length + 8; round++) {
    const method = pickUploadMethod(q, req.methods, req.size);
    if (!method) break;
    let body: BlobBody | undefined;
    if (session?.minChunk) q.minChunk = Math.max(q.minChunk ?? 0, session.minChunk);
    const state: TrackedSession = session && handed ? handed : trackedAt(target, session?.url);
    if (state.url) ctx.sessions?.track(state);
    session = undefined;
    const chunkAtStart = q.chunkSize;
    // The POST is the same for every method: a refusal of it (a 400 DENIED for one repository, a
    // 405 where pushes are off) says nothing about the method, and counted as one it would mark
    // every method refused for the whole registry after three uploads. It ends this upload as it is.
    let posting = false;
    try {
      body = await req.open(method);
      if (!body) {
        if (state.url) await cancel(target, state, ctx);
        return { method, sent: false };
      }
      if (!state.url) {
        posting = true;
        const s = await target.client.startUpload(target.repo);
        posting = false;
        state.url = s.url;
        ctx.sessions?.track(state);
        if (s.minChunk) q.minChunk = Math.max(q.minChunk ?? 0, s.minChunk);
      }
      const stated = await sendWith(target.client, state as TrackedSession & { url: string }, method, body, q, req.beforeCommit);
      ctx.sessions?.closed(state);
      if (stated) ctx.stated?.add(statedKey(target.client.registry, target.repo, stated));
      q.working = method;
      return { method, sent: true };
    } catch (err) {
      if (body && !Buffer.isBuffer(body.data)) body.data.destroy();
      // A request the interruption ended or let finish was answered with the session's new state;
      // one the registry answered (even with an error) was not cut in the middle of its body.
      const answered = uploadLocationOf(err);
      if (answered) state.url = answered;
      if (answered || (err instanceof RegpushError && typeof err.details.status === 'number')) state.doing = undefined;
      if (state.url) await cancel(target, state, ctx);
      if (posting || !isUploadRefusal(err)) throw err;
      refusal = err;
      const status = (err as RegpushError).details.status;
      const floor = Math.max(MIN_CHUNK_SIZE, q.minChunk ?? 0);
      if (status === 413 && method !== 'chunked') {
        // A body size limit, the registry's or a proxy's in front of it (nginx client_max_body_size,
        // ingress-nginx proxy-body-size; goharbor/harbor#3270): the blob in one request is refused
        // whichever method carries it, so a streamed PATCH would only be refused again. Chunks
        // smaller than the refused body may pass; they are tried only where they can be that small.
        // A smaller body is not refused by that limit: configs and small layers still go whole
        // (q.tooLarge, pickUploadMethod), one request instead of a POST, chunks and a closing PUT.
        const tooLarge = body?.size ?? state.sent;
        while (q.chunkSize >= tooLarge && q.chunkSize / 2 >= floor) q.chunkSize = Math.floor(q.chunkSize / 2);
        const news = q.tooLarge === undefined || tooLarge < q.tooLarge;
        if (news) q.tooLarge = tooLarge;
        if (q.working !== 'chunked') q.working = undefined;
        if (!req.methods.includes('chunked') || q.refused.has('chunked') || chunkSizeFor(q) >= tooLarge) throw err;
        if (news) {
          log.info(
            `${q.registry} refused a request body of ${tooLarge} bytes (answered 413); ` +
              `using ${chunkSizeFor(q)}-byte chunked PATCH uploads for blobs larger than a chunk (or not known in advance) ` +
              'for the rest of this run, smaller ones still in one request',
          );
        }
        if (req.once) throw err;
        continue;
      }
      if (method === 'chunked' && (status === 413 || status === 416) && chunkAtStart / 2 >= floor) {
        // Concurrent uploads may hit the same limit: the first one halves, the others just retry.
        if (q.chunkSize === chunkAtStart) {
          q.chunkSize = Math.floor(chunkAtStart / 2);
          log.info(`${q.registry} refused a chunk of ${chunkAtStart} bytes (answered ${status}); using ${q.chunkSize}-byte chunks`);
        }
        // A body read once (a branch of a shared read) cannot be sent again: its caller retries
        // on its own pass, with the smaller chunks. The method itself still works.
        if (req.once) throw err;
        continue;
      }
      if (req.once) {
        q.refused.add(method);
        throw err;
      }
      const news = !q.refused.has(method); // concurrent uploads learn the same thing; say it once
      q.refused.add(method);
      if (q.working === method) q.working = undefined;
      const next = pickUploadMethod(q, req.methods);
      if (news) log.info(`${q.registry} refused ${describe(method)} (answered ${status})${next ? `; using ${describe(next)} for the rest of this run` : ''}`);
      log.debug(`${req.what}: ${(err as Error).message}`);
    }
  }
  // A session handed in but never used (every method refused before this upload started).
  if (session?.url) await cancel(target, handed ?? trackedAt(target, session.url), ctx);
  const tried = req.methods.map(describe).join(', ');
  const last = refusal instanceof Error ? `; last answer: ${refusal.message}` : '';
  throw new UnsupportedError(`${q.registry} refused every upload method regpush has for ${req.what} (${tried})${last}`, {
    cause: refusal,
    details: { registry: q.registry },
  });
}

/**
 * Cancels a session with the state the registry last answered. One it does not confirm (a request
 * was cut in the middle of its body, so the state we hold is behind the bytes it stored) may stay
 * until the registry purges stale uploads; the run keeps it to name it (sessions.ts).
 */
export async function cancel(target: RepoEndpoint, state: TrackedSession, ctx: TransferContext): Promise<void> {
  ctx.sessions?.track(state);
  if (await target.client.cancelUpload(state.url!)) {
    ctx.sessions?.closed(state);
    return;
  }
  ctx.transport.logger.debug(`upload session at ${state.registry}/${state.repo}: the registry did not confirm its cancel`);
  ctx.sessions?.abandoned(state);
}

/**
 * Cancels a session nothing was sent on (one opened ahead of need: the engine's early POST or a
 * mount answered 202), as cancel() does, so that one the registry does not confirm is named with
 * the run's other sessions left behind.
 */
export function cancelUnused(target: RepoEndpoint, url: string, ctx: TransferContext): Promise<void> {
  return cancel(target, trackedAt(target, url), ctx);
}

/** The run's record of a session at `target` (at `url` once the registry has answered), nothing sent on it yet. */
function trackedAt(target: RepoEndpoint, url: string | undefined): TrackedSession {
  return { registry: target.client.registry, repo: target.repo, url, sent: 0, target };
}

function describe(m: UploadMethod): string {
  return m === 'put' ? 'a monolithic PUT' : m === 'patch' ? 'a streamed PATCH' : 'chunked PATCH uploads';
}

/**
 * One attempt with one method on an open session; `state.url` follows the registry's Location,
 * `state.sent` counts the body bytes handed over and `state.doing` names the request in flight.
 * Resolves with the digest when the registry's 201 named it, else undefined.
 */
async function sendWith(
  client: RegistryClient,
  state: TrackedSession & { url: string },
  method: UploadMethod,
  body: BlobBody,
  q: UploadQuirks,
  beforeCommit?: () => Promise<void>,
): Promise<string | undefined> {
  const data = body.data;
  if (method !== 'chunked') {
    if (Buffer.isBuffer(data)) state.sent += data.length;
    else {
      // Counted as the request reads it (the listen-then-pause the layer's progress uses too).
      data.on('data', (c: Buffer) => (state.sent += c.length));
      data.pause();
    }
  }
  const payload = Buffer.isBuffer(data) ? data : () => data;
  if (method === 'put') {
    if (body.digest === undefined || body.size === undefined) throw new InternalError('a monolithic PUT needs the digest and size up front');
    await beforeCommit?.();
    state.doing = 'a monolithic PUT';
    const done = await client.putUpload(state.url, body.digest, body.size, payload).catch((err: unknown) => landedAnyway(client, state.repo, body.digest!, body.size, err));
    state.doing = undefined;
    return done ? body.digest : undefined;
  }
  if (method === 'patch') {
    state.doing = 'a streamed PATCH';
    state.url = await client.patchUpload(state.url, payload);
    state.doing = undefined;
  } else {
    const size = chunkSizeFor(q);
    let offset = 0;
    for await (const chunk of chunks(data, size)) {
      // Not sent again by the transport: a chunk half-taken by the registry cannot be sent again
      // as it was; the whole transfer restarts on a new session instead.
      state.doing = 'a chunk PATCH';
      state.sent = offset + chunk.length;
      state.url = await client.patchUpload(state.url, () => chunk, { start: offset, end: offset + chunk.length - 1 });
      state.doing = undefined;
      offset += chunk.length;
    }
  }
  const digest = body.digest ?? (await body.digestAtEnd?.());
  if (!digest) throw new InternalError('upload finished without a digest');
  await beforeCommit?.();
  const done = await client.completeUpload(state.url, digest).catch((err: unknown) => landedAnyway(client, state.repo, digest, body.size, err));
  return done ? digest : undefined;
}

/**
 * A closing PUT, or a monolithic PUT, that failed with 404 BLOB_UPLOAD_UNKNOWN: the session is
 * gone. The transport sends a closing PUT again (it has no body) when the first answer was lost
 * or came after the idle timeout; a monolithic PUT, which carries the bytes, is sent again only by
 * the auth layer after a 401 (HttpRequest.replayable). A 404 to the PUT sent again is then the
 * registry having stored the blob with the first and closed the session, so a HEAD asks whether
 * the blob is there; go-containerregistry asks the same before each retry of an upload. A 404
 * BLOB_UPLOAD_INVALID (the session's state is not the one its URL names) is asked about the same
 * way: a registry may check the state before it looks the session up, and the HEAD alone decides,
 * by digest and size, so a blob that is not there still fails with `err`. Resolves false (landed,
 * the HEAD confirming it, not a 201 naming it) or rethrows `err`.
 */
async function landedAnyway(client: RegistryClient, repo: string, digest: string, size: number | undefined, err: unknown): Promise<false> {
  const codes = err instanceof RegpushError && err.details.status === 404 ? err.details.registryCodes : undefined;
  const gone = codes?.includes('BLOB_UPLOAD_UNKNOWN') === true || codes?.includes('BLOB_UPLOAD_INVALID') === true;
  // A HEAD that fails (an abort or a refusal included) proves nothing landed: the PUT's own error stands, the run's abort reported over it.
  if (!gone || !(await holdsBlob(client, repo, digest, size).catch(() => false))) throw err;
  return false;
}

/**
 * True when the registry's HEAD finds the blob in `repo`, of `size` where that is known. A HEAD
 * answered 200 without a Content-Length says the blob is there, not its size: present.
 */
async function holdsBlob(client: RegistryClient, repo: string, digest: string, size: number | undefined): Promise<boolean> {
  const there = await client.headBlob(repo, digest);
  return there !== undefined && (size === undefined || there < 0 || there === size);
}

/**
 * Asked before a restart of a blob whose digest is known (after the pause, before the new
 * session's POST): the attempt that failed may have stored it, its answer lost (a monolithic PUT
 * is never sent again to its session, HttpRequest.replayable), and then the blob is not sent
 * again; go-containerregistry asks the same before each retry of an upload. A HEAD that fails is
 * final, as the blob's first HEAD is: it had the transport's retries (one retry level).
 */
export async function landedBeforeRestart(target: RepoEndpoint, digest: string, size: number | undefined, what: string, ctx: TransferContext): Promise<boolean> {
  if (!(await holdsBlob(target.client, target.repo, digest, size))) return false;
  ctx.transport.logger.info(`${what}: found in place at ${target.client.registry}/${target.repo} (the attempt that failed had stored it); not sent again`);
  return true;
}

/** Cuts a Buffer or a stream into Buffers of exactly `size` bytes (the last one shorter). */
export async function* chunks(data: Buffer | Readable, size: number): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(data)) {
    for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
    return;
  }
  let parts: Buffer[] = [];
  let have = 0;
  for await (const c of data as AsyncIterable<Buffer>) {
    let chunk = c;
    while (have + chunk.length >= size) {
      const take = size - have;
      parts.push(chunk.subarray(0, take));
      yield Buffer.concat(parts, size);
      chunk = chunk.subarray(take);
      parts = [];
      have = 0;
    }
    if (chunk.length) {
      parts.push(chunk);
      have += chunk.length;
    }
  }
  if (have) yield Buffer.concat(parts, have);
}
