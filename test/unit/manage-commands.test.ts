// tags / digest / tag / delete against the in-process fake registry (test/fixtures/fake-registry.ts),
// the library calls and the CLI in-process: answers lost on the way back, registries that refuse
// a HEAD, some of several tags refused, malformed tag lists, a registry named without a repository,
// the catalog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deleteImage, digestOf, inspect, listRepositories, listTags, tagImage, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';
import { assertValidOutput } from '../e2e/report-schema.js';

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
  // (The image's DELETE: delete also sends one of a manifest that is not there, to learn whether deletes are refused.)
  reg.fault({ kind: 'manifest', method: 'DELETE', digest: img.digest }, { kind: 'lose' }, { times: 1 });
  const r = await runMain(['delete', '--force', reg.ref('app:1')], { env: cliEnv(reg) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${reg.host}/app@${img.digest}\n`);
  assert.match(r.stderr, /answered 404 and the manifest is gone/);
  assert.deepEqual(reg.requests({ method: 'DELETE', digest: img.digest }).map((q) => q.status), [undefined, 404]);
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
    // Once refused with 405 or 501 (the method not served), the HEAD is not asked again in the same
    // command: the later lookups GET at once. A 400 may be about one reference: each lookup HEADs first.
    assert.equal(reg.count({ method: 'HEAD', kind: 'manifest' }), status === 400 ? 2 : 1, String(status));
    const del = await deleteImage(reg.ref('app:1'), { ...opts, force: true });
    assert.equal(del.digest, img.digest);
    assert.equal(reg.manifest('app', img.digest), undefined);
    // An unknown tag behind a refused HEAD: the GET's 404 is E_NOT_FOUND.
    const missing = await digestOf(reg.ref('app:nope'), opts).then(() => undefined, (e: RegpushError) => e);
    assert.equal(missing?.code, 'E_NOT_FOUND', String(missing));
  }
});

test('digest --json: its members in the documented order (reference, digest, mediaType, size) from a HEAD, a GET and with --platform (was: digest last from a HEAD)', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const keys = async (argv: string[]) => {
    const r = await runMain(['digest', '--json', ...argv], { env: cliEnv(reg) });
    assert.equal(r.code, 0, r.stderr);
    return Object.keys(JSON.parse(r.stdout) as object);
  };
  assert.deepEqual(await keys([reg.ref('app:1')]), ['reference', 'digest', 'mediaType', 'size']);
  assert.deepEqual(await keys(['--platform', 'linux/amd64', reg.ref('app:1')]), ['reference', 'digest', 'mediaType', 'size']);
  reg.fault({ kind: 'manifest', method: 'HEAD' }, { kind: 'status', status: 405 });
  assert.deepEqual(await keys([reg.ref('app:1')]), ['reference', 'digest', 'mediaType', 'size']);
});

test('flags before the command work as after it: an on/off flag no longer takes the command for its value (--debug tags REPO was "unknown flag --debug; unknown argument REPO")', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1'] });
  const json = await runMain(['--json', 'tags', reg.ref('app')], { env: cliEnv(reg) });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), { repository: reg.ref('app'), tags: ['1'] });
  const debug = await runMain(['--debug', '-q', 'digest', reg.ref('app:1')], { env: cliEnv(reg) });
  assert.equal(debug.code, 0, debug.stderr);
  assert.equal(debug.stdout, `${img.digest}\n`);
  assert.match(debug.stderr, /^debug: /m);
  // A flag with a value, before the command and its own flags: the same as ever.
  const retries = await runMain(['--retries', '0', 'tag', '--json', reg.ref('app:1'), '2'], { env: cliEnv(reg) });
  assert.equal(retries.code, 0, retries.stderr);
  assert.deepEqual((JSON.parse(retries.stdout) as { tags: string[] }).tags, ['2']);
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
    assert.match(r.stderr, /names an image, not a repository; give the repository alone, e\.g\. docker\.io\/library\/.* \[E_REFERENCE\]$/m, image);
  }
  const lib = await listTags('localhost:5000').then(() => undefined, (e: RegpushError) => e);
  assert.equal(lib?.code, 'E_REFERENCE');
  assert.match(lib!.message, /is a registry, not a repository/);
});

/** A registry whose tags `b` and `b2` are immutable (400 TAG_INVALID, as Harbor or ECR answer), `same` already on app:1's manifest. */
async function immutableTags(): Promise<{ reg: FakeRegistry; digest: string }> {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1', 'same'] });
  reg.fault({ kind: 'manifest', method: 'PUT', path: /\/manifests\/b2?$/ }, { kind: 'status', status: 400, code: 'TAG_INVALID', message: 'tag is immutable' });
  return { reg, digest: img.digest };
}

test('tag: one new tag refused → every other tag is still written; E_PARTIAL naming the failed tag with its reason and the tags written, the result in details', async () => {
  const { reg, digest } = await immutableTags();
  const err = await tagImage(reg.ref('app:1'), ['a', 'b', 'c', 'same'], { ...fakeLibraryOptions(reg), retries: 0 }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_PARTIAL', String(err));
  const repo = `${reg.host}/app`;
  assert.equal(
    err!.message,
    `1 of 4 tags failed: ${repo}:b (E_REGISTRY: PUT manifest ${repo}:b: ${reg.host} answered 400 TAG_INVALID: tag is immutable); written: a, c; already there: same`,
  );
  assert.deepEqual(err!.details.failed, [`${repo}:b`]);
  const result = err!.details.result as Record<string, unknown>;
  assert.deepEqual(result.tags, ['a', 'c', 'same']);
  assert.deepEqual(result.tagsUnchanged, ['same']);
  assert.deepEqual(result.references, [`${repo}:a`, `${repo}:c`, `${repo}:same`]);
  assert.deepEqual(result.tagsFailed, [{ tag: 'b', error: { code: 'E_REGISTRY', message: `PUT manifest ${repo}:b: ${reg.host} answered 400 TAG_INVALID: tag is immutable` } }]);
  assert.deepEqual(reg.tags('app'), ['1', 'a', 'c', 'same']);
  assert.equal(reg.manifest('app', 'c')?.digest, digest);
});

test('tag CLI: some tags refused → exit 8, the tags in place printed (--json: tagsFailed), then one error line', async () => {
  const { reg, digest } = await immutableTags();
  const env = cliEnv(reg);
  const repo = `${reg.host}/app`;
  const text = await runMain(['tag', '--retries', '0', reg.ref('app:1'), 'a', 'b', 'c'], { env });
  assert.equal(text.code, 8, text.stderr);
  assert.equal(text.stdout, `${repo}:a@${digest}\n${repo}:c@${digest}\n`);
  const lines = text.stderr.trim().split('\n');
  assert.equal(lines.length, 1, text.stderr);
  assert.match(lines[0]!, new RegExp(`^regpush: error: 1 of 3 tags failed: ${repo}:b \\(E_REGISTRY: .*TAG_INVALID.*\\); written: a, c \\[E_PARTIAL\\]$`));
  const json = await runMain(['tag', '--json', '--retries', '0', reg.ref('app:1'), 'b', 'd', 'b2'], { env });
  assert.equal(json.code, 8, json.stderr);
  const out = JSON.parse(json.stdout);
  assertValidOutput('tag', out);
  assert.deepEqual(out.tags, ['d']);
  assert.deepEqual(out.tagsFailed.map((f: { tag: string; error: { code: string } }) => [f.tag, f.error.code]), [['b', 'E_REGISTRY'], ['b2', 'E_REGISTRY']]);
  assert.match(json.stderr, /2 of 3 tags failed: .*:b \(.*; .*:b2 \(.*; written: d \[E_PARTIAL\]\n$/);
  // Every tag written: tagsFailed is there, empty.
  const ok = await runMain(['tag', '--json', reg.ref('app:1'), 'a', 'e'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout).tagsFailed, []);
  assertValidOutput('tag', JSON.parse(ok.stdout));
});

test('tag: every new tag refused → the first one\'s own error (as copy with every target failed), each tag tried', async () => {
  const { reg } = await immutableTags();
  const r = await runMain(['tag', '--json', '--retries', '0', reg.ref('app:1'), 'b', 'b2'], { env: cliEnv(reg) });
  assert.equal(r.code, 5, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^regpush: error: PUT manifest ${reg.host}/app:b: .*TAG_INVALID.* \\[E_REGISTRY\\]\n$`));
  assert.deepEqual(reg.requests({ method: 'PUT', kind: 'manifest' }).map((q) => q.tag), ['b', 'b2']);
});

test('catalog: every repository of the registry, in the CLI one per line and as --json; the library call the same', async () => {
  const reg = await fake();
  reg.seedImage('team/app', { tags: ['1'] });
  reg.seedImage('base', { tags: ['1'] });
  const r = await runMain(['catalog', reg.host], { env: cliEnv(reg) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'base\nteam/app\n');
  const j = await runMain(['catalog', '--json', reg.host], { env: cliEnv(reg) });
  assert.equal(j.code, 0, j.stderr);
  assertValidOutput('catalog', JSON.parse(j.stdout));
  assert.deepEqual(JSON.parse(j.stdout), { registry: reg.host, repositories: ['base', 'team/app'] });
  assert.deepEqual(await listRepositories(`http://${reg.host}/`, fakeLibraryOptions(reg)), { registry: reg.host, repositories: ['base', 'team/app'] });
  assert.equal(reg.count({ kind: 'catalog' }), 3);
});

test('catalog at a registry without one (404): E_UNSUPPORTED, exit 6, pointing at tags; a malformed answer E_PROTOCOL; a repository or image given: E_REFERENCE, exit 2, no request', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const none = reg.fault({ kind: 'catalog' }, { kind: 'status', status: 404 });
  const r = await runMain(['catalog', reg.host], { env: cliEnv(reg) });
  assert.equal(r.code, 6, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `regpush: error: ${reg.host} offers no catalog (GET /v2/_catalog answered 404; Docker Hub, GHCR, ECR and GAR have none): list a repository's tags with regpush tags ${reg.host}/REPOSITORY [E_UNSUPPORTED]\n`);
  none.remove();
  reg.fault({ kind: 'catalog' }, { kind: 'respond', respond: (_q, _b, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"repositories": "app"}') });
  const bad = await listRepositories(reg.host, fakeLibraryOptions(reg)).then(() => undefined, (e: RegpushError) => e);
  assert.equal(bad?.code, 'E_PROTOCOL', String(bad));
  assert.match(bad!.message, /^catalog of .*: "repositories" is a string, not a list$/);
  reg.clearLog();
  for (const arg of [`${reg.host}/app`, `${reg.host}/app:1`, 'nginx']) {
    const wrong = await runMain(['catalog', arg], { env: cliEnv(reg) });
    assert.equal(wrong.code, 2, `${arg}: ${wrong.stderr}`);
    assert.match(wrong.stderr, /is not a registry host; give e\.g\. registry\.example\.com or 127\.0\.0\.1:5000 .*\[E_REFERENCE\]$/m);
  }
  assert.equal(reg.count({}), 0, 'nothing asked');
});

test('catalog: a password refused (by a Basic registry, or by the token service) is said as such, without the hint that the catalog is an administrator\'s right; credentials accepted and refused registry:catalog:* keep it (the hint followed every refusal)', async () => {
  const hint = /the catalog needs registry:catalog:\*/;
  const basic = await fake({ auth: { scheme: 'basic', user: 'alice', password: 'right' } });
  const bearer = await fake({ auth: { scheme: 'bearer', user: 'alice', password: 'right' } });
  for (const reg of [basic, bearer]) {
    reg.seedImage('app', { tags: ['1'] });
    const wrong = await listRepositories(reg.host, { ...fakeLibraryOptions(reg), retries: 0, credentials: { from: { username: 'alice', password: 'wrong' } } }).then(() => undefined, (e: RegpushError) => e);
    assert.equal(wrong?.code, 'E_AUTH', String(wrong));
    assert.match(wrong!.message, /rejected the credentials for user alice/);
    assert.doesNotMatch(wrong!.message, hint, reg.host);
  }
  // A token service that takes the password but grants no catalog: the registry answers insufficient_scope.
  bearer.fault({ kind: 'catalog' }, {
    kind: 'respond',
    respond: (_q, _b, res) =>
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Bearer realm="${bearer.url}/token",service="fake-registry",scope="registry:catalog:*",error="insufficient_scope"` }).end('{"errors":[{"code":"UNAUTHORIZED","message":"insufficient scope"}]}'),
  });
  const notGranted = await listRepositories(bearer.host, { ...fakeLibraryOptions(bearer), retries: 0, credentials: { from: { username: 'alice', password: 'right' } } }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(notGranted?.code, 'E_AUTH', String(notGranted));
  assert.match(notGranted!.message, /for registry:catalog:\* \(access is not granted\).*; the catalog needs registry:catalog:\*, which token services commonly grant to administrators only$/);
});

test('delete of a tag names every other tag on its manifest: in the refusal without --force, and in the --force warning and --json otherTags (they went unnamed)', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1', 'latest', 'keep'] });
  reg.seedImage('app', { tags: ['other'] });
  const refused = await runMain(['delete', reg.ref('app:1')], { env: cliEnv(reg) });
  assert.equal(refused.code, 2, refused.stderr);
  assert.equal(
    refused.stderr,
    `regpush: error: ${reg.ref('app:1')} is a tag; deleting removes manifest ${img.digest} and every tag that points at it (1, keep and latest). To remove tag 1 alone: \`regpush untag ${reg.ref('app:1')}\`. Delete by digest (${reg.host}/app@${img.digest}) or add --force [E_USAGE]\n`,
  );
  assert.ok(reg.manifest('app', img.digest), 'nothing deleted');
  const r = await runMain(['delete', '--force', '--json', reg.ref('app:1')], { env: cliEnv(reg) });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assertValidOutput('delete', out);
  assert.deepEqual(out, { reference: `${reg.host}/app@${img.digest}`, digest: img.digest, resolvedFrom: '1', otherTags: ['keep', 'latest'], indexTags: [] });
  assert.match(r.stderr, /deleted \S+, which tag 1 pointed at: tags keep and latest pointed at it too and are gone with it/);
  assert.deepEqual((await listTags(`${reg.host}/app`, fakeLibraryOptions(reg))).tags, ['other']);
  // One HEAD per tag: the tag list bounds the lookups (DELETE_TAG_CHECK_LIMIT).
  const only = reg.seedImage('app', { tags: ['solo'] });
  const lib = await deleteImage(reg.ref('app:solo'), { ...fakeLibraryOptions(reg), force: true });
  assert.deepEqual(lib.otherTags, []);
  assert.equal(lib.digest, only.digest);
});

test('delete of a platform image a tagged index lists: refused without --force naming the index tag, warned with it; no "every tag … gone" line when no tag pointed at it', async () => {
  const reg = await fake();
  const amd = reg.seedImage('app', { tags: [] });
  const arm = reg.seedImage('app', { tags: [], platform: { os: 'linux', architecture: 'arm64' } });
  const index = reg.seedIndex('app', [amd, arm], { tags: ['multi', 'stable'] });
  reg.seedImage('app', { tags: ['single'] });
  const byDigest = `${reg.host}/app@${arm.digest}`;
  const refused = await runMain(['delete', byDigest], { env: cliEnv(reg) });
  assert.equal(refused.code, 2, refused.stderr);
  assert.equal(
    refused.stderr,
    `regpush: error: ${byDigest}: it is a platform of the image index tagged multi and stable, which would be left listing a manifest that is gone (a pull of that platform fails). Delete the index first, or add --force to delete it anyway [E_USAGE]\n`,
  );
  assert.ok(reg.manifest('app', arm.digest), 'nothing deleted');
  // The index is read once (two tags name it), the plain image's tag is not read at all.
  assert.equal(reg.count({ method: 'GET', kind: 'manifest' }), 1);
  const r = await runMain(['delete', '--force', '--json', byDigest], { env: cliEnv(reg) });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assertValidOutput('delete', out);
  assert.deepEqual(out, { reference: byDigest, digest: arm.digest, otherTags: [], indexTags: ['multi', 'stable'] });
  assert.doesNotMatch(r.stderr, /every tag/);
  assert.match(r.stderr, /was deleted although it is a platform of the image index tagged multi and stable/);
  // Deleting the index itself leaves its children (and the refusal is not asked for: no index lists it).
  const idx = await deleteImage(reg.ref(`app@${index.digest}`), fakeLibraryOptions(reg));
  assert.deepEqual(idx.otherTags, ['multi', 'stable']);
  assert.ok(reg.manifest('app', amd.digest));
});

/**
 * A registry (or a front before it) whose manifest HEAD answers carry `contentType` instead of the
 * manifest's own type (undefined: no Content-Type at all); digest and length stay right, GETs too.
 */
function headTypes(reg: FakeRegistry, contentType: (stored: string) => string | undefined): void {
  reg.fault({ kind: 'manifest', method: 'HEAD' }, {
    kind: 'respond',
    respond: (req, _body, res) => {
      const m = reg.manifest(req.repo!, (req.digest ?? req.tag)!);
      if (!m) {
        res.writeHead(404).end();
        return;
      }
      const type = contentType(m.mediaType);
      res.writeHead(200, { 'docker-content-digest': m.digest, 'content-length': m.size, ...(type === undefined ? {} : { 'content-type': type }) }).end();
    },
  });
}

test('delete of a platform image at a registry whose manifest HEAD names no type, or a generic one: the index is still found (its manifest read), and the refusal stands', async () => {
  // Was: the index was recognised by its HEAD's Content-Type alone, so a HEAD without one (a front
  // that drops it; Harbor's proxy cache before 2.1.3, goharbor/harbor#13740) or with a generic one
  // (application/json, as Artifactory 4.4 and Katello answered) let a platform image be deleted
  // by digest with no word of the index left listing it.
  for (const [what, type] of [
    ['no Content-Type', () => undefined],
    ['application/json', () => 'application/json'],
    ['application/octet-stream', () => 'application/octet-stream'],
  ] as const) {
    const reg = await fake();
    const amd = reg.seedImage('app', { tags: [] });
    const arm = reg.seedImage('app', { tags: [], platform: { os: 'linux', architecture: 'arm64' } });
    const index = reg.seedIndex('app', [amd, arm], { tags: ['multi', 'stable'] });
    reg.seedImage('app', { tags: ['single'] });
    headTypes(reg, type);
    const byDigest = `${reg.host}/app@${arm.digest}`;
    const refused = await runMain(['delete', byDigest], { env: cliEnv(reg) });
    assert.equal(refused.code, 2, `${what}: ${refused.stderr}`);
    assert.match(refused.stderr, /it is a platform of the image index tagged multi and stable, .*\[E_USAGE\]\n$/, what);
    assert.ok(reg.manifest('app', arm.digest), `${what}: deleted`);
    // The cost: one GET per manifest whose type the HEAD did not tell, each digest once (the
    // index two tags name is read once), none of the manifest being deleted.
    assert.deepEqual(reg.requests({ method: 'GET', kind: 'manifest' }).map((q) => q.digest).sort(), [index.digest, reg.manifest('app', 'single')!.digest].sort(), what);
    const r = await deleteImage(byDigest, { ...fakeLibraryOptions(reg), force: true });
    assert.deepEqual({ ...r }, { reference: byDigest, digest: arm.digest, otherTags: [], indexTags: ['multi', 'stable'] }, what);
  }
});

test('delete at a registry that refuses the manifest HEAD: the GET each tag gets instead says which is an index, and the index is not read again', async () => {
  const reg = await fake();
  const amd = reg.seedImage('app', { tags: [] });
  const arm = reg.seedImage('app', { tags: [], platform: { os: 'linux', architecture: 'arm64' } });
  reg.seedIndex('app', [amd, arm], { tags: ['multi', 'stable'] });
  reg.seedImage('app', { tags: ['single'] });
  reg.fault({ kind: 'manifest', method: 'HEAD' }, { kind: 'status', status: 405 });
  const byDigest = `${reg.host}/app@${arm.digest}`;
  const err = await deleteImage(byDigest, { ...fakeLibraryOptions(reg), retries: 0 }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_USAGE', String(err));
  assert.match(err!.message, /platform of the image index tagged multi and stable/);
  // The digest's own lookup, then one GET per tag.
  assert.equal(reg.count({ method: 'GET', kind: 'manifest' }), 1 + 3);
});

test('delete: a Docker manifest list is an index too, by its HEAD type (no manifest read but the list\'s own); an image manifest type on the HEAD is taken at its word (no GET)', async () => {
  const reg = await fake();
  const amd = reg.seedImage('app', { tags: [], format: 'docker' });
  const arm = reg.seedImage('app', { tags: [], format: 'docker', platform: { os: 'linux', architecture: 'arm64' } });
  const list = reg.seedIndex('app', [amd, arm], { tags: ['multi'], format: 'docker' });
  assert.equal(list.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
  reg.seedImage('app', { tags: ['single', 'other'] });
  const byDigest = `${reg.host}/app@${amd.digest}`;
  const refused = await runMain(['delete', byDigest], { env: cliEnv(reg) });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /platform of the image index tagged multi\b.* \[E_USAGE\]$/m);
  assert.deepEqual(reg.requests({ method: 'GET', kind: 'manifest' }).map((q) => q.digest), [list.digest]);
});

test('catalog --page-size above 1000 at a registry that refuses it (400 PAGINATION_NUMBER_INVALID, as distribution does past catalog.maxentries): asked once more with n=1000, said in --debug', async () => {
  const reg = await fake();
  reg.seedImage('team/app', { tags: ['1'] });
  reg.seedImage('base', { tags: ['1'] });
  reg.fault({ kind: 'catalog', when: (q) => Number(q.query.get('n')) > 1000 }, { kind: 'status', status: 400, code: 'PAGINATION_NUMBER_INVALID', message: 'invalid number of results requested' });
  const r = await runMain(['catalog', '--debug', '--page-size', '5000', reg.host], { env: cliEnv(reg) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'base\nteam/app\n');
  assert.match(r.stderr, /refused n=5000 \(400 PAGINATION_NUMBER_INVALID\); asking again with n=1000/);
  assert.deepEqual(reg.requests({ kind: 'catalog' }).filter((q) => q.status !== 401).map((q) => [q.status]), [[400], [200]]);
  // Another 400 is not retried: its own error.
  reg.clearLog();
  const other = await fake();
  other.seedImage('app', { tags: ['1'] });
  other.fault({ kind: 'catalog' }, { kind: 'status', status: 400, code: 'UNSUPPORTED' });
  const err = await listRepositories(other.host, { ...fakeLibraryOptions(other), pageSize: 5000, retries: 0 }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_REGISTRY', String(err));
  assert.match(String(err), /400 UNSUPPORTED/);
  assert.equal(other.count({ kind: 'catalog' }), 1);
});

test('catalog REGISTRY:PORT without a dot (a compose service name, registry:5000) is a registry; tags registry:5000 offers the registry reading too, not only a Docker Hub image', async () => {
  const wrong = await listRepositories('registry:5000', { retries: 0, insecureRegistries: ['registry:5000'] }).then(() => undefined, (e: RegpushError) => e);
  // Not refused as "not a registry host": the name is asked for (and does not resolve here).
  assert.notEqual(wrong?.code, 'E_REFERENCE', String(wrong));
  assert.doesNotMatch(String(wrong), /not a registry host/);
  // For tags the word is either: an image with a numeric tag, or a registry with its port. Both readings are offered.
  const r = await runMain(['tags', 'registry:5000']);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(
    r.stderr,
    'regpush: error: "registry:5000" names an image, not a repository; give the repository alone, e.g. docker.io/library/registry; or, if registry:5000 is a registry, a repository in it, e.g. registry:5000/app [E_REFERENCE]\n',
  );
  const tagged = await runMain(['tags', 'nginx:1.27']);
  assert.doesNotMatch(tagged.stderr, /if nginx/);
});

test('a tag list whose Link leads to another host: E_PROTOCOL naming both hosts, the other host never asked', async () => {
  const reg = await fake();
  const elsewhere = await fake();
  reg.seedImage('app', { tags: ['a', 'b', 'c'] });
  reg.fault({ kind: 'tags' }, { kind: 'respond', respond: (_q, _b, res) => res.writeHead(200, { 'content-type': 'application/json', link: `<http://${elsewhere.host}/v2/app/tags/list?n=1&last=a>; rel="next"` }).end('{"name":"app","tags":["a"]}') });
  const r = await runMain(['tags', `${reg.host}/app`], { env: cliEnv(reg) });
  assert.equal(r.code, 5, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `regpush: error: tag list of ${reg.host}/app: the registry at ${reg.host} sent a Link to its next page on another host (http://${elsewhere.host}); regpush reads a list's pages from the registry itself only [E_PROTOCOL]\n`);
  assert.equal(elsewhere.count({}), 0);
});

test('tags answered 401 with no challenge: the hint names --user and REGPUSH_FROM_*, what tags takes (not push and copy\'s --to-user/--from-user)', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  reg.fault({ kind: 'tags' }, { kind: 'status', status: 401, code: 'UNAUTHORIZED' });
  const r = await runMain(['tags', `${reg.host}/app`], { env: cliEnv(reg) });
  assert.equal(r.code, 3, r.stderr);
  assert.ok(r.stderr.includes(`(check the credentials for ${reg.host}: \`regpush login ${reg.host}\`, --user with --password-stdin, or the REGPUSH_FROM_* env vars) [E_AUTH]`), r.stderr);
  assert.doesNotMatch(r.stderr, /--(from|to)-user/);
});

test('inspect({ platform }) picks as digestOf({ platform }) does: of Windows images of two OS versions, the same first one, with the same warning; `inspect --platform` prints it on stderr', async () => {
  const reg = await fake();
  const w1 = reg.seedImage('win', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.5329' } });
  const w2 = reg.seedImage('win', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2227' } });
  const index = reg.seedIndex('win', [w1, w2], { tags: ['1'] });
  const said = (warnings: string[]) => ({ debug() {}, info() {}, warn: (m: string) => void warnings.push(m) });
  const byDigest: string[] = [];
  const byInspect: string[] = [];
  const d = await digestOf(reg.ref('win:1'), { ...fakeLibraryOptions(reg), platform: 'windows/amd64', logger: said(byDigest) });
  const i = await inspect(reg.ref('win:1'), { ...fakeLibraryOptions(reg), platform: 'windows/amd64', logger: said(byInspect) });
  assert.equal(d.digest, w1.digest);
  assert.deepEqual([i.digest, i.indexDigest], [w1.digest, index.digest]);
  assert.equal(byInspect.length, 1, byInspect.join('\n'));
  assert.match(byInspect[0]!, /^\S+win:1: windows\/amd64 matches images of 2 OS versions \(10\.0\.17763\.5329, 10\.0\.20348\.2227\); taking the first/);
  assert.deepEqual(byInspect, byDigest);
  // Named with its OS version: that one, and no warning.
  const named = await inspect(reg.ref('win:1'), { ...fakeLibraryOptions(reg), platform: 'windows(10.0.20348.2227)/amd64', logger: said(byInspect) });
  assert.equal(named.digest, w2.digest);
  assert.equal(byInspect.length, 1, byInspect.join('\n'));
  const cli = await runMain(['inspect', '--platform', 'windows/amd64', reg.ref('win:1')], { env: cliEnv(reg) });
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stderr, /windows\/amd64 matches images of 2 OS versions/);
});

test('digestOf({ platform }): the child of an index from its descriptor (one manifest GET, no child read), the OS-version warning, a single image by its config, an artifact or another platform E_NOT_FOUND, a bad spelling refused before any request', async () => {
  const reg = await fake();
  const amd = reg.seedImage('app', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = reg.seedImage('app', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  const index = reg.seedIndex('app', [amd, arm], { tags: ['multi'] });
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m) };
  const opts = { ...fakeLibraryOptions(reg), logger };
  reg.clearLog();
  const d = await digestOf(reg.ref('app:multi'), { ...opts, platform: 'linux/arm64' });
  assert.deepEqual({ ...d }, { reference: reg.ref('app:multi'), digest: arm.digest, mediaType: arm.mediaType, size: arm.size, indexDigest: index.digest, platform: 'linux/arm64/v8' });
  assert.deepEqual(reg.log.filter((e) => e.kind === 'manifest').map((e) => `${e.method} ${e.tag}`), ['GET multi']);
  assert.equal(reg.count({ kind: 'blob' }), 0);
  // The CLI prints the digest; --json validates against the schema.
  const cli = await runMain(['digest', '--platform', 'linux/amd64', reg.ref('app:multi')], { env: cliEnv(reg) });
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stdout, `${amd.digest}\n`);
  const j = await runMain(['digest', '--json', '--platform', 'linux/amd64', reg.ref('app:multi')], { env: cliEnv(reg) });
  assertValidOutput('digest', JSON.parse(j.stdout));

  // Windows builds of one architecture: the first is taken, with the warning push and copy give.
  const w1 = reg.seedImage('win', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.5329' } });
  const w2 = reg.seedImage('win', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2227' } });
  reg.seedIndex('win', [w1, w2], { tags: ['1'] });
  assert.equal((await digestOf(reg.ref('win:1'), { ...opts, platform: 'windows/amd64' })).digest, w1.digest);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /matches images of 2 OS versions/);
  assert.equal((await digestOf(reg.ref('win:1'), { ...opts, platform: 'windows(10.0.20348.2227)/amd64' })).digest, w2.digest);

  // A single image: itself when its config says so, else E_NOT_FOUND naming what it is.
  const single = reg.seedImage('one', { tags: ['1'], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  assert.deepEqual({ ...(await digestOf(reg.ref('one:1'), { ...opts, platform: 'linux/arm64' })) }, { reference: reg.ref('one:1'), digest: single.digest, mediaType: single.mediaType, size: single.size });
  const other = await digestOf(reg.ref('one:1'), { ...opts, platform: 'linux/amd64' }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(other?.code, 'E_NOT_FOUND', String(other));
  assert.match(other!.message, /one:1 is a single linux\/arm64\/v8 image, not linux\/amd64$/);
  // An artifact (a config that is not an image's): E_NOT_FOUND naming its type, its config not parsed.
  const chart = reg.putBlob('chart', '{"name":"app"}', 'application/vnd.cncf.helm.config.v1+json');
  const layer = reg.putBlob('chart', 'not a tar');
  reg.putManifest('chart', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: chart, layers: [layer] }, { tags: ['1'] });
  const artifact = await digestOf(reg.ref('chart:1'), { ...opts, platform: 'linux/amd64' }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(artifact?.code, 'E_NOT_FOUND', String(artifact));
  assert.match(artifact!.message, /chart:1 is an artifact \(application\/vnd\.cncf\.helm\.config\.v1\+json\), not a linux\/amd64 image$/);
  // A config whose os is no string: one E_PROTOCOL line naming the field, as inspect says it.
  const odd = reg.putBlob('odd', JSON.stringify({ os: 5, architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [] } }), 'application/vnd.oci.image.config.v1+json');
  reg.putManifest('odd', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: odd, layers: [] }, { tags: ['1'] });
  for (const call of [() => digestOf(reg.ref('odd:1'), { ...opts, platform: 'linux/amd64' }), () => inspect(reg.ref('odd:1'), { ...opts, platform: 'linux/amd64' })]) {
    const err = await call().then(() => undefined, (e: RegpushError) => e);
    assert.equal(err?.code, 'E_PROTOCOL', String(err));
    assert.match(err!.message, /^config sha256:[0-9a-f]{64} of \S+odd:1: os is not a string$/);
  }
  const missing = await digestOf(reg.ref('app:multi'), { ...opts, platform: 'linux/s390x' }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(missing?.code, 'E_NOT_FOUND');
  assert.equal(missing!.message, 'platform linux/s390x is not in the index; available: linux/amd64, linux/arm64/v8');

  // Refused before any request: a bad spelling (E_USAGE), a platform that is not a string (the option's path).
  reg.clearLog();
  const bad = await digestOf(reg.ref('app:multi'), { ...opts, platform: 'linux' }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(bad?.code, 'E_USAGE', String(bad));
  const wrongType = await digestOf(reg.ref('app:multi'), { ...opts, platform: 7 as unknown as string }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(wrongType?.code, 'E_USAGE', String(wrongType));
  assert.match(wrongType!.message, /digestOf\(\): platform/);
  assert.equal(reg.log.length, 0);
});
