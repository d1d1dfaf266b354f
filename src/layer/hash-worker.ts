/**
 * SHA-256 of the layer's tar (the diffID) on a worker thread, for builds with many gzip lanes.
 *
 * One main thread feeds every lane: it reads the files, writes the tar, and hashes both the tar and
 * the gzip output. With many lanes that thread is the limit (measured on 2 cores with gzip level 0,
 * where zlib costs almost nothing: ~220 MB/s, a third of it in SHA-256), so the bigger of the two
 * hashes moves to its own thread. SHA-256 is one sequential chain and cannot be split, but it can
 * run beside the rest. The worker gets a copy of each block (one memcpy, ~15 % of hashing it), so
 * the block can go back to its pool as soon as zlib is done with it; at most MAX_IN_FLIGHT copies
 * wait for the worker, so a slow worker slows the tar instead of filling memory, and the worker
 * hands each copy back to be reused.
 *
 * Not used with few lanes: a worker costs 20–60 ms to start (measured here) and ~12 MB of memory
 * (peak RSS of a 59 MB build: 88 MB at 15 lanes, 100 MB at 16 with the worker), more than it saves
 * on a small layer or a 2-core machine. Nor for a small tar: DiffIdHash hashes the first
 * START_AFTER bytes on the main thread and keeps copies of them; only a tar that grows past them
 * starts the worker, which re-hashes the copies and goes on from there.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { InternalError } from '../errors.js';

/** Lanes from which the diffID is hashed on a worker thread. */
export const HASH_WORKER_MIN_LANES = 16;
/** Block copies posted and not yet hashed, at most (4 MiB at the default block size). */
const MAX_IN_FLIGHT = 16;
/** Bytes of tar hashed on the main thread before a worker is worth starting (kept as copies meanwhile). */
export const START_AFTER = 4 * 1024 * 1024;

// Inline source (eval: true), so the bundled CLI needs no extra file next to it.
const SOURCE = `'use strict';
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hash = createHash('sha256');
parentPort.on('message', (m) => {
  if (m === null) return parentPort.postMessage({ digest: hash.digest('hex') });
  hash.update(m);
  // The copy goes back to be refilled: left to this thread's GC, dead copies piled up (+70 MB RSS).
  parentPort.postMessage(m, [m.buffer]);
});
`;

/** An incremental SHA-256 whose work happens on a worker thread; same result as createHash('sha256'). */
class WorkerHash {
  private readonly worker: Worker;
  private inFlight = 0;
  /** Copies the worker has handed back, for reuse. */
  private readonly spare: Uint8Array[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private finish: { resolve: (hex: string) => void; reject: (err: Error) => void } | undefined;
  private closed = false;

  constructor() {
    this.worker = new Worker(SOURCE, { eval: true });
    this.worker.on('message', (m: Uint8Array | { digest: string }) => {
      if (!(m instanceof Uint8Array)) {
        this.finish?.resolve(m.digest);
        return;
      }
      this.spare.push(m);
      this.inFlight--;
      this.wake?.();
    });
    // Neither is the input's fault (the worker only hashes bytes): E_INTERNAL, as a bug is.
    this.worker.on('error', (err) => this.fail(new InternalError(`the hash worker failed: ${err.message}`, { cause: err })));
    this.worker.on('exit', (code) => this.fail(new InternalError(`the hash worker exited (code ${code})`)));
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.failure ??= err;
    this.wake?.();
    this.finish?.reject(this.failure);
  }

  /**
   * Hashes a copy of `bytes`; the caller may reuse `bytes` as soon as this returns. Waits while
   * MAX_IN_FLIGHT copies are queued. `owned`: `bytes` is a copy nobody else holds, sent as it is.
   */
  async update(bytes: Uint8Array, owned = false): Promise<void> {
    while (this.inFlight >= MAX_IN_FLIGHT && !this.failure) await new Promise<void>((r) => (this.wake = r));
    this.wake = undefined;
    if (this.failure) throw this.failure;
    let copy: Uint8Array;
    if (owned && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) copy = bytes;
    else {
      const spare = this.spare.pop();
      copy = spare !== undefined && spare.buffer.byteLength >= bytes.length ? new Uint8Array(spare.buffer, 0, bytes.length) : new Uint8Array(bytes.length);
      copy.set(bytes);
    }
    this.inFlight++;
    this.worker.postMessage(copy, [copy.buffer as ArrayBuffer]);
  }

  /** The hex digest of everything updated, in order; then the worker ends. */
  async digest(): Promise<string> {
    if (this.failure) throw this.failure;
    try {
      return await new Promise<string>((resolve, reject) => {
        this.finish = { resolve, reject };
        this.worker.postMessage(null);
      });
    } finally {
      this.close();
    }
  }

  /** Stops the worker (also on failure or abort); idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.worker.terminate();
  }
}

/**
 * The diffID's SHA-256: on the main thread for the first START_AFTER bytes, then, if the tar goes on,
 * on a worker thread that starts from the beginning with the copies kept so far. Same digest either way.
 */
export class DiffIdHash {
  private main: ReturnType<typeof createHash> | undefined = createHash('sha256');
  private early: Uint8Array[] = [];
  private earlyBytes = 0;
  private worker: WorkerHash | undefined;

  /** Hashes `bytes`; the caller may reuse them as soon as this returns. */
  async update(bytes: Uint8Array): Promise<void> {
    if (this.worker) return this.worker.update(bytes);
    this.main!.update(bytes);
    this.early.push(new Uint8Array(bytes)); // a copy: the block is refilled once zlib is done
    this.earlyBytes += bytes.length;
    if (this.earlyBytes <= START_AFTER) return;
    this.worker = new WorkerHash();
    this.main = undefined;
    const early = this.early;
    this.early = [];
    for (const c of early) await this.worker.update(c, true); // become the worker's reusable copies
  }

  /** The hex digest; stops the worker if one ran. */
  async digest(): Promise<string> {
    if (this.worker) return this.worker.digest();
    return this.main!.digest('hex');
  }

  /** Stops the worker, if any (also on failure or abort). */
  close(): void {
    this.worker?.close();
  }

  /** Whether the worker took over (for tests). */
  get offThread(): boolean {
    return this.worker !== undefined;
  }
}
