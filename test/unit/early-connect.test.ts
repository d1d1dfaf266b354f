// The launcher's pre-scan (src/cli/early-connect.ts): which registries a command line names, how
// many connections each gets, and what it leaves alone (proxies, mirrors, other commands).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectEarly, earlyOrigins } from '../../src/cli/early-connect.js';
import type { ProjectFileRead } from '../../src/cli/project-file.js';
import { runMain } from '../fixtures/run-main.js';
import type { MirrorMap } from '../../src/registry/mirror-config.js';
import { endpointOf, insecureList } from '../../src/registry/insecure-settings.js';
import { endpointFor } from '../../src/registry/endpoint.js';

const none: Record<string, string | undefined> = {};
const origins = (argv: string[], env = none, mirrors: MirrorMap | 'unknown' = {}): string[] => earlyOrigins(argv, env, () => mirrors).map((o) => `${o.host}:${o.port} ×${o.connections}`);

/**
 * A working directory for a project file, removed after the test, and the variables that keep the
 * machine's registries.conf and daemon.json out, so that only the project file's mirrors count.
 */
function projectDir(t: TestContext, prefix: string): { dir: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'none.conf'), '');
  writeFileSync(join(dir, 'none.json'), '{}');
  return { dir, env: { REGISTRIES_CONFIG_PATH: join(dir, 'none.conf'), REGPUSH_DOCKER_DAEMON_JSON: join(dir, 'none.json') } };
}

test('push: the target gets three connections (tag GET, layer and config upload sessions), the source one', () => {
  assert.deepEqual(origins(['push', '--from', 'src.example:5000/base:1', '--to', 'dst.example/app:1', '--app', '.']), ['dst.example:443 ×3', 'src.example:5000 ×1']);
  assert.deepEqual(origins(['push', '--from=src.example:5000/base:1', '--to=dst.example/app:1']), ['dst.example:443 ×3', 'src.example:5000 ×1'], '= forms');
});

test('push: source and target in one registry share its origin, at most four connections', () => {
  assert.deepEqual(origins(['push', '--from', 'reg.example/base:1', '--to', 'reg.example/app:1']), ['reg.example:443 ×4']);
  assert.deepEqual(origins(['push', '--from', 'reg.example/base:1', '--to', 'reg.example/a:1', '--to', 'reg.example/b:1']), ['reg.example:443 ×4']);
});

test('Docker Hub names go to its API host; insecure registries (env or flag) to port 80; scratch to nothing', () => {
  assert.deepEqual(origins(['push', '--from', 'alpine:3', '--to', 'ghcr.io/o/app:1']), ['ghcr.io:443 ×3', 'registry-1.docker.io:443 ×1', 'auth.docker.io:443 ×1'], 'and its token service');
  assert.deepEqual(origins(['push', '--from', 'scratch', '--to', 'plain.example/app:1'], { REGPUSH_INSECURE_REGISTRIES: 'plain.example' }), ['plain.example:80 ×3']);
  assert.deepEqual(origins(['push', '--from', 'scratch', '--to', 'plain.example/app:1', '--insecure-registry', 'plain.example']), ['plain.example:80 ×3']);
  assert.deepEqual(origins(['push', '--from', 'scratch', '--to', '127.0.0.1:5000/app:1']), ['127.0.0.1:5000 ×3'], 'loopback: the probe is plain HTTP on that port');
  assert.deepEqual(origins(['push', '--from', 'scratch', '--to', '[::1]:5000/app:1']), ['::1:5000 ×3'], 'IPv6 literal without brackets');
});

test('a host named insecure-TLS (registries.conf insecure = true) is connected early over TLS on its own port: the clients\' probe asks TLS first there', () => {
  for (const [ref, origin] of [['tls.example:5000/app:1', 'tls.example:5000'], ['tls.example/app:1', 'tls.example:443']] as const) {
    const registry = ref.slice(0, ref.indexOf('/'));
    // The clients' endpoint: a probe (auto) for a host that is not loopback, which tries https first (probeTlsFirst).
    assert.equal(endpointOf(registry, { insecureTlsRegistries: { [registry]: '/etc/containers/registries.conf' } }).scheme, 'auto', ref);
    const [o] = earlyOrigins(['push', '--from', 'scratch', '--to', ref], none, () => ({}));
    assert.deepEqual(o && [`${o.host}:${o.port}`, o.tls], [origin, true], ref);
  }
});

test('--insecure-registry is read as REGPUSH_INSECURE_REGISTRIES is, by the launcher and by the connection alike (an http:// prefix or a comma list was compared raw and matched nothing: HTTPS without a word)', () => {
  for (const flag of ['http://plain.example:5000', 'http://plain.example:5000/', 'other.example:5000,plain.example:5000', 'other.example:5000, plain.example:5000']) {
    assert.deepEqual(origins(['push', '--from', 'scratch', '--to', 'plain.example:5000/app:1', '--insecure-registry', flag]), ['plain.example:5000 ×3'], flag);
    const list = insecureList({ insecureRegistries: [flag] });
    assert.equal(endpointFor('plain.example:5000', list).scheme, 'http', flag);
    assert.deepEqual(list, insecureList({ env: { REGPUSH_INSECURE_REGISTRIES: flag } }), flag);
  }
  assert.equal(endpointFor('third.example:5000', insecureList({ insecureRegistries: ['other.example:5000,plain.example:5000'] })).scheme, 'https', 'a host not listed stays on HTTPS');
});

test('Docker Hub\'s token service: one connection whenever Hub is contacted (source or target), none when it is not (its reads go to a mirror), or its token host is behind a proxy', () => {
  assert.deepEqual(origins(['copy', 'docker.io/library/alpine:3', 'index.docker.io/o/alpine:3']), ['registry-1.docker.io:443 ×2', 'auth.docker.io:443 ×1'], 'one for both ends');
  assert.deepEqual(origins(['inspect', 'ghcr.io/o/x:1']), ['ghcr.io:443 ×1'], 'a realm on the registry\'s own host needs nothing more');
  assert.deepEqual(origins(['push', '--from', 'alpine:3', '--to', 'reg.example/app:1'], none, { 'docker.io': ['mirror.example'] }), ['reg.example:443 ×3', 'mirror.example:443 ×1'], 'mirrored: Hub is not contacted, its mirror is');
  assert.deepEqual(origins(['inspect', 'alpine:3'], { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'registry-1.docker.io' }), ['registry-1.docker.io:443 ×1'], 'the token host goes through the proxy');
});

test('Aliyun\'s regional registries: their token service (dockerauth.<region>.aliyuncs.com) gets one connection too', () => {
  assert.deepEqual(origins(['push', '--from', 'registry.cn-hangzhou.aliyuncs.com/ns/base:1', '--to', 'registry.cn-hangzhou.aliyuncs.com/ns/app:1']), ['registry.cn-hangzhou.aliyuncs.com:443 ×4', 'dockerauth.cn-hangzhou.aliyuncs.com:443 ×1']);
  assert.deepEqual(origins(['copy', 'registry.cn-beijing.aliyuncs.com/ns/x:1', 'registry.us-west-1.aliyuncs.com/ns/x:1']), ['registry.us-west-1.aliyuncs.com:443 ×1', 'registry.cn-beijing.aliyuncs.com:443 ×1', 'dockerauth.us-west-1.aliyuncs.com:443 ×1', 'dockerauth.cn-beijing.aliyuncs.com:443 ×1'], 'one per region');
  assert.deepEqual(origins(['inspect', 'REGISTRY.CN-SHANGHAI.ALIYUNCS.COM/ns/x:1']), ['registry.cn-shanghai.aliyuncs.com:443 ×1', 'dockerauth.cn-shanghai.aliyuncs.com:443 ×1'], 'host names in any case');
  assert.deepEqual(origins(['inspect', 'registry.cn-shanghai.aliyuncs.com:5000/ns/x:1']), ['registry.cn-shanghai.aliyuncs.com:5000 ×1'], 'another port: not the known API host');
  assert.deepEqual(origins(['inspect', 'x.registry.cn-shanghai.aliyuncs.com/ns/x:1']), ['x.registry.cn-shanghai.aliyuncs.com:443 ×1'], 'other hosts under aliyuncs.com: no guess');
  assert.deepEqual(origins(['inspect', 'registry.cn-shanghai.aliyuncs.com/ns/x:1'], { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'registry.cn-shanghai.aliyuncs.com' }), ['registry.cn-shanghai.aliyuncs.com:443 ×1'], 'the token host goes through the proxy');
});

test('copy and inspect: references before the first flag, and copy --to', () => {
  assert.deepEqual(origins(['copy', 'a.example/x:1', 'b.example/x:1', 'c.example/x:1', '--jobs', '4']), ['b.example:443 ×1', 'c.example:443 ×1', 'a.example:443 ×1']);
  assert.deepEqual(origins(['copy', '--jobs', '4', 'a.example/x:1', 'b.example/x:1']), [], 'after a flag, a word may be its value: not read');
  assert.deepEqual(origins(['copy', 'a.example/x:1', '--to', 'b.example/x:1']), ['b.example:443 ×1', 'a.example:443 ×1']);
  assert.deepEqual(origins(['inspect', 'q.example/x:1', 'extra']), ['q.example:443 ×1']);
});

test('a proxy in the environment: no early connection where the transport would use it; loopback and NO_PROXY stay direct', () => {
  assert.deepEqual(origins(['push', '--from', 'a.example/b:1', '--to', 'c.example/d:1'], { HTTPS_PROXY: 'http://proxy:3128' }), []);
  assert.deepEqual(origins(['push', '--from', 'a.example/b:1', '--to', 'c.example/d:1'], { https_proxy: 'http://proxy:3128', NO_PROXY: 'c.example' }), ['c.example:443 ×3']);
  assert.deepEqual(origins(['push', '--from', 'scratch', '--to', '127.0.0.1:5000/d:1'], { HTTP_PROXY: 'http://proxy:3128' }), ['127.0.0.1:5000 ×3']);
});

test('a source with a mirror: its registry is left out unless a target is in it, its connection goes to the mirror; other sources are not', () => {
  const hub = { 'docker.io': ['mirror.example'] };
  assert.deepEqual(origins(['push', '--from', 'alpine:3', '--to', 'reg.example/app:1'], none, hub), ['reg.example:443 ×3', 'mirror.example:443 ×1']);
  assert.deepEqual(origins(['push', '--from', 'ghcr.io/o/base:1', '--to', 'reg.example/app:1'], none, hub), ['reg.example:443 ×3', 'ghcr.io:443 ×1'], 'no mirror for ghcr.io');
  assert.deepEqual(origins(['push', '--from', 'reg.example/base:1', '--to', 'reg.example/app:1'], none, { 'reg.example': ['m.example'] }), ['reg.example:443 ×3', 'm.example:443 ×1'], 'the target\'s registry: its own connections only');
  assert.deepEqual(origins(['push', '--from', 'ghcr.io/o/base:1', '--to', 'reg.example/app:1'], none, 'unknown'), ['reg.example:443 ×3'], 'unreadable mirror configuration: no source');
});

test('a source with mirrors gets its connection at the first mirror the command tries: the longest prefix\'s list, in order; a per-namespace mirror for its repository only; http:// mirrors over plain HTTP', () => {
  const opened = (argv: string[], mirrors: MirrorMap, env = none, blocked: Record<string, string | false> = {}): string[] =>
    earlyOrigins(argv, env, () => mirrors, () => blocked).map((o) => `${o.host}:${o.port} ×${o.connections} ${o.tls ? 'tls' : 'plain'}`);
  assert.deepEqual(opened(['inspect', 'docker.io/library/nginx:1'], { 'docker.io': ['mirror.example'] }), ['mirror.example:443 ×1 tls']);
  assert.deepEqual(opened(['copy', 'nginx:1', 'reg.example/nginx:1'], { 'docker.io': ['first.example', 'second.example'] }), ['reg.example:443 ×1 tls', 'first.example:443 ×1 tls'], 'the first in order only');
  // Per-namespace mirrors: the longest prefix wins (registries.conf's rule), its path is a namespace at the mirror.
  const ns = { 'reg.example': ['all.example'], 'reg.example/team': ['team.example:5000/cache', 'all.example'] };
  assert.deepEqual(opened(['inspect', 'reg.example/team/app:1'], ns), ['team.example:5000 ×1 tls'], 'the namespace\'s mirror');
  assert.deepEqual(opened(['inspect', 'reg.example/ops/app:1'], ns), ['all.example:443 ×1 tls'], 'another namespace: the registry\'s mirror');
  assert.deepEqual(opened(['inspect', 'reg.example/ops/app:1'], { 'reg.example/team': ['team.example'] }), ['reg.example:443 ×1 tls'], 'a namespace no mirror covers: the registry itself');
  // The scheme the mirror is given with: http:// is plain HTTP on its port (80 without one); an API path does not change the origin.
  assert.deepEqual(opened(['inspect', 'alpine:3'], { 'docker.io': ['http://cache.internal:5000'] }), ['cache.internal:5000 ×1 plain']);
  assert.deepEqual(opened(['inspect', 'alpine:3'], { 'docker.io': ['http://cache.internal'] }), ['cache.internal:80 ×1 plain']);
  assert.deepEqual(opened(['inspect', 'alpine:3'], { 'docker.io': ['https://art.example/api/docker/hub/v2'] }), ['art.example:443 ×1 tls']);
  assert.deepEqual(opened(['inspect', 'alpine:3', '--insecure-registry', 'cache.internal:5000'], { 'docker.io': ['cache.internal:5000'] }), ['cache.internal:5000 ×1 plain'], 'a mirror named insecure');
  // The mirror is contacted as any host: not where a proxy is used for it.
  assert.deepEqual(opened(['inspect', 'alpine:3'], { 'docker.io': ['mirror.example'] }, { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'registry-1.docker.io' }), [], 'the mirror goes through the proxy');
  // A blocked source that has mirrors is read at them (connect.ts): the mirror gets its connection, the registry none.
  assert.deepEqual(opened(['inspect', 'alpine:3'], { 'docker.io': ['mirror.example'] }, none, { 'docker.io': 'r.conf' }), ['mirror.example:443 ×1 tls']);
  assert.deepEqual(opened(['inspect', 'alpine:3'], {}, none, { 'docker.io': 'r.conf' }), [], 'blocked, no mirror: nothing');
});

test('nothing for other commands, help, version, or references that do not parse', () => {
  for (const argv of [['login', 'reg.example'], ['sync', '--config', 'x.yaml'], ['tag', 'reg.example/a:1', 'b'], ['--version'], [], ['push', '--help', '--to', 'reg.example/a:1'], ['inspect', 'UPPER/Case']]) {
    assert.deepEqual(origins(argv), [], argv.join(' '));
  }
  assert.deepEqual(origins(['push', '--to', '--from', 'reg.example/a:1']), ['reg.example:443 ×1'], 'a flag is not a value');
});

test('regpush push: the launcher opens the connections, and the first requests go out on them', async (t) => {
  const http = await import('node:http');
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const dir = mkdtempSync(join(tmpdir(), 'regpush-early-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a.txt'), 'hello\n');
  const ports: number[] = [];
  const used = new Set<number>();
  // Every answer is a late 404: the run fails on the base, after all its first requests are out.
  const srv = http.createServer((req, res) => {
    used.add(req.socket.remotePort!);
    setTimeout(() => res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}'), 300);
  });
  srv.on('connection', (s) => ports.push(s.remotePort!));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  const reg = `127.0.0.1:${(srv.address() as import('node:net').AddressInfo).port}`;
  const bin = fileURLToPath(new URL('../../cli/regpush.cjs', import.meta.url));
  const child = spawn(process.execPath, [bin, 'push', '--debug', '--retries', '0', '--from', `${reg}/base:1`, '--to', `${reg}/app:1`, '--app', `${dir}:/app`], { env: { ...process.env, DOCKER_CONFIG: dir, REGPUSH_INSECURE_REGISTRIES: reg } });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 4, `the base does not exist: ${stderr}`);
  assert.match(stderr, new RegExp(`connections opened while loading: ${reg.replace(/\./g, '\\.')} ×4`));
  assert.equal(ports.length, 4, `four connections in all: ${stderr}`);
  // The base GET, the tag GET and the layer's upload session each went out on one of them, none
  // on a connection of its own. The fourth is for the config's session of a push whose tag holds
  // another image; on a first push that session takes the tag GET's connection.
  assert.equal(used.size, 3, `three requests, three connections: ${stderr}`);
  for (const p of used) assert.ok(ports.includes(p), `a request on a connection the launcher did not open (${p}): ${stderr}`);

  // The same push from another registry that has a mirror: the launcher leaves that source alone
  // and opens the source's connection at the mirror (here the same server) instead.
  const mirrored = spawn(process.execPath, [bin, 'push', '--debug', '--retries', '0', '--from', 'src.invalid/base:1', '--to', `${reg}/app:1`, '--app', `${dir}:/app`, '--registry-mirror', `src.invalid=${reg}`], { env: { ...process.env, DOCKER_CONFIG: dir, REGPUSH_INSECURE_REGISTRIES: reg } });
  let err2 = '';
  mirrored.stderr.on('data', (c: Buffer) => (err2 += c.toString()));
  await new Promise((r) => mirrored.on('close', r));
  assert.match(err2, new RegExp(`connections opened while loading: ${reg.replace(/\./g, '\\.')} ×4\n`), err2);
});

test('which origins are https: the transport puts TLS on those connections at once', () => {
  const tls = (argv: string[], env = none): string[] => earlyOrigins(argv, env, () => ({})).map((o) => `${o.host}:${o.port} ${o.tls ? 'tls' : 'plain'}`);
  assert.deepEqual(tls(['push', '--from', 'alpine:3', '--to', '127.0.0.1:5000/app:1']), ['127.0.0.1:5000 plain', 'registry-1.docker.io:443 tls', 'auth.docker.io:443 tls'], 'loopback is probed over plain HTTP first');
  assert.deepEqual(tls(['copy', 'reg.example/x:1', 'plain.example/x:1', '--insecure-registry', 'plain.example']), ['plain.example:80 plain', 'reg.example:443 tls']);
});

test('push: the mirrors of regpush.json (or --config-file) keep the launcher away from the source\'s registry, as --registry-mirror does (their first mirror gets the connection)', async (t) => {
  const { mirrorMap } = await import('../../src/cli/early-connect.js');
  const { dir, env } = projectDir(t, 'regpush-early-project-');
  const argv = ['push', '--from', 'alpine:3', '--to', 'reg.example/app:1'];
  const withProject = (a: string[]) => earlyOrigins(a, env, () => mirrorMap(a, env, dir)).map((o) => `${o.host}:${o.port} ×${o.connections}`);
  assert.deepEqual(withProject(argv), ['reg.example:443 ×3', 'registry-1.docker.io:443 ×1', 'auth.docker.io:443 ×1'], 'no project file: Hub is contacted');
  writeFileSync(join(dir, 'regpush.json'), JSON.stringify({ mirrors: { 'docker.io': ['mirror.example'] } }));
  assert.deepEqual(withProject(argv), ['reg.example:443 ×3', 'mirror.example:443 ×1'], 'regpush.json mirrors docker.io');
  assert.deepEqual(withProject([...argv, '--registry-mirror', 'quay.io=mirror.example']), ['reg.example:443 ×3', 'registry-1.docker.io:443 ×1', 'auth.docker.io:443 ×1'], 'a --registry-mirror flag replaces the file\'s mirrors, as in the command');
  writeFileSync(join(dir, 'other.json'), JSON.stringify({ mirrors: { 'docker.io': 'mirror.example' } }));
  writeFileSync(join(dir, 'regpush.json'), '{}');
  assert.deepEqual(withProject([...argv, '--config-file', 'other.json']), ['reg.example:443 ×3', 'mirror.example:443 ×1'], '--config-file names the file');
  writeFileSync(join(dir, 'regpush.json'), JSON.stringify({ mirrors: ['mirror.example'] }));
  assert.equal(mirrorMap(argv, env, dir), 'unknown', 'malformed mirrors: unknown, so no source is contacted');
  assert.deepEqual(withProject(argv), ['reg.example:443 ×3']);
  writeFileSync(join(dir, 'regpush.json'), '{"mirrors": ');
  assert.equal(mirrorMap(argv, env, dir), 'unknown', 'a file that is not JSON: unknown');
});

test('daemon.json\'s proxies count as the command reads them: no early connection where its proxy is used (the variables\' NO_PROXY does not exempt a host from it); proxies that do not read cleanly: none at all', (t) => {
  const { dir, env } = projectDir(t, 'regpush-early-daemon-proxy-');
  const daemonJson = env.REGPUSH_DOCKER_DAEMON_JSON!;
  const argv = ['push', '--from', 'scratch', '--to', 'c.proxy-test.invalid/d:1'];
  const opened = (vars: Record<string, string> = {}) => {
    const early = connectEarly(argv, { ...env, ...vars }, dir);
    early?.close();
    return early?.opened ?? [];
  };
  writeFileSync(daemonJson, JSON.stringify({ proxies: { 'https-proxy': 'http://proxy.corp:3128' } }));
  assert.deepEqual(opened(), []);
  assert.deepEqual(opened({ NO_PROXY: 'c.proxy-test.invalid' }), [], 'the file\'s proxy is not exempted by the variables\' NO_PROXY');
  writeFileSync(daemonJson, JSON.stringify({ proxies: { 'https-proxy': 'http://proxy.corp:3128', 'no-proxy': 'c.proxy-test.invalid' } }));
  assert.equal(opened().length, 1, 'the file\'s own no-proxy exempts it');
  writeFileSync(daemonJson, JSON.stringify({ proxies: { 'https-proxy': 'socks5://proxy.corp:1080' } }));
  assert.deepEqual(opened(), [], 'the command refuses that proxy: no contact before it does');
});

test('push: regpush.json is read once, by the launcher, and the command takes what it read (a change in between is not seen)', async (t) => {
  const { dir, env: noMirrors } = projectDir(t, 'regpush-early-once-');
  const env = { ...noMirrors, REGPUSH_IDLE_TIMEOUT_MS: '2000' };
  // Nothing listens on port 1: the push fails on the network once it knows where to go.
  writeFileSync(join(dir, 'regpush.json'), JSON.stringify({ to: '127.0.0.1:1/app:1', mirrors: { '127.0.0.1:1': ['127.0.0.2:1'] } }));
  const reads: ProjectFileRead[] = [];
  const argv = ['push', '--from', '127.0.0.1:1/base:1', '--retries', '0'];
  // The file mirrors the source's registry, so the launcher connects to the mirror only; it read the file to know.
  const early = connectEarly(argv, env, dir, (read) => reads.push(read));
  early?.close();
  assert.deepEqual(early?.opened, ['127.0.0.2:1 ×1']);
  assert.equal(reads.length, 1);
  assert.deepEqual(reads[0]!.found?.data, { to: '127.0.0.1:1/app:1', mirrors: { '127.0.0.1:1': ['127.0.0.2:1'] } });
  writeFileSync(join(dir, 'regpush.json'), '{}'); // no "to" any more: a command reading it again would stop at a missing --to
  const r = await runMain(argv, { env, cwd: dir, io: { projectFile: reads[0] } });
  assert.doesNotMatch(r.stderr, /Missing required argument/, 'the command read the project file again');
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /\[E_NETWORK\]$/m);
});

test('regpush push: the launcher hands its read of regpush.json to the command, so the file is read once in all', async (t) => {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const { dir, env: noMirrors } = projectDir(t, 'regpush-early-reads-');
  writeFileSync(join(dir, 'regpush.json'), JSON.stringify({ to: '127.0.0.1:1/app:1', mirrors: { '127.0.0.1:1': ['127.0.0.2:1'] } }));
  // Counts the reads of regpush.json in the launcher's process (the bundles call fs.readFileSync through the module object).
  const preload = join(dir, 'count-reads.cjs');
  writeFileSync(preload, `const fs = require('node:fs');
const read = fs.readFileSync;
let n = 0;
fs.readFileSync = function (file, ...rest) { if (String(file).endsWith('regpush.json')) n++; return read.call(this, file, ...rest); };
process.on('exit', () => fs.writeFileSync(${JSON.stringify(join(dir, 'reads'))}, String(n)));
`);
  const bin = fileURLToPath(new URL('../../cli/regpush.cjs', import.meta.url));
  const env = { ...process.env, DOCKER_CONFIG: dir, ...noMirrors };
  const push = async (): Promise<{ code: number | null; stderr: string }> => {
    const child = spawn(process.execPath, ['--require', preload, bin, 'push', '--from', '127.0.0.1:1/base:1', '--retries', '0'], { cwd: dir, env });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    return { code: await new Promise<number | null>((r) => child.on('close', r)), stderr };
  };
  // The push used the file ("to"; nothing listens on port 1) and the launcher read it (its "mirrors", for the source).
  const r = await push();
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /\[E_NETWORK\]$/m);
  assert.equal(readFileSync(join(dir, 'reads'), 'utf8'), '1', 'regpush.json reads in the whole run');
  // A file the launcher cannot read: the command reads it itself and says what is wrong
  // (an error of the launcher's bundle handed over would be no RegpushError to main: exit 1, E_INTERNAL).
  writeFileSync(join(dir, 'regpush.json'), '{"mirrors": ');
  const bad = await push();
  assert.equal(bad.code, 2, bad.stderr);
  assert.equal(bad.stderr, 'regpush: error: regpush.json: not valid JSON at line 1, column 13: expected a value, found the end of the file [E_INPUT]\n');
});

test('a registry or repository registries.conf blocks gets no early connection (the command refuses it before any request); blocked prefixes that cannot be read: none at all', async (t) => {
  const argv = ['copy', 'src.example/team/app:1', 'dst.example/app:1', 'other.example/app:1'];
  const opened = (blocked: Record<string, string | false> | 'unknown') => earlyOrigins(argv, none, () => ({}), () => blocked).map((o) => `${o.host}:${o.port}`);
  assert.deepEqual(opened({}), ['dst.example:443', 'other.example:443', 'src.example:443']);
  assert.deepEqual(opened({ 'dst.example': '/etc/containers/registries.conf' }), ['other.example:443', 'src.example:443']);
  assert.deepEqual(opened({ 'src.example/team': 'r.conf', 'other.example': false }), ['dst.example:443', 'other.example:443']);
  assert.deepEqual(opened('unknown'), []);
  // As the CLI runs it: a registry REGISTRIES_CONFIG_PATH blocks is refused, and not even connected to.
  const net = await import('node:net');
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const dir = mkdtempSync(join(tmpdir(), 'regpush-early-blocked-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let connections = 0;
  const srv = net.createServer((sock) => {
    connections++;
    sock.destroy();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  const reg = `127.0.0.1:${(srv.address() as import('node:net').AddressInfo).port}`;
  writeFileSync(join(dir, 'registries.conf'), `[[registry]]\nprefix = "${reg}"\nblocked = true\n`);
  writeFileSync(join(dir, 'daemon.json'), '{}');
  const bin = fileURLToPath(new URL('../../cli/regpush.cjs', import.meta.url));
  for (const args of [['inspect', `${reg}/app:1`], ['copy', `${reg}/app:1`, `${reg}/other:1`]]) {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, DOCKER_CONFIG: dir, REGISTRIES_CONFIG_PATH: join(dir, 'registries.conf'), REGPUSH_DOCKER_DAEMON_JSON: join(dir, 'daemon.json') } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 3, stderr);
    assert.match(stderr, /is blocked: prefix .* has blocked = true in .*registries\.conf \[E_DENIED\]/);
  }
  assert.equal(connections, 0, 'no connection to a blocked registry');
});
