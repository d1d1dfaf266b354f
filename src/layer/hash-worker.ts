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
 * Not used with few lanes: a worker costs 20–60 ms to start (measured here) and ~5–10 MB of memory,
 * more than it saves on a small layer or a 2-core machine.
 */
import { Worker } from 'node:worker_threads';

/** Lanes from which the diffID is hashed on a worker thread. */
export const HASH_WORKER_MIN_LANES = 16;
/** Block copies posted and not yet hashed, at most (4 MiB at the default block size). */
const MAX_IN_FLIGHT = 16;

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
export class WorkerHash {
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
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`internal: the hash worker exited (code ${code})`)));
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.failure ??= err;
    this.wake?.();
    this.finish?.reject(this.failure);
  }

  /** Hashes a copy of `bytes`; the caller may reuse `bytes` as soon as this returns. Waits while MAX_IN_FLIGHT copies are queued. */
  async update(bytes: Uint8Array): Promise<void> {
    while (this.inFlight >= MAX_IN_FLIGHT && !this.failure) await new Promise<void>((r) => (this.wake = r));
    this.wake = undefined;
    if (this.failure) throw this.failure;
    let copy = this.spare.pop();
    if (copy === undefined || copy.buffer.byteLength < bytes.length) copy = new Uint8Array(bytes.length);
    else copy = new Uint8Array(copy.buffer, 0, bytes.length);
    copy.set(bytes);
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
