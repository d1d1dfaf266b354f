// Shared helpers for e2e tests against the real registries started by scripts/registries.mjs.
// Compiled to dist/test/e2e/harness.js. node: builtins only.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Names of the registries in state.json. `tokenbad`'s realm answers 200 non-JSON; it holds no images. */
export type RegistryName = 'anon' | 'basic' | 'token' | 'anon2' | 'tokenbad';
/** Registries that hold the seed images. */
export type SeededRegistry = 'anon' | 'basic' | 'token' | 'anon2';
/** The seeded images (repository:tag). */
export type SeedImage = 'base/busybox:v2s2' | 'base/busybox:oci' | 'base/multi:oci' | 'base/multi:v2s2' | 'base/schema1:1';

/** User name + password. */
export interface Creds { user: string; password: string }

/** One running registry. `user`/`password` are the default (full access) credentials, if any. */
export interface RegistryInfo {
  name: RegistryName;
  host: string; // '127.0.0.1:15000'
  port: number;
  url: string; // 'http://127.0.0.1:15000'
  auth: 'none' | 'basic' | 'token';
  user?: string;
  password?: string;
  users?: Record<string, string>;
  realm?: string; // token realm, or the Basic realm name
  service?: string; // token service name
  issuer?: string;
  logFile: string;
  storageDir: string;
  configFile: string;
  pid: number;
}

/** The token service (realm on its own port). */
export interface TokenServiceInfo {
  host: string;
  port: number;
  url: string;
  realm: string; // http://127.0.0.1:<base+3>/token
  garbageRealm: string; // http://127.0.0.1:<base+3>/garbage-token
  service: string;
  issuer: string;
  users: Record<string, string>; // alice (pull,push; readonly/* pull only), reader (pull)
  logFile: string;
  certFile: string;
  keyFile: string;
  pid: number;
}

/** A seeded manifest as recorded by scripts/seed-images.mjs. */
export interface SeededManifest {
  digest: string;
  mediaType: string;
  size?: number;
  config?: string;
  layers?: string[];
  manifests?: { digest: string; mediaType: string; platform?: { os: string; architecture: string; variant?: string }; annotations?: Record<string, string> }[];
}

/** Contents of <state>/state.json. */
export interface TestState {
  version: number;
  status: 'starting' | 'running' | 'stopped';
  portBase: number;
  stateDir: string;
  stateFile: string;
  repoRoot: string;
  registries: Record<RegistryName, RegistryInfo>;
  tokenService: TokenServiceInfo;
  users: { basic: Record<string, string>; token: Record<string, string> };
  images: Record<SeededRegistry, Record<SeedImage, SeededManifest>>;
  processes: { name: string; pid: number; marker: string }[];
}

/** Result of a child process. */
export interface ExecResult { code: number; stdout: string; stderr: string }

/** Repository root (dist/test/e2e/harness.js → ../../..). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
/** The compiled CLI entry point. */
export const cliBin = fileURLToPath(new URL('../../cli/regpush.cjs', import.meta.url));

/** Directory of state.json: $REGPUSH_TEST_STATE, else the same default as scripts/lib/test-env.mjs. */
export function stateDir(): string {
  if (process.env.REGPUSH_TEST_STATE) return process.env.REGPUSH_TEST_STATE;
  const base = Number(process.env.REGPUSH_TEST_PORT_BASE ?? 15000);
  return base === 15000 ? '/tmp/regpush-test' : `/tmp/regpush-test-${base}`;
}

let cached: TestState | undefined;

/** Reads state.json; throws a clear message when the registries are not running. */
export function loadState(): TestState {
  if (cached) return cached;
  const file = join(stateDir(), 'state.json');
  const how = 'start them with `node scripts/registries.mjs start` (or run `npm test`)';
  if (!existsSync(file)) throw new Error(`test registries are not running: ${file} not found; ${how}`);
  const state = JSON.parse(readFileSync(file, 'utf8')) as TestState;
  if (state.status !== 'running') throw new Error(`test registries are not running (${file} says "${state.status}"); ${how}`);
  const dead = state.processes.filter((p) => { try { process.kill(p.pid, 0); return false; } catch { return true; } });
  if (dead.length) throw new Error(`test registries are not running: ${dead.map((p) => `${p.name} (pid ${p.pid})`).join(', ')} gone; ${how}`);
  if (!state.images) { // started with --no-seed: fail clearly on first use of state.images
    state.images = new Proxy({} as TestState['images'], { get: () => { throw new Error('test registries were started with --no-seed; run `node scripts/seed-images.mjs`'); } });
  }
  cached = state;
  return state;
}

/** Default credentials of a registry (undefined for anonymous ones). */
export function credsOf(reg: RegistryInfo): Creds | undefined {
  return reg.user && reg.password ? { user: reg.user, password: reg.password } : undefined;
}

/** `host/repo:tag` for a registry. */
export function imageRef(reg: RegistryInfo, repoTag: string): string {
  return `${reg.host}/${repoTag}`;
}

// ---------- processes and temp dirs ----------

const tempDirs: string[] = [];
process.on('exit', () => {
  if (process.env.REGPUSH_TEST_KEEP === '1') return;
  for (const d of tempDirs) { try { rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ } }
});

/** A fresh temp dir, removed when the process exits (kept with REGPUSH_TEST_KEEP=1). */
export function tempDir(prefix = 'regpush-e2e-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

/** Removes every temp dir made so far (also happens at exit). */
export function cleanupTempDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Runs a command; never rejects on a non-zero exit (check `code`). */
export function exec(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; cwd?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => { /* the command may not read its input */ });
    child.stdin.end(opts.input ?? '');
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/**
 * Runs `node dist/cli/regpush.cjs ...args` (the bundled CLI that `bin` points at). env is merged onto process.env (undefined deletes a
 * key); DOCKER_CONFIG points at an empty temp dir unless opts.env sets it, so host credentials
 * never leak into a test.
 */
/**
 * The warning a password given as a flag draws (warnPasswordFlag): tests that pass credentials so
 * leave it out where they count the error lines.
 */
export const PASSWORD_FLAG_WARNING = /^warning: --(?:password|to-password|from-password) is visible to other users of this machine; /;

/** A run's stderr without the password-flag warning, trimmed: what a test counting its lines looks at. */
export function stderrWithoutPasswordWarning(r: { stderr: string }): string {
  return r.stderr.split('\n').filter((l) => !PASSWORD_FLAG_WARNING.test(l)).join('\n').trim();
}

export function runCli(args: string[], opts: { env?: Record<string, string | undefined>; input?: string; cwd?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: tempDir('regpush-dockercfg-') };
  for (const [k, v] of Object.entries(opts.env ?? {})) { if (v === undefined) delete env[k]; else env[k] = v; }
  return exec(process.execPath, [cliBin, ...args], { env, input: opts.input, cwd: opts.cwd, timeoutMs: opts.timeoutMs ?? 120_000 });
}

// ---------- skopeo / umoci ----------

const credsArg = (flag: string, c?: Creds): string[] => (c ? [flag, `${c.user}:${c.password}`] : []);
const dockerRef = (ref: string): string => (ref.startsWith('docker://') ? ref : `docker://${ref}`);

/** Options for skopeo commands: creds, and platform choice for an index. */
export interface SkopeoOpts { creds?: Creds; arch?: string; os?: string; variant?: string }

function platformArgs(o: SkopeoOpts): string[] {
  return [...(o.arch ? ['--override-arch', o.arch] : []), ...(o.os ? ['--override-os', o.os] : []), ...(o.variant ? ['--override-variant', o.variant] : [])];
}

/**
 * `skopeo inspect [--raw] [--config] REF` over plain HTTP. `text` is stdout, `json` it parsed, and
 * `digest` the sha256 of stdout (the manifest digest with `raw`, the config digest with raw+config).
 */
export async function skopeoInspect<T = any>(ref: string, opts: SkopeoOpts & { raw?: boolean; config?: boolean } = {}): Promise<{ json: T; text: string; digest: string }> {
  const args = ['inspect', '--tls-verify=false', ...credsArg('--creds', opts.creds), ...platformArgs(opts),
    ...(opts.raw ? ['--raw'] : []), ...(opts.config ? ['--config'] : []), dockerRef(ref)];
  const child = spawn('skopeo', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const code = await new Promise<number>((resolve, reject) => { child.on('error', reject); child.on('close', (c) => resolve(c ?? 1)); });
  const raw = Buffer.concat(out);
  if (code !== 0) throw new Error(`skopeo inspect ${ref} failed (${code}): ${Buffer.concat(err).toString('utf8').trim()}`);
  const text = raw.toString('utf8');
  return { json: JSON.parse(text) as T, text, digest: `sha256:${createHash('sha256').update(raw).digest('hex')}` };
}

/** Tag used inside layouts made by skopeoCopyToLayout. */
export const LAYOUT_TAG = 'img';

/** `skopeo copy docker://REF oci:<tempdir>:img` (verifies every blob's digest and size); returns the layout dir. */
export async function skopeoCopyToLayout(ref: string, creds?: Creds, opts: SkopeoOpts = {}): Promise<string> {
  const dir = join(tempDir(), 'layout'); // no ':' in the path (the oci: transport splits on it)
  const r = await exec('skopeo', ['copy', '-q', '--src-tls-verify=false', ...credsArg('--src-creds', creds ?? opts.creds), ...platformArgs(opts),
    dockerRef(ref), `oci:${dir}:${LAYOUT_TAG}`]);
  if (r.code !== 0) throw new Error(`skopeo copy ${ref} to a layout failed (${r.code}): ${r.stderr.trim()}`);
  return dir;
}

/** `umoci unpack` (checks diff_ids and tar validity) into a new bundle dir; returns it. */
export async function umociUnpack(layoutDir: string, tag = LAYOUT_TAG): Promise<string> {
  const bundle = join(tempDir(), 'bundle');
  const r = await exec('umoci', ['unpack', '--image', `${layoutDir}:${tag}`, bundle]);
  if (r.code !== 0) throw new Error(`umoci unpack ${layoutDir}:${tag} failed (${r.code}): ${r.stderr.trim()}`);
  return bundle;
}

/**
 * `umoci raw unpack` of the image's layers alone into a new directory; returns it. For a Windows
 * image, whose config umoci will not turn into a runtime bundle: the layers are read by Go's
 * archive/tar and checked against the config's diff_ids all the same.
 */
export async function umociRawUnpack(layoutDir: string, tag = LAYOUT_TAG): Promise<string> {
  const rootfs = join(tempDir(), 'rootfs');
  const r = await exec('umoci', ['raw', 'unpack', '--image', `${layoutDir}:${tag}`, rootfs]);
  if (r.code !== 0) throw new Error(`umoci raw unpack ${layoutDir}:${tag} failed (${r.code}): ${r.stderr.trim()}`);
  return rootfs;
}

// ---------- running an image with crun ----------

// Private mount namespace without the cgroup2 mount at /sys/fs/cgroup/unified: crun refuses
// hybrid cgroups otherwise (docs/running-images.md). Nothing outside the namespace changes.
const NS_SCRIPT = 'if grep -qs " /sys/fs/cgroup/unified " /proc/self/mounts; then umount /sys/fs/cgroup/unified || exit 125; fi; exec "$@"';
let runSeq = 0;

async function crunRun(bundleDir: string, timeoutMs: number): Promise<ExecResult> {
  const root = tempDir('regpush-crun-');
  const id = `regpush-e2e-${process.pid}-${++runSeq}`;
  const crun = ['crun', '--root', root, '--cgroup-manager=disabled'];
  const child = exec('unshare', ['-m', '--propagation', 'private', 'sh', '-c', NS_SCRIPT, 'sh', ...crun, 'run', '--bundle', bundleDir, id], { input: '' });
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; void exec(crun[0]!, [...crun.slice(1), 'kill', id, 'KILL']); }, timeoutMs);
  const r = await child;
  clearTimeout(timer);
  await exec(crun[0]!, [...crun.slice(1), 'delete', '--force', id]);
  if (timedOut) r.stderr += `\n[harness] killed after ${timeoutMs} ms`;
  return r;
}

let probe: Promise<string | undefined> | undefined;

/** Why images cannot be run here (undefined when crun works); probed once with a busybox bundle. */
export function runtimeUnavailable(): Promise<string | undefined> {
  probe ??= (async () => {
    if (process.platform !== 'linux') return 'not Linux';
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not running as root (crun needs root here)';
    for (const tool of ['crun', 'unshare', 'umoci']) {
      if ((await exec('sh', ['-c', `command -v ${tool}`])).code !== 0) return `${tool} is not installed`;
    }
    const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
    if (!busybox) return undefined; // cannot probe; trust crun
    const bundle = tempDir('regpush-probe-');
    mkdirSync(join(bundle, 'rootfs', 'bin'), { recursive: true });
    copyFileSync(busybox, join(bundle, 'rootfs', 'bin', 'busybox'));
    const spec = await exec('crun', ['spec'], { cwd: bundle });
    if (spec.code !== 0) return `crun spec failed: ${spec.stderr.trim()}`;
    editBundle(bundle, { args: ['/bin/busybox', 'echo', 'probe-ok'] });
    const r = await crunRun(bundle, 20_000);
    if (r.code === 0 && r.stdout.includes('probe-ok')) return undefined;
    return `crun cannot run a container here (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}`;
  })();
  return probe;
}

/** Options for runImage: override process args/env/cwd in the bundle's config.json. */
export interface RunOpts { args?: string[]; env?: string[]; cwd?: string; timeoutMs?: number }

function editBundle(bundleDir: string, opts: RunOpts): void {
  const file = join(bundleDir, 'config.json');
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as { process: { terminal?: boolean; args?: string[]; env?: string[]; cwd?: string } };
  cfg.process.terminal = false; // umoci sets true; crun then needs a tty
  if (opts.args) cfg.process.args = opts.args;
  if (opts.env) {
    const env = (cfg.process.env ?? []).filter((e) => !opts.env!.some((o) => o.split('=')[0] === e.split('=')[0]));
    cfg.process.env = [...env, ...opts.env];
  }
  if (opts.cwd) cfg.process.cwd = opts.cwd;
  writeFileSync(file, JSON.stringify(cfg, null, 2));
}

/**
 * Runs an unpacked bundle with crun (stdin empty, no tty) and returns its exit code and output.
 * Throws when images cannot run here; call runtimeUnavailable() first to skip instead.
 */
export async function runImage(bundleDir: string, opts: RunOpts = {}): Promise<ExecResult> {
  const why = await runtimeUnavailable();
  if (why) throw new Error(`cannot run images on this host: ${why}`);
  editBundle(bundleDir, opts);
  return crunRun(bundleDir, opts.timeoutMs ?? 30_000);
}

// ---------- registry and token service logs ----------

/** A request as the registry's access log records it (one line per HTTP request). */
export interface LoggedRequest { method: string; uri: string; status: number; line: string }

function logFileOf(name: RegistryName | 'tokenService'): string {
  const s = loadState();
  return name === 'tokenService' ? s.tokenService.logFile : s.registries[name].logFile;
}

/** Current end of a log file; pass it to registryLogSince / logLinesSince later. */
export function logMark(name: RegistryName | 'tokenService'): number {
  return statSync(logFileOf(name)).size;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Like logMark, after the file has stopped growing: the registry writes a request's line just
 * after its response, so a mark taken right after a command may still see that command's last
 * lines arrive after it. Use it before asserting that a second command made no request of a kind.
 */
export async function settledLogMark(name: RegistryName | 'tokenService'): Promise<number> {
  const file = logFileOf(name);
  let size = statSync(file).size;
  const deadline = Date.now() + 2000;
  await sleep(100);
  while (Date.now() < deadline) {
    const now = statSync(file).size;
    if (now === size) break;
    size = now;
    await sleep(50);
  }
  return size;
}

/**
 * Lines appended to a log since `mark`, after the file stops growing (the registry writes its
 * line just after the response). Registry logs mix JSON lines (fields http.request.method,
 * http.request.uri, http.response.status, err.code; "&" appears as \u0026) and access-log lines;
 * the token service writes one JSON line per request.
 */
export async function logLinesSince(name: RegistryName | 'tokenService', mark: number, settleMs = 100): Promise<string[]> {
  const file = logFileOf(name);
  let size = statSync(file).size;
  const deadline = Date.now() + 2000;
  await sleep(settleMs);
  while (Date.now() < deadline) {
    const now = statSync(file).size;
    if (now === size) break;
    size = now;
    await sleep(50);
  }
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(Math.max(0, size - mark));
    readSync(fd, buf, 0, buf.length, mark);
    return buf.toString('utf8').split('\n').filter((l) => l.length > 0);
  } finally { closeSync(fd); }
}

const ACCESS_LINE = /^\S+ \S+ \S+ \[[^\]]+\] "(\S+) (\S+) [^"]*" (\d{3}) /;

/**
 * Requests a registry answered since `mark`, one per HTTP request (from its access log), e.g.
 * `reqs.filter((r) => r.method === 'POST' && r.uri.includes('mount=') && r.status === 201)`.
 */
export async function registryLogSince(name: RegistryName, mark: number): Promise<LoggedRequest[]> {
  const out: LoggedRequest[] = [];
  for (const line of await logLinesSince(name, mark)) {
    const m = ACCESS_LINE.exec(line);
    if (m) out.push({ method: m[1]!, uri: m[2]!, status: Number(m[3]), line });
  }
  return out;
}

// ---------- token service ----------

/** GET <realm>?service=…&scope=… (Basic auth when `creds`); returns status and parsed body. */
export async function fetchToken(opts: { scopes: string[]; creds?: Creds; service?: string; realm?: string; offline?: boolean }): Promise<{ status: number; body: any; token?: string }> {
  const ts = loadState().tokenService;
  const url = new URL(opts.realm ?? ts.realm);
  url.searchParams.set('service', opts.service ?? ts.service);
  for (const s of opts.scopes) url.searchParams.append('scope', s);
  if (opts.offline) { url.searchParams.set('offline_token', 'true'); url.searchParams.set('client_id', 'regpush-e2e'); }
  const headers: Record<string, string> = {};
  if (opts.creds) headers.authorization = `Basic ${Buffer.from(`${opts.creds.user}:${opts.creds.password}`).toString('base64')}`;
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: any = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body, token: typeof body === 'object' && body ? (body.token ?? body.access_token) : undefined };
}

/** Uploads `body` as a blob of `repo` in an anonymous registry (POST, then PUT with the digest); returns its digest and size. */
export async function pushRawBlob(host: string, repo: string, body: Buffer): Promise<{ digest: string; size: number }> {
  const d = 'sha256:' + createHash('sha256').update(body).digest('hex');
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const loc = new URL(start.headers.get('location')!, `http://${host}`);
  loc.searchParams.set('digest', d);
  const done = await fetch(loc, { method: 'PUT', body: new Uint8Array(body), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(done.status, 201);
  return { digest: d, size: body.length };
}

/** A cosign-style signature of `digest` in `repo` of an anonymous registry, under the `sha256-<hex>.sig` tag; returns the tag. */
export async function pushCosignSignature(host: string, repo: string, digest: string): Promise<string> {
  const put = (body: Buffer) => pushRawBlob(host, repo, body);
  const config = await put(Buffer.from('{"architecture":"","os":""}'));
  const layer = await put(Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': digest } } })));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', ...layer, annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ==' } }],
  }));
  const tag = `${digest.replace(':', '-')}.sig`;
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: "PUT", body: new Uint8Array(manifest), headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(res.status, 201);
  return tag;
}
