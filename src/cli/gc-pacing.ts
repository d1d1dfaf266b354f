/**
 * Keeps the memory of a streaming run flat. Each socket read allocates a fresh buffer (up to
 * 64 KiB); passed on at ~100 MB/s, they die young, but V8 only collects them once their sum passes
 * its external-memory threshold, so a cold push or copy carried ~45 MB of dead buffers (peak RSS
 * 110–125 MB for the bench's base image). A minor GC — a scavenge of the young generation, well
 * under a millisecond here — every MiB moved frees them while they are still young (measured on
 * the bench's copy at 4 MiB: peak RSS 118 → 77 MB; see GC_PACING_BYTES for the step).
 *
 * CLI only: a library should not run the collector of the program that imports it, so the
 * library's transfer code just reports bytes (BlobEvents) and the CLI decides.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { BlobEvents } from '../transfer/blobs.js';

type Gc = (options?: { type?: 'minor' | 'major' }) => void;

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
 * Default bytes moved between two minor collections. Measured on the bench: every 4 MiB kept a
 * 113 MB copy at 77–91 MB peak RSS but let a push of a 1 GiB base layer and a 1 GiB app file at
 * once peak at 107–119 MB; every 1 MiB brought that to 91–94 MB for a few per cent more CPU
 * (~110 scavenges of well under a millisecond each per 113 MB).
 */
export const GC_PACING_BYTES = 1024 * 1024;

/** Wraps `events` so that every `everyBytes` bytes reported run a minor GC. */
export function withGcPacing<E extends BlobEvents>(events: E, everyBytes = GC_PACING_BYTES, collector?: Gc): E {
  let gc: Gc | undefined | null = collector ?? null; // null: not asked for yet (a warm push never needs it)
  let since = 0;
  return {
    ...events,
    bytes(digest: string, n: number) {
      since += n;
      if (since >= everyBytes) {
        since = 0;
        if (gc === null) gc = obtainGc();
        gc?.({ type: 'minor' });
      }
      events.bytes?.(digest, n);
    },
  };
}
