// push() against in-process fake registries: what the new image's config and manifests say, for
// bases and inputs that are out of the ordinary (a base whose config and manifest disagree, an
// index with an artifact child, a Docker v2 base with a foreign layer), SOURCE_DATE_EPOCH on a
// config-only push, an empty --app, an unreadable file deep in --app. Each checks the stored
// documents, not only the report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { push, type RegpushError } from '../../src/index.js';
import { applyConfigChanges, scratchConfig, type ConfigChanges } from '../../src/image/config.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const tempDir = tempDirs('regpush-push-base-config-');
/** A directory with one file, for the app layer. */
function appDir(content = 'console.log("hi")\n'): { src: string; dest: string }[] {
  const d = tempDir();
  writeFileSync(join(d, 'server.js'), content);
  return [{ src: d, dest: '/app' }];
}
const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const json = (b: Buffer): any => JSON.parse(b.toString('utf8')); // eslint-disable-line @typescript-eslint/no-explicit-any
/** The image config the target's tag (a single manifest) names. */
function configAt(reg: FakeRegistry, repo: string, ref: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  const m = json(reg.manifest(repo, ref)!.bytes);
  return json(reg.blob(repo, m.config.digest)!);
}

test('a base whose config lists fewer diff_ids than its manifest has layers: E_PROTOCOL naming both counts, nothing written', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/node', { tags: ['20'] });
  // The config of a broken build: one diff_id for the manifest's two layers.
  const cfg = json(img.config.bytes);
  cfg.rootfs.diff_ids = cfg.rootfs.diff_ids.slice(0, 1);
  const cfgDesc = src.putBlob('base/node', JSON.stringify(cfg), 'application/vnd.oci.image.config.v1+json');
  src.putManifest('base/node', { ...img.manifest, config: { mediaType: cfgDesc.mediaType, digest: cfgDesc.digest, size: cfgDesc.size } }, { tags: ['broken'] });
  let caught: unknown;
  await push({ from: src.ref('base/node:broken'), to: dst.ref('app:1'), app: appDir(), ...fakeLibraryOptions(src, dst) }).catch((e: unknown) => (caught = e));
  assert.equal((caught as RegpushError)?.code, 'E_PROTOCOL', String(caught));
  assert.match((caught as Error).message, /1 diff_id.*2 layers|2 layers.*1 diff_id/);
  assert.match((caught as Error).message, new RegExp(cfgDesc.digest));
  assert.equal(dst.manifest('app', '1'), undefined);
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
});

test('a base config without rootfs under a manifest with layers is refused the same way, also for a config-only push', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/node', { tags: ['20'] });
  const cfg = json(img.config.bytes);
  delete cfg.rootfs;
  const cfgDesc = src.putBlob('base/node', JSON.stringify(cfg), 'application/vnd.oci.image.config.v1+json');
  src.putManifest('base/node', { ...img.manifest, config: { mediaType: cfgDesc.mediaType, digest: cfgDesc.digest, size: cfgDesc.size } }, { tags: ['norootfs'] });
  let caught: unknown;
  await push({ from: src.ref('base/node:norootfs'), to: dst.ref('app:1'), config: { env: ['A=1'] }, ...fakeLibraryOptions(src, dst) }).catch((e: unknown) => (caught = e));
  assert.equal((caught as RegpushError)?.code, 'E_PROTOCOL', String(caught));
  assert.match((caught as Error).message, /0 diff_ids.*2 layers/);
  assert.equal(dst.manifest('app', '1'), undefined);
});

test('a config-only push takes its created time from SOURCE_DATE_EPOCH, as a push with a layer does', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const opts = fakeLibraryOptions(src, dst);
  const env = { ...opts.env, SOURCE_DATE_EPOCH: '1700000000' };
  const when = new Date(1700000000 * 1000).toISOString();
  await push({ ...opts, env, from: src.ref('base/node:20'), to: dst.ref('app:cfg'), config: { env: ['A=1'] } });
  const cfg = configAt(dst, 'app', 'cfg');
  assert.equal(cfg.created, when);
  assert.deepEqual(cfg.history.at(-1), { created: when, created_by: 'regpush: config change', empty_layer: true });
  // The same time as a push with a layer gets.
  await push({ ...opts, env, from: src.ref('base/node:20'), to: dst.ref('app:layer'), app: appDir(), config: { env: ['A=1'] } });
  assert.equal(configAt(dst, 'app', 'layer').created, when);
  // Without SOURCE_DATE_EPOCH: the epoch, as before (an unchanged digest for such pushes).
  await push({ ...opts, from: src.ref('base/node:20'), to: dst.ref('app:zero'), config: { env: ['A=1'] } });
  assert.equal(configAt(dst, 'app', 'zero').created, '1970-01-01T00:00:00.000Z');
});

test('an empty --app directory (or one whose .dockerignore leaves nothing) is E_INPUT before any request', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const empty = tempDir();
  const ignored = tempDir();
  writeFileSync(join(ignored, '.dockerignore'), '*\n');
  writeFileSync(join(ignored, 'a.txt'), 'x');
  mkdirSync(join(ignored, 'sub'));
  for (const d of [empty, ignored]) {
    let caught: unknown;
    await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: [{ src: d, dest: '/app' }], ...fakeLibraryOptions(src, dst) }).catch((e: unknown) => (caught = e));
    assert.equal((caught as RegpushError)?.code, 'E_INPUT', String(caught));
    assert.match((caught as Error).message, /^push\(\): app \(.*\): nothing to put in the layer/);
  }
  assert.equal(dst.count(), 0, 'no request to the target');
  assert.equal(src.count(), 0, 'nor to the source');
});

/**
 * An app directory other users may read, whose last file in walk order, three levels down, is
 * mode 000: the check that the layer is not empty stopped at the first entry, and the build
 * reached that file only seconds in.
 */
/**
 * The readability walk runs alongside the first round trips (the base manifest, the tag): reads
 * and an upload session opened ahead may go out, but nothing is committed, and that session is
 * cancelled.
 */
function assertNothingWritten(dst: FakeRegistry): void {
  const writes = dst.requests().filter((q) => q.method === 'PUT' || q.query.mount !== undefined || q.method === 'PATCH');
  assert.deepEqual(writes.map((q) => `${q.method} ${q.path}`), [], 'no blob or manifest written at the target');
  assert.equal(dst.openUploads(), 0, 'no upload session left open');
}

function lockedTree(): { dir: string; locked: string } {
  const dir = tempDir();
  for (const sub of ['a', 'z/deep/er']) mkdirSync(join(dir, sub), { recursive: true });
  for (let i = 0; i < 50; i++) writeFileSync(join(dir, 'a', `f${i}.js`), `module.exports = ${i};\n`);
  // 16 MiB that do not compress, ahead of the locked file in walk order: the build meets that file
  // long after the base blobs could have been committed, as it does in a real app's tree.
  writeFileSync(join(dir, 'a', 'bundle.bin'), randomBytes(16 << 20));
  const locked = join(dir, 'z/deep/er/zz.key');
  writeFileSync(locked, 'secret\n');
  for (const d of [dir, join(dir, 'a'), join(dir, 'z'), join(dir, 'z/deep'), join(dir, 'z/deep/er')]) chmodSync(d, 0o755);
  chmodSync(locked, 0o000);
  return { dir, locked };
}

test('a file the layer cannot open, deep in the sources, is E_INPUT naming it before anything is written (the build met it seconds in, after a first push had committed the base blobs and the config)', async (t) => {
  if (process.getuid?.() === 0) return t.skip('running as root: access(2) grants root every file, so a mode 000 file is readable here (the CLI test below runs as nobody instead)');
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const { dir, locked } = lockedTree();
  let caught: unknown;
  await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: [{ src: dir, dest: '/app' }], ...fakeLibraryOptions(src, dst) }).catch((e: unknown) => (caught = e));
  assert.equal((caught as RegpushError)?.code, 'E_INPUT', String(caught));
  assert.equal((caught as Error).message, `cannot read ${locked}: permission denied`);
  assertNothingWritten(dst);
});

test('regpush push with a file it cannot open deep in --app: one E_INPUT line naming the file, exit 2, nothing written at the target (as root: run as nobody)', async (t) => {
  const bin = fileURLToPath(new URL('../../cli/regpush.cjs', import.meta.url));
  if (!existsSync(bin)) return t.skip('dist/cli/regpush.cjs not built (npm run build)');
  const root = process.getuid?.() === 0;
  // Root may open any file: the CLI runs as nobody then, as test/e2e/push.test.ts's unreadable --app does.
  if (root && !existsSync('/usr/bin/setpriv')) return t.skip('running as root without setpriv to run as another user: access(2) grants root every file');
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const { dir, locked } = lockedTree();
  const home = tempDir();
  chmodSync(home, 0o755);
  const args = ['push', '--from', src.ref('base/node:20'), '--to', dst.ref('app:1'), '--app', dir, '--insecure-registry', src.host, '--insecure-registry', dst.host];
  const [cmd, argv] = root ? ['/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bin, ...args]] : [process.execPath, [bin, ...args]];
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(cmd, argv, { cwd: dir, env: { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: join(home, 'run') }, timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? null : 0, stdout, stderr }));
  });
  assert.equal(r.code, 2, r.stderr);
  // The build of the app layer may have started alongside the walk (its progress line); one error line ends the output.
  assert.match(r.stderr, new RegExp(`(^|\\n)regpush: error: cannot read ${locked.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: permission denied \\[E_INPUT\\]\\n$`));
  assert.equal(r.stderr.split('regpush: error:').length - 1, 1, r.stderr);
  assert.equal(r.stdout, '');
  assertNothingWritten(dst);
});

/** Runs the built CLI (as nobody when this is root, for whom access(2) allows every file); undefined when it cannot. */
async function cliAsUser(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string } | undefined> {
  const bin = fileURLToPath(new URL('../../cli/regpush.cjs', import.meta.url));
  if (!existsSync(bin)) return undefined;
  const root = process.getuid?.() === 0;
  if (root && !existsSync('/usr/bin/setpriv')) return undefined;
  const home = tempDir();
  chmodSync(home, 0o755);
  const [cmd, argv] = root ? ['/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bin, ...args]] : [process.execPath, [bin, ...args]];
  return new Promise((resolve) => {
    execFile(cmd, argv, { cwd, env: { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: join(home, 'run') }, timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? null : 0, stdout, stderr }));
  });
}

test('a Windows layer with a file it cannot open ahead of a symlink: the symlink is the error (before any request, or for --platform all once the base shows a Windows image); over a Linux-only base the file is', async (t) => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/win', { tags: ['ltsc'], platform: { os: 'windows', architecture: 'amd64' } });
  const linux = src.seedImage('base/mixed', { platform: { os: 'linux', architecture: 'amd64' } });
  const windows = src.seedImage('base/mixed', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2340' } });
  src.seedIndex('base/mixed', [linux, windows], { tags: ['1'] });
  src.seedImage('base/node', { tags: ['20'] });
  // One pre-build walk answers both checks: it must not stop at the locked file (first in walk
  // order) while a symlink may still come, nor let the file hide the link.
  const { dir, locked } = lockedTree();
  symlinkSync('../a/f0.js', join(dir, 'z', 'link.js'));
  const reg = ['--insecure-registry', src.host, '--insecure-registry', dst.host];
  const line = (m: string): RegExp => new RegExp(`(^|\\n)regpush: error: ${m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\[E_INPUT\\]\\n$`);
  const symlinkLine = line('/app/z/link.js is a symbolic link, which a Windows layer cannot hold (regpush writes no reparse points); replace it with the file or exclude it in .dockerignore');
  const cases: [string, string[], RegExp, boolean][] = [
    ['windows/amd64 base', ['--from', src.ref('base/win:ltsc'), '--platform', 'windows/amd64'], symlinkLine, true],
    ['--platform all over Linux and Windows', ['--from', src.ref('base/mixed:1'), '--platform', 'all'], symlinkLine, false],
    ['--platform all over Linux only', ['--from', src.ref('base/node:20'), '--platform', 'all'], line(`cannot read ${locked}: permission denied`), false],
  ];
  for (const [what, from, error, noRequest] of cases) {
    src.clearLog();
    dst.clearLog();
    const r = await cliAsUser(['push', ...from, '--to', dst.ref('app:1'), '--app', `${dir}:/app`, ...reg], dir);
    if (!r) return t.skip('needs dist/cli/regpush.cjs (npm run build), and setpriv when running as root');
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    assert.match(r.stderr, error, what);
    assert.equal(r.stderr.split('regpush: error:').length - 1, 1, r.stderr);
    assertNothingWritten(dst);
    if (noRequest) assert.deepEqual([...src.requests(), ...dst.requests()].map((q) => `${q.method} ${q.path}`), [], `${what}: no request`);
  }
});

test('a malformed ${…} in a config env value is E_USAGE before any request, as the CLI refuses it (was found only once the configs were composed, after both registries were read)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  for (const env of [['A=1', 'TOKEN=abc${secret'], ['A=${1}'], ['A=${B:?unset}'], ['noequals']]) {
    let caught: unknown;
    await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), config: { env }, ...fakeLibraryOptions(src, dst) }).catch((e: unknown) => (caught = e));
    assert.equal((caught as RegpushError)?.code, 'E_USAGE', String(caught));
    assert.match((caught as Error).message, /^push\(\): invalid config\.env\[\d\]/);
    assert.doesNotMatch((caught as Error).message, /abc|secret/);
  }
  assert.equal(dst.count(), 0, 'no request to the target');
  assert.equal(src.count(), 0, 'nor to the source');
});

test('a bad port, volume, label key or health check in the config is E_USAGE naming the field before any request (was found only once the configs were composed, after the base was read)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const cases: [ConfigChanges, RegExp][] = [
    [{ ports: ['80', '70000'] }, /^push\(\): invalid config\.ports\[1\] "70000": port must be 1-65535/],
    [{ ports: ['80/icmp'] }, /^push\(\): invalid config\.ports\[0\] "80\/icmp": protocol must be/],
    [{ volumes: ['/data', ''] }, /^push\(\): invalid config\.volumes\[1\] "": the path is empty/],
    [{ labels: { ok: '1', 'two\nlines': 'x' } }, /^push\(\): invalid config\.labels key "two\\nlines": a key must be one line/],
    [{ labels: { '': 'x' } }, /^push\(\): invalid config\.labels: the label key is empty/],
    [{ healthcheck: { test: ['curl', 'localhost'] } }, /^push\(\): config\.healthcheck\.test must start with NONE, CMD or CMD-SHELL/],
    [{ healthcheck: { test: ['CMD'] } }, /^push\(\): config\.healthcheck\.test: CMD needs a command/],
    [{ healthcheck: { test: ['CMD-SHELL', 'true'], interval: -1 } }, /^push\(\): config\.healthcheck\.interval must be a non-negative duration \(got -1 ns\)$/],
    [{ healthcheck: { test: ['CMD-SHELL', 'true'], retries: 1.5 } }, /^push\(\): config\.healthcheck\.retries must be a whole number/],
  ];
  for (const [config, message] of cases) {
    let caught: unknown;
    // With an app layer: without the up-front check, its upload session would be opened before the configs are composed.
    await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: appDir(), config, ...fakeLibraryOptions(src, dst) }).catch((e: unknown) => (caught = e));
    assert.equal((caught as RegpushError)?.code, 'E_USAGE', `${JSON.stringify(config)}: ${String(caught)}`);
    assert.match((caught as Error).message, message);
    assert.equal(dst.count(), 0, `${JSON.stringify(config)}: no request to the target`);
    assert.equal(src.count(), 0, `${JSON.stringify(config)}: nor to the source`);
  }
  // The same values are what the late check refuses, with the same error: checkInputs runs that check, it does not write another
  // (push() leads it with its name, as its other option messages).
  for (const [config, message] of cases) {
    assert.throws(() => applyConfigChanges(scratchConfig({ os: 'linux', architecture: 'amd64' }), config, undefined), (e: RegpushError) => e.code === 'E_USAGE' && message.test(`push(): ${e.message}`));
  }
});

for (const said of [true, false]) {
test(`--platform all over an index with an artifact child (an SBOM, no platform${said ? ', artifactType in its index entry' : ', only its manifest tells'}): the artifact is left out, the image children get the layer`, async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('base/node', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('base/node', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  // An OCI 1.1 artifact listed in the index, as `oras` or an SBOM tool writes one: empty config, artifactType.
  const emptyCfg = src.putBlob('base/node', '{}', 'application/vnd.oci.empty.v1+json');
  const sbom = src.putBlob('base/node', '{"spdxVersion":"SPDX-2.3"}', 'application/spdx+json');
  const art = src.putManifest('base/node', {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: 'application/spdx+json',
    config: { mediaType: emptyCfg.mediaType, digest: emptyCfg.digest, size: emptyCfg.size },
    layers: [{ mediaType: sbom.mediaType, digest: sbom.digest, size: sbom.size }],
  });
  src.putManifest(
    'base/node',
    {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: amd.mediaType, digest: amd.digest, size: amd.size, platform: amd.platform },
        { mediaType: arm.mediaType, digest: arm.digest, size: arm.size, platform: arm.platform },
        { mediaType: art.mediaType, digest: art.digest, size: art.size, ...(said ? { artifactType: 'application/spdx+json' } : {}) },
      ],
    },
    { tags: ['20'] },
  );
  const r = await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: appDir(), platform: 'all', ...fakeLibraryOptions(src, dst) });
  const index = json(dst.manifest('app', '1')!.bytes);
  assert.deepEqual(index.manifests.map((d: { platform: { architecture: string } }) => d.platform.architecture), ['amd64', 'arm64']);
  assert.deepEqual(r.platforms.map((p) => p.platform), ['linux/amd64', 'linux/arm64/v8']);
  for (const d of index.manifests) {
    const m = json(dst.blob('app', d.digest) ?? dst.manifest('app', d.digest)!.bytes);
    const cfg = json(dst.blob('app', m.config.digest)!);
    assert.equal(cfg.rootfs.diff_ids.length, m.layers.length, 'diff_ids and layers line up');
    assert.equal(m.artifactType, undefined);
  }
  assert.equal(dst.hasBlob('app', sbom.digest), false, 'the SBOM blob is not copied');
  assert.equal(src.count({ kind: 'blob', digest: emptyCfg.digest }), 0, 'nor its config read');
});
}

test('a single artifact as --from (not a container image): E_UNSUPPORTED naming its config type, nothing written', async () => {
  const [src, dst] = [await fake(), await fake()];
  const chartCfg = src.putBlob('charts/web', '{"name":"web","version":"1.0.0"}', 'application/vnd.cncf.helm.config.v1+json');
  const chart = src.putBlob('charts/web', 'not really a chart', 'application/vnd.cncf.helm.chart.content.v1.tar+gzip');
  src.putManifest(
    'charts/web',
    { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: chartCfg.mediaType, digest: chartCfg.digest, size: chartCfg.size }, layers: [{ mediaType: chart.mediaType, digest: chart.digest, size: chart.size }] },
    { tags: ['1.0.0'] },
  );
  let caught: unknown;
  await push({ from: src.ref('charts/web:1.0.0'), to: dst.ref('app:1'), app: appDir(), ...fakeLibraryOptions(src, dst) }).catch((e: unknown) => (caught = e));
  assert.equal((caught as RegpushError)?.code, 'E_UNSUPPORTED', String(caught));
  assert.match((caught as Error).message, /not a container image.*application\/vnd\.cncf\.helm\.config\.v1\+json/);
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
});

test('a Docker v2 base with a foreign layer: the layer stays in the manifest with its urls, is never fetched or sent, diff_ids line up', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/win', { tags: ['ltsc'], format: 'docker', platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1' } });
  const foreign = { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: sha('the windows base layer'), size: 123456, urls: ['https://mcr.example.com/layer'] };
  const foreignDiffId = sha('its diff');
  const cfg = json(img.config.bytes);
  cfg.rootfs.diff_ids = [foreignDiffId, ...cfg.rootfs.diff_ids];
  cfg.history = [{ created_by: 'windows base' }, ...cfg.history];
  const cfgDesc = src.putBlob('base/win', JSON.stringify(cfg), 'application/vnd.docker.container.image.v1+json');
  src.putManifest(
    'base/win',
    { ...img.manifest, config: { mediaType: cfgDesc.mediaType, digest: cfgDesc.digest, size: cfgDesc.size }, layers: [foreign, ...img.layers] },
    { tags: ['foreign'] },
  );
  const r = await push({ from: src.ref('base/win:foreign'), to: dst.ref('app:1'), app: appDir(), platform: 'windows/amd64', ...fakeLibraryOptions(src, dst) });
  const m = json(dst.manifest('app', '1')!.bytes);
  assert.equal(m.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.deepEqual(m.layers[0], foreign);
  assert.equal(m.layers.length, 4);
  const out = configAt(dst, 'app', '1');
  assert.deepEqual(out.rootfs.diff_ids.slice(0, 3), cfg.rootfs.diff_ids);
  assert.equal(out.rootfs.diff_ids.length, 4);
  assert.equal(out.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer).length, 4, 'one history entry per layer');
  assert.equal(r.blobs.find((b) => b.digest === foreign.digest)?.action, 'foreign');
  assert.equal(src.count({ digest: foreign.digest }), 0, 'the foreign layer is not asked for at the source');
  assert.equal(dst.count({ digest: foreign.digest }), 0, 'nor at the target');
});

test('a config-only re-push that changes nothing writes nothing (the tag is compared as with layers); a changed env is written', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const opts = { from: src.ref('base/node:20'), to: dst.ref('app:1'), ...fakeLibraryOptions(src, dst) };
  const first = await push({ ...opts, config: { env: ['A=1'], labels: { team: 'core' } } });
  dst.clearLog();
  const again = await push({ ...opts, config: { env: ['A=1'], labels: { team: 'core' } } });
  assert.equal(again.digest, first.digest);
  assert.deepEqual(dst.requests({ method: ['POST', 'PATCH', 'PUT', 'DELETE'] }).map((r) => `${r.method} ${r.kind}`), [], 'no write at the target');
  assert.deepEqual(dst.requests().map((r) => `${r.method} ${r.kind}`), ['GET manifest'], 'the tag is asked for, and nothing else');
  dst.clearLog();
  const changed = await push({ ...opts, config: { env: ['A=2'], labels: { team: 'core' } } });
  assert.notEqual(changed.digest, first.digest);
  assert.equal(dst.manifest('app', '1')?.digest, changed.digest);
  assert.deepEqual(configAt(dst, 'app', '1').config.Env, ['PATH=/usr/bin:/bin', 'A=2']);
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 1);
});

test('a re-push with the same layer and only a label changed is not taken for unchanged: the new config and manifest are written', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir('same\n');
  const opts = { from: src.ref('base/node:20'), to: dst.ref('app:1'), app, ...fakeLibraryOptions(src, dst) };
  const first = await push({ ...opts, config: { labels: { rev: '' } } });
  dst.clearLog();
  const again = await push({ ...opts, config: { labels: { rev: 'b' } } });
  assert.notEqual(again.digest, first.digest);
  assert.equal(again.layer?.action, 'reused');
  assert.equal(dst.manifest('app', '1')?.digest, again.digest);
  assert.deepEqual(configAt(dst, 'app', '1').config.Labels, { rev: 'b' });
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 1);
});

test('--env on a Windows base replaces a key spelt in another case (Windows names are case-insensitive); on Linux the case counts', () => {
  const win = { ...scratchConfig({ os: 'windows', architecture: 'amd64' }), config: { Env: ['Path=C:\\Windows\\system32;C:\\Windows', 'A=1'] } };
  const out = applyConfigChanges(win, { env: ['PATH=C:\\app;C:\\Windows\\system32;C:\\Windows', 'a=2'] }, undefined);
  assert.deepEqual(out.config!.Env, ['PATH=C:\\app;C:\\Windows\\system32;C:\\Windows', 'a=2'], 'replaced in place, the new spelling kept');
  const linux = { ...scratchConfig({ os: 'linux', architecture: 'amd64' }), config: { Env: ['Path=/x', 'A=1'] } };
  assert.deepEqual(applyConfigChanges(linux, { env: ['PATH=/y', 'a=2'] }, undefined).config!.Env, ['Path=/x', 'A=1', 'PATH=/y', 'a=2']);
});

test('--platform all over an index whose entries name their own base (as Docker official images do): each entry names the base its manifest names', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('library/node', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('library/node', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  const theirs = (arch: string) => ({ 'org.opencontainers.image.base.name': 'debian:bookworm-slim', 'org.opencontainers.image.base.digest': sha(`debian ${arch}`), 'org.opencontainers.image.version': '20.11.0' });
  const top = src.putManifest(
    'library/node',
    {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: amd.mediaType, digest: amd.digest, size: amd.size, platform: amd.platform, annotations: theirs('amd64') },
        { mediaType: arm.mediaType, digest: arm.digest, size: arm.size, platform: arm.platform },
      ],
    },
    { tags: ['20'] },
  );
  await push({ from: src.ref('library/node:20'), to: dst.ref('app:1'), app: appDir(), platform: 'all', ...fakeLibraryOptions(src, dst) });
  const index = json(dst.manifest('app', '1')!.bytes);
  const [a, b] = index.manifests;
  const manifestOf = (d: { digest: string }) => json(dst.manifest('app', d.digest)!.bytes);
  const ours = { 'org.opencontainers.image.base.name': src.ref('library/node:20'), 'org.opencontainers.image.base.digest': top.digest };
  for (const [k, v] of Object.entries(ours)) assert.equal(manifestOf(a).annotations[k], v);
  assert.deepEqual(a.annotations, { ...ours, 'org.opencontainers.image.version': '20.11.0' }, 'the entry agrees with its manifest; its other annotations kept');
  assert.equal(b.annotations, undefined, 'an entry without annotations gets none (its digest as before)');
});

test('--platform all over an index that names its own base: the index gets our base.{name,digest}, its other annotations and --annotation kept', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('library/node', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('library/node', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  const entries = [amd, arm].map((c) => ({ mediaType: c.mediaType, digest: c.digest, size: c.size, platform: c.platform }));
  const theirs = { 'org.opencontainers.image.base.name': 'debian:bookworm-slim', 'org.opencontainers.image.base.digest': sha('debian'), 'org.opencontainers.image.version': '20.11.0' };
  const top = src.putManifest('library/node', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries, annotations: theirs }, { tags: ['20'] });
  src.putManifest('library/node', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries, annotations: { 'org.opencontainers.image.version': '20.11.0' } }, { tags: ['bare'] });
  await push({ from: src.ref('library/node:20'), to: dst.ref('app:1'), app: appDir(), platform: 'all', annotations: { 'org.example.build': '42' }, ...fakeLibraryOptions(src, dst) });
  const index = json(dst.manifest('app', '1')!.bytes);
  const ours = { 'org.opencontainers.image.base.name': src.ref('library/node:20'), 'org.opencontainers.image.base.digest': top.digest };
  assert.deepEqual(index.annotations, { ...ours, 'org.opencontainers.image.version': '20.11.0', 'org.example.build': '42' });
  for (const d of index.manifests) assert.deepEqual(json(dst.manifest('app', d.digest)!.bytes).annotations, { ...ours, 'org.example.build': '42' }, 'the index says what its manifests say');
  // An --annotation of the same key wins over ours, as on the manifests.
  await push({ from: src.ref('library/node:20'), to: dst.ref('app:2'), app: appDir(), platform: 'all', annotations: { 'org.opencontainers.image.base.name': 'node:20' }, ...fakeLibraryOptions(src, dst) });
  assert.equal(json(dst.manifest('app', '2')!.bytes).annotations['org.opencontainers.image.base.name'], 'node:20');
  // An index without them gets none: only keys the base index has are replaced (as for its entries).
  await push({ from: src.ref('library/node:bare'), to: dst.ref('app:3'), app: appDir(), platform: 'all', ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(json(dst.manifest('app', '3')!.bytes).annotations, { 'org.opencontainers.image.version': '20.11.0' });
});

test('--format oci over a Docker v2 base with an uncompressed layer: the layer becomes OCI\'s uncompressed type, its blob as it was', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/plain', { format: 'docker' });
  const layers = img.layers.map((l, i) => (i === 0 ? { ...l, mediaType: 'application/vnd.docker.image.rootfs.diff.tar' } : l));
  src.putManifest('base/plain', { ...img.manifest, layers }, { tags: ['1'] });
  await push({ from: src.ref('base/plain:1'), to: dst.ref('app:1'), app: appDir(), format: 'oci', ...fakeLibraryOptions(src, dst) });
  const m = json(dst.manifest('app', '1')!.bytes);
  assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.deepEqual(m.layers[0], { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: img.layers[0]!.digest, size: img.layers[0]!.size });
  assert.equal(m.layers[1].mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
});

test('a Docker v2 list over an OCI child with a zstd layer, no --format: refused E_UNSUPPORTED without telling to leave out the --format never given', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/zstd');
  const layers = img.layers.map((l) => ({ ...l, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }));
  const child = src.putManifest('base/zstd', { ...img.manifest, layers });
  src.putManifest('base/zstd', { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: [{ mediaType: child.mediaType, digest: child.digest, size: child.size, platform: img.platform }] }, { tags: ['1'] });
  await assert.rejects(push({ from: src.ref('base/zstd:1'), to: dst.ref('app:1'), app: appDir(), ...fakeLibraryOptions(src, dst) }), (e: RegpushError) => {
    assert.equal(e.code, 'E_UNSUPPORTED');
    assert.match(e.message, /zstd has no Docker v2 equivalent; push\(\) with format: "oci" to keep it$/);
    return true;
  });
  // Where --format asked for the conversion, leaving it out is the other way to keep the layer.
  src.putManifest('base/zstd', { ...img.manifest, layers }, { tags: ['oci'] });
  await assert.rejects(push({ from: src.ref('base/zstd:oci'), to: dst.ref('app:1'), app: appDir(), format: 'docker', ...fakeLibraryOptions(src, dst) }), { name: 'UnsupportedError', code: 'E_UNSUPPORTED', message: /push\(\) with format: "oci" \(or leave format out\) to keep it$/ });
  assert.equal(dst.manifest('app', '1'), undefined);
});

test('an --env "$NAME" that nothing sets is warned about once per entry, naming the key and the offset, never the value; the push goes on', async () => {
  const [src, dst] = [await fake(), await fake()];
  // Two platforms, one of which sets TOKEN: said for the other only.
  const amd = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'arm64' }, config: { Env: ['PATH=/usr/bin:/bin', 'TOKEN=t'] } });
  src.seedIndex('base/multi', [amd, arm], { tags: ['1'] });
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m) };
  const env = [
    'DB=postgres://u:pa$sword@h/db', // a "$" meant literally: sword is unset
    'P=/app/bin:$PATH', // set by the base
    'Q=${UNSET:-}', // empty on purpose
    'R=${UNSET:-$ALSO}x${sword}', // the default word is used: both names inside count
    'S=${PATH:-$NOT_USED}', // the word is not used: nothing to say
    'T=$TOKEN', // set in the arm64 image only
    'U=$DB', // set by the earlier --env
    'V=pa\\$sword', // the escape: a literal "$"
  ];
  const r = await push({ from: src.ref('base/multi:1'), to: dst.ref('app:1'), platform: 'all', app: appDir(), config: { env }, logger, ...fakeLibraryOptions(src, dst) });
  assert.ok(r.digest);
  // Each entry named as the library caller gave it: its index in config.env, and its key.
  const tail = ' that is not set (neither in the base\'s Env nor by an earlier config.env), so it became empty; for a literal "$" write \\$ (inside single quotes on a shell command line), or ${NAME:-} to mean empty on purpose';
  assert.deepEqual(warnings, [
    `push(): config.env[0] (DB): the "$" at offset 15 of its value starts a variable${tail}`,
    `push(): config.env[3] (R): the "$"s at offsets 9, 16 of its value start variables${tail}`,
    `push(): config.env[5] (T): the "$" at offset 0 of its value starts a variable that is not set in the base's linux/amd64 image${tail.slice(' that is not set'.length)}`,
  ]);
  for (const w of warnings) assert.doesNotMatch(w, /sword|postgres|ALSO|UNSET/, 'no part of a value');
  // What the warning says happened did happen: the names became empty; the escape was kept.
  const index = json(dst.manifest('app', '1')!.bytes);
  const amdEntry = index.manifests.find((m: { platform: { architecture: string } }) => m.platform.architecture === 'amd64');
  const amdCfg = json(dst.blob('app', json(dst.manifest('app', amdEntry.digest)!.bytes).config.digest)!);
  assert.ok(amdCfg.config.Env.includes('DB=postgres://u:pa@h/db'));
  assert.ok(amdCfg.config.Env.includes('V=pa$sword'));
});

test('the history line names a layer\'s platform as it is matched: linux/x86_64, LINUX/amd64 and linux/amd64 give one image digest', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const deps = appDir('deps')[0]!.src;
  const digests = new Set<string>();
  for (const [i, platform] of ['linux/amd64', 'linux/x86_64', 'LINUX/amd64'].entries()) {
    const r = await push({ from: src.ref('base/node:20'), to: dst.ref(`plat:${i}`), layers: [{ platform, sources: [{ src: deps, dest: '/srv/deps' }] }], ...fakeLibraryOptions(src, dst) });
    digests.add(r.digest);
    assert.equal(configAt(dst, 'plat', String(i)).history.at(-1).created_by, 'regpush: layer /srv/deps (linux/amd64)', platform);
  }
  assert.equal(digests.size, 1);
});

test('the history line names each destination normalised: --app ./app (the default /app/), ./app:/app, ./app:/app/ give one image digest', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir()[0]!.src;
  const deps = appDir('deps')[0]!.src;
  const digests = new Set<string>();
  for (const [i, [appDest, depsDest]] of ([['/app/', '/srv/deps'], ['/app', '/srv/deps/'], ['/app/.', '/srv//deps'], ['//app//', '/srv/deps/x/..']] as const).entries()) {
    const r = await push({ from: src.ref('base/node:20'), to: dst.ref(`app:${i}`), app: [{ src: app, dest: appDest }], layers: [{ sources: [{ src: deps, dest: depsDest }] }], ...fakeLibraryOptions(src, dst) });
    digests.add(r.digest);
    assert.deepEqual(configAt(dst, 'app', String(i)).history.slice(-2).map((h: { created_by: string }) => h.created_by), ['regpush: layer /srv/deps', 'regpush: added /app'], appDest);
    // The report's dest says the same (it kept "/app/" as typed).
    assert.deepEqual(r.layers?.map((l) => l.dest), [['/srv/deps'], ['/app']], appDest);
  }
  assert.equal(digests.size, 1);
  // The root stays "/".
  await push({ from: src.ref('base/node:20'), to: dst.ref('app:root'), app: [{ src: app, dest: '/' }], ...fakeLibraryOptions(src, dst) });
  assert.equal(configAt(dst, 'app', 'root').history.at(-1).created_by, 'regpush: added /');
  // A Windows destination keeps its form, without the trailing separator.
  src.seedImage('base/win', { tags: ['1'], platform: { os: 'windows', architecture: 'amd64' } });
  const win = new Set<string>();
  for (const [i, dest] of ['C:\\app\\', 'C:\\app'].entries()) {
    win.add((await push({ from: src.ref('base/win:1'), to: dst.ref(`win:${i}`), platform: 'windows/amd64', app: [{ src: app, dest }], ...fakeLibraryOptions(src, dst) })).digest);
    assert.equal(configAt(dst, 'win', String(i)).history.at(-1).created_by, 'regpush: added C:\\app', dest);
  }
  assert.equal(win.size, 1);
});
