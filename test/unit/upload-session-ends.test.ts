// Every upload session an operation opens ends before the operation settles: committed by its PUT
// or cancelled by a DELETE the registry has answered, on every outcome (success, the blob found
// present after all, a failure at another target, an abort, a stop of the run). The windows driven
// here are those where a session is opened ahead of the request that uses it (a POST sent beside a
// HEAD or beside another target's POST) and the POST's answer comes while something else is still
// awaited: the fake registry holds that other answer (or the DELETE) until the stop has happened.
// The ledger (test/fixtures/session-ledger.ts) is read the moment the operation settles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, parseReference, push } from '../../src/index.js';
import { AbortedError } from '../../src/errors.js';
import { optionPaths } from '../../src/option-names.js';
import { TransferRun } from '../../src/transfer/engine.js';
import { copyImage } from '../../src/transfer/image-copy.js';
import { ensureBytesBlob } from '../../src/transfer/bytes-blob.js';
import { bytesOf, fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { sessionLedger } from '../fixtures/session-ledger.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const fake = fakeRegistryPool();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves `ms` after `p` does (a held answer that comes a while after the event it waits for). */
const after = (p: Promise<unknown>, ms: number): Promise<void> => p.then(() => sleep(ms));

/**
 * A source image and two empty targets. `largeOnly`: the targets hold its config and small layer
 * already, so that its largest layer is the one blob that moves (its POST sent with its HEAD at
 * each target, one read for both): a stop then finds that blob's shared read alone waiting.
 */
async function twoTargets(largeOnly = false): Promise<{ src: FakeRegistry; a: FakeRegistry; b: FakeRegistry }> {
  const [src, a, b] = await Promise.all([fake(), fake(), fake()]);
  const img = src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('small', 2_000), bytesOf('large', 200_000)] });
  if (largeOnly) {
    for (const t of [a, b]) {
      t.putBlob('app', img.config.bytes);
      t.putBlob('app', src.blob('base/app', img.layers[0]!.digest)!);
    }
  }
  return { src, a, b };
}

test('copy to two targets, aborted while one target\'s upload sessions are open and the other\'s POSTs are still unanswered: every session is cancelled before the copy rejects', async () => {
  const { src, a, b } = await twoTargets(true);
  const op = new AbortController();
  // B's POSTs arrive and wait; A answers its own (the largest layer's, sent with its HEAD, and
  // the config's). The abort comes then; B's POSTs are answered a little later (202: the client
  // cancels those itself), and A's DELETEs are answered late, so that a copy which does not wait
  // for them rejects while they are open.
  const stopped = Promise.all([b.seen({ kind: 'upload', method: 'POST' }), a.seen({ kind: 'upload', method: 'POST', status: 202 })]).then(() => sleep(100)).then(() => op.abort());
  b.fault({ kind: 'upload', method: 'POST' }, { kind: 'hold', until: after(stopped, 50) });
  a.fault({ kind: 'upload', method: 'DELETE' }, { kind: 'hold', until: after(stopped, 400) });
  const ledgerA = sessionLedger(a);
  const ledgerB = sessionLedger(b);
  const err = await copy({ from: src.ref('base/app:1'), to: [a.ref('app:1'), b.ref('app:1')], retries: 0, signal: op.signal, ...fakeLibraryOptions(src, a, b) }).then(
    () => assert.fail('the copy was aborted'),
    (e: unknown) => e,
  );
  const [atA, atB, openA, openB] = [ledgerA(), ledgerB(), a.openUploads(), b.openUploads()];
  assert.ok(err instanceof AbortedError && err.code === 'E_ABORTED' && err.message === 'interrupted: no tag was written after the interruption; every upload session that was open was completed or cancelled', String(err));
  assert.ok(atA.sessions.length >= 1, 'A had a session open while B\'s POST waited');
  assert.ok(atB.sessions.length >= 1, 'B\'s held POST opened a session');
  assert.deepEqual(atA.open, [], 'every session at A ended before the copy rejected');
  assert.deepEqual(atB.open, [], 'every session at B ended before the copy rejected');
  assert.equal(openA + openB, 0);
  assert.equal(atA.committed + atB.committed, 0, 'nothing was uploaded after the abort');
  assert.equal(a.manifest('app', '1'), undefined);
});

test('copy to two targets whose second target refuses its upload POSTs while the first holds its sessions: the first completes on them, E_PARTIAL, no session left at either', async () => {
  const { src, a, b } = await twoTargets();
  // B's POSTs wait until A has answered one, then fail for good.
  const aAnswered = a.seen({ kind: 'upload', method: 'POST', status: 202 });
  b.fault(
    { kind: 'upload', method: 'POST' },
    {
      kind: 'respond',
      respond: (_req, _body, res) =>
        void after(aAnswered, 100).then(() => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'injected fault: 500' }] }));
        }),
    },
  );
  const ledgerA = sessionLedger(a);
  const err = await copy({ from: src.ref('base/app:1'), to: [a.ref('app:1'), b.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, a, b) }).then(
    () => assert.fail('B failed'),
    (e: { code?: string }) => e,
  );
  const atA = ledgerA();
  assert.equal(err.code, 'E_PARTIAL', String(err));
  assert.equal(atA.open.length, 0);
  assert.equal(atA.committed, 3, 'A: the config and both layers committed on the sessions it opened');
  assert.ok(a.manifest('app', '1'));
  assert.equal(b.openUploads(), 0);
  assert.equal(b.manifest('app', '1'), undefined);
});

// How target A's session for the largest layer was opened: with the plan's HEAD (the speculative
// start of a first copy), by the shared read itself (an update: the plan is HEAD first), or by a
// mount that A, in the source's registry, answered 202 (it will not mount).
for (const how of ['sent with the HEAD', 'opened by the shared read', 'opened by a mount answered 202'] as const) {
  test(`a transfer to two targets running on when its run is stopped by a failure elsewhere (a push's base blobs), A's session ${how} and B's POST unanswered: settle() ends only once A's session is cancelled`, async () => {
    const mount = how === 'opened by a mount answered 202';
    const [src, b] = await Promise.all([fake({ mounts: !mount }), fake()]);
    const a = mount ? src : await fake();
    const img = src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('small', 2_000), bytesOf('large', 200_000)] });
    // The targets hold the config and the small layer: the large layer is the one blob that moves.
    for (const t of [a, b]) {
      t.putBlob('app', img.config.bytes);
      t.putBlob('app', src.blob('base/app', img.layers[0]!.digest)!);
      if (how === 'opened by the shared read') t.seedImage('app', { tags: ['1'], layers: [bytesOf(`older ${t.host}`, 1_000)] });
    }
    const run = new TransferRun({ ...fakeLibraryOptions(src, a, b), retries: 0 });
    const set = run.targets(
      [
        { ref: parseReference(a.ref('app:1')), tags: ['1'] },
        { ref: parseReference(b.ref('app:1')), tags: ['1'] },
      ],
      parseReference(src.ref('base/app:1')),
    );
    const bWaits = Promise.all([b.seen({ kind: 'upload', method: 'POST' }), a.seen({ kind: 'upload', method: 'POST', status: 202 })]).then(() => sleep(100));
    b.fault({ kind: 'upload', method: 'POST' }, { kind: 'hold', until: after(bWaits, 50) });
    a.fault({ kind: 'upload', method: 'DELETE' }, { kind: 'hold', until: after(bWaits, 400) });
    const ledgerA = sessionLedger(a);
    try {
      // The transfer runs on in the background, as a push's base blobs do (push.ts: `moving`) when a
      // later step fails: the push stops the run and settles it without waiting for the transfer.
      const copying = copyImage(set, run.source(parseReference(src.ref('base/app:1'))), '1', { names: optionPaths('copy()') }).catch(() => undefined);
      await bWaits;
      run.stop(new Error('a failure elsewhere in the push'));
      const stoppedAt = Date.now();
      await run.settle();
      const atA = ledgerA();
      assert.equal(atA.sessions.length, 1, 'A had its session open while B\'s POST waited');
      assert.equal(atA.sessions[0]!.opened.query.mount !== undefined, mount);
      assert.equal(a.count({ kind: 'blob', method: 'HEAD', digest: img.layers[1]!.digest, when: (r) => r.seq < atA.sessions[0]!.opened.seq }) === 0, how !== 'opened by the shared read', 'the POST went out with the HEAD only in a first copy (a mount POST too)');
      assert.deepEqual(atA.open, [], 'settle() waited for A\'s cancel');
      assert.equal(atA.cancelled, 1);
      assert.equal(a.openUploads() + b.openUploads(), 0);
      assert.equal(run.ctx.sessions!.describeLeft(), undefined);
      assert.ok(Date.now() - stoppedAt >= 300, 'the held DELETE was waited for');
      await copying;
    } finally {
      set.finish();
      run.close();
    }
  });
}

// `refused`: A answers each DELETE as distribution does for a session whose state it lost (404
// BLOB_UPLOAD_INVALID), so that the session stays; the push's error must then name every one.
for (const refused of [false, true]) {
  test(`push from a base to two targets, interrupted while a base layer waits for B's POST with A's session answered (the base config still on its way): the push rejects only once A's session is cancelled${refused ? '; refused, the error names it' : ''}`, async () => {
    const { src, a, b } = await twoTargets(true);
    const base = src.manifest('base/app', '1')!;
    const baseConfig = (JSON.parse(base.bytes.toString('utf8')) as { config: { digest: string } }).config.digest;
    const dir = mkdtempSync(join(tmpdir(), 'regpush-session-ends-'));
    try {
      writeFileSync(join(dir, 'server.js'), 'console.log("hi")\n');
      const op = new AbortController();
      // The base's large layer moves to both targets on one read: A answers its POST, B's waits; the
      // base config is held, so the push is still waiting for it (not for the base blobs) when interrupted.
      const stopped = Promise.all([b.seen({ kind: 'upload', method: 'POST' }), a.seen({ kind: 'upload', method: 'POST', status: 202 })]).then(() => sleep(100)).then(() => op.abort());
      src.fault({ kind: 'blob', method: 'GET', digest: baseConfig }, { kind: 'hold', until: after(stopped, 1_000) });
      b.fault({ kind: 'upload', method: 'POST' }, { kind: 'hold', until: after(stopped, 50) });
      if (refused) a.fault({ kind: 'upload', method: 'DELETE' }, { kind: 'status', status: 404, code: 'BLOB_UPLOAD_INVALID' });
      const ledgerA = sessionLedger(a);
      const ledgerB = sessionLedger(b);
      const err = await push({ from: src.ref('base/app:1'), app: [{ src: dir, dest: '/app' }], to: [a.ref('app:1'), b.ref('app:1')], signal: op.signal, retries: 0, ...fakeLibraryOptions(src, a, b) }).then(
        () => assert.fail('interrupted'),
        (e: unknown) => e,
      );
      const [atA, atB] = [ledgerA(), ledgerB()];
      // The sessions said: all ended, or (the registry refusing the cancels) those it may keep.
      const sessions = refused ? /^interrupted: no tag was written after the interruption; \d+ upload sessions? could not be cancelled and may stay in the registry's upload area/ : /^interrupted: no tag was written after the interruption; every upload session that was open was completed or cancelled$/;
      assert.ok(err instanceof AbortedError && err.code === 'E_ABORTED' && sessions.test(err.message), String(err));
      assert.ok(atA.sessions.length >= 1, 'A had a session open while B\'s POST waited');
      assert.deepEqual(atB.open, [], 'every session at B ended before the push rejected');
      assert.equal(a.manifest('app', '1'), undefined);
      if (!refused) {
        assert.deepEqual(atA.open, [], 'every session at A ended before the push rejected');
        assert.equal(a.openUploads() + b.openUploads(), 0);
        return;
      }
      // Every session at A had its DELETE answered (refused) before the push rejected, and each is named.
      const deleted = new Set(a.requests({ kind: 'upload', method: 'DELETE', status: 404 }).map((r) => r.session));
      assert.deepEqual(atA.open.filter((id) => !deleted.has(id)), [], 'a DELETE answered for every session at A');
      const n = atA.open.length;
      assert.match(err.message, new RegExp(`; ${n === 1 ? '1 upload session' : `${n} upload sessions`} could not be cancelled and may stay in the registry's upload area`));
      assert.equal(err.message.split(`${a.host}/app (`).length - 1, n, err.message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a config\'s HEAD ‖ POST: the POST answered, the HEAD still out when the run stops: settle() waits for the session\'s DELETE', async () => {
  const dst = await fake();
  const run = new TransferRun(fakeLibraryOptions(dst));
  const set = run.targets([{ ref: parseReference(dst.ref('app:1')), tags: ['1'] }]);
  const target = set.list[0]!.ep;
  try {
    dst.fault({ kind: 'blob', method: 'HEAD' }, { kind: 'hold', until: sleep(5_000) });
    let answer!: () => void;
    dst.fault({ kind: 'upload', method: 'DELETE' }, { kind: 'hold', until: new Promise<void>((r) => (answer = r)) });
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const ensuring = ensureBytesBlob(target, config, run.ctx).then(
      () => assert.fail('stopped'),
      (e: unknown) => e,
    );
    await dst.seen({ kind: 'upload', method: 'POST', status: 202 });
    await dst.seen({ kind: 'blob', method: 'HEAD' });
    run.stop(new Error('a callback threw'));
    let settled = false;
    const settling = run.settle().then(() => (settled = true));
    await dst.seen({ kind: 'upload', method: 'DELETE' });
    await sleep(50);
    assert.equal(settled, false, 'settle() waits for the cancel of the session the POST opened');
    answer();
    const stopped = await ensuring;
    assert.ok(stopped instanceof AbortedError && stopped.code === 'E_ABORTED' && stopped.message.startsWith(`aborted: HEAD http://${dst.host}/v2/app/blobs/sha256:`), String(stopped));
    await settling;
    assert.equal(dst.openUploads(), 0);
    assert.equal(run.ctx.sessions!.describeLeft(), undefined);
  } finally {
    set.finish();
    run.close();
  }
});

test('a config\'s HEAD ‖ POST where the HEAD finds the config: the session is cancelled before ensureBytesBlob returns, also when the POST answers last', async () => {
  const dst = await fake();
  const config = Buffer.from('{"architecture":"arm64","os":"linux"}');
  dst.putBlob('app', config);
  const run = new TransferRun(fakeLibraryOptions(dst));
  const set = run.targets([{ ref: parseReference(dst.ref('app:1')), tags: ['1'] }]);
  try {
    const ledger = sessionLedger(dst);
    dst.fault({ kind: 'upload', method: 'POST' }, { kind: 'hold', until: after(dst.seen({ kind: 'blob', method: 'HEAD', status: 200 }), 50) });
    const r = await ensureBytesBlob(set.list[0]!.ep, config, run.ctx);
    const now = ledger();
    assert.deepEqual(r.uploaded, false);
    assert.equal(now.sessions.length, 1, 'the POST opened a session');
    assert.equal(now.cancelled, 1, 'and it was cancelled before the call returned');
    assert.equal(dst.openUploads(), 0);
    assert.equal(run.ctx.sessions!.pending, 0);
  } finally {
    set.finish();
    run.close();
  }
});

test('a config\'s HEAD ‖ POST stopped while the POST is unanswered: the session it opens is cancelled by the client and waited for', async () => {
  const dst = await fake();
  const run = new TransferRun(fakeLibraryOptions(dst));
  const set = run.targets([{ ref: parseReference(dst.ref('app:1')), tags: ['1'] }]);
  try {
    const ledger = sessionLedger(dst);
    const posted = dst.seen({ kind: 'upload', method: 'POST' });
    dst.fault({ kind: 'upload', method: 'POST' }, { kind: 'hold', until: after(posted, 200) });
    const ensuring = ensureBytesBlob(set.list[0]!.ep, Buffer.from('{"os":"linux"}'), run.ctx).then(
      () => assert.fail('stopped'),
      (e: unknown) => e,
    );
    await posted;
    run.stop(new Error('stopped'));
    const stopped = await ensuring;
    assert.ok(stopped instanceof AbortedError && stopped.code === 'E_ABORTED' && stopped.message.startsWith(`aborted: HEAD http://${dst.host}/v2/app/blobs/sha256:`), String(stopped));
    await run.settle();
    const now = ledger();
    assert.equal(now.sessions.length, 1, 'the POST let finish opened a session');
    assert.deepEqual(now.open, [], 'cancelled before settle() ended');
    assert.equal(run.ctx.sessions!.describeLeft(), undefined);
  } finally {
    set.finish();
    run.close();
  }
});

test('push to two repositories of one registry that will not mount: the second target\'s mount opened a session (202), whose DELETE the push waits for when it is interrupted then', async () => {
  const dst = await fake({ mounts: false });
  const dir = mkdtempSync(join(tmpdir(), 'regpush-session-ends-'));
  try {
    writeFileSync(join(dir, 'server.js'), 'console.log("hi")\n');
    const op = new AbortController();
    // The DELETE of the session a mount POST opened: held, and the push interrupted as it arrives.
    const mountSessions = (): Set<string> => new Set(dst.requests({ kind: 'upload', method: 'POST', query: { mount: true }, status: 202 }).map((r) => r.session!));
    const cancelOfMount = { kind: 'upload' as const, method: 'DELETE', when: (r: { path: string }) => [...mountSessions()].some((id) => r.path.endsWith(`/${id}`)) };
    const seenCancel = dst.seen(cancelOfMount);
    void seenCancel.then(() => op.abort());
    dst.fault(cancelOfMount, { kind: 'hold', until: after(seenCancel, 400) });
    const ledger = sessionLedger(dst);
    const err = await push({ from: 'scratch', app: [{ src: dir, dest: '/app' }], to: [dst.ref('one:1'), dst.ref('two:1')], signal: op.signal, retries: 0, ...fakeLibraryOptions(dst) }).then(
      () => assert.fail('interrupted'),
      (e: unknown) => e,
    );
    const now = ledger();
    // The first target's manifest PUT may be on its way when the interruption lands: the line then
    // says that it may have taken effect, not that no tag was written.
    assert.ok(err instanceof AbortedError && err.code === 'E_ABORTED', String(err));
    assert.match(
      err.message,
      /^interrupted: (no tag was written after the interruption|the manifest PUT of \S+\/one:1 was cut off and may have taken effect at the registry; no tag was sent after the interruption); every upload session that was open was completed or cancelled$/,
    );
    assert.ok(now.sessions.some((s) => s.opened.query.mount !== undefined), 'a mount opened a session');
    assert.deepEqual(now.open, [], 'every session ended before the push rejected');
    assert.equal(dst.openUploads(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
