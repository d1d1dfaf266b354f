// The fake registry itself (test/fixtures/fake-registry.ts), spoken to with plain fetch: the API
// subset, its checks, auth modes, the request log and the faults. Orchestration tests rely on
// every one of these answers, so each is pinned here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesOf, digestOf, fakeRegistryPool, MT } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
// fetch's types take Uint8Array, not Buffer.
const u8 = (b: Buffer): Uint8Array<ArrayBuffer> => Uint8Array.from(b);
const errCode = async (res: Response) => ((await res.json()) as { errors: { code: string }[] }).errors[0]!.code;

test('ping, manifests by tag and digest with their headers, blobs with Range', async () => {
  const reg = await fake();
  assert.equal((await fetch(`${reg.url}/v2/`)).status, 200);
  const img = reg.seedImage('base/app', { tags: ['1'] });
  for (const ref of ['1', img.digest]) {
    const res = await fetch(`${reg.url}/v2/base/app/manifests/${ref}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), MT.ociManifest);
    assert.equal(res.headers.get('docker-content-digest'), img.digest);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), img.bytes);
  }
  const head = await fetch(`${reg.url}/v2/base/app/manifests/1`, { method: 'HEAD' });
  assert.equal(head.headers.get('content-length'), String(img.size));
  assert.equal((await fetch(`${reg.url}/v2/base/app/manifests/2`)).status, 404);
  assert.equal((await fetch(`${reg.url}/v2/other/manifests/1`)).status, 404);

  const layer = img.layers[1]!;
  const whole = await fetch(`${reg.url}/v2/base/app/blobs/${layer.digest}`);
  assert.equal(digestOf(Buffer.from(await whole.arrayBuffer())), layer.digest);
  const part = await fetch(`${reg.url}/v2/base/app/blobs/${layer.digest}`, { headers: { range: 'bytes=100-' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-${layer.size - 1}/${layer.size}`);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), reg.blob('base/app', layer.digest)!.subarray(100));
  const beyond = await fetch(`${reg.url}/v2/base/app/blobs/${layer.digest}`, { headers: { range: `bytes=${layer.size}-` } });
  assert.equal(beyond.status, 416);
  // Blobs belong to repositories: another repository of the same registry does not have it.
  assert.equal((await fetch(`${reg.url}/v2/elsewhere/blobs/${layer.digest}`, { method: 'HEAD' })).status, 404);
  assert.equal((await fetch(`${reg.url}/v2/base/app/blobs/sha256:nothex`)).status, 400);
  assert.equal((await fetch(`${reg.url}/v2/Bad_Name/manifests/1`)).status, 400);
});

test('manifest PUT: digest checked, every named blob and child must be in the repository', async () => {
  const reg = await fake();
  const img = reg.seedImage('src', { tags: ['1'] });
  const put = (repo: string, ref: string, body: Buffer, type: string = MT.ociManifest) =>
    fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { 'content-type': type }, body: u8(body) });

  const missing = await put('dst', 'v1', img.bytes);
  assert.equal(missing.status, 400);
  const body = (await missing.json()) as { errors: { code: string; detail: { digest: string } }[] };
  assert.equal(body.errors[0]!.code, 'MANIFEST_BLOB_UNKNOWN');
  assert.equal(body.errors[0]!.detail.digest, img.config.digest);
  assert.equal(reg.manifest('dst', 'v1'), undefined);

  assert.equal(await errCode(await put('src', digestOf('other bytes'), img.bytes)), 'DIGEST_INVALID');
  assert.equal(await errCode(await put('src', 'v2', Buffer.from('not json'))), 'MANIFEST_INVALID');
  assert.equal(await errCode(await put('src', 'v2', img.bytes, MT.dockerManifest)), 'MANIFEST_INVALID'); // type ≠ mediaType
  const ok = await put('src', 'v2', img.bytes);
  assert.equal(ok.status, 201);
  assert.equal(ok.headers.get('docker-content-digest'), img.digest);
  assert.deepEqual(reg.tags('src'), ['1', 'v2']);
  assert.equal((await put('src', img.digest, img.bytes)).status, 201);

  // An index needs its children in the repository, as distribution checks.
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ mediaType: MT.ociManifest, digest: img.digest, size: img.size }] }));
  assert.equal(await errCode(await put('dst', 'idx', index, MT.ociIndex)), 'MANIFEST_BLOB_UNKNOWN');
  assert.equal((await put('src', 'idx', index, MT.ociIndex)).status, 201);

  // DELETE by tag drops the tag; by digest the manifest and its tags.
  assert.equal((await fetch(`${reg.url}/v2/src/manifests/v2`, { method: 'DELETE' })).status, 202);
  assert.deepEqual(reg.tags('src'), ['1', 'idx']);
  assert.equal((await fetch(`${reg.url}/v2/src/manifests/${img.digest}`, { method: 'DELETE' })).status, 202);
  assert.deepEqual(reg.tags('src'), ['idx']);
});

test('uploads: monolithic POST, POST+PUT, streamed PATCH, chunks with Content-Range, cancel', async () => {
  const reg = await fake({ chunkMinLength: 1024 });
  const data = bytesOf('upload', 10_000);
  const d = digestOf(data);
  const start = async () => {
    const res = await fetch(`${reg.url}/v2/app/blobs/uploads/`, { method: 'POST' });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('oci-chunk-min-length'), '1024');
    return new URL(res.headers.get('location')!, reg.url).toString();
  };
  const withDigest = (loc: string, digest: string) => {
    const u = new URL(loc);
    u.searchParams.set('digest', digest);
    return u.toString();
  };

  // POST ?digest= with the body: one request.
  const mono = await fetch(`${reg.url}/v2/app/blobs/uploads/?digest=${d}`, { method: 'POST', body: u8(data) });
  assert.equal(mono.status, 201);
  assert.ok(reg.hasBlob('app', d));
  reg.forgetBlob('app', d);

  // POST, then PUT ?digest= carrying everything; a wrong digest is refused and the session stays,
  // holding the bytes (the refusal test below), until it is cancelled.
  let loc = await start();
  assert.equal(await errCode(await fetch(withDigest(loc, digestOf('x')), { method: 'PUT', body: u8(data) })), 'DIGEST_INVALID');
  assert.equal(reg.openUploads(), 1);
  assert.equal((await fetch(loc, { method: 'DELETE' })).status, 204);
  assert.equal(reg.openUploads(), 0);
  loc = await start();
  const put = await fetch(withDigest(loc, d), { method: 'PUT', body: u8(data) });
  assert.equal(put.status, 201);
  assert.equal(put.headers.get('docker-content-digest'), d);

  // Streamed PATCH, then an empty PUT.
  reg.forgetBlob('app', d);
  loc = await start();
  const patch = await fetch(loc, { method: 'PATCH', body: u8(data) });
  assert.equal(patch.status, 202);
  assert.equal(patch.headers.get('range'), `0-${data.length - 1}`);
  loc = new URL(patch.headers.get('location')!, reg.url).toString();
  assert.equal((await fetch(withDigest(loc, d), { method: 'PUT' })).status, 201);

  // Chunks: each must start where the last ended.
  reg.forgetBlob('app', d);
  loc = await start();
  const chunk = (from: number, to: number, range = `${from}-${to - 1}`) =>
    fetch(loc, { method: 'PATCH', headers: { 'content-range': range }, body: u8(data.subarray(from, to)) });
  let res = await chunk(0, 4000);
  assert.equal(res.status, 202);
  loc = new URL(res.headers.get('location')!, reg.url).toString();
  assert.equal((await chunk(5000, 10_000)).status, 416, 'a gap');
  assert.equal((await chunk(4000, 10_000, 'bytes 4000-9999')).status, 416, 'the "bytes " prefix is not the OCI form');
  res = await chunk(4000, 10_000);
  assert.equal(res.status, 202);
  assert.equal((await fetch(withDigest(loc, d), { method: 'PUT' })).status, 201);
  assert.deepEqual(reg.blob('app', d), data);
  // The session's requests are attributed to the digest its PUT named.
  const id = reg.requests({ method: 'PUT', digest: d }).at(-1)!.session;
  assert.deepEqual(
    reg.uploadsFor(d).filter((r) => r.session === id).map((r) => `${r.method} ${r.status}`),
    ['POST 202', 'PATCH 202', 'PATCH 416', 'PATCH 416', 'PATCH 202', 'PUT 201'],
  );

  // Status and cancel.
  loc = await start();
  assert.equal((await fetch(loc)).status, 204);
  assert.equal(reg.openUploads('app'), 1);
  assert.equal((await fetch(loc, { method: 'DELETE' })).status, 204);
  assert.equal(reg.openUploads('app'), 0);
  assert.equal(await errCode(await fetch(loc, { method: 'PATCH', body: u8(data) })), 'BLOB_UPLOAD_UNKNOWN');
});

test('a refused closing PUT keeps its session, as distribution 2.8 does', async () => {
  // Measured against distribution 2.8.2 (Debian docker-registry): POST, PATCH 11 bytes, an empty
  // PUT ?digest= with a wrong digest → 400 DIGEST_INVALID; then GET of the session → 204 Range 0-10,
  // DELETE → 204. POST, a PUT ?digest= carrying 11 bytes with a wrong digest → 400; the session
  // keeps the bytes, and its URL (_state at offset 0) is behind them: GET and DELETE → 404
  // BLOB_UPLOAD_INVALID.
  const reg = await fake({ uploadOffsets: true });
  const data = bytesOf('refused', 11);
  const wrong = digestOf('something else');
  const url = (res: Response) => new URL(res.headers.get('location')!, reg.url).toString();
  const withDigest = (loc: string, digest: string) => {
    const u = new URL(loc);
    u.searchParams.set('digest', digest);
    return u.toString();
  };
  const start = async () => url(await fetch(`${reg.url}/v2/app/blobs/uploads/`, { method: 'POST' }));

  // A closing PUT after a PATCH: refused, the session as it was, cancelled with the PATCH's URL.
  let loc = url(await fetch(await start(), { method: 'PATCH', body: u8(data) }));
  assert.equal(await errCode(await fetch(withDigest(loc, wrong), { method: 'PUT' })), 'DIGEST_INVALID');
  const status = await fetch(loc);
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), '0-10');
  // A ?digest= that is not a digest is refused before the body is read: the session is as it was.
  assert.equal(await errCode(await fetch(withDigest(loc, 'sha256:nope'), { method: 'PUT', body: u8(data) })), 'DIGEST_INVALID');
  assert.equal((await fetch(loc)).status, 204);
  assert.equal((await fetch(loc, { method: 'DELETE' })).status, 204);
  assert.equal(reg.openUploads(), 0);

  // A PUT carrying the bytes: refused after they were written; the URL it went to is behind them.
  loc = await start();
  assert.equal(await errCode(await fetch(withDigest(loc, wrong), { method: 'PUT', body: u8(data) })), 'DIGEST_INVALID');
  assert.equal(await errCode(await fetch(loc)), 'BLOB_UPLOAD_INVALID');
  assert.equal(await errCode(await fetch(loc, { method: 'DELETE' })), 'BLOB_UPLOAD_INVALID');
  assert.equal(reg.openUploads(), 1);
});

test('cross-repository mount: 201 when the source repository has the blob, else a 202 session', async () => {
  const reg = await fake();
  const img = reg.seedImage('src', { tags: ['1'] });
  const l = img.layers[0]!.digest;
  const mounted = await fetch(`${reg.url}/v2/dst/blobs/uploads/?mount=${l}&from=src`, { method: 'POST' });
  assert.equal(mounted.status, 201);
  assert.equal(mounted.headers.get('docker-content-digest'), l);
  assert.ok(reg.hasBlob('dst', l));
  const notThere = await fetch(`${reg.url}/v2/dst/blobs/uploads/?mount=${l}&from=nowhere`, { method: 'POST' });
  assert.equal(notThere.status, 202);
  assert.ok(notThere.headers.get('location'));
  const noMounts = await fake({ mounts: false });
  noMounts.seedImage('src', { layers: ['same'] });
  assert.equal((await fetch(`${noMounts.url}/v2/dst/blobs/uploads/?mount=${digestOf('same')}&from=src`, { method: 'POST' })).status, 202);
});

test('tags/list paginates with Link; referrers lists manifests by subject', async () => {
  const reg = await fake({ maxTagPage: 2 });
  const img = reg.seedImage('app', { tags: ['c', 'a', 'e', 'b', 'd'] });
  const pages: string[][] = [];
  let next: string | undefined = `${reg.url}/v2/app/tags/list?n=100`;
  while (next) {
    const res: Response = await fetch(next);
    pages.push(((await res.json()) as { tags: string[] }).tags);
    const link = res.headers.get('link');
    next = link ? new URL(/<([^>]+)>/.exec(link)![1]!, reg.url).toString() : undefined;
  }
  assert.deepEqual(pages, [['a', 'b'], ['c', 'd'], ['e']]);
  assert.equal((await fetch(`${reg.url}/v2/none/tags/list`)).status, 404);

  const sig = reg.seedImage('app', { layers: ['sig'], subject: { mediaType: img.mediaType, digest: img.digest, size: img.size }, artifactType: 'application/vnd.example.sig' });
  reg.seedImage('app', { layers: ['sbom'], subject: { mediaType: img.mediaType, digest: img.digest, size: img.size }, artifactType: 'application/vnd.example.sbom' });
  const all = (await (await fetch(`${reg.url}/v2/app/referrers/${img.digest}`)).json()) as { manifests: { digest: string }[] };
  assert.equal(all.manifests.length, 2);
  const filtered = await fetch(`${reg.url}/v2/app/referrers/${img.digest}?artifactType=application/vnd.example.sig`);
  assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
  assert.deepEqual(((await filtered.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest), [sig.digest]);
  const without = await fake({ referrers: false });
  const res = await fetch(`${without.url}/v2/app/referrers/${img.digest}`);
  assert.equal(res.status, 404);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
});

test('Basic auth: 401 with a challenge until the right credentials come', async () => {
  const reg = await fake({ auth: { scheme: 'basic', user: 'u', password: 'p' } });
  const none = await fetch(`${reg.url}/v2/`);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Basic realm="fake-registry"');
  const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
  assert.equal((await fetch(`${reg.url}/v2/`, { headers: basic('u', 'wrong') })).status, 401);
  assert.equal((await fetch(`${reg.url}/v2/`, { headers: basic('u', 'p') })).status, 200);
});

test('Bearer auth: the challenge names the scope; tokens carry only what was granted', async () => {
  const reg = await fake({ auth: { scheme: 'bearer', user: 'u', password: 'p', anonymousPull: true } });
  reg.seedImage('app', { tags: ['1'] });
  const challenge = (await fetch(`${reg.url}/v2/app/blobs/uploads/?mount=${digestOf('x')}&from=base`, { method: 'POST' })).headers.get('www-authenticate');
  assert.equal(challenge, `Bearer realm="${reg.url}/token",service="fake-registry",scope="repository:app:pull,push repository:base:pull"`);
  const token = async (scope: string, auth?: string) => {
    const res = await fetch(`${reg.url}/token?service=fake-registry&scope=${encodeURIComponent(scope)}`, { headers: auth ? { authorization: auth } : {} });
    return { status: res.status, token: res.ok ? ((await res.json()) as { token: string }).token : undefined };
  };
  const anon = await token('repository:app:pull,push');
  const bearer = (t?: string) => ({ authorization: `Bearer ${t}` });
  assert.equal((await fetch(`${reg.url}/v2/app/manifests/1`, { headers: bearer(anon.token) })).status, 200, 'anonymous pull');
  const refused = await fetch(`${reg.url}/v2/app/blobs/uploads/`, { method: 'POST', headers: bearer(anon.token) });
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
  assert.equal((await token('repository:app:pull', `Basic ${Buffer.from('u:bad').toString('base64')}`)).status, 401);
  const user = await token('repository:app:pull,push', `Basic ${Buffer.from('u:p').toString('base64')}`);
  assert.equal((await fetch(`${reg.url}/v2/app/blobs/uploads/`, { method: 'POST', headers: bearer(user.token) })).status, 202);
  // oauth2 POST: password grant with offline access, then the refresh token alone.
  const form = (f: Record<string, string>) => fetch(`${reg.url}/token`, { method: 'POST', body: new URLSearchParams({ service: 'fake-registry', client_id: 't', ...f }) });
  const pw = (await (await form({ grant_type: 'password', username: 'u', password: 'p', access_type: 'offline', scope: 'repository:app:push' })).json()) as { refresh_token: string };
  assert.ok(pw.refresh_token);
  assert.equal((await form({ grant_type: 'refresh_token', refresh_token: pw.refresh_token, scope: 'repository:app:pull' })).status, 200);
  assert.equal((await form({ grant_type: 'refresh_token', refresh_token: 'forged' })).status, 401);
  assert.equal(reg.count({ kind: 'token' }), 6);
});

test('faults: a status N times, a dropped connection, a cut body, a delay, a forgotten blob; all in the log', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1'] });
  const f = reg.fault({ method: 'GET', kind: 'manifest' }, { kind: 'status', status: 503, retryAfter: 0 }, { times: 2 });
  const statuses = [];
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${reg.url}/v2/app/manifests/1`);
    statuses.push(res.status);
    if (i === 0) assert.equal(res.headers.get('retry-after'), '0');
    await res.arrayBuffer();
  }
  assert.deepEqual(statuses, [503, 503, 200]);
  assert.equal(f.hits, 2);
  assert.deepEqual(reg.requests({ kind: 'manifest' }).map((r) => [r.status, r.fault]), [[503, 'status'], [503, 'status'], [200, undefined]]);

  const layer = img.layers[1]!;
  const drop = reg.fault({ kind: 'blob', digest: layer.digest }, { kind: 'drop' }, { times: 1 });
  // undici: a connection closed before any answer is `fetch failed`, one cut mid-body `terminated`.
  await assert.rejects(fetch(`${reg.url}/v2/app/blobs/${layer.digest}`), { name: 'TypeError', message: 'fetch failed' });
  assert.equal(drop.hits, 1);
  reg.fault({ kind: 'blob', digest: layer.digest }, { kind: 'drop', afterBytes: 1000 }, { times: 1 });
  const cut = await fetch(`${reg.url}/v2/app/blobs/${layer.digest}`);
  assert.equal(cut.status, 200);
  await assert.rejects(cut.arrayBuffer(), { name: 'TypeError', message: 'terminated' });
  assert.equal(reg.requests({ digest: layer.digest }).at(-1)!.status, undefined, 'no complete answer');

  const slow = reg.fault({ path: '/v2/' }, { kind: 'delay', ms: 150 }, { times: 1 });
  const t0 = Date.now();
  assert.equal((await fetch(`${reg.url}/v2/`)).status, 200);
  assert.ok(Date.now() - t0 >= 140);
  slow.remove();

  reg.fault({ kind: 'upload', method: 'POST' }, { kind: 'forget' });
  const data = Buffer.from('lost');
  assert.equal((await fetch(`${reg.url}/v2/app/blobs/uploads/?digest=${digestOf(data)}`, { method: 'POST', body: u8(data) })).status, 201);
  assert.equal(reg.hasBlob('app', digestOf(data)), false);

  reg.clearFaults();
  reg.fault({ kind: 'upload', when: (r) => r.headers['x-test'] === 'yes' }, { kind: 'status', status: 500, code: 'BLOB_UPLOAD_INVALID' });
  assert.equal((await fetch(`${reg.url}/v2/app/blobs/uploads/`, { method: 'POST' })).status, 202);
  const hit = await fetch(`${reg.url}/v2/app/blobs/uploads/`, { method: 'POST', headers: { 'x-test': 'yes' } });
  assert.equal(await errCode(hit), 'BLOB_UPLOAD_INVALID');
  assert.equal(reg.count({ kind: 'upload', status: 202 }), 1);
  assert.ok(reg.requests({ kind: 'upload', status: 202 })[0]!.session, 'a POST records the session it opened');
  reg.clearLog();
  assert.equal(reg.count(), 0);
});

test('a hold fault answers once its promise settles; seen() resolves on arrival, or on the answer when a status is asked for', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  let release!: () => void;
  reg.fault({ kind: 'manifest', method: 'GET' }, { kind: 'hold', until: new Promise<void>((r) => (release = r)) }, { times: 1 });
  const arrived = reg.seen({ kind: 'manifest', method: 'GET' });
  const answered = reg.seen({ kind: 'manifest', method: 'GET', status: 200 });
  let done = false;
  const res = fetch(`${reg.url}/v2/app/manifests/1`).then((r) => ((done = true), r));
  const entry = await arrived;
  assert.equal(entry.status, undefined, 'arrived, not answered: held');
  // A request that is not held goes through meanwhile.
  assert.equal((await fetch(`${reg.url}/v2/`)).status, 200);
  assert.equal(done, false, 'still held');
  release();
  assert.equal((await res).status, 200);
  assert.equal((await answered).seq, entry.seq);
  assert.equal((await reg.seen({ path: '/v2/' })).status, 200, 'a request already in the log');
});

test('rateLimit: every manifest answer says what is left; a GET spends one, a HEAD none; none left is 429 TOOMANYREQUESTS', async () => {
  const reg = await fake({ rateLimit: { limit: 100, remaining: 2 } });
  reg.seedImage('app', { tags: ['1'] });
  const head = await fetch(`${reg.url}/v2/app/manifests/1`, { method: 'HEAD' });
  assert.equal(head.headers.get('ratelimit-remaining'), '2;w=21600');
  assert.equal(head.headers.get('ratelimit-limit'), '100;w=21600');
  const seenLeft = [];
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${reg.url}/v2/app/manifests/1`);
    seenLeft.push([res.status, res.headers.get('ratelimit-remaining')]);
    if (res.status === 429) assert.equal(await errCode(res), 'TOOMANYREQUESTS');
    else await res.arrayBuffer();
  }
  assert.deepEqual(seenLeft, [[200, '1;w=21600'], [200, '0;w=21600'], [429, '0;w=21600']]);
  assert.equal(reg.rateLimitRemaining, 0);
  assert.equal((await fake()).rateLimitRemaining, undefined, 'no limit unless asked for');
});
