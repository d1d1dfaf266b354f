// Project defaults for push: regpush.json in the working directory, a "regpush" key in
// package.json, --config-file; flags override; bad files are E_INPUT errors naming the file.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { imageRef, loadState, runCli, skopeoInspect, tempDir } from './harness.js';

const state = loadState();
const R = state.registries;
const run = `j${process.pid}${Date.now().toString(36)}`;

/** A project directory with an app in ./dist and the given files. */
function project(files: Record<string, unknown>): string {
  const dir = tempDir('regpush-project-');
  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'dist', 'server.js'), 'console.log("hi")\n');
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

const defaults = (tag: string) => ({
  $schema: 'ignored',
  from: imageRef(R.anon, 'base/busybox:oci'),
  to: imageRef(R.anon2, `${run}/${tag}:1`),
  app: './dist',
  workdir: '/srv',
  entrypoint: ['/bin/sh', '-c'],
  cmd: ['node /srv/server.js'],
  env: { NODE_ENV: 'production', FROM_FILE: 'yes' },
  ports: [8080, '53/udp'],
  labels: ['org.opencontainers.image.source=https://example.com/acme/web'],
  platform: 'linux/amd64',
});

async function configOf(ref: string) {
  return (await skopeoInspect(ref, { config: true })).json.config as Record<string, any>;
}

test('regpush.json supplies every push default; flags override them', async () => {
  const dir = project({ 'regpush.json': defaults('file') });
  const r = await runCli(['push', '--json', '--env', 'NODE_ENV=staging', '--port', '9090', '--cmd', 'node /srv/other.js'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.match(report.reference, new RegExp(`^${imageRef(R.anon2, `${run}/file`).replace(/\./g, '\\.')}@sha256:`));
  const c = await configOf(imageRef(R.anon2, `${run}/file:1`));
  assert.equal(c.WorkingDir, '/srv');
  assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c']);
  assert.deepEqual(c.Cmd, ['node /srv/other.js'], '--cmd replaces the file\'s cmd');
  assert.ok(c.Env.includes('NODE_ENV=staging'), '--env wins for the same key');
  assert.ok(!c.Env.includes('NODE_ENV=production'));
  assert.ok(c.Env.includes('FROM_FILE=yes'), 'the file\'s other env entries stay');
  assert.deepEqual(Object.keys(c.ExposedPorts).sort(), ['53/udp', '8080/tcp', '9090/tcp']);
  assert.equal(c.Labels['org.opencontainers.image.source'], 'https://example.com/acme/web');
  // The app came from ./dist relative to the file, into the workdir.
  assert.equal(report.layer.action, 'uploaded');

  const other = await runCli(['push', '--dry-run', '--json', '--to', imageRef(R.anon2, `${run}/override:2`)], { cwd: dir });
  assert.equal(other.code, 0, other.stderr);
  assert.equal(JSON.parse(other.stdout).reference, imageRef(R.anon2, `${run}/override`), '--to overrides "to"');
});

test('a "regpush" key in package.json is read when there is no regpush.json', async () => {
  const dir = project({ 'package.json': { name: 'web', version: '1.0.0', regpush: defaults('pkg') } });
  const r = await runCli(['push'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${run}/pkg@sha256:[0-9a-f]{64}\\n$`));
  assert.equal((await configOf(imageRef(R.anon2, `${run}/pkg:1`))).Env.includes('FROM_FILE=yes'), true);
});

test('--config-file picks another file; relative app paths are relative to that file', async () => {
  const dir = project({ 'deploy/prod.json': { ...defaults('explicit'), app: '../dist:/opt/web' }, 'regpush.json': { from: 'not used' } });
  const r = await runCli(['push', '--dry-run', '--json', '--config-file', 'deploy/prod.json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout);
  assert.equal(plan.reference, imageRef(R.anon2, `${run}/explicit`));
  assert.equal(plan.configs[0].config.WorkingDir, '/srv');
  assert.match(plan.configs[0].history.at(-1).created_by, /\/opt\/web/);
});

for (const [name, files, args, pattern] of [
  ['malformed JSON', { 'regpush.json': '{ "from": "alpine:3", }' }, [], /regpush\.json: not valid JSON/],
  ['an unknown key, with a suggestion', { 'regpush.json': { from: 'alpine:3', to: 'x/y:1', entrypiont: ['x'] } }, [], /regpush\.json: unknown key "entrypiont" \(did you mean "entrypoint"\?\)/],
  ['a bad env entry', { 'regpush.json': { from: 'alpine:3', to: 'x/y:1', env: ['NOEQUALS'] } }, [], /regpush\.json: "env" is invalid: .*KEY=VALUE/],
  ['a bad port', { 'regpush.json': { from: 'alpine:3', to: 'x/y:1', ports: [70000] } }, [], /regpush\.json: "ports" is invalid: .*1-65535/],
  ['a relative workdir', { 'regpush.json': { from: 'alpine:3', to: 'x/y:1', workdir: 'srv' } }, [], /regpush\.json: "workdir" must be an absolute path/],
  ['a string entrypoint (exec form needed)', { 'regpush.json': { from: 'alpine:3', to: 'x/y:1', entrypoint: 'node server.js' } }, [], /regpush\.json: "entrypoint" must be a list of strings/],
  ['a package.json "regpush" that is not an object', { 'package.json': { name: 'x', regpush: 'alpine:3' } }, [], /package\.json \("regpush" key\): the regpush settings must be a JSON object/],
  ['a missing --config-file', {}, ['--config-file', 'nope.json'], /cannot read config file .*nope\.json: no such file/],
] as const) {
  test(`E_INPUT naming the file for ${name}`, async () => {
    const dir = project(files);
    const r = await runCli(['push', ...args], { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    const line = r.stderr.trim().split('\n');
    assert.equal(line.length, 1, r.stderr);
    assert.match(line[0]!, pattern);
    assert.match(line[0]!, /\[E_INPUT\]$/);
    assert.equal(r.stdout, '');
  });
}

test('without --from anywhere: a usage error that mentions regpush.json', async () => {
  const dir = project({ 'regpush.json': { to: 'x/y:1' } });
  const r = await runCli(['push'], { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /Missing required argument: --from \(or "from" in regpush\.json\) \[E_USAGE\]/);
});
