// The Range of a PATCH's answer is not trusted to fail an upload: Amazon ECR stores every chunk
// while its Range stays at the first chunk's end (aws/containers-roadmap#2831), and older Zot
// answered the chunk's own range (regclient#961). The closing PUT's digest check decides; when it
// refuses the digest after a short Range, its error names both offsets.
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

test('chunks answered as Amazon ECR does (every chunk stored, Range stuck at the first chunk\'s end): the upload succeeds', async () => {
  const dst = await fake({ uploadRange: 'first-chunk' });
  only(dst, 'chunked');
  const blob = bytesOf('ecr-chunks', 3 * 64 * 1024 + 1000);
  const r = await ensureBlobAt(dst, blob, 0, { chunkSize: 64 * 1024 });
  assert.deepEqual(r, { digest: digestOf(blob), uploaded: true });
  assert.ok(dst.hasBlob('app', digestOf(blob)));
  assert.equal(dst.count({ kind: 'upload', method: 'PATCH', status: 202 }), 4, 'four chunks taken');
});

for (const method of ['patch', 'chunked'] as const) {
  test(`a ${method === 'patch' ? 'streamed PATCH' : 'chunk PATCH'} answered with a Range short of the bytes sent, its body dropped: the closing PUT's DIGEST_INVALID names both offsets`, async () => {
    const dst = await fake();
    only(dst, method);
    dropPatchBody(dst, '0-9');
    const err = (await ensureBlobAt(dst, config, 0)) as RegpushError;
    assert.equal(err?.code, 'E_DIGEST_MISMATCH', String(err));
    assert.match(err.message, /DIGEST_INVALID/);
    assert.match(err.message, new RegExp(`a PATCH before it was answered with Range "0-9" after bytes 0-${config.length - 1} were sent`));
    assert.equal(dst.count({ kind: 'upload', method: 'PUT', when: (r) => r.bytesIn === 0 }), 1, 'the closing PUT decided');
  });
}

test('a streamed PATCH of a blob read from the source, answered with a Range short of the bytes it passed on and its body dropped: the DIGEST_INVALID names both offsets', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('range-layer', 70_000)] });
  only(dst, 'patch');
  dropPatchBody(dst, '0-65535');
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 0, jobs: 1, ...fakeLibraryOptions(src, dst) }).then(
    () => assert.fail('the PATCH body was dropped'),
    (e: RegpushError) => e,
  );
  assert.equal(err.code, 'E_DIGEST_MISMATCH', String(err));
  assert.match(err.message, /answered with Range "0-65535" after bytes 0-69999 were sent/);
  assert.equal(dst.manifest('app', '1'), undefined);
});

test('a DIGEST_INVALID without a short Range before it says nothing of offsets', async () => {
  const dst = await fake();
  only(dst, 'patch');
  dst.fault({ kind: 'upload', method: 'PUT', when: (r) => r.headers['content-length'] === '0' }, { kind: 'status', status: 400, code: 'DIGEST_INVALID' }, { times: 1 });
  const err = (await ensureBlobAt(dst, config, 0)) as RegpushError;
  assert.equal(err?.code, 'E_DIGEST_MISMATCH', String(err));
  assert.doesNotMatch(err.message, /Range/);
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
