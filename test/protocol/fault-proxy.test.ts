// The fault proxy itself (test/fixtures/fault-proxy.ts), against a tiny upstream: forwarding,
// Location rewriting, nth matching, and what each fault does on the wire.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { match, startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';

const BODY = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
let upstream: http.Server;
let up = '';
let proxy: FaultProxy;

before(async () => {
  upstream = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url?.startsWith('/v2/r/blobs/uploads/')) {
        res.writeHead(202, { location: `${up}/v2/r/blobs/uploads/abc?_state=s`, 'x-got': String(Buffer.concat(chunks).length) });
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY.length, 'www-authenticate': 'Basic realm="r"' });
      res.end(BODY);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  up = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  proxy = await startFaultProxy(up);
});
after(async () => {
  await proxy.close();
  upstream.close();
});

async function get(path: string): Promise<{ status: number; body: Buffer; error?: string; headers: Headers }> {
  try {
    const res = await fetch(proxy.url + path);
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, body, headers: res.headers };
  } catch (err) {
    return { status: 0, body: Buffer.alloc(0), error: String((err as Error).cause ?? err), headers: new Headers() };
  }
}

test('forwards bodies both ways, rewrites upstream Locations to itself, counts bytes', async () => {
  proxy.clearRules();
  proxy.clearRecords();
  const ok = await get('/v2/r/blobs/sha256:' + 'a'.repeat(64));
  assert.equal(ok.status, 200);
  assert.ok(ok.body.equals(BODY));
  const post = await fetch(`${proxy.url}/v2/r/blobs/uploads/`, { method: 'POST', body: 'hello' });
  assert.equal(post.status, 202);
  assert.equal(post.headers.get('location'), `${proxy.url}/v2/r/blobs/uploads/abc?_state=s`);
  assert.equal(post.headers.get('x-got'), '5');
  assert.equal(proxy.bytesOut(), BODY.length);
  assert.equal(proxy.bytesIn(), 5);
  assert.equal(proxy.requests[1]!.location, `${proxy.url}/v2/r/blobs/uploads/abc?_state=s`);
});

test('nth picks the matching occurrence; status faults answer without the upstream', async () => {
  proxy.clearRules();
  proxy.clearRecords();
  proxy.rule({ ...match.blobGet, nth: 2, fault: { kind: 'status', status: 429, retryAfter: 3 } });
  const path = '/v2/r/blobs/sha256:' + 'b'.repeat(64);
  assert.equal((await get(path)).status, 200);
  const limited = await get(path);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '3');
  assert.match(limited.body.toString(), /TOOMANYREQUESTS/);
  assert.equal((await get(path)).status, 200);
  assert.deepEqual(proxy.requests.map((r) => r.fault), [undefined, 'status', undefined]);
});

test('drop cuts the body after N bytes; truncate ends it cleanly; corrupt flips one byte', async () => {
  const path = '/v2/r/blobs/sha256:' + 'c'.repeat(64);
  proxy.clearRules();
  proxy.rule({ ...match.blobGet, nth: 1, fault: { kind: 'drop', afterBytes: 70_000 } });
  const dropped = await get(path);
  assert.ok(dropped.error || dropped.body.length < BODY.length, 'the client sees a broken body');
  assert.equal(proxy.hits('drop')[0]!.bytesOut, 70_000);

  proxy.clearRules();
  proxy.rule({ ...match.blobGet, nth: 1, fault: { kind: 'truncate', afterBytes: 1234 } });
  const short = await get(path);
  assert.equal(short.status, 200);
  assert.ok(short.body.equals(BODY.subarray(0, 1234)));

  proxy.clearRules();
  proxy.rule({ ...match.blobGet, nth: 1, fault: { kind: 'corrupt', at: 100_000 } });
  const bad = await get(path);
  assert.equal(bad.body.length, BODY.length);
  assert.equal(bad.body[100_000], BODY[100_000]! ^ 0xff);
  assert.ok(bad.body.subarray(0, 100_000).equals(BODY.subarray(0, 100_000)));
});

test('rewriteStatus and setHeaders change the answer, not the bytes', async () => {
  proxy.clearRules();
  proxy.rule({ fault: { kind: 'rewriteStatus', from: 200, to: 400 } });
  const nexus = await get('/v2/r/manifests/1');
  assert.equal(nexus.status, 400);
  assert.equal(nexus.headers.get('www-authenticate'), 'Basic realm="r"');
  proxy.clearRules();
  proxy.rule({ ...match.uploadStart, fault: { kind: 'setHeaders', headers: { 'oci-chunk-min-length': '1024' } } });
  const post = await fetch(`${proxy.url}/v2/r/blobs/uploads/`, { method: 'POST' });
  assert.equal(post.headers.get('oci-chunk-min-length'), '1024');
});

test('redirect sends the client to the storage server, which serves upstream bytes and records headers', async () => {
  proxy.clearRules();
  proxy.clearRecords();
  proxy.rule({ ...match.blobGet, fault: { kind: 'redirect' } });
  const res = await fetch(`${proxy.url}/v2/r/blobs/sha256:${'d'.repeat(64)}`, { redirect: 'manual', headers: { authorization: 'Bearer t0k3n-for-registry' } });
  assert.equal(res.status, 307);
  const loc = res.headers.get('location')!;
  assert.ok(loc.startsWith(proxy.storage.url + '/storage/'));
  const ok = await fetch(loc);
  assert.ok(Buffer.from(await ok.arrayBuffer()).equals(BODY));
  const withAuth = await fetch(loc, { headers: { authorization: 'Bearer t0k3n-for-registry' } });
  assert.equal(withAuth.status, 400, 'storage refuses Authorization, as S3 does');
  assert.deepEqual(proxy.storage.requests.map((r) => r.headers.authorization), [undefined, 'Bearer t0k3n-for-registry']);
});

test('stall without afterBytes never answers; reset destroys the connection', async () => {
  proxy.clearRules();
  proxy.rule({ method: 'GET', path: /stall/, fault: { kind: 'stall' } });
  proxy.rule({ method: 'GET', path: /reset/, fault: { kind: 'reset' } });
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 300);
  await assert.rejects(fetch(`${proxy.url}/stall`, { signal: ctl.signal }), { name: 'AbortError' });
  clearTimeout(timer);
  await assert.rejects(fetch(`${proxy.url}/reset`), { name: 'TypeError', message: 'fetch failed' });
});
