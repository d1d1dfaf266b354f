// --json reports validated against src/cli/report.schema.json, --dry-run writing nothing (the
// target registry's own log) and planning what the real run then does, --digest-file, the
// Docker Hub rate-limit headers in the report, and the partial-failure report (exit 8).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { imageRef, loadState, logMark, registryLogSince, runCli, stderrWithoutPasswordWarning, tempDir, type RegistryName } from './harness.js';
import { assertValidReport } from './report-schema.js';

const state = loadState();
const R = state.registries;
const toBasic = ['--to-user', R.basic.user!, '--to-password', R.basic.password!];
const run = `r${process.pid}${Date.now().toString(36)}`;

function makeApp(): string {
  const dir = tempDir('regpush-report-app-');
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'hello.sh'), '#!/bin/sh\necho hello from the report test\n', { mode: 0o755 });
  writeFileSync(join(dir, 'data.txt'), `${run}\n`.repeat(1000));
  return dir;
}

/** Requests that change something at a registry. */
async function writesSince(name: RegistryName, mark: number) {
  return (await registryLogSince(name, mark)).filter((q) => ['POST', 'PATCH', 'PUT', 'DELETE'].includes(q.method));
}

/** What a planned action becomes when it is done. */
const done = (a: string) => ({ 'planned-mount': 'mounted', 'planned-stream': 'streamed', 'planned-upload': 'uploaded', planned: 'uploaded' })[a] ?? a;
const actions = (blobs: { digest: string; action: string }[], map = (a: string) => a) =>
  Object.fromEntries(blobs.map((b) => [b.digest, map(b.action)]));

for (const [name, source, target, creds, expect] of [
  ['another registry (stream)', imageRef(R.anon, 'base/busybox:v2s2'), 'basic', toBasic, 'streamed'],
  ['the same registry (mount)', imageRef(R.anon, 'base/busybox:oci'), 'anon', [], 'mounted'],
] as const) {
  test(`push --dry-run to ${name}: no POST/PATCH/PUT at the target, and the real push does what the plan said`, async () => {
    const app = makeApp();
    const to = imageRef(R[target], `${run}/dry-${target}:1`);
    const args = ['push', '--from', source, '--to', to, '--app', app, '--env', 'MODE=dry', ...creds];
    const mark = logMark(target);
    const dry = await runCli([...args, '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(await writesSince(target, mark), [], 'a dry run wrote to the target');
    const plan = JSON.parse(dry.stdout);
    assertValidReport(plan, 'push --dry-run --json');
    assert.equal(plan.dryRun, true);
    assert.equal(plan.digest, '');
    assert.ok(plan.blobs.length >= 3);
    assert.equal(plan.configs.length, 1);
    assert.ok(plan.configs[0].config.Env.includes('MODE=dry'), 'the plan shows the config that would be written');

    // The text plan says the same, in the verbs of the real run.
    const text = await runCli([...args, '--dry-run']);
    assert.equal(text.code, 0, text.stderr);
    assert.notEqual(plan.blobs.length, 0, 'an empty list would pass the check below vacuously');
    for (const b of plan.blobs) assert.match(text.stdout, new RegExp(`${b.action.replace('planned-', '')}\\s+${b.digest}`));
    assert.match(text.stdout, /"MODE=dry"/);

    const real = await runCli([...args, '--json']);
    assert.equal(real.code, 0, real.stderr);
    const report = JSON.parse(real.stdout);
    assertValidReport(report, 'push --json');
    assert.equal(report.dryRun, false);
    assert.deepEqual(actions(report.blobs), actions(plan.blobs, done), 'the real push did what the dry run planned');
    assert.notEqual(report.blobs.length, 0, 'an empty list would pass the check below vacuously');
    for (const b of report.blobs) assert.equal(b.action, expect);
    assert.equal(report.layer.digest, plan.layer.digest, 'the planned app layer is the one uploaded');
    assert.equal(done(plan.layer.action), report.layer.action);
    assert.equal(report.platforms[0].digest, report.digest);
    assert.match(report.reference, new RegExp(`@${report.digest}$`));
    assert.ok(report.http.requests > 0);
    assert.deepEqual(report.http.rateLimits, []);
    for (const phase of ['resolve', 'plan', 'transfer', 'config', 'confirm', 'manifest']) assert.equal(typeof report.timings[phase], 'number', phase);
  });
}

test('push --dry-run where the tag already holds the very image: the plan says nothing is written, as the re-run writes nothing', async () => {
  const to = imageRef(R.anon2, `${run}/dry-same:1`);
  const args = ['push', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', to, '--app', makeApp()];
  const first = await runCli(args);
  assert.equal(first.code, 0, first.stderr);
  const dry = await runCli([...args, '--dry-run', '--json']);
  assert.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout);
  assertValidReport(plan, 'push --dry-run --json');
  assert.deepEqual(plan.tagsUnchanged, ['1']);
  const text = await runCli([...args, '--dry-run']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /tags: 1, up to date: nothing to write\n/);
  assert.match(text.stdout, /0 bytes to send; no config or manifest to write\n/);
  assert.doesNotMatch(text.stdout, /config\(s\) and manifest\(s\)/);
  const mark = logMark('anon2');
  const again = await runCli([...args, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout).tagsUnchanged, ['1'], 'the re-run writes nothing, as planned');
  assert.deepEqual(await writesSince('anon2', mark), []);
});

test('copy --dry-run to two targets writes nothing, and the real copy does what the plan said', async () => {
  const src = imageRef(R.anon, 'base/multi:oci');
  const t1 = imageRef(R.anon, `${run}/copy-dry-a:1`); // same registry: mounts
  const t2 = imageRef(R.basic, `${run}/copy-dry-b:1`); // other registry: streams
  const marks = { anon: logMark('anon'), basic: logMark('basic') };
  const dry = await runCli(['copy', '--dry-run', '--json', src, t1, t2, ...toBasic]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(await writesSince('anon', marks.anon), []);
  assert.deepEqual(await writesSince('basic', marks.basic), []);
  const plan = JSON.parse(dry.stdout);
  assertValidReport(plan, 'copy --dry-run --json');
  assert.equal(plan.dryRun, true);
  assert.deepEqual(plan.platforms.map((p: { platform: string }) => p.platform), ['linux/arm64/v8', 'linux/amd64', 'unknown/unknown']);
  assert.deepEqual(new Set(plan.targets[0].blobs.map((b: { action: string }) => b.action)), new Set(['planned-mount']));
  assert.deepEqual(new Set(plan.targets[1].blobs.map((b: { action: string }) => b.action)), new Set(['planned-stream']));

  const real = await runCli(['copy', '--json', src, t1, t2, ...toBasic]);
  assert.equal(real.code, 0, real.stderr);
  const report = JSON.parse(real.stdout);
  assertValidReport(report, 'copy --json');
  for (const i of [0, 1]) assert.deepEqual(actions(report.targets[i].blobs), actions(plan.targets[i].blobs, done), `target ${i}`);
  assert.equal(report.digest, plan.digest);
});

test('--digest-file writes the digest (push and copy), and a dry run writes no file', async () => {
  const dir = tempDir('regpush-digest-');
  const to = imageRef(R.anon2, `${run}/digest-file:1`);
  const pushArgs = ['push', '--from', imageRef(R.anon, 'base/busybox:oci'), '--to', to, '--app', makeApp()];
  const dry = await runCli([...pushArgs, '--dry-run', '--digest-file', join(dir, 'dry.digest')]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.ok(!existsSync(join(dir, 'dry.digest')), 'a dry run wrote the digest file');
  const r = await runCli([...pushArgs, '--digest-file', 'push.digest'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const digest = r.stdout.trim().split('@')[1];
  assert.equal(readFileSync(join(dir, 'push.digest'), 'utf8'), `${digest}\n`, 'relative to the working directory');

  const c = await runCli(['copy', '--digest-file', join(dir, 'copy.digest'), imageRef(R.anon, 'base/multi:v2s2'), imageRef(R.anon2, `${run}/digest-copy:1`)]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(readFileSync(join(dir, 'copy.digest'), 'utf8'), `${state.images.anon['base/multi:v2s2'].digest}\n`);
});

test('a partial copy failure prints a valid JSON report naming the failed target, and exits 8', async () => {
  const good = imageRef(R.anon2, `${run}/partial-json:1`);
  const bad = imageRef(R.token, `readonly/${run}-json:1`); // alice may only pull readonly/*
  const r = await runCli(['copy', '--json', imageRef(R.anon, 'base/busybox:v2s2'), good, bad, '--to-user', R.token.user!, '--to-password', R.token.password!]);
  assert.equal(r.code, 8, r.stderr);
  assert.match(r.stderr.trim().split('\n').at(-1)!, /\[E_PARTIAL\]$/);
  const report = JSON.parse(r.stdout);
  assertValidReport(report, 'partial copy --json');
  assert.equal(report.targets[0].ok, true);
  assert.equal(report.targets[1].ok, false);
  assert.equal(report.targets[1].error.code, 'E_DENIED', 'a push refused to credentials that could read');
});

test('a partial push failure prints a valid JSON report naming the failed target (exit 8); a complete failure prints no report, one error line', async () => {
  const good = imageRef(R.anon2, `${run}/partial-push-json:1`);
  const bad = imageRef(R.token, `readonly/${run}-push-json:1`); // alice may only pull readonly/*
  const base = ['push', '--json', '--from', imageRef(R.anon, 'base/busybox:oci'), '--app', makeApp(), '--to-user', R.token.user!, '--to-password', R.token.password!];
  const r = await runCli([...base, '--to', good, '--to', bad]);
  assert.equal(r.code, 8, r.stderr);
  assert.match(r.stderr.trim().split('\n').at(-1)!, /\[E_PARTIAL\]$/);
  const report = JSON.parse(r.stdout);
  assertValidReport(report, 'partial push --json');
  assert.deepEqual(report.targets.map((t: { ok: boolean }) => t.ok), [true, false]);
  assert.equal(report.targets[1].error.code, 'E_DENIED', 'a push refused to credentials that could read');
  assert.equal(report.targets[1].digest, '');
  const all = await runCli([...base, '--to', bad]);
  assert.equal(all.code, 3, all.stderr);
  assert.equal(all.stdout, '');
  assert.equal(stderrWithoutPasswordWarning(all).split('\n').length, 1, all.stderr);
  assert.match(stderrWithoutPasswordWarning(all), /^regpush: error: .*\[E_DENIED\]$/, 'the one target\'s own code, not E_PARTIAL');
});

test('Docker Hub rate-limit headers (ratelimit-limit / ratelimit-remaining) are reported', async () => {
  // A pass-through proxy in front of the anonymous registry that answers like Docker Hub does.
  let remaining = 80;
  const upstream = new URL(R.anon.url);
  const proxy = http.createServer((req, res) => {
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      const headers = { ...up.headers };
      if (req.url?.includes('/manifests/')) {
        headers['ratelimit-limit'] = '100;w=21600';
        headers['ratelimit-remaining'] = `${--remaining};w=21600`;
        headers['docker-ratelimit-source'] = '203.0.113.7';
      }
      res.writeHead(up.statusCode ?? 502, headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  try {
    const host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const r = await runCli(['copy', '--json', `${host}/base/multi:oci`, imageRef(R.anon2, `${run}/ratelimit:1`)]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assertValidReport(report, 'copy --json with rate limits');
    assert.equal(report.http.rateLimits.length, 1);
    const seen = report.http.rateLimits[0];
    assert.equal(seen.registry, host);
    assert.equal(seen.limit, 100);
    assert.equal(seen.windowSeconds, 21600);
    assert.equal(seen.remaining, remaining, 'the last value seen');
    assert.ok(seen.lowestRemaining <= seen.remaining && seen.lowestRemaining === remaining);
    assert.ok(!r.stdout.includes('203.0.113.7'), 'only the numbers are kept');
  } finally {
    await new Promise((resolve) => proxy.close(resolve));
  }
});
