/**
 * A blob read that survives a dropped connection: when the source stream breaks before `size`
 * bytes, it asks again with `Range: bytes=<done>-` and carries on feeding the same output, so the
 * upload on the other side never notices. Registries that ignore Range (200 instead of 206) make
 * us skip the bytes we already have — correct, only slower. Byte counts are enforced: more bytes
 * than the descriptor says is a DigestMismatchError at once, fewer is one at the end.
 */
import { Readable } from 'node:stream';
import { AbortedError, DigestMismatchError, RegpushError } from '../errors.js';
import { RETRY_ERRNOS, sleep, retryDelay, type RetryPolicy } from '../http/retry.js';
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
  logger?: Logger;
  signal?: AbortSignal;
  /** Called on each resume (for the report). */
  onResume?: (offset: number) => void;
  /** Called with each chunk's length as it passes (progress). */
  onBytes?: (n: number) => void;
}

function isTransient(err: unknown): boolean {
  if (err instanceof AbortedError) return false;
  if (err instanceof RegpushError) {
    const errno = String(err.details.errno ?? '');
    if (RETRY_ERRNOS.has(errno)) return true;
    const s = err.details.status;
    return s === 408 || s === 429 || (typeof s === 'number' && s >= 500);
  }
  const code = (err as { code?: string }).code ?? '';
  return RETRY_ERRNOS.has(code) || code === 'ERR_STREAM_PREMATURE_CLOSE' || /aborted|socket hang up|premature/i.test(String((err as Error)?.message));
}

/** Returns a Readable of exactly `size` bytes of the blob, resuming with Range after transient failures. */
export function resumableRead(opts: ResumableReadOptions): Readable {
  let done = 0;
  let attempt = 0;
  async function* generate(): AsyncGenerator<Buffer> {
    while (true) {
      if (opts.signal?.aborted) throw new AbortedError();
      let skip = 0;
      try {
        const { body, partial, size } = await opts.open(done);
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
        throw Object.assign(new Error(`premature end of ${opts.what} at ${done}/${opts.size}`), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
      } catch (err) {
        if (!isTransient(err)) throw err;
        attempt++;
        const delay = retryDelay(attempt, { errno: 'ECONNRESET' }, opts.policy);
        if (delay === null) {
          if (err instanceof RegpushError) throw err;
          throw new DigestMismatchError(`${opts.what}: got ${done} of ${opts.size} bytes after ${attempt} attempts (${(err as Error).message})`);
        }
        opts.logger?.warn(`${opts.what}: ${(err as Error).message}; retrying from byte ${done} in ${delay} ms`);
        await sleep(delay, opts.signal);
      }
    }
  }
  return Readable.from(generate(), { objectMode: false, highWaterMark: 1 << 16 });
}
