// regpush tags / digest / tag / untag / delete against the real registries in every auth mode, checked
// against skopeo and the registries' access logs; a registry with deletes disabled; refusals; and
// the bad inputs, each one error line with its documented exit code.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, after } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startExtraRegistry } from '../fixtures/extra-registry.js';
import { credsOf, imageRef, loadState, registryLogSince, logMark, runCli, skopeoCopyToLayout, skopeoInspect, tempDir, type Creds, type SeededRegistry } from './harness.js';
import type { ErrorCode } from '../../src/errors.js';
import { assertValidOutput } from './report-schema.js';
import { assertOneErrorLine } from './fault-helpers.js';

const state = loadState();
const R = state.registries;
const modes: SeededRegistry[] = ['anon', 'basic', 'token'];
const userArgs = (c?: Creds) => (c ? ['--user', c.user, '--password', c.password] : []);
const stamp = `${process.pid.toString(36)}${Date.now().toString(36)}`;


/** Copies a seeded image into a fresh repository of `host` (same registry: blobs are mounted); returns its reference and digest. */
async function freshImage(host: string, fromHost: string, creds: Creds | undefined, repo: string, image = 'base/busybox:oci'): Promise<{ ref: string; digest: string }> {
  const ref = `${host}/${repo}:src`;
  const cred = creds ? ['--from-user', creds.user, '--from-password', creds.password, '--to-user', creds.user, '--to-password', creds.password] : [];
  const r = await runCli(['copy', '--json', ...cred, `${fromHost}/${image}`, ref]);
  assert.equal(r.code, 0, r.stderr);
  return { ref, digest: JSON.parse(r.stdout).digest as string };
}

/**
 * A registry front that pages the tag list. The test registries are distribution 2.8, which
 * answers the whole tag list whatever `n` asks for; distribution 3, Docker Hub, GHCR and others
 * page it (`?n=&last=` with a `Link: <…>; rel="next"` header). This proxy forwards every request
 * and, for a successful tag list, answers the page `n`/`last` ask for with the Link to the next
 * one, so the client's pagination runs against real auth and real tags.
 */
async function pagingProxy(upstream: string): Promise<{ host: string; pages: string[]; close(): Promise<void> }> {
  const up = new URL(upstream);
  const pages: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const tagList = req.method === 'GET' && /^\/v2\/.+\/tags\/list$/.test(url.pathname);
    const headers = { ...req.headers, host: up.host };
    const fwd = http.request({ host: up.hostname, port: up.port, method: req.method, path: tagList ? url.pathname : req.url, headers, agent: false }, (ur) => {
      if (!tagList || ur.statusCode !== 200) {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      ur.on('data', (c: Buffer) => chunks.push(c));
      ur.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { name: string; tags: string[] };
        const all = [...body.tags].sort();
        const n = Number(url.searchParams.get('n') ?? all.length);
        const last = url.searchParams.get('last');
        const rest = last === null ? all : all.filter((t) => t > last);
        const page = rest.slice(0, n);
        pages.push(req.url ?? '');
        const out: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
        if (rest.length > n) out.link = `<${url.pathname}?n=${n}&last=${encodeURIComponent(page.at(-1)!)}>; rel="next"`;
        res.writeHead(200, out);
        res.end(JSON.stringify({ name: body.name, tags: page }));
      });
    });
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    pages,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}


const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

// ---------------------------------------------------------------- every auth mode

for (const mode of modes) {
  const reg = R[mode];
  const creds = credsOf(reg);
  const repo = `manage/${mode}-${stamp}`;

  test(`${mode}: tag adds tags skopeo sees at the same digest, without reading a blob`, async () => {
    const { ref, digest } = await freshImage(reg.host, reg.host, creds, repo);
    const newTags = ['t1', 't2', 't3', 't4', 't5', 't6', 't7'];
    const mark = logMark(mode);
    const r = await runCli(['tag', ref, ...newTags, ...userArgs(creds)]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), newTags.map((t) => `${reg.host}/${repo}:${t}@${digest}`));
    const reqs = await registryLogSince(mode, mark);
    assert.equal(reqs.filter((q) => q.uri.includes('/blobs/')).length, 0, 'tag read or wrote a blob');
    assert.equal(reqs.filter((q) => q.method === 'PUT' && q.status === 201).length, newTags.length);
    for (const t of newTags) assert.equal((await skopeoInspect(`${reg.host}/${repo}:${t}`, { raw: true, creds })).digest, digest, t);
    // Again: every tag already points there, so nothing is written.
    const again = await runCli(['tag', '--json', ref, 't1', 't2', ...userArgs(creds)]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).tagsUnchanged, ['t1', 't2']);
    assertValidOutput('tag', JSON.parse(again.stdout));
  });

  test(`${mode}: catalog lists every repository, the same over pages of 2`, async () => {
    const whole = await runCli(['catalog', '--json', reg.host, ...userArgs(creds)]);
    assert.equal(whole.code, 0, whole.stderr);
    const listed = JSON.parse(whole.stdout) as { registry: string; repositories: string[] };
    assertValidOutput('catalog', listed);
    assert.equal(listed.registry, reg.host);
    assert.ok(listed.repositories.includes(repo) && listed.repositories.includes('base/busybox'), whole.stdout);
    const mark = logMark(mode);
    const paged = await runCli(['catalog', '--page-size', '2', reg.host, ...userArgs(creds)]);
    assert.equal(paged.code, 0, paged.stderr);
    // Repositories made by other tests meanwhile may come after the first listing's last one.
    assert.deepEqual(paged.stdout.trim().split('\n').slice(0, listed.repositories.length), listed.repositories);
    const pages = (await registryLogSince(mode, mark)).filter((q) => q.uri.startsWith('/v2/_catalog') && q.status === 200);
    assert.ok(pages.length >= Math.ceil(listed.repositories.length / 2), `${pages.length} pages`);
  });

  test(`${mode}: tags lists every tag, over several pages when the registry pages`, async () => {
    const direct = await runCli(['tags', '--json', `${reg.host}/${repo}`, ...userArgs(creds)]);
    assert.equal(direct.code, 0, direct.stderr);
    const want = ['src', 't1', 't2', 't3', 't4', 't5', 't6', 't7'];
    // distribution 2.8 lists tags in storage order, not sorted.
    const listed = JSON.parse(direct.stdout) as { repository: string; tags: string[] };
    assertValidOutput('tags', listed);
    assert.deepEqual({ ...listed, tags: [...listed.tags].sort() }, { repository: `${reg.host}/${repo}`, tags: want });
    const proxy = await pagingProxy(reg.url);
    try {
      const paged = await runCli(['tags', '--page-size', '3', `${proxy.host}/${repo}`, ...userArgs(creds)]);
      assert.equal(paged.code, 0, paged.stderr);
      assert.deepEqual(paged.stdout.trim().split('\n'), want);
      assert.deepEqual(proxy.pages, [
        `/v2/${repo}/tags/list?n=3`,
        `/v2/${repo}/tags/list?n=3&last=t2`,
        `/v2/${repo}/tags/list?n=3&last=t5`,
      ]);
    } finally {
      await proxy.close();
    }
  });

  test(`${mode}: digest equals skopeo's, from a HEAD (no manifest GET)`, async () => {
    for (const image of [`${repo}:t3`, 'base/multi:oci', 'base/busybox:v2s2']) {
      const ref = imageRef(reg, image);
      const mark = logMark(mode);
      const r = await runCli(['digest', ref, ...userArgs(creds)]);
      assert.equal(r.code, 0, r.stderr);
      const reqs = await registryLogSince(mode, mark);
      assert.equal(reqs.filter((q) => q.method === 'GET' && q.uri.includes('/manifests/')).length, 0, 'digest read a manifest body');
      assert.equal(r.stdout, `${(await skopeoInspect(ref, { raw: true, creds })).digest}\n`, image);
    }
    const j = await runCli(['digest', '--json', imageRef(reg, 'base/multi:oci'), ...userArgs(creds)]);
    assert.equal(j.code, 0, j.stderr);
    assert.equal(JSON.parse(j.stdout).digest, state.images[mode]['base/multi:oci'].digest);
    assert.equal(JSON.parse(j.stdout).mediaType, 'application/vnd.oci.image.index.v1+json');
    assertValidOutput('digest', JSON.parse(j.stdout));
  });

  test(`${mode}: digest --platform prints the child skopeo picks for that platform (index read once, no child read); a single image of another platform is E_NOT_FOUND, exit 4`, async () => {
    const multi = imageRef(reg, 'base/multi:oci');
    for (const [platform, arch, variant] of [['linux/arm64', 'arm64', undefined], ['linux/amd64', 'amd64', undefined]] as const) {
      const mark = logMark(mode);
      const r = await runCli(['digest', '--platform', platform, multi, ...userArgs(creds)]);
      assert.equal(r.code, 0, r.stderr);
      const reqs = (await registryLogSince(mode, mark)).filter((q) => q.uri.includes('/manifests/') && q.status !== 401);
      // One GET of the index; the child's digest comes from its descriptor.
      assert.deepEqual(reqs.map((q) => `${q.method} ${q.uri}`), ['GET /v2/base/multi/manifests/oci'], JSON.stringify(reqs));
      // skopeo's own pick: it copies that platform's image alone into a layout, named there by digest.
      const layout = await skopeoCopyToLayout(multi, creds, { os: 'linux', arch, variant });
      const picked = (JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest);
      assert.deepEqual(picked, [r.stdout.trim()], platform);
      assert.notEqual(r.stdout.trim(), state.images[mode]['base/multi:oci'].digest);
    }
    const j = await runCli(['digest', '--json', '--platform', 'linux/arm64', multi, ...userArgs(creds)]);
    assert.equal(j.code, 0, j.stderr);
    const out = JSON.parse(j.stdout);
    assertValidOutput('digest', out);
    assert.equal(out.indexDigest, state.images[mode]['base/multi:oci'].digest);
    assert.equal(out.platform, 'linux/arm64/v8');
    assert.equal(out.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    // The child is what inspect --platform shows.
    const shown = await runCli(['inspect', '--json', '--platform', 'linux/arm64', multi, ...userArgs(creds)]);
    assert.equal(JSON.parse(shown.stdout).digest, out.digest);
    // A single image: its own digest when its config says it is the platform asked for…
    const single = imageRef(reg, 'base/busybox:oci');
    const own = await runCli(['digest', '--platform', 'linux/amd64', single, ...userArgs(creds)]);
    assert.equal(own.code, 0, own.stderr);
    assert.equal(own.stdout, `${(await skopeoInspect(single, { raw: true, creds })).digest}\n`);
    // …refused for another platform or one the index lacks: one line, exit 4, nothing printed.
    assertOneErrorLine(await runCli(['digest', '--platform', 'linux/s390x', single, ...userArgs(creds)]), 4, 'E_NOT_FOUND', /is a single linux\/amd64 image, not linux\/s390x/);
    assertOneErrorLine(await runCli(['digest', '--platform', 'linux/s390x', multi, ...userArgs(creds)]), 4, 'E_NOT_FOUND', /platform linux\/s390x is not in the index; available: .*linux\/arm64/);
    assertOneErrorLine(await runCli(['digest', '--platform', 'linux//', multi, ...userArgs(creds)]), 2, 'E_USAGE', /invalid platform "linux\/\/"/);
  });

  test(`${mode}: delete by digest removes the manifest and every tag on it; a tag needs --force`, async () => {
    const ref = `${reg.host}/${repo}:t1`;
    const digest = (await runCli(['digest', ref, ...userArgs(creds)])).stdout.trim();
    // A tag without --force: refused before anything is deleted, the digest named.
    assertOneErrorLine(await runCli(['delete', ref, ...userArgs(creds)]), 2, 'E_USAGE', new RegExp(`is a tag; .*${digest}.*--force`));
    assert.equal((await runCli(['digest', ref, ...userArgs(creds)])).code, 0);
    const r = await runCli(['delete', `${reg.host}/${repo}@${digest}`, ...userArgs(creds)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${reg.host}/${repo}@${digest}\n`);
    for (const t of ['src', 't1', 't7']) {
      assertOneErrorLine(await runCli(['digest', `${reg.host}/${repo}:${t}`, ...userArgs(creds)]), 4, 'E_NOT_FOUND', /404/);
      await assert.rejects(skopeoInspect(`${reg.host}/${repo}:${t}`, { raw: true, creds }), { message: /^skopeo inspect .* failed \(\d+\): .*(manifest unknown|not found)/i });
    }
    const direct = await runCli(['tags', `${reg.host}/${repo}`, ...userArgs(creds)]);
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(direct.stdout, '');
    // Deleting it again: not found.
    assertOneErrorLine(await runCli(['delete', `${reg.host}/${repo}@${digest}`, ...userArgs(creds)]), 4, 'E_NOT_FOUND', new RegExp(digest));
  });

  test(`${mode}: delete --force resolves a tag and names every other tag that goes with it (the refusal without --force names them first)`, async () => {
    const { ref, digest } = await freshImage(reg.host, reg.host, creds, `${repo}-force`, 'base/busybox:v2s2');
    assert.equal((await runCli(['tag', ref, 'latest', 'keep', ...userArgs(creds)])).code, 0);
    assertOneErrorLine(await runCli(['delete', ref, ...userArgs(creds)]), 2, 'E_USAGE', /every tag that points at it \((?=.*keep)(?=.*latest)(?=.*src)[^)]*\)/);
    const r = await runCli(['delete', '--force', '--json', ref, ...userArgs(creds)]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual({ ...out, otherTags: [...out.otherTags].sort() }, { reference: `${reg.host}/${repo}-force@${digest}`, digest, resolvedFrom: 'src', otherTags: ['keep', 'latest'], indexTags: [] });
    assertValidOutput('delete', out);
    assert.match(r.stderr, /which tag src pointed at: tags (keep and latest|latest and keep) pointed at it too and are gone with it/);
    assertOneErrorLine(await runCli(['digest', `${reg.host}/${repo}-force:keep`, ...userArgs(creds)]), 4, 'E_NOT_FOUND');
  });

  test(`${mode}: delete of a platform image a tagged index lists is refused without --force, naming the index tag; deleting the index leaves its children`, async () => {
    const { ref } = await freshImage(reg.host, reg.host, creds, `${repo}-index`, 'base/multi:oci');
    const index = (await runCli(['digest', ref, ...userArgs(creds)])).stdout.trim();
    const raw = (await skopeoInspect<{ manifests: { digest: string }[] }>(ref, { raw: true, creds })).json;
    const child = raw.manifests[0]!.digest;
    const byDigest = `${reg.host}/${repo}-index@${child}`;
    assertOneErrorLine(await runCli(['delete', byDigest, ...userArgs(creds)]), 2, 'E_USAGE', /platform of the image index tagged src\b.*add --force/);
    assert.equal((await runCli(['digest', byDigest, ...userArgs(creds)])).code, 0, 'still there');
    const idx = await runCli(['delete', '--json', `${reg.host}/${repo}-index@${index}`, ...userArgs(creds)]);
    assert.equal(idx.code, 0, idx.stderr);
    assert.deepEqual(JSON.parse(idx.stdout).otherTags, ['src']);
    assert.equal((await runCli(['digest', byDigest, ...userArgs(creds)])).code, 0, 'the child stays');
    // No index lists it any more: deleted by digest without --force, and no tag said to be gone.
    const del = await runCli(['delete', byDigest, ...userArgs(creds)]);
    assert.equal(del.code, 0, del.stderr);
    assert.doesNotMatch(del.stderr, /every tag/);
  });

  test(`${mode}: untag at distribution 2.8, which deletes by digest only (400 DIGEST_INVALID to a tag's DELETE): E_UNSUPPORTED, exit 6, one line naming delete --force; nothing removed`, async () => {
    const { ref, digest } = await freshImage(reg.host, reg.host, creds, `${repo}-untag`);
    assert.equal((await runCli(['tag', ref, 'keep', ...userArgs(creds)])).code, 0);
    const mark = logMark(mode);
    const line = assertOneErrorLine(await runCli(['untag', ref, ...userArgs(creds)]), 6, 'E_UNSUPPORTED');
    assert.equal(
      line,
      `regpush: error: ${reg.host} deletes manifests by digest only: it answered 400 DIGEST_INVALID to the DELETE of tag src, which stays; \`regpush delete --force ${ref}\` removes the manifest and every tag on it [E_UNSUPPORTED]`,
    );
    // Both tags still resolve to the image, skopeo's view too.
    for (const t of ['src', 'keep']) {
      assert.equal((await runCli(['digest', `${reg.host}/${repo}-untag:${t}`, ...userArgs(creds)])).stdout, `${digest}\n`, t);
    }
    assert.equal((await skopeoInspect(ref, { raw: true, creds })).digest, digest);
    // The registry saw the tag's DELETE, and one of a manifest that is not there (404: deletes by digest allowed); nothing else was deleted.
    const deletes = (await registryLogSince(mode, mark)).filter((e) => e.method === 'DELETE' && e.status !== 401);
    assert.deepEqual(deletes.map((e) => [e.uri.endsWith('/manifests/src') ? 'tag' : 'probe', e.status]), [['tag', 400], ['probe', 404]]);
  });
}

// ---------------------------------------------------------------- refusals

test('a registry with deletes disabled → E_UNSUPPORTED, exit 6 (delete and untag), and the image stays', async () => {
  // CNCF distribution's default is storage.delete.enabled: false, which the extra registry keeps.
  const reg = await startExtraRegistry(tempDir('regpush-nodelete-'), 'nodelete');
  cleanups.push(() => { void reg.stop(); });
  const { ref, digest } = await freshImage(reg.host, R.anon.host, undefined, 'nodelete/app');
  const byDigest = `${reg.host}/nodelete/app@${digest}`;
  // Found out with a DELETE of a manifest that is not there, sent with the first lookups.
  assertOneErrorLine(await runCli(['delete', byDigest]), 6, 'E_UNSUPPORTED', /does not allow deleting manifests: it answered 405 UNSUPPORTED to a DELETE of one that is not there.*; \S+@sha256:[0-9a-f]{64} was not deleted/);
  // untag there: the tag's DELETE and one by digest both refused, so delete --force is not advised.
  assertOneErrorLine(await runCli(['untag', ref]), 6, 'E_UNSUPPORTED', /^regpush: error: \S+ does not allow deleting tags or manifests: it answered 405 UNSUPPORTED to the DELETE of tag src, and likewise to a DELETE by digest .*storage\.delete\.enabled\); the tag stays \[E_UNSUPPORTED\]$/);
  const still = await runCli(['digest', ref]);
  assert.equal(still.stdout, `${digest}\n`);
});

test('token registry, a pull-only user: delete, tag and untag → E_DENIED, exit 3, nothing changed', async () => {
  const alice = credsOf(R.token)!;
  const { ref, digest } = await freshImage(R.token.host, R.token.host, alice, `manage/denied-${stamp}`);
  const reader = { user: 'reader', password: state.users.token.reader! };
  assertOneErrorLine(await runCli(['delete', `${R.token.host}/manage/denied-${stamp}@${digest}`, ...userArgs(reader)]), 3, 'E_DENIED', /not for deleting/);
  assertOneErrorLine(await runCli(['tag', ref, 'nope', ...userArgs(reader)]), 3, 'E_DENIED', /not for writing/);
  assertOneErrorLine(await runCli(['untag', ref, ...userArgs(reader)]), 3, 'E_DENIED', /not for deleting/);
  assert.equal((await runCli(['digest', ref, ...userArgs(reader)])).stdout, `${digest}\n`);
  assertOneErrorLine(await runCli(['digest', `${R.token.host}/manage/denied-${stamp}:nope`, ...userArgs(alice)]), 4, 'E_NOT_FOUND');
  // The catalog is granted to alice only (registry:catalog:*): the reader is told it is an administrator's right.
  assertOneErrorLine(await runCli(['catalog', R.token.host, ...userArgs(reader)]), 3, 'E_AUTH', /the catalog needs registry:catalog:\*, which token services commonly grant to administrators only/);
});

test('catalog with a wrong password: the error says the credentials were rejected, without the administrator hint (token service 401, Basic 401)', async () => {
  for (const reg of [R.token, R.basic]) {
    const r = await runCli(['catalog', reg.host, ...userArgs({ user: 'alice', password: 'not-the-password' })]);
    assertOneErrorLine(r, 3, 'E_AUTH', /rejected the credentials for user alice/);
    assert.doesNotMatch(r.stderr, /administrators/, `${reg.name}: ${r.stderr}`);
  }
});

test('a registry answering 403 DENIED to DELETE → E_DENIED, exit 3', async () => {
  const proxy: FaultProxy = await startFaultProxy(R.basic.url);
  cleanups.push(() => proxy.close());
  proxy.rule({ method: 'DELETE', path: /\/manifests\//, fault: { kind: 'status', status: 403, code: 'DENIED' } });
  const creds = credsOf(R.basic)!;
  const digest = state.images.basic['base/busybox:v2s2'].digest;
  assertOneErrorLine(await runCli(['delete', `${proxy.host}/base/busybox@${digest}`, ...userArgs(creds)]), 3, 'E_DENIED', /403 DENIED/);
  // The DELETE of a manifest that is not there (does the registry refuse deletes outright?) and the
  // image's own: a denial of the first is no verdict, and the image's says it.
  assert.deepEqual(proxy.hits().map((h) => h.url.includes(digest)), [false, true]);
});

test('delete whose first DELETE took effect but its answer was lost (a front\'s 504, a reset connection): the retry\'s 404 is a delete done, exit 0', async () => {
  const proxy: FaultProxy = await startFaultProxy(R.anon.url);
  cleanups.push(() => proxy.close());
  const faults = [{ kind: 'rewriteStatus', from: 202, to: 504 }, { kind: 'reset', when: 'after' }] as const;
  for (const [i, fault] of faults.entries()) {
    proxy.clearRules();
    const repo = `manage/lost-${i}-${stamp}`;
    const { digest } = await freshImage(R.anon.host, R.anon.host, undefined, repo);
    // The image's DELETE (delete also sends one of a manifest that is not there, answered 404).
    proxy.rule({ method: 'DELETE', path: new RegExp(`/manifests/${digest}$`), nth: 1, fault });
    const r = await runCli(['delete', '--json', `${proxy.host}/${repo}@${digest}`]);
    assert.equal(r.code, 0, `${fault.kind}: ${r.stderr}`);
    assert.deepEqual(JSON.parse(r.stdout), { reference: `${proxy.host}/${repo}@${digest}`, digest, otherTags: ['src'], indexTags: [] });
    assert.match(r.stderr, /answered 404 and the manifest is gone/);
    // The registry did delete on the first attempt: the second was answered 404 by the registry itself.
    const deletes = proxy.requests.filter((q) => q.method === 'DELETE' && q.url.includes(`/${repo}/manifests/${digest}`));
    assert.deepEqual(deletes.map((q) => q.status), [fault.kind === 'reset' ? undefined : 504, 404], fault.kind);
    await assert.rejects(skopeoInspect(`${R.anon.host}/${repo}@${digest}`, { raw: true }), { message: /^skopeo inspect .* failed \(\d+\): .*(manifest unknown|not found)/i });
  }
});

test('tag with one new tag refused (immutable, 400 TAG_INVALID): the others are written, exit 8, --json names the failed tag', async () => {
  const proxy: FaultProxy = await startFaultProxy(R.anon.url);
  cleanups.push(() => proxy.close());
  proxy.rule({ method: 'PUT', path: /\/manifests\/b$/, fault: { kind: 'status', status: 400, code: 'TAG_INVALID' } });
  const repo = `manage/immutable-${stamp}`;
  const { digest } = await freshImage(R.anon.host, R.anon.host, undefined, repo);
  const r = await runCli(['tag', '--json', `${proxy.host}/${repo}:src`, 'a', 'b', 'c']);
  assert.equal(r.code, 8, r.stderr);
  const out = JSON.parse(r.stdout);
  assertValidOutput('tag', out);
  assert.deepEqual(out.tags, ['a', 'c']);
  assert.deepEqual(out.tagsFailed.map((f: { tag: string; error: { code: string } }) => [f.tag, f.error.code]), [['b', 'E_REGISTRY']]);
  assert.match(r.stderr, new RegExp(`^regpush: error: 1 of 3 tags failed: ${proxy.host}/${repo}:b \\(E_REGISTRY: .*400 TAG_INVALID.*\\); written: a, c \\[E_PARTIAL\\]\n$`));
  for (const t of ['a', 'c']) assert.equal((await skopeoInspect(`${R.anon.host}/${repo}:${t}`, { raw: true })).digest, digest, t);
  await assert.rejects(skopeoInspect(`${R.anon.host}/${repo}:b`, { raw: true }), { message: /^skopeo inspect .* failed \(\d+\): .*(manifest unknown|not found)/i });
});

test('a registry whose HEAD names no digest: digest and delete --force read the manifest to compute it', async () => {
  const proxy: FaultProxy = await startFaultProxy(R.anon.url);
  cleanups.push(() => proxy.close());
  proxy.rule({ method: 'HEAD', path: /\/manifests\//, fault: { kind: 'setHeaders', headers: { 'docker-content-digest': '' } } });
  const manifestGets = () => proxy.requests.filter((q) => q.method === 'GET' && q.url.includes('/manifests/')).length;
  const r = await runCli(['digest', `${proxy.host}/base/multi:oci`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${state.images.anon['base/multi:oci'].digest}\n`);
  assert.equal(manifestGets(), 1);
  const { digest } = await freshImage(R.anon.host, R.anon.host, undefined, `manage/nohead-${stamp}`);
  const del = await runCli(['delete', '--force', `${proxy.host}/manage/nohead-${stamp}:src`]);
  assert.equal(del.code, 0, del.stderr);
  assert.equal(del.stdout, `${proxy.host}/manage/nohead-${stamp}@${digest}\n`);
  assert.equal(manifestGets(), 2);
});

test('tag: a registry that serves the manifest under another Content-Type (application/json): the new tag gets the type the manifest states', async () => {
  const proxy: FaultProxy = await startFaultProxy(R.anon.url);
  cleanups.push(() => proxy.close());
  proxy.rule({ method: 'GET', path: /\/manifests\//, fault: { kind: 'setHeaders', headers: { 'content-type': 'application/json' } } });
  const { digest } = await freshImage(R.anon.host, R.anon.host, undefined, `manage/ctype-${stamp}`);
  const r = await runCli(['tag', '--json', `${proxy.host}/manage/ctype-${stamp}:src`, 'retyped']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.digest, digest);
  assert.equal(out.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assertValidOutput('tag', out);
  const put = proxy.requests.find((q) => q.method === 'PUT' && q.url.endsWith('/manifests/retyped'));
  assert.equal(put?.headers['content-type'], 'application/vnd.oci.image.manifest.v1+json');
  const sk = await skopeoInspect(`${R.anon.host}/manage/ctype-${stamp}:retyped`, { raw: true });
  assert.equal(sk.digest, digest);
});

test('anonymous read, but DELETE needs a login (401 Basic challenge) → E_AUTH with the login hint, not E_DENIED', async () => {
  const proxy: FaultProxy = await startFaultProxy(R.anon.url);
  cleanups.push(() => proxy.close());
  proxy.rule({ method: 'DELETE', path: /\/manifests\//, fault: { kind: 'status', status: 401, code: 'UNAUTHORIZED', headers: { 'www-authenticate': 'Basic realm="regpush-test"' } } });
  const digest = state.images.anon['base/busybox:v2s2'].digest;
  assertOneErrorLine(await runCli(['delete', `${proxy.host}/base/busybox@${digest}`]), 3, 'E_AUTH', /none were found|regpush login/);
});

test('wrong credentials → E_AUTH, and the password never appears', async () => {
  const pw = 'wrong-pw-manage-5521';
  const r = await runCli(['tags', `${R.basic.host}/base/busybox`, '--user', 'alice', '--password', pw]);
  assertOneErrorLine(r, 3, 'E_AUTH', new RegExp(R.basic.host));
  assert.ok(!r.stderr.includes(pw));
});

test('credentials by role: tags reads REGPUSH_FROM_*, tag writes with REGPUSH_TO_*; --password-stdin; Docker config', async () => {
  const c = credsOf(R.basic)!;
  const env = { REGPUSH_FROM_USER: c.user, REGPUSH_FROM_PASSWORD: c.password };
  assert.equal((await runCli(['tags', `${R.basic.host}/base/busybox`], { env })).code, 0);
  assertOneErrorLine(await runCli(['tag', imageRef(R.basic, 'base/busybox:v2s2'), 'x'], { env }), 3, 'E_AUTH');
  const { ref } = await freshImage(R.basic.host, R.basic.host, c, `manage/env-${stamp}`);
  const toEnv = { REGPUSH_TO_USER: c.user, REGPUSH_TO_PASSWORD: c.password };
  const r = await runCli(['tag', ref, 'env'], { env: toEnv });
  assert.equal(r.code, 0, r.stderr);
  const pw = await runCli(['tags', '--user', c.user, '--password-stdin', `${R.basic.host}/manage/env-${stamp}`], { input: `${c.password}\n` });
  assert.deepEqual(pw.stdout.trim().split('\n').sort(), ['env', 'src']);
  // The Docker config serves both roles.
  const dockerConfig = tempDir('regpush-manage-dockercfg-');
  writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [R.basic.host]: { auth: Buffer.from(`${c.user}:${c.password}`).toString('base64') } } }));
  const fromConfig = await runCli(['tag', ref, 'cfg'], { env: { DOCKER_CONFIG: dockerConfig } });
  assert.equal(fromConfig.code, 0, fromConfig.stderr);
  const listed = await runCli(['tags', `${R.basic.host}/manage/env-${stamp}`], { env: { DOCKER_CONFIG: dockerConfig } });
  assert.deepEqual(listed.stdout.trim().split('\n').sort(), ['cfg', 'env', 'src']);
});

// ---------------------------------------------------------------- bad input

const anon = R.anon.host;
const badInputs: [string, string[], number, ErrorCode, RegExp][] = [
  ['tags of an image, not a repository', ['tags', `${anon}/base/busybox:v2s2`], 2, 'E_REFERENCE', /names an image, not a repository/],
  ['tags of a digest', ['tags', `${anon}/base/busybox@${'sha256:' + 'a'.repeat(64)}`], 2, 'E_REFERENCE', /not a repository/],
  ['tags of an unknown repository', ['tags', `${anon}/no/such-repo`], 4, 'E_NOT_FOUND', /NAME_UNKNOWN/],
  ['tags --page-size 0', ['tags', '--page-size', '0', `${anon}/base/busybox`], 2, 'E_USAGE', /--page-size must be a whole number from 1 to 10000 \(got 0\)/],
  ['tags without a repository', ['tags'], 2, 'E_USAGE', /regpush tags: missing <repo>, repository/],
  ['digest of a malformed digest', ['digest', `${anon}/base/busybox@sha256:123`], 2, 'E_REFERENCE', /64 hex/],
  ['digest of an upper-case digest', ['digest', `${anon}/base/busybox@sha256:${'A'.repeat(64)}`], 2, 'E_REFERENCE', /lower-case/],
  ['digest of an unknown tag', ['digest', `${anon}/base/busybox:no-such-tag`], 4, 'E_NOT_FOUND', /404/],
  ['digest of an unknown repository', ['digest', `${anon}/no/such-repo:1`], 4, 'E_NOT_FOUND', /404/],
  ['tag without a new tag', ['tag', `${anon}/base/busybox:v2s2`], 2, 'E_USAGE', /regpush tag: missing <new-tags\.\.>, new tag\(s\) in the same repository/],
  ['tag into another repository', ['tag', `${anon}/base/busybox:v2s2`, `${anon}/other/repo:1`], 2, 'E_REFERENCE', /regpush copy/],
  ['tag with an invalid tag', ['tag', `${anon}/base/busybox:v2s2`, 'bad!tag'], 2, 'E_REFERENCE', /invalid tag/],
  ['tag of an unknown image', ['tag', `${anon}/base/busybox:no-such-tag`, 'x'], 4, 'E_NOT_FOUND', /MANIFEST_UNKNOWN/],
  ['untag of a digest', ['untag', `${anon}/base/busybox@sha256:${'0'.repeat(64)}`], 2, 'E_REFERENCE', /names a digest: untag removes a tag/],
  ['untag of an unknown tag', ['untag', `${anon}/base/busybox:no-such-tag`], 4, 'E_NOT_FOUND', /busybox:no-such-tag not found/],
  ['delete of a malformed digest', ['delete', `${anon}/base/busybox@sha256:xyz`], 2, 'E_REFERENCE', /hex/],
  ['delete of an unknown digest', ['delete', `${anon}/base/busybox@sha256:${'0'.repeat(64)}`], 4, 'E_NOT_FOUND', /not found/],
  ['delete of an unknown repository', ['delete', '--force', `${anon}/no/such-repo:1`], 4, 'E_NOT_FOUND', /not found/],
  ['delete with --password but no --user', ['delete', '--password', 'pw-only-1234', `${anon}/base/busybox@sha256:${'0'.repeat(64)}`], 2, 'E_USAGE', /without --user/],
];
for (const [name, args, exit, code, pattern] of badInputs) {
  test(`bad input: ${name} → ${code}, exit ${exit}`, async () => {
    assertOneErrorLine(await runCli(args), exit, code, pattern);
  });
}

test('help of each command has examples', async () => {
  for (const cmd of ['tags', 'digest', 'tag', 'untag', 'delete']) {
    const r = await runCli([cmd, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Examples:/, cmd);
  }
});
