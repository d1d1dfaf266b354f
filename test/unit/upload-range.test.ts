// The Range of a PATCH's answer: the spec says a chunk's 202 MUST carry `Range: 0-<end>`. One that
// ends before the bytes sent is the registry having dropped part of the body (reported of Amazon
// ECR for PATCHes after the first, containerd/containerd#10447): E_PROTOCOL naming the offsets, not
// a DIGEST_INVALID at the closing PUT that would blame the bytes. No Range at all is accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, type RegpushError } from '../../src/index.js';
import { ensureBlobAt } from '../fixtures/ensure-blob.js';
import { bytesOf, digestOf, fakeLibraryOptions, fakeRegistryPool, type FakeRegistry, type FakeRegistryOptions } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

/** Refuses what regpush tries before `method`: the monolithic PUT, and for 'chunked' the streamed PATCH too. */
function only(reg: FakeRegistry, method: 'patch' | 'chunked'): void {
  reg.fault({ kind: 'upload', method: 'PUT', when: (r) => r.headers['content-length'] !== '0' }, { kind: 'status', status: 405, code: 'UNSUPPORTED' });
  if (method === 'chunked') reg.fault({ kind: 'upload', method: 'PATCH', when: (r) => r.headers['content-range'] === undefined }, { kind: 'status', status: 405, code: 'UNSUPPORTED' });
}

/** The next PATCH answered 202 with `range` and the session's URL, its body dropped. */
function dropPatchBody(reg: FakeRegistry, range: string): void {
  reg.fault(
    { kind: 'upload', method: 'PATCH' },
    {
      kind: 'respond',
      respond: (req, _body, res) => {
        res.writeHead(202, { location: `${req.path}?_state=dropped`, range, 'content-length': '0' });
        res.end();
      },
    },
    { times: 1 },
  );
}

const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['A=' + 'r'.repeat(300)] } }));

for (const method of ['patch', 'chunked'] as const) {
  test(`a ${method === 'patch' ? 'streamed PATCH' : 'chunk PATCH'} of a blob in memory answered 202 with a Range short of the bytes sent: E_PROTOCOL naming both offsets, no closing PUT`, async () => {
    const dst = await fake();
    only(dst, method);
    dropPatchBody(dst, '0-9');
    const err = (await ensureBlobAt(dst, config, 0)) as RegpushError;
    assert.equal(err?.code, 'E_PROTOCOL', String(err));
    assert.match(err.message, new RegExp(`holds bytes 0-9 of an upload after a PATCH that sent it up to byte ${config.length - 1}`));
    assert.equal(dst.count({ kind: 'upload', method: 'PUT', when: (r) => r.bytesIn === 0 }), 0, 'not committed');
  });
}

test('a streamed PATCH of a blob read from the source, answered with a Range short of the bytes it passed on: E_PROTOCOL', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('range-layer', 70_000)] });
  only(dst, 'patch');
  dropPatchBody(dst, '0-65535');
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 0, jobs: 1, ...fakeLibraryOptions(src, dst) }).then(
    () => assert.fail('the PATCH body was dropped'),
    (e: RegpushError) => e,
  );
  assert.match(err.message, /holds bytes 0-65535 of an upload after a PATCH that sent it up to byte 69999/);
  assert.equal(dst.manifest('app', '1'), undefined);
});

for (const method of ['patch', 'chunked'] as const) {
  test(`no Range on the answers (${method}): accepted, the blob is stored`, async () => {
    const opts: FakeRegistryOptions = { uploadRange: false };
    const dst = await fake(opts);
    only(dst, method);
    const r = await ensureBlobAt(dst, config, 0);
    assert.deepEqual(r, { digest: digestOf(config), uploaded: true });
    assert.ok(dst.hasBlob('app', digestOf(config)));
  });
}
