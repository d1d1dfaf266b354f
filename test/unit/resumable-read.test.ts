// resumableRead against scripted source bodies (no sockets): resume offsets, a server that ignores
// Range, byte-count enforcement, retries exhausted, and a consumer that gives up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../../src/http/retry.js';
import { resumableRead, type OpenAt } from '../../src/transfer/resumable-read.js';
import { NetworkError } from '../../src/errors.js';

const policy = (retries: number): RetryPolicy => ({ ...DEFAULT_RETRY_POLICY, retries, baseDelayMs: 1, maxDelayMs: 2 });
const blob = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

/** A body that sends `bytes` in 100-byte chunks, then ends, or fails with `fail` (an errno) instead of ending. */
function body(bytes: Buffer, fail?: string): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 100) parts.push(bytes.subarray(i, i + 100));
  let i = 0;
  return new Readable({
    read() {
      if (i < parts.length) this.push(parts[i++]);
      else if (fail) this.destroy(Object.assign(new Error(`read ${fail}`), { code: fail }));
      else this.push(null);
    },
  });
}

async function readAll(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}

test('a clean read passes the bytes through and reports them', async () => {
  let reported = 0;
  const opens: number[] = [];
  const open: OpenAt = async (start) => (opens.push(start), { body: body(blob), partial: false, size: blob.length });
  const got = await readAll(resumableRead({ open, size: blob.length, what: 'blob', policy: policy(3), onBytes: (n) => (reported += n) }));
  assert.deepEqual(got, blob);
  assert.equal(reported, blob.length);
  assert.deepEqual(opens, [0]);
});

test('a connection lost mid-body resumes with the byte offset reached (206)', async () => {
  const opens: number[] = [];
  const resumes: number[] = [];
  const open: OpenAt = async (start) => {
    opens.push(start);
    if (opens.length === 1) return { body: body(blob.subarray(0, 300), 'ECONNRESET'), partial: false, size: blob.length };
    return { body: body(blob.subarray(start)), partial: true, size: blob.length - start };
  };
  const got = await readAll(resumableRead({ open, size: blob.length, what: 'blob', policy: policy(3), onResume: (o) => resumes.push(o) }));
  assert.deepEqual(got, blob);
  assert.deepEqual(opens, [0, 300]);
  assert.deepEqual(resumes, [300]);
});

test('a server that ignores Range (200 with the whole blob) is read again and the first bytes skipped', async () => {
  let n = 0;
  const open: OpenAt = async () => (++n === 1 ? { body: body(blob.subarray(0, 450), 'ECONNRESET'), partial: false } : { body: body(blob), partial: false, size: blob.length });
  const got = await readAll(resumableRead({ open, size: blob.length, what: 'blob', policy: policy(3) }));
  assert.deepEqual(got, blob);
  assert.equal(n, 2);
});

test('a body that ends early without an error counts as a dropped connection', async () => {
  let n = 0;
  const open: OpenAt = async (start) => (++n === 1 ? { body: body(blob.subarray(0, 200)), partial: false } : { body: body(blob.subarray(start)), partial: true });
  const got = await readAll(resumableRead({ open, size: blob.length, what: 'blob', policy: policy(3) }));
  assert.deepEqual(got, blob);
});

test('more bytes than the descriptor says → E_DIGEST_MISMATCH at once, no retry', async () => {
  let n = 0;
  const open: OpenAt = async () => (n++, { body: body(Buffer.concat([blob, Buffer.alloc(50)])), partial: false });
  await assert.rejects(readAll(resumableRead({ open, size: blob.length, what: 'blob X', policy: policy(3) })), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'E_DIGEST_MISMATCH');
    assert.match(e.message, /blob X: source sent more than the 1000 bytes/);
    return true;
  });
  assert.equal(n, 1);
});

test('a declared length that disagrees with the descriptor → E_DIGEST_MISMATCH', async () => {
  const open: OpenAt = async () => ({ body: body(blob), partial: false, size: 999 });
  await assert.rejects(readAll(resumableRead({ open, size: blob.length, what: 'blob', policy: policy(3) })), { code: 'E_DIGEST_MISMATCH', message: /^blob: source declares 999 bytes where 1000 were expected/ });
});

test('always short, retries spent → E_DIGEST_MISMATCH naming the bytes received; 1 + retries opens', async () => {
  let n = 0;
  const open: OpenAt = async (start) => (n++, { body: body(blob.subarray(start, Math.min(start + 100, blob.length))), partial: start > 0 });
  await assert.rejects(readAll(resumableRead({ open, size: blob.length, what: 'blob', policy: policy(2) })), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'E_DIGEST_MISMATCH');
    assert.match(e.message, /sent 300 of 1000 bytes and then ended, also after 2 retries/);
    return true;
  });
  assert.equal(n, 3);
});

test('always reset, retries spent → E_NETWORK with the offset reached', async () => {
  const open: OpenAt = async (start) => ({ body: body(blob.subarray(start, start + 100), 'ECONNRESET'), partial: start > 0 });
  await assert.rejects(readAll(resumableRead({ open, size: blob.length, what: 'blob', policy: policy(1) })), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'E_NETWORK');
    assert.match(e.message, /connection lost at byte 200 of 1000/);
    return true;
  });
});

test('a failing open() is final (it has had the transport retries)', async () => {
  let n = 0;
  const refused = Object.assign(new Error('refused'), { code: 'ECONNRESET' });
  const open: OpenAt = async () => {
    n++;
    throw refused;
  };
  // Passed on as it is, its code with it (the transport's E_* code in a real run), not retried as a body's ECONNRESET is.
  await assert.rejects(readAll(resumableRead({ open, size: blob.length, what: 'blob', policy: policy(3) })), (e: unknown) => e === refused && (e as { code?: string }).code === 'ECONNRESET');
  assert.equal(n, 1);
});

test('a consumer that destroys the output stops the source and opens nothing more', async () => {
  let opens = 0;
  let src: Readable | undefined;
  const open: OpenAt = async () => {
    opens++;
    src = body(blob);
    return { body: src, partial: false };
  };
  const r = resumableRead({ open, size: blob.length, what: 'blob', policy: policy(3) });
  await new Promise<void>((resolve) => r.once('data', () => resolve()));
  r.destroy();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(src!.destroyed, true);
  assert.equal(opens, 1);
});

test('an aborted signal fails the read with E_ABORTED', async () => {
  const ac = new AbortController();
  const open: OpenAt = async () => ({ body: new Readable({ read() {} }), partial: false }); // never sends
  const r = resumableRead({ open, size: blob.length, what: 'blob', policy: policy(3), signal: ac.signal });
  setTimeout(() => ac.abort(), 10);
  await assert.rejects(readAll(r), { name: 'AbortedError', code: 'E_ABORTED', message: 'aborted: reading blob' });
});

test('a read() while a dropped read waits for its retry delay opens no second request (the resume race)', async () => {
  const size = 100_000;
  const data = Buffer.from(Array.from({ length: size }, (_, i) => i % 253));
  // More than the output's 64 KiB high-water mark: the push that fills it pauses the source, so the
  // consumer still has bytes to take (and asks for more) while the read waits to resume.
  const first = 70_000;
  const opens: number[] = [];
  const open: OpenAt = async (start) => {
    opens.push(start);
    if (opens.length === 1) {
      let sent = false;
      const b = new Readable({
        read() {
          if (sent) return;
          sent = true;
          this.push(data.subarray(0, first));
          setImmediate(() => this.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })));
        },
      });
      return { body: b, partial: false, size };
    }
    return { body: body(data.subarray(start)), partial: true, size: size - start };
  };
  const chunks: Buffer[] = [];
  let drained!: () => void;
  let opensWhileWaiting = -1;
  const drainedDuringDelay = new Promise<void>((resolve) => (drained = resolve));
  const out = resumableRead({
    open,
    size,
    what: 'blob',
    policy: { ...DEFAULT_RETRY_POLICY, retries: 3, baseDelayMs: 200, maxDelayMs: 200, random: () => 0.99 },
    logger: {
      debug() {},
      warn() {},
      // The retry note, logged just before the retry delay starts: the consumer drains the output during it.
      info(m: string) {
        if (!/retrying from byte/.test(m)) return;
        setTimeout(() => {
          for (let c = out.read() as Buffer | null; c !== null; c = out.read() as Buffer | null) chunks.push(c);
          // out.read() has just asked for more (a call to the stream's read()); an open it caused has been called by now.
          opensWhileWaiting = opens.length;
          drained();
        }, 20);
      },
    },
  });
  out.read(0); // start reading without consuming
  await drainedDuringDelay;
  assert.equal(chunks.length, 1, 'the first body\'s bytes were taken during the delay');
  assert.equal(opensWhileWaiting, 1, 'no Range request may open while the retry delay runs');
  for await (const c of out) chunks.push(c as Buffer);
  assert.deepEqual(opens, [0, first], 'exactly one resume request, at the offset reached');
  assert.ok(Buffer.concat(chunks).equals(data));
});

/** A body that has ended before it is handed over (an early GET that something set flowing before it was paused). */
async function endedBody(bytes: Buffer): Promise<Readable> {
  const b = Readable.from([bytes], { objectMode: false });
  b.on('data', () => undefined);
  await new Promise((resolve) => b.once('end', resolve));
  assert.equal(b.readableEnded, true);
  return b;
}

test('an empty blob whose body ended before it was handed over: the read ends at once, not waiting for an end that has passed', async () => {
  const opens: number[] = [];
  const open: OpenAt = async (start) => (opens.push(start), { body: await endedBody(Buffer.alloc(0)), partial: false, size: 0 });
  const got = await readAll(resumableRead({ open, size: 0, what: 'blob', policy: policy(3) }));
  assert.equal(got.length, 0);
  assert.deepEqual(opens, [0]);
});

test('a body that ended (its bytes gone) before it was handed over: one more read from where it stood, not two', async () => {
  const opens: number[] = [];
  const open: OpenAt = async (start) => (opens.push(start), opens.length === 1 ? { body: await endedBody(blob), partial: false, size: blob.length } : { body: body(blob.subarray(start)), partial: start > 0, size: blob.length - start });
  const got = await readAll(resumableRead({ open, size: blob.length, what: 'blob', policy: policy(3) }));
  assert.deepEqual(got, blob);
  assert.deepEqual(opens, [0, 0]);
});

test('a body that failed before it was read (opened ahead, cut while it waited) is read again, not waited on for ever', async () => {
  const opens: number[] = [];
  const open: OpenAt = async (start) => {
    opens.push(start);
    if (opens.length === 1) {
      const dead = body(blob);
      dead.on('error', () => undefined); // the transport's idle watch listens, as here
      dead.destroy(new NetworkError('cannot reach r.example: response stalled for 60000 ms (ETIMEDOUT)', { details: { errno: 'ETIMEDOUT' } }));
      await new Promise((r) => setImmediate(r));
      return { body: dead, partial: false, size: blob.length };
    }
    return { body: body(blob.subarray(start)), partial: start > 0, size: blob.length - start };
  };
  const got = await readAll(resumableRead({ open, size: blob.length, what: 'blob', policy: policy(3) }));
  assert.deepEqual(got, blob);
  assert.deepEqual(opens, [0, 0]);
});
