// Builds beyond one layer, against real registries and checked with skopeo, umoci and crun:
// --layer (each its own layer) with per-layer reuse on re-push, --format oci|docker, --annotation,
// per-platform layers, healthcheck/stop signal and the exec-form checks; and a one-file change in
// the base's registry whose code layer is built before the tag answers (its early session kept).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  exec, imageRef, loadState, logMark, registryLogSince, runCli, runImage, runtimeUnavailable,
  skopeoCopyToLayout, skopeoInspect, tempDir, umociRawUnpack, umociUnpack,
} from './harness.js';
import { assertValidReport } from './report-schema.js';
import { startFaultProxy } from '../fixtures/fault-proxy.js';
import { assertNoSessionLeft, assertValidImage, requestsFor, sessionsOpened } from './fault-helpers.js';

const state = loadState();
const R = state.registries;
const run = `l${Date.now().toString(36)}`;

const OCI = /^application\/vnd\.oci\./;
const DOCKER = /^application\/vnd\.docker\./;

/** Deterministic, incompressible bytes (so the layer is as big as the tree). */
function bytes(seed: string, n: number): Buffer {
  const out = Buffer.alloc(n);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < n; off += block.length) {
    block.copy(out, off);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** A ~10 MB dependency tree: 40 packages of 256 KiB each. */
function makeDeps(): string {
  const dir = tempDir('regpush-deps-');
  for (let i = 0; i < 40; i++) {
    mkdirSync(join(dir, `pkg${i}`));
    writeFileSync(join(dir, `pkg${i}`, 'index.js'), bytes(`dep${i}`, 256 * 1024));
  }
  return dir;
}

/** A ~200 KB app: a script that prints its version file, and some data. */
function makeCode(version: string): string {
  const dir = tempDir('regpush-code-');
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\ncat /srv/app/version.txt\nls /srv/deps | wc -l\n', { mode: 0o755 });
  writeFileSync(join(dir, 'version.txt'), `${version}\n`);
  writeFileSync(join(dir, 'data.bin'), bytes('code', 200 * 1024));
  return dir;
}

/** One new layer of a push's --json report, as these tests read it. */
interface LayerLine {
  name: string;
  action: string;
  digest: string;
  diffId: string;
  size: number;
  method?: string;
  platform?: string;
}

/**
 * Runs `regpush push` with `args` (which hold --json) and reads its report: the push exits 0, the
 * report is valid by the published schema (`label` names it in a failure), and `actions` are its
 * layers' actions, bottom to top.
 */
async function pushReport(args: string[], label: string, opts?: Parameters<typeof runCli>[1]): Promise<{ report: { digest: string; layer: LayerLine; layers: LayerLine[] }; actions: string[]; stderr: string }> {
  const r = await runCli(args, opts);
  assert.equal(r.code, 0, `${label}: ${r.stderr}`);
  const report = JSON.parse(r.stdout);
  assertValidReport(report, label);
  return { report, actions: report.layers.map((l: LayerLine) => l.action), stderr: r.stderr };
}

/** A directory with one file saying `text`. */
function oneFile(name: string, text: string): string {
  const dir = tempDir('regpush-one-');
  writeFileSync(join(dir, name), text);
  return dir;
}

function assertFails(r: { code: number; stdout: string; stderr: string }, exit: number, code: string, pattern: RegExp): void {
  assert.equal(r.code, exit, r.stderr);
  assert.equal(r.stdout, '');
  const last = r.stderr.trim().split('\n').at(-1)!;
  assert.match(last, new RegExp(`\\[${code}\\]$`));
  assert.match(last, pattern);
}

/** The child manifest of `arch` in the index at `ref` (skopeo's --raw ignores --override-arch). */
async function childOf(ref: string, arch: string): Promise<{ ref: string; json: any }> {
  const idx = (await skopeoInspect(ref, { raw: true })).json;
  const d = idx.manifests.find((m: { platform?: { architecture: string } }) => m.platform?.architecture === arch);
  assert.ok(d, `${ref} has a ${arch} child`);
  const child = `${ref.slice(0, ref.lastIndexOf(':'))}@${d.digest}`;
  return { ref: child, json: (await skopeoInspect(child, { raw: true })).json };
}

async function tagAbsent(host: string, repo: string, tag: string): Promise<void> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
  assert.equal(res.status, 404, `${repo}:${tag} must not exist`);
}

test('two --layers: each its own layer in order; after a one-file change the re-push sends one layer blob + config + manifest and reuses the dependency layer', async (t) => {
  const deps = makeDeps();
  const code = makeCode('v1');
  const to = imageRef(R.anon2, `${run}/split:1`);
  const args = (dir: string) => ['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', to,
    '--layer', `${deps}:/srv/deps`, '--layer', `${dir}:/srv/app`, '--entrypoint', '/srv/app/run.sh'];
  const { report: a } = await pushReport(args(code), 'split first push');
  assert.deepEqual(a.layers.map((l) => [l.name, l.action]), [['layer 1', 'uploaded'], ['layer 2', 'uploaded']]);
  assert.ok(a.layers[0].size > 10_000_000, `dependency layer is ~10 MB (${a.layers[0].size})`);
  assert.ok(a.layers[1].size < 400_000, `app layer is small (${a.layers[1].size})`);
  assert.equal(a.layer.digest, a.layers[1].digest, 'the old `layer` field is the top layer');
  const base = state.images.anon['base/busybox:oci'];
  const m1 = (await skopeoInspect(to, { raw: true })).json;
  assert.deepEqual(m1.layers.map((l: { digest: string }) => l.digest), [...base.layers!, a.layers[0].digest, a.layers[1].digest]);
  const cfg1 = (await skopeoInspect(to, { raw: true, config: true })).json;
  assert.deepEqual(cfg1.rootfs.diff_ids.slice(-2), [a.layers[0].diffId, a.layers[1].diffId]);
  assert.deepEqual(cfg1.history.slice(-2).map((h: { created_by: string }) => h.created_by), ['regpush: layer /srv/deps', 'regpush: layer /srv/app']);

  // One file of the app changes.
  writeFileSync(join(code, 'version.txt'), 'v2\n');
  const mark = logMark('anon2');
  const { report: b, actions } = await pushReport(args(code), 'split re-push');
  assert.deepEqual(actions, ['reused', 'uploaded']);
  assert.equal(b.layers[0].digest, a.layers[0].digest, 'dependency layer reused as is');
  assert.equal(b.layers[0].method, 'reused');
  assert.notEqual(b.layers[1].digest, a.layers[1].digest);
  const reqs = await registryLogSince('anon2', mark);
  const writes = reqs.filter((q) => ['POST', 'PATCH', 'PUT'].includes(q.method));
  const closedBlobs = writes.filter((q) => q.method === 'PUT' && q.uri.includes('/blobs/uploads/'));
  assert.equal(closedBlobs.length, 2, `one layer + the config: ${writes.map((q) => `${q.method} ${q.uri}`).join('\n')}`);
  assert.ok(closedBlobs.some((q) => q.uri.includes(b.layers[1].digest.replace(':', '%3A')) || q.uri.includes(b.layers[1].digest)), 'the new app layer was uploaded');
  assert.ok(!writes.some((q) => q.uri.includes(a.layers[0].digest)), 'the dependency layer was not sent');
  assert.ok(!reqs.some((q) => q.uri.includes(a.layers[0].digest)), 'nor asked about: the tag\'s image names it');
  assert.equal(writes.filter((q) => q.method === 'PUT' && q.uri.includes('/manifests/')).length, 1, `one manifest: ${writes.map((q) => `${q.method} ${q.uri} ${q.status}`).join('\n')}`);
  const patched = writes.filter((q) => q.method === 'PATCH').length;
  assert.ok(patched <= 1, `at most the app layer streamed (${patched} PATCH)`);
  // Less than the dependency layer went out at all.
  assert.ok(b.layers[1].size < 400_000);

  const bundle = await umociUnpack(await skopeoCopyToLayout(to));
  assert.equal(readFileSync(join(bundle, 'rootfs', 'srv', 'app', 'version.txt'), 'utf8'), 'v2\n');
  assert.equal(readFileSync(join(bundle, 'rootfs', 'srv', 'deps', 'pkg7', 'index.js')).length, 256 * 1024);
  const why = await runtimeUnavailable();
  if (why) return t.skip(`cannot run images here: ${why}`);
  const ran = await runImage(bundle);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout.replace(/ +/g, ''), 'v2\n40\n');
});

test('a new tag per deploy (--to app:COMMIT --tag latest, SOURCE_DATE_EPOCH the commit\'s time): the dependency layer is reused from latest, only the code layer sent; the config dated by each commit; both tags name the image, as skopeo and umoci read it', async () => {
  const deps = makeDeps();
  const code = makeCode('v1');
  const repo = `${run}/percommit`;
  const args = (commit: string) => ['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', imageRef(R.anon2, `${repo}:${commit}`), '--tag', 'latest',
    '--layer', `${deps}:/srv/deps`, '--layer', `${code}:/srv/app`, '--entrypoint', '/srv/app/run.sh'];
  // As CI sets it (git log -1 --format=%ct): another value per commit. It dates the config only,
  // so the dependency layer stays the same blob (it dated every entry, and the layer was re-sent).
  const { report: a } = await pushReport(args('c1'), 'per-commit first push', { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  writeFileSync(join(code, 'version.txt'), 'v2\n');
  const mark = logMark('anon2');
  const second = await pushReport(args('c2'), 'per-commit push', { env: { SOURCE_DATE_EPOCH: '1700000100' } });
  const b = second.report;
  assert.deepEqual(second.actions, ['reused', 'uploaded']);
  assert.equal(b.layers[0].digest, a.layers[0].digest);
  assert.match(second.stderr, /percommit:c2 is a new tag; its layers are matched against :latest/);
  const log = await registryLogSince('anon2', mark);
  const writes = log.filter((q) => ['POST', 'PATCH', 'PUT'].includes(q.method));
  assert.ok(!writes.some((q) => q.uri.includes(a.layers[0].digest)), 'the dependency layer was not sent');
  // One GET of latest gave both the layers to match against and the digest the tag's write compares with (no HEAD besides).
  assert.deepEqual(log.filter((q) => /\/manifests\/latest(\?|$)/.test(q.uri)).map((q) => q.method), ['GET', 'PUT'], 'latest asked once, then moved');
  const latest = await skopeoInspect(imageRef(R.anon2, `${repo}:latest`), { raw: true });
  const c2 = await skopeoInspect(imageRef(R.anon2, `${repo}:c2`), { raw: true });
  assert.equal(c2.digest, b.digest);
  assert.equal(latest.digest, b.digest);
  assert.equal((await skopeoInspect(imageRef(R.anon2, `${repo}:c1`), { raw: true })).digest, a.digest, 'the previous commit\'s tag untouched');
  assert.doesNotMatch(second.stderr, /not reused/);
  for (const [tag, when] of [['c1', '2023-11-14T22:13:20Z'], ['c2', '2023-11-14T22:15:00Z']]) {
    const cfg = (await skopeoInspect(imageRef(R.anon2, `${repo}:${tag}`), { config: true })).json;
    assert.equal(cfg.created, when, tag);
    assert.deepEqual(cfg.history.slice(-2).map((h: { created: string; comment?: string }) => [h.created, h.comment]), [[when, undefined], [when, undefined]], tag);
  }
  const bundle = await umociUnpack(await skopeoCopyToLayout(imageRef(R.anon2, `${repo}:c2`)));
  assert.equal(readFileSync(join(bundle, 'rootfs', 'srv', 'app', 'version.txt'), 'utf8'), 'v2\n');
  assert.equal(readFileSync(join(bundle, 'rootfs', 'srv', 'deps', 'pkg7', 'index.js')).length, 256 * 1024);
});

/** Requests since `mark` that name `digest` (its `:` may be written %3A), as `METHOD status`. */
function naming(reqs: { method: string; uri: string; status: number }[], digest: string): string[] {
  return reqs.filter((q) => q.uri.includes(digest) || q.uri.includes(digest.replace(':', '%3A'))).map((q) => `${q.method} ${q.status}`);
}

test('two branches deploying to one tag in turn: the dependency layer the repository holds is asked for (one HEAD) and not sent again; a new one is asked for, then sent as one PUT', async () => {
  const depsA = makeDeps();
  const depsB = makeDeps();
  writeFileSync(join(depsB, 'pkg3', 'index.js'), bytes('branch-b', 256 * 1024)); // branch B bumped one package
  const code = makeCode('v1');
  const to = imageRef(R.anon2, `${run}/branches:staging`);
  // The base in another registry: no build ahead of the dependency layer, its digest comes from a hash pass.
  const args = (deps: string) => ['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', to,
    '--layer', `${deps}:/srv/deps`, '--layer', `${code}:/srv/app`, '--entrypoint', '/srv/app/run.sh'];
  const { report: a } = await pushReport(args(depsA), 'branch A');

  // Branch B deploys to the same tag: its dependency layer is new to the repository.
  writeFileSync(join(code, 'version.txt'), 'b\n');
  let mark = logMark('anon2');
  const b1 = await pushReport(args(depsB), 'branch B');
  const b = b1.report;
  assert.deepEqual(b1.actions, ['uploaded', 'uploaded']);
  assert.notEqual(b.layers[0].digest, a.layers[0].digest);
  let reqs = await registryLogSince('anon2', mark);
  // What a new dependency layer costs: one HEAD more; its bytes go as one PUT with the digest, no PATCH.
  assert.deepEqual(naming(reqs, b.layers[0].digest), ['HEAD 404', 'PUT 201'], reqs.map((q) => `${q.method} ${q.uri} ${q.status}`).join('\n'));

  // Branch A again, with a code change: :staging names B's image, the repository still holds A's dependencies.
  writeFileSync(join(code, 'version.txt'), 'a2\n');
  mark = logMark('anon2');
  const a2 = await pushReport(args(depsA), 'branch A again');
  const c = a2.report;
  assert.deepEqual(a2.actions, ['skipped', 'uploaded']);
  assert.equal(c.layers[0].digest, a.layers[0].digest, 'the same blob as the first deploy');
  reqs = await registryLogSince('anon2', mark);
  assert.deepEqual(naming(reqs, a.layers[0].digest), ['HEAD 200'], 'asked for once, not sent');
  assert.equal(reqs.filter((q) => q.method === 'PATCH').length, 0, 'nothing streamed: the code layer and the config go as one PUT each');
  const blobPuts = reqs.filter((q) => q.method === 'PUT' && q.uri.includes('/blobs/uploads/'));
  assert.equal(blobPuts.length, 2, `the code layer and the config: ${blobPuts.map((q) => q.uri).join('\n')}`);
  const m = (await skopeoInspect(to, { raw: true })).json;
  assert.deepEqual(m.layers.slice(-2).map((l: { digest: string }) => l.digest), [a.layers[0].digest, c.layers[1].digest]);
  const bundle = await umociUnpack(await skopeoCopyToLayout(to));
  assert.equal(readFileSync(join(bundle, 'rootfs', 'srv', 'app', 'version.txt'), 'utf8'), 'a2\n');
  assert.equal(readFileSync(join(bundle, 'rootfs', 'srv', 'deps', 'pkg3', 'index.js')).equals(bytes('dep3', 256 * 1024)), true, "branch A's dependencies");
});

test('a new tag per deploy and no other tag (--to app:COMMIT): the dependency layer the repository holds is not sent again, with the base in the same registry (its build ahead goes on into the digest) and in another', async () => {
  for (const [where, from] of [['same', imageRef(R.anon2, 'base/busybox:oci')], ['other', imageRef(R.anon, 'base/busybox:oci')]] as const) {
    const deps = makeDeps();
    const code = makeCode('v1');
    const repo = `${run}/commits-${where}`;
    const args = (commit: string) => ['push', '--json', '--from', from, '--to', imageRef(R.anon2, `${repo}:${commit}`),
      '--layer', `${deps}:/srv/deps`, '--layer', `${code}:/srv/app`];
    const first = await pushReport(args('c1'), `first per-commit push, base in the ${where} registry`);
    const a = first.report;
    assert.deepEqual(first.actions, ['uploaded', 'uploaded'], where);
    writeFileSync(join(code, 'version.txt'), 'v2\n');
    const mark = logMark('anon2');
    const second = await pushReport(args('c2'), `per-commit push, base in the ${where} registry`);
    const b = second.report;
    assert.deepEqual(second.actions, ['skipped', 'uploaded'], where);
    assert.equal(b.layers[0].digest, a.layers[0].digest, where);
    const reqs = await registryLogSince('anon2', mark);
    assert.deepEqual(naming(reqs, a.layers[0].digest), ['HEAD 200'], `${where}: asked for once, not sent`);
    assert.equal(reqs.filter((q) => q.method === 'PATCH').length, 0, `${where}: nothing streamed`);
    const c2 = (await skopeoInspect(imageRef(R.anon2, `${repo}:c2`), { raw: true })).json;
    assert.equal(c2.layers.at(-2).digest, a.layers[0].digest, where);
  }
});

test('same registry, a one-file change whose code layer is built before the tag answers: the session opened with the tag\'s GET carries it, nothing is cancelled, and the image is the one a fresh push writes', async () => {
  // The base in the target's registry, behind a proxy that answers the tag's GET late, as a
  // registry far away does: the small code layer's build has ended by then.
  const p = await startFaultProxy(R.anon2.url);
  try {
    const baseRef = `${p.host}/${run}/same-base:1`;
    const seeded = await runCli(['copy', imageRef(R.anon, 'base/busybox:oci'), baseRef]);
    assert.equal(seeded.code, 0, seeded.stderr);
    const deps = makeDeps();
    const code = makeCode('v1');
    const args = (to: string) => ['push', '--json', '--from', baseRef, '--to', to, '--layer', `${deps}:/srv/deps`, '--layer', `${code}:/srv/app`, '--entrypoint', '/srv/app/run.sh'];
    const to = `${p.host}/${run}/same-split:1`;
    const { report: a } = await pushReport(args(to), 'same-registry first push');

    writeFileSync(join(code, 'version.txt'), 'v2\n');
    p.clearRecords();
    p.rule({ method: 'GET', path: new RegExp(`/v2/${run}/same-split/manifests/1$`), fault: { kind: 'delay', ms: 700 }, name: 'late-tag' });
    const second = await pushReport(args(to), 'same-registry one-file change');
    const b = second.report;
    assert.deepEqual(second.actions, ['reused', 'uploaded']);
    assert.equal(b.layers[0].digest, a.layers[0].digest);
    assert.equal(p.hits('late-tag').length, 1);
    const tagAnswered = p.hits('late-tag')[0]!.at + 700;
    const opened = sessionsOpened(p);
    assert.equal(opened.length, 2, `the code layer's session and the config's: ${opened.join(' ')}`);
    const layerPut = requestsFor(p, 'PUT', b.layers[1].digest.replace(':', '%3A')).concat(requestsFor(p, 'PUT', b.layers[1].digest)).find((q) => q.status === 201);
    assert.ok(layerPut, 'the code layer went as one PUT with its digest');
    const early = p.requests.filter((q) => q.method === 'POST' && q.status === 202 && q.location && q.at < tagAnswered);
    assert.equal(early.length, 1, 'one session opened while the tag was still being asked about');
    assert.ok(layerPut.url.includes(new URL(early[0]!.location!).pathname.split('/').pop()!), 'and the code layer went into it');
    assert.equal(requestsFor(p, 'DELETE', '/blobs/uploads/').length, 0, 'no session opened in vain');
    await assertNoSessionLeft(p, R.anon2);
    await assertValidImage(imageRef(R.anon2, `${run}/same-split:1`), b.digest);

    // The same inputs to a new tag: the same image.
    const fresh = await pushReport(args(`${p.host}/${run}/same-split-fresh:1`), 'same-registry fresh push');
    assert.equal(fresh.report.digest, b.digest);
  } finally {
    await p.close();
  }
});

test('--layer and --app: --layers first, in order, the --app layer on top (its files win); dry run lists every layer', async () => {
  const lower = oneFile('who.txt', 'from-layer\n');
  const upper = oneFile('who.txt', 'from-app\n');
  const extra = oneFile('extra.txt', 'extra\n');
  const to = imageRef(R.anon, `${run}/mixed:1`);
  const args = ['--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', to, '--app', `${upper}:/srv`, '--layer', `${lower}:/srv`, '--layer', `${extra}:/opt/extra`];
  const dry = await runCli(['push', '--dry-run', ...args]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /upload +sha256:\w+ +\d+ bytes \(layer 1: \/srv\)/);
  assert.match(dry.stdout, /upload +sha256:\w+ +\d+ bytes \(layer 2: \/opt\/extra\)/);
  assert.match(dry.stdout, /upload +sha256:\w+ +\d+ bytes \(app layer: \/srv\)/);
  assert.match(dry.stdout, /6 blobs/);
  const dryJson = await runCli(['push', '--dry-run', '--json', ...args]);
  const plan = JSON.parse(dryJson.stdout);
  assertValidReport(plan, 'dry run with layers');
  assert.deepEqual(plan.layers.map((l: { action: string }) => l.action), ['planned', 'planned', 'planned']);
  await tagAbsent(R.anon.host, `${run}/mixed`, '1');

  const { report } = await pushReport(['push', '--json', ...args], 'layers + app');
  assert.deepEqual(report.layers.map((l) => l.name), ['layer 1', 'layer 2', 'app layer']);
  assert.deepEqual(report.layers.map((l) => l.digest), plan.layers.map((l: { digest: string }) => l.digest), 'the plan names the same layers');
  const m = (await skopeoInspect(to, { raw: true })).json;
  assert.ok(m.layers.every((l: { mediaType: string }) => DOCKER.test(l.mediaType)));
  assert.deepEqual(m.layers.slice(-3).map((l: { digest: string }) => l.digest), report.layers.map((l) => l.digest));
  const bundle = await umociUnpack(await skopeoCopyToLayout(to));
  assert.equal(readFileSync(join(bundle, 'rootfs', 'srv', 'who.txt'), 'utf8'), 'from-app\n');
  assert.equal(readFileSync(join(bundle, 'rootfs', 'opt', 'extra', 'extra.txt'), 'utf8'), 'extra\n');

  // Same inputs, same digest (reproducible).
  const again = await pushReport(['push', '--json', ...args.map((x) => (x === to ? imageRef(R.anon, `${run}/mixed-again:1`) : x))], 'layers + app, again');
  assert.equal(again.report.digest, report.digest);
});

test('a layer leaves the base\'s directories as they are: /home/node stays its user\'s under --app …:/home/node/app --chown; a missing parent is made 0755 root (umoci unpacks it)', async () => {
  // A base whose /home/node belongs to 1000:1000 (as the node images have it), made with regpush itself.
  const home = oneFile('.profile', 'export X=1\n');
  const base = imageRef(R.anon, `${run}/with-home:1`);
  const b = await runCli(['push', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', base, '--app', `${home}:/home/node`, '--chown', '1000:1000']);
  assert.equal(b.code, 0, b.stderr);
  const to = imageRef(R.anon, `${run}/on-home:1`);
  const r = await runCli(['push', '--from', base, '--to', to, '--app', `${oneFile('index.js', 'js\n')}:/home/node/app`, '--app', `${oneFile('x.conf', 'x\n')}:/opt/new/deeper`, '--chown', '1000:1000']);
  assert.equal(r.code, 0, r.stderr);
  const rootfs = join(await umociUnpack(await skopeoCopyToLayout(to)), 'rootfs');
  const owner = (p: string) => { const st = statSync(join(rootfs, p)); return `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`; };
  assert.equal(owner('home/node'), '1000:1000 755', 'the base\'s /home/node is untouched');
  assert.equal(owner('home/node/app'), '1000:1000 755', 'the destination is --chown\'s');
  assert.equal(owner('home/node/app/index.js'), '1000:1000 644');
  assert.equal(owner('home'), '0:0 755', 'a parent neither layer has an entry for: made by the unpacker');
  assert.equal(owner('opt/new'), '0:0 755', 'a parent the base lacks: made by the unpacker');
  assert.equal(readFileSync(join(rootfs, 'opt', 'new', 'deeper', 'x.conf'), 'utf8'), 'x\n');
});

test('--format oci from a Docker v2 base: OCI types throughout, base blobs mounted, skopeo and umoci accept it', async () => {
  const to = imageRef(R.anon, `${run}/to-oci:1`);
  const mark = logMark('anon');
  const r = await runCli(['push', '--json', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', to, '--app', oneFile('a.txt', 'a\n'), '--format', 'oci', '--annotation', 'org.example.build=42']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assertValidReport(report, '--format oci');
  assert.deepEqual(report.format, { from: 'docker', to: 'oci' });
  assert.equal(report.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.notEqual(report.blobs.length, 0, 'an empty list would pass the check below vacuously');
  for (const b of report.blobs) assert.deepEqual([b.action, b.bytes], ['mounted', 0]);
  const reqs = await registryLogSince('anon', mark);
  const base = state.images.anon['base/busybox:v2s2'];
  assert.equal(reqs.filter((q) => q.method === 'GET' && base.layers!.some((l) => q.uri.endsWith(l))).length, 0, 'no base layer read');
  const raw = await skopeoInspect(to, { raw: true });
  assert.equal(raw.json.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(raw.json.config.mediaType, 'application/vnd.oci.image.config.v1+json');
  assert.ok(raw.json.layers.every((l: { mediaType: string }) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip'));
  assert.deepEqual(raw.json.layers.slice(0, -1).map((l: { digest: string }) => l.digest), base.layers, 'same base blobs');
  assert.equal(raw.json.annotations['org.example.build'], '42');
  assert.equal(raw.json.annotations['org.opencontainers.image.base.digest'], base.digest);
  await umociUnpack(await skopeoCopyToLayout(to));
});

test('--format docker from an OCI base: Docker types throughout, base blobs skipped on re-push, skopeo and umoci accept it', async () => {
  const to = imageRef(R.anon2, `${run}/to-docker:1`);
  const args = ['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', to, '--app', oneFile('a.txt', 'a\n'), '--format', 'docker'];
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assertValidReport(report, '--format docker');
  assert.deepEqual(report.format, { from: 'oci', to: 'docker' });
  const raw = await skopeoInspect(to, { raw: true });
  assert.equal(raw.json.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(raw.json.config.mediaType, 'application/vnd.docker.container.image.v1+json');
  assert.ok(raw.json.layers.every((l: { mediaType: string }) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
  assert.equal(raw.json.annotations, undefined);
  await umociUnpack(await skopeoCopyToLayout(to));
  // The same push again: every base blob is already there, the app layer is reused.
  const again = JSON.parse((await runCli(args)).stdout);
  assert.notEqual(again.blobs.length, 0, 'an empty list would pass the check below vacuously');
  for (const b of again.blobs) assert.equal(b.action, 'skipped');
  assert.equal(again.layers[0].action, 'reused');
  assert.equal(again.digest, report.digest);
});

test('--annotation on a multi-platform push goes into every child and the index', async () => {
  const to = imageRef(R.anon2, `${run}/annotated:1`);
  const r = await runCli(['push', '--json', '--from', imageRef(R.anon, 'base/multi:oci'), '--to', to, '--app', oneFile('a.txt', 'a\n'), '--platform', 'all', '--annotation', 'org.opencontainers.image.source=https://example.com/app', '--annotation', 'x=y=z']);
  assert.equal(r.code, 0, r.stderr);
  const idx = (await skopeoInspect(to, { raw: true })).json;
  assert.equal(idx.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(idx.annotations, { 'org.opencontainers.image.source': 'https://example.com/app', x: 'y=z' });
  for (const arch of ['amd64', 'arm64']) {
    const child = (await childOf(to, arch)).json;
    assert.equal(child.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(child.annotations['org.opencontainers.image.source'], 'https://example.com/app');
    assert.equal(child.annotations.x, 'y=z');
  }
});

test('--format docker of a multi-platform OCI base: a Docker list of Docker manifests, attestation left out', async () => {
  const to = imageRef(R.anon2, `${run}/multi-docker:1`);
  const r = await runCli(['push', '--json', '--from', imageRef(R.anon, 'base/multi:oci'), '--to', to, '--app', oneFile('a.txt', 'a\n'), '--platform', 'all', '--format', 'docker']);
  assert.equal(r.code, 0, r.stderr);
  const list = (await skopeoInspect(to, { raw: true })).json;
  assert.equal(list.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
  assert.deepEqual(list.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture).sort(), ['amd64', 'arm64']);
  for (const arch of ['amd64', 'arm64']) {
    const child = (await childOf(to, arch)).json;
    assert.equal(child.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.ok([child.config, ...child.layers].every((x: { mediaType: string }) => DOCKER.test(x.mediaType)));
    assert.equal(child.annotations, undefined);
  }
  const cp = await exec('skopeo', ['copy', '--all', '-q', '--src-tls-verify=false', `docker://${to}`, `oci:${tempDir()}/l:img`]);
  assert.equal(cp.code, 0, cp.stderr);
});

test('--annotation with Docker output is refused with the --format oci hint, nothing written', async () => {
  const app = oneFile('a.txt', 'a\n');
  const r1 = await runCli(['push', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', imageRef(R.anon2, `${run}/ann-docker:1`), '--app', app, '--annotation', 'a=b']);
  assertFails(r1, 2, 'E_USAGE', /--format oci/);
  await tagAbsent(R.anon2.host, `${run}/ann-docker`, '1');
  const r2 = await runCli(['push', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', imageRef(R.anon2, `${run}/ann-docker2:1`), '--app', app, '--annotation', 'a=b', '--format', 'docker']);
  assertFails(r2, 2, 'E_USAGE', /--format oci/);
  await tagAbsent(R.anon2.host, `${run}/ann-docker2`, '1');
  assertFails(await runCli(['push', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', imageRef(R.anon2, `${run}/ann-bad:1`), '--app', app, '--annotation', 'novalue']), 2, 'E_USAGE', /novalue/);
});

test('per-platform layers: one index whose amd64 and arm64 children each carry their own layer (and the shared one); amd64 runs', async (t) => {
  const amd = oneFile('arch.txt', 'built-for-amd64\n');
  const arm = oneFile('arch.txt', 'built-for-arm64\n');
  const shared = oneFile('shared.txt', 'shared\n');
  const to = imageRef(R.anon2, `${run}/per-arch:1`);
  const args = ['push', '--json', '--from', imageRef(R.anon, 'base/multi:oci'), '--to', to,
    '--layer', `${shared}:/srv`, '--layer', `linux/amd64=${amd}:/srv/bin`, '--layer', `linux/arm64=${arm}:/srv/bin`,
    '--entrypoint', '["/bin/sh","-c"]', '--cmd', 'cat /srv/bin/arch.txt /srv/shared.txt'];
  const { report } = await pushReport(args, 'per-platform layers');
  assert.deepEqual(report.layers.map((l) => l.platform ?? ''), ['', 'linux/amd64', 'linux/arm64']);
  const idx = (await skopeoInspect(to, { raw: true })).json;
  assert.equal(idx.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(idx.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture).sort(), ['amd64', 'arm64']);
  const [sharedL, amdL, armL] = report.layers;
  for (const [arch, own, other] of [['amd64', amdL!, armL!], ['arm64', armL!, amdL!]] as const) {
    const c = await childOf(to, arch);
    const child = c.json;
    const digests = child.layers.map((l: { digest: string }) => l.digest);
    assert.deepEqual(digests.slice(-2), [sharedL!.digest, own.digest], `${arch}: shared layer then its own`);
    assert.ok(!digests.includes(other.digest), `${arch} lacks the other platform's layer`);
    const cfg = (await skopeoInspect(c.ref, { raw: true, config: true })).json;
    assert.equal(cfg.architecture, arch);
    const bundle = await umociUnpack(await skopeoCopyToLayout(to, undefined, { arch }));
    assert.equal(readFileSync(join(bundle, 'rootfs', 'srv', 'bin', 'arch.txt'), 'utf8'), `built-for-${arch}\n`);
  }
  // Re-push with only the arm64 output changed: the shared and amd64 layers are reused from the index's children.
  writeFileSync(join(arm, 'arch.txt'), 'built-for-arm64 v2\n');
  assert.deepEqual((await pushReport(args, 'per-platform layers, arm64 changed')).actions, ['reused', 'reused', 'uploaded']);
  const why = await runtimeUnavailable();
  if (why) return t.skip(`cannot run images here: ${why}`);
  if (process.arch !== 'x64') return t.skip('amd64 images run only on an x64 host');
  const ran = await runImage(await umociUnpack(await skopeoCopyToLayout(to, undefined, { arch: 'amd64' })));
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout, 'built-for-amd64\nshared\n');
});

test('per-platform layers from scratch build an index of the qualified platforms', async () => {
  const to = imageRef(R.anon2, `${run}/scratch-arch:1`);
  const r = await runCli(['push', '--json', '--from', 'scratch', '--to', to, '--layer', `linux/amd64=${oneFile('a', 'amd\n')}:/`, '--layer', `linux/arm64=${oneFile('a', 'arm\n')}:/`]);
  assert.equal(r.code, 0, r.stderr);
  const idx = (await skopeoInspect(to, { raw: true })).json;
  assert.deepEqual(idx.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture), ['amd64', 'arm64']);
  for (const arch of ['amd64', 'arm64']) {
    const child = (await childOf(to, arch)).json;
    assert.equal(child.layers.length, 1);
  }
});

test('a Windows image: its layer is laid out for Windows (Files/, Hives/, a descriptor per entry) at C:\\app, which skopeo, umoci and GNU tar read; without --platform the Windows base is refused, no tag', async () => {
  // The base: a Windows image made from scratch, as a build of one would be.
  const base = imageRef(R.anon2, `${run}/winbase:ltsc`);
  const b = await runCli(['push', '--from', 'scratch', '--platform', 'windows/amd64', '--to', base, '--app', `${oneFile('License.txt', 'base\n')}:C:\\`]);
  assert.equal(b.code, 0, b.stderr);
  const to = imageRef(R.anon2, `${run}/winapp:1`);
  const app = oneFile('App.dll', 'MZ app\n');
  const args = ['push', '--from', base, '--to', to, '--platform', 'windows/amd64', '--app', `${app}:C:\\app`, '--workdir', 'C:\\app', '--user', 'NT AUTHORITY\\NETWORK SERVICE', '--entrypoint', 'C:\\app\\App.exe'];
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  const cfg = (await skopeoInspect(to, { raw: true, config: true })).json;
  assert.equal(cfg.os, 'windows');
  assert.equal(cfg.config.WorkingDir, 'C:\\app');
  assert.equal(cfg.config.User, 'NT AUTHORITY\\NETWORK SERVICE');
  const layout = await skopeoCopyToLayout(to);
  const rootfs = await umociRawUnpack(layout);
  assert.equal(readFileSync(join(rootfs, 'Files', 'app', 'App.dll'), 'utf8'), 'MZ app\n');
  assert.equal(readFileSync(join(rootfs, 'Files', 'License.txt'), 'utf8'), 'base\n');
  assert.ok(statSync(join(rootfs, 'Hives')).isDirectory());
  const top = (await skopeoInspect(to, { raw: true })).json.layers.at(-1).digest.slice('sha256:'.length);
  const listed = await exec('tar', ['-tzf', join(layout, 'blobs', 'sha256', top)]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(listed.stdout.trim().split('\n'), ['Files/', 'Hives/', 'Files/app/', 'Files/app/App.dll']);
  assert.equal(listed.stderr.match(/unknown extended header keyword 'MSWINDOWS\.rawsd'/g)?.length, 4, 'GNU tar meets the descriptor on every entry');
  // Unchanged: nothing sent again.
  const again = await runCli([...args, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).digest, (await skopeoInspect(to, { raw: true })).digest);
  assert.match(again.stderr, /already holds this very image/);
  // No --platform: the layer would be built for Linux; refused once the base says Windows, no tag.
  const bad = await runCli(['push', '--from', base, '--to', imageRef(R.anon2, `${run}/winapp:2`), '--app', app]);
  assertFails(bad, 2, 'E_USAGE', /^regpush: error: the base is a windows\/amd64 image, and --app \/app is built for Linux: give --platform windows\/amd64/);
  await tagAbsent(R.anon2.host, `${run}/winapp`, '2');
});

test('--platform all over a Linux and Windows index: the Linux child gets a plain layer and the Windows child the same files under Files/, as umoci reads them; a re-run writes nothing', async (t) => {
  // A two-OS base from scratch: a busybox-free Linux child and a Windows child.
  const base = imageRef(R.anon2, `${run}/twoos:1`);
  const b = await runCli(['push', '--from', 'scratch', '--to', base, '--layer', `linux/amd64=${oneFile('os.txt', 'linux\n')}:/`, '--layer', `windows/amd64=${oneFile('os.txt', 'windows\n')}:C:\\`]);
  assert.equal(b.code, 0, b.stderr);
  const to = imageRef(R.anon2, `${run}/twoos-app:1`);
  const app = oneFile('App.dll', 'portable\n');
  const r = await runCli(['push', '--json', '--from', base, '--to', to, '--platform', 'all', '--app', app, '--workdir', '/app']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).layers.map((l: { name: string }) => l.name), ['app layer', 'app layer (Windows)']);
  const linuxRoot = await umociRawUnpack(await skopeoCopyToLayout(to, undefined, { os: 'linux', arch: 'amd64' }));
  assert.equal(readFileSync(join(linuxRoot, 'app', 'App.dll'), 'utf8'), 'portable\n');
  assert.equal(readFileSync(join(linuxRoot, 'os.txt'), 'utf8'), 'linux\n');
  const windowsRoot = await umociRawUnpack(await skopeoCopyToLayout(to, undefined, { os: 'windows', arch: 'amd64' }));
  assert.equal(readFileSync(join(windowsRoot, 'Files', 'app', 'App.dll'), 'utf8'), 'portable\n');
  assert.equal(readFileSync(join(windowsRoot, 'Files', 'os.txt'), 'utf8'), 'windows\n');
  // The Linux child's config says /app; the Windows child's too (the same path: C:\app there).
  assert.equal((await skopeoInspect(to, { raw: true, config: true, os: 'windows', arch: 'amd64' })).json.config.WorkingDir, '/app');
  // Unchanged: nothing written again.
  const again = await runCli(['push', '--from', base, '--to', to, '--platform', 'all', '--app', app, '--workdir', '/app']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /already holds this very image/);
  t.diagnostic('both children of one index, each with its own layer format');
});

test('healthcheck, stop signal and exec-form JSON land in the config; a spaced single value warns; shell forms', async () => {
  const to = imageRef(R.anon2, `${run}/hc:1`);
  const r = await runCli(['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', to, '--app', oneFile('a.txt', 'a\n'),
    '--entrypoint', '["/bin/sh","-c"]', '--cmd', 'echo hi',
    '--healthcheck', 'wget -qO- http://localhost:8080/health || exit 1', '--healthcheck-interval', '30s', '--healthcheck-timeout', '1m30s',
    '--healthcheck-start-period', '500ms', '--healthcheck-retries', '3', '--stop-signal', 'SIGQUIT']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /--cmd "echo hi" is one argument containing spaces/);
  assert.match(r.stderr, /--cmd echo --cmd hi/);
  assert.match(r.stderr, /--cmd '\["echo","hi"\]'/);
  const cfg = (await skopeoInspect(to, { raw: true, config: true })).json;
  assert.deepEqual(cfg.config.Entrypoint, ['/bin/sh', '-c']);
  assert.deepEqual(cfg.config.Cmd, ['echo hi']);
  assert.deepEqual(cfg.config.Healthcheck, { Test: ['CMD-SHELL', 'wget -qO- http://localhost:8080/health || exit 1'], Interval: 30e9, Timeout: 90e9, StartPeriod: 500e6, Retries: 3 });
  assert.equal(cfg.config.StopSignal, 'SIGQUIT');

  const to2 = imageRef(R.anon2, `${run}/hc2:1`);
  const r2 = await runCli(['push', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', to2, '--entrypoint-shell', 'exec /bin/echo "$0" done', '--healthcheck', '["/bin/true"]']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.doesNotMatch(r2.stderr, /containing spaces/);
  const cfg2 = (await skopeoInspect(to2, { raw: true, config: true })).json;
  assert.deepEqual(cfg2.config.Entrypoint, ['/bin/sh', '-c', 'exec /bin/echo "$0" done']);
  assert.deepEqual(cfg2.config.Healthcheck, { Test: ['CMD', '/bin/true'] });
});

const badCases: [string, () => string[], number, string, RegExp][] = [
  ['empty --layer after .dockerignore', () => { const d = oneFile('x.log', 'x'); writeFileSync(join(d, '.dockerignore'), '*.log\n'); return ['--layer', `${d}:/srv`]; }, 2, 'E_INPUT', /nothing to put in the layer/],
  ['empty --layer directory', () => ['--layer', `${tempDir('regpush-empty-')}:/srv`], 2, 'E_INPUT', /nothing to put in the layer/],
  ['missing --layer dir', () => ['--layer', '/nonexistent/regpush-layer:/srv'], 2, 'E_INPUT', /\/nonexistent\/regpush-layer/],
  ['relative --layer dest', () => ['--layer', `${oneFile('a', 'a')}:srv`], 2, 'E_USAGE', /--layer .*absolute/],
  ['qualified platform absent from the base', () => ['--layer', `linux/s390x=${oneFile('a', 'a')}:/srv`], 2, 'E_USAGE', /no linux\/s390x platform/],
  ['--entrypoint JSON that is not an array of strings', () => ['--entrypoint', '["a",1]'], 2, 'E_USAGE', /array of strings/],
  ['--entrypoint and --entrypoint-shell', () => ['--entrypoint', 'a', '--entrypoint-shell', 'b'], 2, 'E_USAGE', /not both/],
  ['bad --healthcheck-interval', () => ['--healthcheck', 'true', '--healthcheck-interval', 'soon'], 2, 'E_USAGE', /soon/],
  ['--healthcheck-retries without --healthcheck', () => ['--healthcheck-retries', '3'], 2, 'E_USAGE', /--healthcheck-retries needs --healthcheck/],
  ['bad --stop-signal', () => ['--stop-signal', 'sig term'], 2, 'E_USAGE', /stop-signal/],
  ['bad --format', () => ['--format', 'v2s1'], 2, 'E_USAGE', /format/],
];
for (const [name, extra, exit, code, pattern] of badCases) {
  test(`bad input: ${name} → ${code}, nothing written`, async () => {
    const repo = `${run}/bad-${name.replace(/[^a-z0-9]+/g, '-')}`;
    const r = await runCli(['push', '--from', imageRef(R.anon, 'base/multi:oci'), '--to', imageRef(R.anon2, `${repo}:1`), ...extra()]);
    assertFails(r, exit, code, pattern);
    await tagAbsent(R.anon2.host, repo, '1');
  });
}

test('regpush.json "layers", "format" and "annotations" act like the flags', async () => {
  const dir = tempDir('regpush-proj-');
  mkdirSync(join(dir, 'deps'));
  writeFileSync(join(dir, 'deps', 'd.txt'), 'd\n');
  mkdirSync(join(dir, 'out'));
  writeFileSync(join(dir, 'out', 'o.txt'), 'o\n');
  const to = imageRef(R.anon2, `${run}/proj:1`);
  writeFileSync(join(dir, 'regpush.json'), JSON.stringify({ from: imageRef(R.anon, 'base/busybox:v2s2'), to, layers: ['deps:/srv/deps', 'out:/srv/out'], format: 'oci', annotations: { team: 'web' } }));
  const r = await runCli(['push', '--json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.layers.map((l: { dest: string[] }) => l.dest[0]), ['/srv/deps', '/srv/out']);
  const raw = (await skopeoInspect(to, { raw: true })).json;
  assert.match(raw.mediaType, OCI);
  assert.equal(raw.annotations.team, 'web');
  const cp = await exec('skopeo', ['inspect', '--tls-verify=false', `docker://${to}`]);
  assert.equal(cp.code, 0, cp.stderr);
});

test('copy --format oci of a Docker manifest list: a valid OCI index (children converted, blobs mounted), reported as a digest change', async () => {
  const src = imageRef(R.anon, 'base/multi:v2s2');
  const dst = imageRef(R.anon, `${run}/copied-oci:1`);
  const json = await runCli(['copy', '--json', '--format', 'oci', src, dst]);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assertValidReport(report, 'copy --format oci');
  assert.equal(report.digestChanged, true);
  assert.notEqual(report.digest, state.images.anon['base/multi:v2s2'].digest);
  assert.notEqual(report.targets[0].blobs.length, 0, 'an empty list would pass the check below vacuously');
  for (const b of report.targets[0].blobs) assert.ok(['mounted', 'skipped'].includes(b.action), `${b.digest}: ${b.action}`);
  const idx = await skopeoInspect(dst, { raw: true });
  assert.equal(idx.digest, report.digest);
  assert.equal(idx.json.mediaType, 'application/vnd.oci.image.index.v1+json');
  for (const arch of ['amd64', 'arm64']) {
    const child = (await childOf(dst, arch)).json;
    assert.equal(child.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(child.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    assert.ok(child.layers.every((l: { mediaType: string }) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip'));
  }
  const all = await exec('skopeo', ['copy', '--all', '-q', '--src-tls-verify=false', `docker://${dst}`, `oci:${tempDir()}/l:img`]);
  assert.equal(all.code, 0, all.stderr);
  await umociUnpack(await skopeoCopyToLayout(dst, undefined, { arch: 'amd64' }));
  // Without --json the change is said on stderr.
  const plain = await runCli(['copy', '--format', 'oci', src, imageRef(R.anon, `${run}/copied-oci2:1`)]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stderr, /--format oci converted the manifests: digest sha256:\w+ differs from the source's/);
  // And back: the OCI index with an attestation, as a Docker list (the attestation left out).
  const back = imageRef(R.anon, `${run}/copied-docker:1`);
  const r = await runCli(['copy', '--json', '--format', 'docker', imageRef(R.anon, 'base/multi:oci'), back]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/attestation sha256:[0-9a-f]{64}.* left out/g)?.length, 1, `the attestation left out is said once:\n${r.stderr}`);
  const list = (await skopeoInspect(back, { raw: true })).json;
  assert.equal(list.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
  assert.deepEqual(list.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture).sort(), ['amd64', 'arm64']);
  assert.ok(list.manifests.every((m: { mediaType: string }) => m.mediaType === 'application/vnd.docker.distribution.manifest.v2+json'));
});
