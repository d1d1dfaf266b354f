/**
 * The ranges connection options are taken in, the same for the CLI (REGPUSH_IDLE_TIMEOUT_MS,
 * --chunk-size, --retries) and the library (idleTimeoutMs, chunkSize, retries). A module of its
 * own, importing only the error classes, so the CLI's option parsing can use them without
 * loading the registry code.
 */
import { UsageError } from '../errors.js';

export const IDLE_TIMEOUT_RANGE_MS = { min: 100, max: 3_600_000 } as const;
export const CHUNK_SIZE_RANGE = { min: 1024, max: 1024 ** 3 } as const;
export const RETRIES_MAX = 20;

/**
 * A library caller's idleTimeoutMs, chunkSize and retries in range, each message naming the option
 * as the operation's other messages do (`about`: `push(): chunkSize`, optionPaths): a chunk size of
 * 0 uploads empty PATCHes forever, an idle timeout of 1 ms fails every request, a retry count in
 * the millions never gives up. Each operation calls it with its other checks, before any request;
 * making the transport checks the same ranges again, for a caller that skipped this.
 */
export function checkConnectionRanges(opts: { idleTimeoutMs?: number; chunkSize?: number; retries?: number }, about: (option: string) => string): void {
  const { idleTimeoutMs, chunkSize, retries } = opts;
  if (idleTimeoutMs !== undefined && !(idleTimeoutMs >= IDLE_TIMEOUT_RANGE_MS.min && idleTimeoutMs <= IDLE_TIMEOUT_RANGE_MS.max)) {
    throw new UsageError(`${about('idleTimeoutMs')} must be milliseconds from ${IDLE_TIMEOUT_RANGE_MS.min} to ${IDLE_TIMEOUT_RANGE_MS.max} (got ${idleTimeoutMs})`);
  }
  if (chunkSize !== undefined && !(chunkSize >= CHUNK_SIZE_RANGE.min && chunkSize <= CHUNK_SIZE_RANGE.max)) {
    throw new UsageError(`${about('chunkSize')} must be bytes from ${CHUNK_SIZE_RANGE.min} (1 KiB) to ${CHUNK_SIZE_RANGE.max} (1 GiB) (got ${chunkSize})`);
  }
  if (retries !== undefined && !(retries >= 0 && retries <= RETRIES_MAX)) throw new UsageError(`${about('retries')} must be a whole number from 0 to ${RETRIES_MAX} (got ${retries})`);
}
