/**
 * The JSON reports of `push --json` and `copy --json`, and `--digest-file`. The shape is
 * documented in src/cli/report.schema.json (JSON Schema 2020-12); a test validates real output
 * against it. Within one reportVersion fields are only ever added: consumers ignore unknown ones.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CopyResult } from '../copy/options.js';
import type { SyncResult } from '../sync/options.js';
import { InputError } from '../errors.js';
import type { PushResult } from '../push/options.js';
import { VERSION } from '../version.js';

/**
 * "4 referrers, 1 left behind": the report's `referrers` and `referrersSkipped` as the human
 * output of copy and sync says them; '' when both are 0.
 */
export function referrersText(copied: number, skipped: number): string {
  if (!copied && !skipped) return '';
  return `${copied} referrer${copied === 1 ? '' : 's'}${skipped ? `, ${skipped} left behind` : ''}`;
}

/** Version of the report format; bumped only when a field changes meaning or goes away. */
const REPORT_VERSION = 1;

/** When the command ran, for the report. */
export interface RunClock {
  startedAt: Date;
  /** Milliseconds since an arbitrary origin (performance.now()). */
  t0: number;
}

/** Starts the clock of a command. */
export function startClock(): RunClock {
  return { startedAt: new Date(), t0: performance.now() };
}

function envelope(command: 'push' | 'copy' | 'sync', clock: RunClock): Record<string, unknown> {
  return {
    reportVersion: REPORT_VERSION,
    command,
    regpushVersion: VERSION,
    startedAt: clock.startedAt.toISOString(),
    durationMs: Math.round(performance.now() - clock.t0),
  };
}

/** The versioned JSON report of push. */
export function pushReport(r: PushResult, clock: RunClock): Record<string, unknown> {
  return { ...envelope('push', clock), ...r };
}

/** The versioned JSON report of copy (also printed for a partial failure). */
export function copyReport(r: CopyResult, clock: RunClock): Record<string, unknown> {
  return { ...envelope('copy', clock), ...r };
}

/** The versioned JSON report of sync (also printed for a partial failure). */
export function syncReport(r: SyncResult, clock: RunClock): Record<string, unknown> {
  return { ...envelope('sync', clock), ...r };
}

/** `--digest-file PATH`: writes "sha256:…\n" (the one file a push or copy writes, and only when asked; login writes the Docker config). */
export async function writeDigestFile(file: string, digest: string, cwd: string): Promise<void> {
  const target = path.resolve(cwd, file);
  try {
    await writeFile(target, digest + '\n', { mode: 0o644 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'write error';
    throw new InputError(`--digest-file ${file}: cannot write (${code}); the image was pushed as ${digest}`, { details: { file: target } });
  }
}
