// Shared helpers for scripts/registries.mjs, scripts/seed-images.mjs and scripts/test.mjs.
// node: builtins only; no build step.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync, openSync, readSync, closeSync, accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the repository root (this file lives in scripts/lib/). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

/** Default first port; each environment uses base+0 … base+5. */
export const DEFAULT_PORT_BASE = 15000;

/**
 * Port base and state dir from the environment. The state dir defaults to /tmp/regpush-test for
 * the default base and to /tmp/regpush-test-<base> otherwise, so two bases never share one.
 */
export function testEnv(env = process.env) {
  const portBase = env.REGPUSH_TEST_PORT_BASE ? Number(env.REGPUSH_TEST_PORT_BASE) : DEFAULT_PORT_BASE;
  if (!Number.isInteger(portBase) || portBase < 1024 || portBase > 65529) {
    throw new Error(`REGPUSH_TEST_PORT_BASE must be an integer 1024..65529, got ${env.REGPUSH_TEST_PORT_BASE}`);
  }
  const stateDir = env.REGPUSH_TEST_STATE
    || (portBase === DEFAULT_PORT_BASE ? '/tmp/regpush-test' : `/tmp/regpush-test-${portBase}`);
  return { portBase, stateDir, stateFile: join(stateDir, 'state.json') };
}

/** Reads state.json, or undefined when there is none. */
export function readState(stateFile) {
  if (!existsSync(stateFile)) return undefined;
  return JSON.parse(readFileSync(stateFile, 'utf8'));
}

/** Writes state.json atomically. */
export function writeState(stateFile, state) {
  const tmp = `${stateFile}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, stateFile);
}

/** Runs a command, resolves with its output; rejects with stderr in the message on failure. */
export function run(cmd, args, { input, env, cwd, allowFail = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const result = { code: code ?? 128, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') };
      if (code !== 0 && !allowFail) {
        const shown = args.map((a, i) => (/^--(src-|dest-)?creds$/.test(args[i - 1] ?? '') ? '<creds>' : a));
        reject(new Error(`${cmd} ${shown.join(' ')} failed (${signal ?? code}): ${result.stderr.trim().slice(-2000)}`));
      } else resolve(result);
    });
    if (child.stdin) {
      child.stdin.on('error', () => { /* the command may exit without reading its input */ });
      child.stdin.end(input);
    }
  });
}

/** Full path of an executable on PATH (plus the sbin dirs), or undefined. */
export function which(name) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

/** Path of a statically linked busybox, or undefined (a dynamic one cannot run inside an image). */
export function staticBusybox() {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) {
    if (!existsSync(p)) continue;
    const fd = openSync(p, 'r');
    const buf = Buffer.alloc(4096);
    readSync(fd, buf, 0, buf.length, 0);
    closeSync(fd);
    if (buf.subarray(0, 4).toString('latin1') !== '\x7fELF') continue;
    if (!buf.includes('/ld-linux') && !buf.includes('/ld-musl')) return p; // no PT_INTERP → static
  }
  return undefined;
}

/** Tools the scripts use, with the Debian package that provides each. */
export const TOOLS = {
  'docker-registry': { pkg: 'docker-registry', check: () => which('docker-registry') },
  htpasswd: { pkg: 'apache2-utils', check: () => which('htpasswd') },
  openssl: { pkg: 'openssl', check: () => which('openssl') },
  skopeo: { pkg: 'skopeo', check: () => which('skopeo') },
  umoci: { pkg: 'umoci', check: () => which('umoci') },
  tar: { pkg: 'tar', check: () => which('tar') },
  busybox: { pkg: 'busybox-static', check: () => staticBusybox() },
  crun: { pkg: 'crun', check: () => which('crun') },
  jq: { pkg: 'jq', check: () => which('jq') },
  // The bench's own tools.
  time: { pkg: 'time', check: () => existsSync('/usr/bin/time') },
  curl: { pkg: 'curl', check: () => which('curl') },
  gzip: { pkg: 'gzip', check: () => which('gzip') },
};

/**
 * Makes sure the named tools exist; installs the missing Debian packages with apt-get when
 * running as root (apt-get update first), otherwise throws with the command to run.
 * `optional` tools are installed when possible and never cause an error.
 * While installing, a temporary policy-rc.d keeps packages (docker-registry) from starting services.
 */
export function ensureTools(names, { optional = [], log = (m) => process.stderr.write(m + '\n') } = {}) {
  const canInstall = typeof process.getuid === 'function' && process.getuid() === 0 && !!which('apt-get');
  const missing = names.filter((n) => !TOOLS[n].check());
  const missingOptional = canInstall ? optional.filter((n) => !TOOLS[n].check()) : [];
  if (missing.length === 0 && missingOptional.length === 0) return;
  const pkgs = [...new Set([...missing, ...missingOptional].map((n) => TOOLS[n].pkg))];
  const cmd = `apt-get update && apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
  if (!canInstall) throw new Error(`missing tools: ${missing.join(', ')}; install them with: ${cmd}`);
  log(`installing missing packages: ${pkgs.join(' ')}`);
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...pkgs]]) {
      const r = spawnSync('apt-get', args, { stdio: ['ignore', 2, 2], env }); // keep our stdout clean
      if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed with status ${r.status}`);
    }
  } catch (e) {
    if (missing.length) throw e;
    log(`could not install optional packages: ${e.message}`);
  } finally {
    if (ownPolicy) spawnSync('rm', ['-f', policy]);
  }
  const still = names.filter((n) => !TOOLS[n].check());
  for (const n of missingOptional) if (!TOOLS[n].check()) log(`optional tool ${n} is still missing`);
  if (still.length) throw new Error(`still missing after apt-get install: ${still.join(', ')}`);
}

/** Is a process with this pid alive, and (when `marker` is given) does its command line contain it? */
export function pidAlive(pid, marker) {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try { process.kill(pid, 0); } catch { return false; }
  if (!marker) return true;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.length === 0) return false; // zombie
    return cmdline.replaceAll('\0', ' ').includes(marker);
  } catch { return false; }
}
