// --dry-run and write permission against the real registries: the token registry's token service
// (test/fixtures/token-service.mjs) signs JWTs whose `access` claim lists what it grants, and
// grants `reader` pull only (alice too, under readonly/): the plan fails such a target as the run
// does (E_DENIED, the same message); at the Basic and anonymous registries it says that write
// permission was not checked.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { imageRef, loadState, logMark, registryLogSince, runCli, tempDir, type RegistryName } from './harness.js';
import { assertOneErrorLine } from './fault-helpers.js';
import { assertValidReport } from './report-schema.js';

const state = loadState();
const R = state.registries;
const run = `w${process.pid}${Date.now().toString(36)}`;
const SOURCE = imageRef(R.anon, 'base/busybox:oci');
const reader = ['--to-user', 'reader', '--to-password', R.token.users!.reader!];
const alice = ['--to-user', R.token.user!, '--to-password', R.token.password!];
const toBasic = ['--to-user', R.basic.user!, '--to-password', R.basic.password!];

async function writesSince(name: RegistryName, mark: number) {
  return (await registryLogSince(name, mark)).filter((q) => ['POST', 'PATCH', 'PUT', 'DELETE'].includes(q.method));
}

function makeApp(): string {
  const dir = tempDir('regpush-dry-write-app-');
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'hello.sh'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
  return dir;
}

test('copy --dry-run as a user the token service grants pull only: E_DENIED (exit 3), the line the copy itself then fails with; nothing written', async () => {
  for (const [who, creds, repo] of [
    ['reader', reader, `${run}/ro-copy`],
    ['alice under readonly/', alice, `readonly/${run}`],
  ] as const) {
    const to = imageRef(R.token, `${repo}:1`);
    const mark = logMark('token');
    const plan = await runCli(['copy', '--dry-run', SOURCE, to, ...creds]);
    const line = assertOneErrorLine(plan, 3, 'E_DENIED', /, but not for writing \(push\); check your rights on the repository/);
    assert.deepEqual(await writesSince('token', mark), [], `${who}: the dry run wrote nothing`);
    const real = await runCli(['copy', SOURCE, to, ...creds]);
    assert.equal(assertOneErrorLine(real, 3, 'E_DENIED'), line, `${who}: the plan says what the copy meets`);
  }
});

test('push --dry-run as reader at the token registry: E_DENIED; as alice: planned, write permission checked', async () => {
  const app = makeApp();
  const args = (to: string) => ['push', '--from', SOURCE, '--to', to, '--app', app];
  const denied = await runCli([...args(imageRef(R.token, `${run}/ro-push:1`)), '--dry-run', ...reader]);
  assertOneErrorLine(denied, 3, 'E_DENIED', /not for writing \(push\)/);
  const ok = await runCli([...args(imageRef(R.token, `${run}/rw-push:1`)), '--dry-run', '--json', ...alice]);
  assert.equal(ok.code, 0, ok.stderr);
  const plan = JSON.parse(ok.stdout);
  assertValidReport(plan, 'push --dry-run --json');
  assert.equal(plan.writeNotChecked, undefined);
});

test('copy --dry-run to the Basic and the anonymous registry: planned, saying that write permission was not checked and why', async () => {
  const basic = imageRef(R.basic, `${run}/unchecked:1`);
  const anon = imageRef(R.anon2, `${run}/unchecked:1`);
  const rw = imageRef(R.token, `${run}/checked:1`);
  const json = await runCli(['copy', '--dry-run', '--json', SOURCE, basic, anon, ...toBasic]);
  assert.equal(json.code, 0, json.stderr);
  const plan = JSON.parse(json.stdout);
  assertValidReport(plan, 'copy --dry-run --json');
  assert.deepEqual(
    plan.targets.map((t: { target: string; writeNotChecked?: string }) => [t.target, t.writeNotChecked]),
    [
      [basic, 'the registry takes Basic credentials, which say nothing of rights before a write'],
      [anon, 'the registry asked for no credentials on the reads, and says whether it takes a write only when one is sent'],
    ],
  );
  const text = await runCli(['copy', '--dry-run', SOURCE, basic, ...toBasic]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`→ ${basic}  tags: 1\n  write permission not checked: the registry takes Basic credentials`));
  const checked = await runCli(['copy', '--dry-run', SOURCE, rw, ...alice]);
  assert.equal(checked.code, 0, checked.stderr);
  assert.doesNotMatch(checked.stdout, /not checked/);
});
