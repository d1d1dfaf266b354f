/**
 * A blob read that survives a dropped connection: when the source stream breaks before `size`
 * bytes, it asks again with `Range: bytes=<done>-` and carries on feeding the same output, so the
 * upload on the other side never notices. Registries that ignore Range (200 instead of 206) make
 * us skip the bytes we already have — correct, only slower. Byte counts are enforced: more bytes
 * than the descriptor says is a DigestMismatchError at once, fewer is one at the end.
 */
import { Readable } from 'node:stream';
import { AbortedError, DigestMismatchError, NetworkError, RegpushError } from '../errors.js';
import { outcomeOfError, RetryBudget, type RetryPolicy } from '../http/retry.js';
import { sleep } from '../abort.js';
import type { Logger } from '../log.js';

/** Opens the blob from byte `start`; `partial` is false when the server sent the whole blob anyway. */
export type OpenAt = (start: number) => Promise<{ body: Readable; partial: boolean; size?: number; mirror?: string }>;

/** Options of a resumable read. */
export interface ResumableReadOptions {
  open: OpenAt;
  /** Expected total size (from the descriptor). */
  size: number;
  /** What to call it in messages ("blob sha256:… from host/repo"). */
  what: string;
  policy: RetryPolicy;
  /** Shared with the whole-transfer retries of the same blob (default: a budget of its own). */
  budget?: RetryBudget;
  logger?: Logger;
  signal?: AbortSignal;
  /** Called on each resume (for the report). */
  onResume?: (offset: number) => void;
  /** Called with each chunk's length as it passes (progress). */
  onBytes?: (n: number) => void;
  /**
   * True when reads no longer go to `mirror` (the one a body came from): that body's failure is
   * resumed at once and spends no retry, as the next open reads elsewhere (a mirror given up
   * mid-body: each mirror can cause it once).
   */
  readsElsewhere?: (mirror: string) => boolean;
}

/**
 * Returns a Readable of exactly `size` bytes of the blob, resuming with Range when the body
 * breaks off. A failing open() is final: the request it makes has had the transport's retries.
 *
 * Written as a plain push/pause Readable (not an async generator behind Readable.from): every
 * base-layer byte of a push or copy passes through here, and the generator's promise per chunk
 * was a visible share of a cold push's CPU.
 */
export function resumableRead(opts: ResumableReadOptions): Readable {
  let done = 0;
  let skip = 0;
  const budget = opts.budget ?? new RetryBudget(opts.policy);
  let current: Readable | undefined;
  /** The mirror `current` is read from (undefined: the registry itself). */
  let from: string | undefined;
  let opening = false;

  /** Whether the read listens on the signal: from its first read() (see follow). */
  let following = false;
  const out = new Readable({
    highWaterMark: 1 << 16,
    read() {
      if (!following) follow();
      if (current) current.resume();
      else if (!opening) void openNext();
    },
    destroy(err, cb) {
      // The consumer destroyed the output (an upload that failed or switched method): the read
      // stops here, it does not resume in the background.
      opts.signal?.removeEventListener('abort', onAbort);
      detach()?.destroy();
      cb(err);
    },
  });
  // Naming the read, as an interrupted request names itself (`aborted: GET …`): a bare "aborted" said nothing of what stopped.
  const interrupted = (): AbortedError => new AbortedError(`aborted: reading ${opts.what}`, { cause: opts.signal?.reason });
  const onAbort = (): void => {
    out.destroy(interrupted());
  };
  /**
   * Listens on the signal once the read has started, not when it is made: the uploads a sync of
   * many images has queued behind busy connections each hold a read not started yet, and one
   * listener each on the run's signal made Node warn of a leak. A read not started has nothing to
   * cut, and one started after the signal fired fails at its first open (openNext).
   */
  function follow(): void {
    following = true;
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  }

  function detach(): Readable | undefined {
    const body = current;
    current = undefined;
    if (body) {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.on('error', noop); // a late socket error on a body we let go of is not ours to report
    }
    return body;
  }

  function onData(chunk: Buffer): void {
    let c = chunk;
    if (skip > 0) {
      if (c.length <= skip) {
        skip -= c.length;
        return;
      }
      c = c.subarray(skip);
      skip = 0;
    }
    if (done + c.length > opts.size) {
      detach()?.destroy();
      out.destroy(new DigestMismatchError(`${opts.what}: source sent more than the ${opts.size} bytes its descriptor declares`));
      return;
    }
    done += c.length;
    opts.onBytes?.(c.length);
    if (!out.push(c)) current?.pause();
  }

  function onEnd(): void {
    detach();
    if (done === opts.size) {
      opts.signal?.removeEventListener('abort', onAbort);
      out.push(null);
      return;
    }
    // The stream ended early without an error: treat it as a dropped connection.
    void failed(Object.assign(new Error(`premature end of ${opts.what} at ${done}/${opts.size}`), { code: 'ERR_STREAM_PREMATURE_CLOSE', shortBody: true }));
  }

  function onError(err: Error): void {
    detach()?.destroy();
    void failed(err);
  }

  async function openNext(): Promise<void> {
    opening = true;
    let ended = false;
    let dead: Error | undefined;
    try {
      if (opts.signal?.aborted) throw interrupted();
      const { body, partial, size, mirror } = await opts.open(done);
      from = mirror;
      if (out.destroyed) {
        body.destroy();
        return;
      }
      const expected = partial ? opts.size - done : opts.size;
      if (size !== undefined && size !== expected) {
        body.destroy();
        throw new DigestMismatchError(`${opts.what}: source declares ${size} bytes where ${expected} were expected (descriptor size ${opts.size})`);
      }
      if (done > 0) {
        opts.onResume?.(done);
        opts.logger?.info(`resuming ${opts.what} at byte ${done}${partial ? '' : ' (server ignored Range; skipping)'}`);
        skip = partial ? 0 : done;
      }
      // A body that failed before it got here (opened ahead, then cut while it waited) emits
      // nothing more: its failure is the answer, resumed from `done` like any other.
      // A body that has ended already emits no 'end' again: an empty blob's GET opened ahead of
      // its reader (the engine's speculative start) ends as soon as anything listens to it, before
      // it can be paused. Waiting for its 'end' would hang the upload until the idle timeout.
      // (Bytes a body emitted before it got here are missed; onEnd then resumes from `done`.)
      if (body.destroyed && !body.readableEnded) {
        dead = body.errored ?? new NetworkError(`${opts.what}: the connection closed before the body was read`, { details: { errno: 'ECONNRESET' } });
      } else if (body.readableEnded) {
        current = body;
        ended = true;
      } else {
        current = body;
        body.on('data', onData);
        body.once('end', onEnd);
        body.once('error', onError);
        // A body opened ahead of its reader (the engine's speculative start) was paused explicitly,
        // and a 'data' listener does not start such a stream: it flows from here.
        body.resume();
      }
    } catch (err) {
      // open() has had the transport's retries already: its failure is final.
      if (!out.destroyed) out.destroy(err as Error);
    } finally {
      opening = false;
    }
    // Once `opening` is cleared: a short body's onEnd starts a resume, which sets it again.
    if (dead) {
      const err = dead;
      dead = undefined;
      void failed(err);
    } else if (ended) onEnd();
  }

  async function failed(err: unknown): Promise<void> {
    if (out.destroyed) return;
    // From the drop until the next body is attached, no body is current: without this mark a
    // consumer's read() during the retry delay would open a second Range request, and the two
    // bodies would then be judged against each other's offsets (a false E_DIGEST_MISMATCH).
    opening = true;
    try {
      const left = from !== undefined && opts.readsElsewhere?.(from) === true;
      from = undefined;
      if (left && !(err instanceof AbortedError)) {
        opts.logger?.info(`${opts.what}: ${(err as Error).message}; reading on from byte ${done} elsewhere`);
        if (!out.destroyed) await openNext();
        return;
      }
      const outcome = outcomeOfError(err);
      if (!outcome) throw err;
      const delay = budget.next(outcome);
      if (delay === null) {
        const why = (err as Error).message;
        if ((err as { shortBody?: boolean }).shortBody) {
          throw new DigestMismatchError(`${opts.what}: the source sent ${done} of ${opts.size} bytes and then ended, also after ${budget.spent} retries`);
        }
        if (err instanceof RegpushError && err.code !== 'E_NETWORK') throw err;
        const errno = err instanceof RegpushError ? String(err.details.errno ?? 'ECONNRESET') : String((err as { code?: string }).code ?? 'ECONNRESET');
        throw new NetworkError(`${opts.what}: connection lost at byte ${done} of ${opts.size} (${why}), also after ${budget.spent} retries`, {
          cause: err,
          details: { ...(err instanceof RegpushError ? err.details : {}), errno },
        });
      }
      // A note, as the transport's own retries are (never a warning: --quiet leaves it out); the
      // error says how many retries were made when they run out.
      opts.logger?.info(`${opts.what}: ${(err as Error).message}; retrying from byte ${done} in ${delay} ms`);
      await sleep(delay, opts.signal);
      if (!out.destroyed) await openNext();
    } catch (e) {
      opening = false;
      if (!out.destroyed) out.destroy(e as Error);
    }
  }

  return out;
}

function noop(): void {}
