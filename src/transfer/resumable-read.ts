/**
 * A blob read that survives a dropped connection: when the source stream breaks before `size`
 * bytes, it asks again with `Range: bytes=<done>-` and carries on feeding the same output, so the
 * upload on the other side never notices. Registries that ignore Range (200 instead of 206) make
 * us skip the bytes we already have — correct, only slower. Byte counts are enforced: more bytes
 * than the descriptor says is a DigestMismatchError at once, fewer is one at the end.
 */
import { Readable } from 'node:stream';
import { AbortedError, DigestMismatchError, NetworkError, RegpushError } from '../errors.js';
import { outcomeOfError, RetryBudget, sleep, type RetryPolicy } from '../http/retry.js';
import type { Logger } from '../log.js';

/** Opens the blob from byte `start`; `partial` is false when the server sent the whole blob anyway. */
export type OpenAt = (start: number) => Promise<{ body: Readable; partial: boolean; size?: number }>;

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
}

/**
 * Returns a Readable of exactly `size` bytes of the blob, resuming with Range when the body
 * breaks off. A failing open() is final: the request it makes has had the transport's retries.
 */
export function resumableRead(opts: ResumableReadOptions): Readable {
  let done = 0;
  const budget = opts.budget ?? new RetryBudget(opts.policy);
  // `out.destroyed` turns true when the consumer destroys the output (an upload that failed or
  // switched method): the read must stop there, not resume in the background.
  let current: Readable | undefined;
  async function* generate(): AsyncGenerator<Buffer> {
    while (true) {
      if (opts.signal?.aborted) throw new AbortedError();
      if (out.destroyed) return;
      let skip = 0;
      const { body, partial, size } = await opts.open(done);
      current = body;
      if (out.destroyed) {
        body.destroy();
        return;
      }
      try {
        const expected = partial ? opts.size - done : opts.size;
        if (size !== undefined && size !== expected) {
          body.destroy();
          throw new DigestMismatchError(`${opts.what}: source declares ${size} bytes where ${expected} were expected (descriptor size ${opts.size})`);
        }
        if (done > 0) {
          opts.onResume?.(done);
          opts.logger?.info(`resuming ${opts.what} at byte ${done}${partial ? '' : ' (server ignored Range; skipping)'}`);
          if (!partial) skip = done;
        }
        for await (const chunk of body as AsyncIterable<Buffer>) {
          let c = chunk;
          if (skip > 0) {
            if (c.length <= skip) {
              skip -= c.length;
              continue;
            }
            c = c.subarray(skip);
            skip = 0;
          }
          if (done + c.length > opts.size) {
            body.destroy();
            throw new DigestMismatchError(`${opts.what}: source sent more than the ${opts.size} bytes its descriptor declares`);
          }
          done += c.length;
          opts.onBytes?.(c.length);
          yield c;
        }
        if (done === opts.size) return;
        // The stream ended early without an error: treat as a dropped connection.
        throw Object.assign(new Error(`premature end of ${opts.what} at ${done}/${opts.size}`), { code: 'ERR_STREAM_PREMATURE_CLOSE', shortBody: true });
      } catch (err) {
        body.destroy();
        if (out.destroyed) return;
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
        opts.logger?.warn(`${opts.what}: ${(err as Error).message}; retrying from byte ${done} in ${delay} ms`);
        await sleep(delay, opts.signal);
      }
    }
  }
  const out = Readable.from(generate(), { objectMode: false, highWaterMark: 1 << 16 });
  out.once('close', () => current?.destroy());
  return out;
}
