// A request that carries upload bytes to a session URL is never sent again to that URL: a registry
// that took part of its body (distribution writes a body as it arrives) has moved the session past
// the offset its `_state` names, and answers the same request again 404 BLOB_UPLOAD_INVALID. The
// blob starts again on a new session instead, within its one retry budget. The fake registry keeps
// the offset in `_state` as distribution does (`uploadOffsets`) and takes the bytes of a request
// cut mid-body (`cut`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { push } from '../../src/index.js';
import { RegpushError } from '../../src/errors.js';
import { ensureBlobAt } from '../fixtures/ensure-blob.js';
import { digestOf, fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { sessionLedger } from '../fixtures/session-ledger.js';

const fake = fakeRegistryPool();

/** A directory whose layer is about 300 kB of gzip output: under SMALL_LAYER_BYTES, so it goes as one PUT from memory. */
function smallApp(): string {
  const d = mkdtempSync(join(tmpdir(), 'regpush-upload-replay-'));
  writeFileSync(join(d, 'noise.bin'), randomBytes(300 * 1000));
  return d;
}

/** The PUTs that carried the layer (a body over 100 kB; the config's is a few hundred bytes). */
const layerPuts = (dst: FakeRegistry) => dst.requests({ kind: 'upload', method: 'PUT', when: (r) => r.bytesIn > 100_000 || r.fault !== undefined });

// The auditor's case against distribution 2.8: the connection breaks after 250 KiB of the PUT.
// Each fault: a cut without an answer, and a proxy's 502/504 after it passed part of the body on.
for (const status of [undefined, 502, 504] as const) {
  test(`push of a small layer whose one PUT ${status ? `is answered ${status} after part of its body reached the registry` : 'is cut after 250 KiB'}: the layer starts again on a new session, the image is whole, the cut session is left and named once in a warning`, async () => {
    const dst = await fake({ uploadOffsets: true });
    const dir = smallApp();
    const warnings: string[] = [];
    const notes: string[] = [];
    try {
      dst.fault({ kind: 'upload', method: 'PUT', when: (r) => Number(r.headers['content-length']) > 100_000 }, { kind: 'cut', afterBytes: 250 * 1024, status }, { times: 1 });
      const ledger = sessionLedger(dst);
      const logger = { debug() {}, info: (m: string) => void notes.push(m), warn: (m: string) => void warnings.push(m) };
      const r = await push({ from: 'scratch', app: [{ src: dir, dest: '/app' }], to: dst.ref('app:1'), retries: 2, ...fakeLibraryOptions(dst), logger });
      const now = ledger();
      assert.equal(r.layer?.method, 'put', 'the small layer went as one PUT, both times');
      const restart = notes.filter((n) => /upload failed/.test(n));
      assert.equal(restart.length, 1, JSON.stringify(notes));
      assert.match(restart[0]!, /; sending it again on a new session in \d+ ms$/, 'held whole, the layer is sent again, not rebuilt');
      const puts = layerPuts(dst);
      assert.equal(puts.length, 2, 'the cut PUT, then one on a new session');
      assert.notEqual(puts[0]!.session, puts[1]!.session, 'not sent again to the session it was cut on');
      assert.equal(puts[1]!.status, 201);
      assert.ok(dst.hasBlob('app', r.layer!.digest));
      assert.equal(dst.manifest('app', '1')?.digest, r.digest);
      // The cut session: its cancel, with the state the client held, is answered
      // BLOB_UPLOAD_INVALID, and distribution keeps the session and its bytes.
      const cancel = dst.requests({ kind: 'upload', method: 'DELETE', when: (d) => d.session === puts[0]!.session });
      assert.deepEqual(cancel.map((d) => [d.status, d.code]), [[404, 'BLOB_UPLOAD_INVALID']], 'the abandoned session was cancelled');
      assert.deepEqual(now.open, []);
      assert.deepEqual(now.left, [puts[0]!.session], 'exactly the cut session is left');
      assert.equal(dst.openUploads(), 1);
      const said = warnings.filter((w) => /upload session/.test(w));
      assert.equal(said.length, 1, `one warning names it: ${JSON.stringify(warnings)}`);
      const why = status ? 'the registry did not confirm the cancel' : 'cut in the middle of a monolithic PUT';
      assert.match(said[0]!, new RegExp(`^1 upload session could not be cancelled and may stay in the registry's upload area until it purges stale uploads: ${dst.host}/app \\(\\d+ bytes sent, ${why}\\)$`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a config whose PUT is cut mid-body: uploaded again on a new session (not replayed to the cut one)', async () => {
  const dst = await fake({ uploadOffsets: true });
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['A=' + 'x'.repeat(400)] } }));
  dst.fault({ kind: 'upload', method: 'PUT' }, { kind: 'cut', afterBytes: 100 }, { times: 1 });
  const ledger = sessionLedger(dst);
  const r = await ensureBlobAt(dst, config, 1);
  assert.deepEqual(r, { digest: digestOf(config), uploaded: true });
  const puts = dst.requests({ kind: 'upload', method: 'PUT' });
  assert.equal(puts.length, 2);
  assert.notEqual(puts[0]!.session, puts[1]!.session);
  assert.ok(dst.hasBlob('app', digestOf(config)));
  assert.deepEqual(ledger().open, []);
  assert.deepEqual(ledger().left, [puts[0]!.session], 'the cut session stays, as in distribution');
  assert.equal(dst.openUploads(), 1);
});

test('a config whose every PUT is cut: one retry level, --retries 1 sends it twice in all and fails with the cut, not with BLOB_UPLOAD_INVALID', async () => {
  const dst = await fake({ uploadOffsets: true });
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['A=' + 'y'.repeat(400)] } }));
  dst.fault({ kind: 'upload', method: 'PUT' }, { kind: 'cut', afterBytes: 100 });
  const err = await ensureBlobAt(dst, config, 1);
  assert.ok(err instanceof RegpushError, String(err));
  assert.equal(err.code, 'E_NETWORK');
  assert.match(err.message, new RegExp(`^cannot reach ${dst.host.replace(/\./g, '\\.')}: connection reset \\(ECONNRESET\\)`));
  assert.doesNotMatch(err.message, /BLOB_UPLOAD_INVALID|404/);
  const puts = dst.requests({ kind: 'upload', method: 'PUT' });
  assert.equal(puts.length, 2, 'the first PUT and one restart');
  assert.equal(new Set(puts.map((p) => p.session)).size, 2, 'each on its own session');
  assert.equal(dst.openUploads(), 2, 'both cut sessions stay, as in distribution');
});

test('a closing PUT whose answer is lost, sent again by the transport and answered 404 BLOB_UPLOAD_INVALID: the HEAD finds the blob landed, and the upload succeeds', async () => {
  const dst = await fake();
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['A=z'] } }));
  // The monolithic PUT refused, so the bytes go as a PATCH closed by an empty PUT ?digest=.
  dst.fault({ kind: 'upload', method: 'PUT', when: (r) => r.headers['content-length'] !== '0' }, { kind: 'status', status: 405, code: 'UNSUPPORTED' });
  const closing = { kind: 'upload' as const, method: 'PUT', when: (r: { headers: Record<string, unknown> }) => r.headers['content-length'] === '0' };
  dst.fault(closing, { kind: 'lose' }, { times: 1 });
  dst.fault(closing, { kind: 'status', status: 404, code: 'BLOB_UPLOAD_INVALID' }, { times: 1 });
  const r = await ensureBlobAt(dst, config, 1);
  assert.deepEqual(r, { digest: digestOf(config), uploaded: true });
  const closings = dst.requests({ kind: 'upload', method: 'PUT', when: (p) => p.bytesIn === 0 });
  assert.deepEqual(closings.map((p) => p.fault), ['lose', 'status'], 'the closing PUT, then the transport\'s replay of it');
  assert.equal(dst.count({ kind: 'blob', method: 'HEAD', digest: digestOf(config) }), 2, 'the config\'s HEAD, and the one asking whether it landed');
});

test('a closing PUT whose answer is lost, sent again and answered 404 BLOB_UPLOAD_UNKNOWN, where the blob HEAD that follows carries no Content-Length: the blob counts as landed', async () => {
  const dst = await fake();
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['A=no-length'] } }));
  const digest = digestOf(config);
  dst.fault({ kind: 'upload', method: 'PUT', when: (r) => r.headers['content-length'] !== '0' }, { kind: 'status', status: 405, code: 'UNSUPPORTED' });
  dst.fault({ kind: 'upload', method: 'PUT', when: (r) => r.headers['content-length'] === '0' }, { kind: 'lose' }, { times: 1 });
  // Once stored, the blob's HEAD says 200 without a length (a proxy or registry that leaves it out).
  dst.fault(
    { kind: 'blob', method: 'HEAD', when: () => dst.hasBlob('app', digest) },
    {
      kind: 'respond',
      respond: (_req, _body, res) => {
        res.removeHeader('content-length');
        res.writeHead(200, { 'docker-content-digest': digest });
        res.end();
      },
    },
  );
  const r = await ensureBlobAt(dst, config, 1);
  assert.deepEqual(r, { digest, uploaded: true });
  const heads = dst.requests({ kind: 'blob', method: 'HEAD', digest, status: 200 });
  assert.equal(heads.length, 1, 'the HEAD that asked whether it landed');
});
