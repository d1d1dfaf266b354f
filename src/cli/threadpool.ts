/**
 * The CLI's gzip lanes (`--gzip-jobs`, REGPUSH_GZIP_JOBS) and the libuv thread pool sized to run
 * them. bin.ts calls sizeThreadPool() first thing: libuv reads UV_THREADPOOL_SIZE once, when the
 * process first uses the pool (any async fs, dns.lookup, crypto or zlib call), and every gzip lane
 * needs a thread of it. Keep this module's imports free of anything that touches the pool.
 */
import { InputError, UsageError } from '../errors.js';
import { defaultLanes, MAX_LANES, poolSizeFor, poolSizeFromEnv } from '../layer/lanes.js';
import { rawFlagValues } from './raw-argv.js';

const GZIP_JOBS_ENV = 'REGPUSH_GZIP_JOBS';

/** What sizeThreadPool did, for tests and --debug. */
export interface PoolSizing {
  poolSize: number;
  /** 'user': UV_THREADPOOL_SIZE was already set and is kept; 'regpush': set here for `lanes` lanes. */
  by: 'user' | 'regpush';
  lanes?: number;
}

function wholeJobs(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_LANES ? n : undefined;
}

/**
 * The lanes asked for by `--gzip-jobs` (parsed by yargs) or else REGPUSH_GZIP_JOBS; undefined for
 * the library's default (one per usable core plus 2). A bad value is E_USAGE from the flag, E_INPUT
 * from the environment variable (src/errors.ts).
 */
export function gzipJobsOption(flag: unknown, env: Record<string, string | undefined>): { gzipJobs?: number } {
  if (Array.isArray(flag)) throw new UsageError(`--gzip-jobs was given ${flag.length} times; give it once`);
  if (flag !== undefined) {
    const n = wholeJobs(flag);
    if (n === undefined) throw new UsageError(`--gzip-jobs must be a whole number from 1 to ${MAX_LANES} (got ${String(flag)})`);
    return { gzipJobs: n };
  }
  const raw = env[GZIP_JOBS_ENV];
  if (raw === undefined || raw.trim() === '') return {};
  const n = wholeJobs(raw);
  if (n === undefined) throw new InputError(`${GZIP_JOBS_ENV} must be a whole number from 1 to ${MAX_LANES} (got "${raw}")`);
  return { gzipJobs: n };
}

/** `--gzip-jobs N`, `--gzip-jobs=N` (or yargs' camel-case spelling) in raw argv, the last one; undefined when absent or not a valid count. */
export function gzipJobsFromArgv(argv: readonly string[]): number | undefined {
  const raw = rawFlagValues(argv, 'gzip-jobs').at(-1);
  // Read as yargs reads a number flag (`8.0` and `1e1` are 8 and 10 to the command), so the pool
  // is sized for the lanes the command will take.
  return wholeJobs(raw === undefined || raw.trim() === '' ? undefined : Number(raw));
}

/**
 * Sets UV_THREADPOOL_SIZE in `env` (the process environment, before the pool exists) to fit the
 * lanes this run will use: `--gzip-jobs`, else REGPUSH_GZIP_JOBS, else one per usable core plus 2. A value
 * the user set is kept as it is; the layer then caps the lanes to it (with a warning if asked for more).
 * Invalid counts are left for the command to report; here they just mean the default.
 */
export function sizeThreadPool(env: Record<string, string | undefined>, argv: readonly string[], cores?: number): PoolSizing {
  const user = poolSizeFromEnv(env.UV_THREADPOOL_SIZE);
  if (user !== undefined) return { poolSize: user, by: 'user' };
  const lanes = gzipJobsFromArgv(argv) ?? wholeJobs(env[GZIP_JOBS_ENV]) ?? defaultLanes(cores);
  const poolSize = poolSizeFor(lanes);
  env.UV_THREADPOOL_SIZE = String(poolSize);
  return { poolSize, by: 'regpush', lanes };
}
