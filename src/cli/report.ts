/**
 * The JSON reports of `push --json` and `copy --json`, and `--digest-file`. The shape is
 * documented in src/cli/report.schema.json (JSON Schema 2020-12); a test validates real output
 * against it. Within one reportVersion fields are only ever added: consumers ignore unknown ones.
 */
import { constants } from 'node:fs';
import { access, stat, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CopyResult } from '../copy/options.js';
import type { SyncResult } from '../sync/options.js';
import { InputError, UsageError } from '../errors.js';
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

/**
 * The check of a `--digest-file` value: a blank one is refused before any request. It was taken
 * for no file, so `--digest-file "$OUT"` with OUT unset pushed, wrote nothing and exited 0, and
 * the step that reads the file failed instead.
 */
export function checkDigestFileFlag(value: unknown): void {
  if (typeof value === 'string' && value.trim() === '') throw new UsageError('--digest-file needs a file name (got an empty value)');
}

/**
 * Whether `--digest-file PATH` can be written, asked before any request: PATH must not be a
 * directory; a file that exists must be writable itself (`/dev/stdout`, a file made ahead in a
 * read-only folder: its folder need not be), and a new one's folder must exist and be writable.
 * Found only when the digest was written, either ended a push or copy that had succeeded with
 * exit 2 (E_INPUT, "cannot write (ENOENT); the image was pushed as …"). writeDigestFile still
 * reports a failure that comes later (a disk that fills meanwhile).
 */
export async function checkDigestFileTarget(file: string, cwd: string): Promise<void> {
  const target = path.resolve(cwd, file);
  const failed = (err: unknown) => (err as NodeJS.ErrnoException).code ?? 'error';
  let problem: string | undefined;
  let exists = false;
  try {
    if ((await stat(target)).isDirectory()) problem = 'EISDIR: it is a directory';
    else exists = true;
  } catch (err) {
    if (failed(err) !== 'ENOENT') problem = failed(err);
  }
  if (problem === undefined) {
    const written = exists ? target : path.dirname(target);
    try {
      await access(written, constants.W_OK);
    } catch (err) {
      problem = !exists && failed(err) === 'ENOENT' ? `ENOENT: no directory ${written}` : failed(err);
    }
    if (problem === undefined && !exists) problem = await noNewFilesIn(written);
  }
  if (problem !== undefined) throw new InputError(`--digest-file ${file}: cannot write (${problem}); nothing was sent`, { details: { file: target } });
}

/**
 * Linux pseudo-filesystems that hold no new regular file, by statfs(2)'s f_type (linux/magic.h):
 * access(2) passes their folders for root (/proc is mode 555, and root's write check ignores that),
 * and only the write at the end failed (ENOENT, EACCES), after the image had been written.
 */
const NO_NEW_FILES: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x1cd1, 'devpts'],
  [0x6165676c, 'pstore'],
  [0x62656570, 'configfs'],
]);

/**
 * Why no new file can be made in `dir`, where its filesystem says so without a file being made:
 * a pseudo-filesystem (NO_NEW_FILES). A read-only mount needs no such test: access(2) answers EROFS.
 * The check makes no file (a probe would be written where the user asked for one file only,
 * and would stay after a run that was killed); what it cannot tell is still found by
 * writeDigestFile. Undefined: none found.
 */
async function noNewFilesIn(dir: string): Promise<string | undefined> {
  if (process.platform !== 'linux') return undefined;
  try {
    const kind = NO_NEW_FILES.get(Number((await statfs(dir)).type));
    return kind && `${dir} is on a ${kind} pseudo-filesystem, which takes no new file`;
  } catch {
    return undefined; // statfs itself failed: access() already passed, so the write at the end decides
  }
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
