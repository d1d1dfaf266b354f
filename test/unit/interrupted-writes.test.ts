// What an interrupted write says it left behind: a manifest PUT cut off after it was sent may have
// taken effect (the registry stored it; only its answer was lost), so copy and push do not say that
// no tag was written, and their error names what each target holds (details.result); tagImage
// names the tags written before the interruption. A PUT still queued for a connection (or not yet
// made) was never sent: its tag did not move. A target whose tags held the image already is ok
// (nothing to write), also where push was cut before any commit, and an interrupted copy names the
// source digest it read (with --all-tags, its first tag's) and the tags each target got.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbortedError, copy, failureResult, push, tagImage } from '../../src/index.js';
import { parseReference } from '../../src/ref/reference.js';
import { TargetSet, type TransferTarget } from '../../src/transfer/target-set.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A folder with one file, for push's `app`. */
function appDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'regpush-interrupted-'));
  dirs.push(d);
  writeFileSync(join(d, 'server.js'), 'console.log("hi")\n');
  return d;
}

/**
 * Makes `reg` store the manifest PUT to `repo` (under `tag`) and then never answer it: once
 * `before` has settled, the PUT takes effect and the caller's operation is interrupted (`op`), as a
 * Ctrl-C that lands after the registry took the manifest and before its answer came back.
 */
function storeThenInterrupt(reg: FakeRegistry, repo: string, tag: string, op: AbortController, before: Promise<unknown>): void {
  reg.fault(
    { kind: 'manifest', method: 'PUT', repo, path: `/v2/${repo}/manifests/${tag}` },
    {
      kind: 'respond',
      respond: (req, body) => {
        void before.then(() => {
          reg.putManifest(repo, body, { mediaType: String(req.headers['content-type']), tags: [tag] });
          op.abort();
        });
      },
    },
  );
}

/**
 * The checks of an interrupted push to a:1 and b:1 at `dst` whose a:1 held the image (`digest`)
 * already: nothing written by it, a ok (unchanged), b not written. Returns its result.
 */
function aOkBNot(err: unknown, dst: FakeRegistry, digest: string) {
  assert.ok(err instanceof AbortedError);
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 1, 'only the first push wrote a manifest');
  const result = failureResult(err, 'push');
  assert.deepEqual(
    result?.targets?.map((t) => [t.target, t.ok, t.digest, t.reference, t.tagsUnchanged, t.error?.message]),
    [
      [`${dst.host}/a:1`, true, digest, `${dst.host}/a@${digest}`, ['1'], undefined],
      [`${dst.host}/b:1`, false, '', '', undefined, `interrupted before any tag was written at ${dst.host}/b`],
    ],
  );
  return result;
}

test('an interrupted copy to two targets whose second manifest PUT took effect before its answer was cut: the error does not say that no tag was written, and its result agrees with what each target holds', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  const op = new AbortController();
  // a's PUT is answered first; whether the client has read that answer when b's lands is not fixed.
  storeThenInterrupt(dst, 'b', '1', op, dst.seen({ kind: 'manifest', method: 'PUT', repo: 'a', status: 201 }));
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('a:1'), dst.ref('b:1')], retries: 0, signal: op.signal, ...fakeLibraryOptions(src, dst) }).then(
    () => assert.fail('the copy was interrupted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortedError);
  assert.equal(dst.manifest('a', '1')?.digest, img.digest);
  assert.equal(dst.manifest('b', '1')?.digest, img.digest, 'the cut PUT took effect');
  assert.doesNotMatch(err.message, /no tag was written/);
  assert.match(err.message, /^interrupted: the manifest PUTs? of .+ (was|were) cut off and may have taken effect at the registry; no tag was sent after the interruption; /);
  assert.ok(err.message.includes(`${dst.host}/b:1`), err.message);
  const result = failureResult(err, 'copy');
  assert.ok(result, 'the interrupted copy carries its result');
  // Each target holds the tag: the result says so (ok), or says that the PUT may have taken effect.
  for (const t of result.targets) {
    if (t.ok) assert.deepEqual([t.digest, t.tags], [img.digest, ['1']]);
    else {
      assert.equal(t.error?.code, 'E_ABORTED', t.target);
      assert.match(t.error?.message ?? '', /the manifest PUT of 1 cut off: it may have taken effect at the registry/, t.target);
    }
  }
  assert.equal(result.targets[1]!.ok, false);
  assert.deepEqual(err.details.failed, result.targets.filter((t) => !t.ok).map((t) => t.target));
});

test('an interrupted copy whose first tag was written and whose second tag PUT took effect before its answer was cut: the result names the tag written, the error the PUT cut off', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  const op = new AbortController();
  // The tags of a target go one after the other: the PUT of 2 is sent once the answer to 1 was read.
  storeThenInterrupt(dst, 'a', '2', op, Promise.resolve());
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('a:1')], tags: ['2'], retries: 0, signal: op.signal, ...fakeLibraryOptions(src, dst) }).then(
    () => assert.fail('the copy was interrupted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortedError);
  assert.deepEqual([dst.manifest('a', '1')?.digest, dst.manifest('a', '2')?.digest], [img.digest, img.digest]);
  assert.match(err.message, new RegExp(`^interrupted: the manifest PUT of ${dst.host}/a:2 was cut off and may have taken effect at the registry; no tag was sent after the interruption; `));
  const t = failureResult(err, 'copy')?.targets[0];
  assert.deepEqual([t?.ok, t?.tags, t?.error?.code], [false, ['1'], 'E_ABORTED']);
  assert.equal(t?.error?.message, `interrupted at ${dst.host}/a: tag 1 written before it; the manifest PUT of 2 cut off: it may have taken effect at the registry`);
});

test('an interrupted copy before any manifest PUT: no tag was written, and the result says so for each target', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'] });
  const op = new AbortController();
  const interrupted = dst.seen({ kind: 'upload', method: 'POST' }).then(() => op.abort());
  dst.fault({ kind: 'upload', method: 'POST' }, { kind: 'hold', until: interrupted });
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('a:1'), dst.ref('b:1')], retries: 0, signal: op.signal, ...fakeLibraryOptions(src, dst) }).then(
    () => assert.fail('the copy was interrupted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortedError);
  assert.match(err.message, /^interrupted: no tag was written after the interruption; /);
  const result = failureResult(err, 'copy');
  assert.deepEqual(
    result?.targets.map((t) => [t.ok, t.error?.message]),
    ['a', 'b'].map((r) => [false, `interrupted before any tag was written at ${dst.host}/${r}`]),
  );
});

test('an interrupted push whose manifest PUT took effect before its answer was cut: the error says so, and its result names the target', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/os', { tags: ['1'] });
  const d = appDir();
  const op = new AbortController();
  storeThenInterrupt(dst, 'app', '1', op, Promise.resolve());
  const err = await push({ from: src.ref('base/os:1'), to: dst.ref('app:1'), app: [{ src: d, dest: '/app' }], retries: 0, signal: op.signal, ...fakeLibraryOptions(src, dst) }).then(
    () => assert.fail('the push was interrupted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortedError);
  assert.ok(dst.manifest('app', '1'), 'the cut PUT took effect');
  assert.match(err.message, new RegExp(`^interrupted: the manifest PUT of ${dst.host}/app:1 was cut off and may have taken effect at the registry; `));
  const result = failureResult(err, 'push');
  assert.deepEqual(
    result?.targets?.map((t) => [t.target, t.ok, t.error?.code]),
    [[`${dst.host}/app:1`, false, 'E_ABORTED']],
  );
  assert.match(result!.targets![0]!.error!.message, /cut off: it may have taken effect/);
});

test('an interrupted tagImage names the tags written before the interruption, in its message and its result', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['src'] });
  const op = new AbortController();
  // The HEAD of the second new tag is where the interruption lands (its answer never comes).
  reg.fault({ kind: 'manifest', method: 'HEAD', repo: 'app', path: '/v2/app/manifests/d-1' }, { kind: 'respond', respond: () => op.abort() });
  const err = await tagImage(reg.ref('app:src'), ['d-0', 'd-1', 'd-2'], { signal: op.signal, ...fakeLibraryOptions(reg) }).then(
    () => assert.fail('the tagging was interrupted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortedError);
  assert.equal(reg.manifest('app', 'd-0')?.digest, img.digest);
  assert.match(err.message, /^interrupted: HEAD \S+\/manifests\/d-1 was cut off; nothing was written after the interruption; written before it: d-0$/);
  const result = failureResult(err, 'tagImage');
  assert.deepEqual(result?.tags, ['d-0']);
  assert.deepEqual(
    result?.tagsFailed.map((f) => [f.tag, f.error.code]),
    [
      ['d-1', 'E_ABORTED'],
      ['d-2', 'E_ABORTED'],
    ],
  );
  assert.deepEqual(err.details.failed, [`${reg.host}/app:d-1`, `${reg.host}/app:d-2`]);
});

test('an interrupted copy whose manifest PUT to a target was still waiting for a connection: that target is reported not written (its tag did not move), those sent as may have taken effect', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'] });
  const repos = Array.from({ length: 20 }, (_, i) => `t${i}`);
  const op = new AbortController();
  // Held unanswered, each PUT keeps its connection: past the transport's 16 per host the others
  // wait in the agent's queue, never sent. The interruption comes once 16 are at the registry.
  let held = 0;
  dst.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'respond', respond: () => void (++held === 16 && op.abort()) });
  const err = await copy({ from: src.ref('base/app:1'), to: repos.map((r) => dst.ref(`${r}:1`)), retries: 0, signal: op.signal, ...fakeLibraryOptions(src, dst) }).then(
    () => assert.fail('the copy was interrupted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortedError);
  const sent = new Set(dst.requests({ kind: 'manifest', method: 'PUT' }).map((r) => r.repo));
  const unsent = repos.filter((r) => !sent.has(r));
  assert.equal(sent.size, 16, 'the PUTs that had a connection reached the registry');
  const result = failureResult(err, 'copy');
  assert.deepEqual(
    result?.targets.map((t) => [t.target, t.ok, t.error?.code]),
    repos.map((r) => [`${dst.host}/${r}:1`, false, 'E_ABORTED']),
  );
  for (const [i, r] of repos.entries()) {
    const message: string = result!.targets[i]!.error!.message;
    if (sent.has(r)) assert.equal(message, `interrupted at ${dst.host}/${r}: the manifest PUT of 1 cut off: it may have taken effect at the registry`);
    else assert.equal(message, `interrupted before any tag was written at ${dst.host}/${r}`, r);
  }
  // The error line names the PUTs that were sent, not those that never left the queue.
  for (const r of sent) assert.ok(err.message.includes(`${dst.host}/${r}:1`), err.message);
  for (const r of unsent) assert.ok(!err.message.includes(`${dst.host}/${r}:1`), `${r} was never sent: ${err.message}`);
});

test('an interrupted copy to a target that already held the image under every tag: that target is ok (unchanged), and the result names the source digest and media type read', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  const opts = { retries: 0, ...fakeLibraryOptions(src, dst) };
  await copy({ from: src.ref('base/app:1'), to: [dst.ref('a:1')], ...opts });
  const op = new AbortController();
  // b's first blob request is where the interruption lands: a holds the image, nothing to write there.
  const interrupted = dst.seen({ kind: 'upload', method: 'POST', repo: 'b' }).then(() => op.abort());
  dst.fault({ kind: 'upload', method: 'POST', repo: 'b' }, { kind: 'hold', until: interrupted });
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('a:1'), dst.ref('b:1')], signal: op.signal, ...opts }).then(
    () => assert.fail('the copy was interrupted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortedError);
  const result = failureResult(err, 'copy');
  const [a, b] = result!.targets;
  assert.deepEqual(
    [a?.ok, a?.digest, a?.reference, a?.tags, a?.tagsUnchanged],
    [true, img.digest, `${dst.host}/a@${img.digest}`, ['1'], ['1']],
  );
  assert.deepEqual([b?.ok, b?.error?.message], [false, `interrupted before any tag was written at ${dst.host}/b`]);
  assert.deepEqual(err.details.failed, [`${dst.host}/b:1`]);
  assert.deepEqual([result!.source.digest, result!.mediaType, result!.digest], [img.digest, img.mediaType, img.digest]);
});

test('an interrupted copy --referrers whose image landed: the target counts the referrers copied and lists those left behind before the signal, as a finished copy does', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  const subject = { mediaType: img.mediaType, digest: img.digest, size: img.size };
  // Two notes on the image: the target refuses the first; the signal fires as the referrers of the
  // second are asked for at the source (the walk's next level).
  const refused = src.seedImage('base/app', { artifactType: 'application/vnd.example.refused', subject, layers: ['refused 0'] });
  const note = src.seedImage('base/app', { artifactType: 'application/vnd.example.note', subject, layers: ['note 0'] });
  dst.fault({ kind: 'manifest', method: 'PUT', digest: refused.digest }, { kind: 'status', status: 400, code: 'MANIFEST_INVALID' });
  const op = new AbortController();
  src.fault({ kind: 'referrers', digest: note.digest }, { kind: 'respond', respond: () => op.abort() });
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('a:1')], referrers: true, signal: op.signal, retries: 0, ...fakeLibraryOptions(src, dst) }).then(
    () => assert.fail('the copy was interrupted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortedError);
  const [a] = failureResult(err, 'copy')!.targets;
  assert.deepEqual([a?.ok, a?.digest, a?.referrers, a?.referrersSkipped], [true, img.digest, 1, 1]);
  assert.deepEqual(a?.skippedReferrers?.map((s) => [s.digest, s.reason]), [[refused.digest, 'refused']]);
});

test('an interrupted push to a target whose tags already held the image: that target is ok (unchanged), the one whose PUT was cut is not', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/os', { tags: ['1'] });
  const d = appDir();
  const opts = { from: src.ref('base/os:1'), app: [{ src: d, dest: '/app' }], retries: 0, ...fakeLibraryOptions(src, dst) };
  const first = await push({ ...opts, to: dst.ref('a:1') });
  const op = new AbortController();
  storeThenInterrupt(dst, 'b', '1', op, Promise.resolve());
  const err = await push({ ...opts, to: [dst.ref('a:1'), dst.ref('b:1')], signal: op.signal }).then(
    () => assert.fail('the push was interrupted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortedError);
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT', repo: 'a' }), 1, 'a was written by the first push only');
  const result = failureResult(err, 'push');
  assert.deepEqual(
    result?.targets?.map((t) => [t.target, t.ok, t.digest, t.tagsUnchanged, t.error?.code]),
    [
      [`${dst.host}/a:1`, true, first.digest, ['1'], undefined],
      [`${dst.host}/b:1`, false, '', undefined, 'E_ABORTED'],
    ],
  );
  assert.deepEqual(err.details.failed, [`${dst.host}/b:1`]);
});

test('an interrupted push whose tag at one target held the image already, cut in another target\'s transfer: that target is ok (unchanged)', async () => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base/os', { tags: ['1'] });
  const opts = { from: src.ref('base/os:1'), app: [{ src: appDir(), dest: '/app' }], retries: 0, ...fakeLibraryOptions(src, dst) };
  const first = await push({ ...opts, to: dst.ref('a:1') });
  const layer = first.layers!.find((l) => l.name === 'app layer')!.digest;
  const op = new AbortController();
  // The app layer goes to b (an upload, or a mount from a) once every target's tag was asked
  // about: the interruption lands there. The base layers b reads from the source are held until
  // then, so b's transfer is cut (b set aside); a, with nothing to write, still gets its commit.
  const interrupted = dst.seen({ kind: 'upload', repo: 'b', digest: layer }).then(() => op.abort());
  for (const l of base.layers) src.fault({ kind: 'blob', method: 'GET', digest: l.digest }, { kind: 'hold', until: interrupted });
  const err = await push({ ...opts, to: [dst.ref('a:1'), dst.ref('b:1')], signal: op.signal }).then(
    () => assert.fail('the push was interrupted'),
    (e: unknown) => e,
  );
  const result = aOkBNot(err, dst, first.digest);
  assert.deepEqual([result?.digest, result?.mediaType], [first.digest, first.mediaType]);
});

test('an interrupted tagImage whose manifest PUT was cut before it was sent: the error does not say it may have taken effect, and the tag did not move', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['src'] });
  const op = new AbortController();
  // The interruption lands once the answer to the HEAD of d-1 (absent) has been read, before its
  // PUT is made: that PUT never gets a connection (the request log is told of each answer as it arrives).
  const logger = { debug: (line: string) => void (/^http HEAD \S+\/manifests\/d-1 → 404/.test(line) && op.abort()), info: () => undefined, warn: () => undefined };
  const err = await tagImage(reg.ref('app:src'), ['d-0', 'd-1', 'd-2'], { signal: op.signal, logger, ...fakeLibraryOptions(reg) }).then(
    () => assert.fail('the tagging was interrupted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortedError);
  assert.equal(reg.count({ kind: 'manifest', method: 'PUT', path: '/v2/app/manifests/d-1' }), 0, 'the PUT of d-1 never reached the registry');
  assert.equal(reg.manifest('app', 'd-0')?.digest, img.digest);
  assert.match(err.message, /^interrupted: PUT \S+\/manifests\/d-1 was cut off before it was sent; nothing was written after the interruption; written before it: d-0$/);
  const result = failureResult(err, 'tagImage');
  assert.deepEqual([result?.tags, result?.tagsFailed.map((f) => f.tag)], [['d-0'], ['d-1', 'd-2']]);
});

test('an interrupted tagImage whose manifest PUT was sent and never answered: the error says it may have taken effect', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['src'] });
  const op = new AbortController();
  // The PUT of d-1 reaches the registry, which never answers it: the interruption lands there.
  reg.fault({ kind: 'manifest', method: 'PUT', repo: 'app', path: '/v2/app/manifests/d-1' }, { kind: 'respond', respond: () => op.abort() });
  const err = await tagImage(reg.ref('app:src'), ['d-0', 'd-1'], { signal: op.signal, ...fakeLibraryOptions(reg) }).then(
    () => assert.fail('the tagging was interrupted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortedError);
  assert.match(err.message, /^interrupted: PUT \S+\/manifests\/d-1 was cut off; it may have taken effect at the registry; nothing was sent after it; written before it: d-0$/);
});

test('an interrupted push cut before any commit, once the tag at one target was found holding the image: that target is ok (unchanged), and the result names its media type', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/os', { tags: ['1'] });
  const opts = { from: src.ref('base/os:1'), app: [{ src: appDir(), dest: '/app' }], retries: 0, ...fakeLibraryOptions(src, dst) };
  const first = await push({ ...opts, to: dst.ref('a:1') });
  const op = new AbortController();
  // b's tag GET is never answered; the interruption lands once a's tag was found holding this very
  // image (its log line), so the push stops before its transfers and before any commit.
  dst.fault({ kind: 'manifest', method: 'GET', repo: 'b' }, { kind: 'respond', respond: () => undefined });
  const logger = { debug: () => undefined, warn: () => undefined, info: (line: string) => void (/\/a:1 already holds this very image/.test(line) && op.abort()) };
  const err = await push({ ...opts, to: [dst.ref('a:1'), dst.ref('b:1')], logger, signal: op.signal }).then(
    () => assert.fail('the push was interrupted'),
    (e: unknown) => e,
  );
  const result = aOkBNot(err, dst, first.digest);
  assert.deepEqual([result?.reference, result?.digest, result?.mediaType], [`${dst.host}/a@${first.digest}`, first.digest, first.mediaType]);
  assert.deepEqual((err as AbortedError).details.failed, [`${dst.host}/b:1`]);
});

test('an interrupted copy --all-tags names the tags each target got before the interruption, the PUT cut off once, and the first tag\'s source digest and media type', async () => {
  const [src, dst] = [await fake(), await fake()];
  const imgs = ['1', '2', '3'].map((tag) => src.seedImage('base/app', { tags: [tag], layers: [`layer of ${tag}`] }));
  const op = new AbortController();
  // One tag at a time, in sorted order: 1 is written, the PUT of 2 is stored and its answer cut.
  storeThenInterrupt(dst, 'a', '2', op, Promise.resolve());
  const err = await copy({ from: src.ref('base/app'), to: [dst.ref('a')], allTags: true, images: 1, retries: 0, signal: op.signal, ...fakeLibraryOptions(src, dst) }).then(
    () => assert.fail('the copy was interrupted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortedError);
  assert.deepEqual([dst.manifest('a', '1')?.digest, dst.manifest('a', '3')], [imgs[0]!.digest, undefined]);
  assert.equal(err.message.split(`${dst.host}/a:2`).length, 2, `the PUT cut off is named once: ${err.message}`);
  const result = failureResult(err, 'copy');
  const t = result?.targets[0];
  assert.deepEqual([t?.ok, t?.tags, t?.error?.code], [false, ['1'], 'E_ABORTED']);
  assert.equal(t?.error?.message, `interrupted at ${dst.host}/a: tag 1 written before it; the manifest PUT of 2 cut off: it may have taken effect at the registry`);
  assert.deepEqual([result?.source.reference, result?.source.digest, result?.mediaType], [`${src.host}/base/app:1`, imgs[0]!.digest, imgs[0]!.mediaType]);
  assert.deepEqual(err.details.failed, [`${dst.host}/a`]);
});

test('an interrupted copy to a target whose tags 1 and latest already held the image: its error line names them, with the PUT of the third tag cut off', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  const opts = { from: src.ref('base/app:1'), to: [dst.ref('a:1')], retries: 0, ...fakeLibraryOptions(src, dst) };
  await copy({ ...opts, tags: ['latest'] });
  const op = new AbortController();
  storeThenInterrupt(dst, 'a', '2', op, Promise.resolve());
  const err = await copy({ ...opts, tags: ['latest', '2'], signal: op.signal }).then(
    () => assert.fail('the copy was interrupted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortedError);
  assert.deepEqual(['1', 'latest', '2'].map((tag) => dst.manifest('a', tag)?.digest), [img.digest, img.digest, img.digest]);
  const t = failureResult(err, 'copy')?.targets[0];
  assert.deepEqual([t?.ok, t?.error?.code], [false, 'E_ABORTED']);
  assert.equal(
    t?.error?.message,
    `interrupted at ${dst.host}/a: tags 1, latest already held the image; the manifest PUT of 2 cut off: it may have taken effect at the registry`,
  );
});

test('a target interrupted before any tag was written whose other tags already held the image: its error line names them', () => {
  const t = {
    ref: parseReference('dst.example/m/app:1'),
    tags: ['1', 'latest', '2'],
    tagsUnchanged: ['1', 'latest'],
    plans: new Map(),
    present: new Set(),
    blobs: [],
    ep: { repo: 'm/app', client: {} as never },
  } as TransferTarget;
  assert.deepEqual(TargetSet.interruptedAt(t, t.tags), {
    ok: false,
    written: [],
    error: { code: 'E_ABORTED', message: 'interrupted before any tag was written at dst.example/m/app; tags 1, latest already held the image' },
  });
  const one = { ...t, tagsUnchanged: ['1'], tagsWritten: ['latest'] } as TransferTarget;
  assert.equal(
    TargetSet.interruptedAt(one, one.tags).error?.message,
    'interrupted at dst.example/m/app: tag latest written before it; tag 1 already held the image',
  );
});
