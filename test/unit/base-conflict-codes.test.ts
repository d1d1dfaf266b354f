// A setting the base image turns out not to take (a --layer qualifier for a platform it lacks,
// annotations over a Docker v2 base, --chown over a Windows image, a layer built for the other OS)
// is refused by the README's rule between E_USAGE and E_INPUT: the setting's value is at fault, so
// a flag's or a library option's is E_USAGE, and regpush.json's E_INPUT, each line naming the flag
// or the file's key. Exit 2 either way. Fake registries (test/fixtures/fake-registry.ts), the CLI
// in-process (test/fixtures/run-main.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { push, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { runMain } from '../fixtures/run-main.js';

const fake = fakeRegistryPool();
const tempDir = tempDirs('regpush-base-conflict-codes-');

/** What push(`opts`) rejects with: its code and message. */
async function refusal(opts: Parameters<typeof push>[0]): Promise<{ code: string; message: string }> {
  const err = await push(opts).then(
    () => assert.fail('it succeeded'),
    (e: RegpushError) => e,
  );
  return { code: err.code, message: err.message };
}

/** `regpush ARGV` against `regs` in `cwd`: its exit status, and the code and message of its error line. */
async function cli(argv: string[], regs: FakeRegistry[], cwd = tempDir()): Promise<{ exit: number; code: string; message: string }> {
  const lib = fakeLibraryOptions(...regs);
  const r = await runMain(argv, { env: { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') }, cwd });
  const last = r.stderr.trim().split('\n').at(-1)!;
  const m = /^regpush: error: (.*) \[(E_[A-Z_]+)\]$/.exec(last);
  assert.ok(m, r.stderr);
  return { exit: r.code, code: m[2]!, message: m[1]! };
}

/** A project folder with `regpush.json` holding `config`, and an app folder `app` of one file in it. */
function project(config: (app: string) => Record<string, unknown>): { dir: string; app: string } {
  const dir = tempDir();
  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'server.js'), 'console.log("hi")\n');
  writeFileSync(join(dir, 'regpush.json'), JSON.stringify(config(app)));
  return { dir, app };
}

/** A folder holding one file, for a layer. */
function appDir(): string {
  const d = tempDir();
  writeFileSync(join(d, 'server.js'), 'console.log("hi")\n');
  return d;
}

test('a --layer qualifier for a platform the base lacks: E_USAGE for the flag and the library option, E_INPUT for regpush.json layers', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'], platform: { os: 'linux', architecture: 'amd64' } });
  const app = appDir();
  const lib = await refusal({ from: src.ref('base:1'), to: dst.ref('app:1'), layers: [{ platform: 'linux/arm64', sources: [{ src: app, dest: '/deps' }] }], ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(lib, { code: 'E_USAGE', message: 'push(): layers[0] (linux/arm64=…): the image being built has no linux/arm64 platform (it has linux/amd64)' });
  assert.deepEqual(await cli(['push', '--from', src.ref('base:1'), '--to', dst.ref('app:1'), '--layer', `linux/arm64=${app}:/deps`], [src, dst]), {
    exit: 2,
    code: 'E_USAGE',
    message: '--layer linux/arm64=…: the image being built has no linux/arm64 platform (it has linux/amd64)',
  });
  const p = project((a) => ({ from: src.ref('base:1'), to: dst.ref('app:1'), layers: [`linux/arm64=${a}:/deps`] }));
  assert.deepEqual(await cli(['push'], [src, dst], p.dir), {
    exit: 2,
    code: 'E_INPUT',
    message: 'regpush.json layers[0] (linux/arm64=…): the image being built has no linux/arm64 platform (it has linux/amd64)',
  });
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
});

test('annotations over a Docker v2 base: E_USAGE for --annotation and the library option, E_INPUT for regpush.json annotations alone', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'], format: 'docker' });
  const app = appDir();
  const lib = await refusal({ from: src.ref('base:1'), to: dst.ref('app:1'), app: [{ src: app, dest: '/app' }], annotations: { a: 'b' }, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(lib, { code: 'E_USAGE', message: 'push(): annotations needs an OCI manifest, and the base is Docker v2 (which has no annotations): add format: "oci"' });
  const flag = ['push', '--from', src.ref('base:1'), '--to', dst.ref('app:1'), '--app', app, '--annotation', 'a=b'];
  assert.deepEqual(await cli(flag, [src, dst]), { exit: 2, code: 'E_USAGE', message: '--annotation needs an OCI manifest, and the base is Docker v2 (which has no annotations): add --format oci' });
  const p = project((a) => ({ from: src.ref('base:1'), to: dst.ref('app:1'), app: [a], annotations: { a: 'b' } }));
  assert.deepEqual(await cli(['push'], [src, dst], p.dir), {
    exit: 2,
    code: 'E_INPUT',
    message: 'regpush.json annotations needs an OCI manifest, and the base is Docker v2 (which has no annotations): add --format oci',
  });
  // An --annotation added to the file's: the command line's, as the flag's alone.
  assert.deepEqual(await cli(['push', '--annotation', 'c=d'], [src, dst], p.dir), {
    exit: 2,
    code: 'E_USAGE',
    message: '--annotation needs an OCI manifest, and the base is Docker v2 (which has no annotations): add --format oci',
  });
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
});

test('annotations with format docker: E_INPUT where regpush.json gave both, E_USAGE where --format docker was given', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  const p = project((a) => ({ from: src.ref('base:1'), to: dst.ref('app:1'), app: [a], annotations: { a: 'b' }, format: 'docker' }));
  assert.deepEqual(await cli(['push'], [src, dst], p.dir), {
    exit: 2,
    code: 'E_INPUT',
    message: 'regpush.json annotations cannot go into a Docker v2 manifest (it has no annotations); use --format oci',
  });
  assert.deepEqual(await cli(['push', '--format', 'docker'], [src, dst], project((a) => ({ from: src.ref('base:1'), to: dst.ref('app:1'), app: [a], annotations: { a: 'b' } })).dir), {
    exit: 2,
    code: 'E_USAGE',
    message: 'regpush.json annotations cannot go into a Docker v2 manifest (it has no annotations); use --format oci',
  });
  assert.equal(src.count() + dst.count(), 0, 'refused before any request');
});

test('--chown over a base with a Windows image: E_USAGE, naming --chown (the library: chown)', async () => {
  const reg = await fake();
  const linux = reg.seedImage('base/mixed', { platform: { os: 'linux', architecture: 'amd64' } });
  const windows = reg.seedImage('base/mixed', { platform: { os: 'windows', architecture: 'amd64' } });
  reg.seedIndex('base/mixed', [linux, windows], { tags: ['1'] });
  const app = appDir();
  const lib = await refusal({ from: reg.ref('base/mixed:1'), to: reg.ref('app:1'), platform: 'all', app: [{ src: app, dest: '/app' }], chown: { uid: 1000, gid: 1000 }, ...fakeLibraryOptions(reg) });
  const said = 'sets a Linux owner, and a Windows image has none: its layer gives BUILTIN\\Users access to every file';
  assert.deepEqual(lib, { code: 'E_USAGE', message: `the base has a windows/amd64 image: chown ${said}` });
  const argv = ['push', '--from', reg.ref('base/mixed:1'), '--to', reg.ref('app:1'), '--platform', 'all', '--app', app, '--chown', '1000:1000'];
  assert.deepEqual(await cli(argv, [reg]), { exit: 2, code: 'E_USAGE', message: `the base has a windows/amd64 image: --chown ${said}` });
  // With the app from regpush.json too: --chown, a flag, is what the base does not take.
  const p = project((a) => ({ from: reg.ref('base/mixed:1'), to: reg.ref('app:1'), platform: 'all', app: [a] }));
  assert.deepEqual(await cli(['push', '--chown', '1000:1000'], [reg], p.dir), { exit: 2, code: 'E_USAGE', message: `the base has a windows/amd64 image: --chown ${said}` });
  assert.equal(reg.manifest('app', '1'), undefined);
});

test('a layer built for Linux over a single Windows image (no --platform): E_USAGE naming --app or --layer, E_INPUT naming regpush.json app or layers[i]', async () => {
  const reg = await fake();
  reg.seedImage('base/win', { tags: ['ltsc'], platform: { os: 'windows', architecture: 'amd64' } });
  const app = appDir();
  const opts = { from: reg.ref('base/win:ltsc'), to: reg.ref('app:1'), ...fakeLibraryOptions(reg) };
  const advice = 'is built for Linux: give';
  assert.deepEqual(await refusal({ ...opts, app: [{ src: app, dest: '/app' }] }), { code: 'E_USAGE', message: `the base is a windows/amd64 image, and app (/app) ${advice} platform: "windows/amd64"` });
  assert.deepEqual(await refusal({ ...opts, layers: [{ sources: [{ src: app, dest: '/deps' }] }] }), {
    code: 'E_USAGE',
    message: `the base is a windows/amd64 image, and layers[0] (/deps) ${advice} platform: "windows/amd64"`,
  });
  const base = ['push', '--from', reg.ref('base/win:ltsc'), '--to', reg.ref('app:1')];
  assert.deepEqual(await cli([...base, '--app', app], [reg]), { exit: 2, code: 'E_USAGE', message: `the base is a windows/amd64 image, and --app /app ${advice} --platform windows/amd64` });
  assert.deepEqual(await cli([...base, '--layer', `${app}:/deps`], [reg]), { exit: 2, code: 'E_USAGE', message: `the base is a windows/amd64 image, and --layer /deps ${advice} --platform windows/amd64` });
  const fromFile = project((a) => ({ from: reg.ref('base/win:ltsc'), to: reg.ref('app:1'), app: [a] }));
  assert.deepEqual(await cli(['push'], [reg], fromFile.dir), { exit: 2, code: 'E_INPUT', message: `the base is a windows/amd64 image, and regpush.json app (/app) ${advice} --platform windows/amd64` });
  const layersFile = project((a) => ({ from: reg.ref('base/win:ltsc'), to: reg.ref('app:1'), layers: [`${a}:/deps`] }));
  assert.deepEqual(await cli(['push'], [reg], layersFile.dir), {
    exit: 2,
    code: 'E_INPUT',
    message: `the base is a windows/amd64 image, and regpush.json layers[0] (/deps) ${advice} --platform windows/amd64`,
  });
  assert.equal(reg.manifest('app', '1'), undefined);
});

test('regpush.json format docker over a base it cannot convert: the advice names the file\'s key, not --format, which was not given', async () => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base/app');
  src.putManifest('base/app', { ...base.manifest, layers: base.layers.map((l) => ({ ...l, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' })) }, { tags: ['zstd'] });
  const p = project((a) => ({ from: src.ref('base/app:zstd'), to: dst.ref('app:1'), app: [a], format: 'docker' }));
  assert.deepEqual(await cli(['push'], [src, dst], p.dir), {
    exit: 6,
    code: 'E_UNSUPPORTED',
    message: 'layer type application/vnd.oci.image.layer.v1.tar+zstd has no Docker v2 equivalent; push with --format oci (or leave regpush.json format out) to keep it',
  });
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
});
