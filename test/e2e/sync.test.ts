// regpush sync against real registries: a file of many images to two targets with different
// auth, checked with skopeo; an unchanged re-run that reads and writes nothing (registry logs);
// shared base layers read once and mounted (201); three shards at once, of a file and of one
// repository's tags (shard: tag); a failing source image;
// the rate-limit gate; bad files. Counts come from the registries' own logs.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { assertOneErrorLine } from './fault-helpers.js';
import { credsOf, exec, imageRef, loadState, pushCosignSignature, registryLogSince, runCli, settledLogMark, skopeoInspect, tempDir, type LoggedRequest } from './harness.js';
import type { ErrorCode } from '../../src/errors.js';
import { assertValidReport } from './report-schema.js';
import { parseSyncFile, sync, type SyncResult } from '../../src/index.js';
import { shardOf } from '../../src/sync/shard.js';

const state = loadState();
const R = state.registries;
const run = `s${Date.now().toString(36)}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const proxies: FaultProxy[] = [];
after(async () => {
  for (const p of proxies) await p.close();
});

/** A home whose docker config holds both target registries' (different) credentials, and nothing else. */
function syncEnv(): Record<string, string | undefined> {
  const home = tempDir('regpush-sync-home-');
  mkdirSync(join(home, '.docker'), { recursive: true });
  writeFileSync(
    join(home, '.docker', 'config.json'),
    JSON.stringify({ auths: { [R.basic.host]: { auth: b64(`${R.basic.user}:${R.basic.password}`) }, [R.token.host]: { auth: b64(`${R.token.user}:${R.token.password}`) } } }),
  );
  return { HOME: home, DOCKER_CONFIG: join(home, '.docker'), REGISTRY_AUTH_FILE: undefined, REGPUSH_FROM_USER: undefined, REGPUSH_FROM_PASSWORD: undefined, REGPUSH_TO_USER: undefined, REGPUSH_TO_PASSWORD: undefined };
}
const env = syncEnv();

function writeFile(name: string, text: string): string {
  const dir = tempDir('regpush-sync-');
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function copyOk(args: string[]): Promise<void> {
  const r = await runCli(['copy', ...args], { env });
  assert.equal(r.code, 0, r.stderr);
}


const src = (path: string) => `${R.anon.host}/${path}`;
const seeded = state.images.anon;
let sigTag = '';

before(async () => {
  // Source repositories in the anonymous registry: a versioned app, an index with an attestation,
  // a signed image, a repository copied with all its tags, and one pinned by digest.
  await copyOk([imageRef(R.anon, 'base/busybox:v2s2'), src(`${run}/app:v1.0.0`), '--tag', 'v2.0.0', '--tag', 'latest']);
  await copyOk([imageRef(R.anon, 'base/busybox:oci'), src(`${run}/app:v1.1.0`), '--tag', 'v2.1.0', '--tag', 'v3.0.0']);
  await copyOk([imageRef(R.anon, 'base/multi:oci'), src(`${run}/multi:1`)]);
  await copyOk([imageRef(R.anon, 'base/busybox:v2s2'), src(`${run}/signed:1`)]);
  sigTag = await pushCosignSignature(R.anon.host, `${run}/signed`, seeded['base/busybox:v2s2'].digest);
  await copyOk([imageRef(R.anon, 'base/busybox:oci'), src(`${run}/tool:a`), '--tag', 'b']);
  await copyOk([imageRef(R.anon, 'base/busybox:oci'), src(`${run}/job:build-7`)]);
});

/** The nine-entry file: tags, filters, an index with an attestation, a signature, all tags, a pinned digest. */
function nineImages(prefix: string): string {
  return [
    'defaults:',
    `  targets: [${R.basic.host}/${prefix}, ${R.token.host}/${prefix}]`,
    'images:',
    `  - source: ${src(`${run}/app`)}`,
    `    tags: { semver: '>=2.0.0 <3.0.0' }`,
    `  - source: ${src(`${run}/app`)}`,
    `    tags: { regex: '^v1\\.' }`,
    `  - source: ${src(`${run}/multi`)}`,
    `    tags: ["1"]`,
    `  - source: ${src(`${run}/signed`)}`,
    `    tags: ["1"]`,
    `    referrers: true`,
    `  - source: ${src(`${run}/tool`)}`,
    `    tags: all`,
    `  - source: ${src(`${run}/job`)}@${seeded['base/busybox:oci'].digest}`,
    `    target: ${R.basic.host}/${prefix}/job:pinned`,
    `  - source: ${src('base/busybox')}`,
    `    tags: [v2s2]`,
    `  - source: ${src('base/busybox')}`,
    `    tags: [oci]`,
    `  - source: ${src('base/multi')}`,
    `    tags: [v2s2]`,
    '',
  ].join('\n');
}

function report(stdout: string): SyncResult & Record<string, unknown> {
  const r = JSON.parse(stdout);
  assertValidReport(r, 'sync report');
  return r;
}

const isRead = (q: LoggedRequest) => q.method === 'GET' && /\/(manifests|blobs)\//.test(q.uri);
const isWrite = (q: LoggedRequest) => ['PUT', 'POST', 'PATCH', 'DELETE'].includes(q.method);

test('sync: nine images to two targets with different auth; every digest equals the source; re-run reads no blob and writes nothing', async () => {
  const prefix = `${run}m`;
  const file = writeFile('mirror.yaml', nineImages(prefix));
  const first = { basic: await settledLogMark('basic'), token: await settledLogMark('token') };
  const r = await runCli(['sync', '--json', file], { env });
  assert.equal(r.code, 0, r.stderr);
  const rep = report(r.stdout);
  // Each target's challenge, heard once (by the scheme probe's GET /v2/), is answered up front by
  // every request of every image after it: no image's first request is refused for want of a token.
  for (const name of ['basic', 'token'] as const) {
    const refused = (await registryLogSince(name, first[name])).filter((q) => q.status === 401).map((q) => `${q.method} ${q.uri}`);
    assert.deepEqual(refused, ['GET /v2/'], `${name}: requests answered 401`);
  }
  const want: Record<string, string> = {
    [`${run}/app:v2.0.0`]: seeded['base/busybox:v2s2'].digest,
    [`${run}/app:v2.1.0`]: seeded['base/busybox:oci'].digest,
    [`${run}/app:v1.0.0`]: seeded['base/busybox:v2s2'].digest,
    [`${run}/app:v1.1.0`]: seeded['base/busybox:oci'].digest,
    [`${run}/multi:1`]: seeded['base/multi:oci'].digest,
    [`${run}/signed:1`]: seeded['base/busybox:v2s2'].digest,
    [`${run}/tool:a`]: seeded['base/busybox:oci'].digest,
    [`${run}/tool:b`]: seeded['base/busybox:oci'].digest,
    'base/busybox:v2s2': seeded['base/busybox:v2s2'].digest,
    'base/busybox:oci': seeded['base/busybox:oci'].digest,
    'base/multi:v2s2': seeded['base/multi:v2s2'].digest,
  };
  // v3.0.0 is outside the semver range, latest is not a version: neither is copied.
  assert.equal(rep.totals.units, Object.keys(want).length + 1, JSON.stringify(rep.units.map((u) => u.source)));
  assert.equal(rep.totals.failed, 0);
  assert.notEqual(rep.units.length, 0, 'an empty list would pass the check below vacuously');
  for (const u of rep.units) assert.ok(u.ok, JSON.stringify(u));
  for (const [path, digest] of Object.entries(want)) {
    for (const reg of [R.basic, R.token]) {
      const got = await skopeoInspect(`${reg.host}/${prefix}/${path}`, { raw: true, creds: credsOf(reg) });
      assert.equal(got.digest, digest, `${reg.name}: ${path}`);
    }
  }
  assert.equal((await skopeoInspect(`${R.basic.host}/${prefix}/job:pinned`, { raw: true, creds: credsOf(R.basic) })).digest, seeded['base/busybox:oci'].digest);
  for (const reg of [R.basic, R.token]) {
    const missing = await runCli(['inspect', `${reg.host}/${prefix}/${run}/app:v3.0.0`], { env: { ...env, REGPUSH_FROM_USER: reg.user, REGPUSH_FROM_PASSWORD: reg.password } });
    assert.equal(missing.code, 4, 'v3.0.0 is outside the semver range');
    // The signature came along under its tag; the attestation inside the index too (skopeo copy --all).
    const sig = await skopeoInspect(`${reg.host}/${prefix}/${run}/signed:${sigTag}`, { raw: true, creds: credsOf(reg) });
    assert.equal(sig.digest, (await skopeoInspect(src(`${run}/signed:${sigTag}`), { raw: true })).digest);
    const layout = tempDir();
    const cp = await exec('skopeo', ['copy', '--all', '--src-tls-verify=false', '--src-creds', `${reg.user}:${reg.password}`, `docker://${reg.host}/${prefix}/${run}/multi:1`, `oci:${layout}/l:img`]);
    assert.equal(cp.code, 0, cp.stderr);
  }

  // Nothing changed: at the source (which counts no pulls, so each image's manifest is read with a
  // GET rather than HEADed) no blob and no manifest read twice; no write at either target.
  const marks = { anon: await settledLogMark('anon'), basic: await settledLogMark('basic'), token: await settledLogMark('token') };
  const again = await runCli(['sync', '--json', file], { env });
  assert.equal(again.code, 0, again.stderr);
  const rep2 = report(again.stdout);
  assert.equal(rep2.totals.copied, 0);
  assert.equal(rep2.totals.skipped, rep.totals.copied);
  const reads = (await registryLogSince('anon', marks.anon)).filter(isRead).map((q) => q.uri);
  assert.deepEqual(reads.filter((u) => u.includes('/blobs/')), [], 'no blob GET at the source');
  assert.ok(reads.length > 0, 'the images\' manifests were read');
  assert.deepEqual(reads.filter((u, i) => reads.indexOf(u) !== i), [], 'no manifest read twice');
  for (const name of ['basic', 'token'] as const) {
    const writes = (await registryLogSince(name, marks[name])).filter(isWrite);
    assert.deepEqual(writes.map((q) => `${q.method} ${q.uri}`), [], `no write at ${name}`);
  }
});

test('sync: three images sharing base layers, one target — each shared blob read once, the others mounted (201)', async () => {
  const app = tempDir('regpush-sync-app-');
  const names = ['svc1', 'svc2', 'svc3'];
  for (const n of names) {
    mkdirSync(join(app, n), { recursive: true });
    writeFileSync(join(app, n, 'main.txt'), `service ${n}\n`);
    const p = await runCli(['push', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', src(`${run}/${n}:1`), '--app', `${join(app, n)}:/srv`], { env });
    assert.equal(p.code, 0, p.stderr);
  }
  const prefix = `${run}d`;
  const file = writeFile('dedup.yaml', ['defaults:', `  targets: [${R.anon2.host}/${prefix}]`, 'images:', ...names.map((n) => `  - source: ${src(`${run}/${n}:1`)}`), ''].join('\n'));
  const marks = { anon: await settledLogMark('anon'), anon2: await settledLogMark('anon2') };
  const r = await runCli(['sync', '--json', file], { env });
  assert.equal(r.code, 0, r.stderr);
  const rep = report(r.stdout);
  assert.equal(rep.totals.copied, 3);
  const baseLayers = seeded['base/busybox:oci'].layers!;
  const srcLog = await registryLogSince('anon', marks.anon);
  for (const d of baseLayers) {
    const gets = srcLog.filter((q) => q.method === 'GET' && q.uri.endsWith(`/blobs/${d}`));
    assert.equal(gets.length, 1, `shared layer ${d} read ${gets.length} times from the source`);
  }
  const mounts = (await registryLogSince('anon2', marks.anon2)).filter((q) => q.method === 'POST' && q.uri.includes('mount=') && q.status === 201);
  for (const d of baseLayers) {
    const m = mounts.filter((q) => q.uri.includes(`mount=${d}`) || q.uri.includes(`mount=${encodeURIComponent(d)}`));
    assert.equal(m.length, 2, `shared layer ${d} mounted into the two other repositories (got ${m.length})`);
  }
  assert.ok(rep.totals.mounted >= 2 * baseLayers.length);
  for (const n of names) {
    assert.equal((await skopeoInspect(`${R.anon2.host}/${prefix}/${run}/${n}:1`, { raw: true })).digest, (await skopeoInspect(src(`${run}/${n}:1`), { raw: true })).digest);
  }
});

test('sync: three --shard i/3 processes at once copy every image exactly once', async () => {
  const prefix = `${run}sh`;
  const sources = [`${run}/app`, `${run}/multi`, `${run}/signed`, `${run}/tool`, 'base/busybox', 'base/multi', `${run}/job`];
  const tagOf: Record<string, string> = { [`${run}/app`]: 'v1.0.0', [`${run}/multi`]: '1', [`${run}/signed`]: '1', [`${run}/tool`]: 'a', 'base/busybox': 'oci', 'base/multi': 'oci', [`${run}/job`]: 'build-7' };
  const file = writeFile('shards.yaml', ['defaults:', `  targets: [${R.anon2.host}/${prefix}]`, 'images:', ...sources.map((s) => `  - source: ${src(`${s}:${tagOf[s]}`)}`), ''].join('\n'));
  const mark = await settledLogMark('anon');
  const results = await Promise.all([0, 1, 2].map((i) => runCli(['sync', '--json', '--shard', `${i}/3`, file], { env })));
  const seen: string[] = [];
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    const rep = report(r.stdout);
    for (const u of rep.units) {
      assert.ok(u.ok, JSON.stringify(u));
      seen.push(u.source);
    }
  }
  assert.deepEqual([...seen].sort(), sources.map((s) => src(`${s}:${tagOf[s]}`)).sort(), 'each image in exactly one shard');
  const gets = (await registryLogSince('anon', mark)).filter((q) => q.method === 'GET' && /\/manifests\/[^s]/.test(q.uri) && !/\/manifests\/sha256:/.test(q.uri));
  for (const s of sources) {
    const n = gets.filter((q) => q.uri.includes(`/v2/${s}/manifests/${tagOf[s]}`)).length;
    assert.equal(n, 1, `${s}:${tagOf[s]} read ${n} times at the source`);
  }
  // The same share from JOB_COMPLETION_INDEX: every image is now up to date, nothing copied.
  const viaEnv = await runCli(['sync', '--json', '--shard', '/3', file], { env: { ...env, JOB_COMPLETION_INDEX: '1' } });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  const rep = report(viaEnv.stdout);
  assert.equal(rep.totals.copied, 0);
  assert.deepEqual(rep.shard, { index: 1, count: 3 });
});

test('sync: shard: tag spreads one repository\'s tags over three --shard i/3 processes at once: together the unsharded set, each its own share, the selection over the whole list', async () => {
  const prefix = `${run}st`;
  const repo = `${run}/ci`;
  const versions = Array.from({ length: 8 }, (_, i) => `1.${i}.0`);
  await copyOk([imageRef(R.anon, 'base/busybox:oci'), src(`${repo}:${versions[0]}`), ...versions.slice(1).flatMap((v) => ['--tag', v]), '--tag', 'latest']);
  // newest: 6 of the whole list, as one unsharded run takes them (not six per shard).
  const wanted = versions.slice(2);
  const text = ['images:', `  - source: ${src(repo)}`, '    tags: { newest: 6 }', `    targets: [${R.anon2.host}/${prefix}]`, '    shard: tag', ''].join('\n');
  const file = writeFile('shard-tag.yaml', text);
  const mark = await settledLogMark('anon');
  const results = await Promise.all([0, 1, 2].map((i) => runCli(['sync', '--json', '--shard', `${i}/3`, file], { env })));
  const seen: string[] = [];
  for (const [i, r] of results.entries()) {
    assert.equal(r.code, 0, r.stderr);
    const rep = report(r.stdout);
    const mine = wanted.filter((v) => shardOf(`${src(repo)}:${v}`, 3) === i);
    assert.deepEqual(rep.units.map((u) => u.source).sort(), mine.map((v) => src(`${repo}:${v}`)).sort(), `shard ${i}: its share only`);
    assert.equal(rep.totals.copied, mine.length);
    seen.push(...rep.units.map((u) => u.source));
  }
  assert.deepEqual(seen.sort(), wanted.map((v) => src(`${repo}:${v}`)).sort(), 'each tag in exactly one shard; together the six newest');
  const tags = (await (await fetch(`http://${R.anon2.host}/v2/${prefix}/${repo}/tags/list`)).json()) as { tags: string[] };
  assert.deepEqual(tags.tags.sort(), [...wanted].sort());
  const log = await registryLogSince('anon', mark);
  for (const v of versions) {
    const n = log.filter((q) => q.method === 'GET' && q.uri.startsWith(`/v2/${repo}/manifests/${v}`)).length;
    assert.equal(n, wanted.includes(v) ? 1 : 0, `${repo}:${v} read ${n} times at the source`);
  }
  assert.equal(log.filter((q) => q.uri.startsWith(`/v2/${repo}/tags/list`)).length, 3, 'every shard lists the repository once');
  // A bad value: one E_INPUT line (exit 2), and no request.
  const bad = writeFile('shard-bad.yaml', text.replace('shard: tag', 'shard: tags'));
  const quiet = await settledLogMark('anon');
  assertOneErrorLine(await runCli(['sync', '--shard', '0/3', bad], { env }), 2, 'E_INPUT', /shard-bad\.yaml: images\[0\] \([^)]*\): "shard" \(line \d+\) must be "repository" .* or "tag" .* \(got "tags"\)/);
  assert.deepEqual(await registryLogSince('anon', quiet), [], 'nothing read for a bad file');
});

test('sync: a source image that answers 500 fails alone (exit 8); the next run copies only that one', async () => {
  const proxy = await startFaultProxy(R.anon.url);
  proxies.push(proxy);
  const prefix = `${run}f`;
  proxy.rule({ method: 'GET', path: new RegExp(`/v2/${run}/tool/manifests/`), fault: { kind: 'status', status: 500 }, name: 'broken' });
  const sources = [`${run}/tool:a`, `${run}/multi:1`, 'base/busybox:v2s2'];
  const file = writeFile('fail.yaml', ['defaults:', `  targets: [${R.anon2.host}/${prefix}]`, 'images:', ...sources.map((s) => `  - source: ${proxy.host}/${s}`), ''].join('\n'));
  const r = await runCli(['sync', '--json', '--retries', '0', file], { env });
  const line = assertOneErrorLine(r, 8, 'E_PARTIAL', /1 of 3 images failed/, { stdout: 'report' });
  assert.match(line, new RegExp(`${run}/tool:a`));
  const rep = report(r.stdout);
  assert.equal(rep.totals.copied, 2);
  assert.equal(rep.units.find((u) => u.source.endsWith(`${run}/tool:a`))!.ok, false);
  assert.ok(proxy.hits('broken').length >= 1);
  assert.equal((await fetch(`http://${R.anon2.host}/v2/${prefix}/${run}/tool/manifests/a`, { method: 'HEAD' })).status, 404, 'no manifest for the failed image');
  proxy.clearRules();
  const again = await runCli(['sync', '--json', file], { env });
  assert.equal(again.code, 0, again.stderr);
  const rep2 = report(again.stdout);
  assert.deepEqual(rep2.units.filter((u) => u.targets.some((t) => t.action === 'copied')).map((u) => u.source), [`${proxy.host}/${run}/tool:a`]);
  assert.equal(rep2.totals.skipped, 2);
});

test('sync: a source registry answering 503 to every image: after 8 in a row the rest are not attempted; one error line (exit 5, every image failed with E_REGISTRY) names five and counts the rest', async () => {
  const proxy = await startFaultProxy(R.anon.url);
  proxies.push(proxy);
  proxy.rule({ path: new RegExp(`/v2/${run}/down\\d+/manifests/`), fault: { kind: 'status', status: 503 }, name: 'down' });
  const prefix = `${run}down`;
  const sources = Array.from({ length: 12 }, (_, i) => `${proxy.host}/${run}/down${i}:1`);
  const file = writeFile('down.yaml', ['defaults:', `  targets: [${R.anon2.host}/${prefix}]`, 'images:', ...sources.map((s) => `  - source: ${s}`), ''].join('\n'));
  const r = await runCli(['sync', '--json', '--images', '1', '--retries', '0', file], { env });
  assertOneErrorLine(r, 5, 'E_REGISTRY', /^regpush: error: all 12 images failed with E_REGISTRY: .*; and 7 more \(each in the report: --json\) \[E_REGISTRY\]$/, { stdout: 'report' });
  const rep = report(r.stdout);
  assert.deepEqual(rep.units.map((u) => u.error?.code), Array(12).fill('E_REGISTRY'), 'the images asked and those not attempted alike');
  const skipped = rep.units.filter((u) => u.error?.message.startsWith('not attempted'));
  assert.equal(skipped.length, 4);
  for (const u of skipped) assert.match(u.error!.message, new RegExp(`^not attempted: the last 8 images at ${proxy.host.replace(/\./g, '\\.')} failed, the last with: .*503`));
  const asked = new Set(proxy.hits('down').map((q) => /\/v2\/[^/]+\/(down\d+)\//.exec(q.url)?.[1]));
  assert.equal(asked.size, 8, 'eight images asked the source; the other four sent nothing');
  assert.equal((await fetch(`http://${R.anon2.host}/v2/${prefix}/${run}/down0/manifests/1`, { method: 'HEAD' })).status, 404, 'nothing written');
});

test('sync --dry-run writes nothing and says what it would do', async () => {
  const prefix = `${run}dry`;
  const file = writeFile('dry.yaml', ['images:', `  - source: ${src('base/busybox:v2s2')}`, `    targets: [${R.anon2.host}/${prefix}]`, ''].join('\n'));
  const mark = await settledLogMark('anon2');
  const r = await runCli(['sync', '--json', '--dry-run', file], { env });
  assert.equal(r.code, 0, r.stderr);
  const rep = report(r.stdout);
  assert.equal(rep.dryRun, true);
  assert.equal(rep.totals.planned, 1);
  assert.deepEqual((await registryLogSince('anon2', mark)).filter(isWrite), []);
  const text = await runCli(['sync', '--dry-run', file], { env });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^plan: 1 image \(1 entry\): 1 to copy, 0 up to date, 0 failed/);
  // The plan counts the blobs it would move and the bytes it would read (it said 0 of each), as
  // the real run then moves them.
  const planned = rep.units[0].targets[0];
  assert.ok(planned.streamed > 0, JSON.stringify(planned));
  const real = report((await runCli(['sync', '--json', file], { env })).stdout);
  const done = real.units[0].targets[0];
  assert.deepEqual([planned.mounted, planned.streamed, planned.bytes, rep.totals.bytesRead], [done.mounted, done.streamed, done.bytes, real.totals.bytesRead]);
  assert.match(text.stdout, new RegExp(`${(real.totals.bytesRead / 1e6).toFixed(1).replace('.', '\\.')} MB read, 0 blobs mounted, ${done.streamed} streamed`));
});

test('sync: bad files and flags are one error line before any request', async () => {
  const mark = await settledLogMark('anon');
  const cases: [string, string, number, ErrorCode, RegExp][] = [
    ['unknown-key.yaml', `images:\n  - source: ${src('base/busybox')}\n    tags: [v2s2]\n    targest: [${R.anon2.host}/x]\n`, 2, 'E_INPUT', /unknown-key\.yaml: images\[0\].*targest/],
    ['bad-regex.yaml', `defaults:\n  targets: [${R.anon2.host}/x]\nimages:\n  - source: ${src('base/busybox')}\n    tags: { regex: '(' }\n`, 2, 'E_INPUT', /bad-regex\.yaml: images\[0\].*regex/],
    ['no-target.yaml', `images:\n  - source: ${src('base/busybox')}\n    tags: [v2s2]\n`, 2, 'E_INPUT', /no-target\.yaml: images\[0\]/],
  ];
  for (const [name, text, code, ecode, re] of cases) {
    const r = await runCli(['sync', writeFile(name, text)], { env });
    assertOneErrorLine(r, code, ecode, re);
  }
  const ok = writeFile('ok.yaml', `images:\n  - source: ${src('base/busybox')}\n    tags: [v2s2]\n    targets: [${R.anon2.host}/x]\n`);
  assertOneErrorLine(await runCli(['sync', '--shard', '3/3', ok], { env }), 2, 'E_USAGE', /--shard/);
  assertOneErrorLine(await runCli(['sync', '--images', '0', ok], { env }), 2, 'E_USAGE', /--images/);
  assertOneErrorLine(await runCli(['sync', '--max-wait', 'soon', '--min-ratelimit', '5', ok], { env }), 2, 'E_USAGE', /--max-wait/);
  assertOneErrorLine(await runCli(['sync', join(tempDir(), 'missing.yaml')], { env }), 2, 'E_INPUT', /missing\.yaml: cannot read/);
  assert.deepEqual(await registryLogSince('anon', mark), [], 'no request for a bad file or flag');
});

test('sync --min-ratelimit: below the limit no manifest GET goes out, the first image\'s included; it stops with E_TOO_MANY_REQUESTS, or goes on once the count recovers', async () => {
  const proxy = await startFaultProxy(R.anon.url);
  proxies.push(proxy);
  const low = { kind: 'setHeaders' as const, headers: { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '3;w=21600' } };
  proxy.rule({ fault: low, name: 'low' });
  const prefix = `${run}rl`;
  const sources = ['base/busybox:v2s2', 'base/busybox:oci', 'base/multi:oci'];
  const text = ['defaults:', `  targets: [${R.anon2.host}/${prefix}]`, 'images:', ...sources.map((s) => `  - source: ${proxy.host}/${s}`), ''].join('\n');
  const r = await runCli(['sync', '--json', '--images', '1', '--min-ratelimit', '10', writeFile('rl.yaml', text)], { env });
  assert.equal(r.code, 5, r.stderr);
  const lines = r.stderr.trim().split('\n');
  // The first image starts before any count is known. Its graph is read as soon as the target says
  // it lacks the tag: if that comes before its source HEAD (free) has brought the count, its GET
  // goes out blind and it is copied; if after, the GET is held below the reserve like any other and
  // no pull is spent. The network decides which; either way no other image reads anything.
  assert.match(lines[0]!, /ratelimit-remaining is 3, below --min-ratelimit 10; (not starting new images|holding the manifest reads of the images under way)/, r.stderr);
  assert.match(lines.at(-1)!, /^regpush: error: .*ratelimit-remaining stayed below --min-ratelimit 10 \(last 3\).*\[E_TOO_MANY_REQUESTS\]$/);
  assert.equal(lines.length, 2, r.stderr);
  const rep = report(r.stdout);
  const copied = rep.units.filter((u) => u.ok).map((u) => u.source);
  assert.ok(copied.length === 0 || (copied.length === 1 && copied[0]!.endsWith('/base/busybox:v2s2')), `only the first image may have run: ${copied.join(', ')}`);
  assert.deepEqual(rep.units.filter((u) => !u.ok).map((u) => u.error?.code), Array(3 - copied.length).fill('E_TOO_MANY_REQUESTS'), 'the others did not start, and the report says so');
  assert.equal(rep.http.rateLimits[0]!.remaining, 3);

  // Library: the gate waits, asks again with a HEAD (not counted as a pull), and goes on once the count is back.
  // The count recovers once the gate has started waiting (not after a fixed time: under load the
  // first image could take longer than any delay, and would never see the low count).
  const spec = parseSyncFile(text.replace(prefix, `${prefix}2`), 'rl.yaml');
  const waited: number[] = [];
  const recover = (_registry: string, remaining: number): void => {
    waited.push(remaining);
    proxy.clearRules();
    proxy.rule({ fault: { kind: 'setHeaders', headers: { 'ratelimit-remaining': '80;w=21600' } } });
  };
  const res = await sync({ spec, images: 1, minRateLimit: 10, maxWaitMs: 20_000, rateLimitPollMs: 100, env, events: { waiting: recover } });
  assert.equal(res.totals.copied, 3);
  assert.deepEqual(waited, [3]);
});

test('sync --min-ratelimit holds back only the registry that is low: an image from another registry starts while it waits', async () => {
  const proxy = await startFaultProxy(R.anon.url);
  proxies.push(proxy);
  proxy.rule({ fault: { kind: 'setHeaders', headers: { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '3;w=21600' } } });
  const prefix = `${run}rl3`;
  // Two slots: the first image of the low registry starts alone (no count known yet) and finds it
  // low (it is copied or held, as the test above says); the other two wait for the count outside
  // the slots, so the fourth, from another registry, starts in the other slot meanwhile.
  const low = ['base/busybox:v2s2', 'base/busybox:oci', 'base/multi:oci'].map((s) => `  - source: ${proxy.host}/${s}`);
  const text = ['defaults:', `  targets: [${R.anon2.host}/${prefix}]`, 'images:', ...low, `  - source: ${R.anon.host}/base/busybox:oci`, `    targets: [${R.anon2.host}/${prefix}/other]`, ''].join('\n');
  const r = await runCli(['sync', '--json', '--images', '2', '--min-ratelimit', '10', '--max-wait', '3s', writeFile('rl3.yaml', text)], { env });
  assert.equal(r.code, 5, r.stderr);
  const rep = report(r.stdout);
  const other = rep.units.find((u) => u.source.startsWith(`${R.anon.host}/`));
  assert.ok(other?.ok, `the image from the other registry was copied: ${JSON.stringify(rep.units.map((u) => u.source))}`);
  const lowUnits = rep.units.filter((u) => u.source.startsWith(`${proxy.host}/`));
  assert.ok(lowUnits.filter((u) => u.error?.code !== 'E_TOO_MANY_REQUESTS').length <= 1, 'the held images of the low registry did not start');
  assert.equal(lowUnits.length, 3, 'each is in the report');
});

test('sync of a one-image file whose image fails: that error\'s exit code, and still the JSON report', async () => {
  const text = ['images:', `  - source: ${R.anon.host}/${run}/no-such-image:1`, `    targets: [${R.anon2.host}/${run}one]`, ''].join('\n');
  const r = await runCli(['sync', '--json', writeFile('one.yaml', text)], { env });
  assert.equal(r.code, 4, r.stderr);
  const rep = report(r.stdout);
  assert.equal(rep.units.length, 1);
  assert.equal(rep.units[0]!.ok, false);
  assertOneErrorLine(r, 4, 'E_NOT_FOUND', /no-such-image/, { stdout: 'report' });
});
