// sync() of a file of one image fails as copy() of that image does: with the failure's own class
// and details (a library caller tells `instanceof NotFoundError` or AuthError, reads details.status
// and details.registryCodes), the sync's report in details.result. And an image a registry's
// outage leaves unattempted carries that outage's class too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthError, copy, NetworkError, NotFoundError, parseSyncFile, RegistryError, sync, type SyncResult } from '../../src/index.js';
import { OutageBreaker } from '../../src/sync/outage.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

function oneImage(source: string, dst: FakeRegistry, repo = 'mirror') {
  return parseSyncFile(['images:', `  - source: ${source}`, `    targets: [${dst.host}/${repo}]`, ''].join('\n'), 'sync.yaml');
}

const rejection = (p: Promise<unknown>): Promise<unknown> => p.then(() => assert.fail('it succeeded'), (e: unknown) => e);

test('sync of one image whose tag is gone: a NotFoundError with the registry\'s details and the report, as copy() gives', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  const err = await rejection(sync({ spec: oneImage(src.ref('app:2'), dst), retries: 0, ...fakeLibraryOptions(src, dst) }));
  assert.ok(err instanceof NotFoundError, String(err));
  const direct = await rejection(copy({ from: src.ref('app:2'), to: [`${dst.host}/mirror/app:2`], retries: 0, ...fakeLibraryOptions(src, dst) }));
  assert.ok(direct instanceof NotFoundError && direct.code === 'E_NOT_FOUND', String(direct));
  assert.equal(err.code, 'E_NOT_FOUND');
  assert.match(err.message, new RegExp(`^GET manifest ${src.host.replace(/\./g, '\\.')}/app:2: .* answered 404 MANIFEST_UNKNOWN`));
  assert.equal(err.message, direct.message);
  assert.equal(err.details.status, 404);
  assert.equal(err.details.registry, direct.details.registry);
  assert.deepEqual(err.details.registryCodes, direct.details.registryCodes);
  const result = err.details.result as SyncResult;
  assert.equal(result.units.length, 1);
  assert.equal(result.units[0]!.error?.code, 'E_NOT_FOUND');
});

test('sync of one image every target refuses for want of credentials: an AuthError, the report in details.result', async () => {
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'basic', user: 'ci', password: 'pw' } });
  src.seedImage('app', { tags: ['1'] });
  const err = await rejection(sync({ spec: oneImage(src.ref('app:1'), dst), retries: 0, ...fakeLibraryOptions(src, dst) }));
  assert.ok(err instanceof AuthError, String(err));
  assert.equal(err.details.registry, dst.host);
  assert.equal((err.details.result as SyncResult).units[0]!.targets[0]!.action, 'failed');
  assert.equal((err.details.result as SyncResult).units[0]!.targets[0]!.ok, false);
  assert.equal((err.details.result as SyncResult).units[0]!.targets[0]!.error?.code, 'E_AUTH', 'the target\'s line has the code the sync ends with');
});

test('an image an outage leaves unattempted fails with the outage\'s class', async () => {
  const breaker = new OutageBreaker(1);
  // Whose pulls they are is never asked for an outage (only a used-up pull limit needs it).
  const owner = () => assert.fail('the owner was asked for an outage');
  await breaker.failed('reg.example', new NetworkError('cannot reach reg.example: connection refused'), owner);
  const unreached = breaker.down('reg.example');
  assert.ok(unreached instanceof NetworkError);
  assert.equal(unreached.code, 'E_NETWORK');
  assert.match(unreached.message, /^not attempted: the last image at reg\.example failed, the last with: cannot reach reg\.example: connection refused; a re-run copies what is missing$/);
  await breaker.failed('other.example', new RegistryError('answered 503', { details: { status: 503 } }), owner);
  const down = breaker.down('other.example');
  assert.ok(down instanceof RegistryError);
  assert.equal(down.code, 'E_REGISTRY');
  assert.match(down.message, /^not attempted: .* at other\.example failed, the last with: answered 503; a re-run copies what is missing$/);
  assert.deepEqual(down.details, { registry: 'other.example', outage: true });
});
