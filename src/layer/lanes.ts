/**
 * How many blocks the parallel gzip compresses at once ("lanes"), and what libuv's thread pool
 * allows. Only node:os here: the CLI loads this before anything touches the thread pool.
 *
 * Every lane's block is compressed by zlib on a libuv thread-pool thread. The pool's size is fixed
 * when the process first uses it, from UV_THREADPOOL_SIZE (default 4), so a lane beyond the pool's
 * threads only waits for one: it adds memory (a block and its output) and no speed. The library
 * therefore caps the lanes at the pool size. It cannot see the pool itself (Node has no API for
 * it, and the library does not read process.env), so the host tells it: UV_THREADPOOL_SIZE in the
 * `env` it passes to push() (the layer builder's own `threadPoolSize` option, which push() does not
 * take, is for its tests); otherwise libuv's default of 4 is assumed.
 * The lanes never change the bytes: block boundaries depend only on byte offsets.
 */
import { availableParallelism } from 'node:os';

/** Threads libuv starts when UV_THREADPOOL_SIZE is unset. */
const LIBUV_DEFAULT_POOL = 4;
/** libuv's upper bound for UV_THREADPOOL_SIZE (uv_threadpool's MAX_THREADPOOL_SIZE since libuv 1.30). */
export const LIBUV_MAX_POOL = 1024;
/** Most lanes accepted. Each lane adds ~1.3 MB of peak RSS (a block, zlib's state and its output; docs/performance.md, "Using every core"), so 64 lanes ≈ 85 MB. */
export const MAX_LANES = 64;
/**
 * Most lanes chosen by default. One main thread feeds every lane: it reads the files, writes the
 * tar and hashes both the tar (diffID) and the gzip (digest), so past a few hundred MB/s it is the
 * limit and more lanes only add memory. 32 lanes at ~34 MB/s each is ~1.1 GB/s of tar, already
 * more than one core hashes (about 1.6 GB/s with SHA extensions, 0.3–0.5 GB/s without).
 */
export const MAX_DEFAULT_LANES = 32;

/** Why the lanes are what they are, for --debug. */
export interface LaneChoice {
  lanes: number;
  /** Threads in libuv's pool, as known or assumed. */
  poolSize: number;
  /** Where poolSize comes from. */
  poolSource: 'option' | 'UV_THREADPOOL_SIZE' | 'libuv default';
  /** One line: lanes, pool and why. */
  reason: string;
  /** Set when an explicit request was cut to the pool size. */
  capped?: { requested: number };
}

/**
 * Lanes the default adds beyond one per core. With exactly one lane per core, a core idles whenever
 * its lane's next block is not dispatched yet: one main thread reads the files, writes the tar,
 * hashes it and the output, and hands each member downstream before it starts the next block. Two
 * queued blocks keep every core busy through those gaps. Measured on 2 cores (59.5 MB of tar, level
 * 6, 5 interleaved rounds, 2026-12-05): 2 lanes 50 MB/s, 3 lanes 56, 4 lanes 59, 8 lanes 62, at the
 * same CPU seconds (1.9 s), so the extra lanes fill idle time rather than add work; each costs
 * ~1.3 MB of peak RSS.
 */
const QUEUED_LANES = 2;

/** The default lanes for `cores` usable cores: one per core plus QUEUED_LANES, at most MAX_DEFAULT_LANES. */
export function defaultLanes(cores: number = availableParallelism()): number {
  return Math.min(Math.max(1, cores) + QUEUED_LANES, MAX_DEFAULT_LANES);
}

/**
 * UV_THREADPOOL_SIZE read the way libuv reads it (atoi, then 0 → 1, above 1024 → 1024), so the
 * size reported is the size libuv uses. undefined when unset or empty.
 */
export function poolSizeFromEnv(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(value);
  const n = m ? Number(m[1]) : 0;
  // atoi's result is stored in an unsigned int: a negative value wraps to a huge one and is capped.
  if (n < 0 || n > LIBUV_MAX_POOL) return LIBUV_MAX_POOL;
  return n === 0 ? 1 : n;
}

/**
 * The thread-pool size a program should start with to run `lanes` lanes: one thread per lane plus
 * one, so DNS lookups and async fs calls of the transfers running meanwhile never wait behind a
 * gzip block, and never fewer than libuv's default.
 */
export function poolSizeFor(lanes: number): number {
  return Math.min(Math.max(LIBUV_DEFAULT_POOL, lanes + 1), LIBUV_MAX_POOL);
}

/** Chooses the lanes from an explicit request (or the default for `cores`) and the pool size (or UV_THREADPOOL_SIZE in `env`, or libuv's default). */
export function chooseLanes(input: { requested?: number; threadPoolSize?: number; env?: Record<string, string | undefined>; cores?: number }): LaneChoice {
  const cores = input.cores ?? availableParallelism();
  const fromEnv = poolSizeFromEnv(input.env?.UV_THREADPOOL_SIZE);
  const poolSize = input.threadPoolSize ?? fromEnv ?? LIBUV_DEFAULT_POOL;
  const poolSource = input.threadPoolSize !== undefined ? 'option' : fromEnv !== undefined ? 'UV_THREADPOOL_SIZE' : 'libuv default';
  const poolWhy =
    poolSource === 'option'
      ? 'threadPoolSize option'
      : poolSource === 'UV_THREADPOOL_SIZE'
        ? 'UV_THREADPOOL_SIZE'
        : "libuv's default; UV_THREADPOOL_SIZE not passed in";
  const pool = `thread pool ${poolSize} (${poolWhy})`;
  if (input.requested !== undefined) {
    if (input.requested <= poolSize) return { lanes: input.requested, poolSize, poolSource, reason: `${input.requested} gzip lanes (asked for), ${pool}` };
    return {
      lanes: poolSize,
      poolSize,
      poolSource,
      capped: { requested: input.requested },
      reason: `${poolSize} gzip lanes (${input.requested} asked for, capped to the pool: lanes beyond its threads add memory, not speed), ${pool}`,
    };
  }
  const wanted = defaultLanes(cores);
  const lanes = Math.min(wanted, poolSize);
  const usable = `${cores} core${cores === 1 ? '' : 's'} usable`;
  const why =
    lanes < wanted
      ? `${usable}, capped to the pool`
      : wanted === cores + QUEUED_LANES
        ? `${usable}, one per core and ${QUEUED_LANES} queued`
        : `${usable}, at most ${MAX_DEFAULT_LANES} by default`;
  return { lanes, poolSize, poolSource, reason: `${lanes} gzip lanes (default: ${why}), ${pool}` };
}
