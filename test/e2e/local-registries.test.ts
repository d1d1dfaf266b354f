// scripts/registries.mjs and scripts/demo.mjs as a person uses them: --help explains commands,
// ports, users and passwords; `env` prints exports that work when sourced; a busy port or a bad
// command line is one clear line, never a stack trace, and leaves nothing running.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cliBin, exec, loadState, tempDir } from './harness.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const registries = join(REPO, 'scripts', 'registries.mjs');
const state = loadState();
const node = (args: string[], env: NodeJS.ProcessEnv = {}) => exec(process.execPath, args, { cwd: REPO, env: { ...process.env, ...env }, timeoutMs: 60_000 });

/** A stack trace line, which a person should never see for these mistakes. */
const STACK = /^\s+at /m;

test('registries.mjs --help: commands, ports, users and passwords', async () => {
  for (const flag of ['--help', '-h', 'help']) {
    const r = await node([registries, flag]);
    assert.equal(r.code, 0, r.stderr);
    for (const word of ['start', 'stop', 'status', '--write-env', 'REGPUSH_TEST_PORT_BASE', 'base+0', 'base+5']) assert.ok(r.stdout.includes(word), word);
    for (const [user, pw] of [...Object.entries(state.users.basic), ...Object.entries(state.users.token)]) {
      assert.ok(r.stdout.includes(user) && r.stdout.includes(pw), `${user}'s password is listed`);
    }
  }
});

test('registries.mjs env: exports that, sourced, let regpush reach the registries', async () => {
  const r = await node([registries, 'env']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^export DST=${state.registries.basic.host}\\b`, 'm'));
  const script = `${r.stdout}\n${JSON.stringify(process.execPath)} ${JSON.stringify(cliBin)} inspect --json "$DST/base/busybox:v2s2"`;
  const env = { ...process.env, DOCKER_CONFIG: tempDir('regpush-dockercfg-') };
  const run = await exec('bash', ['-c', script], { env, timeoutMs: 60_000 });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).digest, state.images.basic['base/busybox:v2s2']!.digest);
});

test('registries.mjs: an unknown command or a missing --write-env file is one line', async () => {
  const unknown = await node([registries, 'strat']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^unknown command "strat"; usage: node scripts\/registries\.mjs start/);
  assert.equal(unknown.stderr.trim().split('\n').length, 1);
  const missing = await node([registries, 'start', '--write-env'], { REGPUSH_TEST_STATE: tempDir('regpush-state-') });
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr.trim(), 'registries: --write-env needs a file name');
});

test('a busy port: registries.mjs start and npm start (demo.mjs) say so in one line and leave nothing running', async () => {
  const server: Server = createServer((s) => s.destroy());
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as AddressInfo).port;
  try {
    for (const script of [registries, join(REPO, 'scripts', 'demo.mjs')]) {
      const stateDir = tempDir('regpush-busy-');
      const args = script === registries ? [script, 'start'] : [script];
      const r = await node(args, { REGPUSH_TEST_PORT_BASE: String(port), REGPUSH_TEST_STATE: stateDir });
      assert.equal(r.code, 1, `${script}: ${r.stdout}${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, new RegExp(`port 127\\.0\\.0\\.1:${port} is already in use by another program; choose other ports with REGPUSH_TEST_PORT_BASE`));
      assert.doesNotMatch(r.stderr + r.stdout, STACK);
      // Nothing was started: no process recorded as running.
      const status = await node([registries, 'status'], { REGPUSH_TEST_PORT_BASE: String(port), REGPUSH_TEST_STATE: stateDir });
      assert.equal(status.code, 1);
      if (existsSync(join(stateDir, 'state.json'))) assert.match(status.stdout + status.stderr, /not running/);
    }
  } finally {
    server.close();
  }
});
