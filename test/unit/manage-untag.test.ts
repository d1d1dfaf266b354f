// untag against the in-process fake registry (test/fixtures/fake-registry.ts), which deletes a tag
// on `DELETE /v2/<repo>/manifests/<tag>` and leaves its manifest and other tags, as the OCI
// distribution spec's tag deletion does: what is removed, what stays, the requests sent; the
// refusals of a registry that deletes by digest only (400 or 405, UNSUPPORTED) or allows no
// deletes, a missing tag, a digest given, an answer lost on the way back. The CLI in-process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { untagImage, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';
import { assertValidOutput } from '../e2e/report-schema.js';

const fake = fakeRegistryPool();

/** The environment that points the CLI at `reg` (plain http, no credential files). */
function cliEnv(reg: FakeRegistry): Record<string, string> {
  const lib = fakeLibraryOptions(reg);
  return { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };
}

/** What `call` rejects with (it must reject). */
function rejection(call: Promise<unknown>): Promise<RegpushError> {
  return call.then(
    () => assert.fail('it succeeded'),
    (e: RegpushError) => e,
  );
}

test('untag removes the one tag: the manifest and its other tags stay; a HEAD, then the DELETE of the tag (no DELETE by digest)', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1', 'keep', 'latest'] });
  const r = await runMain(['untag', reg.ref('app:1')], { env: cliEnv(reg) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${reg.host}/app:1@${img.digest}\n`);
  assert.deepEqual(reg.tags('app').sort(), ['keep', 'latest']);
  assert.ok(reg.manifest('app', img.digest), 'the manifest stays');
  assert.deepEqual(
    reg.requests({ kind: 'manifest' }).map((q) => `${q.method} ${q.tag ?? q.digest} ${q.status}`),
    ['HEAD 1 200', 'DELETE 1 202'],
  );

  // --json, and the library: the tag removed and the digest it pointed at.
  const json = await runMain(['untag', '--json', reg.ref('app:keep')], { env: cliEnv(reg) });
  assert.equal(json.code, 0, json.stderr);
  const out = JSON.parse(json.stdout);
  assert.deepEqual(out, { reference: `${reg.host}/app:keep`, digest: img.digest });
  assertValidOutput('untag', out);
  const lib = await untagImage(reg.ref('app:latest'), fakeLibraryOptions(reg));
  assert.deepEqual({ ...lib }, { reference: `${reg.host}/app:latest`, digest: img.digest });
  assert.deepEqual(reg.tags('app'), []);
  assert.ok(reg.manifest('app', img.digest), 'untagged, still there by digest');
});

for (const refusal of [
  { status: 405, code: 'UNSUPPORTED', said: '405 UNSUPPORTED', why: 'distribution after distribution/distribution#3174, before 3.0' },
  { status: 400, code: 'DIGEST_INVALID', said: '400 DIGEST_INVALID', why: 'distribution 2.8, which reads the tag as a digest' },
]) {
  test(`untag at a registry that deletes by digest only (${refusal.said}, ${refusal.why}): E_UNSUPPORTED, exit 6, one line naming delete --force; the tag stays`, async () => {
    const reg = await fake();
    const img = reg.seedImage('app', { tags: ['1', 'keep'] });
    reg.fault({ kind: 'manifest', method: 'DELETE', when: (q) => q.tag !== undefined }, { kind: 'status', status: refusal.status, code: refusal.code });
    const r = await runMain(['untag', '--retries', '0', reg.ref('app:1')], { env: cliEnv(reg) });
    assert.equal(r.code, 6, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `regpush: error: ${reg.host} deletes manifests by digest only: it answered ${refusal.said} to the DELETE of tag 1, which stays; \`regpush delete --force ${reg.host}/app:1\` removes the manifest and every tag on it [E_UNSUPPORTED]\n`,
    );
    assert.deepEqual(reg.tags('app').sort(), ['1', 'keep']);
    // Whether a DELETE by digest would be refused too was asked once, of a manifest that is not there (404: allowed).
    assert.deepEqual(reg.requests({ method: 'DELETE' }).map((q) => [q.tag ?? (q.digest === img.digest ? 'the image' : 'a probe'), q.status]), [['1', refusal.status], ['a probe', 404]]);
    assert.ok(reg.manifest('app', img.digest));

    // The library's advice names deleteImage()'s option, not the CLI's flag.
    const err = await rejection(untagImage(reg.ref('app:1'), { ...fakeLibraryOptions(reg), retries: 0 }));
    assert.equal(err.code, 'E_UNSUPPORTED');
    assert.equal(err.exitCode, 6);
    assert.match(err.message, new RegExp(`which stays; deleteImage\\("${reg.host.replace(/\./g, '\\.')}/app:1", \\{ force: true \\}\\) removes the manifest and every tag on it$`));
    assert.deepEqual(err.details.registryCodes, [refusal.code]);
  });
}

test('untag at a registry that allows no deletes (405 UNSUPPORTED to a DELETE by digest as well): E_UNSUPPORTED saying so, not advising delete --force', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  reg.fault({ kind: 'manifest', method: 'DELETE' }, { kind: 'status', status: 405, code: 'UNSUPPORTED' });
  const r = await runMain(['untag', '--retries', '0', reg.ref('app:1')], { env: cliEnv(reg) });
  assert.equal(r.code, 6, r.stderr);
  assert.equal(
    r.stderr,
    `regpush: error: ${reg.host} does not allow deleting tags or manifests: it answered 405 UNSUPPORTED to the DELETE of tag 1, and likewise to a DELETE by digest (a pull-through cache or a read-only mirror answers so, and takes no deletes; on a CNCF distribution registry that is neither, an operator enables deletes with storage.delete.enabled); the tag stays [E_UNSUPPORTED]\n`,
  );
  assert.deepEqual(reg.tags('app'), ['1']);
});

test('untag of a missing tag: E_NOT_FOUND, exit 4, naming it; nothing deleted', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const r = await runMain(['untag', reg.ref('app:nope')], { env: cliEnv(reg) });
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, new RegExp(`^regpush: error: ${reg.host.replace(/\./g, '\\.')}/app:nope not found: .*\\[E_NOT_FOUND\\]\n$`));
  assert.equal(reg.count({ method: 'DELETE' }), 0);
});

test('untag of a digest: E_REFERENCE, exit 2, before any request (a tag is what it removes)', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1'] });
  for (const ref of [reg.ref(`app@${img.digest}`), reg.ref(`app:1@${img.digest}`)]) {
    const r = await runMain(['untag', ref], { env: cliEnv(reg) });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^regpush: error: \S+ names a digest: untag removes a tag \(\S+\/app:TAG\); to delete the manifest itself, use `regpush delete \S+` \[E_REFERENCE\]\n$/);
  }
  const err = await rejection(untagImage(reg.ref(`app@${img.digest}`), fakeLibraryOptions(reg)));
  assert.equal(err.code, 'E_REFERENCE');
  assert.ok(err.message.endsWith(`to delete the manifest itself, use deleteImage(${JSON.stringify(reg.ref(`app@${img.digest}`))})`), err.message);
  assert.equal(reg.count(), 0);
  assert.deepEqual(reg.tags('app'), ['1']);
});

test('untag of a repository without a tag: E_REFERENCE, exit 2, before any request ("latest" is not assumed: untag removes the tag written out)', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['latest', '1'] });
  const r = await runMain(['untag', reg.ref('app')], { env: cliEnv(reg) });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^regpush: error: \S+\/app names no tag: untag removes the tag it is given, written out \(\S+\/app:TAG\); "latest" is not assumed \[E_REFERENCE\]\n$/);
  const err = await rejection(untagImage(reg.ref('app'), fakeLibraryOptions(reg)));
  assert.equal(err.code, 'E_REFERENCE');
  // An ImageReference without a tag, the same.
  const [registry, repository] = [reg.host, 'app'];
  assert.equal((await rejection(untagImage({ registry, repository }, fakeLibraryOptions(reg)))).code, 'E_REFERENCE');
  assert.equal(reg.count(), 0);
  assert.deepEqual(reg.tags('app').sort(), ['1', 'latest']);
  // Written out, latest is removed like any tag.
  await untagImage(reg.ref('app:latest'), fakeLibraryOptions(reg));
  assert.deepEqual(reg.tags('app'), ['1']);
});

test('untag: the DELETE takes effect but its answer is lost, and the retry gets 404 → removed, exit 0; a 404 while the tag is still there stays E_NOT_FOUND', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1', 'keep'] });
  reg.fault({ kind: 'manifest', method: 'DELETE', when: (q) => q.tag === '1' }, { kind: 'lose' }, { times: 1 });
  const r = await runMain(['untag', reg.ref('app:1')], { env: cliEnv(reg) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${reg.host}/app:1@${img.digest}\n`);
  assert.match(r.stderr, /answered 404 and the tag is gone/);
  assert.deepEqual(reg.requests({ method: 'DELETE' }).map((q) => q.status), [undefined, 404]);
  assert.deepEqual(reg.tags('app'), ['keep']);

  // A front that routes no DELETE: the confirming lookup finds the tag, so nothing was removed.
  reg.fault({ kind: 'manifest', method: 'DELETE' }, { kind: 'status', status: 404 });
  const err = await rejection(untagImage(reg.ref('app:keep'), { ...fakeLibraryOptions(reg), retries: 0 }));
  assert.equal(err.code, 'E_NOT_FOUND', String(err));
  assert.deepEqual(reg.tags('app'), ['keep']);
});
