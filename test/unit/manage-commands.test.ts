// tags / digest / tag / delete against the in-process fake registry (test/fixtures/fake-registry.ts),
// the library calls and the CLI in-process: answers lost on the way back, registries that refuse
// a HEAD, some of several tags refused, malformed tag lists, a registry named without a repository.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deleteImage, digestOf, listTags, tagImage, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';

const fake = fakeRegistryPool();

/** The environment that points the CLI at `reg` (plain http, no credential files). */
function cliEnv(reg: FakeRegistry): Record<string, string> {
  const lib = fakeLibraryOptions(reg);
  return { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };
}

test('delete: the DELETE takes effect but its answer is lost, and the retry gets 404 → deleted, exit 0', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1'] });
  // The registry deletes, then the connection closes without an answer (as a front's 504 or a
  // reset after a slow delete): the transport sends the DELETE again and gets 404 MANIFEST_UNKNOWN.
  reg.fault({ kind: 'manifest', method: 'DELETE' }, { kind: 'lose' }, { times: 1 });
  const r = await runMain(['delete', '--force', reg.ref('app:1')], { env: cliEnv(reg) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${reg.host}/app@${img.digest}\n`);
  assert.match(r.stderr, /answered 404 and the manifest is gone/);
  assert.deepEqual(reg.requests({ method: 'DELETE' }).map((q) => q.status), [undefined, 404]);
  assert.equal(reg.manifest('app', img.digest), undefined);
});

test('delete: a 404 to the DELETE while the manifest is still there stays E_NOT_FOUND', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1'] });
  // A front that routes no DELETE: the confirming HEAD finds the manifest, so nothing was deleted.
  reg.fault({ kind: 'manifest', method: 'DELETE' }, { kind: 'status', status: 404 });
  const err = await deleteImage(reg.ref(`app@${img.digest}`), { ...fakeLibraryOptions(reg), retries: 0 }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_NOT_FOUND', String(err));
  assert.ok(reg.manifest('app', img.digest));
});

test('digest, tag and delete at a registry that refuses the manifest HEAD (405, 400, 501): the GET answers, the digest computed from the bytes', async () => {
  for (const status of [405, 400, 501]) {
    const reg = await fake();
    const img = reg.seedImage('app', { tags: ['1', 'same'] });
    reg.fault({ kind: 'manifest', method: 'HEAD' }, { kind: 'status', status });
    const opts = { ...fakeLibraryOptions(reg), retries: 0 };
    const d = await digestOf(reg.ref('app:1'), opts);
    assert.deepEqual({ ...d }, { reference: reg.ref('app:1'), digest: img.digest, mediaType: img.mediaType, size: img.size }, String(status));
    const cli = await runMain(['digest', reg.ref('app:1')], { env: cliEnv(reg) });
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout, `${img.digest}\n`);
    // tag's check of the tags already there: `same` is found by the GET and not written again.
    reg.clearLog();
    const t = await tagImage(reg.ref('app:1'), ['same', 'new'], opts);
    assert.deepEqual(t.tagsUnchanged, ['same'], String(status));
    assert.equal(reg.manifest('app', 'new')?.digest, img.digest);
    assert.equal(reg.count({ method: 'PUT', kind: 'manifest' }), 1);
    // Once refused, the HEAD is not asked again in the same command: the later lookups GET at once.
    assert.equal(reg.count({ method: 'HEAD', kind: 'manifest' }), 1);
    const del = await deleteImage(reg.ref('app:1'), { ...opts, force: true });
    assert.equal(del.digest, img.digest);
    assert.equal(reg.manifest('app', img.digest), undefined);
    // An unknown tag behind a refused HEAD: the GET's 404 is E_NOT_FOUND.
    const missing = await digestOf(reg.ref('app:nope'), opts).then(() => undefined, (e: RegpushError) => e);
    assert.equal(missing?.code, 'E_NOT_FOUND', String(missing));
  }
});

test('a manifest HEAD answered 401, 403 or 404 keeps its meaning: no GET fallback', async () => {
  for (const [status, code] of [[403, 'E_DENIED'], [404, 'E_NOT_FOUND'], [401, 'E_AUTH']] as const) {
    const reg = await fake();
    reg.seedImage('app', { tags: ['1'] });
    reg.fault({ kind: 'manifest', method: 'HEAD' }, { kind: 'status', status, code: status === 403 ? 'DENIED' : 'UNAUTHORIZED' });
    const err = await digestOf(reg.ref('app:1'), { ...fakeLibraryOptions(reg), retries: 0 }).then(() => undefined, (e: RegpushError) => e);
    assert.equal(err?.code, code, `${status}: ${String(err)}`);
    assert.equal(reg.count({ method: 'GET', kind: 'manifest' }), 0, String(status));
  }
});

test('tags: a tag list answered with a null body is one E_PROTOCOL line naming the repository, exit 5 (not an internal error)', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  reg.fault({ kind: 'tags' }, { kind: 'respond', respond: (_q, _b, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('null') });
  const r = await runMain(['tags', `${reg.host}/app`], { env: cliEnv(reg) });
  assert.equal(r.code, 5, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `regpush: error: tag list of ${reg.host}/app: the registry answered null, not a JSON object with "tags" [E_PROTOCOL]\n`);
});

test('tags REGISTRY (no repository): said to be a registry, with a repository in it as the example, exit 2; an image with a tag is still "an image"', async () => {
  for (const reg of ['127.0.0.1:23000', 'localhost:5000', 'localhost', 'registry.example.com', 'registry.example.com:5000', '[::1]:5000']) {
    const r = await runMain(['tags', reg]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `regpush: error: "${reg}" is a registry, not a repository; name a repository in it, e.g. ${reg}/app [E_REFERENCE]\n`);
  }
  for (const image of ['nginx:1.27', 'app:5000', 'foo.bar:latest']) {
    const r = await runMain(['tags', image]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /names an image, not a repository; give the repository alone, e\.g\. docker\.io\/library\//, image);
  }
  const lib = await listTags('localhost:5000').then(() => undefined, (e: RegpushError) => e);
  assert.equal(lib?.code, 'E_REFERENCE');
  assert.match(lib!.message, /is a registry, not a repository/);
});
