// tags / digest / tag / delete against the in-process fake registry (test/fixtures/fake-registry.ts),
// the library calls and the CLI in-process: answers lost on the way back, registries that refuse
// a HEAD, some of several tags refused, malformed tag lists, a registry named without a repository.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deleteImage, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';

const fake = fakeRegistryPool();

/** The environment that points the CLI at `reg` (plain http, no credential files). */
function cliEnv(reg: FakeRegistry): Record<string, string> {
  const lib = fakeLibraryOptions(reg);
  return { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };
}

test('delete: the DELETE takes effect but its answer is lost, and the retry gets 404 → deleted, exit 0', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1'] });
  // The registry deletes, then the connection closes without an answer (as a front's 504 or a
  // reset after a slow delete): the transport sends the DELETE again and gets 404 MANIFEST_UNKNOWN.
  reg.fault({ kind: 'manifest', method: 'DELETE' }, { kind: 'lose' }, { times: 1 });
  const r = await runMain(['delete', '--force', reg.ref('app:1')], { env: cliEnv(reg) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${reg.host}/app@${img.digest}\n`);
  assert.match(r.stderr, /answered 404 and the manifest is gone/);
  assert.deepEqual(reg.requests({ method: 'DELETE' }).map((q) => q.status), [undefined, 404]);
  assert.equal(reg.manifest('app', img.digest), undefined);
});

test('delete: a 404 to the DELETE while the manifest is still there stays E_NOT_FOUND', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1'] });
  // A front that routes no DELETE: the confirming HEAD finds the manifest, so nothing was deleted.
  reg.fault({ kind: 'manifest', method: 'DELETE' }, { kind: 'status', status: 404 });
  const err = await deleteImage(reg.ref(`app@${img.digest}`), { ...fakeLibraryOptions(reg), retries: 0 }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_NOT_FOUND', String(err));
  assert.ok(reg.manifest('app', img.digest));
});
