// regpush push against real registries: the product's main job, checked by skopeo, umoci and a
// real run with crun; mounts, multi-arch, warm re-push, no local writes, and the bad inputs.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  credsOf, exec, imageRef, loadState, logMark, registryLogSince, runCli, runImage, runtimeUnavailable,
  skopeoCopyToLayout, skopeoInspect, tempDir, umociUnpack,
} from './harness.js';

const state = loadState();
const R = state.registries;
const run = `p${Date.now().toString(36)}`;
const fromToken = ['--from-user', R.token.user!, '--from-password', R.token.password!];
const toBasic = ['--to-user', R.basic.user!, '--to-password', R.basic.password!];

/** A small app: an executable script, a data file in a subdirectory, a symlink, and ignored files. */
function makeApp(): string {
  const dir = tempDir('regpush-app-');
  writeFileSync(join(dir, 'hello.sh'), '#!/bin/sh\necho "app says: $GREETING $*"\ncat /app/data/message.txt\n');
  chmodSync(join(dir, 'hello.sh'), 0o755);
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data', 'message.txt'), 'message-from-layer\n');
  symlinkSync('data/message.txt', join(dir, 'link.txt'));
  writeFileSync(join(dir, 'debug.log'), 'ignored\n');
  mkdirSync(join(dir, 'node_modules'));
  writeFileSync(join(dir, 'node_modules', 'x.js'), 'ignored\n');
  writeFileSync(join(dir, '.dockerignore'), '*.log\nnode_modules\n');
  return dir;
}

const appArgs = (app: string) => [
  '--app', app, '--workdir', '/app', '--entrypoint', '/bin/sh', '--entrypoint', '/app/hello.sh', '--cmd', 'world',
  '--env', 'GREETING=hi-from-env', '--env', 'PATH=/bin:/app', '--port', '8080', '--port', '53/udp', '--port', '9000-9001', '--label', 'org.example.team=platform',
  '--user', '0:0', '--volume', '/data',
];

test('cross-registry push (token source → basic target) of a 3-layer Docker v2 base: layers, config, files, and it runs', async (t) => {
  const app = makeApp();
  const to = imageRef(R.basic, `${run}/app:1.0`);
  const r = await runCli(['push', '--json', '--from', imageRef(R.token, 'base/busybox:v2s2'), '--to', to, ...fromToken, ...toBasic, ...appArgs(app), '--tag', 'latest']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const base = state.images.token['base/busybox:v2s2'];
  assert.equal(report.base.digest, base.digest);
  assert.deepEqual(report.tags, ['1.0', 'latest']);
  assert.deepEqual(report.blobs.map((b: { action: string }) => b.action), ['streamed', 'streamed', 'streamed']);
  const creds = credsOf(R.basic);
  const raw = await skopeoInspect(to, { raw: true, creds });
  assert.equal(raw.digest, report.digest);
  assert.equal(raw.json.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  const layers = raw.json.layers as { digest: string; mediaType: string }[];
  assert.deepEqual(layers.slice(0, -1).map((l) => l.digest), base.layers, 'base layers unchanged');
  assert.equal(layers.length, base.layers!.length + 1);
  assert.equal(layers.at(-1)!.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
  assert.equal(raw.json.config.mediaType, 'application/vnd.docker.container.image.v1+json');
  const cfg = (await skopeoInspect(to, { raw: true, config: true, creds })).json;
  assert.deepEqual(cfg.config.Entrypoint, ['/bin/sh', '/app/hello.sh']);
  assert.deepEqual(cfg.config.Cmd, ['world']);
  assert.deepEqual(cfg.config.Env, ['PATH=/bin:/app', 'GREETING=hi-from-env']);
  assert.deepEqual(cfg.config.ExposedPorts, { '8080/tcp': {}, '53/udp': {}, '9000/tcp': {}, '9001/tcp': {} });
  assert.equal(cfg.config.WorkingDir, '/app');
  assert.equal(cfg.config.User, '0:0');
  assert.deepEqual(cfg.config.Volumes, { '/data': {} });
  assert.equal(cfg.config.Labels['org.example.team'], 'platform');
  assert.equal(cfg.config.Labels['org.regpush.test.seed'], 'busybox', 'base labels kept');
  assert.equal(cfg.rootfs.diff_ids.length, 4);
  assert.equal(cfg.rootfs.diff_ids.at(-1), report.layer.diffId);
  assert.match(cfg.history.at(-1).created_by, /regpush/);
  // The other tag points at the same digest.
  assert.equal((await skopeoInspect(imageRef(R.basic, `${run}/app:latest`), { raw: true, creds })).digest, report.digest);

  const bundle = await umociUnpack(await skopeoCopyToLayout(to, creds));
  const rootfs = join(bundle, 'rootfs');
  assert.equal(statSync(join(rootfs, 'app', 'hello.sh')).mode & 0o777, 0o755);
  assert.equal(statSync(join(rootfs, 'app', 'data', 'message.txt')).mode & 0o777, 0o644);
  assert.equal(readFileSync(join(rootfs, 'app', 'data', 'message.txt'), 'utf8'), 'message-from-layer\n');
  assert.ok(lstatSync(join(rootfs, 'app', 'link.txt')).isSymbolicLink());
  assert.equal(readlinkSync(join(rootfs, 'app', 'link.txt')), 'data/message.txt');
  assert.deepEqual(readdirSync(join(rootfs, 'app')).sort(), ['.dockerignore', 'data', 'hello.sh', 'link.txt'], '.dockerignore honoured');
  assert.equal(statSync(join(rootfs, 'app', 'hello.sh')).uid, 0);
  const why = await runtimeUnavailable();
  if (why) return t.skip(`cannot run images here: ${why}`);
  const ran = await runImage(bundle);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout, 'app says: hi-from-env world\nmessage-from-layer\n');
});

test('same-registry push mounts every base blob (201) and moves no base bytes', async () => {
  const mark = logMark('anon');
  const r = await runCli(['push', '--json', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', imageRef(R.anon, `${run}/mounted:1`), '--app', makeApp()]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.notEqual(report.blobs.length, 0, 'an empty list would pass the check below vacuously');
  for (const b of report.blobs) assert.deepEqual([b.action, b.bytes], ['mounted', 0]);
  const reqs = await registryLogSince('anon', mark);
  const mounts = reqs.filter((q) => q.method === 'POST' && q.uri.includes('mount=') && q.status === 201);
  assert.equal(mounts.length, state.images.anon['base/busybox:v2s2'].layers!.length);
  assert.equal(reqs.filter((q) => q.method === 'GET' && q.uri.includes('/blobs/sha256:') && !q.uri.includes(report.layer.digest)).length > 0 ? 'config only' : 'none', 'config only');
  const baseBlobGets = reqs.filter((q) => q.method === 'GET' && state.images.anon['base/busybox:v2s2'].layers!.some((l) => q.uri.endsWith(l)));
  assert.equal(baseBlobGets.length, 0, 'no base layer read');
});

test('re-running the same push writes nothing, asks for no blob twice, and reports the tag unchanged', async () => {
  const app = makeApp();
  const args = ['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', imageRef(R.anon2, `${run}/warm:1`), '--app', app, '--entrypoint', '/app/hello.sh'];
  const first = await runCli(args);
  assert.equal(first.code, 0, first.stderr);
  const a = JSON.parse(first.stdout);
  assert.equal(a.tagsUnchanged, undefined, 'a first push writes its tag');
  const mark = logMark('anon2');
  const second = await runCli(args);
  assert.equal(second.code, 0, second.stderr);
  const b = JSON.parse(second.stdout);
  assert.equal(b.digest, a.digest);
  assert.equal(b.layer.action, 'reused');
  assert.deepEqual(b.tagsUnchanged, ['1']);
  const { assertValidReport } = await import('./report-schema.js');
  assertValidReport(b, 'unchanged re-push');
  assert.notEqual(b.blobs.length, 0, 'an empty list would pass the check below vacuously');
  for (const blob of b.blobs) assert.equal(blob.action, 'skipped');
  const reqs = await registryLogSince('anon2', mark);
  assert.deepEqual(reqs.filter((q) => ['POST', 'PATCH', 'PUT', 'DELETE'].includes(q.method)).map((q) => `${q.method} ${q.uri}`), []);
  // The layer (HEAD) and the config (GET) seen by the warm path are not asked for again before the manifest decision.
  const blobAsks = reqs.filter((q) => q.uri.includes('/blobs/sha256:')).map((q) => q.uri.slice(q.uri.indexOf('sha256:')));
  assert.deepEqual(blobAsks.filter((d, i) => blobAsks.indexOf(d) !== i), [], `a blob asked for twice: ${blobAsks.join(', ')}`);
  assert.equal((await skopeoInspect(imageRef(R.anon2, `${run}/warm:1`), { raw: true })).digest, a.digest);
});

test('a re-push with an extra tag writes only that tag; a changed config writes the manifest', async () => {
  const app = makeApp();
  const to = imageRef(R.anon2, `${run}/warm-tags:1`);
  const args = ['push', '--json', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', to, '--app', app];
  const first = await runCli(args);
  assert.equal(first.code, 0, first.stderr);
  const digest = JSON.parse(first.stdout).digest;

  let mark = logMark('anon2');
  const tagged = await runCli([...args, '--tag', 'extra']);
  assert.equal(tagged.code, 0, tagged.stderr);
  const t = JSON.parse(tagged.stdout);
  assert.equal(t.digest, digest);
  assert.deepEqual([t.tags, t.tagsUnchanged], [['1', 'extra'], ['1']]);
  let writes = (await registryLogSince('anon2', mark)).filter((q) => q.method !== 'GET' && q.method !== 'HEAD');
  assert.deepEqual(writes.map((q) => `${q.method} ${q.uri}`), [`PUT /v2/${run}/warm-tags/manifests/extra`]);
  assert.equal((await skopeoInspect(imageRef(R.anon2, `${run}/warm-tags:extra`), { raw: true })).digest, digest);

  mark = logMark('anon2');
  const changed = await runCli([...args, '--env', 'CHANGED=1']);
  assert.equal(changed.code, 0, changed.stderr);
  const c = JSON.parse(changed.stdout);
  assert.notEqual(c.digest, digest);
  assert.equal(c.layer.action, 'reused', 'same app, so the layer is reused');
  assert.equal(c.tagsUnchanged, undefined);
  writes = (await registryLogSince('anon2', mark)).filter((q) => q.method === 'PUT');
  assert.ok(writes.some((q) => q.uri === `/v2/${run}/warm-tags/manifests/1`), 'the manifest is written');
  assert.ok(writes.some((q) => q.uri.includes('/blobs/uploads/')), 'the new config is uploaded');
  assert.equal((await skopeoInspect(to, { raw: true })).digest, c.digest);
});

test('hard links in the app are stored once: umoci unpacks one file under both names, it runs, and a re-push reuses the layer', async (t) => {
  const app = tempDir('regpush-app-');
  const content = randomBytes(1024 * 1024); // incompressible: the layer's size shows whether it is in there twice
  writeFileSync(join(app, 'lib.so'), content);
  mkdirSync(join(app, 'bin'));
  linkSync(join(app, 'lib.so'), join(app, 'bin', 'lib-copy.so'));
  const to = imageRef(R.anon2, `${run}/hardlinks:1`);
  const args = ['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', to, '--app', app, '--workdir', '/app',
    '--entrypoint', '/bin/sh', '--cmd=-c', '--cmd', 'cmp /app/lib.so /app/bin/lib-copy.so && echo same'];
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.ok(report.layer.size < 1.2 * content.length, `layer of ${report.layer.size} bytes holds the 1 MiB once`);
  const bundle = await umociUnpack(await skopeoCopyToLayout(to));
  const rootfs = join(bundle, 'rootfs');
  const one = statSync(join(rootfs, 'app', 'lib.so'));
  const two = statSync(join(rootfs, 'app', 'bin', 'lib-copy.so'));
  assert.equal(two.ino, one.ino, 'one file, two names');
  assert.ok(readFileSync(join(rootfs, 'app', 'bin', 'lib-copy.so')).equals(content));
  // The warm path's diffID pass writes the same tar as the build: an unchanged app is the same image.
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual([JSON.parse(again.stdout).digest, JSON.parse(again.stdout).layer.action], [report.digest, 'reused']);
  const why = await runtimeUnavailable();
  if (why) return t.skip(`cannot run images here: ${why}`);
  const ran = await runImage(bundle);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout, 'same\n');
});

test('OCI base: OCI media types throughout and base annotations', async () => {
  const to = imageRef(R.anon2, `${run}/oci:1`);
  const r = await runCli(['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', to, '--app', makeApp()]);
  assert.equal(r.code, 0, r.stderr);
  const raw = (await skopeoInspect(to, { raw: true })).json;
  assert.equal(raw.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(raw.config.mediaType, 'application/vnd.oci.image.config.v1+json');
  assert.notEqual(raw.layers.length, 0, 'an empty list would pass the check below vacuously');
  for (const l of raw.layers) assert.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  assert.equal(raw.annotations['org.opencontainers.image.base.name'], imageRef(R.anon, 'base/busybox:oci'));
  assert.equal(raw.annotations['org.opencontainers.image.base.digest'], state.images.anon['base/busybox:oci'].digest);
  await umociUnpack(await skopeoCopyToLayout(to));
});

test('multi-arch base: --platform linux/arm64 picks that child; --platform all rebuilds every child into a new index', async () => {
  const arm = imageRef(R.anon2, `${run}/multi-arm:1`);
  const r1 = await runCli(['push', '--json', '--from', imageRef(R.anon, 'base/multi:oci'), '--to', arm, '--app', makeApp(), '--platform', 'linux/arm64']);
  assert.equal(r1.code, 0, r1.stderr);
  const armCfg = (await skopeoInspect(arm, { raw: true, config: true })).json;
  assert.equal(armCfg.architecture, 'arm64');
  assert.ok(armCfg.config.Env.includes('ARCH_MARKER=arm64'));

  for (const image of ['base/multi:oci', 'base/multi:v2s2'] as const) {
    const all = imageRef(R.anon2, `${run}/multi-all-${image.split(':')[1]}:1`);
    const r = await runCli(['push', '--json', '--from', imageRef(R.anon, image), '--to', all, '--app', makeApp(), '--platform', 'all']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    const idx = (await skopeoInspect(all, { raw: true })).json;
    assert.equal(idx.mediaType, image.endsWith('oci') ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.docker.distribution.manifest.list.v2+json');
    const archs = idx.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture).sort();
    assert.deepEqual(archs, ['amd64', 'arm64'], 'attestation child dropped');
    assert.equal(report.platforms.length, 2);
    const layerDigests = new Set<string>();
    for (const arch of ['amd64', 'arm64']) {
      const m = (await skopeoInspect(all, { arch })).json;
      assert.ok(m.Env.includes(`ARCH_MARKER=${arch}`));
      layerDigests.add(m.Layers.at(-1));
    }
    assert.equal(layerDigests.size, 1, 'one app layer shared by every child');
    const cp = await exec('skopeo', ['copy', '--all', '--src-tls-verify=false', `docker://${all}`, `oci:${tempDir()}/l:img`]);
    assert.equal(cp.code, 0, cp.stderr);
  }
});

test('re-pushing an unchanged multi-platform image writes neither the index nor its children', async () => {
  const app = makeApp();
  const to = imageRef(R.anon2, `${run}/multi-warm:1`);
  const args = ['push', '--json', '--from', imageRef(R.anon, 'base/multi:oci'), '--to', to, '--app', app, '--platform', 'all'];
  const first = await runCli(args);
  assert.equal(first.code, 0, first.stderr);
  const mark = logMark('anon2');
  const second = await runCli(args);
  assert.equal(second.code, 0, second.stderr);
  const [a, b] = [JSON.parse(first.stdout), JSON.parse(second.stdout)];
  assert.equal(b.digest, a.digest);
  assert.deepEqual(b.tagsUnchanged, ['1']);
  assert.deepEqual(b.platforms, a.platforms);
  const writes = (await registryLogSince('anon2', mark)).filter((q) => q.method !== 'GET' && q.method !== 'HEAD');
  assert.deepEqual(writes.map((q) => `${q.method} ${q.uri}`), []);
  const cp = await exec('skopeo', ['copy', '--all', '--src-tls-verify=false', `docker://${to}`, `oci:${tempDir()}/l:img`]);
  assert.equal(cp.code, 0, cp.stderr);
});

test('--from scratch builds an image with only the app layer', async () => {
  const to = imageRef(R.anon2, `${run}/scratch:1`);
  const r = await runCli(['push', '--from', 'scratch', '--to', to, '--app', makeApp(), '--entrypoint', '/app/hello.sh']);
  assert.equal(r.code, 0, r.stderr);
  const raw = (await skopeoInspect(to, { raw: true })).json;
  assert.equal(raw.layers.length, 1);
  const cfg = (await skopeoInspect(to, { raw: true, config: true })).json;
  assert.deepEqual([cfg.os, cfg.architecture], ['linux', 'amd64']);
  await umociUnpack(await skopeoCopyToLayout(to));
});

test('a push writes no file: strace sees no open for writing outside /dev and /proc', async (t) => {
  if ((await exec('sh', ['-c', 'command -v strace'])).code !== 0) return t.skip('strace not installed');
  const app = makeApp();
  const traceDir = tempDir('regpush-strace-');
  const trace = join(traceDir, 'trace');
  const { cliBin } = await import('./harness.js');
  const r = await exec('strace', ['-f', '-qq', '-e', 'trace=open,openat,creat,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat', '-o', trace,
    process.execPath, cliBin, 'push', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', imageRef(R.anon2, `${run}/strace:1`), '--app', app], { env: { ...process.env, DOCKER_CONFIG: traceDir + '/none' } });
  assert.equal(r.code, 0, r.stderr);
  const lines = readFileSync(trace, 'utf8').split('\n');
  const writes = lines.filter((l) => {
    if (/\b(creat|rename\w*|unlink\w*|mkdir\w*)\(/.test(l)) return !/= -1 /.test(l);
    if (!/\bopen(at)?\(/.test(l) || /= -1 /.test(l)) return false;
    if (!/O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/.test(l)) return false;
    return !/"\/(dev|proc)\//.test(l);
  });
  assert.deepEqual(writes, [], 'no local writes');
  assert.ok(lines.some((l) => l.includes(join(app, 'hello.sh'))), 'trace is real: the app file was opened');
});

test('same inputs, same digest: two pushes of the same app to different repos agree', async () => {
  const app = makeApp();
  const a = await runCli(['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', imageRef(R.anon2, `${run}/det-a:1`), '--app', app]);
  const b = await runCli(['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', imageRef(R.anon2, `${run}/det-b:1`), '--app', app]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(JSON.parse(a.stdout).digest, JSON.parse(b.stdout).digest);
  assert.equal(JSON.parse(a.stdout).layer.digest, JSON.parse(b.stdout).layer.digest);
  // SOURCE_DATE_EPOCH dates the config, not the layer's entries (it once dated both).
  const c = await runCli(['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', imageRef(R.anon2, `${run}/det-c:1`), '--app', app], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  assert.equal(c.code, 0, c.stderr);
  assert.equal(JSON.parse(c.stdout).layer.digest, JSON.parse(a.stdout).layer.digest, 'SOURCE_DATE_EPOCH leaves the layer as it is');
  assert.notEqual(JSON.parse(c.stdout).digest, JSON.parse(a.stdout).digest);
  assert.equal((await skopeoInspect(imageRef(R.anon2, `${run}/det-c:1`), { config: true })).json.created, '2023-11-14T22:13:20Z');
  assert.equal((await skopeoInspect(imageRef(R.anon2, `${run}/det-a:1`), { config: true })).json.created, '1970-01-01T00:00:00Z');
  // --mtime dates the entries: another layer, the config's time still SOURCE_DATE_EPOCH's.
  const d = await runCli(['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', imageRef(R.anon2, `${run}/det-d:1`), '--app', app, '--mtime', '1600000000'], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  assert.equal(d.code, 0, d.stderr);
  assert.notEqual(JSON.parse(d.stdout).layer.digest, JSON.parse(a.stdout).layer.digest, '--mtime changes the timestamps');
  const cfgD = (await skopeoInspect(imageRef(R.anon2, `${run}/det-d:1`), { config: true })).json;
  assert.equal(cfgD.created, '2023-11-14T22:13:20Z');
  assert.equal(cfgD.history.at(-1).comment, 'regpush: entries dated 2020-09-13T12:26:40.000Z');
});

// ---------------------------------------------------------------- bad input: nothing written

async function tagAbsent(host: string, repo: string, tag: string): Promise<void> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
  assert.equal(res.status, 404, `${repo}:${tag} must not exist`);
}

function assertFails(r: { code: number; stdout: string; stderr: string }, exit: number, code: string, pattern: RegExp) {
  assert.equal(r.code, exit, r.stderr);
  assert.equal(r.stdout, '');
  const last = r.stderr.trim().split('\n').at(-1)!;
  assert.match(last, new RegExp(`\\[${code}\\]$`));
  assert.match(last, pattern);
}

const badCases: [string, string[], number, string, RegExp][] = [
  ['missing --app dir', ['--app', '/nonexistent/regpush-app'], 2, 'E_INPUT', /\/nonexistent\/regpush-app/],
  ['malformed --env', ['--env', '=value'], 2, 'E_USAGE', /env/i],
  // The argument is not echoed: without "=" it is most often a value given alone (`--env "$TOKEN"`).
  ['malformed --env without =', ['--env', 'JUSTKEY'], 2, 'E_USAGE', /^(?!.*JUSTKEY).*invalid --env: expected KEY=VALUE, and the 7-character argument has no "="/],
  ['malformed --port', ['--port', '99999'], 2, 'E_USAGE', /99999/],
  ['malformed --port protocol', ['--port', '80/sctpx'], 2, 'E_USAGE', /80\/sctpx/],
  ['backwards --port range', ['--port', '90-80'], 2, 'E_USAGE', /invalid --port "90-80": the range ends before it starts/],
  ['malformed --label', ['--label', 'novalue'], 2, 'E_USAGE', /novalue/],
  ['relative --workdir', ['--workdir', 'app'], 2, 'E_USAGE', /workdir/],
  ['bad --chown', ['--chown', 'root'], 2, 'E_USAGE', /chown/],
  ['bad --tag', ['--tag', 'bad!tag'], 2, 'E_REFERENCE', /bad!tag/],
  ['--from given twice', ['--from', 'x:1'], 2, 'E_USAGE', /--from was given 2 times/],
  ['platform not in the index', ['--platform', 'linux/s390x', '--from', '__MULTI__'], 4, 'E_NOT_FOUND', /s390x/],
  ['--from not found', ['--from', '__MISSING__'], 4, 'E_NOT_FOUND', /404/],
];
for (const [name, extra, exit, code, pattern] of badCases) {
  test(`bad input: ${name} → ${code}, nothing written`, async () => {
    const repo = `${run}/bad-${name.replace(/[^a-z0-9]+/g, '-')}`;
    const from = extra.includes('__MULTI__') ? imageRef(R.anon, 'base/multi:oci') : extra.includes('__MISSING__') ? imageRef(R.anon, 'base/missing:1') : imageRef(R.anon, 'base/busybox:v2s2');
    const rest = extra.filter((a, i) => !(a === '--from' && extra[i + 1]?.startsWith('__')) && !a.startsWith('__'));
    const args = ['push', '--from', from, '--to', imageRef(R.anon2, `${repo}:1`), '--app', makeApp(), ...rest];
    assertFails(await runCli(args), exit, code, pattern);
    await tagAbsent(R.anon2.host, repo, '1');
  });
}

test('bad input: unreadable --app dir → E_INPUT (as a non-root user)', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to switch user');
  const app = makeApp();
  chmodSync(app, 0o700);
  const { cliBin } = await import('./harness.js');
  // An empty HOME of its own (not /tmp, where another run's .docker/config.json could sit).
  const home = tempDir('regpush-nobody-home-');
  chmodSync(home, 0o755);
  const r = await exec('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cliBin, 'push', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', imageRef(R.anon2, `${run}/unreadable:1`), '--app', app], { env: { PATH: process.env.PATH, HOME: home } });
  assertFails(r, 2, 'E_INPUT', new RegExp(app.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  await tagAbsent(R.anon2.host, `${run}/unreadable`, '1');
});

test('bad input: target push denied → E_DENIED, nothing written', async () => {
  const r = await runCli(['push', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', imageRef(R.token, `readonly/${run}:1`), '--to-user', R.token.user!, '--to-password', R.token.password!, '--app', makeApp()]);
  assert.equal(r.code, 3, r.stderr);
  // Good credentials without push on readonly/*: E_DENIED (README: a write refused to credentials that could read), not E_AUTH.
  assert.match(r.stderr.trim().split('\n').at(-1)!, /\[E_DENIED\]$/);
  assert.ok(!r.stderr.includes(R.token.password!));
});

test('bad input: a source blob whose bytes do not match its digest → E_DIGEST_MISMATCH, no manifest', async () => {
  // A private base with a unique layer, corrupted on the registry's disk.
  const repo = `${run}/corrupt-base`;
  const layer = randomBytes(64 * 1024);
  const layerDigest = 'sha256:' + createHash('sha256').update(layer).digest('hex');
  const up = async (body: Buffer) => {
    const d = 'sha256:' + createHash('sha256').update(body).digest('hex');
    const s = await fetch(`http://${R.anon.host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    const loc = new URL(s.headers.get('location')!, `http://${R.anon.host}`);
    loc.searchParams.set('digest', d);
    assert.equal((await fetch(loc, { method: 'PUT', body: new Uint8Array(body) })).status, 201);
    return d;
  };
  await up(layer);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layerDigest] }, config: {} }));
  const configDigest = await up(config);
  const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }] };
  assert.equal((await fetch(`http://${R.anon.host}/v2/${repo}/manifests/1`, { method: 'PUT', body: JSON.stringify(manifest), headers: { 'content-type': manifest.mediaType } })).status, 201);
  const hex = layerDigest.slice(7);
  const dataFile = join(R.anon.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  const bytes = readFileSync(dataFile);
  bytes[1000] = bytes[1000]! ^ 0xff;
  writeFileSync(dataFile, bytes);
  const r = await runCli(['push', '--from', imageRef(R.anon, `${repo}:1`), '--to', imageRef(R.anon2, `${run}/from-corrupt:1`), '--app', makeApp()]);
  assertFails(r, 7, 'E_DIGEST_MISMATCH', /./);
  await tagAbsent(R.anon2.host, `${run}/from-corrupt`, '1');
});

test('push to two registries at once: each base blob read once, both targets complete with the same digest', async () => {
  const t1 = imageRef(R.anon2, `${run}/multi-target:1`);
  const t2 = imageRef(R.basic, `${run}/multi-target:1`);
  const mark = logMark('token');
  const r = await runCli(['push', '--from', imageRef(R.token, 'base/busybox:v2s2'), '--to', t1, '--to', t2, ...fromToken, ...toBasic, '--app', makeApp(), '--entrypoint', '/app/hello.sh']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  const d1 = lines[0]!.split('@')[1];
  assert.equal(lines[1]!.split('@')[1], d1, 'same image at both targets');
  assert.equal((await skopeoInspect(t1, { raw: true })).digest, d1);
  assert.equal((await skopeoInspect(t2, { raw: true, creds: credsOf(R.basic) })).digest, d1);
  await umociUnpack(await skopeoCopyToLayout(t2, credsOf(R.basic)));
  const gets = (await registryLogSince('token', mark)).filter((q) => q.method === 'GET' && q.uri.includes('/blobs/sha256:'));
  for (const layer of state.images.token['base/busybox:v2s2'].layers!) {
    assert.equal(gets.filter((q) => q.uri.endsWith(layer)).length, 1, `base layer ${layer} read once`);
  }
});

test('push to a good and a denied target: exit 8, the good one printed and complete', async () => {
  const good = imageRef(R.anon2, `${run}/partial-push:1`);
  const bad = imageRef(R.token, `readonly/${run}-push:1`);
  const r = await runCli(['push', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', good, '--to', bad, '--to-user', R.token.user!, '--to-password', R.token.password!, '--app', makeApp()]);
  assert.equal(r.code, 8, r.stderr);
  const line = r.stdout.trim();
  assert.match(line, new RegExp(`^${good.replace(/:1$/, '').replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64}$`));
  assert.equal((await skopeoInspect(good, { raw: true })).digest, line.split('@')[1]);
  assert.match(r.stderr.trim().split('\n').at(-1)!, /1 of 2 targets failed: .*readonly.*\[E_PARTIAL\]$/);
});

test('multi-target push --json: per-target outcomes, valid against the documented schema', async () => {
  const { assertValidReport } = await import('./report-schema.js');
  const t1 = imageRef(R.anon2, `${run}/mt-json:1`);
  const t2 = imageRef(R.anon, `${run}/mt-json:1`);
  const r = await runCli(['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', t1, '--to', t2, '--app', makeApp()]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assertValidReport(report, 'multi-target push');
  assert.equal(report.targets.length, 2);
  assert.ok(report.targets.every((t: { ok: boolean; digest: string }) => t.ok && t.digest === report.digest));
  // The second target is the source registry itself: base blobs mounted there.
  assert.ok(report.targets[1].blobs.every((b: { action: string }) => b.action === 'mounted'));
});

test('--base-labels records the base name and digest as labels on a Docker v2 image', async () => {
  const to = imageRef(R.anon2, `${run}/base-labels:1`);
  const r = await runCli(['push', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', to, '--app', makeApp(), '--base-labels']);
  assert.equal(r.code, 0, r.stderr);
  const cfg = (await skopeoInspect(to, { raw: true, config: true })).json;
  assert.equal(cfg.config.Labels['org.opencontainers.image.base.name'], imageRef(R.anon, 'base/busybox:v2s2'));
  assert.equal(cfg.config.Labels['org.opencontainers.image.base.digest'], state.images.anon['base/busybox:v2s2'].digest);
  const raw = (await skopeoInspect(to, { raw: true })).json;
  assert.equal(raw.annotations, undefined, 'Docker v2 manifests carry no annotations');
});

test('--layer-upload patch (streamed) and put (hash pass + monolithic PUT) give the same layer as the default, which holds a small layer and PUTs it', async () => {
  const app = makeApp();
  const a = await runCli(['push', '--json', '--layer-upload', 'patch', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', imageRef(R.anon2, `${run}/lu-patch:1`), '--app', app]);
  const b = await runCli(['push', '--json', '--layer-upload', 'put', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', imageRef(R.basic, `${run}/lu-put:1`), ...toBasic, '--app', app]);
  const c = await runCli(['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', imageRef(R.anon2, `${run}/lu-default:1`), '--app', app]);
  for (const r of [a, b, c]) assert.equal(r.code, 0, r.stderr);
  const [ra, rb, rc] = [a, b, c].map((r) => JSON.parse(r.stdout));
  assert.equal(ra.layer.method, 'patch');
  assert.equal(rb.layer.method, 'put');
  assert.equal(rc.layer.method, 'put', 'a layer under 1 MiB of gzip output goes as one PUT by default');
  assert.equal(rb.layer.digest, ra.layer.digest);
  assert.equal(rc.layer.digest, ra.layer.digest);
  assert.equal(rb.digest, ra.digest);
  assert.equal(rc.digest, ra.digest);
  assert.equal((await skopeoInspect(imageRef(R.anon2, `${run}/lu-default:1`))).json.Digest, rc.digest, 'skopeo reads the image the one-PUT layer is in');
});
