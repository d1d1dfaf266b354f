// push() orchestration against in-process fake registries: the blob plan per target, mounts,
// set-aside of a failing target, dry runs. Only what the request log and the stored state show.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/log.js';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { push, type PushOptions, type PushResult, type RegpushError } from '../../src/index.js';
import { hashLayer } from '../../src/layer/index.js';
import { ProgressModel } from '../../src/cli/progress-model.js';
import { isLayerKey } from '../../src/push/layer-label.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
/** A directory with one file, for the app layer. */
function appDir(content = 'console.log("hi")\n'): { src: string; dest: string }[] {
  const d = mkdtempSync(join(tmpdir(), 'regpush-engine-push-'));
  dirs.push(d);
  writeFileSync(join(d, 'server.js'), content);
  return [{ src: d, dest: '/app' }];
}
const manifestLayers = (reg: FakeRegistry, repo: string, ref: string) =>
  (JSON.parse(reg.manifest(repo, ref)!.bytes.toString('utf8')) as { layers: { digest: string }[] }).layers.map((l) => l.digest);

test('a target that already has every base blob (new tag): plan all skipped, no base blob read at the source beyond the speculative start', async () => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base/node', { tags: ['20'] });
  for (const l of base.layers) dst.putBlob('app', src.blob('base/node', l.digest)!);
  const r = await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: appDir(), ...fakeLibraryOptions(src, dst) });
  // (Reported largest first, the order transfers start in.)
  assert.deepEqual(r.blobs.map((b) => [b.digest, b.action]).sort(), base.layers.map((l) => [l.digest, 'skipped']).sort());
  // The tag is new, so the largest layer's GET went out with its HEAD (and was dropped when the
  // HEAD found it): the one blob request beyond the base config.
  const largest = [...base.layers].sort((a, b) => b.size - a.size)[0]!;
  for (const l of base.layers) {
    assert.equal(src.count({ kind: 'blob', method: 'GET', digest: l.digest }), l === largest ? 1 : 0, 'a skipped layer is not read');
    assert.equal(dst.count({ kind: 'blob', method: 'HEAD', digest: l.digest }), 1, 'and asked for once');
  }
  assert.equal(src.count({ kind: 'blob', method: 'GET' }), 2, 'the base config, and the speculative GET of the largest layer');
  assert.equal(dst.openUploads(), 0, 'the speculative session was cancelled');
  assert.equal(r.layer?.action, 'uploaded');
  const layers = manifestLayers(dst, 'app', '1');
  assert.deepEqual(layers, [...base.layers.map((l) => l.digest), r.layer!.digest]);
  assert.equal(dst.manifest('app', '1')?.digest, r.digest);
});

test('same-registry push mounts the base layers (201) and streams none of them', async () => {
  const reg = await fake();
  const base = reg.seedImage('base/node', { tags: ['20'] });
  const r = await push({ from: reg.ref('base/node:20'), to: reg.ref('team/app:1'), app: appDir(), ...fakeLibraryOptions(reg) });
  assert.deepEqual(r.blobs.map((b) => b.action), ['mounted', 'mounted']);
  for (const l of base.layers) {
    assert.deepEqual(reg.requests({ kind: 'upload', method: 'POST', digest: l.digest }).map((p) => [p.status, p.query.from]), [[201, 'base/node']]);
    assert.equal(reg.count({ kind: 'blob', method: 'GET', digest: l.digest }), 0);
    // The plan's HEAD only: the mount's 201 named the digest, which confirms it (no second HEAD).
    assert.equal(reg.count({ kind: 'blob', method: 'HEAD', repo: 'team/app', digest: l.digest }), 1, 'one HEAD (the plan\'s), none to confirm the mount');
  }
  assert.equal(reg.manifest('team/app', '1')?.digest, r.digest);
});

test('two targets, one answering 500 to every upload: E_PARTIAL, the good one complete, no manifest at the bad one', async () => {
  const [src, good, bad] = [await fake(), await fake(), await fake()];
  const base = src.seedImage('base/node', { tags: ['20'] });
  bad.fault({ kind: 'upload' }, { kind: 'status', status: 500, retryAfter: 0 });
  let caught: unknown;
  await push({ from: src.ref('base/node:20'), to: [good.ref('app:1'), bad.ref('app:1')], app: appDir(), retries: 1, ...fakeLibraryOptions(src, good, bad) }).catch(
    (e: unknown) => (caught = e),
  );
  assert.equal((caught as RegpushError)?.code, 'E_PARTIAL', String(caught));
  const result = (caught as RegpushError).details.result as PushResult;
  const [g, b] = result.targets!;
  assert.equal(g!.ok, true);
  assert.equal(b!.ok, false);
  assert.equal(b!.error!.code, 'E_REGISTRY', b!.error!.message);
  assert.match(b!.error!.message, /answered 500/);
  assert.equal(good.manifest('app', '1')?.digest, g!.digest);
  assert.deepEqual(manifestLayers(good, 'app', '1').slice(0, 2), base.layers.map((l) => l.digest));
  assert.ok(bad.count({ kind: 'upload', status: 500 }) > 0);
  assert.equal(bad.count({ kind: 'manifest', method: 'PUT' }), 0);
  assert.equal(bad.manifest('app', '1'), undefined);
  assert.equal(bad.openUploads(), 0);
});

test('dry run: HEADs at the target, no POST, PATCH or PUT, and the plan per blob', async () => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base/node', { tags: ['20'] });
  dst.putBlob('app', src.blob('base/node', base.layers[0]!.digest)!);
  const r = await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: appDir(), dryRun: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.dryRun, true);
  assert.deepEqual(r.blobs.map((b) => b.action).sort(), ['planned-stream', 'skipped']);
  assert.equal(dst.count({ method: ['POST', 'PATCH', 'PUT', 'DELETE'] }), 0);
  assert.equal(dst.manifest('app', '1'), undefined);
});

test('a base read through a mirror: the report names the mirror in a dry run as in the push (the dry run\'s report left it out)', async () => {
  const [src, mirror, dst] = [await fake(), await fake(), await fake()];
  const base = src.seedImage('base/node', { tags: ['20'] });
  for (const d of [base.config, ...base.layers]) mirror.putBlob('base/node', src.blob('base/node', d.digest)!, d.mediaType);
  mirror.putManifest('base/node', base.bytes, { mediaType: base.mediaType, tags: ['20'] });
  const opts = { from: src.ref('base/node:20'), to: dst.ref('app:1'), app: appDir(), mirrors: { [src.host]: [mirror.host] }, ...fakeLibraryOptions(src, mirror, dst) };
  const plan = await push({ ...opts, dryRun: true });
  const done = await push(opts);
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 0, 'the base was read at the mirror');
  for (const r of [plan, done]) assert.deepEqual(r.base, { reference: `${src.host}/base/node:20`, digest: base.digest, mirror: mirror.host }, r.dryRun ? 'dry run' : 'push');
});

test('an unchanged re-push asks the target for its manifest only: no config GET, no blob HEAD', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir('same\n');
  const first = await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app, ...fakeLibraryOptions(src, dst) });
  dst.clearLog();
  src.clearLog();
  const again = await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app, ...fakeLibraryOptions(src, dst) });
  assert.equal(again.digest, first.digest);
  assert.equal(again.layer?.action, 'reused');
  assert.deepEqual(again.blobs.map((b) => b.action), ['skipped', 'skipped']);
  assert.deepEqual(dst.requests().map((r) => `${r.method} ${r.kind}`), ['GET manifest'], 'the target is asked for its tag and nothing else');
  // The source: its manifest and config (to compose the image), never a layer.
  assert.equal(src.count({ kind: 'blob', method: 'GET' }), 1);
  assert.equal(src.count({ method: 'HEAD' }), 0);
});

test('a re-push with a changed file falls back to the per-layer check and sends only what changed', async () => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base/node', { tags: ['20'] });
  await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: appDir('v1\n'), ...fakeLibraryOptions(src, dst) });
  dst.clearLog();
  const again = await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: appDir('v2\n'), ...fakeLibraryOptions(src, dst) });
  assert.equal(again.layer?.action, 'uploaded');
  assert.deepEqual(manifestLayers(dst, 'app', '1').slice(0, 2), base.layers.map((l) => l.digest));
  assert.equal(dst.count({ kind: 'blob', method: 'GET' }), 1, 'the tag\'s config is read to match layers by diffID');
  assert.equal(dst.manifest('app', '1')!.digest, again.digest);
});

test('a one-file change with split layers: the unchanged layer and the base blobs the tag names are reused without a HEAD; only the changed layer and the config are sent', async () => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base/node', { tags: ['20'] });
  const deps = appDir('dependencies\n');
  const opts = { from: src.ref('base/node:20'), to: dst.ref('app:1'), layers: [{ sources: deps }], ...fakeLibraryOptions(src, dst) };
  const first = await push({ ...opts, app: appDir('v1\n') });
  dst.clearLog();
  src.clearLog();
  const info: string[] = [];
  const logger = { debug() {}, warn() {}, info: (m: string) => void info.push(m) };
  const again = await push({ ...opts, app: appDir('v2\n'), logger });
  assert.deepEqual(again.layers?.map((l) => l.action), ['reused', 'uploaded']);
  // The log names the reused layer as the report does ("layer 1"; the app layer is "app layer", not "layer 2").
  assert.deepEqual(info.filter((m) => m.includes('unchanged (diffID')).map((m) => m.split(' unchanged')[0]), [again.layers![0]!.name]);
  assert.equal(again.layers![0]!.digest, first.layers![0]!.digest);
  assert.equal(dst.count({ kind: 'blob', method: 'HEAD' }), 0, 'no HEAD: none for what the tag names, none for the new config (its session was opened ahead)');
  assert.deepEqual(dst.uploadsFor(again.platforms[0]!.configDigest).map((u) => u.method), ['POST', 'PUT'], 'the config: one PUT on its session');
  assert.equal(dst.count({ kind: 'blob', method: 'GET' }), 1, 'the tag\'s config, to match layers by diffID');
  for (const l of base.layers) assert.equal(dst.uploadsFor(l.digest).length, 0, 'no base blob sent again');
  assert.equal(src.count({ kind: 'blob', method: 'GET' }), 1, 'the base config only: no base layer read');
  assert.deepEqual(manifestLayers(dst, 'app', '1'), [...base.layers.map((l) => l.digest), first.layers![0]!.digest, again.layers![1]!.digest]);
  assert.equal(dst.manifest('app', '1')!.digest, again.digest);
  // The dependencies change, the code does not: the app layer is the one reused, and said so by its name.
  info.length = 0;
  const third = await push({ ...opts, layers: [{ sources: appDir('dependencies, updated\n') }], app: appDir('v2\n'), logger });
  assert.deepEqual(third.layers?.map((l) => [l.name, l.action]), [['layer 1', 'uploaded'], ['app layer', 'reused']]);
  assert.deepEqual(info.filter((m) => m.includes('unchanged (diffID')).map((m) => m.split(' unchanged')[0]), ['app layer']);
});

test('a new tag each deploy (--to app:COMMIT --tag latest): the layers are matched against latest, the unchanged one reused without a build; the new tag and latest both written', async () => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base/node', { tags: ['20'] });
  const deps = appDir('dependencies\n');
  const opts = { from: src.ref('base/node:20'), layers: [{ sources: deps }], tags: ['latest'], ...fakeLibraryOptions(src, dst) };
  const first = await push({ ...opts, to: dst.ref('app:c1'), app: appDir('v1\n') });
  assert.deepEqual(first.layers?.map((l) => l.action), ['uploaded', 'uploaded']);
  dst.clearLog();
  const info: string[] = [];
  const again = await push({ ...opts, to: dst.ref('app:c2'), app: appDir('v2\n'), logger: { ...silentLogger, info: (m: string) => info.push(m) } });
  assert.deepEqual(again.layers?.map((l) => l.action), ['reused', 'uploaded'], 'the dependencies layer taken from latest, not compressed and HEADed');
  assert.equal(again.layers![0]!.digest, first.layers![0]!.digest);
  assert.ok(info.includes(`${dst.host}/app:c2 is a new tag; its layers are matched against :latest`), info.join('\n'));
  assert.equal(dst.count({ kind: 'blob', method: 'HEAD' }), 0, 'what latest names needs no HEAD');
  assert.deepEqual(dst.tags('app'), ['c1', 'c2', 'latest']);
  for (const tag of ['c2', 'latest']) {
    assert.equal(dst.manifest('app', tag)!.digest, again.digest, tag);
    assert.deepEqual(manifestLayers(dst, 'app', tag), [...base.layers.map((l) => l.digest), first.layers![0]!.digest, again.layers![1]!.digest]);
  }
  assert.equal(dst.manifest('app', 'c1')!.digest, first.digest, 'the old commit\'s tag untouched');
  // Re-run unchanged onto a third new tag: latest holds the very image, so only the new tag is written.
  dst.clearLog();
  const third = await push({ ...opts, to: dst.ref('app:c3'), app: appDir('v2\n') });
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT', path: /\/manifests\/latest$/ }), 0, 'latest already held the image');
  assert.equal(third.digest, again.digest);
  assert.deepEqual(third.layers?.map((l) => l.action), ['reused', 'reused']);
  assert.equal(dst.manifest('app', 'c3')!.digest, again.digest);
  assert.deepEqual([...third.tags].sort(), ['c3', 'latest']);
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT', path: /\/manifests\/c3$/ }), 1, 'the new tag written');
});

/** The config the tag's manifest names, parsed. */
function configOf(reg: FakeRegistry, repo: string, ref: string): { created: string; history: { created: string; created_by: string; comment?: string }[] } {
  const m = JSON.parse(reg.manifest(repo, ref)!.bytes.toString('utf8')) as { config: { digest: string } };
  return JSON.parse(reg.blob(repo, m.config.digest)!.toString('utf8'));
}

test('a dependency layer no tag names, over two platforms and two targets: hashed once, asked for with one HEAD at each target, sent only where the repository lacks it (one PUT), the app layer streamed as before', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  const amd = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'arm64' } });
  src.seedIndex('base/multi', [amd, arm], { tags: ['1'] });
  const deps = appDir('dependencies\n');
  const opts = { from: src.ref('base/multi:1'), layers: [{ sources: deps }], platform: 'all', ...fakeLibraryOptions(src, a, b) };
  // Deployed before to a (another tag), never to b.
  const first = await push({ ...opts, to: a.ref('app:c1'), app: appDir('v1\n') });
  const dep = first.layers![0]!.digest;
  a.clearLog();
  b.clearLog();
  const r = await push({ ...opts, to: [a.ref('app:c2'), b.ref('app:c2')], app: appDir('v2\n') });
  assert.deepEqual(r.targets!.map((t) => t.layers!.map((l) => l.action)), [['skipped', 'uploaded'], ['uploaded', 'uploaded']]);
  assert.equal(r.targets![1]!.layers![0]!.digest, dep, 'the same bytes as the first deploy');
  const asked = (reg: typeof a) => reg.requests({ digest: dep }).map((q) => `${q.method} ${q.status}`);
  assert.deepEqual(asked(a), ['HEAD 200'], 'a holds it: asked for once, nothing sent');
  assert.deepEqual(asked(b), ['HEAD 404', 'PUT 201'], 'b lacks it: asked for once, then one PUT with its digest');
  assert.equal(b.uploadsFor(dep).filter((q) => q.method === 'PATCH').length, 0);
  const app = r.targets![0]!.layers![1]!.digest;
  assert.equal(a.requests({ digest: app, method: 'HEAD' }).length, 0, 'the app layer is not asked for first');
  for (const reg of [a, b]) {
    for (const child of JSON.parse(reg.manifest('app', 'c2')!.bytes.toString('utf8')).manifests) {
      assert.deepEqual(JSON.parse(reg.manifest('app', child.digest)!.bytes.toString('utf8')).layers.slice(-2).map((l: { digest: string }) => l.digest), [dep, app]);
    }
  }
});

test('a dependency layer hashed before its HEAD is heard of meanwhile: a start with no target and no size, its bytes as they are made, all before the target is asked for it; then its start at the target', async () => {
  const [src, a] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const opts = { from: src.ref('base/node:20'), layers: [{ sources: appDir('dependencies\n'.repeat(5000)) }], ...fakeLibraryOptions(src, a) };
  const dep = (await push({ ...opts, to: a.ref('app:c1'), app: appDir('v1\n') })).layers![0]!;
  a.clearLog();
  const asked = (): number => a.count({ digest: dep.digest });
  const seen: string[] = [];
  let madeBeforeHead = 0;
  const events: PushOptions['events'] = {
    start: (d, action, size, target) => void (d === 'layer:1' && seen.push(`start ${action} ${size ?? '?'} ${target ?? '-'} after ${asked()} requests`)),
    bytes: (d, n) => void (d === 'layer:1' && asked() === 0 && (madeBeforeHead += n)),
    end: (r, target) => void (r.digest === 'layer:1' && seen.push(`end ${r.action} ${r.size} ${target}`)),
  };
  // Another tag, none lending the layer: its digest comes first, then the HEAD (test above).
  const r = await push({ ...opts, to: a.ref('app:c2'), app: appDir('v2\n'), events });
  assert.equal(r.layers![0]!.action, 'skipped');
  assert.deepEqual(seen, [`start uploaded ? - after 0 requests`, `start skipped ${dep.size} ${a.host}/app after 1 requests`, `end skipped ${dep.size} ${a.host}/app`]);
  assert.equal(madeBeforeHead, dep.size, 'every byte of the digest pass is said before the HEAD');
});

test('a dependency layer whose build ahead ended within its bound is sent from the bytes it held: built once, asked for with one HEAD, one PUT with its digest; its bytes said before the HEAD', async () => {
  const dst = await fake();
  const depDir = mkdtempSync(join(tmpdir(), 'regpush-engine-push-'));
  dirs.push(depDir);
  for (const name of ['a.js', 'b.js', 'c.js']) writeFileSync(join(depDir, name), `module.exports = '${name}';\n`);
  const builds: string[] = [];
  let depBuilt!: () => void;
  const built = new Promise<void>((resolve) => (depBuilt = resolve));
  const logger = {
    ...silentLogger,
    debug: (m: string) => {
      if (!/^layer: built /.test(m)) return;
      builds.push(m);
      if (/^layer: built 3 entries/.test(m)) depBuilt();
    },
  };
  // The target's answers wait until the dependency layer's build ahead (no base: it starts at
  // once) has ended, so its digest is asked of a build that holds its whole output.
  dst.fault({ kind: 'manifest', method: ['GET', 'HEAD'] }, { kind: 'hold', until: built });
  // Each run of bytes with the number of requests the target had received by then.
  const made: [n: number, requests: number][] = [];
  const events: PushOptions['events'] = { bytes: (d, n) => void (d === 'layer:1' && made.push([n, dst.log.length])) };
  const r = await push({ from: 'scratch', to: dst.ref('app:1'), layers: [{ sources: [{ src: depDir, dest: '/deps' }] }], app: appDir(), logger, events, ...fakeLibraryOptions(dst) });
  const layer = r.layers![0]!;
  const dep = layer.digest;
  const head = dst.requests({ digest: dep, method: 'HEAD' })[0]!.seq;
  const madeBeforeHead = made.filter(([, requests]) => requests < head).reduce((sum, [n]) => sum + n, 0);
  assert.equal(layer.action, 'uploaded');
  // The two builds end in either order (both start at once): compared as sets.
  assert.deepEqual(builds.map((b) => b.replace(/ of gzip.*/, '').replace(/\d+ bytes of tar, /, '')).sort(), ['layer: built 3 entries, ' + layer.size, 'layer: built 1 entries, ' + r.layers![1]!.size].sort(), 'each layer built once');
  assert.deepEqual(dst.requests({ digest: dep }).map((q) => `${q.method} ${q.status} ${q.bytesIn}`), ['HEAD 404 0', `PUT 201 ${layer.size}`], 'asked for, then its held bytes in one PUT');
  assert.equal(dst.uploadsFor(dep).filter((q) => q.method === 'PATCH').length, 0);
  assert.equal(madeBeforeHead, layer.size);
});

test('a layer past the build-ahead bound pushed to a registry that refuses PATCH (PUT only): its hash pass says its bytes as they are made, before the HEAD; the PUT that follows says its own as a new pass; the progress counts the layer once', async () => {
  const dst = await fake();
  // Refused streaming: the layer goes as one PUT with its digest, found by a pass of its own first.
  dst.fault({ kind: 'upload', method: 'PATCH' }, { kind: 'status', status: 405, code: 'UNSUPPORTED' });
  const d = mkdtempSync(join(tmpdir(), 'regpush-engine-push-'));
  dirs.push(d);
  // Random bytes: gzip leaves them past the build ahead's bound (HEAD_START_BYTES), so they are not held whole.
  writeFileSync(join(d, 'data.bin'), randomBytes(9 * 1024 * 1024));
  // The bytes said once the refused PATCH's session was cancelled (its stream let go) and before
  // the layer's HEAD (which asks for the digest the pass found): the pass's own; those said after
  // the HEAD: the PUT's. The events feed the CLI's progress model, as the CLI does.
  let passBytes = 0;
  let putBytes = 0;
  let putPassShown = 0;
  const model = new ProgressModel();
  const cancelled = (): boolean => dst.count({ kind: 'upload', method: 'DELETE' }) === 1;
  const events: PushOptions['events'] = {
    start: (k, a, size, target) => void model.start(k, a, size, isLayerKey(k) && target === undefined, target),
    bytes: (k, n) => {
      model.bytes(k, n);
      if (k !== 'layer' || !cancelled()) return;
      if (dst.count({ kind: 'blob', method: 'HEAD' }) === 0) passBytes += n;
      else {
        putBytes += n;
        putPassShown = model.entries.find((e) => e.digest === 'layer')!.pass!.bytes;
      }
    },
    end: (r, target) => void model.end(r, target),
  };
  const r = await push({ from: 'scratch', to: dst.ref('app:1'), app: [{ src: d, dest: '/data' }], events, ...fakeLibraryOptions(dst) });
  const layer = r.layers!.at(-1)!;
  assert.deepEqual([layer.action, layer.method], ['uploaded', 'put']);
  assert.equal(passBytes, layer.size, 'every byte of the hash pass is said as it is made');
  // The PUT's bytes are said as they go (the line stood still through the PUT), its line showing
  // that pass from 0 up to the layer's size, not on top of the hash pass's.
  assert.equal(putBytes, layer.size, 'every byte of the PUT is said as it goes');
  assert.equal(putPassShown, layer.size, 'the line shows the PUT as a pass of its own');
  // Counted once in the totals (session 33: the PUT's bytes added onto the pass's showed the layer twice).
  const line = model.entries.find((e) => e.digest === 'layer')!;
  assert.equal(line.bytes, layer.size, 'the layer counted once');
  const others = model.entries.filter((e) => e !== line).reduce((sum, e) => sum + e.bytes, 0);
  assert.equal(model.totals().bytes, others + layer.size, 'the totals count the layer once');
});

test('a streamed layer whose PATCH is cut part way is built again and sent on a new session: the progress shows that attempt as a new pass from 0, never more than the layer\'s size, and counts the layer once', async () => {
  const dst = await fake();
  // Cut once after 1 MiB with a proxy's 502: transient, so the layer is built again and sent.
  dst.fault({ kind: 'upload', method: 'PATCH' }, { kind: 'cut', afterBytes: 1024 * 1024, status: 502 }, { times: 1 });
  const d = mkdtempSync(join(tmpdir(), 'regpush-engine-push-'));
  dirs.push(d);
  // Random bytes: past the build ahead's bound, so the layer streams and its restart builds it again.
  writeFileSync(join(d, 'data.bin'), randomBytes(9 * 1024 * 1024));
  const model = new ProgressModel();
  let most = 0;
  const events: PushOptions['events'] = {
    start: (k, a, size, target) => void model.start(k, a, size, isLayerKey(k) && target === undefined, target),
    bytes: (k, n) => {
      model.bytes(k, n);
      if (k === 'layer') most = Math.max(most, model.entries.find((e) => e.digest === 'layer')!.pass!.bytes);
    },
    end: (r, target) => void model.end(r, target),
  };
  const r = await push({ from: 'scratch', to: dst.ref('app:1'), app: [{ src: d, dest: '/data' }], events, ...fakeLibraryOptions(dst) });
  const layer = r.layers!.at(-1)!;
  assert.equal(dst.count({ kind: 'upload', method: 'PATCH', status: 502 }), 1, 'the first attempt was cut');
  assert.deepEqual([layer.action, layer.method], ['uploaded', 'patch']);
  // The restart's bytes were added onto the cut attempt's: the bar stayed full, the line read more than the size.
  assert.equal(most, layer.size, 'the line shows the restart from 0 up to the layer\'s size');
  const line = model.entries.find((e) => e.digest === 'layer')!;
  assert.equal(line.bytes, layer.size, 'the layer counted once');
});

test('SOURCE_DATE_EPOCH set to each commit\'s time dates the config only: a re-push reuses every unchanged layer and uploads the config and the manifest alone, without a warning (it dated every layer entry, and so re-sent every layer)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const deps = appDir('dependencies\n');
  const app = appDir('v1\n');
  const opts = { from: src.ref('base/node:20'), layers: [{ sources: deps }], app, tags: ['latest'], ...fakeLibraryOptions(src, dst) };
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
  const first = await push({ ...opts, to: dst.ref('app:c1'), env: { ...opts.env, SOURCE_DATE_EPOCH: '1700000000' }, logger });
  dst.clearLog();
  const next = await push({ ...opts, to: dst.ref('app:c2'), env: { ...opts.env, SOURCE_DATE_EPOCH: '1700000100' }, logger });
  assert.deepEqual(next.layers?.map((l) => l.action), ['reused', 'reused']);
  assert.deepEqual(next.layers?.map((l) => l.digest), first.layers?.map((l) => l.digest), 'the layers\' digests do not follow SOURCE_DATE_EPOCH');
  assert.notEqual(next.digest, first.digest, 'the config does');
  const config = JSON.parse(dst.manifest('app', 'c2')!.bytes.toString('utf8')).config.digest as string;
  assert.deepEqual(dst.requests({ kind: 'upload', method: 'PUT' }).map((r) => r.digest), [config], 'the one blob sent is the config');
  assert.equal(dst.count({ kind: 'upload', method: 'PATCH' }), 0, 'no layer streamed');
  assert.deepEqual(dst.requests({ kind: 'manifest', method: 'PUT' }).map((r) => r.tag).sort(), ['c2', 'latest']);
  assert.equal(configOf(dst, 'app', 'c2').created, '2023-11-14T22:15:00.000Z');
  assert.deepEqual(warnings, []);
});

test('the config\'s created and the new history entries follow SOURCE_DATE_EPOCH; the layers\' digests do not, and their entries are dated 0 unless mtime is given (then a history comment says when)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const opts = { from: src.ref('base/node:20'), app: appDir('v1\n'), ...fakeLibraryOptions(src, dst) };
  const entryTimes = (repo: string, digest: string): Promise<number[]> =>
    new Promise((resolve, reject) => {
      const times: number[] = [];
      const x = extract();
      x.on('entry', (h, stream, next) => {
        times.push(h.mtime!.getTime() / 1000);
        stream.resume();
        stream.on('end', next);
      });
      x.on('finish', () => resolve(times));
      x.on('error', reject);
      x.end(gunzipSync(dst.blob(repo, digest)!));
    });
  const unset = await push({ ...opts, to: dst.ref('a:1') });
  const dated = await push({ ...opts, to: dst.ref('b:1'), env: { ...opts.env, SOURCE_DATE_EPOCH: '1700000000' } });
  assert.equal(dated.layer!.digest, unset.layer!.digest);
  assert.deepEqual(await entryTimes('b', dated.layer!.digest), [0]);
  assert.equal(configOf(dst, 'a', '1').created, '1970-01-01T00:00:00.000Z');
  const cfg = configOf(dst, 'b', '1');
  assert.equal(cfg.created, '2023-11-14T22:13:20.000Z');
  assert.deepEqual(cfg.history.at(-1), { created: '2023-11-14T22:13:20.000Z', created_by: 'regpush: added /app' }, 'no comment for entries dated 0');
  // mtime dates the entries, whatever SOURCE_DATE_EPOCH is; the config keeps SOURCE_DATE_EPOCH's time.
  const mtime = await push({ ...opts, to: dst.ref('c:1'), mtime: 1600000000, env: { ...opts.env, SOURCE_DATE_EPOCH: '1700000000' } });
  assert.notEqual(mtime.layer!.digest, unset.layer!.digest);
  assert.deepEqual(await entryTimes('c', mtime.layer!.digest), [1600000000]);
  assert.deepEqual(configOf(dst, 'c', '1').history.at(-1), { created: '2023-11-14T22:13:20.000Z', created_by: 'regpush: added /app', comment: 'regpush: entries dated 2020-09-13T12:26:40.000Z' });
  assert.equal(configOf(dst, 'c', '1').created, '2023-11-14T22:13:20.000Z');
});

test('an mtime that changes per push makes every layer new: one warning names the layers, the two times and the option; the same mtime reuses and says nothing', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const deps = appDir('dependencies\n');
  const opts = { from: src.ref('base/node:20'), layers: [{ sources: deps }], tags: ['latest'], ...fakeLibraryOptions(src, dst) };
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
  await push({ ...opts, to: dst.ref('app:c1'), app: appDir('v1\n'), mtime: 1_700_000_000, logger });
  assert.deepEqual(warnings, []);
  const next = await push({ ...opts, to: dst.ref('app:c2'), app: appDir('v2\n'), mtime: 1_700_000_100, logger });
  assert.deepEqual(next.layers?.map((l) => l.action), ['uploaded', 'uploaded'], 'the unchanged dependencies are another layer when dated otherwise');
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /^layer 1, app layer: not reused, and :latest has layers from the same sources whose entries are dated 2023-11-14T22:13:20\.000Z, this push 2023-11-14T22:15:00\.000Z \(mtime\): .*give mtime the same value/);
  warnings.length = 0;
  const same = await push({ ...opts, to: dst.ref('app:c3'), app: appDir('v3\n'), mtime: 1_700_000_100, logger });
  assert.deepEqual(same.layers?.map((l) => l.action), ['reused', 'uploaded']);
  assert.deepEqual(warnings, [], 'a layer whose files changed, dated the same, is no reason to speak');
  // Back to the default (0): said too, the tag's entries being dated otherwise.
  const unset = await push({ ...opts, to: dst.ref('app:c4'), app: appDir('v3\n'), logger });
  assert.deepEqual(unset.layers?.map((l) => l.action), ['uploaded', 'uploaded']);
  assert.match(warnings[0] ?? '', /^layer 1, app layer: not reused, .* dated 2023-11-14T22:15:00\.000Z, this push 1970-01-01T00:00:00\.000Z \(mtime\)/);
  // A per-commit SOURCE_DATE_EPOCH, entries at the default: no word (every layer reused but the changed one).
  warnings.length = 0;
  const sde = await push({ ...opts, to: dst.ref('app:c5'), app: appDir('v5\n'), env: { ...opts.env, SOURCE_DATE_EPOCH: '1700000200' }, logger });
  assert.deepEqual(sde.layers?.map((l) => l.action), ['reused', 'uploaded']);
  assert.deepEqual(warnings, []);
});

test('a dependency layer sent again because of a file every install rewrites (a timestamped .pyc, node_modules/.cache) is warned about, naming the file; a changed app layer, or a hash-based .pyc, is not', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const venv = mkdtempSync(join(tmpdir(), 'regpush-engine-push-'));
  dirs.push(venv);
  mkdirSync(join(venv, 'lib', '__pycache__'), { recursive: true });
  writeFileSync(join(venv, 'lib', 'mod.py'), 'x = 1\n');
  // PEP 552 header: magic, flags (0: checked against the source's mtime; 1: hash-based), then mtime and size (or the hash).
  const pyc = (flags: number, stamp: number): Buffer => Buffer.concat([Buffer.from([0xa7, 0x0d, 0x0d, 0x0a]), Buffer.from(new Uint32Array([flags, stamp, 6]).buffer), Buffer.from('code')]);
  const pycPath = join(venv, 'lib', '__pycache__', 'mod.cpython-311.pyc');
  writeFileSync(pycPath, pyc(0, 1_700_000_000));
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
  const opts = { from: src.ref('base/node:20'), to: dst.ref('app:latest'), layers: [{ sources: [{ src: venv, dest: '/opt/venv' }] }], ...fakeLibraryOptions(src, dst), logger };
  await push({ ...opts, app: appDir('v1\n') });
  assert.deepEqual(warnings, []);
  // A fresh install: the same sources, a new stamp in the .pyc; the app unchanged.
  writeFileSync(pycPath, pyc(0, 1_700_000_100));
  const again = await push({ ...opts, app: appDir('v1\n') });
  assert.deepEqual(again.layers?.map((l) => l.action), ['uploaded', 'reused']);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /^layer 1 \(\/opt\/venv\): not reused, and sent again whole: its files differ from those of the layer :latest holds from the same sources; it holds \/opt\/venv\/lib\/__pycache__\/mod\.cpython-311\.pyc, a compiled Python file stamped with its source's modification time.*SOURCE_DATE_EPOCH.*\*\*\/__pycache__/);
  // Hash-based .pyc files (what SOURCE_DATE_EPOCH gives): a change there is a real one, no warning.
  warnings.length = 0;
  writeFileSync(pycPath, pyc(1, 1));
  const hashed = await push({ ...opts, app: appDir('v2\n') });
  assert.deepEqual(hashed.layers?.map((l) => l.action), ['uploaded', 'uploaded']);
  assert.deepEqual(warnings, [], 'a dependency layer that changed, with no file known to churn, and the app layer: no warning');
  // A build tool's cache in node_modules.
  const nm = mkdtempSync(join(tmpdir(), 'regpush-engine-push-'));
  dirs.push(nm);
  mkdirSync(join(nm, 'node_modules', '.cache', 'babel-loader'), { recursive: true });
  writeFileSync(join(nm, 'node_modules', 'dep.js'), 'module.exports = 1\n');
  writeFileSync(join(nm, 'node_modules', '.cache', 'babel-loader', 'a.json'), '1');
  const node = { ...opts, to: dst.ref('web:latest'), layers: [{ sources: [{ src: join(nm, 'node_modules'), dest: '/app/node_modules' }] }] };
  await push({ ...node, app: appDir('v1\n') });
  writeFileSync(join(nm, 'node_modules', '.cache', 'babel-loader', 'a.json'), '2');
  await push({ ...node, app: appDir('v1\n') });
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /^layer 1 \(\/app\/node_modules\): .*it holds \/app\/node_modules\/\.cache\/babel-loader\/a\.json, a build tool's cache/);
});

test('a base pushed by regpush with another mtime is no reason to speak: only the tag\'s own layers are compared (a changed app layer over it says nothing)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const libs = { ...fakeLibraryOptions(src, dst) };
  // The team's own base, its app layer dated 100, pushed where the app's image is pushed from.
  await push({ from: src.ref('base/node:20'), to: dst.ref('mine:1'), app: appDir('base files\n'), mtime: 100, ...libs });
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
  const opts = { from: dst.ref('mine:1'), to: dst.ref('app:1'), ...libs, logger };
  await push({ ...opts, app: appDir('v1\n') });
  const changed = await push({ ...opts, app: appDir('v2\n') });
  assert.deepEqual(changed.layers?.map((l) => l.action), ['uploaded']);
  assert.deepEqual(warnings, [], 'the app layer changed because its files did; the base\'s mtime is not this push\'s');
});

test('an unchanged re-push with --tag: the extra tags are asked about with the tag\'s GET, one GET each where pulls are not counted (no HEAD besides), and those already on the digest are not written again (as copy leaves them)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const opts = { from: src.ref('base/node:20'), to: dst.ref('app:1'), tags: ['stable', 'latest'], app: appDir('v1\n'), ...fakeLibraryOptions(src, dst) };
  const first = await push(opts);
  // Another image moves `stable` meanwhile: that one tag is written again on the re-run.
  const moved = dst.putManifest('app', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 }, layers: [] }, { tags: ['stable'] });
  assert.notEqual(moved.digest, first.digest);
  dst.clearLog();
  const again = await push(opts);
  assert.equal(again.digest, first.digest);
  const puts = dst.requests({ kind: 'manifest', method: 'PUT' }).map((q) => q.path.replace(/^.*\/manifests\//, ''));
  assert.deepEqual(puts, ['stable'], 'only the tag that had moved');
  assert.equal(dst.count({ kind: 'manifest', method: 'HEAD' }), 0, 'the GETs gave the digests');
  assert.deepEqual(dst.requests({ kind: 'manifest', method: 'GET' }).map((q) => q.path.replace(/^.*\/manifests\//, '')).sort(), ['1', 'latest', 'stable'], 'each tag asked once');
  for (const tag of ['1', 'stable', 'latest']) assert.equal(dst.manifest('app', tag)!.digest, first.digest, tag);
});

test('--to app:NEW --tag latest: latest is asked about once, its GET giving both the layers to match against and the digest the commit compares (it was HEADed and then read)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const deps = appDir('dependencies\n');
  const opts = { from: src.ref('base/node:20'), layers: [{ sources: deps }], tags: ['latest'], ...fakeLibraryOptions(src, dst) };
  const asked = (tag: string): string[] => dst.requests({ kind: 'manifest', path: new RegExp(`/manifests/${tag}$`) }).map((q) => q.method);
  // The first deploy: neither tag exists. Each is asked once, then written.
  const first = await push({ ...opts, to: dst.ref('app:c1'), app: appDir('v1\n') });
  assert.deepEqual(asked('c1'), ['GET', 'PUT']);
  assert.deepEqual(asked('latest'), ['GET', 'PUT'], 'latest: one GET (absent), then its PUT');
  // The next deploy: c2 is new, latest holds c1's image, whose layers are matched against.
  dst.clearLog();
  const again = await push({ ...opts, to: dst.ref('app:c2'), app: appDir('v2\n') });
  assert.deepEqual(again.layers?.map((l) => l.action), ['reused', 'uploaded'], 'the dependencies layer matched against latest');
  assert.notEqual(again.digest, first.digest);
  assert.deepEqual(asked('c2'), ['GET', 'PUT']);
  assert.deepEqual(asked('latest'), ['GET', 'PUT'], 'latest: one GET, then moved to the new image');
  assert.equal(dst.manifest('app', 'latest')!.digest, again.digest);
  // Unchanged onto c3: latest already holds the image, told by that same GET, so it is not written.
  dst.clearLog();
  const third = await push({ ...opts, to: dst.ref('app:c3'), app: appDir('v2\n') });
  assert.equal(third.digest, again.digest);
  assert.deepEqual(asked('latest'), ['GET'], 'latest: one GET, and left alone');
  assert.deepEqual(asked('c3'), ['GET', 'PUT']);
});

test('the config does not wait for the base blobs\' plan: its upload starts while their HEADs are unanswered', async () => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base/node', { tags: ['20'] });
  const HEAD_DELAY = 1000;
  for (const l of base.layers) dst.fault({ kind: 'blob', method: 'HEAD', digest: l.digest }, { kind: 'delay', ms: HEAD_DELAY });
  const r = await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: appDir(), ...fakeLibraryOptions(src, dst) });
  const heads = base.layers.flatMap((l) => dst.requests({ kind: 'blob', method: 'HEAD', digest: l.digest }));
  assert.equal(heads.length, base.layers.length, 'one HEAD per base blob');
  const firstAnswer = Math.min(...heads.map((q) => q.answeredAfter!));
  const configPut = dst.uploadsFor(r.platforms[0]!.configDigest).find((u) => u.method === 'PUT');
  assert.ok(configPut, 'the config was uploaded');
  // Ordering, not wall-clock: the PUT arrived while every HEAD was still held (HEAD_DELAY ms).
  assert.ok(configPut.seq <= firstAnswer, `the config's PUT (request ${configPut.seq}) came after a base HEAD was answered (after request ${firstAnswer})`);
  assert.equal(dst.manifest('app', '1')!.digest, r.digest);
});

test('an unchanged multi-platform re-push: the index and its children, nothing else at the target', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'arm64' } });
  src.seedIndex('base/multi', [amd, arm], { tags: ['1'] });
  const app = appDir('multi\n');
  const opts = { from: src.ref('base/multi:1'), to: dst.ref('app:m'), app, platform: 'all', ...fakeLibraryOptions(src, dst) };
  const first = await push(opts);
  dst.clearLog();
  const again = await push(opts);
  assert.equal(again.digest, first.digest);
  assert.deepEqual(dst.requests().map((r) => `${r.method} ${r.kind}`).sort(), ['GET manifest', 'GET manifest', 'GET manifest']);
});

test('the config goes out while base blobs still move: it lands before the slowest base blob', async () => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base/node', { tags: ['20'] });
  const slow = base.layers[1]!.digest;
  src.fault({ kind: 'blob', method: 'GET', digest: slow }, { kind: 'delay', ms: 400 });
  const r = await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: appDir(), ...fakeLibraryOptions(src, dst) });
  const configDigest = r.platforms[0]!.configDigest;
  const landed = (digest: string) => dst.requests({ kind: 'upload', method: 'PUT', digest }).find((q) => q.status === 201);
  assert.ok(landed(configDigest) && landed(slow), 'both uploaded');
  assert.ok(landed(configDigest)!.seq < landed(slow)!.seq, 'the config was sent before the slow base blob landed');
  // And the manifest came last, after every blob it names.
  const manifestPut = dst.requests({ kind: 'manifest', method: 'PUT' })[0]!;
  assert.ok(manifestPut.seq > landed(slow)!.seq);
});

test('base blobs are planned and started from the base manifest, while its config is still on its way', async () => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base/node', { tags: ['20'] });
  src.fault({ kind: 'blob', method: 'GET', digest: base.config.digest }, { kind: 'delay', ms: 1000 });
  await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: appDir(), ...fakeLibraryOptions(src, dst) });
  const config = src.requests({ kind: 'blob', method: 'GET', digest: base.config.digest })[0]!;
  for (const l of base.layers) {
    const read = src.requests({ kind: 'blob', method: 'GET', digest: l.digest })[0]!;
    // Ordering, not wall-clock: the blob was asked for while the config was still held (1 s).
    assert.ok(read.seq <= config.answeredAfter!, `base layer ${l.digest} was read (request ${read.seq}) after the config was answered (after request ${config.answeredAfter})`);
  }
  assert.deepEqual(manifestLayers(dst, 'app', '1').slice(0, 2), base.layers.map((l) => l.digest));
});

test("same registry, first push of a tag: the layer's upload session is opened alongside the tag's GET, and used", async () => {
  const reg = await fake();
  reg.seedImage('base/node', { tags: ['20'] });
  reg.fault({ kind: 'manifest', method: 'GET', repo: 'app' }, { kind: 'delay', ms: 1000 });
  const r = await push({ from: reg.ref('base/node:20'), to: reg.ref('app:1'), app: appDir(), ...fakeLibraryOptions(reg) });
  const tagGet = reg.requests({ kind: 'manifest', method: 'GET', repo: 'app' })[0]!;
  const posts = reg.requests({ kind: 'upload', method: 'POST', repo: 'app' }).filter((p) => !p.query.mount);
  // Ordering, not wall-clock: the session was asked for while the tag's GET was still held (1 s).
  assert.ok(posts[0]!.seq <= tagGet.answeredAfter!, `the first session was opened (request ${posts[0]!.seq}) after the tag was answered (after request ${tagGet.answeredAfter})`);
  // A layer this small goes as one PUT with its digest (SMALL_LAYER_BYTES), on that session.
  const put = reg.uploadsFor(r.layer!.digest).find((u) => u.method === 'PUT')!;
  assert.equal(put.session, posts[0]!.session, 'the layer went into the session opened first');
  assert.equal(reg.count({ kind: 'upload', method: 'DELETE' }), 0);
  assert.equal(reg.openUploads(), 0);
});

test('same registry, re-push of an existing tag: the spare session is cancelled, nothing else written', async () => {
  const reg = await fake();
  reg.seedImage('base/node', { tags: ['20'] });
  const app = appDir('same\n');
  const first = await push({ from: reg.ref('base/node:20'), to: reg.ref('app:1'), app, ...fakeLibraryOptions(reg) });
  reg.clearLog();
  const again = await push({ from: reg.ref('base/node:20'), to: reg.ref('app:1'), app, ...fakeLibraryOptions(reg) });
  assert.equal(again.digest, first.digest);
  const posts = reg.requests({ kind: 'upload', method: 'POST' });
  assert.equal(posts.length, 1);
  assert.deepEqual(reg.requests({ kind: 'upload', method: 'DELETE' }).map((d) => [d.session, d.status]), [[posts[0]!.session, 204]]);
  assert.equal(reg.count({ method: ['PATCH', 'PUT'] }), 0);
  assert.equal(reg.openUploads(), 0);
});

test('a push that fails after its spare sessions were opened (the layer\'s, the config\'s) cancels them', async () => {
  const reg = await fake();
  reg.seedImage('base/node', { tags: ['20'] });
  // The base config cannot be read: the push fails after the target's session was opened.
  const base = JSON.parse(reg.manifest('base/node', '20')!.bytes.toString('utf8')) as { config: { digest: string } };
  reg.fault({ kind: 'blob', method: 'GET', digest: base.config.digest }, { kind: 'status', status: 404, code: 'BLOB_UNKNOWN' });
  await assert.rejects(push({ from: reg.ref('base/node:20'), to: reg.ref('app:1'), app: appDir(), ...fakeLibraryOptions(reg) }), { code: 'E_NOT_FOUND', message: /^GET blob \S+\/base\/node@sha256:[0-9a-f]{64}: \S+ answered 404 BLOB_UNKNOWN/ });
  // The layer's session opened with the tag's GET, the config's after its 404; the config was
  // never composed, and the layer's commit waits for the base, which failed: both cancelled.
  const opened = reg.requests({ kind: 'upload', method: 'POST', repo: 'app' }).filter((p) => !p.query.mount).map((p) => p.session);
  assert.equal(opened.length, 2, 'the layer\'s session and the config\'s');
  const closed = reg.requests({ kind: 'upload', method: ['PUT', 'DELETE'], repo: 'app' });
  assert.deepEqual(new Set(closed.map((c) => c.session)), new Set(opened), 'each one completed or cancelled');
  assert.equal(closed.length, opened.length, 'each closed once');
  assert.equal(closed.filter((c) => c.method === 'PUT').length, 0, 'nothing committed');
  assert.equal(reg.openUploads('app'), 0, 'no session left open');
  assert.equal(reg.manifest('app', '1'), undefined);
});

/**
 * Holds `src`'s answers for base/node until the push's app layer is ready to be committed at its
 * target: its commit waits for the base ("the commit waits" in the log), or it went out without
 * waiting (`dst` saw a PUT of an upload). Ordering, not wall-clock.
 */
function holdBaseUntilLayerReady(src: FakeRegistry, dst: FakeRegistry): { logger: typeof silentLogger; waited: () => boolean } {
  let said!: () => void;
  const saidWait = new Promise<void>((r) => (said = r));
  let waited = false;
  const logger = {
    ...silentLogger,
    debug: (m: string) => {
      if (/the commit waits for the base/.test(m)) {
        waited = true;
        said();
      }
    },
  };
  src.fault({ kind: 'manifest', repo: 'base/node' }, { kind: 'hold', until: Promise.race([saidWait, dst.seen({ kind: 'upload', method: 'PUT' })]) });
  return { logger, waited: () => waited };
}

test('a push whose base cannot be read (404, 401) commits no blob at the target: the app layer, built and uploaded meanwhile, waits for the base and its session is cancelled (its PUT went out first, an unreferenced blob left)', async () => {
  // A layer of 2 MiB that does not compress streams in a PATCH: only its closing PUT waits.
  const large = appDir();
  writeFileSync(join(large[0]!.src, 'blob.bin'), randomBytes(2 * 1024 * 1024));
  for (const how of ['404', '401', '404, a large layer'] as const) {
    const src = how === '401' ? await fake({ auth: { scheme: 'basic', user: 'u', password: 'p' } }) : await fake();
    const dst = await fake();
    const { logger } = holdBaseUntilLayerReady(src, dst);
    // Not there (404), or not to be read without credentials (401).
    const from = how === '401' ? (src.seedImage('base/node', { tags: ['20'] }), src.ref('base/node:20')) : src.ref('base/node:20');
    const app = how === '404, a large layer' ? large : appDir(`${how}\n`);
    const err = await push({ from, to: dst.ref('app:1'), app, retries: 0, logger, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: RegpushError) => e);
    assert.equal(err?.code, how === '401' ? 'E_AUTH' : 'E_NOT_FOUND', `${how}: ${String(err)}`);
    if (how === '404, a large layer') assert.equal(dst.count({ kind: 'upload', method: 'PATCH' }), 1, `${how}: its bytes went ahead`);
    assert.equal(dst.count({ kind: 'upload', method: 'PUT' }), 0, `${how}: a blob was committed at the target`);
    assert.equal(dst.count({ kind: 'upload', method: 'POST', query: { digest: true } }), 0, how);
    const opened = dst.requests({ kind: 'upload', method: 'POST' }).map((p) => p.session);
    assert.ok(opened.length >= 1, `${how}: the layer's session was opened (the layer went ahead)`);
    assert.deepEqual(dst.requests({ kind: 'upload', method: 'DELETE' }).map((d) => [d.session, d.status]).sort(), opened.map((o) => [o, 204]).sort(), `${how}: every session cancelled`);
    assert.equal(dst.openUploads(), 0, how);
    assert.equal(dst.manifest('app', '1'), undefined, how);
  }
});

test('a push whose base comes in after its app layer is ready: the layer\'s commit alone waits, and the requests are those of any first push (one POST and one PUT for a small layer, nothing cancelled)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const { logger, waited } = holdBaseUntilLayerReady(src, dst);
  const app = appDir('late base\n');
  const r = await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app, logger, ...fakeLibraryOptions(src, dst) });
  assert.ok(waited(), 'the commit waited for the base');
  assert.deepEqual(dst.uploadsFor(r.layer!.digest).map((u) => [u.method, u.status]), [['POST', 202], ['PUT', 201]]);
  assert.equal(dst.count({ kind: 'upload', method: 'DELETE' }), 0);
  assert.equal(dst.manifest('app', '1')?.digest, r.digest);
  // The same requests as a push whose base is in at once (another target, the same inputs).
  const [src2, dst2] = [await fake(), await fake()];
  src2.seedImage('base/node', { tags: ['20'] });
  const r2 = await push({ from: src2.ref('base/node:20'), to: dst2.ref('app:1'), app, ...fakeLibraryOptions(src2, dst2) });
  const kinds = (reg: FakeRegistry) => reg.requests({}).map((q) => `${q.method} ${q.kind} ${q.status}`).sort();
  assert.deepEqual(kinds(dst), kinds(dst2));
  assert.equal(r2.layer!.digest, r.layer!.digest, 'the same layer');
});

test('an unchanged re-push writes nothing: the tag already holds the very manifest', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir('same\n');
  const first = await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app, ...fakeLibraryOptions(src, dst) });
  dst.clearLog();
  const again = await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app, ...fakeLibraryOptions(src, dst) });
  assert.equal(again.digest, first.digest);
  assert.equal(again.layer?.action, 'reused');
  assert.equal(dst.count({ method: ['POST', 'PATCH', 'PUT', 'DELETE'] }), 0, dst.requests({ method: ['POST', 'PATCH', 'PUT'] }).map((r) => `${r.method} ${r.path}`).join('\n'));
});

test('a changed push: the config\'s upload and the changed layer\'s session go out with the tag\'s config GET, not after its answer; the tag holding the very image sends neither', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const deps = appDir('dependencies\n');
  const opts = { from: src.ref('base/node:20'), to: dst.ref('app:1'), layers: [{ sources: deps }], ...fakeLibraryOptions(src, dst) };
  const first = await push({ ...opts, app: appDir('v1\n') });
  const DELAY = 1000;
  const tagConfig = first.platforms[0]!.configDigest;
  dst.fault({ kind: 'blob', method: 'GET', digest: tagConfig }, { kind: 'delay', ms: DELAY });
  dst.clearLog();
  const again = await push({ ...opts, app: appDir('v2\n') });
  const answered = dst.requests({ kind: 'blob', method: 'GET', digest: tagConfig })[0]!.answeredAfter!;
  const configPost = dst.uploadsFor(again.platforms[0]!.configDigest).find((u) => u.method === 'POST');
  // Ordering, not wall-clock: requests that arrived while the tag's config GET was held (DELAY ms).
  assert.ok(configPost && configPost.seq <= answered, `the config's session opened (request ${configPost?.seq}) after the tag's config answered (after request ${answered})`);
  const layerPut = dst.uploadsFor(again.layers![1]!.digest).find((u) => u.method === 'PUT')!;
  const sessions = dst.requests({ kind: 'upload', method: 'POST' }).filter((p) => p.session === layerPut.session);
  assert.equal(sessions.length, 1);
  assert.ok(sessions[0]!.seq <= answered, 'the changed layer\'s session was opened before the tag\'s config answered');
  assert.equal(dst.openUploads(), 0);

  // Unchanged: no config upload at all, no session left.
  dst.clearFaults();
  dst.clearLog();
  const same = await push({ ...opts, app: appDir('v2\n') });
  assert.equal(same.digest, again.digest);
  assert.equal(dst.count({ kind: 'upload', method: ['PUT', 'PATCH'] }), 0);
  assert.equal(dst.count({ kind: 'blob', method: 'HEAD' }), 0);
  assert.equal(dst.openUploads(), 0);
});

/** The base config's digest of `base/node:20` in `reg`. */
const baseConfigOf = (reg: FakeRegistry): string => (JSON.parse(reg.manifest('base/node', '20')!.bytes.toString('utf8')) as { config: { digest: string } }).config.digest;

test('same registry, a code change whose small layer was built before the tag answered: the session opened with the tag\'s GET is kept and used, the tag\'s config is asked for alongside the base config, and the image is the one a first push writes', async () => {
  const reg = await fake();
  reg.seedImage('base/node', { tags: ['20'] });
  const deps = appDir('dependencies\n');
  const opts = { from: reg.ref('base/node:20'), layers: [{ sources: deps }], ...fakeLibraryOptions(reg) };
  const first = await push({ ...opts, to: reg.ref('app:1'), app: appDir('v1\n') });
  const DELAY = 1000;
  // The tag answers late enough for both small builds to end first; the base config later still.
  reg.fault({ kind: 'manifest', method: 'GET', repo: 'app' }, { kind: 'delay', ms: 300 });
  reg.fault({ kind: 'blob', method: 'GET', digest: baseConfigOf(reg) }, { kind: 'delay', ms: DELAY });
  reg.clearLog();
  const again = await push({ ...opts, to: reg.ref('app:1'), app: appDir('v2\n') });
  assert.deepEqual(again.layers?.map((l) => l.action), ['reused', 'uploaded']);
  const baseAsked = reg.requests({ kind: 'blob', method: 'GET', digest: baseConfigOf(reg) })[0]!.at;
  const tagConfigAsked = reg.requests({ kind: 'blob', method: 'GET', repo: 'app', digest: first.platforms[0]!.configDigest })[0]!.at;
  assert.ok(tagConfigAsked < baseAsked + DELAY / 2, `the tag's config was asked for ${tagConfigAsked - baseAsked} ms after the base config, before its answer`);
  const posts = reg.requests({ kind: 'upload', method: 'POST', repo: 'app' }).filter((p) => !p.query.mount);
  assert.equal(posts.length, 2, 'two sessions: the layer\'s, opened with the tag\'s GET, and the config\'s');
  const layerPut = reg.uploadsFor(again.layers![1]!.digest).find((u) => u.method === 'PUT')!;
  assert.equal(layerPut.session, posts[0]!.session, 'the changed layer went into the session opened with the tag\'s GET');
  assert.equal(reg.count({ kind: 'upload', method: 'DELETE' }), 0, 'nothing opened in vain');
  assert.equal(reg.openUploads(), 0);
  // The same inputs pushed to a new tag, the usual way: the very same image.
  reg.clearFaults();
  const fresh = await push({ ...opts, to: reg.ref('other:1'), app: appDir('v2\n') });
  assert.equal(again.digest, fresh.digest);
  assert.equal(reg.manifest('app', '1')!.digest, again.digest);
});

test('same registry, an unchanged re-push whose small layer was built before the tag answered: no expectation, the spare is cancelled, the tag\'s config is not read', async () => {
  const reg = await fake();
  reg.seedImage('base/node', { tags: ['20'] });
  const app = appDir('same\n');
  const first = await push({ from: reg.ref('base/node:20'), to: reg.ref('app:1'), app, ...fakeLibraryOptions(reg) });
  reg.fault({ kind: 'manifest', method: 'GET', repo: 'app' }, { kind: 'delay', ms: 300 });
  reg.clearLog();
  const again = await push({ from: reg.ref('base/node:20'), to: reg.ref('app:1'), app, ...fakeLibraryOptions(reg) });
  assert.equal(again.digest, first.digest);
  const posts = reg.requests({ kind: 'upload', method: 'POST' });
  assert.equal(posts.length, 1, 'the layer\'s session only, opened with the tag\'s GET');
  assert.deepEqual(reg.requests({ kind: 'upload', method: 'DELETE' }).map((d) => d.session), [posts[0]!.session]);
  assert.equal(reg.count({ kind: 'blob', method: 'GET', repo: 'app' }), 0, 'the tag\'s config is not read');
  assert.equal(reg.count({ method: ['PATCH', 'PUT'] }), 0);
  assert.equal(reg.openUploads(), 0);
});

test('same registry, the tag holds the same files compressed otherwise: the expectation of a change is wrong, so its sessions are cancelled and nothing is written', async () => {
  const reg = await fake();
  reg.seedImage('base/node', { tags: ['20'] });
  const app = appDir('same files\n');
  const first = await push({ from: reg.ref('base/node:20'), to: reg.ref('app:1'), app, gzipLevel: 1, ...fakeLibraryOptions(reg) });
  reg.fault({ kind: 'manifest', method: 'GET', repo: 'app' }, { kind: 'delay', ms: 300 });
  reg.clearLog();
  const again = await push({ from: reg.ref('base/node:20'), to: reg.ref('app:1'), app, gzipLevel: 9, ...fakeLibraryOptions(reg) });
  assert.equal(again.layer?.action, 'reused', 'matched by diffID');
  assert.equal(again.digest, first.digest, 'the tag already holds this image');
  const posts = reg.requests({ kind: 'upload', method: 'POST' });
  assert.equal(posts.length, 2, 'the layer\'s session and the config\'s, opened on the expectation');
  assert.deepEqual(new Set(reg.requests({ kind: 'upload', method: 'DELETE' }).map((d) => d.session)), new Set(posts.map((p) => p.session)), 'both cancelled');
  assert.equal(reg.count({ method: ['PATCH', 'PUT'] }), 0, 'nothing written');
  assert.equal(reg.openUploads(), 0);
});

test('base in another registry, a code change whose small layer was built before the tag answered: the layer\'s and the config\'s sessions open with the tag\'s config GET, before the base config answers; nothing opened in vain', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const deps = appDir('dependencies\n');
  const opts = { from: src.ref('base/node:20'), layers: [{ sources: deps }], ...fakeLibraryOptions(src, dst) };
  const first = await push({ ...opts, to: dst.ref('app:1'), app: appDir('v1\n') });
  const DELAY = 1000;
  dst.fault({ kind: 'manifest', method: 'GET', repo: 'app' }, { kind: 'delay', ms: 300 });
  src.fault({ kind: 'blob', method: 'GET', digest: baseConfigOf(src) }, { kind: 'delay', ms: DELAY });
  src.clearLog();
  dst.clearLog();
  const again = await push({ ...opts, to: dst.ref('app:1'), app: appDir('v2\n') });
  assert.deepEqual(again.layers?.map((l) => l.action), ['reused', 'uploaded']);
  const baseAnswered = src.requests({ kind: 'blob', method: 'GET', digest: baseConfigOf(src) })[0]!.at + DELAY;
  const tagConfigAsked = dst.requests({ kind: 'blob', method: 'GET', repo: 'app', digest: first.platforms[0]!.configDigest })[0]!.at;
  assert.ok(tagConfigAsked < baseAnswered - DELAY / 2, 'the tag\'s config was asked for long before the base config answered');
  const posts = dst.requests({ kind: 'upload', method: 'POST', repo: 'app' });
  assert.equal(posts.length, 2, 'the layer\'s session and the config\'s');
  for (const p of posts) assert.ok(p.at < baseAnswered - DELAY / 2, 'each opened before the base config answered');
  const layerPut = dst.uploadsFor(again.layers![1]!.digest).find((u) => u.method === 'PUT')!;
  assert.ok(posts.some((p) => p.session === layerPut.session), 'the changed layer went into one of them');
  assert.equal(dst.count({ kind: 'upload', method: 'DELETE' }), 0);
  assert.equal(dst.openUploads(), 0);
  assert.equal(dst.manifest('app', '1')!.digest, again.digest);
});

test('a base that is an OCI index over Docker v2 manifests: the child is written in the index\'s family (was an internal error)', async () => {
  const reg = await fake();
  const amd = reg.seedImage('base/mixed', { format: 'docker', platform: { os: 'linux', architecture: 'amd64' } });
  const arm = reg.seedImage('base/mixed', { format: 'docker', platform: { os: 'linux', architecture: 'arm64' } });
  reg.seedIndex('base/mixed', [amd, arm], { tags: ['1'] }); // OCI index, Docker children (crane index append)
  const r = await push({ from: reg.ref('base/mixed:1'), to: reg.ref('app:1'), app: appDir(), platform: 'all', ...fakeLibraryOptions(reg) });
  const top = JSON.parse(reg.manifest('app', '1')!.bytes.toString('utf8')) as { mediaType: string; manifests: { digest: string; mediaType: string }[] };
  assert.equal(top.mediaType, 'application/vnd.oci.image.index.v1+json');
  for (const entry of top.manifests) {
    assert.equal(entry.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    const child = JSON.parse(reg.manifest('app', entry.digest)!.bytes.toString('utf8')) as { config: { mediaType: string }; layers: { mediaType: string }[] };
    assert.equal(child.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    assert.ok(child.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip'), JSON.stringify(child.layers));
  }
  assert.equal(r.digest, reg.manifest('app', '1')!.digest);
});

test('push --format docker over an OCI base whose layers carry annotations: one warning names them, the push goes on', async () => {
  const reg = await fake();
  const base = reg.seedImage('base/app');
  const layers = base.layers.map((l, i) => (i === 0 ? { ...l, annotations: { 'org.example.note': 'kept in OCI only' } } : l));
  reg.putManifest('base/app', { ...base.manifest, layers }, { tags: ['1'] });
  const warn: string[] = [];
  const logger = { info: () => undefined, debug: () => undefined, warn: (m: string) => warn.push(m) };
  const r = await push({ from: reg.ref('base/app:1'), to: reg.ref('app:1'), app: appDir(), format: 'docker', logger, ...fakeLibraryOptions(reg) });
  assert.deepEqual(warn, ["format: \"docker\": the base's annotations on 1 layer descriptor dropped: Docker v2 manifests have none"]);
  const written = JSON.parse(reg.manifest('app', '1')!.bytes.toString('utf8')) as { mediaType: string; layers: { annotations?: unknown }[] };
  assert.equal(written.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.ok(written.layers.every((l) => l.annotations === undefined));
  assert.equal(r.digest, reg.manifest('app', '1')!.digest);
});

test('push --layer windows(OSVERSION)/amd64=…: only into the image of that OS version, exactly; a version the base lacks is E_INPUT listing those it has', async () => {
  const reg = await fake();
  const ltsc2019 = reg.seedImage('base/win', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.5576' } });
  const ltsc2022 = reg.seedImage('base/win', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2340' } });
  reg.seedIndex('base/win', [ltsc2019, ltsc2022], { tags: ['1'] });
  const only2022 = appDir('ltsc2022 build\n');
  // The layer for every Windows image is qualified too: an unqualified one would be built for Linux (see the Windows tests below).
  const everyWindows = { platform: 'windows/amd64', sources: appDir() };
  const r = await push({ from: reg.ref('base/win:1'), to: reg.ref('app:1'), layers: [everyWindows, { platform: 'windows(10.0.20348.2340)/amd64', sources: only2022 }], ...fakeLibraryOptions(reg) });
  const top = JSON.parse(reg.manifest('app', '1')!.bytes.toString('utf8')) as { manifests: { digest: string; platform: { 'os.version': string } }[] };
  const layersOf = (v: string) => manifestLayers(reg, 'app', top.manifests.find((m) => m.platform['os.version'] === v)!.digest);
  const qualified = r.layers!.find((l) => l.name === 'layer 2')!.digest;
  assert.equal(layersOf('10.0.20348.2340').length, ltsc2022.layers.length + 2, 'base + the layer of every Windows image + the qualified layer');
  assert.ok(layersOf('10.0.20348.2340').includes(qualified));
  assert.equal(layersOf('10.0.17763.5576').length, ltsc2019.layers.length + 1, 'base + the layer of every Windows image only');
  assert.ok(!layersOf('10.0.17763.5576').includes(qualified));
  // Another build of the same OS: no image matches (no prefix or "compatible build" matching).
  const err = await push({ from: reg.ref('base/win:1'), to: reg.ref('app:2'), layers: [everyWindows, { platform: 'windows(10.0.20348.1)/amd64', sources: only2022 }], ...fakeLibraryOptions(reg) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_USAGE', String(err));
  assert.match(err!.message, /has no windows\(10\.0\.20348\.1\)\/amd64 platform \(it has windows\(10\.0\.17763\.5576\)\/amd64, windows\(10\.0\.20348\.2340\)\/amd64\)/);
  assert.equal(reg.manifest('app', '2'), undefined);
  // --platform windows/amd64 takes the first OS version, and says so.
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m), error: () => {} };
  await push({ from: reg.ref('base/win:1'), to: reg.ref('app:3'), platform: 'windows/amd64', app: appDir(), logger, ...fakeLibraryOptions(reg) });
  assert.equal(warnings.filter((w) => /windows\/amd64 matches images of 2 OS versions \(10\.0\.17763\.5576, 10\.0\.20348\.2340\); taking the first, 10\.0\.17763\.5576/.test(w)).length, 1, warnings.join('\n'));
});

/** The entry names of a gzipped layer blob, with each entry's MSWINDOWS.rawsd record when it has one. */
async function layerEntries(gz: Buffer): Promise<{ name: string; rawsd?: string }[]> {
  const out: { name: string; rawsd?: string }[] = [];
  const ex = extract();
  const done = (async () => {
    for await (const e of ex) {
      e.resume();
      out.push({ name: e.header.name, rawsd: (e.header.pax as Record<string, string> | undefined)?.['MSWINDOWS.rawsd'] });
    }
  })();
  ex.end(gunzipSync(gz));
  await done;
  return out;
}

test('push for a Windows image builds its layer the Windows way: under Files/ with a Hives/ directory and a descriptor on every entry; C:\\app is where it lands', async () => {
  const reg = await fake();
  reg.seedImage('base/win', { tags: ['ltsc'], platform: { os: 'windows', architecture: 'amd64' } });
  const dir = mkdtempSync(join(tmpdir(), 'regpush-win-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'App.dll'), 'MZ');
  const r = await push({ from: reg.ref('base/win:ltsc'), to: reg.ref('app:1'), platform: 'windows/amd64', app: [{ src: dir, dest: 'C:\\app' }], config: { workdir: 'C:\\app' }, ...fakeLibraryOptions(reg) });
  const layers = manifestLayers(reg, 'app', '1');
  const top = await layerEntries(reg.blob('app', layers.at(-1)!)!);
  assert.deepEqual(top.map((e) => e.name), ['Files/', 'Hives/', 'Files/app/', 'Files/app/App.dll']);
  assert.ok(top.every((e) => e.rawsd && Buffer.from(e.rawsd, 'base64').length === 52), 'a 52-byte descriptor on every entry');
  // /app and C:/app name the same place: the same layer (the history line keeps the spelling given).
  const again = await push({ from: reg.ref('base/win:ltsc'), to: reg.ref('app:2'), platform: 'windows/amd64', app: [{ src: dir, dest: 'C:/app' }], config: { workdir: 'C:\\app' }, ...fakeLibraryOptions(reg) });
  assert.equal(manifestLayers(reg, 'app', '2').at(-1), layers.at(-1));
  assert.notEqual(again.digest, r.digest);
});

test('push for a Windows image refuses a name Windows cannot hold (a device name, a trailing dot) before any blob or manifest is written, naming it', async () => {
  const reg = await fake();
  reg.seedImage('base/win', { tags: ['ltsc'], platform: { os: 'windows', architecture: 'amd64' } });
  const dir = mkdtempSync(join(tmpdir(), 'regpush-win-names-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'App.dll'), 'MZ');
  writeFileSync(join(dir, 'nul.txt'), 'x');
  const err = await push({ from: reg.ref('base/win:ltsc'), to: reg.ref('app:1'), platform: 'windows/amd64', app: [{ src: dir, dest: 'C:\\app' }], ...fakeLibraryOptions(reg) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_INPUT');
  assert.match(err!.message, /\/app\/nul\.txt: "nul\.txt" is not a valid name on Windows \(NUL is a device name there\)/);
  assert.equal(reg.manifest('app', '1'), undefined);
  assert.equal(reg.count({ method: 'PUT' }), 0, 'nothing committed');
  const dest = await push({ from: reg.ref('base/win:ltsc'), to: reg.ref('app:1'), platform: 'windows/amd64', app: [{ src: join(dir, 'App.dll'), dest: 'C:\\app.\\' }], ...fakeLibraryOptions(reg) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(dest?.code, 'E_USAGE', dest?.message);
  assert.match(dest!.message, /destination "C:\\app\.\\": "app\." is not a valid name on Windows \(it ends with a dot\)/);
  assert.equal(reg.count({ method: 'PUT' }), 0);
});

/** base/mixed:1, an index of a Linux and a Windows (ltsc2022) image. */
function seedMixedBase(reg: FakeRegistry): void {
  const linux = reg.seedImage('base/mixed', { platform: { os: 'linux', architecture: 'amd64' } });
  const windows = reg.seedImage('base/mixed', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2340' } });
  reg.seedIndex('base/mixed', [linux, windows], { tags: ['1'] });
}

test('push --platform over a base of several Windows OS versions picks as copy, inspect and digest pick (the first, with a warning naming the base and the spelling that picks one); a platform the base lacks is E_NOT_FOUND listing what it has', async () => {
  const reg = await fake();
  const ltsc2019 = reg.seedImage('base/win', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.5576' } });
  const ltsc2022 = reg.seedImage('base/win', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2340' } });
  const index = reg.seedIndex('base/win', [ltsc2019, ltsc2022], { tags: ['1'] });
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
  const opts = { from: reg.ref('base/win:1'), to: reg.ref('app:1'), app: appDir(), platform: 'windows/amd64', logger, ...fakeLibraryOptions(reg) };
  const r = await push(opts);
  assert.deepEqual(r.platforms.map((p) => p.platform), ['windows(10.0.17763.5576)/amd64']);
  assert.deepEqual(warnings.filter((w) => w.includes('OS versions')), [
    `base ${reg.host}/base/win@${index.digest}: windows/amd64 matches images of 2 OS versions (10.0.17763.5576, 10.0.20348.2340); taking the first, 10.0.17763.5576. A host runs only images of its own OS version: name one with windows(VERSION)/amd64, e.g. windows(10.0.20348.2340)/amd64`,
  ]);
  // Named exactly: that image, no warning.
  warnings.length = 0;
  await push({ ...opts, to: reg.ref('app:2'), platform: 'windows(10.0.20348.2340)/amd64' });
  assert.deepEqual(warnings.filter((w) => w.includes('OS versions')), []);
  // A platform the base lacks: the index's list, before anything is written.
  const err = await push({ ...opts, to: reg.ref('app:3'), platform: 'windows/arm64' }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_NOT_FOUND', String(err));
  assert.equal(err!.message, 'platform windows/arm64 is not in the index; available: windows(10.0.17763.5576)/amd64, windows(10.0.20348.2340)/amd64');
  assert.equal(reg.manifest('app', '3'), undefined, 'no manifest');
});

test('a layer built for Linux never goes into a Windows image: a single Windows base without --platform, a Windows path in a Linux image, --chown: E_USAGE, no manifest', async () => {
  const reg = await fake();
  reg.seedImage('base/win', { tags: ['ltsc'], platform: { os: 'windows', architecture: 'amd64' } });
  seedMixedBase(reg);
  const opts = { to: reg.ref('app:1'), app: appDir(), ...fakeLibraryOptions(reg) };
  const refused = async (o: Parameters<typeof push>[0], code: string, message: RegExp): Promise<void> => {
    const err = await push(o).then(() => undefined, (e: RegpushError) => e);
    assert.equal(err?.code, code, String(err));
    assert.match(err!.message, message);
    assert.equal(reg.manifest('app', '1'), undefined, 'no manifest');
  };
  await refused({ ...opts, from: reg.ref('base/win:ltsc') }, 'E_USAGE', /^the base is a windows\/amd64 image, and app \(\/app\) is built for Linux: give platform: "windows\/amd64"$/);
  await refused({ ...opts, from: reg.ref('base/mixed:1'), platform: 'all', app: [{ src: opts.app[0]!.src, dest: 'C:\\app' }] }, 'E_USAGE', /^push\(\): app \(.*:C:\\app\): with platform: "all", write the destination as \/…: the layer goes into the base's Linux and Windows images alike/);
  await refused({ ...opts, from: reg.ref('base/mixed:1'), platform: 'all', chown: { uid: 1000, gid: 1000 } }, 'E_USAGE', /^the base has a windows\(10\.0\.20348\.2340\)\/amd64 image: chown sets a Linux owner/);
  await refused({ ...opts, from: reg.ref('base/mixed:1'), app: [{ src: opts.app[0]!.src, dest: 'C:\\app' }] }, 'E_USAGE', /^push\(\): app \(.*\): destination "C:\\app" is a Windows path, and this layer goes into a Linux image \(for a Windows base, give platform: "windows\/amd64"\)$/);
  await refused({ ...opts, from: reg.ref('base/win:ltsc'), platform: 'windows/amd64', chown: { uid: 1000, gid: 1000 } }, 'E_USAGE', /^push\(\): chown sets a Linux owner, and a Windows image has none/);
  await refused({ ...opts, from: reg.ref('base/win:ltsc'), platform: 'windows/amd64', app: [{ src: opts.app[0]!.src, dest: 'D:\\app' }] }, 'E_USAGE', /is on drive D:, and a Windows layer holds only the system drive/);
  // Each OS pushed with its own --platform works.
  await push({ ...opts, from: reg.ref('base/mixed:1'), platform: 'windows/amd64' });
  assert.ok(reg.manifest('app', '1'));
});

test('a symlink among the sources of a Windows layer is E_INPUT naming it before any request', async () => {
  const reg = await fake();
  reg.seedImage('base/win', { tags: ['ltsc'], platform: { os: 'windows', architecture: 'amd64' } });
  const app = appDir();
  symlinkSync('server.js', join(app[0]!.src, 'link.js'));
  reg.clearLog();
  const err = await push({ from: reg.ref('base/win:ltsc'), to: reg.ref('app:1'), platform: 'windows/amd64', app, ...fakeLibraryOptions(reg) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_INPUT', String(err));
  assert.equal(err!.message, '/app/link.js is a symbolic link, which a Windows layer cannot hold (regpush writes no reparse points); replace it with the file or exclude it in .dockerignore');
  assert.deepEqual(reg.requests(), [], 'no request');
});

test('--platform all over a Linux and Windows index: each image gets the layer in its own format, an unchanged re-push writes nothing; over a Linux-only base the Windows variant is never built', async () => {
  const reg = await fake();
  seedMixedBase(reg);
  reg.seedImage('base/node', { tags: ['20'] });
  const app = appDir();
  const opts = { platform: 'all', app, config: { workdir: '/app' }, ...fakeLibraryOptions(reg) };
  const r = await push({ ...opts, from: reg.ref('base/mixed:1'), to: reg.ref('app:1') });
  const top = JSON.parse(reg.manifest('app', '1')!.bytes.toString('utf8')) as { manifests: { digest: string; platform: { os: string } }[] };
  const topLayerOf = async (os: string) => {
    const layers = manifestLayers(reg, 'app', top.manifests.find((m) => m.platform.os === os)!.digest);
    return layerEntries(reg.blob('app', layers.at(-1)!)!);
  };
  const onLinux = await topLayerOf('linux');
  assert.deepEqual(onLinux.map((e) => e.name), ['app/server.js']);
  assert.ok(onLinux.every((e) => e.rawsd === undefined));
  const onWindows = await topLayerOf('windows');
  assert.deepEqual(onWindows.map((e) => e.name), ['Files/', 'Hives/', 'Files/app/', 'Files/app/server.js']);
  assert.ok(onWindows.every((e) => e.rawsd));
  assert.deepEqual(r.layers!.map((l) => l.name), ['app layer', 'app layer (Windows)']);
  // Unchanged: the same digest, nothing written.
  reg.clearLog();
  const again = await push({ ...opts, from: reg.ref('base/mixed:1'), to: reg.ref('app:1') });
  assert.equal(again.digest, r.digest);
  // (The upload session opened beside the tag's GET, the base being in this registry, is cancelled: a POST and a DELETE.)
  assert.deepEqual(reg.requests().filter((q) => q.method === 'PUT' || q.method === 'PATCH'), [], 'nothing written');
  // A Linux-only base: one layer, and the Windows variant's blob is nowhere.
  const winDigest = (await hashLayer({ sources: app, windows: true })).digest;
  const lin = await push({ ...opts, from: reg.ref('base/node:20'), to: reg.ref('lin:1'), chown: { uid: 1000, gid: 1000 } });
  assert.deepEqual(lin.layers!.map((l) => l.name), ['app layer']);
  assert.equal(reg.blob('lin', winDigest), undefined);
  assert.equal(reg.blob('app', winDigest) !== undefined, true, 'the Windows variant went where a Windows image needed it');
  // A symlink suits a Linux layer only: over the Linux-only base the Windows variant is not even
  // hashed, so a re-run is found unchanged; over the two-OS base it is E_INPUT once the base is
  // read: no base blob moved, no layer built or sent, nothing written.
  const linked = appDir('linked\n');
  symlinkSync('server.js', join(linked[0]!.src, 'link.js'));
  const withLink = { ...opts, app: linked, from: reg.ref('base/node:20'), to: reg.ref('lin:2') };
  await push(withLink);
  reg.clearLog();
  await push(withLink);
  assert.deepEqual(reg.requests().filter((q) => q.method === 'PUT' || q.method === 'PATCH'), [], 'the re-run wrote nothing');
  reg.clearLog();
  const err = await push({ ...withLink, from: reg.ref('base/mixed:1'), to: reg.ref('other:3') }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_INPUT', String(err));
  assert.match(err!.message, /^\/app\/link\.js is a symbolic link, which a Windows layer cannot hold/);
  assert.equal(reg.manifest('other', '3'), undefined);
  const sent = reg.requests().filter((q) => q.method === 'PUT' || q.method === 'PATCH' || (q.method === 'POST' && 'mount' in q.query));
  assert.deepEqual(sent.map((q) => `${q.method} ${q.path}`), [], 'no blob mounted or sent');
  assert.equal(reg.blob('other', (await hashLayer({ sources: linked })).digest), undefined, "the Linux variant's layer was not sent either");
});

test('--platform all, a destination with a backslash inside (/app\\sub: a directory of that name on Linux, C:\\app\\sub on Windows): the Windows variant\'s symlink is named as that variant lays it out', async () => {
  const reg = await fake();
  seedMixedBase(reg);
  const app = appDir();
  symlinkSync('server.js', join(app[0]!.src, 'link.js'));
  // The Linux variant's walk (the one the checks share) names the link /app\sub/link.js; the
  // Windows variant's own layout is what its refusal names.
  const err = await push({ from: reg.ref('base/mixed:1'), to: reg.ref('app:1'), platform: 'all', app: [{ src: app[0]!.src, dest: '/app\\sub' }], ...fakeLibraryOptions(reg) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_INPUT', String(err));
  assert.match(err!.message, /^\/app\/sub\/link\.js is a symbolic link, which a Windows layer cannot hold/);
  assert.equal(reg.manifest('app', '1'), undefined);
});

test('--platform all: a name Windows cannot hold is E_INPUT once the base shows a Windows image gets the layer, before any blob moves; over a Linux-only base it is pushed', async () => {
  const reg = await fake();
  seedMixedBase(reg);
  reg.seedImage('base/node', { tags: ['20'] });
  const app = appDir();
  writeFileSync(join(app[0]!.src, 'nul.txt'), 'x');
  const opts = { platform: 'all', app, ...fakeLibraryOptions(reg) };
  reg.clearLog();
  const err = await push({ ...opts, from: reg.ref('base/mixed:1'), to: reg.ref('app:1') }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_INPUT', String(err));
  assert.equal(err!.message, '/app/nul.txt: "nul.txt" is not a valid name on Windows (NUL is a device name there); rename it or exclude it in .dockerignore');
  const sent = reg.requests().filter((q) => q.method === 'PUT' || q.method === 'PATCH' || (q.method === 'POST' && 'mount' in q.query));
  assert.deepEqual(sent.map((q) => `${q.method} ${q.path}`), [], 'no blob mounted or sent');
  assert.equal(reg.manifest('app', '1'), undefined);
  // Linux takes the name: over a Linux-only base the push goes through.
  await push({ ...opts, from: reg.ref('base/node:20'), to: reg.ref('lin:1') });
  assert.ok(reg.manifest('lin', '1'));
});

test('a push aborted while its largest base layer, started early, waits for the source: every session cancelled before push() reports', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'], layers: [Buffer.alloc(300_000, 7), Buffer.alloc(5000, 8)] });
  const ac = new AbortController();
  src.fault({ kind: 'blob', method: 'GET', when: (r) => r.headers.range === undefined && r.digest !== undefined }, { kind: 'hold', until: new Promise(() => undefined) });
  // Aborted once the early start went out and the client has read a POST's answer after it.
  let early = false;
  const logger = {
    info() {},
    warn() {},
    debug: (m: string) => {
      if (/sent with the plan's HEAD/.test(m)) early = true;
      else if (early && /^http POST .*uploads\/ → 202/.test(m)) void src.seen({ kind: 'blob', method: 'GET' }).then(() => ac.abort());
    },
  };
  const err = await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: appDir(), signal: ac.signal, logger, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: unknown) => e as RegpushError);
  assert.equal(err?.code, 'E_ABORTED', String(err));
  assert.equal(dst.openUploads(), 0, JSON.stringify(dst.requests({ kind: 'upload' })));
  assert.equal(dst.manifest('app', '1'), undefined);
});

test('--to X:1 --to X:2 (one repository named twice): one target with both tags, each blob uploaded there once', async () => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base/os', { tags: ['1'], layers: ['base layer bytes'] });
  const r = await push({ from: src.ref('base/os:1'), to: [dst.ref('app:1'), dst.ref('app:2'), dst.ref('app:1')], app: appDir(), ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(r.targets?.map((t) => [t.ok, t.tags]), [[true, ['1', '2']]], 'one target, listed once (an array `to` always gives the list)');
  assert.deepEqual(r.tags, ['1', '2']);
  assert.equal(dst.manifest('app', '1')?.digest, r.digest);
  assert.equal(dst.manifest('app', '2')?.digest, r.digest);
  const manifest = JSON.parse(dst.manifest('app', '1')!.bytes.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  for (const b of [manifest.config, ...manifest.layers]) {
    const stored = dst.uploadsFor(b.digest).filter((u) => (u.method === 'PUT' || u.method === 'POST') && u.status === 201);
    assert.equal(stored.length, 1, `${b.digest}${b.digest === base.layers[0]!.digest ? ' (base layer)' : ''} stored once, not once per --to`);
  }
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 2, 'one PUT per tag');
  assert.equal(dst.openUploads(), 0);
});

test('a push whose every target fails ends with the first target\'s own error (as one target alone does), not a layer "changed while it was being pushed"', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  for (const reg of [a, b]) reg.fault({ kind: 'upload', method: 'POST' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  for (const to of [[a.ref('app:1')], [a.ref('app:1'), b.ref('app:1')]]) {
    let caught: RegpushError | undefined;
    await push({ from: src.ref('base/node:20'), to, app: appDir(), retries: 0, ...fakeLibraryOptions(src, a, b) }).catch((e: RegpushError) => (caught = e));
    assert.equal(caught?.code, 'E_DENIED', `${to.length} target(s): ${caught?.code} ${caught?.message}`);
    assert.equal(a.manifest('app', '1'), undefined);
  }
});

test('push --from scratch --format docker: a Docker v2 image (the scratch base takes the format asked for)', async () => {
  const dst = await fake();
  const r = await push({ from: 'scratch', to: dst.ref('app:1'), app: appDir(), format: 'docker', ...fakeLibraryOptions(dst) });
  const m = dst.manifest('app', '1')!;
  assert.equal(m.digest, r.digest);
  assert.equal(m.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  const doc = JSON.parse(m.bytes.toString('utf8')) as { config: { mediaType: string }; layers: { mediaType: string }[] };
  assert.equal(doc.config.mediaType, 'application/vnd.docker.container.image.v1+json');
  assert.deepEqual(doc.layers.map((l) => l.mediaType), ['application/vnd.docker.image.rootfs.diff.tar.gzip']);
});

test('two targets, the layer reused from one target\'s tag that an earlier push compressed otherwise: the other target gets a copy of that very blob (not a re-production that would not match it); a tag holding it compressed differently again gets it too', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir('x'.repeat(20_000));
  const first = await push({ from: src.ref('base/node:20'), to: a.ref('app:1'), app, gzipLevel: 1, ...fakeLibraryOptions(src, a, b) });
  // B's tag: the same files, compressed at the default level.
  const other = await push({ from: src.ref('base/node:20'), to: b.ref('app:1'), app, ...fakeLibraryOptions(src, a, b) });
  assert.notEqual(other.layer!.digest, first.layer!.digest, 'the two levels make two blobs');
  const c = await fake();
  const info: string[] = [];
  const r = await push({ from: src.ref('base/node:20'), to: [a.ref('app:1'), b.ref('app:1'), c.ref('app:1')], app, retries: 0, logger: { ...silentLogger, info: (m: string) => info.push(m) }, ...fakeLibraryOptions(src, a, b, c) });
  assert.ok(r.targets!.every((t) => t.ok), JSON.stringify(r.targets!.map((t) => t.error)));
  // B's tag held this very image before; the log says why it is written again, and claims nothing else.
  assert.ok(
    info.includes(`${b.host}/app: app layer holds the same files as ${a.host}/app compressed otherwise (${other.layer!.digest}, there ${first.layer!.digest}); every target gets one blob per layer, so that one goes here and the tag is written again`),
    info.join('\n'),
  );
  assert.ok(!info.some((m) => /nothing to build or send/.test(m)), info.join('\n'));
  for (const reg of [a, b, c]) {
    assert.deepEqual(manifestLayers(reg, 'app', '1').at(-1), first.layer!.digest, reg.host);
    assert.ok(reg.blob('app', first.layer!.digest)?.equals(a.blob('app', first.layer!.digest)!), `${reg.host} holds the very bytes`);
  }
});

test('two targets, the layer reused from a tag at a target that is set aside first: the other target gets the layer built afresh, not read from the failed one', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir('y'.repeat(20_000));
  const first = await push({ from: src.ref('base/node:20'), to: a.ref('app:1'), app, gzipLevel: 1, ...fakeLibraryOptions(src, a, b) });
  // A's tag holds the layer (compressed at level 1); A then fails every upload, and the layer's
  // blob can no longer be read there either.
  a.fault({ kind: 'upload' }, { kind: 'status', status: 500, retryAfter: 0 });
  a.fault({ kind: 'blob', method: 'GET', digest: first.layer!.digest }, { kind: 'status', status: 500, retryAfter: 0 });
  let caught: unknown;
  // A config change: the tag must not hold the very image, so the layer is reused by diffID.
  await push({ from: src.ref('base/node:20'), to: [a.ref('app:1'), b.ref('app:1')], app, config: { env: ['X=2'] }, retries: 0, ...fakeLibraryOptions(src, a, b) }).catch((e: unknown) => (caught = e));
  assert.equal((caught as RegpushError)?.code, 'E_PARTIAL', String(caught));
  const result = (caught as RegpushError).details.result as PushResult;
  assert.deepEqual(result.targets!.map((t) => t.ok), [false, true], JSON.stringify(result.targets!.map((t) => t.error)));
  assert.equal(a.count({ kind: 'blob', method: 'GET', digest: first.layer!.digest }), 0, 'nothing read from the target set aside');
  const top = manifestLayers(b, 'app', '1').at(-1)!;
  assert.notEqual(top, first.layer!.digest, 'built afresh (level 6), not the failed target\'s level-1 blob');
  assert.ok(b.blob('app', top), 'the layer B names is there');
});

test('a base with ONBUILD instructions: one warning names them (regpush runs none), and the new image leaves them out, as docker build does', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['onbuild'], config: { OnBuild: ['COPY . /usr/src/app', 'RUN npm install'], Cmd: ['node'] } });
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m) };
  const r = await push({ from: src.ref('base/node:onbuild'), to: dst.ref('app:1'), app: appDir(), logger, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(warnings, ['the base has ONBUILD instructions, which regpush does not run ("COPY . /usr/src/app", "RUN npm install"); they are left out of the new image, as docker build leaves them out once run']);
  const manifest = JSON.parse(dst.manifest('app', '1')!.bytes.toString('utf8')) as { config: { digest: string } };
  const config = JSON.parse(dst.blob('app', manifest.config.digest)!.toString('utf8')) as { config: Record<string, unknown> };
  assert.equal(config.config.OnBuild, null);
  assert.deepEqual(config.config.Cmd, ['node'], 'the rest of the base config kept');
  assert.equal(dst.manifest('app', '1')?.digest, r.digest);
});

test('push to two repositories of one registry: each target\'s report gives its own layer actions (the second\'s layer mounted from the first)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const r = await push({ from: src.ref('base/node:20'), to: [dst.ref('x:1'), dst.ref('y:1')], app: appDir(), ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(r.layers!.map((l) => l.action), ['uploaded']);
  assert.deepEqual(r.targets!.map((t) => t.layers!.map((l) => l.action)), [['uploaded'], ['mounted']]);
});

/**
 * The progress events per key (a layer's key, a blob's digest), one token per event (a run of
 * bytes is one `bytes`): what a library caller passing `events` sees.
 */
function layerEventLog(): { events: NonNullable<PushOptions['events']>; of(key: string): string[] } {
  const log = new Map<string, string[]>();
  const add = (key: string, token: string): void => {
    const l = log.get(key) ?? [];
    if (token !== 'bytes' || l.at(-1) !== 'bytes') l.push(token);
    log.set(key, l);
  };
  return {
    events: {
      start: (d, action, size, target) => add(d, `start ${action} ${size ?? '?'} ${target}`),
      bytes: (d) => add(d, 'bytes'),
      end: (r, target) => add(r.digest, `end ${r.action} ${r.size} ${r.mediaType} ${target}`),
    },
    of: (key) => log.get(key) ?? [],
  };
}

test('each new layer\'s events at each target: start (its size once it is known), bytes, end with the media type of the manifest written (Docker v2 over a Docker base)', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'], format: 'docker' });
  const ev = layerEventLog();
  const r = await push({ from: src.ref('base/node:20'), to: [a.ref('app:1'), b.ref('app:1')], layers: [{ sources: appDir('dependencies\n') }], app: appDir(), events: ev.events, ...fakeLibraryOptions(src, a, b) });
  const dockerLayer = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  assert.deepEqual(JSON.parse(a.manifest('app', '1')!.bytes.toString('utf8')).layers.at(-1).mediaType, dockerLayer);
  for (const [key, layer] of [['layer:1', r.layers![0]!], ['layer', r.layers![1]!]] as const) {
    assert.deepEqual(ev.of(key), [
      // The dependency layer is hashed (with no target: its one pass serves both) and asked for
      // before it is sent, so its size is known at each target; the app layer is built while it
      // goes: its size is not known yet.
      ...(key === 'layer:1' ? ['start uploaded ? undefined', 'bytes'] : []),
      `start uploaded ${key === 'layer:1' ? layer.size : '?'} ${a.host}/app`,
      'bytes',
      `end uploaded ${layer.size} ${dockerLayer} ${a.host}/app`,
      `start uploaded ${layer.size} ${b.host}/app`, // made again, its size known
      'bytes',
      `end uploaded ${layer.size} ${dockerLayer} ${b.host}/app`,
    ], key);
  }
});

test('push --format docker from scratch: the layer\'s end names the Docker v2 layer type; a target that has the layer gets start and end as skipped', async () => {
  const [a, b] = [await fake(), await fake()];
  const app = appDir('same files\n');
  const first = await push({ from: 'scratch', to: a.ref('app:1'), app, format: 'docker', ...fakeLibraryOptions(a, b) });
  const ev = layerEventLog();
  // A config change: the tag does not hold the very image, and the layer is at A already.
  await push({ from: 'scratch', to: [b.ref('app:1'), a.ref('app:2')], app, format: 'docker', config: { env: ['X=1'] }, events: ev.events, ...fakeLibraryOptions(a, b) });
  const dockerLayer = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  assert.deepEqual(ev.of('layer'), [
    `start uploaded ? ${b.host}/app`,
    'bytes',
    `end uploaded ${first.layer!.size} ${dockerLayer} ${b.host}/app`,
    `start skipped ${first.layer!.size} ${a.host}/app`,
    `end skipped ${first.layer!.size} ${dockerLayer} ${a.host}/app`,
  ]);
});

test('layer events where the layer is mounted (same registry) or copied from a tag that holds it: start and end under the layer\'s key, a copy\'s bytes too (none under its digest)', async () => {
  const [src, dst, c] = [await fake(), await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir('z'.repeat(5000));
  const ev = layerEventLog();
  const r = await push({ from: src.ref('base/node:20'), to: [dst.ref('x:1'), dst.ref('y:1')], app, events: ev.events, ...fakeLibraryOptions(src, dst, c) });
  const ociLayer = 'application/vnd.oci.image.layer.v1.tar+gzip';
  const size = r.layer!.size;
  assert.deepEqual(ev.of('layer'), [`start uploaded ? ${dst.host}/x`, 'bytes', `end uploaded ${size} ${ociLayer} ${dst.host}/x`, `start mounted ${size} ${dst.host}/y`, `end mounted ${size} ${ociLayer} ${dst.host}/y`]);
  // x's tag holds the layer (compressed at level 1 this time); a config change, so the tag is not the very image.
  const first = await push({ from: src.ref('base/node:20'), to: dst.ref('x:1'), app, gzipLevel: 1, ...fakeLibraryOptions(src, dst, c) });
  const copied = layerEventLog();
  await push({ from: src.ref('base/node:20'), to: [dst.ref('x:1'), c.ref('app:1')], app, config: { env: ['X=1'] }, events: copied.events, ...fakeLibraryOptions(src, dst, c) });
  assert.ok(c.hasBlob('app', first.layer!.digest), 'c got the tag\'s blob');
  assert.deepEqual(copied.of('layer'), [`start uploaded ${first.layer!.size} ${c.host}/app`, 'bytes', `end uploaded ${first.layer!.size} ${ociLayer} ${c.host}/app`]);
  assert.deepEqual(copied.of(first.layer!.digest), [], 'nothing under the layer\'s digest');
});

test('two pushes with one logger: each says its layer lines (the gzip jobs cut to the thread pool) once; nothing is kept between them', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
  const opts = { from: src.ref('base/node:20'), app: appDir(), gzipJobs: 12, ...fakeLibraryOptions(src, dst), logger };
  // Two targets: the layer is built for each (and hashed), and the line is said once all the same.
  await push({ ...opts, to: [dst.ref('app:1'), dst.ref('other:1')], env: { ...opts.env, UV_THREADPOOL_SIZE: '3' } });
  await push({ ...opts, to: dst.ref('app:2'), env: { ...opts.env, UV_THREADPOOL_SIZE: '3' } });
  const cut = warnings.filter((w) => w.startsWith('layer: gzipJobs: 12 asks for 12 gzip lanes'));
  assert.equal(cut.length, 2, warnings.join('\n'));
  // Worded for a library caller: its option, and the `env` push() reads the pool size from.
  assert.ok(cut[0]!.endsWith('(start the process with UV_THREADPOOL_SIZE=13 and pass it in env for more)'), cut[0]);
});

test('a fifo among the app\'s files is warned about once per push, though the push walks the sources several times', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir();
  execFileSync('mkfifo', [join(app[0]!.src, 'pipe')]);
  const opts = { from: src.ref('base/node:20'), app, ...fakeLibraryOptions(src, dst) };
  const skipped = (ws: string[]) => ws.filter((w) => w.includes('pipe'));
  // Cold (content check, build), then warm with the tag present (content check, diffID pass).
  for (const which of ['cold', 'warm']) {
    const warnings: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m) };
    await push({ ...opts, to: dst.ref('app:1'), logger });
    assert.deepEqual(skipped(warnings), [`layer: skipping ${join(app[0]!.src, 'pipe')}: not a regular file, directory or symlink`], which);
  }
});

test('push --dry-run to two targets, only the second holding the layer (compressed otherwise): the plan names the blob the push writes, reused at the second, planned at the first', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir('held by the second target\n');
  const held = await push({ from: src.ref('base/node:20'), to: b.ref('app:1'), app, gzipLevel: 1, ...fakeLibraryOptions(src, b) });
  const heldDigest = held.layer!.digest;
  const opts = { from: src.ref('base/node:20'), to: [a.ref('app:1'), b.ref('app:1')], app, gzipLevel: 9, ...fakeLibraryOptions(src, a, b) };
  const plan = await push({ ...opts, dryRun: true });
  const fresh = (await hashLayer({ sources: app, gzipLevel: 9 })).digest;
  assert.notEqual(fresh, heldDigest, 'the fixture: level 9 compresses these files otherwise than level 1');
  assert.equal(plan.layer?.digest, heldDigest, 'the plan names the blob the second target lends');
  assert.deepEqual(plan.targets?.map((t) => t.layers?.map((l) => [l.digest, l.action])), [[[heldDigest, 'planned']], [[heldDigest, 'reused']]]);
  const done = await push(opts);
  assert.equal(done.layer?.digest, plan.layer?.digest, 'the push wrote what the plan said');
  assert.deepEqual(done.targets?.map((t) => t.layers?.map((l) => l.digest)), [[heldDigest], [heldDigest]]);
});
