// Registry mirrors against real registries: a CNCF distribution pull-through cache
// (`proxy: remoteurl:`) in front of the anonymous source registry, named by --registry-mirror, by
// a registries.conf and by a daemon.json. The base is read through the mirror (its access log
// shows the GETs), the push validates with skopeo; a mirror serving a wrong manifest for a digest
// is rejected; with the mirror stopped, the push reads from the upstream and says so.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { credsOf, imageRef, loadState, runCli, skopeoCopyToLayout, skopeoInspect, stderrWithoutPasswordWarning, tempDir } from './harness.js';
import { assertValidOutput, assertValidReport } from './report-schema.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startExtraRegistry, type ExtraRegistry } from '../fixtures/extra-registry.js';
import { localhostCert } from '../fixtures/localhost-cert.js';

const state = loadState();
const R = state.registries;
const run = `m${Date.now().toString(36)}`;
const base = state.images.anon['base/busybox:v2s2'];
const fromRef = imageRef(R.anon, 'base/busybox:v2s2');
const toBasic = ['--to-user', R.basic.user!, '--to-password', R.basic.password!];

const dir = tempDir('regpush-mirrors-');
const emptyConf = join(dir, 'empty-registries.conf');
const emptyDaemon = join(dir, 'empty-daemon.json');
/** No mirrors from the machine's own files: every test names its configuration (CONTAINERS_REGISTRIES_CONF, which would win, empty is unset). */
const isolated = { CONTAINERS_REGISTRIES_CONF: '', REGISTRIES_CONFIG_PATH: emptyConf, REGPUSH_DOCKER_DAEMON_JSON: emptyDaemon };

let mirror: ExtraRegistry | undefined;
let mirrorHost = '';
let evil: FaultProxy | undefined;

after(async () => {
  await mirror?.stop();
  await evil?.close();
});

/** The mirror's access-log requests since `mark` (an offset into its log) as "METHOD URI". */
function mirrorRequestsSince(mark: number): string[] {
  return [...mirror!.log().slice(mark).matchAll(/"(GET|HEAD) (\/v2\/\S+) HTTP[^"]*" (\d{3})/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
}

function makeApp(): string {
  const app = tempDir('regpush-mirror-app-');
  writeFileSync(join(app, 'hello.txt'), `mirror test ${run}\n`);
  return app;
}

/** The push reads the base through `mirror`: report, log line, the mirror's access log, and the image validates. */
async function pushThrough(args: string[], env: Record<string, string | undefined>, expectMirror: string, to: string, from = fromRef) {
  const mark = mirror!.log().length;
  const r = await runCli(['push', '--json', '--from', from, '--to', to, ...toBasic, '--app', makeApp(), ...args], { env });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assertValidReport(report, 'push report');
  assert.equal(report.base.digest, base.digest);
  assert.equal(report.base.mirror, expectMirror);
  assert.match(r.stderr, new RegExp(`resolved through mirror ${expectMirror.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} to ${base.digest}`));
  // Every base blob was streamed from the mirror, and the mirror served them (its own log).
  const baseBlobs = report.blobs.filter((b: { digest: string }) => base.layers!.includes(b.digest));
  assert.equal(baseBlobs.length, base.layers!.length);
  for (const b of baseBlobs) assert.equal(b.mirror, expectMirror, JSON.stringify(b));
  const seen = mirrorRequestsSince(mark);
  assert.ok(seen.some((l) => /^GET \/v2\/base\/busybox\/manifests\/v2s2 200$/.test(l)), seen.join('\n'));
  for (const l of base.layers!) assert.ok(seen.some((s) => s === `GET /v2/base/busybox/blobs/${l} 200`), `${l} not GET from the mirror:\n${seen.join('\n')}`);
  // The result is a valid image at the target (skopeo verifies every blob's digest).
  const raw = await skopeoInspect(to, { raw: true, creds: credsOf(R.basic) });
  assert.equal(raw.digest, report.digest);
  await skopeoCopyToLayout(to, credsOf(R.basic));
  return { r, report };
}

before(async () => {
  writeFileSync(emptyConf, '# no mirrors\n');
  writeFileSync(emptyDaemon, '{}\n');
  // A pull-through cache of the anonymous test registry.
  mirror = await startExtraRegistry(dir, 'mirror', `proxy:\n  remoteurl: ${R.anon.url}\n`);
  mirrorHost = mirror.host;
});

test('--registry-mirror: the base is read through the pull-through cache, writes go to the target only', async () => {
  const to = imageRef(R.basic, `${run}/flag:1`);
  await pushThrough(['--registry-mirror', `${R.anon.host}=${mirrorHost}`], isolated, mirrorHost, to);
  // Nothing was written to the mirror.
  assert.deepEqual([...mirror!.log().matchAll(/"(PUT|POST|PATCH|DELETE) \/v2\//g)].map((m) => m[0]), []);
});

test('copy --registry-mirror reports the mirror for the source and its blobs', async () => {
  const to = imageRef(R.basic, `${run}/copy:1`);
  const r = await runCli(['copy', '--json', '--registry-mirror', `${R.anon.host}=${mirrorHost}`, fromRef, to, ...toBasic], { env: isolated });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assertValidReport(report, 'copy report');
  assert.equal(report.source.mirror, mirrorHost);
  // The HEAD (unchanged check) and the GET both went to the mirror; the tag's resolution is said once.
  assert.equal(r.stderr.match(/resolved through mirror/g)?.length, 1, r.stderr);
  assert.equal(report.digest, base.digest);
  assert.notEqual(report.targets[0].blobs.length, 0, 'an empty list would pass the check below vacuously');
  for (const b of report.targets[0].blobs) assert.equal(b.mirror, mirrorHost, JSON.stringify(b));
});

test('inspect --registry-mirror reads through the mirror, as the README says; inspect and digest --json name it in `mirror`, as push and copy reports do', async () => {
  const mark = mirror!.log().length;
  const r = await runCli(['inspect', '--json', '--registry-mirror', `${R.anon.host}=${mirrorHost}`, fromRef], { env: isolated });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /resolved through mirror/);
  assert.ok(mirrorRequestsSince(mark).some((q) => q.includes('/manifests/')), 'the mirror was asked for the manifest');
  const inspected = JSON.parse(r.stdout);
  assertValidOutput('inspect', inspected);
  assert.equal(inspected.mirror, mirrorHost);
  const d = await runCli(['digest', '--json', '--registry-mirror', `${R.anon.host}=${mirrorHost}`, fromRef], { env: isolated });
  assert.equal(d.code, 0, d.stderr);
  const digested = JSON.parse(d.stdout);
  assertValidOutput('digest', digested);
  assert.deepEqual({ digest: digested.digest, mirror: digested.mirror }, { digest: base.digest, mirror: mirrorHost });
  // Read from the registry itself: no `mirror`.
  const direct = await runCli(['digest', '--json', fromRef], { env: isolated });
  assert.equal(direct.code, 0, direct.stderr);
  assert.equal(JSON.parse(direct.stdout).mirror, undefined);
});

test('registries.conf (REGISTRIES_CONFIG_PATH): a [[registry.mirror]] for a namespace prefix', async () => {
  const conf = join(dir, 'registries.conf');
  writeFileSync(conf, `unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "${R.anon.host}/base"
location = "${R.anon.host}/base"

[[registry.mirror]]
location = "127.0.0.1:1"   # nothing listens: skipped, with a warning

[[registry.mirror]]
location = "${mirrorHost}/base"
insecure = true
`);
  const to = imageRef(R.basic, `${run}/conf:1`);
  const { r } = await pushThrough([], { ...isolated, REGISTRIES_CONFIG_PATH: conf }, `${mirrorHost}/base`, to);
  assert.match(r.stderr, new RegExp(`mirror 127\\.0\\.0\\.1:1 failed \\(E_NETWORK: .*\\); trying mirror ${mirrorHost}/base\n`));
  assert.equal(r.stderr.match(/mirror 127\.0\.0\.1:1 failed/g)?.length, 1, 'warned once');
});

/** A pull-through cache of the anonymous registry that speaks TLS only, with a certificate nobody trusts; undefined (skipped) without openssl. */
async function startTlsMirror(t: TestContext, name: string): Promise<ExtraRegistry | undefined> {
  const cert = localhostCert(t);
  if (!cert) return undefined;
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(keyFile, cert.key);
  const mirror = await startExtraRegistry(dir, name, `  tls:\n    certificate: ${cert.certFile}\n    key: ${keyFile}\nproxy:\n  remoteurl: ${R.anon.url}\n`);
  t.after(() => mirror.stop());
  return mirror;
}

test('registries.conf insecure = true: a TLS mirror with a self-signed certificate is read without verification (not plain HTTP only), with a warning', async (t) => {
  const tlsMirror = await startTlsMirror(t, 'tls-mirror');
  if (!tlsMirror) return;
  const conf = join(dir, 'registries-tls.conf');
  writeFileSync(conf, `[[registry]]\nprefix = "${R.anon.host}/base"\n\n[[registry.mirror]]\nlocation = "${tlsMirror.host}/base"\ninsecure = true\n`);
  const to = imageRef(R.basic, `${run}/tls-mirror:1`);
  const r = await runCli(['copy', '--json', fromRef, to, ...toBasic], { env: { ...isolated, REGISTRIES_CONFIG_PATH: conf, REGPUSH_CERTS_DIRS: join(dir, 'no-certs') } });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.source.mirror, `${tlsMirror.host}/base`, r.stderr);
  assert.equal(report.digest, base.digest);
  assert.notEqual(report.targets[0].blobs.length, 0, 'an empty list would pass the check below vacuously');
  for (const b of report.targets[0].blobs) assert.equal(b.mirror, `${tlsMirror.host}/base`, JSON.stringify(b));
  assert.match(r.stderr, new RegExp(`warning: TLS verification is off for ${tlsMirror.host.replace(/\./g, '\\.')} \\(insecure = true in ${conf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\): the connection is encrypted, but the server is not authenticated`));
  // The mirror was read over TLS: its access log has the manifest and blob GETs.
  assert.match(tlsMirror.log(), /"GET \/v2\/base\/busybox\/manifests\/v2s2 HTTP/);
});

test('registries.conf insecure = true on a host without a port covers its TLS mirror on any port: verification off (with the warning), not a plain-HTTP attempt', async (t) => {
  const tlsMirror = await startTlsMirror(t, 'tls-mirror-noport');
  if (!tlsMirror) return;
  const bare = tlsMirror.host.replace(/:\d+$/, '');
  const conf = join(dir, 'registries-tls-noport.conf');
  // containers/image's prefix match lets "127.0.0.1" cover 127.0.0.1:PORT (sysregistriesv2 refMatchingPrefix).
  writeFileSync(conf, `[[registry]]\nprefix = "${bare}"\ninsecure = true\n\n[[registry]]\nprefix = "${R.anon.host}/base"\n\n[[registry.mirror]]\nlocation = "${tlsMirror.host}/base"\n`);
  const r = await runCli(['inspect', '--json', fromRef], { env: { ...isolated, REGISTRIES_CONFIG_PATH: conf, REGPUSH_CERTS_DIRS: join(dir, 'no-certs') } });
  assert.equal(r.code, 0, r.stderr);
  // Before: the scheme choice took the entry for every port, TLS verification only for the exact host:
  // the handshake failed on the untrusted certificate and the mirror was given up for the upstream.
  assert.doesNotMatch(r.stderr, /mirror .* failed/);
  assert.match(r.stderr, new RegExp(`warning: TLS verification is off for ${tlsMirror.host.replace(/\./g, '\\.')} \\(insecure = true in ${conf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\): the connection is encrypted, but the server is not authenticated`));
  assert.match(tlsMirror.log(), /"GET \/v2\/base\/busybox\/manifests\/v2s2 HTTP/);
});

test('daemon.json insecure-registries (a host, or an address range): a registry with a self-signed certificate is read without verification, with a warning naming daemon.json', async (t) => {
  const tlsRegistry = await startTlsMirror(t, 'tls-daemon-insecure');
  if (!tlsRegistry) return;
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const entry of [tlsRegistry.host, '127.0.0.0/8']) {
    const daemon = join(dir, 'daemon-insecure.json');
    writeFileSync(daemon, JSON.stringify({ 'insecure-registries': [entry] }));
    const r = await runCli(['inspect', '--json', `${tlsRegistry.host}/base/busybox:v2s2`], { env: { ...isolated, REGPUSH_DOCKER_DAEMON_JSON: daemon, REGPUSH_CERTS_DIRS: join(dir, 'no-certs') } });
    // Before: the entry was ignored, and the certificate failed verification (E_TLS).
    assert.equal(r.code, 0, `${entry}: ${r.stderr}`);
    assert.equal(JSON.parse(r.stdout).digest, base.digest);
    assert.match(r.stderr, new RegExp(`warning: TLS verification is off for ${esc(tlsRegistry.host)} \\(insecure-registries in ${esc(daemon)}\\): the connection is encrypted, but the server is not authenticated`), entry);
  }
});

test('registries.conf at a default path: a setting regpush does not apply is warned of once when the run reads under its entry, and not otherwise', async () => {
  const home = tempDir('regpush-mirrors-home-');
  const conf = join(home, '.config/containers/registries.conf');
  mkdirSync(dirname(conf), { recursive: true });
  writeFileSync(conf, `[[registry]]\nprefix = "${R.anon.host}/base"\nlocation = "${R.anon.host}/elsewhere"\n`);
  // Found under HOME, not named: neither variable is set.
  const env = { ...isolated, CONTAINERS_REGISTRIES_CONF: undefined, REGISTRIES_CONFIG_PATH: undefined, HOME: home };
  const note = `${conf}: [[registry]] #1: location ${R.anon.host}/elsewhere differs from prefix ${R.anon.host}/base; regpush does not rewrite registries, so ${R.anon.host}/base is read as named`;
  let r = await runCli(['inspect', '--json', fromRef], { env });
  assert.equal(r.code, 0, r.stderr);
  // Before: a debug line only, whatever the run read.
  assert.equal(r.stderr.split(note).length - 1, 1, r.stderr);
  assert.ok(r.stderr.includes(`warning: ${note} (this run reads ${R.anon.host}/base/busybox)`), r.stderr);
  r = await runCli(['inspect', `${R.anon.host}/other/none:1`], { env });
  assert.equal(r.code, 4, r.stderr);
  assert.ok(!r.stderr.includes('differs from prefix'), r.stderr);
});

test('registries.conf blocked = true: reading from (copy, inspect) or writing to a blocked prefix fails before any request, one E_DENIED line naming the prefix and the file', async () => {
  const conf = join(dir, 'registries-blocked.conf');
  const env = { ...isolated, REGISTRIES_CONFIG_PATH: conf };
  const proxy = await startFaultProxy(R.anon.url);
  try {
    // Through a recording proxy: not one request reaches the registry.
    const src = `${proxy.host}/base/busybox:v2s2`;
    writeFileSync(conf, `[[registry]]\nprefix = "${proxy.host}/base"\nblocked = true\n`);
    const blockedLine = (verb: string, name: string) => new RegExp(`^regpush: error: ${verb} ${name.replace(/\./g, '\\.')} is blocked: prefix ${proxy.host.replace(/\./g, '\\.')}/base has blocked = true in ${conf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\[E_DENIED\\]$`);
    let r = await runCli(['copy', src, imageRef(R.basic, `${run}/blocked:1`), ...toBasic], { env });
    assert.equal(r.code, 3, r.stderr);
    assert.match(stderrWithoutPasswordWarning(r), blockedLine('reading from', `${proxy.host}/base/busybox`));
    assert.equal(stderrWithoutPasswordWarning(r).split('\n').length, 1, r.stderr);
    r = await runCli(['inspect', src], { env });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr.trim(), blockedLine('reading from', `${proxy.host}/base/busybox`));
    r = await runCli(['push', '--from', src, '--to', imageRef(R.basic, `${run}/blocked:2`), ...toBasic, '--app', makeApp()], { env });
    assert.equal(r.code, 3, r.stderr);
    assert.match(stderrWithoutPasswordWarning(r), blockedLine('reading from', `${proxy.host}/base/busybox`));
    r = await runCli(['copy', fromRef, `${proxy.host}/base/copied:1`], { env });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr.trim(), blockedLine('writing to', `${proxy.host}/base/copied`));
    assert.deepEqual(proxy.requests.map((q) => q.url), [], 'nothing was sent to the blocked registry');
    // Outside the prefix, the same registry is read as usual.
    r = await runCli(['inspect', `${proxy.host}/base-other/none:1`], { env });
    assert.notEqual(r.code, 3, r.stderr);
    assert.ok(proxy.requests.length > 0);
  } finally {
    await proxy.close();
  }
});

test('daemon.json registry-mirrors serve Docker Hub references (Docker Hub itself is never reached)', async () => {
  const daemon = join(dir, 'daemon.json');
  writeFileSync(daemon, JSON.stringify({ 'registry-mirrors': [`http://${mirrorHost}`], 'log-level': 'warn' }));
  const to = imageRef(R.basic, `${run}/daemon:1`);
  // base/busybox is docker.io/base/busybox: only the mirror (a cache of the anon registry) has it here.
  await pushThrough([], { ...isolated, REGPUSH_DOCKER_DAEMON_JSON: daemon }, mirrorHost, to, 'base/busybox:v2s2');
});

test('regpush.json "mirrors" (push): the base is read through the mirror', async () => {
  const project = tempDir('regpush-mirror-project-');
  const to = imageRef(R.basic, `${run}/project:1`);
  // The app inside the project folder: a project file names no source outside it.
  mkdirSync(join(project, 'app'));
  writeFileSync(join(project, 'app', 'hello.txt'), `mirror test ${run}\n`);
  writeFileSync(join(project, 'regpush.json'), JSON.stringify({ from: fromRef, to, app: ['./app'], mirrors: { [R.anon.host]: [mirrorHost] } }));
  const r = await runCli(['push', '--json', ...toBasic], { env: isolated, cwd: project });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.base.mirror, mirrorHost);
  assert.equal(report.base.digest, base.digest);
});

test('a mirror serving a wrong manifest for a digest is rejected: read from the upstream, with a warning', async () => {
  evil = await startFaultProxy(R.anon.url);
  // Every manifest GET by digest gets one bit flipped: same length, another digest.
  evil.rule({ method: 'GET', path: /\/manifests\/sha256:/, fault: { kind: 'corrupt', at: 20 } });
  const to = imageRef(R.basic, `${run}/evil:1`);
  const r = await runCli(['push', '--json', '--registry-mirror', `${R.anon.host}=${evil.host}`, '--from', `${R.anon.host}/base/busybox@${base.digest}`, '--to', to, ...toBasic, '--app', makeApp()], { env: isolated });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(evil.hits('corrupt').length >= 1, 'the mirror was asked');
  assert.match(r.stderr, new RegExp(`mirror ${evil.host} served content that does not match its digest .*; not using it again, reading from upstream ${R.anon.host}`));
  const report = JSON.parse(r.stdout);
  assertValidReport(report, 'push report');
  assert.equal(report.base.digest, base.digest);
  assert.equal(report.base.mirror, undefined, 'the base was read from the registry itself');
  // Distrusted for the rest of the run: no blob was read from it.
  assert.deepEqual(evil.requests.filter((q) => /\/blobs\//.test(q.url)).map((q) => q.url), []);
  assert.notEqual(report.blobs.length, 0, 'an empty list would pass the check below vacuously');
  for (const b of report.blobs) assert.equal(b.mirror, undefined);
  assert.equal((await skopeoInspect(to, { raw: true, creds: credsOf(R.basic) })).digest, report.digest);
});

test('a mirror gets its own credentials, never the source\'s: refused without them (fallback), used with them', async () => {
  // The "mirror" is the Basic-auth registry (it holds the seeded base too), behind a proxy that records headers.
  const guarded = await startFaultProxy(R.basic.url);
  try {
    const sourceCreds = { REGPUSH_FROM_USER: R.basic.user!, REGPUSH_FROM_PASSWORD: R.basic.password! };
    let to = imageRef(R.basic, `${run}/creds:1`);
    let r = await runCli(['push', '--json', '--registry-mirror', `${R.anon.host}=${guarded.host}`, '--from', fromRef, '--to', to, ...toBasic, '--app', makeApp()], { env: { ...isolated, ...sourceCreds } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`mirror ${guarded.host} failed \\(E_AUTH: .*\\); reading from upstream`));
    assert.ok(guarded.requests.length > 0);
    assert.deepEqual(guarded.requests.filter((q) => q.headers.authorization), [], 'the source credentials never reached the mirror');
    assert.equal(JSON.parse(r.stdout).base.mirror, undefined);
    // With a login for the mirror's own host (docker config), the mirror is used.
    const dockerConfig = tempDir('regpush-mirror-dockercfg-');
    const auth = Buffer.from(`${R.basic.user}:${R.basic.password}`).toString('base64');
    writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [guarded.host]: { auth } } }));
    to = imageRef(R.basic, `${run}/creds:2`);
    r = await runCli(['push', '--json', '--registry-mirror', `${R.anon.host}=${guarded.host}`, '--from', fromRef, '--to', to, ...toBasic, '--app', makeApp()], { env: { ...isolated, DOCKER_CONFIG: dockerConfig } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).base.mirror, guarded.host);
  } finally {
    await guarded.close();
  }
});

test('a token-auth mirror (distribution and its token service): anonymous access refused for the repository (insufficient_scope) is a refusal of that repository; a wrong stored password, of the whole mirror; a good one reads through it', async () => {
  // The token registry holds the seeded images too: a cache that has them, behind a login.
  const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const copyThrough = async (tag: string, dockerConfig?: string) => {
    const env: Record<string, string> = { ...isolated };
    if (dockerConfig) env.DOCKER_CONFIG = dockerConfig;
    const r = await runCli(['copy', '--json', '--registry-mirror', `${R.anon.host}=${R.token.host}`, fromRef, imageRef(R.basic, `${run}/token-mirror:${tag}`), ...toBasic], { env });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.digest, base.digest);
    return { stderr: r.stderr, mirror: report.source.mirror as string | undefined };
  };
  const login = (user: string, password: string) => {
    const d = tempDir('regpush-mirror-token-login-');
    writeFileSync(join(d, 'config.json'), JSON.stringify({ auths: { [R.token.host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }));
    return d;
  };
  // No login stored: the token service gives an anonymous token with no access, and the registry refuses it for base/busybox.
  let r = await copyThrough('anon');
  assert.equal(r.mirror, undefined);
  assert.match(r.stderr, new RegExp(`mirror ${esc(R.token.host)} refused base/busybox \\(E_AUTH: .*for repository:base/busybox:pull.*\\); reading base/busybox from upstream ${esc(R.anon.host)}; not asking ${esc(R.token.host)} for base/busybox again in this run, the mirror is still used for other repositories`));
  // A wrong password: the token service's 401 refuses it for every repository; the mirror is given up.
  r = await copyThrough('wrong', login(R.token.user!, 'not-the-password'));
  assert.equal(r.mirror, undefined);
  assert.match(r.stderr, new RegExp(`mirror ${esc(R.token.host)} failed \\(E_AUTH: .*rejected the credentials for user ${R.token.user}.*\\); reading from upstream ${esc(R.anon.host)}`));
  // The right one: read through the mirror.
  r = await copyThrough('good', login(R.token.user!, R.token.password!));
  assert.equal(r.mirror, R.token.host, r.stderr);
});

test('bad mirror settings: one error line each', async () => {
  let r = await runCli(['push', '--registry-mirror', 'docker.io', '--from', fromRef, '--to', imageRef(R.basic, `${run}/x:1`), '--app', makeApp()], { env: isolated });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr.trim(), /^.*--registry-mirror takes REGISTRY=MIRROR.*\[E_USAGE\]$/);
  const badDaemon = join(dir, 'bad-daemon.json');
  writeFileSync(badDaemon, '{"registry-mirrors": "https://m.example"}');
  r = await runCli(['inspect', fromRef], { env: { ...isolated, REGPUSH_DOCKER_DAEMON_JSON: badDaemon } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr.trim(), /bad-daemon\.json: "registry-mirrors" must be a list of URLs.*\[E_INPUT\]$/);
  r = await runCli(['inspect', fromRef], { env: { ...isolated, REGISTRIES_CONFIG_PATH: join(dir, 'missing.conf') } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr.trim(), /REGISTRIES_CONFIG_PATH=.*missing\.conf: cannot read it \(no such file\).*\[E_INPUT\]$/);
  const badConf = join(dir, 'bad.conf');
  writeFileSync(badConf, '[[registry]]\nlocation = "q.example"\n[[registry.mirror]]\nlocation = {a = 1}\n');
  r = await runCli(['inspect', fromRef], { env: { ...isolated, REGISTRIES_CONFIG_PATH: badConf } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr.trim(), /bad\.conf: \[\[registry\]\] #1 mirror #1: location must be a string.*\[E_INPUT\]$/);
});

test('a pull-through cache as the target (push, copy): E_UNSUPPORTED, exit 6, one line saying it takes no pushes; nothing written', async () => {
  const mark = mirror!.log().length;
  const refused = (r: { code: number | null; stderr: string }, repo: string) => {
    assert.equal(r.code, 6, r.stderr);
    const last = r.stderr.trim().split('\n').at(-1)!;
    assert.match(last, new RegExp(`^regpush: error: ${mirrorHost.replace(/\./g, '\\.')} does not accept pushes to ${repo} \\(the (upload's POST|manifest PUT) answered 405 UNSUPPORTED, as a pull-through cache or a read-only mirror does\\) \\[E_UNSUPPORTED\\]$`));
    assert.equal(r.stderr.match(/^regpush: error:/gm)?.length, 1, r.stderr);
  };
  const push = await runCli(['push', '--from', fromRef, '--to', `${mirrorHost}/${run}/ro:1`, '--app', makeApp()], { env: isolated });
  refused(push, `${run}/ro`);
  const copy = await runCli(['copy', fromRef, `${mirrorHost}/${run}/ro-copy:1`], { env: isolated });
  refused(copy, `${run}/ro-copy`);
  // Only the refused POSTs and PUTs: no session opened, no manifest written.
  const writes = [...mirror!.log().slice(mark).matchAll(/"(PUT|POST|PATCH|DELETE) (\/v2\/\S+) HTTP[^"]*" (\d{3})/g)].map((m) => `${m[1]} ${m[3]}`);
  assert.notDeepEqual(writes, []);
  for (const w of writes) assert.match(w, / 405$/);
});

test('delete and untag on a pull-through cache: E_UNSUPPORTED, exit 6, naming the pull-through cache as push and tag do, not storage.delete.enabled alone (a cache refuses deletes with it on)', async () => {
  const ref = `${mirrorHost}/base/busybox:v2s2`;
  for (const argv of [['delete', '--force', ref], ['untag', ref]]) {
    const r = await runCli(argv, { env: isolated });
    assert.equal(r.code, 6, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /\(a pull-through cache or a read-only mirror answers so, and takes no deletes; on a CNCF distribution registry that is neither, an operator enables deletes with storage\.delete\.enabled\)/, argv[0]);
    assert.match(lines[0]!, /\[E_UNSUPPORTED\]$/);
  }
});

test('with the mirror stopped, the push reads from the upstream and says so', async () => {
  await mirror!.stop();
  const to = imageRef(R.basic, `${run}/stopped:1`);
  const r = await runCli(['push', '--json', '--registry-mirror', `${R.anon.host}=${mirrorHost}`, '--from', fromRef, '--to', to, ...toBasic, '--app', makeApp()], { env: isolated });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`mirror ${mirrorHost.replace(/\./g, '\\.')} failed \\(E_NETWORK: .*\\); reading from upstream ${R.anon.host.replace(/\./g, '\\.')}`));
  assert.equal(r.stderr.match(/mirror \S+ failed/g)?.length, 1, 'said once');
  const report = JSON.parse(r.stdout);
  assertValidReport(report, 'push report');
  assert.equal(report.base.digest, base.digest);
  assert.equal(report.base.mirror, undefined);
  assert.notEqual(report.blobs.length, 0, 'an empty list would pass the check below vacuously');
  for (const b of report.blobs) assert.equal(b.mirror, undefined);
  assert.equal((await skopeoInspect(to, { raw: true, creds: credsOf(R.basic) })).digest, report.digest);
});
