// A pull-through mirror that serves a blob whose bytes do not match its digest: the target
// refuses the upload (DIGEST_INVALID), the mirror is distrusted for the rest of the run, and the
// blob is read again from the registry itself — once per target, with nothing wrong landing. The
// registry serving bad bytes itself stays an error (nothing to fall back to). Also through the
// library: a mirror behind a path, one that hangs, fails or stalls, and one that refuses access,
// for one repository (that repository is read upstream and not asked at the mirror again, the
// others still read through it) or for the whole registry (given up for the run). Connections
// opened ahead (warm) go where the first reads go: the mirror, or the registry once it is given up;
// where a registry's namespaces have mirrors of their own, the mirror of the image they are for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy, parseReference, parseSyncFile, sync, type RegpushError } from '../../src/index.js';
import { TransferRun } from '../../src/transfer/engine.js';
import { bytesOf, fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { waitFor } from '../fixtures/wait-for.js';

const fake = fakeRegistryPool();

/** Answers every GET of `digest` at `reg` with bytes of the right length and the wrong content. */
function serveCorrupt(reg: FakeRegistry, digest: string, size: number): { readonly hits: number } {
  const bad = bytesOf('not the layer', size);
  return reg.fault({ kind: 'blob', method: 'GET', digest }, {
    kind: 'respond',
    respond: (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bad.length), 'docker-content-digest': digest });
      res.end(bad);
    },
  });
}

async function setup(): Promise<{ src: FakeRegistry; mirror: FakeRegistry; layer: { digest: string; size: number }; image: string }> {
  const [src, mirror] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('the layer', 300_000)] });
  return { src, mirror, layer: img.layers[0]!, image: img.digest };
}

test('one target: a mirror\'s bad blob is refused by the target, the mirror is distrusted, the blob is read again from the registry', async () => {
  const { src, mirror, layer, image } = await setup();
  const dst = await fake();
  const corrupt = serveCorrupt(mirror, layer.digest, layer.size);
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m), error: () => {} };
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], mirrors: { [src.host]: [mirror.host] }, logger, ...fakeLibraryOptions(src, mirror, dst) });
  assert.equal(r.digest, image);
  assert.equal(corrupt.hits, 1, 'the mirror is not asked again');
  assert.equal(src.count({ kind: 'blob', method: 'GET', digest: layer.digest }), 1, 'the registry itself served it');
  assert.ok(dst.blob('app', layer.digest)?.equals(src.blob('base/app', layer.digest)!), 'the right bytes landed');
  const report = r.targets[0]!.blobs.find((b) => b.digest === layer.digest)!;
  assert.equal(report.retries, 1);
  assert.equal(report.mirror, undefined, 'reported as read from the registry, not the mirror');
  assert.ok(warnings.some((w) => w.includes(`mirror ${mirror.host} served bytes that do not match their digest`)), warnings.join('\n'));
  assert.equal(dst.openUploads(), 0);
});

test('two targets fed by one read: both refuse the mirror\'s bad bytes, each is then fed from the registry', async () => {
  const { src, mirror, layer, image } = await setup();
  const [a, b] = [await fake(), await fake()];
  const corrupt = serveCorrupt(mirror, layer.digest, layer.size);
  const r = await copy({ from: src.ref('base/app:1'), to: [a.ref('app:1'), b.ref('app:1')], mirrors: { [src.host]: [mirror.host] }, ...fakeLibraryOptions(src, mirror, a, b) });
  assert.equal(r.digest, image);
  assert.equal(corrupt.hits, 1);
  for (const t of [a, b]) {
    assert.equal(t.manifest('app', '1')?.digest, image);
    assert.ok(t.blob('app', layer.digest)?.equals(src.blob('base/app', layer.digest)!));
    assert.equal(t.openUploads(), 0);
  }
  for (const t of r.targets) assert.equal(t.blobs.find((x) => x.digest === layer.digest)?.retries, 1);
});

test('the registry itself serving bad bytes (no mirror to fall back to) → E_DIGEST_MISMATCH, no manifest written', async () => {
  const { src, layer } = await setup();
  const dst = await fake();
  serveCorrupt(src, layer.digest, layer.size);
  await assert.rejects(copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) }), { code: 'E_DIGEST_MISMATCH', message: /^upload of sha256:[0-9a-f]{64} to \S+: \S+ answered 400 DIGEST_INVALID/ });
  assert.equal(dst.manifest('app', '1'), undefined);
  assert.equal(dst.hasBlob('app', layer.digest), false);
});

test('a mirror serving the API under a path (a daemon.json URL such as http://host/repository/docker-proxy, Artifactory\'s path-based access): read at <path>/v2/<repo>', async (t) => {
  const http = await import('node:http');
  const { src, mirror, image } = await setup();
  const dst = await fake();
  // The mirror behind a front that serves it under /repository/docker-proxy (and nothing at the root).
  const seen: string[] = [];
  const front = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const prefix = '/repository/docker-proxy';
    if (!req.url!.startsWith(`${prefix}/v2/`)) return res.writeHead(404).end();
    const fwd = http.request({ host: '127.0.0.1', port: Number(mirror.host.split(':')[1]), method: req.method, path: req.url!.slice(prefix.length), headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    req.pipe(fwd);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => front.close(() => r())));
  const frontHost = `127.0.0.1:${(front.address() as import('node:net').AddressInfo).port}`;
  mirror.seedImage('base/app', { tags: ['1'], layers: [bytesOf('the layer', 300_000)] }); // the same image, cached at the mirror
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], mirrors: { [src.host]: [`http://${frontHost}/repository/docker-proxy/v2`] }, ...fakeLibraryOptions(src, mirror, dst), insecureRegistries: [src.host, mirror.host, dst.host, frontHost] });
  assert.equal(r.digest, image);
  assert.ok(seen.some((l) => l === 'GET /repository/docker-proxy/v2/base/app/manifests/1'), seen.join('\n'));
  assert.ok(seen.every((l) => l.split(' ')[1]!.startsWith('/repository/docker-proxy/v2/')), seen.join('\n'));
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 0, 'the tag was read through the mirror');
});

test('a mirror that wants a login it has not got: the warning names the stored logins it was looked up in, not the source\'s own credentials (which a mirror never gets)', async () => {
  const src = await fake();
  const mirror = await fake({ auth: { scheme: 'basic', user: 'm', password: 'mirror-pw' } });
  const dst = await fake();
  src.seedImage('base/app', { tags: ['1'] });
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m) };
  const opts = fakeLibraryOptions(src, mirror, dst);
  await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], mirrors: { [src.host]: [mirror.host] }, logger, ...opts, env: { ...opts.env, REGPUSH_FROM_USER: 'src-user', REGPUSH_FROM_PASSWORD: 'src-pw' } });
  const line = warnings.find((w) => w.startsWith(`mirror ${mirror.host} failed (E_AUTH`));
  assert.ok(line, warnings.join('\n'));
  assert.match(line, /the stored logins only \(Docker config\.json, containers auth\.json; a mirror never gets the source's credentials\)/);
  assert.ok(!line.includes('REGPUSH_FROM_USER'), line);
});

test('a mirror that accepts connections and never answers costs one attempt of the mirror deadline (REGPUSH_IDLE_TIMEOUT_MS lowers it), then the upstream is read', async (t) => {
  const net = await import('node:net');
  const { src, image } = await setup();
  const dst = await fake();
  // A hung cache, or a firewall that swallows the request: connections are taken and never answered.
  // Connections opened ahead (warm) are taken too, with nothing sent on them: a request is a socket that sent bytes.
  const held: import('node:net').Socket[] = [];
  let asked = 0;
  const hung = net.createServer((s) => {
    held.push(s);
    s.once('data', () => asked++);
  });
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of held) s.destroy();
    return new Promise<void>((r) => hung.close(() => r()));
  });
  const hungHost = `127.0.0.1:${(hung.address() as import('node:net').AddressInfo).port}`;
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m) };
  const opts = fakeLibraryOptions(src, dst);
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], mirrors: { [src.host]: [`http://${hungHost}`] }, logger, idleTimeoutMs: 500, ...opts, insecureRegistries: [...opts.insecureRegistries, hungHost] });
  assert.equal(r.digest, image);
  // Before: the run's retry policy (5 retries with backoff, each attempt its own idle timeout): six connections and ~10 s.
  assert.equal(asked, 1, 'one attempt at the mirror');
  assert.ok(warnings.some((w) => w.startsWith(`mirror ${hungHost} failed (E_NETWORK: `) && w.includes('no answer within 500 ms')), warnings.join('\n'));
});

test('a mirror answering 503 to everything is asked once, not retried, and the upstream is read', async () => {
  const { src, mirror, image } = await setup();
  const dst = await fake();
  const failing = mirror.fault({}, { kind: 'status', status: 503, retryAfter: 0 });
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m) };
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], mirrors: { [src.host]: [mirror.host] }, logger, ...fakeLibraryOptions(src, mirror, dst) });
  assert.equal(r.digest, image);
  assert.equal(failing.hits, 1, 'one request to the failing mirror, then it is not asked again');
  assert.ok(warnings.some((w) => w.startsWith(`mirror ${mirror.host} failed (E_REGISTRY: `)), warnings.join('\n'));
});

/** A mirror holding the same image as `src` behind a fault proxy (the mirror's faults go through it). */
async function stallingMirror(src: FakeRegistry, layer: { digest: string }): Promise<{ mirror: FakeRegistry; front: FaultProxy }> {
  const mirror = await fake();
  mirror.putBlob('base/app', src.blob('base/app', layer.digest)!);
  const front = await startFaultProxy(mirror.url);
  return { mirror, front };
}

test('a mirror that sends a blob\'s headers and first bytes, then stalls: the read gives up after the mirror\'s deadline and reads on from the upstream, spending no retry; the mirror is not asked again', async (t) => {
  const { src, layer, image } = await setup();
  const dst = await fake();
  const { front } = await stallingMirror(src, layer);
  t.after(() => front.close());
  front.rule({ method: 'GET', path: new RegExp(`/blobs/${layer.digest}`), fault: { kind: 'stall', afterBytes: 64 * 1024 }, name: 'stall' });
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m) };
  const opts = fakeLibraryOptions(src, dst);
  // REGPUSH_IDLE_TIMEOUT_MS (idleTimeoutMs) lowers the mirror's deadline with the run's idle limit.
  // retries: 0: going on elsewhere is a fallback, not a retry of the same source.
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], mirrors: { [src.host]: [`http://${front.host}`] }, logger, idleTimeoutMs: 500, retries: 0, ...opts, insecureRegistries: [...opts.insecureRegistries, front.host] });
  assert.equal(r.digest, image);
  assert.equal(front.hits('stall').length, 1, 'the stalled mirror is asked once');
  assert.ok(dst.blob('app', layer.digest)?.equals(src.blob('base/app', layer.digest)!), 'the right bytes landed');
  const upstream = src.requests({ kind: 'blob', method: 'GET', digest: layer.digest });
  assert.deepEqual(upstream.map((q) => q.status), [206], 'the rest was read from the registry itself, from where the mirror stopped');
  const report = r.targets[0]!.blobs.find((b) => b.digest === layer.digest)!;
  assert.deepEqual([report.resumes, report.retries, report.mirror], [1, 0, undefined]);
  assert.ok(warnings.some((w) => w.startsWith(`mirror ${front.host} failed (E_NETWORK: `)), warnings.join('\n'));
  assert.equal(dst.openUploads(), 0);
});

// ---------------------------------------------------------------------------------------------
// A mirror refusing access: for one repository (that repository reads upstream, the others still
// read through the mirror), or for the whole registry (the mirror is given up for the run).

/** Puts `repo`'s manifest of each tag in `tags`, and the blobs it names, from `src` into `mirror`: a cache that holds it. */
function cache(src: FakeRegistry, mirror: FakeRegistry, repo: string, tags: string[]): void {
  for (const tag of tags) {
    const m = src.manifest(repo, tag)!;
    const doc = JSON.parse(m.bytes.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) mirror.putBlob(repo, src.blob(repo, d)!);
    mirror.putManifest(repo, m.bytes, { mediaType: m.mediaType, tags: [tag] });
  }
}

/** A sync of team/a (three tags) and team/b from `src` into `dst`, `src` mirrored by `mirror`. */
async function syncTwoRepos(src: FakeRegistry, mirror: FakeRegistry, dst: FakeRegistry, images: number) {
  src.seedImage('team/a', { tags: ['1', '2', '3'] });
  src.seedImage('team/b', { tags: ['1'] });
  cache(src, mirror, 'team/a', ['1', '2', '3']);
  cache(src, mirror, 'team/b', ['1']);
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/copy]`, 'images:', `  - { source: ${src.ref('team/a')}, tags: ["1", "2", "3"] }`, `  - { source: ${src.ref('team/b')}, tags: ["1"] }`, ''].join('\n'), 'sync.yaml');
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m), error: () => {} };
  const r = await sync({ spec, images, retries: 0, mirrors: { [src.host]: [mirror.host] }, logger, ...fakeLibraryOptions(src, mirror, dst) });
  assert.equal(r.totals.copied, 4, JSON.stringify(r.units.map((u) => u.targets.map((t) => t.error))));
  for (const tag of ['1', '2', '3']) assert.equal(dst.manifest('copy/team/a', tag)?.digest, src.manifest('team/a', tag)!.digest);
  assert.equal(dst.manifest('copy/team/b', '1')?.digest, src.manifest('team/b', '1')!.digest);
  return warnings;
}

for (const images of [1, 4]) {
  test(`a mirror's token service refusing one repository (HTTP 403, as GHCR answers for a package): that repository is read from the registry, asked at the mirror once in the run; another repository is still read through the mirror (--images ${images})`, async () => {
    const [src, dst] = [await fake(), await fake()];
    const mirror = await fake({ auth: { scheme: 'bearer', user: 'm', password: 'mirror-pw', anonymousPull: true } });
    const refused = mirror.fault({ kind: 'token', when: (q) => q.query.getAll('scope').some((s) => s.includes('team/a:')) }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
    const warnings = await syncTwoRepos(src, mirror, dst, images);
    // team/b: through the mirror, nothing of it read from the registry itself.
    assert.equal(src.count({ repo: 'team/b', kind: ['manifest', 'blob'] }), 0, 'team/b is read through the mirror');
    assert.ok(mirror.count({ repo: 'team/b', kind: 'manifest', method: ['GET', 'HEAD'] }) >= 1);
    // team/a: from the registry; the mirror refused it once, and is not asked again for its other tags or its blobs.
    assert.ok(src.count({ repo: 'team/a', kind: 'manifest' }) >= 3, 'every tag of team/a is read from the registry');
    assert.equal(refused.hits, 1, 'the refused scope is asked for once in the run');
    // Once per read in flight: an image's source HEAD and its manifest GET (a target lacks it) go
    // out together, and with --images 4 the three tags' first reads too, before the refusal is
    // known; nothing is sent for team/a after it (no other manifest, no blob). Such a read may
    // reach the mirror after the refusal was answered (it waits for a connection of its own while
    // the token GET goes out on the HEAD's): its 401 then meets the refusal the run keeps, and the
    // token service is not asked again (refused.hits above).
    const asked = mirror.requests({ repo: 'team/a' });
    const shown = asked.map((q) => `${q.method} ${q.path} ${q.status}`).join('\n');
    assert.ok(asked.length >= 1 && asked.length <= (images === 1 ? 2 : 6), `team/a asked at the mirror once per read in flight:\n${shown}`);
    if (images === 1) assert.deepEqual(new Set(asked.map((q) => q.tag)), new Set(['1']), `only the first image's reads:\n${shown}`);
    assert.ok(asked.every((q) => q.kind === 'manifest' && q.status === 401), `every one a first manifest read, refused its token:\n${shown}`);
    const said = warnings.filter((w) => w.startsWith(`mirror ${mirror.host}`));
    assert.equal(said.length, 1, warnings.join('\n'));
    assert.match(said[0]!, /^mirror \S+ refused team\/a \(E_AUTH: .*HTTP 403.*\); reading team\/a from upstream \S+; not asking \S+ for team\/a again in this run, the mirror is still used for other repositories$/);
  });
}

test('a mirror whose anonymous tokens lack pull (Docker Hub\'s answer for a private repository, insufficient_scope): each repository is asked once and read from the registry; not once per tag', async () => {
  const [src, dst] = [await fake(), await fake()];
  const mirror = await fake({ auth: { scheme: 'bearer', user: 'm', password: 'mirror-pw' } });
  const warnings = await syncTwoRepos(src, mirror, dst, 1);
  // team/a is asked for the tag read first (the auth round trips of that one read), then never again: not for its other tags, nor any blob.
  const asked = mirror.requests({ repo: 'team/a' });
  assert.ok(asked.length > 0 && mirror.count({ repo: 'team/b' }) > 0);
  assert.equal(new Set(asked.map((q) => q.tag)).size, 1, `team/a asked at the mirror for one tag only:\n${asked.map((q) => `${q.method} ${q.path} ${q.status}`).join('\n')}`);
  assert.equal(mirror.count({ kind: 'blob' }), 0);
  const said = warnings.filter((w) => w.startsWith(`mirror ${mirror.host}`));
  assert.deepEqual(said.map((w) => /^mirror \S+ refused (\S+) \(E_AUTH: .*rejected anonymous access .*for repository:\S+:pull/.exec(w)?.[1]), ['team/a', 'team/b'], warnings.join('\n'));
});

test('a mirror refusing for the whole registry (it wants a login it has not got): given up for the run after one request, every repository read from the registry', async () => {
  const [src, dst] = [await fake(), await fake()];
  const mirror = await fake({ auth: { scheme: 'basic', user: 'm', password: 'mirror-pw' } });
  const warnings = await syncTwoRepos(src, mirror, dst, 1);
  // The first image's reads only (its source HEAD and manifest GET go out together, before the
  // refusal is known); nothing after it, for team/a or team/b.
  const asked = mirror.requests({ kind: ['manifest', 'blob'] });
  const shown = asked.map((q) => `${q.method} ${q.path} ${q.status}`).join('\n');
  assert.ok(asked.length >= 1 && asked.length <= 2 && asked.every((q) => q.repo === 'team/a' && q.tag === '1'), `the first read only, then the mirror is given up:\n${shown}`);
  assert.ok(src.count({ repo: 'team/b', kind: 'manifest' }) >= 1, 'team/b is read from the registry too');
  const said = warnings.filter((w) => w.startsWith(`mirror ${mirror.host}`));
  assert.equal(said.length, 1, warnings.join('\n'));
  assert.match(said[0]!, /^mirror \S+ failed \(E_AUTH: .*requires a username and password.*\); reading from upstream/);
});

test('a mirror whose token service refuses the stored login (HTTP 401, a wrong password): given up for the run, the password sent once', async (t) => {
  const [src, dst] = [await fake(), await fake()];
  const mirror = await fake({ auth: { scheme: 'bearer', user: 'm', password: 'mirror-pw' } });
  const home = mkdtempSync(join(tmpdir(), 'regpush-mirror-login-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  mkdirSync(join(home, '.docker'));
  writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [mirror.host]: { auth: Buffer.from('m:wrong-pw').toString('base64') } } }));
  src.seedImage('team/a', { tags: ['1'] });
  src.seedImage('team/b', { tags: ['1'] });
  cache(src, mirror, 'team/a', ['1']);
  cache(src, mirror, 'team/b', ['1']);
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/copy]`, 'images:', `  - { source: ${src.ref('team/a')}, tags: ["1"] }`, `  - { source: ${src.ref('team/b')}, tags: ["1"] }`, ''].join('\n'), 'sync.yaml');
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m), error: () => {} };
  const r = await sync({ spec, images: 1, retries: 0, mirrors: { [src.host]: [mirror.host] }, logger, ...fakeLibraryOptions(src, mirror, dst), homeDir: home });
  assert.equal(r.totals.copied, 2);
  assert.equal(mirror.count({ kind: 'token' }), 1, 'the refused password went out once');
  // The first image's reads only (its source HEAD and manifest GET go out together, before the
  // refusal is known): the mirror was not asked again, for team/a or team/b.
  const asked = mirror.requests({ kind: ['manifest', 'blob'] });
  assert.ok(asked.length >= 1 && asked.length <= 2 && asked.every((q) => q.repo === 'team/a' && q.tag === '1'), asked.map((q) => `${q.method} ${q.path} ${q.status}`).join('\n'));
  assert.equal(src.count({ repo: 'team/b', kind: 'manifest', method: ['GET', 'HEAD'] }) >= 1, true);
  assert.equal(warnings.filter((w) => w.startsWith(`mirror ${mirror.host} failed (E_AUTH: `)).length, 1, warnings.join('\n'));
});

test('a mirror given with http:// that speaks TLS (Go\'s 400 "Client sent an HTTP request to an HTTPS server"): the warning names the mirror and its scheme to change, not the insecure-registry setting; the upstream is read', async (t) => {
  const net = await import('node:net');
  const { CONNECTION_FLAG_NAMES } = await import('../../src/cli/connection-flags.js');
  const { src, image } = await setup();
  // Go's net/http answers a plain request to its TLS port so, raw (no headers).
  const tlsOnly = net.createServer((s) => s.once('data', () => s.end('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n')));
  await new Promise<void>((r) => tlsOnly.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => tlsOnly.close(() => r())));
  const mirrorHost = `127.0.0.1:${(tlsOnly.address() as import('node:net').AddressInfo).port}`;
  for (const [names, where, caCert] of [
    [undefined, 'the mirrors option', `tls.caCerts: { "${mirrorHost}": [PATH] }`],
    [CONNECTION_FLAG_NAMES, "--registry-mirror (or daemon.json's registry-mirrors)", `--ca-cert ${mirrorHost}=PATH`],
  ] as const) {
    const dst = await fake();
    const warnings: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m) };
    const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], mirrors: { [src.host]: [`http://${mirrorHost}`] }, logger, retries: 0, ...fakeLibraryOptions(src, dst), ...(names ? { connectionNames: names } : {}) });
    assert.equal(r.digest, image);
    const said = warnings.find((w) => w.startsWith(`mirror ${mirrorHost} failed (E_REGISTRY: `));
    assert.ok(said, warnings.join('\n'));
    // Before: "… use tls.caCerts … or tls.verifyOff … instead of insecureRegistries", a setting the mirror was never named in.
    assert.ok(said.includes(`answered 400 (it speaks TLS, and was asked in plain HTTP because the mirror ${mirrorHost} is given with http://: give it with https:// (or no scheme) in ${where}; for a certificate this machine does not trust, add ${caCert} too)`), said);
    assert.doesNotMatch(said, /insecureRegistries|--insecure-registry|verifyOff|--tls-verify/);
  }
});

test('a blob the target refuses at its closing PUT (DIGEST_INVALID) has its session cancelled; one refused at a monolithic PUT is named as left', async () => {
  // The fake keeps a session whose closing PUT it refused, as distribution 2.8 does, so only the
  // client's DELETE ends it. A monolithic PUT's bytes were written to the session before the
  // refusal, so the URL it went to is behind them: its DELETE is answered 404 BLOB_UPLOAD_INVALID.
  for (const method of ['patch', 'put'] as const) {
    const { src, layer } = await setup();
    const dst = await fake({ uploadOffsets: true });
    if (method === 'patch') dst.fault({ kind: 'upload', method: 'PUT', when: (r) => r.headers['content-length'] !== '0' }, { kind: 'status', status: 405, code: 'UNSUPPORTED' });
    serveCorrupt(src, layer.digest, layer.size);
    const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) }).then(
      () => assert.fail('the blob was refused'),
      (e: RegpushError) => e,
    );
    assert.equal(err.code, 'E_DIGEST_MISMATCH', String(err));
    const refused = dst.log.filter((r) => r.kind === 'upload' && r.method === 'PUT' && r.code === 'DIGEST_INVALID').map((r) => r.session);
    assert.equal(refused.length, 1, method);
    const cancels = dst.log.filter((r) => r.kind === 'upload' && r.method === 'DELETE' && r.session === refused[0]);
    assert.equal(cancels.length, 1, `${method}: the refused session was cancelled`);
    if (method === 'patch') {
      assert.equal(cancels[0]!.status, 204);
      assert.equal(dst.openUploads(), 0);
      assert.doesNotMatch(err.message, /could not be cancelled/);
    } else {
      assert.equal(cancels[0]!.code, 'BLOB_UPLOAD_INVALID');
      assert.equal(dst.openUploads(), 1);
      assert.match(err.message, new RegExp(`; 1 upload session could not be cancelled and may stay in the registry's upload area until it purges stale uploads: ${dst.host}/app \\(${layer.size} bytes sent, the registry did not confirm the cancel\\)$`));
    }
  }
});

test('a source read through a mirror opens its connections ahead at the mirror, none at the registry itself: the first manifest read goes out on one of them', async () => {
  const { src, mirror, image } = await setup();
  mirror.seedImage('base/app', { tags: ['1'], layers: [bytesOf('the layer', 300_000)] }); // the cache holds it
  const run = new TransferRun({ mirrors: { [src.host]: [mirror.host] }, ...fakeLibraryOptions(src, mirror) });
  try {
    const { client, repo } = run.source(parseReference(src.ref('base/app:1')));
    assert.ok(client.warm, 'a client that reads through mirrors opens connections ahead');
    client.warm(2);
    await waitFor('two connections at the mirror', () => mirror.connectionsAt.length === 2);
    assert.equal(mirror.requests().length, 0, 'nothing is sent on them');
    assert.equal((await client.getManifest(repo, '1')).digest, image);
    assert.equal(mirror.count({ kind: 'manifest' }), 1);
    assert.equal(mirror.connectionsAt.length, 2, 'the manifest GET went out on a connection opened ahead');
    assert.equal(src.connectionsAt.length, 0, 'the registry itself, not read while its mirror answers, is not connected to');
  } finally {
    run.close();
  }
});

test('a mirror given up for the run (it failed): connections opened ahead go to the registry itself, which the reads go to now', async () => {
  const { src, mirror } = await setup();
  mirror.fault({}, { kind: 'status', status: 503, retryAfter: 0 });
  const run = new TransferRun({ mirrors: { [src.host]: [mirror.host] }, logger: { debug: () => {}, info: () => {}, warn: () => {} }, ...fakeLibraryOptions(src, mirror) });
  try {
    const { client, repo } = run.source(parseReference(src.ref('base/app:1')));
    await client.getManifest(repo, '1');
    assert.equal(src.count({ kind: 'manifest' }), 1, 'read from the registry after the mirror\'s 503');
    assert.equal(mirror.connectionsAt.length, 1);
    client.warm!(3);
    await waitFor('three connections at the registry', () => src.connectionsAt.length === 3);
    assert.equal(mirror.connectionsAt.length, 1, 'none more at the mirror given up');
  } finally {
    run.close();
  }
});

test('a cold target warms the source\'s mirror as it warms a source without one: the blob reads find connections open at the mirror', async () => {
  const { src, mirror } = await setup();
  const dst = await fake();
  const run = new TransferRun({ jobs: 3, mirrors: { [src.host]: [mirror.host] }, ...fakeLibraryOptions(src, mirror, dst) });
  try {
    run.source(parseReference(src.ref('base/app:1')));
    const set = run.targets([{ ref: parseReference(dst.ref('app:1')), tags: ['1'] }], parseReference(src.ref('base/app:1')));
    assert.equal(await set.list[0]!.ep.client.headManifest('app', '1'), undefined, 'the tag is new at the target');
    set.finish();
    await waitFor('--jobs connections at the mirror', () => mirror.connectionsAt.length === 3);
    assert.equal(src.connectionsAt.length, 0, 'none at the registry itself');
  } finally {
    run.close();
  }
});

/**
 * One registry whose namespaces have mirrors of their own (registries.conf's per-prefix entries,
 * `--registry-mirror REGISTRY/NAMESPACE=MIRROR`): `team/…` reads through mirror A, `ops/…`
 * through mirror B, under the same names there. Both mirrors hold every image and hand out bearer
 * tokens.
 */
async function perNamespace(): Promise<{ src: FakeRegistry; a: FakeRegistry; b: FakeRegistry; dst: FakeRegistry; mirrors: Record<string, string[]> }> {
  const src = await fake();
  const auth = { scheme: 'bearer' as const, user: 'reader', password: 'r-pw', anonymousPull: true };
  const [a, b, dst] = [await fake({ auth }), await fake({ auth }), await fake()];
  for (const m of [src, a, b]) {
    m.seedImage('team/app', { tags: ['1'], layers: [bytesOf('team layer', 1000)] });
    m.seedImage('ops/app', { tags: ['1'], layers: [bytesOf('ops layer', 1000)] });
    m.seedImage('ops/base', { tags: ['1'], layers: [bytesOf('ops base layer', 1000)] });
  }
  return { src, a, b, dst, mirrors: { [`${src.host}/team`]: [`${a.host}/team`], [`${src.host}/ops`]: [`${b.host}/ops`] } };
}

const tokensFor = (reg: FakeRegistry, repo: string) => reg.requests().filter((q) => q.kind === 'token' && (q.query.scope ?? '').includes(`repository:${repo}:`)).length;

test('a registry whose namespaces have different mirrors: a cold target of the second image warms that image\'s mirror, not the first image\'s; its reads go out on those connections', async () => {
  const { src, a, b, dst, mirrors } = await perNamespace();
  const run = new TransferRun({ jobs: 3, mirrors, ...fakeLibraryOptions(src, a, b, dst) });
  try {
    run.source(parseReference(src.ref('team/app:1'))); // the first image: the run's source client for the registry
    const next = parseReference(src.ref('ops/app:1'));
    const { client, repo } = run.source(next);
    const set = run.targets([{ ref: parseReference(dst.ref('ops:1')), tags: ['1'] }], next);
    assert.equal(await set.list[0]!.ep.client.headManifest('ops', '1'), undefined, 'the tag is new at the target');
    set.finish();
    await waitFor('--jobs connections at the mirror of ops/', () => b.connectionsAt.length === 3);
    assert.equal(a.connectionsAt.length, 0, 'none at the mirror of team/, which this image does not read');
    await client.getManifest(repo, '1');
    assert.equal(b.requests().filter((q) => q.kind === 'manifest' && q.status === 200).length, 1, 'read from the mirror of ops/');
    assert.equal(b.connectionsAt.length, 3, 'the manifest read (and its token) went out on connections opened ahead');
    assert.equal(src.connectionsAt.length, 0, 'none at the registry itself');
  } finally {
    run.close();
  }
});

test('a registry whose namespaces have different mirrors: a cold target of an image under a namespace no mirror covers warms the registry itself, which its reads go to', async () => {
  const { src, a, b, dst, mirrors } = await perNamespace();
  src.seedImage('misc/app', { tags: ['1'] });
  const run = new TransferRun({ jobs: 3, mirrors, ...fakeLibraryOptions(src, a, b, dst) });
  try {
    run.source(parseReference(src.ref('team/app:1')));
    const next = parseReference(src.ref('misc/app:1'));
    run.source(next);
    const set = run.targets([{ ref: parseReference(dst.ref('misc:1')), tags: ['1'] }], next);
    assert.equal(await set.list[0]!.ep.client.headManifest('misc', '1'), undefined, 'the tag is new at the target');
    set.finish();
    await waitFor('--jobs connections at the registry itself', () => src.connectionsAt.length === 3);
    assert.deepEqual([a.connectionsAt.length, b.connectionsAt.length], [0, 0], 'none at either mirror');
  } finally {
    run.close();
  }
});

test('a registry whose namespaces have different mirrors: the next image\'s token is fetched ahead at its own mirror, not at the mirror of the image before, and that image asks for none', async () => {
  const { src, a, b, dst, mirrors } = await perNamespace();
  const run = new TransferRun({ mirrors, ...fakeLibraryOptions(src, a, b, dst) });
  try {
    // Images of both namespaces read before: each mirror's token service is known in the run (a
    // mirror never heard from has none to fetch ahead from, as a registry never heard from).
    for (const image of ['ops/base:1', 'team/app:1']) {
      const { client, repo } = run.source(parseReference(src.ref(image)));
      await client.getManifest(repo, '1');
    }
    const next = parseReference(src.ref('ops/app:1'));
    run.prefetchAuth(next, [parseReference(dst.ref('ops:1'))]);
    await b.seen({ kind: 'token', status: 200, when: (q) => (q.query.scope ?? '').includes('repository:ops/app:') });
    assert.equal(tokensFor(b, 'ops/app'), 1, 'fetched ahead at the mirror of ops/');
    assert.equal(tokensFor(a, 'ops/app'), 0, 'not at the mirror of team/');
    const { client, repo } = run.source(next);
    await client.getManifest(repo, '1');
    assert.equal(tokensFor(b, 'ops/app'), 1, 'the image used the token fetched ahead');
    assert.equal(b.requests().filter((q) => q.repo === 'ops/app' && q.status === 401).length, 0, 'and met no 401');
    assert.equal(src.connectionsAt.length, 0, 'nothing at the registry itself');
  } finally {
    run.close();
  }
});

test('a sync\'s next image read through a mirror nothing has read through yet: one GET /v2/ there ahead names its challenge, its token is fetched while the image before runs, and it meets no 401', async () => {
  const { src, a, b, dst, mirrors } = await perNamespace();
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/copy]`, 'images:', ...['team/app', 'ops/app', 'ops/base'].map((r) => `  - { source: ${src.ref(r)}, tags: ["1"] }`), ''].join('\n'), 'sync.yaml');
  const r = await sync({ spec, images: 1, jobs: 3, mirrors, ...fakeLibraryOptions(src, a, b, dst) });
  assert.deepEqual(r.units.map((u) => u.targets[0]!.action), ['copied', 'copied', 'copied']);
  const atB = b.requests().map((q) => `${q.method} ${q.kind === 'token' ? `token ${q.query.scope}` : q.path} ${q.status}`);
  // Mirror B (ops/) is first read by the second image: asked its challenge once, before anything else there.
  assert.equal(b.count({ kind: 'ping' }), 1, atB.join('\n'));
  assert.equal(b.requests()[0]!.kind, 'ping', atB.join('\n'));
  const firstManifest = b.requests().find((q) => q.kind === 'manifest')!;
  const opsAppToken = b.requests().find((q) => q.kind === 'token' && (q.query.scope ?? '').includes('repository:ops/app:'));
  assert.ok(opsAppToken && opsAppToken.seq < firstManifest.seq, `the second image's token came before its first manifest request:\n${atB.join('\n')}`);
  assert.equal(b.count({ kind: 'manifest', status: 401 }), 0, `no manifest request at mirror B met a 401:\n${atB.join('\n')}`);
  assert.equal(tokensFor(b, 'ops/app'), 1);
  // Mirror A is read by the first image, whose own first answer names its challenge: nothing is sent ahead there.
  assert.equal(a.count({ kind: 'ping' }), 0);
  assert.equal(src.connectionsAt.length, 0, 'the registry itself is not asked anything');
});

test('a sync whose images are all served by their namespaces\' mirrors opens no connection to the registry itself; one a mirror lacks is read there', async () => {
  const { src, a, b, dst, mirrors } = await perNamespace();
  const spec = (repos: string[]) => parseSyncFile(['defaults:', `  targets: [${dst.host}/copy]`, 'images:', ...repos.map((r) => `  - { source: ${src.ref(r)}, tags: ["1"] }`), ''].join('\n'), 'sync.yaml');
  const r = await sync({ spec: spec(['team/app', 'ops/app']), images: 1, jobs: 3, mirrors, ...fakeLibraryOptions(src, a, b, dst) });
  assert.deepEqual(r.units.map((u) => u.targets[0]!.action), ['copied', 'copied']);
  assert.equal(src.connectionsAt.length, 0, 'every read went to a mirror: the registry itself was neither warmed nor asked: ' + JSON.stringify(src.requests().map((q) => q.method + ' ' + q.path)));
  assert.equal(tokensFor(a, 'team/app'), 1);
  assert.equal(tokensFor(b, 'ops/app'), 1);
  // A cache miss: that image is read from the registry itself, and only then is it connected to.
  src.seedImage('ops/other', { tags: ['1'], layers: [bytesOf('only upstream', 1000)] });
  const miss = await sync({ spec: spec(['ops/other']), images: 1, jobs: 3, mirrors, logger: { debug: () => {}, info: () => {}, warn: () => {} }, ...fakeLibraryOptions(src, a, b, dst) });
  assert.deepEqual(miss.units.map((u) => u.targets[0]!.action), ['copied']);
  assert.ok(src.count({ kind: 'manifest' }) >= 1, 'read from the registry after the mirror\'s 404');
});
