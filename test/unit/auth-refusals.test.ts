// What a run does with credentials a registry refuses, through the library against in-process fake
// registries: a refused password is sent once per run, not once per image (an LDAP-backed Harbor,
// Quay or Artifactory locks an account after a few failed logins; Docker Hub throttles them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncFile, sync, type RegpushError, type SyncResult } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const USER = 'alice';
const PASSWORD = 'refusal-test-Password-1';
const WRONG = 'refusal-test-WRONG-2';

/** A sync of `n` images, each its own repository, from `src` into `dst`/mirror. */
function syncSpec(src: FakeRegistry, dst: FakeRegistry, n: number) {
  const names = Array.from({ length: n }, (_, i) => `team/app${i}`);
  for (const name of names) src.seedImage(name, { tags: ['1'] });
  return parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...names.map((name) => `  - { source: ${src.ref(name)}, tags: ["1"] }`), ''].join('\n'), 'sync.yaml');
}

/** Each image's failure (every image of these syncs fails: E_PARTIAL, the result in its details). */
async function failures(p: Promise<SyncResult>): Promise<{ code?: string; message?: string }[]> {
  const err = await p.then(() => assert.fail('the sync should fail'), (e: RegpushError) => e);
  assert.equal(err.code, 'E_PARTIAL', String(err));
  return (err.details.result as SyncResult).units.flatMap((u) => u.targets.map((t) => ({ code: t.error?.code, message: t.error?.message })));
}

test('a sync with a wrong target password into a token registry: one failed login, every image E_AUTH with the same message', async () => {
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  const spec = syncSpec(src, dst, 8);
  const base = fakeLibraryOptions(src, dst);
  // One image at a time; the next image's token is asked for while one runs (a sync's prefetch),
  // so the second image's GET may already be on its way when the first one's 401 comes back.
  const failed = await failures(sync({ spec, images: 1, retries: 0, ...base, env: { ...base.env, REGPUSH_TO_USER: USER, REGPUSH_TO_PASSWORD: WRONG } }));
  const tokenGets = dst.requests({ kind: 'token' });
  assert.ok(tokenGets.length <= 2, `token requests: ${tokenGets.length} (one per image without the run's memory of the refusal)`);
  assert.ok(tokenGets.every((t) => t.status === 401));
  assert.equal(failed.length, 8);
  for (const f of failed) {
    assert.equal(f.code, 'E_AUTH');
    assert.match(f.message!, /^authentication to .* failed: .* rejected the credentials for user alice/);
    assert.ok(!f.message!.includes(WRONG));
  }
  assert.equal(dst.requests({ kind: 'manifest', method: 'PUT' }).length, 0);
});

test('a sync with a wrong target password into a Basic registry: the password goes out once', async () => {
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'basic', user: USER, password: PASSWORD } });
  let withPassword = 0;
  dst.fault({ when: (q) => (q.headers.authorization ? ++withPassword : 0) < 0 }, { kind: 'status', status: 500 });
  const spec = syncSpec(src, dst, 8);
  const base = fakeLibraryOptions(src, dst);
  const failed = await failures(sync({ spec, images: 1, retries: 0, ...base, env: { ...base.env, REGPUSH_TO_USER: USER, REGPUSH_TO_PASSWORD: WRONG } }));
  assert.equal(failed.length, 8);
  for (const f of failed) {
    assert.equal(f.code, 'E_AUTH');
    assert.match(f.message!, /rejected the credentials for user alice/);
  }
  assert.equal(withPassword, 1, 'requests that carried the wrong password');
});
