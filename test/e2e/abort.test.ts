// Ctrl-C: SIGINT/SIGTERM to the CLI in the middle of a transfer (held there by a stalled source,
// so the timing is deterministic) ends it cleanly: exit 130, one error line, no manifest at the
// target, and every upload session that was started is cancelled (DELETE; the registry forgets it)
// or named in the error line: the big blob's monolithic PUT, streamed from the stalled source, is
// cut (its declared length cannot be ended early), and a DELETE the registry takes after it noticed
// the cut is answered 404 BLOB_UPLOAD_INVALID, the session kept until it purges stale uploads.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { assertNoSecrets, assertNoSessionLeft, manifestStatus, secretsOf, sessionsOpened, startCli, waitFor } from './fault-helpers.js';
import { credsOf, loadState, skopeoInspect, tempDir } from './harness.js';

const state = loadState();
const R = state.registries;
const run = `abort-${process.pid}-${Date.now().toString(36)}`;
const IMAGE = 'base/busybox:v2s2';
const basicCreds = credsOf(R.basic)!;
const toArgs = ['--to-user', basicCreds.user, '--to-password', basicCreds.password];
let big = '';
let appDir = '';
const proxies: FaultProxy[] = [];

before(async () => {
  const m = (await skopeoInspect<{ layers: { digest: string; size: number }[] }>(`${R.anon.host}/${IMAGE}`, { raw: true })).json;
  big = m.layers.reduce((a, b) => (b.size > a.size ? b : a)).digest;
  appDir = join(tempDir(), 'app');
  mkdirSync(appDir, { recursive: true });
  writeFileSync(join(appDir, 'hello.txt'), 'hello\n');
});
after(async () => {
  for (const p of proxies) await p.close();
});

async function proxiesForAbort(): Promise<{ src: FaultProxy; dst: FaultProxy }> {
  const src = await startFaultProxy(R.anon.url);
  const dst = await startFaultProxy(R.basic.url);
  proxies.push(src, dst);
  // The big blob's GET sends 256 KiB and then nothing, with the socket open: the upload that reads
  // it is in flight (its session open, part of its body sent) when the signal arrives.
  src.rule({ method: 'GET', path: new RegExp(`/blobs/${big}`), fault: { kind: 'stall', afterBytes: 256 * 1024 }, name: 'stall' });
  return { src, dst };
}

for (const [command, sig] of [['copy', 'SIGINT'], ['push', 'SIGINT'], ['copy', 'SIGTERM']] as const) {
  test(`${sig} during ${command}: exit 130, no manifest, every started upload session cancelled or named as left`, async () => {
    const { src, dst } = await proxiesForAbort();
    const name = `${command}-${sig.toLowerCase()}`;
    const to = `${dst.host}/${run}/${name}:1`;
    const args =
      command === 'copy'
        ? ['copy', `${src.host}/${IMAGE}`, to, ...toArgs]
        : ['push', '--from', `${src.host}/${IMAGE}`, '--to', to, '--app', appDir, ...toArgs];
    // A long idle timeout: only the signal can end this run early.
    const child = startCli(args, { REGPUSH_IDLE_TIMEOUT_MS: '60000' });
    await waitFor('the stalled blob GET', () => src.hits('stall').length > 0 && src.hits('stall')[0]!.bytesOut >= 256 * 1024);
    await waitFor('the big blob upload to start', () => dst.requests.some((q) => q.method === 'PUT' && q.url.includes(big.replace(':', '%3A'))));
    const t0 = Date.now();
    child.signal(sig);
    const r = await child.result;
    const took = Date.now() - t0;
    assert.equal(r.code, 130, `exit code (signal ${r.signal}); stderr:\n${r.stderr}`);
    // Half the idle timeout (60 s), the only other thing that could end the run: far above a loaded machine's delays.
    assert.ok(took < 30_000, `exited ${took} ms after the signal`);
    const errors = r.stderr.trim().split('\n').filter((l) => l.startsWith('regpush: '));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0]!, /^regpush: error: interrupted: .*\[E_ABORTED\]$/);
    assert.equal(r.stdout, '', 'no result printed');
    assert.equal((await manifestStatus(R.basic, `${run}/${name}`, '1', basicCreds)).status, 404, 'no manifest at the target');
    assert.ok(!dst.requests.some((q) => q.method === 'PUT' && q.url.includes('/manifests/')), 'no manifest PUT was even tried');
    // Each PUT the signal cut (the stalled blob's, and a small blob's caught mid-way) races its
    // DELETE with the registry's noticing the cut: confirmed, or refused and named. One refused
    // whose whole body had arrived may still be finished by the registry afterwards: named, and
    // then not held. So the line names at least what stays, and every repository that holds one.
    const { opened, cancelled, left } = await assertNoSessionLeft(dst, R.basic, basicCreds, { left: 'any' });
    assert.ok(left.length <= 2, `only the cut PUTs' sessions may stay: ${left.join(', ')}`);
    const named = Number(/(\d+) upload sessions? could not be cancelled/.exec(errors[0]!)?.[1] ?? 0);
    assert.ok(named >= left.length, `${left.length} session(s) held, the error line names ${named}: ${errors[0]}`);
    if (left.length > 0) assert.ok(errors[0]!.includes(`/${run}/${name} (`), errors[0]);
    assert.ok(opened >= 1 && cancelled >= 1, `sessions opened ${opened}, cancelled ${cancelled}`);
    assert.ok(sessionsOpened(dst).length === opened);
    assertNoSecrets(r, secretsOf([basicCreds.password], [src, dst]));
  });
}
