import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { AbortedError, DigestMismatchError, NetworkError, RegistryError, TooManyRequestsError } from '../../src/errors.js';
import { DEFAULT_RETRY_POLICY, outcomeOfError, RetryBudget } from '../../src/http/retry.js';
import { chunkSizeFor, DEFAULT_CHUNK_SIZE, headsAfterUpload, KNOWN_QUIRKS, knownQuirksFor, pickUploadMethod, UploadMemory } from '../../src/registry/quirks.js';
import { chunks, isUploadRefusal } from '../../src/transfer/upload.js';
import { chunkSizeOption, idleTimeoutOption } from '../../src/cli/common.js';

const fixed = { ...DEFAULT_RETRY_POLICY, random: () => 0.5, baseDelayMs: 100, maxDelayMs: 1000 };

test('outcomeOfError: transient errors map to an outcome, final ones to undefined', () => {
  assert.deepEqual(outcomeOfError(new NetworkError('x', { details: { errno: 'ECONNRESET' } })), { errno: 'ECONNRESET' });
  assert.deepEqual(outcomeOfError(new RegistryError('x', { details: { status: 503 } })), { status: 503, retryAfter: undefined });
  assert.deepEqual(outcomeOfError(new TooManyRequestsError('x', { details: { status: 429, retryAfter: '7' } })), { status: 429, retryAfter: '7' });
  assert.deepEqual(outcomeOfError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })), { errno: 'ECONNRESET' });
  assert.deepEqual(outcomeOfError(new Error('socket hang up')), { errno: 'ECONNRESET' });
  for (const final of [new AbortedError(), new DigestMismatchError('x', { details: { status: 400 } }), new RegistryError('x', { details: { status: 400 } }), new RegistryError('x', { details: { status: 501 } }), new Error('bug'), undefined]) {
    assert.equal(outcomeOfError(final), undefined, String(final));
  }
});

test('RetryBudget: one count across levels, Retry-After kept, refusals do not spend it', () => {
  const b = new RetryBudget({ ...fixed, retries: 2 });
  assert.equal(b.next({ status: 400 }), null, 'not retryable: no retry, nothing spent');
  assert.equal(b.spent, 0);
  assert.equal(b.next({ errno: 'ECONNRESET' }), 75);
  assert.equal(b.next({ status: 429, retryAfter: '3' }), 3000);
  assert.equal(b.spent, 2);
  assert.equal(b.next({ errno: 'ECONNRESET' }), null, 'spent');
  assert.equal(new RetryBudget({ ...fixed, retries: 0 }).next({ errno: 'ETIMEDOUT' }), null, '--retries 0 means none');
});

test('chunks() cuts streams and buffers into exact sizes, the last one shorter', async () => {
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));
  const pieces = [data.subarray(0, 7), data.subarray(7, 300), data.subarray(300, 301), data.subarray(301)];
  const got: Buffer[] = [];
  for await (const c of chunks(Readable.from(pieces), 256)) got.push(Buffer.from(c));
  assert.deepEqual(got.map((c) => c.length), [256, 256, 256, 232]);
  assert.ok(Buffer.concat(got).equals(data));
  const fromBuf: number[] = [];
  for await (const c of chunks(data, 400)) fromBuf.push(c.length);
  assert.deepEqual(fromBuf, [400, 400, 200]);
  const empty: Buffer[] = [];
  for await (const c of chunks(Readable.from([]), 10)) empty.push(c);
  assert.equal(empty.length, 0);
});

test('isUploadRefusal: 400/405/411/413/415/416/501 without a digest error', () => {
  for (const s of [400, 405, 411, 413, 415, 416, 501]) assert.ok(isUploadRefusal(new RegistryError('x', { details: { status: s } })), String(s));
  for (const s of [401, 403, 404, 429, 500, 503]) assert.ok(!isUploadRefusal(new RegistryError('x', { details: { status: s } })), String(s));
  assert.ok(!isUploadRefusal(new DigestMismatchError('DIGEST_INVALID', { details: { status: 400 } })));
  assert.ok(!isUploadRefusal(new Error('400')));
});

test('pickUploadMethod after a 413 (tooLarge): whole-body methods for smaller bodies only; a body of the refused size or more, or of a size not known, goes in chunks', () => {
  const q = new UploadMemory().of('127.0.0.1:5000');
  const all = ['put', 'patch', 'chunked'] as const;
  assert.equal(pickUploadMethod(q, all), 'put', 'no 413 yet: any size goes whole');
  q.tooLarge = 1_000_000;
  assert.equal(pickUploadMethod(q, all, 999_999), 'put');
  assert.equal(pickUploadMethod(q, ['patch', 'put', 'chunked'], 400), 'patch');
  assert.equal(pickUploadMethod(q, all, 1_000_000), 'chunked');
  assert.equal(pickUploadMethod(q, all, 5_000_000), 'chunked');
  assert.equal(pickUploadMethod(q, all), 'chunked', 'a streamed layer, its size not known before it is sent');
  assert.equal(pickUploadMethod(q, ['put', 'patch'], 5_000_000), undefined);
  q.refused.add('chunked');
  assert.equal(pickUploadMethod(q, all, 5_000_000), undefined);
});

test('quirks: one memory per run and registry, seeded from the table', () => {
  const run1 = new UploadMemory();
  const run2 = new UploadMemory();
  const q = run1.of('127.0.0.1:5000');
  assert.equal(q.chunkSize, DEFAULT_CHUNK_SIZE);
  q.refused.add('put');
  assert.equal(run1.of('127.0.0.1:5000'), q, 'remembered within the run');
  assert.equal(run2.of('127.0.0.1:5000').refused.size, 0, 'never shared between runs');
  assert.equal(pickUploadMethod(q, ['put', 'patch', 'chunked']), 'patch');
  assert.equal(pickUploadMethod(q, ['put']), undefined);
  const gar = run1.of('europe-docker.pkg.dev');
  assert.deepEqual([...gar.refused], ['chunked']);
  assert.equal(pickUploadMethod(gar, ['chunked']), undefined);
  assert.equal(run1.of('ghcr.io').chunkSize, 4 * 1024 * 1024);
  assert.equal(run1.of('123456789012.dkr.ecr.eu-west-1.amazonaws.com').chunkSize, 8 * 1024 * 1024);
  assert.equal(new UploadMemory({ chunkSize: 1024 * 1024 }).of('ghcr.io').chunkSize, 1024 * 1024, '--chunk-size wins');
  assert.equal(chunkSizeFor(new UploadMemory({ chunkSize: 1000 }).of('x'), 5000), 5000, 'OCI-Chunk-Min-Length wins');
  assert.deepEqual(knownQuirksFor('gcr.io').map((k) => k.registry), ['Google Artifact Registry / GCR']);
  assert.deepEqual(knownQuirksFor('example.com'), []);
});

test('quirks table: every entry names its source issue and where regpush handles it', () => {
  assert.ok(KNOWN_QUIRKS.length >= 6);
  for (const k of KNOWN_QUIRKS) {
    assert.match(k.source, /#\d+|comments/, `${k.registry} cites an issue`);
    assert.ok(k.behaviour && k.handledIn, k.registry);
  }
});

test('quirks table and docs/registry-quirks.md: every issue an entry cites is cited in the document, which explains it', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../../docs/registry-quirks.md', import.meta.url)), 'utf8');
  const cited = KNOWN_QUIRKS.flatMap((k) => (k.source.match(/[\w.-]+\/[\w.-]+#\d+/g) ?? []).map((issue) => ({ registry: k.registry, issue })));
  assert.ok(cited.length >= KNOWN_QUIRKS.length - 1, 'the entries cite issues (the check is not vacuous)');
  assert.deepEqual(cited.filter((c) => !doc.includes(c.issue)), [], 'cited by the table, not by the document');
});

test('headsAfterUpload: Aliyun ACR hosts keep the HEAD after an upload, others take the 201', () => {
  for (const h of ['registry.cn-hangzhou.aliyuncs.com', 'crpi-abc.cn-shanghai.personal.cr.aliyuncs.com:443', 'aliyuncs.com']) assert.equal(headsAfterUpload(h), true, h);
  for (const h of ['ghcr.io', '127.0.0.1:5000', 'aliyuncs.com.example.org', 'notaliyuncs.com']) assert.equal(headsAfterUpload(h), false, h);
});

test('CLI size and timeout parsing', () => {
  assert.equal(chunkSizeOption(undefined), undefined);
  assert.equal(chunkSizeOption('5MiB'), 5 * 1024 * 1024);
  assert.equal(chunkSizeOption('5m'), 5 * 1024 * 1024);
  assert.equal(chunkSizeOption('262144'), 262144);
  assert.equal(chunkSizeOption('0.5 GiB'), 512 * 1024 * 1024);
  for (const bad of ['0', '1023', 'x', '5MB', '2GiB', '-1', '']) assert.throws(() => chunkSizeOption(bad), { name: 'UsageError', code: 'E_USAGE', message: /--chunk-size/ }, bad);
  assert.equal(idleTimeoutOption({}), undefined);
  assert.equal(idleTimeoutOption({ REGPUSH_IDLE_TIMEOUT_MS: '1500' }), 1500);
  for (const bad of ['0', '99', 'soon', '1.5', '9999999']) assert.throws(() => idleTimeoutOption({ REGPUSH_IDLE_TIMEOUT_MS: bad }), { name: 'InputError', code: 'E_INPUT', message: /REGPUSH_IDLE_TIMEOUT_MS/ }, bad);
});
