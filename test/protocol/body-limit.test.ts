// A registry behind a front with a request body limit (nginx client_max_body_size, 1 MiB unless
// set; ingress-nginx proxy-body-size; goharbor/harbor#3270, pulp/pulp-operator#330): the front
// answers 413 from the request's headers and closes the connection without reading the body, so
// the client's next write fails while the answer waits unread in its socket.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { copy, type RegpushError } from '../../src/index.js';
import { bytesOf, fakeLibraryOptions, startFakeRegistry, type FakeRegistry } from '../fixtures/fake-registry.js';

const opened: { close(): Promise<void> | void }[] = [];
after(async () => {
  for (const o of opened) await o.close();
});

interface Front {
  host: string;
  /** What the front did with each request: `PUT 413`, `PATCH chunk passed` (a Content-Range), `PATCH whole 413`… */
  seen: string[];
}

/**
 * nginx's behaviour in front of `upstream`: a body whose Content-Length is over `limit` is answered
 * 413 at once, unread, and the connection closed (a reset, as the body is still coming); a chunked
 * body is counted as it arrives and answered so once it goes over.
 */
async function bodyLimitFront(upstream: FakeRegistry, limit: number): Promise<Front> {
  const seen: string[] = [];
  const port = Number(upstream.host.split(':')[1]);
  const what = (req: http.IncomingMessage): string => (req.method === 'PATCH' ? `PATCH ${req.headers['content-range'] ? 'chunk' : 'whole'}` : req.method!);
  const refuse = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    seen.push(`${what(req)} 413`);
    const page = '<html><head><title>413 Request Entity Too Large</title></head><body><center><h1>413 Request Entity Too Large</h1></center></body></html>';
    res.writeHead(413, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(page), connection: 'close' });
    res.end(page, () => req.socket.destroy());
  };
  const server = http.createServer((req, res) => {
    const stated = req.headers['content-length'];
    if (stated !== undefined && Number(stated) > limit) return refuse(req, res);
    const parts: Buffer[] = [];
    let got = 0;
    let refused = false;
    req.on('data', (c: Buffer) => {
      got += c.length;
      parts.push(c);
      if (got > limit && !refused) {
        refused = true;
        refuse(req, res);
      }
    });
    req.on('end', () => {
      if (refused) return;
      seen.push(`${what(req)} passed`);
      const headers = { ...req.headers };
      delete headers['transfer-encoding'];
      if (got > 0 || stated !== undefined) headers['content-length'] = String(got);
      const up = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers }, (r) => {
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      });
      up.end(Buffer.concat(parts));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  opened.push({ close: () => new Promise<void>((r) => server.close(() => r())) });
  server.on('connection', (s) => opened.push({ close: () => void s.destroy() }));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function registries(): Promise<[FakeRegistry, FakeRegistry]> {
  const src = await startFakeRegistry();
  const dst = await startFakeRegistry();
  opened.push(src, dst);
  return [src, dst];
}

test('a 413 from a body-limited front, sent before the body was read, is read and not retried: the blob goes in chunks under the limit', async () => {
  const [src, dst] = await registries();
  const img = src.seedImage('app', { tags: ['1'], layers: [bytesOf('big', 3_000_000), 'small'] });
  const front = await bodyLimitFront(dst, 1_000_000);
  const o = fakeLibraryOptions(src, dst);
  const r = await copy({ from: src.ref('app:1'), to: [`${front.host}/app:1`], retries: 2, ...o, insecureRegistries: [...o.insecureRegistries, front.host] });
  assert.ok(r.targets[0]!.ok, String(r.targets[0]!.error));
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
  // The monolithic PUT once, and no streamed PATCH of the same bytes after it: only chunks, halved
  // while they are refused too (2 MiB, 1 MiB, then 512 KiB under this 1,000,000-byte limit).
  assert.deepEqual(front.seen.filter((s) => s === 'PUT 413'), ['PUT 413'], front.seen.join('; '));
  const big = img.layers.find((l) => l.size === 3_000_000)!;
  assert.ok(front.seen.filter((s) => s === 'PATCH chunk passed').length >= 3, 'the large layer went in chunks');
  assert.ok(!front.seen.some((s) => s.startsWith('PATCH whole')), 'no streamed PATCH of the whole blob');
  assert.ok(dst.blob('app', big.digest), 'the large layer is there');
  assert.equal(dst.openUploads(), 0);
});

test('a 413 for a blob smaller than any chunk can be: the answer is the error, with what to raise, and nothing else is tried', async () => {
  const [src, dst] = await registries();
  src.seedImage('app', { tags: ['1'], layers: [bytesOf('mid', 50_000)] });
  const front = await bodyLimitFront(dst, 20_000);
  const o = fakeLibraryOptions(src, dst);
  const err = await copy({ from: src.ref('app:1'), to: [`${front.host}/app:1`], retries: 2, ...o, insecureRegistries: [...o.insecureRegistries, front.host] }).then(
    (r) => r.targets[0]!.error as RegpushError | undefined,
    (e: RegpushError) => e,
  );
  assert.equal(err?.code, 'E_REGISTRY', String(err));
  assert.match(err!.message, /answered 413 \(the request body is larger than 127\.0\.0\.1:\d+ or a proxy in front of it accepts; its operator can raise the limit \(nginx client_max_body_size, ingress-nginx proxy-body-size\)\)/);
  assert.doesNotMatch(err!.message, /EPIPE|HTTPS_PROXY/);
  assert.deepEqual(front.seen.filter((s) => s.endsWith(' 413')), ['PUT 413'], 'sent once: not retried, no PATCH of the same bytes');
  assert.equal(dst.count({ kind: 'upload', method: 'PATCH' }), 0);
});

test('after a 413, a blob no larger than the chunks still goes in one PUT; one larger (the refused size or between) goes in chunks without a PUT first', async () => {
  const [src, dst] = await registries();
  // Copied one tag after the other (images: 1): tag a's large layer meets the limit first.
  src.seedImage('app', { tags: ['a'], layers: [bytesOf('big', 3_000_000)] });
  const b = src.seedImage('app', { tags: ['b'], layers: [bytesOf('small', 200_000), bytesOf('larger', 4_000_000), bytesOf('between', 2_000_000)] });
  const front = await bodyLimitFront(dst, 1_000_000);
  const o = fakeLibraryOptions(src, dst);
  const infos: string[] = [];
  const logger = { debug: () => {}, info: (m: string) => infos.push(m), warn: () => {} };
  const r = await copy({ from: src.ref('app'), to: [`${front.host}/app`], allTags: true, images: 1, retries: 2, logger, ...o, insecureRegistries: [...o.insecureRegistries, front.host] });
  assert.ok(r.targets.every((t) => t.ok), JSON.stringify(r.targets.map((t) => t.error)));
  assert.equal(dst.manifest('app', 'b')?.digest, b.digest);
  // b's config and small layer: one PUT each, carrying the blob, on a session with no PATCH.
  for (const blob of [b.config, b.layers[0]!]) {
    const sent = dst.uploadsFor(blob.digest).filter((q) => q.method !== 'POST');
    assert.deepEqual(sent.map((q) => `${q.method} ${q.bytesIn} ${q.status}`), [`PUT ${blob.size} 201`], `${blob.digest} (${blob.size} bytes) in one PUT`);
  }
  // b's larger layer: chunks under the limit at once, never offered whole.
  const larger = b.layers[1]!;
  const its = dst.uploadsFor(larger.digest);
  assert.ok(its.filter((q) => q.method === 'PATCH').length >= 4, its.map((q) => `${q.method} ${q.bytesIn}`).join('; '));
  // One smaller than the refused 3 MB but larger than the chunks (the limit lies below them): in
  // chunks too, not a whole PUT refused in its turn.
  const between = dst.uploadsFor(b.layers[2]!.digest);
  assert.ok(between.filter((q) => q.method === 'PATCH').length >= 3 && !between.some((q) => q.method === 'PUT' && q.bytesIn > 0), between.map((q) => `${q.method} ${q.bytesIn}`).join('; '));
  assert.deepEqual(front.seen.filter((s) => s.endsWith(' 413')), ['PUT 413', 'PATCH chunk 413', 'PATCH chunk 413'], `the one whole body refused is tag a's layer (then its 2 MiB and 1 MiB chunks): ${front.seen.join('; ')}`);
  assert.equal(infos.filter((m) => m.includes('refused a request body')).length, 1, infos.join('\n'));
  assert.equal(dst.openUploads(), 0);
});
