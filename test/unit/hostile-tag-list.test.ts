// A source registry whose tag list holds names outside the tag grammar ("/", ".."): copy --all-tags,
// copy --referrers and sync `referrers: true` leave them out with a warning naming them, and no
// request reaches another repository of the target (before, the tag went into the manifest URL as
// it was, and URL handling resolved `sha256-<hex>.sig/../../../prod/manifests/latest` into a PUT of
// the target's dst/prod:latest). The manifest, blob and referrers URLs themselves refuse such a name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { copy, parseSyncFile, sync } from '../../src/index.js';
import { ProtocolError } from '../../src/errors.js';
import { Transport } from '../../src/http/transport.js';
import { HttpRegistryClient } from '../../src/registry/http-registry-client.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

/** The source's tag list answered with `tags` for every repository. */
function listTags(src: FakeRegistry, name: string, tags: string[]): void {
  src.fault({ kind: 'tags' }, { kind: 'respond', respond: (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name, tags })) });
}

function logger() {
  const warnings: string[] = [];
  return { warnings, logger: { debug() {}, info() {}, warn: (m: string) => void warnings.push(m) } };
}

/** Every /v2/<repo>/ request the target got, as "METHOD repo". */
const reposAsked = (dst: FakeRegistry) => [...new Set(dst.requests().filter((r) => r.repo !== undefined).map((r) => r.repo))].sort();

/**
 * A target holding dst/prod:latest (a good image) and an older image of dst/prod; a source whose
 * tag list carries `sha256-<subject hex>.sig/../../../prod/manifests/latest` and whose dst/prod
 * path (where the traversal lands on the source too) serves the old image's manifest.
 */
async function overwriteScene(opts: { auth?: boolean; srcRepo: string; dstRepo: string; victim: string }) {
  const src = await fake({ referrers: false });
  const dst = await fake({ referrers: false, ...(opts.auth ? { auth: { scheme: 'bearer' as const, user: 'ci', password: 'pw-12345' } } : {}) });
  const old = dst.seedImage(opts.victim, { tags: ['v1-vulnerable'] });
  const good = dst.seedImage(opts.victim, { tags: ['latest'] });
  const img = src.seedImage(opts.srcRepo, { tags: ['1'] });
  const victimAtSource = opts.srcRepo.replace(/[^/]+$/, opts.victim.split('/').at(-1)!);
  src.putManifest(victimAtSource, old.bytes, { mediaType: old.mediaType, tags: ['latest'] });
  for (const d of [old.config, ...old.layers]) src.putBlob(opts.srcRepo, dst.blob(opts.victim, d.digest)!, d.mediaType);
  const evil = `sha256-${img.digest.slice(7)}.sig/../../../${opts.victim.split('/').at(-1)}/manifests/latest`;
  listTags(src, opts.srcRepo, ['1', evil]);
  return { src, dst, good, old, evil };
}

describe('a hostile tag list', () => {
  it('copy --all-tags: the unnameable tag is left out with a warning naming it; the other tags are copied, no other repository of the target is touched', async () => {
    const src = await fake();
    const dst = await fake();
    const img = src.seedImage('src/app', { tags: ['1'] });
    src.putManifest('src/victim', img.bytes, { mediaType: img.mediaType, tags: ['evil'] });
    const evil = '../../victim/manifests/evil';
    listTags(src, 'src/app', ['1', evil]);
    const { warnings, logger: log } = logger();
    const r = await copy({ from: src.ref('src/app'), to: [dst.ref('dst/app')], allTags: true, ...fakeLibraryOptions(src, dst), logger: log });
    assert.deepEqual(r.targets.map((t) => [t.ok, t.tags]), [[true, ['1']]]);
    assert.deepEqual(reposAsked(dst), ['dst/app']);
    assert.deepEqual(dst.tags('dst/victim'), []);
    assert.equal(src.requests({ kind: 'manifest' }).filter((q) => q.repo !== 'src/app').length, 0, 'nor of the source');
    assert.equal(warnings.length, 1, warnings.join(' | '));
    assert.match(warnings[0]!, /^a tag of 127\.0\.0\.1:\d+\/src\/app that no reference can name \(a tag may only contain letters, digits, "_", "\." and "-", and must not start with "\." or "-"\) left out: "\.\.\/\.\.\/victim\/manifests\/evil"$/);
  });

  it('copy --referrers: the traversing cosign-like tag is not a referrer; dst/prod:latest keeps its image (bearer target: no token asked for dst/prod)', async () => {
    const { src, dst, good } = await overwriteScene({ auth: true, srcRepo: 'src/app', dstRepo: 'dst/app', victim: 'dst/prod' });
    const { warnings, logger: log } = logger();
    const r = await copy({ from: src.ref('src/app:1'), to: [dst.ref('dst/app:1')], referrers: true, ...fakeLibraryOptions(src, dst), credentials: { to: { username: 'ci', password: 'pw-12345' } }, logger: log });
    assert.deepEqual(r.targets.map((t) => [t.ok, t.referrers]), [[true, 0]]);
    assert.equal(dst.manifest('dst/prod', 'latest')?.digest, good.digest, 'dst/prod:latest is not re-pointed');
    assert.deepEqual(reposAsked(dst), ['dst/app']);
    const scopes = dst.requests({ kind: 'token' }).flatMap((q) => q.query['scope'] ?? []);
    assert.ok(scopes.length > 0 && scopes.every((s) => s.includes(':dst/app:')), scopes.join(' '));
    assert.equal(warnings.length, 1, warnings.join(' | '));
    assert.match(warnings[0]!, /^a tag of 127\.0\.0\.1:\d+\/src\/app that no reference can name \(.*\) left out: "sha256-[0-9a-f]{33}…"$/);
  });

  it('sync referrers: true: the same, the entry ok and no request for another repository of the target', async () => {
    const { src, dst, good } = await overwriteScene({ srcRepo: 'app', dstRepo: 'app', victim: 'prod' });
    const { warnings, logger: log } = logger();
    const spec = parseSyncFile(['images:', `  - source: ${src.ref('app:1')}`, `    target: ${dst.host}/app`, '    referrers: true', ''].join('\n'), 'sync.yaml');
    const r = await sync({ spec, ...fakeLibraryOptions(src, dst), logger: log });
    assert.deepEqual(r.units.map((u) => [u.ok, u.targets.map((t) => t.referrers)]), [[true, [0]]]);
    assert.equal(dst.manifest('prod', 'latest')?.digest, good.digest);
    assert.deepEqual(reposAsked(dst), ['app']);
    const named = warnings.filter((w) => w.includes('no reference can name'));
    assert.equal(named.length, 1, warnings.join(' | '));
    assert.ok(named[0]!.startsWith(`${src.ref('app:1')}: a tag of ${src.host}/app that no reference can name`), `labelled with the image whose walk read the list: ${named[0]}`);
  });

  it('sync tags: all with referrers: the tag is warned of once and left out', async () => {
    const { src, dst, good } = await overwriteScene({ srcRepo: 'app', dstRepo: 'app', victim: 'prod' });
    const { warnings, logger: log } = logger();
    const spec = parseSyncFile(['images:', `  - source: ${src.ref('app')}`, '    tags: all', `    target: ${dst.host}/app`, '    referrers: true', ''].join('\n'), 'sync.yaml');
    const r = await sync({ spec, ...fakeLibraryOptions(src, dst), logger: log });
    assert.deepEqual(r.units.map((u) => u.ok), [true]);
    assert.equal(dst.manifest('prod', 'latest')?.digest, good.digest);
    assert.deepEqual(reposAsked(dst), ['app']);
    const named = warnings.filter((w) => w.includes('no reference can name'));
    assert.equal(named.length, 1, warnings.join(' | '));
    assert.ok(named[0]!.startsWith(`images[0] (${src.ref('app')}): a tag of ${src.host}/app that no reference can name`), `labelled with the entry: ${named[0]}`);
  });

  it('sync, two entries of one repository, one listing its tags, the other naming its tag with referrers: one warning, naming the entry that listed them (the walk read the list again and warned unlabelled)', async () => {
    const { src, dst } = await overwriteScene({ srcRepo: 'app', dstRepo: 'app', victim: 'prod' });
    const { warnings, logger: log } = logger();
    const spec = parseSyncFile(
      ['images:', `  - source: ${src.ref('app')}`, '    tags: all', `    target: ${dst.host}/listed`, `  - source: ${src.ref('app:1')}`, `    target: ${dst.host}/signed`, '    referrers: true', ''].join('\n'),
      'sync.yaml',
    );
    const r = await sync({ spec, ...fakeLibraryOptions(src, dst), logger: log });
    assert.deepEqual(r.units.map((u) => [u.source.split('/').at(-1), u.ok]), [['app:1', true], ['app:1', true]]);
    const named = warnings.filter((w) => w.includes('no reference can name'));
    assert.equal(named.length, 1, warnings.join(' | '));
    assert.ok(named[0]!.startsWith(`images[0] (${src.ref('app')}): a tag of ${src.host}/app that no reference can name`), named[0]);
    assert.equal(src.count({ kind: 'tags' }), 1, 'the list is read once, for both entries');
  });
});

describe('the registry URLs refuse a name outside the grammar, unsent', () => {
  it('manifest HEAD/GET/PUT/DELETE by such a tag, blob and referrers by such a digest: E_PROTOCOL, no request', async () => {
    const reg = await fake();
    reg.seedImage('app', { tags: ['1'] });
    const transport = new Transport({ retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 2 } });
    const client = new HttpRegistryClient({ registry: reg.host, transport, insecure: [reg.host] });
    try {
      const before = reg.requests().length;
      const evil = 'x.sig/../../../prod/manifests/latest';
      const calls: [string, () => Promise<unknown>][] = [
        ['HEAD', () => client.headManifest('app', evil)],
        ['GET', () => client.getManifest('app', evil)],
        ['PUT', () => client.putManifest('app', evil, Buffer.from('{}'), 'application/vnd.oci.image.manifest.v1+json')],
        ['DELETE', () => client.deleteTag('app', '..')],
        ['HEAD', () => client.headBlob('app', 'sha256:../../x')],
        ['GET', () => client.getManifest('app', 'sha256:../../../prod/manifests/latest')],
        ['GET', () => client.referrers('app', `sha256:${'a'.repeat(63)}/`)],
        ['GET', () => client.getManifest('team/../prod', 'latest')],
      ];
      for (const [method, call] of calls) {
        await assert.rejects(call, (e: unknown) => {
          assert.ok(e instanceof ProtocolError && e.code === 'E_PROTOCOL', String(e));
          assert.match(e.message, new RegExp(`^${method} (manifest|blob|referrers) of 127\\.0\\.0\\.1:\\d+: not sent: .* is not (a tag or digest|a digest|one); a name outside the reference grammar could address another repository$`));
          return true;
        });
      }
      assert.equal(reg.requests().length - before, 0, reg.requests().slice(before).map((q) => `${q.method} ${q.path}`).join(', '));
    } finally {
      transport.close();
    }
  });
});
