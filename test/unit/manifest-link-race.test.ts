// distribution's answer to a manifest PUT that read a blob link while another writer rewrote it:
// DIGEST_INVALID and MANIFEST_BLOB_UNKNOWN at once (its check read the link as no digest, and
// counted the blob unknown). Many writers of one blob (40 copies into one repository) rewrite its
// link many times, so the PUT is sent again a few times, the blobs found again by HEAD before each;
// when it still fails, the error is the registry's (E_REGISTRY), not a digest mismatch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, RegistryError, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

/** distribution's answer to the link race, `times` times, to manifest PUTs at `reg`. */
function linkRaceAnswer(reg: FakeRegistry, times: number): void {
  const body = JSON.stringify({
    errors: [
      { code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' },
      { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry', detail: 'sha256:0000000000000000000000000000000000000000000000000000000000000000' },
    ],
  });
  reg.fault(
    { kind: 'manifest', method: 'PUT' },
    { kind: 'respond', respond: (_req, _body, res) => res.writeHead(400, { 'content-type': 'application/json' }).end(body) },
    { times },
  );
}

test('a manifest PUT answered with the link race three times running is sent again each time, after the blobs are found by HEAD, and lands', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  linkRaceAnswer(dst, 3);
  await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(dst.requests({ kind: 'manifest', method: 'PUT' }).map((r) => r.status), [400, 400, 400, 201]);
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
  // Before each resend after the first, every blob the manifest names was HEADed again.
  assert.ok(dst.count({ kind: 'blob', method: 'HEAD', digest: img.config.digest, status: 200 }) >= 2);
});

test('a manifest PUT the link race keeps refusing: bounded (four PUTs), and the error is the registry\'s answer, E_REGISTRY, not a digest mismatch', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'] });
  linkRaceAnswer(dst, Infinity);
  await assert.rejects(copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) }), (e: RegpushError) => {
    assert.ok(e instanceof RegistryError, `${e.code}: ${e.message}`);
    assert.match(e.message, /answered 400 DIGEST_INVALID, MANIFEST_BLOB_UNKNOWN: .*could not read its record of a blob the manifest names/);
    return true;
  });
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 4);
  assert.equal(dst.manifest('app', '1'), undefined);
});

test('DIGEST_INVALID alone (not the link race) is sent again once only, and stays a digest mismatch', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'] });
  dst.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'status', status: 400, code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' });
  await assert.rejects(
    copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) }),
    (e: RegpushError) => e.code === 'E_DIGEST_MISMATCH',
  );
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 2);
});
