// Helpers shared by the e2e files: the one error line of a failed run (every e2e file checks its
// bad inputs with it), and for the fault-injection files (faults, upload fallbacks, abort, resume)
// running the CLI with every byte of output captured, checking that no secret leaked, that an
// image at a target validates, and that no upload session was left behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FaultProxy, ProxiedRequest } from '../fixtures/fault-proxy.js';
import { EXIT_CODES, type ErrorCode } from '../../src/errors.js';
import { cliBin, PASSWORD_FLAG_WARNING, skopeoCopyToLayout, skopeoInspect, tempDir, umociUnpack, type Creds, type ExecResult, type RegistryInfo } from './harness.js';

/** Idle timeout for fault runs: a stall is noticed after this long (REGPUSH_IDLE_TIMEOUT_MS). */
export const FAST_IDLE_MS = '1500';

/** Basic header value for creds. */
export function basicAuth(c: Creds): string {
  return `Basic ${Buffer.from(`${c.user}:${c.password}`).toString('base64')}`;
}

/** Every credential a run could leak: passwords given, and every Authorization value the proxies forwarded. */
export function secretsOf(passwords: string[], proxies: FaultProxy[]): string[] {
  const out = new Set(passwords.filter(Boolean));
  for (const p of proxies) {
    for (const r of p.requests) {
      const a = r.headers.authorization;
      if (!a) continue;
      const value = a.replace(/^(Bearer|Basic)\s+/i, '');
      out.add(value);
      if (/^basic/i.test(a)) {
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        out.add(decoded.slice(decoded.indexOf(':') + 1));
      }
    }
  }
  return [...out].filter((s) => s.length >= 6);
}

/** Fails when any secret appears in the output of a run. */
export function assertNoSecrets(r: ExecResult, secrets: string[]): void {
  const all = r.stdout + r.stderr;
  for (const s of secrets) assert.ok(!all.includes(s), `a secret (${s.slice(0, 3)}…, ${s.length} chars) appears in the CLI output`);
}

/** A line of the plain (no terminal) progress display: an action, a blob or "app layer", sizes. */
const PROGRESS_LINE = /^(skip|mount|stream|upload|build|foreign|total) {1,4}\S/;

/**
 * The one error line of a failed run, the way README's "Exit codes and error codes" promises it:
 * exit code `exit`, which must be the one that table (EXIT_CODES) gives `code`; exactly one stderr
 * line besides progress lines (the app layer may start building before a bad base is noticed) and
 * the --password warning, `regpush: error: … [code]`, matching each `pattern` given;
 * nothing on stdout, unless `stdout: 'report'` says the run was asked for a report (sync --json
 * prints its report of the images it did even when it fails). Returns that line.
 */
export function assertOneErrorLine(r: ExecResult, exit: number, code: ErrorCode, pattern?: RegExp | RegExp[], opts: { stdout?: 'empty' | 'report' } = {}): string {
  assert.equal(EXIT_CODES[code], exit, `README's table gives ${code} exit ${EXIT_CODES[code]}, not ${exit}`);
  assert.equal(r.code, exit, `exit code; stderr:\n${r.stderr}`);
  if ((opts.stdout ?? 'empty') === 'empty') assert.equal(r.stdout, '', 'nothing on stdout');
  const lines = r.stderr.trim().split('\n').filter((l) => !PROGRESS_LINE.test(l) && !PASSWORD_FLAG_WARNING.test(l));
  assert.equal(lines.length, 1, `one line expected on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, new RegExp(`^regpush: error: .*\\[${code}\\]$`));
  for (const p of [pattern ?? []].flat()) assert.match(lines[0]!, p);
  return lines[0]!;
}

/**
 * The upload sessions a run left in the registry (`n` of them) are named in exactly one line of
 * its stderr, `repo` among them: a successful run's warning, or a failed run's error line; none
 * when `n` is 0. Returns that line.
 */
export function assertLeftNamed(stderr: string, n: number, repo: string): string | undefined {
  const lines = stderr.split('\n').filter((l) => /could not be cancelled and may stay in the registry's upload area/.test(l));
  if (n === 0) {
    assert.deepEqual(lines, [], 'no session named as left');
    return undefined;
  }
  assert.equal(lines.length, 1, `one line names the sessions left, got:\n${stderr}`);
  assert.ok(lines[0]!.includes(`${n === 1 ? '1 upload session' : `${n} upload sessions`} could not be cancelled`), lines[0]);
  assert.ok(lines[0]!.includes(`/${repo} (`), `${repo} named: ${lines[0]}`);
  return lines[0];
}

/** skopeo inspect --raw at the target gives `digest`, and skopeo copy + umoci unpack of it succeed; returns the bundle dir. */
export async function assertValidImage(ref: string, digest: string, creds?: Creds): Promise<string> {
  const raw = await skopeoInspect(ref, { raw: true, creds });
  assert.equal(raw.digest, digest, `manifest digest at ${ref}`);
  const layout = await skopeoCopyToLayout(ref, creds);
  return umociUnpack(layout);
}

/** Status of a manifest HEAD directly at the registry (404 = tag absent). */
export async function manifestStatus(reg: RegistryInfo, repo: string, tag: string, creds?: Creds): Promise<{ status: number; digest?: string }> {
  const headers: Record<string, string> = {
    accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json',
  };
  if (creds) headers.authorization = basicAuth(creds);
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers });
  return { status: res.status, digest: res.headers.get('docker-content-digest') ?? undefined };
}

/** Upload sessions the proxy saw opened (POST answered 202), by their Location. */
export function sessionsOpened(p: FaultProxy): URL[] {
  return p.requests.filter((r) => r.method === 'POST' && r.status === 202 && r.location).map((r) => new URL(r.location!));
}

const uuidOf = (u: URL) => u.pathname.split('/').pop()!;

/** The folder distribution (filesystem storage) keeps an upload session's bytes in, for a session URL's path. */
function uploadFolder(reg: RegistryInfo, u: URL): string {
  const m = /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/.exec(u.pathname);
  assert.ok(m, `not an upload session URL: ${u.pathname}`);
  return join(reg.storageDir, 'docker', 'registry', 'v2', 'repositories', m[1]!, '_uploads', m[2]!);
}

/**
 * Every upload session opened through `p` was completed (PUT 201) or cancelled (DELETE), and the
 * registry itself no longer holds it, but for exactly `opts.left` sessions (default none): one
 * whose request was cut in the middle of its body, which distribution keeps (its URLs' `_state` no
 * longer matches its bytes, so the DELETE is answered 404 BLOB_UPLOAD_INVALID) until it purges
 * stale uploads. Held means its bytes are still in `_uploads/<id>/data` under the registry's
 * storage (a cancelled session leaves only hash state there). The registry's own answer is asked
 * too: a GET on the session's opening URL must be 404 BLOB_UPLOAD_UNKNOWN (a session it holds is
 * answered BLOB_UPLOAD_INVALID at a stale offset). Resolves with the ids of the sessions left;
 * `left: 'any'` takes however many there are (a cancel that races the registry's noticing a cut).
 */
export async function assertNoSessionLeft(
  p: FaultProxy,
  reg: RegistryInfo,
  creds?: Creds,
  opts: { left?: number | 'any' } = {},
): Promise<{ opened: number; cancelled: number; left: string[] }> {
  const opened = sessionsOpened(p);
  let cancelled = 0;
  const left: string[] = [];
  const touching = (uuid: string, pred: (r: ProxiedRequest) => boolean) => p.requests.some((r) => r.url.includes(uuid) && pred(r));
  for (const u of opened) {
    const uuid = uuidOf(u);
    const completed = touching(uuid, (r) => r.method === 'PUT' && r.status === 201);
    const deleted = touching(uuid, (r) => r.method === 'DELETE');
    if (deleted) cancelled++;
    assert.ok(completed || deleted, `upload session ${uuid} was neither completed nor cancelled`);
    const held = existsSync(join(uploadFolder(reg, u), 'data'));
    const res = await fetch(`${reg.url}${u.pathname}${u.search}`, { headers: creds ? { authorization: basicAuth(creds) } : {} });
    const body = await res.text();
    if (held) {
      left.push(uuid);
      continue;
    }
    assert.equal(res.status, 404, `upload session ${uuid} still known to the registry (${res.status})`);
    assert.match(body, /BLOB_UPLOAD_UNKNOWN/, `upload session ${uuid} still known to the registry: ${body}`);
  }
  if (opts.left !== 'any') assert.equal(left.length, opts.left ?? 0, `upload sessions still holding bytes in the registry's upload area: ${left.join(', ') || 'none'}`);
  return { opened: opened.length, cancelled, left };
}

/** A running CLI child that can be signalled; `result` resolves when it exits. */
export interface CliChild {
  pid: number;
  signal(sig: NodeJS.Signals): void;
  result: Promise<ExecResult & { signal?: string | null }>;
  /** Output so far. */
  output(): string;
}

/** Starts the CLI like harness.runCli does (empty DOCKER_CONFIG), but returns at once so the test can signal it. */
export function startCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): CliChild {
  const e: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: tempDir('regpush-dockercfg-') };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete e[k];
    else e[k] = v;
  }
  const child = spawn(process.execPath, [cliBin, ...args], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const result = new Promise<ExecResult & { signal?: string | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, signal, stdout, stderr });
    });
  });
  return { pid: child.pid!, signal: (sig) => child.kill(sig), result, output: () => stdout + stderr };
}

export { waitFor } from '../fixtures/wait-for.js';

/** Requests through `p` whose path contains `needle`, with `method`. */
export function requestsFor(p: FaultProxy, method: string, needle: string | RegExp): ProxiedRequest[] {
  return p.requests.filter((r) => r.method === method && (typeof needle === 'string' ? r.url.includes(needle) : needle.test(r.url)));
}
