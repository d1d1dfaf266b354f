// sync's report when the caller's signal cuts it short: each target of a unit as the interruption
// left it (interruptedTarget), read from its record of manifest PUTs as copy's interrupted report
// reads it; and the entries whose rule matched no tag (noMatch), in whatever report the error
// carries. Also an image that fails before its transfer starts (a blocked target): in the report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AbortedError, RegistryError } from '../../src/errors.js';
import { parseReference } from '../../src/ref/reference.js';
import { parseSyncFile, sync, type RegpushError, type SyncResult } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';
import { FailureLines, interruptedTarget } from '../../src/sync/report.js';
import type { TransferRun } from '../../src/transfer/engine.js';
import type { TransferTarget } from '../../src/transfer/target-set.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

function target(record: Partial<Pick<TransferTarget, 'tagsWritten' | 'tagsUnchanged' | 'digestWritten' | 'tagsCut' | 'failed'>>, tags = ['1']): TransferTarget {
  return { ref: parseReference('dst.example/m/app:1'), tags, plans: new Map(), present: new Set(), blobs: [], ep: { repo: 'm/app', client: {} as never }, ...record };
}

/** Only a target that failed on its own is asked of the run (its own failure, as ever). */
const run = { targetFailure: (t: TransferTarget) => t.failed } as unknown as TransferRun;
const interrupted = new AbortedError('interrupted: no tag was written after the interruption; every upload session that was open was completed or cancelled');

test('a target whose tag was written before the signal is copied, with the digest written; the others say what the interruption left', () => {
  const lines = new FailureLines();
  const copied = interruptedTarget(target({ tagsWritten: ['1'], digestWritten: DIGEST }), run, lines, interrupted);
  assert.deepEqual([copied.action, copied.ok, copied.digest, copied.error], ['copied', true, DIGEST, undefined]);

  // Its tag found holding the image at the commit (tagsUnchanged): up to date, as a finished sync says.
  const held = interruptedTarget(target({ tagsUnchanged: ['1'], digestWritten: DIGEST }), run, lines, interrupted);
  assert.deepEqual([held.action, held.ok, held.digest, held.error], ['skipped', true, DIGEST, undefined]);

  const cut = interruptedTarget(target({ tagsCut: ['1'] }), run, lines, interrupted);
  assert.deepEqual([cut.action, cut.ok, cut.digest], ['failed', false, '']);
  assert.deepEqual(cut.error, { code: 'E_ABORTED', message: 'interrupted at dst.example/m/app: the manifest PUT of 1 cut off: it may have taken effect at the registry' });
  // The line stands for the unit's interruption (a file of one image fails with it).
  assert.equal(lines.error(cut.error!, {}).code, 'E_ABORTED');

  const none = interruptedTarget(target({}), run, lines, interrupted);
  assert.deepEqual(none.error, { code: 'E_ABORTED', message: 'interrupted before any tag was written at dst.example/m/app' });

  const own = new RegistryError('dst.example answered 500 to PUT …/manifests/1');
  const failed = interruptedTarget(target({ failed: own }), run, lines, interrupted);
  assert.deepEqual(failed.error, { code: 'E_REGISTRY', message: own.message }, 'a target that failed before the signal keeps its own failure');

  const byDigest = interruptedTarget(target({}, []), run, lines, interrupted);
  assert.deepEqual(byDigest.error, { code: 'E_ABORTED', message: interrupted.message }, 'no tag to go by: the unit\'s line');
});

const fake = fakeRegistryPool();

test('interrupted as an image meets a failure outside its own report (a target the configuration blocks): the report the E_ABORTED carries names the entries that matched no tag, as every other report does', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('rc', { tags: ['1.27', 'latest'] });
  for (const n of ['app1', 'app2']) src.seedImage(n, { tags: ['1'] });
  const spec = parseSyncFile(
    [
      'images:',
      `  - { source: ${src.ref('rc')}, tags: { regex: '^nomatch$' }, targets: [${dst.host}/m] }`,
      `  - { source: ${src.ref('app1:1')}, targets: [${dst.host}/m] }`,
      `  - { source: ${src.ref('app2:1')}, targets: [${dst.host}/blocked] }`,
      '',
    ].join('\n'),
    'sync.yaml',
  );
  const controller = new AbortController();
  // The signal fires as the image whose target is blocked starts (Ctrl-C at that moment).
  const unitStart = (source: string): void => {
    if (source === src.ref('app2:1')) controller.abort();
  };
  const err = await sync({ spec, images: 1, ...fakeLibraryOptions(src, dst), blocked: { [`${dst.host}/blocked`]: 'registries.conf' }, signal: controller.signal, events: { unitStart }, retries: 0 }).then(
    () => assert.fail('the sync succeeded'),
    (e: RegpushError) => e,
  );
  assert.equal(err.code, 'E_ABORTED', err.message);
  const result = err.details.result as SyncResult;
  assert.deepEqual(result.noMatch, [{ entry: `images[0] (${src.ref('rc')})`, source: src.ref('rc'), listed: 2 }]);
});

test('a target the configuration blocks fails its image (E_DENIED, no request to it), reported with the others: the sync is not rejected without its report', async () => {
  const [src, dst] = [await fake(), await fake()];
  for (const n of ['app1', 'app2', 'app3']) src.seedImage(n, { tags: ['1'] });
  const spec = parseSyncFile(['images:', ...['app1', 'app2', 'app3'].map((n) => `  - { source: ${src.ref(`${n}:1`)}, targets: [${dst.host}/${n === 'app2' ? 'blocked' : 'm'}] }`), ''].join('\n'), 'sync.yaml');
  const err = await sync({ spec, images: 1, ...fakeLibraryOptions(src, dst), blocked: { [`${dst.host}/blocked`]: 'registries.conf' }, retries: 0 }).then(
    () => assert.fail('the sync succeeded'),
    (e: RegpushError) => e,
  );
  assert.equal(err.code, 'E_PARTIAL', err.message);
  const result = err.details.result as SyncResult;
  assert.deepEqual(
    result.units.map((u) => [u.source, u.ok, u.error?.code, u.targets.map((t) => t.action)]),
    [
      [src.ref('app1:1'), true, undefined, ['copied']],
      [src.ref('app2:1'), false, 'E_DENIED', ['failed']],
      [src.ref('app3:1'), true, undefined, ['copied']],
    ],
  );
  assert.match(result.units[1]!.error!.message, /blocked/);
  assert.equal(dst.count({ repo: 'blocked/app2' }), 0, 'nothing sent to the blocked target');
  assert.ok(dst.manifest('m/app3', '1'), 'the image after it is copied, and awaited');
});

/** Syncs `text` with `signal`, expecting E_ABORTED; its report. */
async function interruptedSync(text: string, signal: AbortSignal, ...regs: Parameters<typeof fakeLibraryOptions>): Promise<SyncResult> {
  const err = await sync({ spec: parseSyncFile(text, 'sync.yaml'), signal, retries: 0, ...fakeLibraryOptions(...regs) }).then(
    () => assert.fail('the sync was interrupted'),
    (e: RegpushError) => e,
  );
  assert.equal(err.code, 'E_ABORTED', err.message);
  return err.details.result as SyncResult;
}

test('interrupted during an image one of whose targets holds it already: that target reads skipped (up to date, its digest), as a finished sync says; the other what the signal left', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const entry = (targets: string[]) => ['images:', `  - { source: ${src.ref('app:1')}, targets: [${targets.join(', ')}], referrers: true }`, ''].join('\n');
  await sync({ spec: parseSyncFile(entry([`${dst.host}/held`]), 'sync.yaml'), ...fakeLibraryOptions(src, dst) });
  const op = new AbortController();
  // The signal fires as the image's referrers are asked for at the source, held unanswered: by
  // then the first target was found holding the image and the other was written.
  src.fault({ kind: 'referrers' }, { kind: 'respond', respond: () => op.abort() });
  const result = await interruptedSync(entry([`${dst.host}/held`, `${dst.host}/fresh`]), op.signal, src, dst);
  assert.equal(dst.manifest('fresh/app', '1')?.digest, img.digest, 'written before the signal');
  assert.deepEqual(
    result.units[0]!.targets.map((t) => [t.target, t.action, t.ok, t.digest, t.error?.message]),
    [
      [`${dst.host}/held/app:1`, 'skipped', true, img.digest, undefined],
      [`${dst.host}/fresh/app:1`, 'copied', true, img.digest, undefined],
    ],
  );
  assert.deepEqual([result.totals.skipped, result.totals.copied, result.totals.failed], [1, 1, 0]);
});

test('interrupted during the referrers of an image that landed: the target reads copied, counting the referrers copied to it before the signal', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  // A note on the image, and a note on that note: the second level is copied once the first is written.
  const note = src.seedImage('app', { artifactType: 'application/vnd.example.note', subject: { mediaType: img.mediaType, digest: img.digest, size: img.size }, layers: ['note 0'] });
  const noteOfNote = src.seedImage('app', { artifactType: 'application/vnd.example.note', subject: { mediaType: note.mediaType, digest: note.digest, size: note.size }, layers: ['note 1'] });
  const op = new AbortController();
  dst.fault({ kind: 'manifest', method: 'PUT', digest: noteOfNote.digest }, { kind: 'respond', respond: () => op.abort() });
  const result = await interruptedSync(['images:', `  - { source: ${src.ref('app:1')}, targets: [${dst.host}/m], referrers: true }`, ''].join('\n'), op.signal, src, dst);
  assert.equal(dst.manifest('m/app', '1')?.digest, img.digest, 'the image landed before the signal');
  const [t] = result.units[0]!.targets;
  assert.deepEqual([t!.action, t!.ok, t!.digest, t!.referrers], ['copied', true, img.digest, 1]);
  assert.equal(result.totals.referrers, 1);
});

test('interrupted while listing tags: a listing whose request was never sent (waiting for its token) reads not started, as one whose turn had not come; one on the wire names the GET cut off', async () => {
  const [open, token] = [await fake(), await fake({ auth: { scheme: 'bearer', user: 'alice', password: 'list-Password-1' } })];
  open.seedImage('app', { tags: ['1'] });
  token.seedImage('team/app', { tags: ['1'] });
  const op = new AbortController();
  // Neither is answered: the open registry's listing is on the wire; the token registry's (its
  // challenge named by the scheme probe) waits for its token. The signal fires once both are so.
  const never = new Promise<never>(() => undefined);
  open.fault({ kind: 'tags' }, { kind: 'hold', until: never });
  token.fault({ kind: 'token' }, { kind: 'hold', until: never });
  void Promise.all([open.seen({ kind: 'tags' }), token.seen({ kind: 'token' })]).then(() => op.abort());
  const { env, homeDir } = fakeLibraryOptions(open, token);
  const text = ['images:', `  - { source: ${open.ref('app')}, tags: { regex: '.' }, targets: [${open.host}/m] }`, `  - { source: ${token.ref('team/app')}, tags: { regex: '.' }, targets: [${open.host}/m] }`, ''].join('\n');
  // No insecureRegistries: each scheme is probed, as the CLI does for a loopback host.
  const err = await sync({ spec: parseSyncFile(text, 'sync.yaml'), signal: op.signal, retries: 0, homeDir, env: { ...env, REGPUSH_FROM_USER: 'alice', REGPUSH_FROM_PASSWORD: 'list-Password-1' } }).then(
    () => assert.fail('the sync was interrupted'),
    (e: RegpushError) => e,
  );
  assert.equal(err.code, 'E_ABORTED', err.message);
  const result = err.details.result as SyncResult;
  assert.deepEqual(
    result.units.map((u) => [u.source, u.error?.code]),
    [
      [open.ref('app'), 'E_ABORTED'],
      [token.ref('team/app'), 'E_ABORTED'],
    ],
  );
  assert.match(result.units[0]!.error!.message, /^aborted: GET http:\/\/.*\/v2\/app\/tags\/list/);
  assert.equal(result.units[1]!.error!.message, 'not started: the sync was interrupted');
  assert.equal(token.count({ kind: 'tags' }), 0, 'the token registry was never asked for the list');
});

test('interrupted during the referrers of an image that landed: the referrers the target refused before the signal are counted and listed (referrersSkipped), as a finished sync lists them', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const subject = { mediaType: img.mediaType, digest: img.digest, size: img.size };
  // Two notes on the image: the target refuses the first; the signal fires as the referrers of
  // the second are asked for at the source (the walk's next level), held unanswered.
  const refused = src.seedImage('app', { artifactType: 'application/vnd.example.refused', subject, layers: ['refused 0'] });
  const note = src.seedImage('app', { artifactType: 'application/vnd.example.note', subject, layers: ['note 0'] });
  dst.fault({ kind: 'manifest', method: 'PUT', digest: refused.digest }, { kind: 'status', status: 400, code: 'MANIFEST_INVALID' });
  const op = new AbortController();
  src.fault({ kind: 'referrers', digest: note.digest }, { kind: 'respond', respond: () => op.abort() });
  const result = await interruptedSync(['images:', `  - { source: ${src.ref('app:1')}, targets: [${dst.host}/m], referrers: true }`, ''].join('\n'), op.signal, src, dst);
  const [t] = result.units[0]!.targets;
  assert.deepEqual([t!.action, t!.ok, t!.referrers, t!.referrersSkipped], ['copied', true, 1, 1]);
  assert.deepEqual(t!.skippedReferrers?.map((s) => [s.digest, s.reason]), [[refused.digest, 'refused']]);
  assert.equal(result.totals.referrersSkipped, 1);
});

test('interrupted as a referrer\'s manifest PUT is on its way to a target that held the image: the target reads skipped, the referrer listed as cut off there (the PUT may have taken effect)', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const entry = (referrers: boolean) => ['images:', `  - { source: ${src.ref('app:1')}, targets: [${dst.host}/m], referrers: ${referrers} }`, ''].join('\n');
  // The image is there already; its note, found by this run, is not.
  await sync({ spec: parseSyncFile(entry(false), 'sync.yaml'), ...fakeLibraryOptions(src, dst) });
  const note = src.seedImage('app', { artifactType: 'application/vnd.example.note', subject: { mediaType: img.mediaType, digest: img.digest, size: img.size }, layers: ['note 0'] });
  const op = new AbortController();
  // The signal fires once the note's PUT has reached the target.
  dst.fault({ kind: 'manifest', method: 'PUT', digest: note.digest }, { kind: 'respond', respond: () => op.abort() });
  const result = await interruptedSync(entry(true), op.signal, src, dst);
  const [t] = result.units[0]!.targets;
  assert.deepEqual([t!.action, t!.ok, t!.digest, t!.referrers, t!.referrersSkipped], ['skipped', true, img.digest, 0, 1]);
  assert.deepEqual(t!.skippedReferrers, [
    {
      digest: note.digest,
      subject: img.digest,
      artifactType: 'application/vnd.example.note',
      mediaType: note.mediaType,
      reason: 'cut-off',
      message: 'the interruption cut its manifest PUT off: it may have taken effect at the registry',
    },
  ]);
});
