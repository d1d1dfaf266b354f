// The bench's WAN link emulator (scripts/bench/wan.mjs): delay, handshake and bandwidth as the
// floors assume them, request and connection counts, and the critical path read from --debug lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/test/unit/ → repository root

interface LinkLike {
  stats: { connections: number; requests: string[]; bytes: { up: number; down: number } };
  proxy(listenPort: number, targetPort: number, rewrite?: [Buffer, Buffer]): Promise<{ port: number }>;
  schedule(dir: 'up' | 'down', len: number, earliest?: number, now?: number): number;
  close(): Promise<void>;
}
interface WanModule {
  Link: new (o: { rttMs: number; mbit: number; name: string }) => LinkLike;
  criticalPath(stderr: string): { requests: number; ms: number; chain: string[] } | undefined;
  wanFloor(id: string, auth: string, profile: Profile, startupMs: number, bytes: number | undefined): { floorMs?: number; rtts?: number };
  wanGoals(rows: GoalRow[], profile: Profile, auth: string, startup: number): { name: string; value?: number; limit?: number; pass?: boolean; reason?: string }[];
}
interface Profile { id: string; rttMs: number; mbit: number }
interface GoalRow { id: string; wallMs?: number; floorMs?: number; runs?: number; valid?: number; skipped?: string; problems?: string[] }
const wan = (): Promise<WanModule> => import(`${ROOT}scripts/bench/wan.mjs`) as Promise<WanModule>;

/** A server answering every request line with `size` bytes of body (and the realm header `realm`). */
async function server(size: number, realm = ''): Promise<{ port: number; close: () => void }> {
  const srv = net.createServer((s) => {
    s.on('data', () => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\nWww-Authenticate: ${realm}\r\n\r\n`);
      s.write(Buffer.alloc(size, 1));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, close: () => srv.close() };
}

/** One request on a new connection through `port`: ms to the first byte and to the last of `size` + head, and the head. */
function ask(port: number, size: number): Promise<{ first: number; last: number; head: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = 0;
    let got = 0;
    let head = '';
    const c = net.connect(port, '127.0.0.1', () => c.write('GET /v2/x/manifests/1 HTTP/1.1\r\nHost: x\r\n\r\n'));
    c.on('data', (d: Buffer) => {
      if (!first) {
        first = performance.now() - t0;
        head = d.toString('latin1').split('\r\n\r\n')[0]!;
      }
      got += d.length;
      if (got >= size + head.length + 4) {
        c.destroy();
        resolve({ first, last: performance.now() - t0, head });
      }
    });
    c.on('error', reject);
  });
}

test('a new connection pays the handshake and one RTT before its first byte; the body crosses at the bandwidth', async () => {
  const { Link } = await wan();
  const s = await server(250_000);
  const link = new Link({ rttMs: 100, mbit: 10, name: 't' }); // 10 Mbit/s = 1.25 MB/s: 250 kB ≈ 200 ms
  const p = await link.proxy(0, s.port);
  try {
    const r = await ask(p.port, 250_000);
    assert.ok(r.first >= 195, `first byte after handshake + RTT (${r.first.toFixed(0)} ms)`);
    // No upper bound here (a loaded machine delays any byte): that the emulator adds nothing beyond
    // the handshake, the RTT and the bandwidth is checked without a clock in Link.schedule's test.
    // handshake 100 + request 50 + 250 kB at 10 Mbit/s 200 + answer 50
    assert.ok(r.last >= 390, `the last byte after ≥ 390 ms (${r.last.toFixed(0)} ms)`);
    assert.equal(link.stats.connections, 1);
    assert.deepEqual(link.stats.requests, ['GET /v2/x/manifests/1']);
    assert.ok(link.stats.bytes.down >= 250_000);
  } finally {
    await link.close();
    s.close();
  }
});

test('Link.schedule: a chunk takes the wire after the bytes before it and not before `earliest` (no clock)', async () => {
  const { Link } = await wan();
  const link = new Link({ rttMs: 100, mbit: 10, name: 't' }); // 1,250 bytes/ms, one way 50 ms
  // 1 MB on a new connection accepted at 0: leaves at 100 (after the handshake), 800 ms on the wire, 50 ms one way.
  assert.equal(link.schedule('up', 1_000_000, 100, 0), 950);
  // bytes handed over at 10 ms on another connection queue behind it: 900 + 1 + 50
  assert.equal(link.schedule('up', 1_250, 0, 10), 951);
  // the other direction has its own FIFO
  assert.equal(link.schedule('down', 1_250, 0, 0), 51);
  assert.deepEqual(link.stats.bytes, { up: 1_001_250, down: 1_250 });
});

test('a request body sent at once on a new connection does not cross the link during the handshake', async () => {
  const { Link } = await wan();
  const size = 1_000_000;
  // answers once the whole body is in
  const srv = net.createServer((s) => {
    let got = 0;
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= size) s.end('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const link = new Link({ rttMs: 100, mbit: 10, name: 't' }); // 10 Mbit/s: 1 MB takes 800 ms
  const p = await link.proxy(0, (srv.address() as net.AddressInfo).port);
  try {
    const ms = await new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      const c = net.connect(p.port, '127.0.0.1');
      c.write(Buffer.alloc(size, 7)); // written before the handshake is over
      c.once('data', () => { resolve(performance.now() - t0); c.destroy(); });
      c.on('error', reject);
    });
    // handshake 100 + body 800 + one way 50 + the answer's one way 50 (a lower bound only: the
    // machine may be slower, never faster; the emulator delivers up to 0.5 ms early per direction)
    assert.ok(ms >= 995, `answer after ${ms.toFixed(0)} ms, expected ≥ 1000 ms`);
  } finally {
    await link.close();
    srv.close();
  }
});

test('the token realm port is rewritten in response heads, keeping their length', async () => {
  const { Link } = await wan();
  const s = await server(10, 'Bearer realm="http://127.0.0.1:15003/token"');
  const link = new Link({ rttMs: 2, mbit: 1000, name: 't' });
  const p = await link.proxy(0, s.port, [Buffer.from('127.0.0.1:15003'), Buffer.from('127.0.0.1:15013')]);
  try {
    const r = await ask(p.port, 10);
    assert.match(r.head, /realm="http:\/\/127\.0\.0\.1:15013\/token"/);
  } finally {
    await link.close();
    s.close();
  }
});

test('criticalPath: the chain of requests back from the last one, from --debug lines', async () => {
  const { criticalPath } = await wan();
  const lines = [
    'debug: 200 ms: http GET http://h/v2/ → 200 (100 ms)',
    'debug: 300 ms: http GET http://h/v2/a/manifests/1 → 200 (100 ms)',
    'debug: 290 ms: http HEAD http://h/v2/a/blobs/sha256:1 → 404 (80 ms)', // overlaps the manifest GET: not on the path
    'debug: 900 ms: http PUT http://h/v2/a/blobs/uploads/x?digest=sha256:2 → 201 (590 ms)',
    'something else',
    'debug: 1000 ms: http PUT http://h/v2/a/manifests/1 → 201 (95 ms)',
  ].join('\n');
  const c = criticalPath(lines)!;
  assert.equal(c.requests, 5, 'every request line counted');
  assert.deepEqual(c.chain, ['GET /v2/', 'GET manifest', 'PUT upload', 'PUT manifest']);
  assert.equal(c.ms, 100 + 100 + 590 + 95);
  assert.equal(criticalPath('no debug lines'), undefined);
});

test('floors: + 3 RTT behind a token host elsewhere, + 2 behind the registry\'s own; limits: the anonymous one + 2 RTT in both', async () => {
  const { wanFloor, wanGoals } = await wan();
  const p = { id: '80ms', rttMs: 80, mbit: 200 }; // 25,000 bytes/ms
  const bytes = 25_000_000; // 1,000 ms at 200 Mbit/s
  assert.deepEqual(wanFloor('push-cold', 'anon', p, 100, bytes), { floorMs: 100 + 5 * 80 + 1000, rtts: 5 });
  assert.deepEqual(wanFloor('push-cold', 'token', p, 100, bytes), { floorMs: 100 + 8 * 80 + 1000, rtts: 8 });
  assert.deepEqual(wanFloor('push-cold', 'token-same', p, 100, bytes), { floorMs: 100 + 7 * 80 + 1000, rtts: 7 });
  assert.deepEqual(wanFloor('push-warm', 'token', p, 100, 0), { floorMs: 100 + 6 * 80, rtts: 6 });
  assert.deepEqual(wanFloor('curl-pipe', 'anon', p, 100, bytes), {}, 'no floor for a row without one');
  assert.deepEqual(wanFloor('push-cold', 'anon', p, 100, undefined), {}, 'no floor without a valid run');
  const limits = (auth: string) => {
    const rows = ['push-cold', 'push-warm', 'copy-cold', 'push-same'].map((id) => ({ id, wallMs: 1, runs: 1, valid: 1, floorMs: wanFloor(id, auth, p, 100, id === 'push-warm' ? 0 : bytes).floorMs }));
    return wanGoals(rows, p, auth, 100).map((g) => g.limit!);
  };
  const anon = limits('anon');
  const close = (a: number[], b: number[]) => a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < 1e-9, `${x} vs ${b[i]}`));
  close(anon, [1.05 * 1500, 3 * 80 + 100 + 50, 1.05 * 1500, 1.2 * (100 + 4 * 80 + 1000)]);
  close(limits('token'), anon.map((x) => x + 2 * 80));
  close(limits('token-same'), anon.map((x) => x + 2 * 80));
});
