/**
 * Docker credential helpers (docker-credential-helpers protocol): `docker-credential-<name>
 * <action>`, input on stdin, output on stdout. `get` takes the server URL and prints
 * `{"ServerURL","Username","Secret"}`; `store` takes that JSON; `erase` takes the server URL.
 * A failing helper prints its error message on stdout and exits non-zero.
 */
import { AuthError } from '../errors.js';
import { redactText } from '../redact.js';

/** Runs one helper action and resolves with its stdout; rejects with HelperFailure on exit ≠ 0. */
export type HelperExec = (helperName: string, action: 'get' | 'store' | 'erase', input: string) => Promise<string>;

/** A helper exited non-zero; `message` is its (non-secret) error output. */
export class HelperFailure extends Error {
  constructor(message: string, readonly exitCode: number | null) {
    super(message);
    this.name = 'HelperFailure';
  }
}

/** Username a helper reports when Secret is an identity token rather than a password. */
export const IDENTITY_TOKEN_USERNAME = '<token>';

const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const OUTPUT_CAP = 1024 * 1024;
const TIMEOUT_MS = 120_000;

/** The helper protocol's way of saying "no credential here": not an error for us. */
export function isNotFound(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /credentials not found/i.test(msg);
}

/** Refuses helper names that could escape `docker-credential-*` (config files are user input). */
export function checkHelperName(name: string): void {
  if (!HELPER_NAME.test(name)) throw new AuthError(`invalid credential helper name "${name}"`);
}

/**
 * Spawns `docker-credential-<name>`; PATH (and everything else the helper sees) comes from
 * `env`, never from process.env, so tests and the library's callers control it.
 */
export function spawnHelper(env: Record<string, string | undefined>): HelperExec {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  return async (helperName, action, input) => {
    checkHelperName(helperName);
    // Loaded here: child_process (and dgram behind it) costs every start, and most runs use no helper.
    const { spawn } = await import('node:child_process');
    return new Promise<string>((resolve, reject) => {
      const child = spawn(`docker-credential-${helperName}`, [action], {
        env: childEnv,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
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
      const timer = setTimeout(() => {
        child.kill('SIGTERM');
        settle(() => reject(new HelperFailure(`timed out after ${TIMEOUT_MS / 1000} s`, null)));
      }, TIMEOUT_MS);
      timer.unref();
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        size += chunk.length;
        if (size > OUTPUT_CAP) {
          child.kill('SIGTERM');
          settle(() => reject(new HelperFailure('output larger than 1 MiB', null)));
          return;
        }
        into.push(chunk);
      };
      child.stdout.on('data', collect(out));
      child.stderr.on('data', collect(err));
      child.stdin.on('error', () => {}); // helper exited before reading: the exit code tells us
      child.on('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'ENOENT' ? `docker-credential-${helperName} not found on PATH` : e.message;
        settle(() => reject(new HelperFailure(why, null)));
      });
      child.on('close', (code) => {
        const stdout = Buffer.concat(out).toString('utf8');
        if (code === 0) return settle(() => resolve(stdout));
        // On failure stdout holds the helper's error message, never a secret; stderr may add detail.
        const text = `${stdout.trim()} ${Buffer.concat(err).toString('utf8').trim()}`.trim();
        settle(() => reject(new HelperFailure(text || `exit code ${code}`, code)));
      });
      child.stdin.end(input);
    });
  };
}

/** Builds the AuthError for a failed helper: names the helper, never echoes input or secrets. */
export function helperError(helperName: string, action: string, err: unknown, secrets: string[] = []): AuthError {
  const raw = err instanceof Error ? err.message : String(err);
  const firstLine = redactText(raw.split('\n')[0] ?? '', secrets).slice(0, 200);
  return new AuthError(`credential helper docker-credential-${helperName} ${action} failed: ${firstLine}`, {
    details: { helper: helperName },
  });
}
