/**
 * The walk written as a reproducible tar (tar-stream `pack()`), cut into fixed-size blocks and
 * hashed (diffID) as it goes. Headers carry only what must be there: fixed mtime, uid/gid, a
 * normalised mode; no uname/gname, no atime/ctime, pax records only for long or non-ASCII names.
 *
 * Back-pressure: file data waits on the pack's buffer, and header-only entries (directories,
 * symlinks, empty files) wait on a gate that is closed while a block sits unconsumed downstream,
 * so a slow upload stalls the walk instead of filling memory, whatever the number of entries.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { pack, type Header, type Pack } from 'tar-stream';
import { AbortedError, InputError } from '../errors.js';
import type { LayerConfig } from './options.js';
import { BufferPool } from './pool.js';
import { fsInputError, validateSources } from './sources.js';
import { checkAborted, fileMode, walkSources, type WalkEntry } from './walk.js';
import { END_OF_ARCHIVE, entryHeaderBytes, padding } from './tar-header.js';
import { DiffIdHash, HASH_WORKER_MIN_LANES } from './hash-worker.js';

/** What the tar stage learned; complete once its generator has returned. */
export interface TarStats {
  bytes: number;
  entries: number;
  diffId: string;
}

/** Bytes read from a file per step: large enough for few round trips to the thread pool, small enough to keep memory flat. */
const READ_CHUNK = 512 * 1024;
const SYMLINK_MODE = 0o777;
// O_NOFOLLOW: a file swapped for a symlink after the walk saw it is refused, not followed out of the source.
// O_NONBLOCK: a file swapped for a fifo cannot hang open(); fstat then reports it is not a regular file.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
const noop = (): void => {};

/** Lets the producer run only while the consumer is pulling. */
class Gate {
  private isOpen = true;
  private waiters: (() => void)[] = [];
  /** Called while a block waits downstream. */
  close(): void {
    this.isOpen = false;
  }
  /** Called when the consumer pulls again; releases a waiting producer. */
  open(): void {
    this.isOpen = true;
    for (const w of this.waiters.splice(0)) w();
  }
  /** Resolves once the gate is open. */
  async pass(): Promise<void> {
    while (!this.isOpen) await new Promise<void>((r) => this.waiters.push(r));
  }
}

/**
 * Gives the event loop a turn every few hundred KiB or entries. The reads are synchronous and
 * every other wait here (the gate, tar-stream's drain) settles through microtasks, so without
 * this a diffID pass — no gzip, nothing on the thread pool — would hold the loop until it ends:
 * measured on a warm push, a token response waited 80 ms behind 15 MB of hashing.
 */
class EventLoopTurn {
  private bytes = 0;
  private entries = 0;
  /** Call after each read (`n` bytes) or entry (0); now and then it awaits a macrotask. */
  async after(n: number): Promise<void> {
    this.bytes += n;
    if (n === 0) this.entries++;
    if (this.bytes < TURN_BYTES && this.entries < TURN_ENTRIES) return;
    this.bytes = 0;
    this.entries = 0;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
const TURN_BYTES = 1024 * 1024;
const TURN_ENTRIES = 64;

type Sink = ReturnType<Pack['entry']>;
/** What `pack.entry()` accepts: any header fields plus the name. */
type Headers = Partial<Header> & { name: string };

/** Starts an entry and returns its sink and a promise settled when tar-stream is done with it. */
function startEntry(p: Pack, header: Headers): { sink: Sink; done: Promise<void> } {
  let sink!: Sink;
  const done = new Promise<void>((resolve, reject) => {
    sink = p.entry(header, (err) => (err ? reject(err) : resolve()));
  });
  done.catch(noop); // awaited on the success path; on failure the pack's own error is what surfaces
  sink.on('error', noop); // errors reach us through the entry callback and the pack
  return { sink, done };
}

function waitDrain(sink: Sink): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      sink.off('drain', onDrain);
      sink.off('close', onClose);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new AbortedError('layer tar stream closed'));
    };
    sink.on('drain', onDrain);
    sink.on('close', onClose);
  });
}

/**
 * Reads one regular file for the tar: `begin` gets its size and mode, `chunk` each read (and owns
 * the buffer, taken from `reads`, from then on). Fails with InputError when the file is swapped,
 * shrinks or grows meanwhile: the same digest on a second pass needs the same bytes.
 */
async function readRegularFile(
  e: Extract<WalkEntry, { kind: 'file' }>,
  signal: AbortSignal,
  reads: BufferPool,
  turn: EventLoopTurn,
  begin: (size: number, mode: number) => void,
  chunk: (buf: Buffer, n: number) => Promise<void> | void,
): Promise<void> {
  // Synchronous open/stat/read: an app directory is many small files, and each async call is a
  // thread-pool round trip (measured: ~0.5 ms of overhead per file, 3-4x the read itself). Reads
  // are bounded to READ_CHUNK, and EventLoopTurn gives the loop its turns.
  let fd: number;
  try {
    fd = openSync(e.path, OPEN_FLAGS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new InputError(`${e.path} changed while the layer was being built (now a symlink)`, { cause: err });
    throw fsInputError(e.path, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputError(`${e.path} changed while the layer was being built (no longer a regular file)`);
    const size = st.size;
    begin(size, fileMode(st.mode));
    let pos = 0;
    while (pos < size) {
      checkAborted(signal);
      const want = Math.min(READ_CHUNK, size - pos);
      const buf = reads.take();
      let bytesRead: number;
      try {
        bytesRead = readSync(fd, buf, 0, want, pos);
      } catch (err) {
        reads.release(buf);
        throw fsInputError(e.path, err);
      }
      if (bytesRead === 0) {
        reads.release(buf);
        throw new InputError(`${e.path} shrank while being read (${pos} of ${size} bytes)`, { details: { path: e.path } });
      }
      pos += bytesRead;
      await chunk(buf, bytesRead);
      await turn.after(bytesRead);
    }
    // A one-byte read at the end tells a file that grew (a shrunk one failed above); an fstat per
    // file cost ~20 µs, 3 ms of a 167-file app.
    const probe = reads.take();
    let grew: number;
    try {
      grew = readSync(fd, probe, 0, 1, size);
    } catch (err) {
      throw fsInputError(e.path, err);
    } finally {
      reads.release(probe);
    }
    if (grew > 0) throw new InputError(`${e.path} changed size while being read (grew past ${size} bytes)`, { details: { path: e.path } });
  } finally {
    closeSync(fd);
  }
}

async function addFile(p: Pack, e: Extract<WalkEntry, { kind: 'file' }>, base: Headers, signal: AbortSignal, reads: BufferPool, turn: EventLoopTurn): Promise<void> {
  let entry: { sink: Sink; done: Promise<void> } | undefined;
  await readRegularFile(
    e,
    signal,
    reads,
    turn,
    (size, mode) => (entry = startEntry(p, { ...base, type: 'file', mode, size })),
    // tar-stream holds the buffer until the consumer has copied it; the consumer then releases it.
    async (buf, n) => {
      if (!entry!.sink.write(buf.subarray(0, n))) await waitDrain(entry!.sink);
    },
  );
  entry!.sink.end(undefined);
  await entry!.done;
}

/**
 * The diffID and tar size of the layer without building it: the same walk and the same bytes as
 * tarBlocks, hashed as they are read instead of passing through tar-stream (tar-header.ts writes
 * the headers tar-stream would). Measured on a warm push of the bench's 167-file app: the pass
 * through tar-stream cost ~80 ms of the main thread in a fresh process, this one ~20 ms.
 */
export async function hashTar(cfg: LayerConfig, signal: AbortSignal): Promise<{ diffId: string; uncompressedSize: number; entries: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  let entries = 0;
  const feed = (b: Buffer): void => {
    hash.update(b);
    bytes += b.length;
  };
  const reads = new BufferPool(READ_CHUNK, 2);
  const turn = new EventLoopTurn();
  await validateSources(cfg.sources);
  await walkSources(cfg.sources, { signal, logger: cfg.logger }, async (e) => {
    checkAborted(signal);
    entries++;
    const owned = e.kind !== 'directory' || e.owned;
    const base = { name: e.name, mtime: cfg.mtime, uid: owned ? cfg.uid : 0, gid: owned ? cfg.gid : 0 };
    if (e.kind === 'directory') entryHeaderBytes({ ...base, type: 'directory', mode: e.mode, size: 0 }).forEach(feed);
    else if (e.kind === 'symlink') entryHeaderBytes({ ...base, type: 'symlink', mode: SYMLINK_MODE, size: 0, linkname: e.target }).forEach(feed);
    else {
      let size = 0;
      await readRegularFile(
        e,
        signal,
        reads,
        turn,
        (n, mode) => {
          size = n;
          entryHeaderBytes({ ...base, type: 'file', mode, size: n }).forEach(feed);
        },
        (buf, n) => {
          feed(buf.subarray(0, n));
          reads.release(buf);
        },
      );
      feed(padding(size));
    }
    await turn.after(0);
  });
  feed(END_OF_ARCHIVE);
  return { diffId: `sha256:${hash.digest('hex')}`, uncompressedSize: bytes, entries };
}

async function addHeaderOnly(p: Pack, header: Headers): Promise<void> {
  const { done } = startEntry(p, header);
  await done;
}

/** Walks the sources into the pack, then finalizes it. */
async function writeTar(p: Pack, cfg: LayerConfig, signal: AbortSignal, gate: Gate, stats: TarStats, reads: BufferPool): Promise<void> {
  const turn = new EventLoopTurn();
  await validateSources(cfg.sources);
  await walkSources(cfg.sources, { signal, logger: cfg.logger }, async (e) => {
    await gate.pass();
    checkAborted(signal);
    stats.entries++;
    const owned = e.kind !== 'directory' || e.owned;
    // No uname/gname: names would be resolved against the build host's passwd, not the image's.
    const base: Headers = { name: e.name, mtime: cfg.mtime, uid: owned ? cfg.uid : 0, gid: owned ? cfg.gid : 0 };
    if (e.kind === 'directory') await addHeaderOnly(p, { ...base, type: 'directory', mode: e.mode });
    else if (e.kind === 'symlink') await addHeaderOnly(p, { ...base, type: 'symlink', mode: SYMLINK_MODE, linkname: e.target });
    else await addFile(p, e, base, signal, reads, turn);
    await turn.after(0);
  });
  p.finalize();
}

/**
 * The layer's tar as blocks of exactly `cfg.blockSize` bytes (the last one shorter), hashing the
 * diffID on the way. Blocks come from `blocks`; the consumer releases each one when done with it.
 * `signal` (the caller's, possibly combined with a teardown signal) stops everything.
 */
export async function* tarBlocks(cfg: LayerConfig, signal: AbortSignal, stats: TarStats, blocks: BufferPool): AsyncGenerator<Buffer, void, undefined> {
  const p = pack();
  p.on('error', noop); // surfaced by the async iterator below
  const gate = new Gate();
  const stop = new AbortController();
  const producerSignal = AbortSignal.any([signal, stop.signal]);
  const onAbort = (): void => {
    p.destroy(new AbortedError('layer build aborted', { cause: signal.reason }));
    gate.open();
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  // About two reads are between producer and consumer at a time (sink + pack buffer). The pool only
  // reuses what the consumer hands back, so its size bounds reuse, never correctness.
  const reads = new BufferPool(READ_CHUNK, 4);
  const producer = writeTar(p, cfg, producerSignal, gate, stats, reads).catch((err: unknown) => {
    p.destroy(err as Error);
    throw err;
  });
  producer.catch(noop);

  // With many lanes the main thread is the limit; the diffID then hashes on its own thread (hash-worker.ts).
  const offThread = cfg.mode === 'parallel' && cfg.concurrency >= HASH_WORKER_MIN_LANES ? new DiffIdHash() : undefined;
  const hash = createHash('sha256');
  let block = blocks.take();
  let fill = 0;
  let completed = false;
  try {
    for await (const chunk of p as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(chunk.length - off, block.length - fill);
        chunk.copy(block, fill, off, off + n);
        fill += n;
        off += n;
        if (fill === block.length) {
          const out = block;
          // Whole-block updates: ~15 % faster than the pack's small chunks.
          if (offThread) await offThread.update(out);
          else hash.update(out);
          stats.bytes += out.length;
          block = blocks.take();
          fill = 0;
          gate.close();
          yield out;
          gate.open();
        }
      }
      reads.release(chunk); // copied: the file reader may fill it again
    }
    await producer; // the pack ended: make sure it was by finalize(), not by a swallowed failure
    if (fill > 0) {
      const out = block.subarray(0, fill);
      if (offThread) await offThread.update(out);
      else hash.update(out);
      stats.bytes += out.length;
      yield out;
    }
    stats.diffId = `sha256:${offThread ? await offThread.digest() : hash.digest('hex')}`;
    completed = true;
    cfg.onDiffId?.(stats.diffId);
  } finally {
    offThread?.close();
    signal.removeEventListener('abort', onAbort);
    if (!completed) {
      // Early return or failure: stop the producer and wait for it so no file handle outlives us.
      stop.abort();
      gate.open();
      p.destroy();
      await producer.catch(noop);
    }
  }
}
