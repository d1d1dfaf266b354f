/**
 * LayerOptions → checked, defaulted settings. Everything that changes the layer's bytes is decided
 * here once, so the hash pass and the upload pass cannot disagree.
 */
import { resolve } from 'node:path';
import { InputError, UsageError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { DEFAULT_BLOCK_SIZE, DEFAULT_GZIP_LEVEL } from './gzip.js';
import { chooseLanes, LIBUV_MAX_POOL, MAX_LANES, type LaneChoice } from './lanes.js';
import type { OptionNames } from '../option-names.js';
import type { LayerOptions, LayerSource } from './types.js';

/** The options with every default applied. */
export interface LayerConfig {
  sources: LayerSource[];
  /** Absolute directory a relative source resolves against. */
  cwd: string;
  mtime: Date;
  uid: number;
  gid: number;
  level: number;
  blockSize: number;
  mode: 'parallel' | 'single';
  /** Gzip lanes: blocks compressing at once in parallel mode. */
  concurrency: number;
  /** How the lanes were chosen (pool size, and why), for --debug and the cap warning. */
  lanes: LaneChoice;
  /** A Windows image's layer (windows-layer.ts). */
  windows: boolean;
  /** An owner was given (`--chown`, 0:0 included): the destinations get entries of that owner (walk.ts, WalkContext.dirs). */
  chowned: boolean;
  signal?: AbortSignal;
  logger: Logger;
  /** Lines already logged by this operation's builds (LayerOptions.said). */
  said: Set<string>;
  /** The caller's option names (LayerOptions.names). */
  names?: OptionNames;
  onTarBytes?: (n: number) => void;
  onDiffId?: (diffId: string) => void;
}

/** Largest uid/gid: uid_t is 32 bits and (uid_t)-1 means "no change" to chown(2). Past 6 octal digits the tar carries it in pax records (tar-header.ts). */
export const MAX_ID = 2 ** 32 - 2;
/**
 * gzip levels, zlib's. 0 stores the blocks uncompressed: still a gzip stream, the layer media type
 * every registry and runtime takes, for content that is compressed already (archives, media) or a
 * link fast enough that compressing costs more than it saves.
 */
export const GZIP_LEVELS = { min: 0, max: 9 } as const;
/** The most the ustar mtime field holds: 11 octal digits, 2242-03-16. */
const MAX_MTIME = 8 ** 11 - 1;

/**
 * `seconds` when it is a time every new layer's tar headers and every config's `created` can hold:
 * a whole number from 0 to 8^11-1 (2242-03-16). Otherwise an error naming `what`: UsageError for
 * an option or flag (`--mtime`, `push(): mtime`), InputError for what was read (`Bad`:
 * SOURCE_DATE_EPOCH), as src/errors.ts splits them. One range for every push, with a layer or
 * config-only: a config-only push once took any value a JS Date holds, and failed past it with
 * E_INTERNAL ("Invalid time value") after the base blobs had moved.
 */
export function checkEpochSeconds(seconds: number, what: string, shown: string = String(seconds), Bad: typeof UsageError | typeof InputError = UsageError): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_MTIME) {
    throw new Bad(`${what} must be a whole number of seconds from 0 to ${MAX_MTIME} (2242-03-16, the most a tar header holds), got ${shown}`);
  }
  return seconds;
}

/** SOURCE_DATE_EPOCH as seconds, or undefined when unset/empty; InputError when malformed or out of range (reproducible-builds.org says fail). */
export function epochFromEnv(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (!/^\d+$/.test(value.trim())) throw new InputError(`SOURCE_DATE_EPOCH must be a non-negative integer, got "${value}"`);
  return checkEpochSeconds(Number(value.trim()), 'SOURCE_DATE_EPOCH', `"${value}"`, InputError);
}

function intIn(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}

/**
 * Applies defaults and checks ranges; UsageError on anything out of range (an option's value),
 * naming the option as this module's callers give it (`gzip level` for gzipLevel). The push's
 * options were checked before, named as its caller gave them (push/inputs.ts, checkLayerRanges):
 * these are the builder's guards.
 */
export function resolveLayerOptions(opts: LayerOptions): LayerConfig {
  // Never SOURCE_DATE_EPOCH: it dates an image's config (push, inputs.ts), and a layer dated by it
  // would be another layer whenever it changes, though its files have not.
  const mtime = checkEpochSeconds(opts.mtime ?? 0, 'layer mtime');
  const uid = intIn('chown uid', opts.chown?.uid ?? 0, 0, MAX_ID);
  const gid = intIn('chown gid', opts.chown?.gid ?? 0, 0, MAX_ID);
  const level = intIn('gzip level', opts.gzipLevel ?? DEFAULT_GZIP_LEVEL, GZIP_LEVELS.min, GZIP_LEVELS.max);
  const blockSize = intIn('gzip block size', opts.blockSize ?? DEFAULT_BLOCK_SIZE, 16 * 1024, 64 * 1024 * 1024);
  if (opts.gzipConcurrency !== undefined) intIn('gzip concurrency', opts.gzipConcurrency, 1, MAX_LANES);
  if (opts.threadPoolSize !== undefined) intIn('thread pool size', opts.threadPoolSize, 1, LIBUV_MAX_POOL);
  // One lane per usable core, capped at the thread pool's threads (see lanes.ts).
  const lanes = chooseLanes({ requested: opts.gzipConcurrency, threadPoolSize: opts.threadPoolSize, env: opts.env });
  const mode = opts.gzipMode ?? 'parallel';
  if (mode !== 'parallel' && mode !== 'single') throw new UsageError(`gzip mode must be "parallel" or "single", got "${String(mode)}"`);
  return {
    sources: opts.sources,
    // The layer builder's boundary: the process's directory only where the caller named none.
    cwd: resolve(opts.cwd ?? process.cwd()),
    mtime: new Date(mtime * 1000),
    uid,
    gid,
    level,
    blockSize,
    mode,
    concurrency: lanes.lanes,
    lanes,
    windows: opts.windows === true,
    chowned: opts.chown !== undefined,
    signal: opts.signal,
    logger: opts.logger ?? silentLogger,
    said: opts.said ?? new Set(),
    names: opts.names,
    onTarBytes: opts.onTarBytes,
    onDiffId: opts.onDiffId,
  };
}
