// The bench's set-up client (scripts/bench/http.mjs): the source registry's bearer token is
// fetched again when it nears its end (a --large run pushes its 1 GiB inputs long after the
// set-up's first token expired, and every 1 GiB row was then skipped), and a Registry asks its
// token source before each request without losing a streamed body meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/test/unit/ → repository root

interface HttpModule {
  bearerSource(get: () => Promise<{ token: string; expiresIn?: number }>, now?: () => number): () => Promise<string>;
  Registry: new (url: string, authorization?: string | (() => Promise<string>)) => {
    streamBlob(repo: string, makeBody: () => Readable, finish: () => { digest: string }): Promise<string>;
  };
}
const mod = (): Promise<HttpModule> => import(`${ROOT}scripts/bench/http.mjs`) as Promise<HttpModule>;

test('bearerSource: one token until half its lifetime has passed, then a fresh one', async () => {
  const { bearerSource } = await mod();
  let clock = 0;
  let n = 0;
  const src = bearerSource(async () => ({ token: `t${++n}`, expiresIn: 300 }), () => clock);
  assert.equal(await src(), 'Bearer t1');
  clock = 149_000;
  assert.equal(await src(), 'Bearer t1');
  clock = 150_000;
  assert.equal(await src(), 'Bearer t2', 'renewed at half of 300 s');
  clock = 10 * 60_000; // a --large set-up after rounds of several minutes
  assert.equal(await src(), 'Bearer t3');
  const noLifetime = bearerSource(async () => ({ token: `u${++n}` }), () => clock);
  const first = await noLifetime();
  clock += 59_000;
  assert.equal(await noLifetime(), first);
  clock += 1_000;
  assert.notEqual(await noLifetime(), first, 'without expires_in: renewed after 60 s');
});

test('Registry: a token source asked before each request, a streamed body sent whole', async () => {
  const { Registry } = await mod();
  const seen: string[] = [];
  let patched = 0;
  const srv = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.headers.authorization ?? ''}`);
    let n = 0;
    req.on('data', (c: Buffer) => { n += c.length; });
    req.on('end', () => {
      if (req.method === 'POST') { res.writeHead(202, { location: '/v2/r/blobs/uploads/1' }); res.end(); }
      else if (req.method === 'PATCH') { patched = n; res.writeHead(202, { location: '/v2/r/blobs/uploads/1' }); res.end(); }
      else { res.writeHead(201); res.end(); }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    let asked = 0;
    // slow, as a token fetch is: the body must not start flowing before the PATCH takes it
    const auth = async () => { asked++; await new Promise((r) => setTimeout(r, 20)); return `Bearer x${asked}`; };
    const reg = new Registry(`http://127.0.0.1:${(srv.address() as { port: number }).port}`, auth);
    const size = 3 << 20;
    let made = 0;
    const digest = await reg.streamBlob('r', () => {
      const body = Readable.from((function* () { for (let i = 0; i < size / 65536; i++) yield Buffer.alloc(65536, i); })());
      body.on('data', (c: Buffer) => { made += c.length; });
      return body;
    }, () => ({ digest: 'sha256:0' }));
    assert.equal(digest, 'sha256:0');
    assert.equal(made, size);
    assert.equal(patched, size, 'every byte of the stream reached the registry');
    assert.deepEqual(seen, ['POST Bearer x1', 'PATCH Bearer x2', 'PUT Bearer x3']);
  } finally {
    srv.close();
  }
});
