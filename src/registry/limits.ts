/**
 * The ranges connection options are taken in, the same for the CLI (REGPUSH_IDLE_TIMEOUT_MS,
 * --chunk-size, --retries) and the library (idleTimeoutMs, chunkSize, retries: checked when the
 * transport is made). A module of its own, with no imports, so the CLI's option parsing can use
 * them without loading the registry code.
 */
export const IDLE_TIMEOUT_RANGE_MS = { min: 100, max: 3_600_000 } as const;
export const CHUNK_SIZE_RANGE = { min: 1024, max: 1024 ** 3 } as const;
export const RETRIES_MAX = 20;
