// Relative paths are taken in the directory the run was given — CliIO.cwd for the CLI (main() run
// in-process), the `cwd` option for the library — never in the process's own directory, which is
// another one here (the test runner's). Against fake registries (test/fixtures/fake-registry.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { push, type RegpushError } from '../../src/index.js';
import { anchorPaths } from '../../src/registry/working-directory.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';
import { layerNames } from '../fixtures/layer-names.js';

const fake = fakeRegistryPool();

/** A fresh directory that is not the process's working directory, removed after the test. */
function workDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'regpush-relative-paths-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.notEqual(resolve(process.cwd()), dir, 'the process runs elsewhere, or the test proves nothing');
  return dir;
}

/** The CLI's environment for fake registries. */
function cliEnv(...regs: FakeRegistry[]): Record<string, string | undefined> {
  const lib = fakeLibraryOptions(...regs);
  return { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };
}

/** The entry names of each layer the pushed image has on top of its base (`baseLayers` of them). */
async function newLayers(reg: FakeRegistry, repo: string, tag: string, baseLayers: number): Promise<string[][]> {
  const m = JSON.parse(reg.manifest(repo, tag)!.bytes.toString('utf8')) as { layers: { digest: string }[] };
  return Promise.all(m.layers.slice(baseLayers).map((l) => layerNames(reg.blob(repo, l.digest)!)));
}

test('push in-process: relative --layer and --app (each with its .dockerignore) and --digest-file are taken in CliIO.cwd, not the process\'s directory', async (t) => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base', { tags: ['1'] });
  const dir = workDir(t);
  mkdirSync(join(dir, 'deps'));
  writeFileSync(join(dir, 'deps', 'lib.js'), 'module.exports = 1\n');
  writeFileSync(join(dir, 'deps', 'debug.log'), 'left out\n');
  writeFileSync(join(dir, 'deps', '.dockerignore'), '*.log\n');
  mkdirSync(join(dir, 'app'));
  writeFileSync(join(dir, 'app', 'server.js'), 'console.log("hi")\n');

  const r = await runMain(['push', '--from', src.ref('base:1'), '--to', dst.ref('app:1'), '--layer', 'deps:/deps', '--app', './app', '--digest-file', 'out/../app.digest'], { env: cliEnv(src, dst), cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const pushed = dst.manifest('app', '1')!.digest;
  assert.equal(readFileSync(join(dir, 'app.digest'), 'utf8'), `${pushed}\n`);
  const [deps, app] = await newLayers(dst, 'app', '1', base.layers.length);
  assert.deepEqual(deps!.filter((n) => !n.endsWith('/')), ['deps/.dockerignore', 'deps/lib.js'], 'deps/.dockerignore applied');
  assert.deepEqual(app!.filter((n) => !n.endsWith('/')), ['app/server.js']);
});

test('push in-process: a relative --app missing from CliIO.cwd is E_INPUT naming it as given, before any request', async (t) => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  const dir = workDir(t);
  const r = await runMain(['push', '--from', src.ref('base:1'), '--to', dst.ref('app:1'), '--app', 'publish'], { env: cliEnv(src, dst), cwd: dir });
  assert.equal(r.code, 2, r.stderr); // E_INPUT (README "Exit codes")
  assert.match(r.stderr, /app source publish: not found/);
  assert.equal(dst.count(), 0);
});

test('a relative REGISTRY_AUTH_FILE in the CLI\'s environment is read in CliIO.cwd (push, copy, tags)', async (t) => {
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'basic', user: 'ci', password: 's3cret' } });
  src.seedImage('base', { tags: ['1'] });
  const dir = workDir(t);
  mkdirSync(join(dir, 'conf'));
  writeFileSync(join(dir, 'conf', 'auth.json'), JSON.stringify({ auths: { [dst.host]: { auth: Buffer.from('ci:s3cret').toString('base64') } } }));
  mkdirSync(join(dir, 'app'));
  writeFileSync(join(dir, 'app', 'server.js'), 'console.log("hi")\n');
  const env = { ...cliEnv(src, dst), REGISTRY_AUTH_FILE: 'conf/auth.json' };

  const pushed = await runMain(['push', '--from', src.ref('base:1'), '--to', dst.ref('app:1'), '--app', 'app'], { env, cwd: dir });
  assert.equal(pushed.code, 0, pushed.stderr);
  const copied = await runMain(['copy', src.ref('base:1'), dst.ref('copy:1')], { env, cwd: dir });
  assert.equal(copied.code, 0, copied.stderr);
  const tags = await runMain(['tags', dst.ref('app')], { env, cwd: dir });
  assert.equal(tags.code, 0, tags.stderr);
  assert.equal(tags.stdout, '1\n');
});

test('library: push({ cwd }) takes relative sources in cwd and names a missing one as given', async (t) => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base', { tags: ['1'] });
  const dir = workDir(t);
  mkdirSync(join(dir, 'out'));
  writeFileSync(join(dir, 'out', 'run.sh'), 'echo hi\n');
  const opts = { from: src.ref('base:1'), to: dst.ref('app:1'), ...fakeLibraryOptions(src, dst), cwd: dir };
  await push({ ...opts, app: [{ src: 'out', dest: '/srv/' }] });
  const [app] = await newLayers(dst, 'app', '1', base.layers.length);
  assert.deepEqual(app!.filter((n) => !n.endsWith('/')), ['srv/run.sh']);
  await assert.rejects(push({ ...opts, app: [{ src: 'nope', dest: '/srv/' }] }), (err: RegpushError) => err.code === 'E_INPUT' && err.message === 'app source nope: not found');
  await assert.rejects(push({ ...opts, cwd: '', app: [{ src: 'out', dest: '/srv/' }] }), (err: RegpushError) => err.code === 'E_USAGE' && /cwd is empty/.test(err.message));
});

test('anchorPaths: the tls files and directories and env\'s path variables, relative ones taken in cwd; absolute ones and other variables as they are', () => {
  const a = anchorPaths({
    cwd: '/work/proj',
    env: { REGISTRY_AUTH_FILE: 'auth.json', DOCKER_CONFIG: '/etc/docker', NODE_EXTRA_CA_CERTS: '../ca.pem', HOME: 'home', PATH: 'bin' },
    tls: { certsDirs: ['certs.d', '/etc/containers/certs.d'], caCerts: { 'reg:5000': ['ca/a.pem', '/abs/b.pem'] }, clientCerts: { reg: { cert: 'c.pem', key: 'k/key.pem' } }, nodeExtraCaCerts: 'extra.pem', verifyOff: ['x'] },
  });
  assert.equal(a.cwd, '/work/proj');
  assert.deepEqual(a.env, { REGISTRY_AUTH_FILE: '/work/proj/auth.json', DOCKER_CONFIG: '/etc/docker', NODE_EXTRA_CA_CERTS: '/work/ca.pem', HOME: 'home', PATH: 'bin' });
  assert.deepEqual(a.tls, {
    certsDirs: ['/work/proj/certs.d', '/etc/containers/certs.d'],
    caCerts: { 'reg:5000': ['/work/proj/ca/a.pem', '/abs/b.pem'] },
    clientCerts: { reg: { cert: '/work/proj/c.pem', key: '/work/proj/k/key.pem' } },
    nodeExtraCaCerts: '/work/proj/extra.pem',
    verifyOff: ['x'],
  });
  // No cwd: the process's directory, made absolute once.
  assert.equal(anchorPaths({ env: { DOCKER_CONFIG: 'd' } }).env!.DOCKER_CONFIG, join(process.cwd(), 'd'));
  // Nothing to anchor: the same env and no tls added.
  const plain = { env: { HOME: '/h' } };
  assert.equal(anchorPaths({ ...plain, cwd: '/x' }).env, plain.env);
  assert.equal('tls' in anchorPaths({ cwd: '/x' }), false);
});
