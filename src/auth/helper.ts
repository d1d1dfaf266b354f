/**
 * Docker credential helpers (docker-credential-helpers protocol): `docker-credential-<name>
 * <action>`, input on stdin, output on stdout. `get` takes the server URL and prints
 * `{"ServerURL","Username","Secret"}`; `store` takes that JSON; `erase` takes the server URL.
 * A failing helper prints its error message on stdout and exits non-zero.
 */
import { statSync } from 'node:fs';
import { AuthError } from '../errors.js';
import { redactText } from '../redact.js';

/** Runs one helper action and resolves with its stdout; rejects with HelperFailure on exit ≠ 0. */
export type HelperExec = (helperName: string, action: 'get' | 'store' | 'erase', input: string) => Promise<string>;

/**
 * A helper exited non-zero (`message` is its error output, scrubbed before it is shown), timed out,
 * or is not on PATH (`missing`). An AuthError (E_AUTH, exit 3), as helperError's wrapping of it is,
 * so that a path that lets one through unwrapped still hands a library caller a typed error with
 * a stable code. `helperExitCode` is the helper's own exit status (null when it did not exit by
 * itself); `exitCode`, as for every RegpushError, is the CLI's.
 */
export class HelperFailure extends AuthError {
  constructor(
    message: string,
    readonly helperExitCode: number | null,
    readonly timedOut = false,
    readonly missing = false,
  ) {
    super(message);
  }
}

/** Username a helper reports when Secret is an identity token rather than a password. */
export const IDENTITY_TOKEN_USERNAME = '<token>';

const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const OUTPUT_CAP = 1024 * 1024;
/**
 * How long a helper may take by default. The slow helpers (gcloud, ecr-login) answer within a few
 * seconds even on a cold start; one that takes longer is usually waiting on a keychain prompt or a
 * login nobody will answer in CI, where a run should fail soon with a line saying so.
 * Callers raise it with `helperTimeoutMs` (the CLI reads REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS).
 */
export const DEFAULT_HELPER_TIMEOUT_MS = 30_000;

/** Options of spawnHelper. */
export interface SpawnHelperOptions {
  /** Milliseconds a helper may run before it is killed (default DEFAULT_HELPER_TIMEOUT_MS). */
  timeoutMs?: number;
  /**
   * Runs the helper in a process group of its own (setsid; ignored on Windows), so that a timeout,
   * or the process exiting while it runs, kills the processes it started with it (a script's
   * `sleep`, a keychain call), which would otherwise go on running. Default false: the helper runs
   * in the caller's session and process group, as Docker runs it, where it can prompt on the
   * caller's terminal (gcloud's re-authentication, a pinentry on /dev/tty; from a session of its
   * own it cannot open it) and the terminal's Ctrl-C reaches it; a timeout then kills the helper
   * alone. Whether a terminal is at hand is the caller's to know, never read here: the CLI sets
   * this when none of its standard streams is a terminal (CI).
   */
  processGroup?: boolean;
}

/** The helper protocol's way of saying "no credential here": not an error for us. */
export function isNotFound(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /credentials not found/i.test(msg);
}

/** Refuses helper names that could escape `docker-credential-*` (config files are user input). */
export function checkHelperName(name: string): void {
  if (!HELPER_NAME.test(name)) throw new AuthError(`invalid credential helper name "${name}"`);
}

/** How to start a helper: the file (or command line, for `shell`) and its arguments. */
export interface HelperCommand {
  file: string;
  args: string[];
  /** Through cmd.exe: a Windows batch file, which Node will not start without a shell. */
  shell?: boolean;
}

/**
 * The command that runs `docker-credential-<name> <action>`. Elsewhere than on Windows, the name
 * itself: the OS searches PATH. On Windows, Node (libuv) tries only `.com` and `.exe` on PATH, and
 * refuses to start a `.cmd` or `.bat` without a shell (CVE-2024-27980, Node 20.12.2), while helpers
 * are often batch files: the Cloud SDK installs `docker-credential-gcloud.cmd`, which
 * `gcloud auth configure-docker` names for gcr.io and every Artifact Registry host. So PATH is
 * searched here with PATHEXT, as Docker's Go `exec.LookPath` does, and a batch file runs through
 * cmd.exe (the same bug elsewhere: testcontainers/testcontainers-node#293, docker/compose#5875,
 * GoogleContainerTools/jib#2399). The name has passed checkHelperName and the action is one of
 * three words, so the command line holds nothing cmd.exe would interpret but the quoted path.
 */
export function helperCommand(
  helperName: string,
  action: string,
  env: Record<string, string | undefined>,
  platform: NodeJS.Platform = process.platform,
  isFile: (path: string) => boolean = defaultIsFile,
): HelperCommand {
  const bare = `docker-credential-${helperName}`;
  if (platform !== 'win32') return { file: bare, args: [action] };
  // Windows environment names are case-insensitive: "Path" is the usual spelling.
  const get = (name: string): string | undefined => Object.entries(env).find(([k, v]) => k.toUpperCase() === name && v !== undefined)?.[1];
  const exts = (get('PATHEXT') ?? '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean);
  for (const dir of (get('PATH') ?? '').split(';').filter(Boolean)) {
    for (const ext of exts) {
      const candidate = `${dir.replace(/[\\/]+$/, '')}\\${bare}${ext.toLowerCase()}`;
      if (!isFile(candidate)) continue;
      if (/^\.(cmd|bat)$/i.test(ext)) return { file: `"${candidate}" ${action}`, args: [], shell: true };
      return { file: candidate, args: [action] };
    }
  }
  return { file: bare, args: [action] }; // not found: the spawn's ENOENT says so
}

function defaultIsFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Spawns `docker-credential-<name>`; PATH (and everything else the helper sees) comes from
 * `env`, never from process.env, so tests and the library's callers control it.
 */
export function spawnHelper(env: Record<string, string | undefined>, opts: SpawnHelperOptions = {}): HelperExec {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS;
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  return async (helperName, action, input) => {
    checkHelperName(helperName);
    // Loaded here: child_process (and dgram behind it) costs every start, and most runs use no helper.
    const { spawn } = await import('node:child_process');
    return new Promise<string>((resolve, reject) => {
      const command = helperCommand(helperName, action, env);
      // In a process group of its own when asked (SpawnHelperOptions.processGroup). On Windows
      // `detached` would open a console window of its own, so the helper is killed alone there.
      const group = opts.processGroup === true && process.platform !== 'win32';
      const child = spawn(command.file, command.args, {
        env: childEnv,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
        detached: group,
        ...(command.shell ? { shell: true } : {}),
      });
      const pid = child.pid;
      // If the process exits while the helper runs (a second Ctrl-C), its group goes too; it is
      // let go of as soon as the helper ends or is abandoned (runningGroups).
      if (group && pid !== undefined) runningGroups.add(pid);
      const forget = (): void => {
        if (pid !== undefined) runningGroups.delete(pid);
      };
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      // A helper waiting on a keychain prompt nobody answers must not hang a CI job forever.
      // Not unref'd: while a helper runs, this timer is what ends the wait.
      const timer = setTimeout(() => {
        settle(() => reject(new HelperFailure(`timed out after ${formatMs(timeoutMs)}`, null, true)));
        abandon();
      }, timeoutMs);
      // Kills the helper with its process group and lets go of it: a grandchild that escaped the
      // group (a daemon of its own) may hold the pipes open, and must not keep regpush's event
      // loop alive.
      const abandon = (): void => {
        if (group && pid !== undefined) killGroup(pid);
        else child.kill('SIGKILL');
        forget();
        child.stdout.destroy();
        child.stderr.destroy();
        child.stdin.destroy();
        child.unref();
      };
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        size += chunk.length;
        if (size > OUTPUT_CAP) {
          settle(() => reject(new HelperFailure('output larger than 1 MiB', null)));
          abandon();
          return;
        }
        into.push(chunk);
      };
      child.stdout.on('data', collect(out));
      child.stderr.on('data', collect(err));
      child.stdin.on('error', () => {}); // helper exited before reading: the exit code tells us
      child.on('error', (e: NodeJS.ErrnoException) => {
        forget();
        const missing = e.code === 'ENOENT';
        const why = missing ? `docker-credential-${helperName} not found on PATH` : e.message;
        settle(() => reject(new HelperFailure(why, null, false, missing)));
      });
      // A helper that ended by itself keeps what it started (a daemon it launched on purpose).
      child.on('exit', forget);
      child.on('close', (code) => {
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        // A `get` that printed no reply, only a message on stderr (gcloud's "no active account"),
        // fails with that message quoted, as a failure is: "printed nothing" alone hid the reason.
        if (code === 0 && action === 'get' && stdout.trim() === '' && stderr.trim() !== '') {
          return settle(() => reject(new HelperFailure(`printed nothing on stdout, and exited 0; stderr: ${stderr.trim()}`, 0)));
        }
        if (code === 0) return settle(() => resolve(stdout));
        // On failure stdout holds the helper's error message (docker-credential-helpers print it
        // there); stderr may add detail, labelled so that the two do not read as one sentence. A
        // broken helper may also have printed its JSON reply first: helperError scrubs the secret out of it.
        settle(() => reject(new HelperFailure(failureText(stdout, stderr) || `exit code ${code}`, code)));
      });
      child.stdin.end(input);
    });
  };
}

/** A failed helper's output: its stdout, then its stderr after "; stderr: " (either alone when the other is empty). */
export function failureText(stdout: string, stderr: string): string {
  const out = stdout.trim();
  const err = stderr.trim();
  return out && err ? `${out}; stderr: ${err}` : out || err;
}

/**
 * The process groups of the helpers running in a group of their own (SpawnHelperOptions.processGroup),
 * killed if the process exits while they run (a second Ctrl-C): one `exit` listener for all of
 * them, on the process only while one runs. A listener per helper made the caller's process warn
 * (MaxListenersExceededWarning) once more than ten ran at once, as many operations in one library
 * process may run them. Process-wide because the exit it watches is the process's; empty and off
 * the process whenever no such helper runs, so nothing is kept from one run to the next.
 */
class RunningGroups {
  private readonly pids = new Set<number>();
  private readonly killAll = (): void => {
    for (const pid of this.pids) killGroup(pid);
  };

  add(pid: number): void {
    if (this.pids.size === 0) process.on('exit', this.killAll);
    this.pids.add(pid);
  }

  delete(pid: number): void {
    if (this.pids.delete(pid) && this.pids.size === 0) process.off('exit', this.killAll);
  }
}
const runningGroups = new RunningGroups();

/** SIGKILL to process group `pid`, the helper's (it leads its group: spawned detached). */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* the group is gone already */
  }
}

/** "30 s", "1.5 s", "500 ms". */
function formatMs(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * Builds the AuthError for a failed helper: names the helper and the registry, and never echoes input
 * or secrets. A helper that printed its JSON reply and then failed has its Secret scrubbed (by value
 * wherever it appears, and as the JSON member); the secret is also added to `found`, so the run can
 * scrub it from anything else it prints.
 */
export function helperError(
  helperName: string,
  action: string,
  err: unknown,
  secrets: string[] = [],
  registry?: string,
  found?: { add(value: string | undefined): void },
): AuthError {
  const raw = err instanceof Error ? err.message : String(err);
  const leaked = secretsInReply(raw);
  for (const s of leaked) found?.add(s);
  const quoted = quoteOutput(redactText(raw, [...secrets, ...leaked]));
  const what = `credential helper docker-credential-${helperName} ${action}${registry ? ` for ${registry}` : ''}`;
  const hint = err instanceof HelperFailure && err.timedOut ? ' (a helper waiting for input? raise the limit with REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS)' : '';
  return new AuthError(`${what} failed: ${quoted}${hint}`, {
    details: { helper: helperName, ...(registry ? { registry } : {}) },
  });
}

/** The most of a helper's output an error line quotes (after redaction): enough for a few lines of explanation. */
export const HELPER_QUOTE_MAX = 500;

/**
 * A helper's output (already redacted) as one line: every non-blank line, trimmed, joined by " | "
 * (an error is one line, and a helper's message often says what to do on its second line: "…
 * locked | run `pass init`"), cut at HELPER_QUOTE_MAX characters with "…". Redaction comes first,
 * so that the cut never leaves part of a secret behind.
 */
function quoteOutput(text: string): string {
  const joined = text
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' | ');
  return joined.length > HELPER_QUOTE_MAX ? `${joined.slice(0, HELPER_QUOTE_MAX - 1)}…` : joined;
}

/** Secret values of any `{"Secret": …}` JSON object in a helper's output (a reply printed before the helper failed). */
function secretsInReply(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/"Secret"\s*:\s*("(?:[^"\\]|\\.)*")/g)) {
    try {
      const v = JSON.parse(m[1]!) as unknown;
      if (typeof v === 'string' && v) out.push(v);
    } catch {
      /* not a JSON string after all: the member pattern of redactText still hides it */
    }
  }
  return out;
}
