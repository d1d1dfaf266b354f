/**
 * Progress on stderr. Without a TTY (CI): one plain line when a blob starts and when it ends,
 * never cursor codes. (The redrawn TTY display is issue #6.)
 */
import type { BlobEvents } from '../transfer/blobs.js';
import type { CliIO } from './io.js';
import type { Verbosity } from './logger.js';

/** A progress sink and its cleanup. */
export interface Progress {
  events: BlobEvents & { phase?(name: string): void };
  stop(): void;
}

/** Human-readable byte count. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Creates the progress display for this run (silent with --quiet or --json). */
export function createProgress(io: CliIO, verbosity: Verbosity, json: boolean): Progress {
  if (verbosity === 'quiet' || json) return { events: {}, stop() {} };
  const short = (d: string) => d.replace(/^sha256:/, '').slice(0, 12);
  return {
    events: {
      start(digest, action, size) {
        if (action === 'skipped') return;
        io.stderr.write(`${action.padEnd(8)} ${short(digest)} ${formatBytes(size)}\n`);
      },
      end(report) {
        io.stderr.write(`${report.action.padEnd(8)} ${short(report.digest)} done${report.bytes ? ` (${formatBytes(report.bytes)})` : ''}\n`);
      },
    },
    stop() {},
  };
}
