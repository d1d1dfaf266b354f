// One caller's AbortSignal shared by many library calls (a deploy script's one controller): no
// MaxListenersExceededWarning in the caller's process, every call still stopped by its abort, and
// the caller's abort reason kept as the error's cause.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { copy, deleteImage, digestOf, inspect, listRepositories, listTags, login, tagImage, untagImage, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type RequestSelector } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const warnings: Error[] = [];
const onWarning = (w: Error) => {
  if (w.name === 'MaxListenersExceededWarning') warnings.push(w);
};
process.on('warning', onWarning);
after(() => process.off('warning', onWarning));

async function rejection(call: () => Promise<unknown>): Promise<RegpushError> {
  return call().then(
    () => assert.fail('the call succeeded'),
    (e: RegpushError) => e,
  );
}

/** Lets process warnings (emitted on a later tick) arrive. */
const settle = () => new Promise((r) => setTimeout(r, 20));

test('12 library calls sharing one signal add no listener to it and print no MaxListenersExceededWarning; its abort stops them all, the reason kept as cause', async () => {
  const [src, dst] = [await fake(), await fake()];
  for (let i = 0; i < 4; i++) src.seedImage(`app${i}`, { tags: ['1'] });
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  after(() => release());
  src.fault({ kind: ['manifest', 'tags'] }, { kind: 'hold', until: held });
  const ac = new AbortController();
  const opts = { ...fakeLibraryOptions(src, dst), signal: ac.signal, retries: 0 };
  const calls = [
    ...[0, 1, 2, 3].map((i) => copy({ from: src.ref(`app${i}:1`), to: [dst.ref(`app${i}:1`)], ...opts })),
    ...[0, 1, 2].map((i) => inspect(src.ref(`app${i}:1`), opts)),
    ...[0, 1, 2].map((i) => digestOf(src.ref(`app${i}:1`), opts)),
    ...[0, 1].map((i) => listTags(src.ref(`app${i}`), opts)),
  ].map((p) => p.then(() => assert.fail('a call succeeded'), (e: RegpushError) => e));
  while (src.count({ kind: ['manifest', 'tags'] }) < 12) await new Promise((r) => setTimeout(r, 5));
  await settle();
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0, 'no listener on the caller\'s signal');
  assert.deepEqual(warnings.map((w) => w.message), []);
  const reason = new Error('deploy window closed');
  ac.abort(reason);
  const errors = await Promise.all(calls);
  // Each keeps the caller's reason as the cause: copy's (push and sync share its TransferRun) and the others'.
  for (const [i, e] of errors.entries()) {
    assert.equal(e.code, 'E_ABORTED', `call ${i}: ${e.message}`);
    assert.equal(e.cause, reason, `call ${i}: ${e.message}`);
  }
  assert.deepEqual(dst.tags('app0'), []);
});

test('AbortSignal.timeout: copy rejects E_ABORTED whose cause is the TimeoutError', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  after(() => release());
  src.fault({ kind: 'manifest' }, { kind: 'hold', until: held });
  const err = await rejection(() => copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst), signal: AbortSignal.timeout(50) }));
  assert.equal(err.code, 'E_ABORTED', err.message);
  assert.equal((err.cause as Error | undefined)?.name, 'TimeoutError');
});

test('deleteImage(force) over 20 tags: its parallel tag lookups print no MaxListenersExceededWarning', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['gone'] });
  for (let i = 0; i < 20; i++) reg.seedImage('app', { tags: [`t${i}`], layers: [`layer ${i}`] });
  // Slow answers, so that the lookups overlap.
  reg.fault({ kind: 'manifest', method: ['GET', 'HEAD'] }, { kind: 'delay', ms: 30 });
  const ac = new AbortController();
  warnings.length = 0;
  const r = await deleteImage(reg.ref('app:gone'), { ...fakeLibraryOptions(reg), force: true, signal: ac.signal });
  assert.equal(r.digest, img.digest);
  await settle();
  assert.deepEqual(warnings.map((w) => w.message), []);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

test('a signal that has already fired: inspect, login and the registry commands send nothing and say so as push, copy and sync do, the reason as cause', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const reason = new Error('deploy window closed');
  const opts = { ...fakeLibraryOptions(reg), signal: AbortSignal.abort(reason) };
  const cases: [string, () => Promise<unknown>][] = [
    ['inspect', () => inspect(reg.ref('app:1'), opts)],
    ['login', () => login({ ...opts, registry: reg.host, username: 'ci', password: 'pw' })],
    ['listTags', () => listTags(reg.ref('app'), opts)],
    ['listRepositories', () => listRepositories(reg.host, opts)],
    ['digestOf', () => digestOf(reg.ref('app:1'), opts)],
    ['tagImage', () => tagImage(reg.ref('app:1'), ['2'], opts)],
    ['untagImage', () => untagImage(reg.ref('app:1'), opts)],
    ['deleteImage', () => deleteImage(reg.ref('app:1'), { ...opts, force: true })],
  ];
  for (const [what, call] of cases) {
    const err = await rejection(call);
    assert.equal(err.code, 'E_ABORTED', `${what}: ${err.message}`);
    assert.equal(err.message, 'interrupted before it started (the abort signal had already fired): nothing was sent', what);
    assert.equal(err.cause, reason, what);
  }
  assert.equal(reg.count(), 0);
});

test('interrupted mid-request, inspect, the registry commands and login say so as push, copy and sync do: "interrupted: REQUEST was cut off; " and what was written, the reason as cause', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const reason = new Error('deploy window closed');
  const base = `http://${reg.host}/v2`;
  // Each call's request is held at the registry, then the caller aborts.
  const cases: [string, RequestSelector, (signal: AbortSignal) => Promise<unknown>, string][] = [
    ['inspect', { kind: 'manifest', method: 'GET' }, (signal) => inspect(reg.ref('app:1'), { ...fakeLibraryOptions(reg), signal }), `interrupted: GET ${base}/app/manifests/1 was cut off; nothing was written`],
    ['listTags', { kind: 'tags' }, (signal) => listTags(reg.ref('app'), { ...fakeLibraryOptions(reg), signal }), `interrupted: GET ${base}/app/tags/list?n=1000 was cut off; nothing was written`],
    ['tagImage, reading', { kind: 'manifest', method: 'GET' }, (signal) => tagImage(reg.ref('app:1'), ['2'], { ...fakeLibraryOptions(reg), signal }), `interrupted: GET ${base}/app/manifests/1 was cut off; nothing was written after the interruption`],
    ['tagImage, writing', { kind: 'manifest', method: 'PUT' }, (signal) => tagImage(reg.ref('app:1'), ['3'], { ...fakeLibraryOptions(reg), signal }), `interrupted: PUT ${base}/app/manifests/3 was cut off; it may have taken effect at the registry; nothing was sent after it`],
    ['login', { path: '/v2/' }, (signal) => login({ ...fakeLibraryOptions(reg), registry: reg.host, username: 'ci', password: 'pw', signal }), `interrupted: GET ${base}/ was cut off; nothing was stored`],
  ];
  for (const [what, match, call, message] of cases) {
    let release!: () => void;
    const fault = reg.fault(match, { kind: 'hold', until: new Promise<void>((r) => (release = r)) });
    const ac = new AbortController();
    const seen = reg.seen(match);
    const rejected = rejection(() => call(ac.signal));
    await seen;
    ac.abort(reason);
    const err = await rejected;
    release();
    fault.remove();
    assert.equal(err.code, 'E_ABORTED', `${what}: ${err.message}`);
    assert.equal(err.message, message, what);
    assert.equal(err.cause, reason, what);
  }
});

test('interrupted while an answer\'s body is read: the request cut off is named (details.request too), as when it is cut before its answer', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const reason = new Error('deploy window closed');
  const request = `GET http://${reg.host}/v2/app/manifests/1`;
  // The manifest's headers and its first byte, and the rest never: the body is being read when the caller aborts.
  const fault = reg.fault(
    { kind: 'manifest', method: 'GET' },
    { kind: 'respond', respond: (_req, _body, res) => res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': '1000' }).write('{') },
  );
  const ac = new AbortController();
  // The transport's request log says the answer came: its body is being read from then on.
  const logger = { debug: (m: string) => (m.startsWith(`http ${request} → 200`) ? ac.abort(reason) : undefined), info: () => undefined, warn: () => undefined };
  const err = await rejection(() => inspect(reg.ref('app:1'), { ...fakeLibraryOptions(reg), logger, signal: ac.signal }));
  fault.remove();
  assert.equal(ac.signal.aborted, true, 'aborted once the answer came');
  assert.equal(err.code, 'E_ABORTED', err.message);
  assert.equal(err.message, `interrupted: ${request} was cut off; nothing was written`);
  assert.equal(err.details.request, request);
  assert.equal(err.cause, reason);
});
