/**
 * One new image layer from local directories: walk → tar → gzip, streamed in one pass with the
 * digest, diffID and sizes known when the stream ends. Nothing touches the disk, memory stays flat
 * whatever the file sizes, and the same inputs give the same bytes (so a hash pass and an upload
 * pass agree).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { AbortedError } from '../errors.js';
import { sayOnce } from '../log.js';
import { parallelGzip, singleGzip } from './gzip.js';
import { HASH_WORKER_MIN_LANES } from './hash-worker.js';
import { resolveLayerOptions, type LayerConfig } from './options.js';
import { BufferPool } from './pool.js';
import { hashTar, tarBlocks, type TarStats } from './tar.js';
import type { LayerOptions, LayerResult } from './types.js';

/** The option and result shapes (see types.ts). */
export type { LayerOptions, LayerResult, LayerSource } from './types.js';
/** `--app SRC[:DEST]` parsing and the up-front source check, for the CLI and the push pipeline. */
export { badFileEntry, badFlag, normaliseDest, parseAppFlag, validateSources, type BadValue } from './sources.js';
/** Where a source lies against a folder, and `--app` split as written, for the CLI's checks of a project's sources. */
export { pathBelow, realPathOutside, splitAppValue } from './sources.js';
/** The range of a time a tar header and a config hold, and SOURCE_DATE_EPOCH parsed, for push's two times (the layers' mtime, the config's `created`). */
export { checkEpochSeconds, epochFromEnv, GZIP_LEVELS, MAX_ID, resolveLayerOptions } from './options.js';
/** Lane defaults and thread-pool sizing, for a host program that sizes UV_THREADPOOL_SIZE itself (as the CLI does). */
export { chooseLanes, defaultLanes, MAX_LANES, poolSizeFor, poolSizeFromEnv, type LaneChoice } from './lanes.js';
/** Destinations written the Windows way (C:\app), for push's layers of a Windows image. */
export { isWindowsStylePath, windowsDestination, windowsSymlinkRefused } from './windows-layer.js';
/** Whether sources hold anything once .dockerignore is applied (an empty --layer is refused), and push's warnings about where sources lie. */
export { firstSymlink, hasContent, present, scanSources, takenIn, unappliedIgnoreWarning, type SourcesScan } from './content.js';
/** The first file of a dependency layer that every install writes anew, for push's note when the layer is not reused. */
export { firstChurningFile } from './churn.js';

const noop = (): void => {};

/**
 * Logs `line` unless this operation's builds have (cfg.said): a push builds the layer up to twice
 * per target, and says so once. Per operation, not per logger: a second push with the same logger
 * says it again (no state outlives a run).
 */
function once(cfg: LayerConfig, level: 'debug' | 'warn', line: string): void {
  sayOnce(cfg.said, (l) => cfg.logger[level](l), line);
}

/** --debug: the lanes and pool chosen and why; a warning when an explicit request was cut to the pool. */
function reportLanes(cfg: LayerConfig): void {
  if (cfg.mode === 'single') return once(cfg, 'debug', 'layer: single-stream gzip (one lane)');
  const l = cfg.lanes;
  once(cfg, 'debug', `layer: ${l.reason}${l.lanes >= HASH_WORKER_MIN_LANES ? '; diffID hashed on a worker thread past 4 MiB of tar' : ''}`);
  if (l.capped) {
    const n = l.capped.requested;
    // Worded for the caller: the CLI's flag, or the library's option and the `env` it reads the pool size from.
    const names = cfg.names;
    const asked = names ? `${names.set('gzipJobs', n)} asks for ${n} gzip lanes` : `${n} gzip lanes asked for`;
    const more = names?.op ? ` and pass it in ${names.name('env')}` : '';
    once(cfg, 'warn', `layer: ${asked}, but the thread pool has ${l.poolSize} threads: using ${l.lanes} (start the process with UV_THREADPOOL_SIZE=${n + 1}${more} for more)`);
  }
}

/** The gzip bytes as an async generator, filling `done` with the result just before it returns. */
async function* layerBytes(cfg: LayerConfig, signal: AbortSignal, done: (r: LayerResult) => void): AsyncGenerator<Buffer, void, undefined> {
  reportLanes(cfg);
  const stats: TarStats = { bytes: 0, entries: 0, diffId: '' };
  // One block filling, `concurrency` compressing, one spare.
  const pool = new BufferPool(cfg.blockSize, cfg.concurrency + 2);
  const blocks = tarBlocks(cfg, signal, stats, pool);
  const release = (b: Buffer): void => pool.release(b);
  const members = cfg.mode === 'single' ? singleGzip(blocks, cfg.level, release) : parallelGzip(blocks, cfg.level, cfg.concurrency, release);
  const hash = createHash('sha256');
  let size = 0;
  let tarSeen = 0;
  const started = performance.now();
  for await (const chunk of members) {
    hash.update(chunk);
    size += chunk.length;
    if (cfg.onTarBytes && stats.bytes > tarSeen) {
      cfg.onTarBytes(stats.bytes - tarSeen);
      tarSeen = stats.bytes;
    }
    yield chunk;
  }
  // When the last byte was produced, for reading a push's timings: a build that ended before its
  // upload session was ready goes as one PUT (push/layer-upload.ts).
  cfg.logger.debug(`layer: built ${stats.entries} entries, ${stats.bytes} bytes of tar, ${size} of gzip in ${Math.round(performance.now() - started)} ms`);
  done({ digest: `sha256:${hash.digest('hex')}`, diffId: stats.diffId, size, uncompressedSize: stats.bytes, entries: stats.entries });
}

/** Builds the layer as a stream of gzip bytes; `result` resolves when the stream has ended, and rejects if it fails or is destroyed first. */
export function createLayerStream(opts: LayerOptions): { stream: Readable; result: Promise<LayerResult> } {
  let cfg: LayerConfig;
  try {
    cfg = resolveLayerOptions(opts);
  } catch (err) {
    const stream = new Readable({ read() {} });
    const result = Promise.reject(err);
    result.catch(noop);
    process.nextTick(() => stream.destroy(err as Error));
    return { stream, result };
  }
  const teardown = new AbortController();
  const signal = cfg.signal ? AbortSignal.any([cfg.signal, teardown.signal]) : teardown.signal;
  let final: LayerResult | undefined;
  const stream = Readable.from(
    layerBytes(cfg, signal, (r) => (final = r)),
    // Byte mode with a small high-water mark: one gzip member is pulled ahead, not sixteen.
    { objectMode: false, highWaterMark: 64 * 1024 },
  );
  const onUserAbort = (): void => {
    stream.destroy(new AbortedError('layer build aborted', { cause: cfg.signal?.reason }));
  };
  cfg.signal?.addEventListener('abort', onUserAbort, { once: true });
  const result = new Promise<LayerResult>((resolve, reject) => {
    let ended = false;
    stream.once('end', () => {
      ended = true;
      if (final) resolve(final);
      else reject(new AbortedError('layer stream ended without a result'));
    });
    stream.once('error', reject);
    stream.once('close', () => {
      cfg.signal?.removeEventListener('abort', onUserAbort);
      teardown.abort(); // a destroyed stream stops the walk and closes any open file
      if (!ended) reject(new AbortedError('layer stream closed before its end'));
    });
  });
  // Callers that only watch the stream must not crash on an unhandled rejection; awaiting still sees it.
  result.catch(noop);
  return { stream, result };
}

/**
 * Computes the layer exactly as createLayerStream would and discards the bytes (a hash pass before
 * a byte-identical upload pass). `onBytes`: the gzip bytes made so far, for progress (a large
 * layer's pass is long, and nothing else is heard of it meanwhile).
 */
export async function hashLayer(opts: LayerOptions, onBytes?: (n: number) => void): Promise<LayerResult> {
  const cfg = resolveLayerOptions(opts);
  let final: LayerResult | undefined;
  const signal = cfg.signal ?? new AbortController().signal;
  for await (const chunk of layerBytes(cfg, signal, (r) => (final = r))) onBytes?.(chunk.length);
  return final!;
}

/** The diffID and tar size only, without gzip: enough to tell whether the layer changed. */
export async function computeDiffId(opts: LayerOptions): Promise<{ diffId: string; uncompressedSize: number }> {
  const cfg = resolveLayerOptions(opts);
  const { diffId, uncompressedSize } = await hashTar(cfg, cfg.signal ?? new AbortController().signal);
  return { diffId, uncompressedSize };
}
