/**
 * Keeps the memory of a streaming run flat. Each socket read allocates a fresh buffer (up to
 * 64 KiB); passed on at ~100 MB/s, they die young, but V8 only collects them once their sum passes
 * its external-memory threshold, so a cold push or copy carried ~45 MB of dead buffers (peak RSS
 * 110–125 MB for the bench's base image). A minor GC — a scavenge of the young generation, about
 * a millisecond — every few MiB moved frees them while they are still young (measured on the
 * bench's copy at 4 MiB: peak RSS 118 → 77 MB), and a full one every few tens of MiB frees those
 * that were promoted meanwhile (see GC_MINOR_BYTES and GC_MAJOR_BYTES for the steps).
 *
 * CLI only: a library should not run the collector of the program that imports it, so the
 * library's transfer code just reports bytes (BlobEvents) and the CLI decides.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { BlobEvents } from '../transfer/types.js';

/** V8's gc(): a full collection without options; Node 20's V8 treats any options object, { type: 'major' } too, as a scavenge. */
type Gc = (options?: { type: 'minor' }) => void;

/** V8's collector, obtained without a command-line flag (`--expose-gc` applies to contexts created after it is set). */
export function obtainGc(): Gc | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as Gc | undefined;
    setFlagsFromString('--no-expose-gc');
    return typeof gc === 'function' ? gc : undefined;
  } catch {
    return undefined; // no pacing then: memory is bounded all the same, only higher
  }
}

/**
 * Default bytes moved between two minor collections. Measured on a push of a 1 GiB base layer and
 * a 1 GiB app file at once: every 1 MiB ~1500 scavenges (~1.4 CPU-s), every 2 MiB ~750 (~1.0 s),
 * every 4 MiB ~340 (~0.5 s); with full collections as below the peak RSS was 77–79, 78–79 and
 * 82–84 MB. The bench's 113 MB push and copy peak at the same 70–80 MB with 1 or 2 MiB.
 */
export const GC_MINOR_BYTES = 2 * 1024 * 1024;
/**
 * Default bytes moved between two full collections. Some buffers outlive two scavenges (those
 * queued while a socket or the gzip lanes are busy) and are promoted; only a full collection
 * frees them, and V8 starts one only after ~30 MB of them: traced on the 1 GiB push, ArrayBuffers
 * climbed 5 → 37 MB between V8's own full collections, and the peak RSS was 94–95 MB. A full
 * collection every 32 MiB (~11 ms each, 0.5 CPU-s per 2 GiB) brings it to 77–79 MB; every 64 MiB
 * to 79–81 MB; every 8 MiB changes nothing more and costs 2 s.
 */
export const GC_MAJOR_BYTES = 32 * 1024 * 1024;

/** How often the CLI collects, in bytes moved. */
export interface GcPacing {
  minorEvery: number;
  majorEvery: number;
}

/** Wraps `events` so that the bytes reported run a minor GC every `minorEvery` bytes and a full one every `majorEvery`. */
export function withGcPacing<E extends BlobEvents>(events: E, pacing: GcPacing = { minorEvery: GC_MINOR_BYTES, majorEvery: GC_MAJOR_BYTES }, collector?: Gc): E {
  let gc: Gc | undefined | null = collector ?? null; // null: not asked for yet (a warm push never needs it)
  let sinceMinor = 0;
  let sinceMajor = 0;
  const pace = (n: number): void => {
    sinceMinor += n;
    sinceMajor += n;
    if (sinceMinor >= pacing.minorEvery) {
      if (gc === null) gc = obtainGc();
      // A full collection includes the young generation, so it also counts as the minor one.
      sinceMinor = 0;
      if (sinceMajor >= pacing.majorEvery) {
        sinceMajor = 0;
        gc?.(); // no options: see Gc
      } else {
        gc?.({ type: 'minor' });
      }
    }
  };
  const withWork = events as E & { work?(n: number): void };
  return {
    ...events,
    bytes(digest: string, n: number) {
      pace(n);
      events.bytes?.(digest, n);
    },
    // Local work (tar produced before gzip): many small files make garbage without many bytes sent.
    work(n: number) {
      pace(n);
      withWork.work?.(n);
    },
  };
}
