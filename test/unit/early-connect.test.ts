// The launcher's pre-scan (src/cli/early-connect.ts): which registries a command line names, how
// many connections each gets, and what it leaves alone (proxies, mirrors, other commands).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { earlyOrigins } from '../../src/cli/early-connect.js';
import type { MirrorMap } from '../../src/registry/mirror-config.js';

const none: Record<string, string | undefined> = {};
const origins = (argv: string[], env = none, mirrors: MirrorMap | 'unknown' = {}): string[] => earlyOrigins(argv, env, () => mirrors).map((o) => `${o.host}:${o.port} ×${o.connections}`);

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

test('Docker Hub\'s token service: one connection whenever Hub is contacted (source or target), none when it is not, or is mirrored, or its token host is behind a proxy', () => {
  assert.deepEqual(origins(['copy', 'docker.io/library/alpine:3', 'index.docker.io/o/alpine:3']), ['registry-1.docker.io:443 ×2', 'auth.docker.io:443 ×1'], 'one for both ends');
  assert.deepEqual(origins(['inspect', 'ghcr.io/o/x:1']), ['ghcr.io:443 ×1'], 'a realm on the registry\'s own host needs nothing more');
  assert.deepEqual(origins(['push', '--from', 'alpine:3', '--to', 'reg.example/app:1'], none, { 'docker.io': ['mirror.example'] }), ['reg.example:443 ×3'], 'mirrored: Hub is not contacted');
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

test('a source with a mirror is left out unless a target has its registry contacted anyway; other sources are not', () => {
  const hub = { 'docker.io': ['mirror.example'] };
  assert.deepEqual(origins(['push', '--from', 'alpine:3', '--to', 'reg.example/app:1'], none, hub), ['reg.example:443 ×3']);
  assert.deepEqual(origins(['push', '--from', 'ghcr.io/o/base:1', '--to', 'reg.example/app:1'], none, hub), ['reg.example:443 ×3', 'ghcr.io:443 ×1'], 'no mirror for ghcr.io');
  assert.deepEqual(origins(['push', '--from', 'reg.example/base:1', '--to', 'reg.example/app:1'], none, { 'reg.example': ['m.example'] }), ['reg.example:443 ×4']);
  assert.deepEqual(origins(['push', '--from', 'ghcr.io/o/base:1', '--to', 'reg.example/app:1'], none, 'unknown'), ['reg.example:443 ×3'], 'unreadable mirror configuration: no source');
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
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
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
  assert.notEqual(code, 0, 'the base does not exist');
  assert.match(stderr, new RegExp(`connections opened while loading: ${reg.replace(/\./g, '\\.')} ×4`));
  assert.equal(ports.length, 4, `four connections in all: ${stderr}`);
  // The base GET, the tag GET and the layer's upload session each went out on one of them, none
  // on a connection of its own. The fourth is for the config's session of a push whose tag holds
  // another image; on a first push that session takes the tag GET's connection.
  assert.equal(used.size, 3, `three requests, three connections: ${stderr}`);
  for (const p of used) assert.ok(ports.includes(p), `a request on a connection the launcher did not open (${p}): ${stderr}`);

  // The same push from another registry that has a mirror: the launcher leaves that source alone.
  const mirrored = spawn(process.execPath, [bin, 'push', '--debug', '--retries', '0', '--from', 'src.invalid/base:1', '--to', `${reg}/app:1`, '--app', `${dir}:/app`, '--registry-mirror', `src.invalid=${reg}`], { env: { ...process.env, DOCKER_CONFIG: dir, REGPUSH_INSECURE_REGISTRIES: reg } });
  let err2 = '';
  mirrored.stderr.on('data', (c: Buffer) => (err2 += c.toString()));
  await new Promise((r) => mirrored.on('close', r));
  assert.match(err2, new RegExp(`connections opened while loading: ${reg.replace(/\./g, '\\.')} ×3\n`), err2);
});

test('which origins are https: the transport puts TLS on those connections at once', () => {
  const tls = (argv: string[], env = none): string[] => earlyOrigins(argv, env, () => ({})).map((o) => `${o.host}:${o.port} ${o.tls ? 'tls' : 'plain'}`);
  assert.deepEqual(tls(['push', '--from', 'alpine:3', '--to', '127.0.0.1:5000/app:1']), ['127.0.0.1:5000 plain', 'registry-1.docker.io:443 tls', 'auth.docker.io:443 tls'], 'loopback is probed over plain HTTP first');
  assert.deepEqual(tls(['copy', 'reg.example/x:1', 'plain.example/x:1', '--insecure-registry', 'plain.example']), ['plain.example:80 plain', 'reg.example:443 tls']);
});

test('push: the mirrors of regpush.json (or --config-file) keep the launcher away from the source, as --registry-mirror does', async (t) => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { mirrorMap } = await import('../../src/cli/early-connect.js');
  const dir = mkdtempSync(join(tmpdir(), 'regpush-early-project-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // No registries.conf or daemon.json of the machine's: only the project file counts here.
  const env = { REGISTRIES_CONFIG_PATH: join(dir, 'none.conf'), REGPUSH_DOCKER_DAEMON_JSON: join(dir, 'none.json') };
  writeFileSync(join(dir, 'none.conf'), '');
  writeFileSync(join(dir, 'none.json'), '{}');
  const argv = ['push', '--from', 'alpine:3', '--to', 'reg.example/app:1'];
  const withProject = (a: string[]) => earlyOrigins(a, env, () => mirrorMap(a, env, dir)).map((o) => `${o.host}:${o.port} ×${o.connections}`);
  assert.deepEqual(withProject(argv), ['reg.example:443 ×3', 'registry-1.docker.io:443 ×1', 'auth.docker.io:443 ×1'], 'no project file: Hub is contacted');
  writeFileSync(join(dir, 'regpush.json'), JSON.stringify({ mirrors: { 'docker.io': ['mirror.example'] } }));
  assert.deepEqual(withProject(argv), ['reg.example:443 ×3'], 'regpush.json mirrors docker.io');
  assert.deepEqual(withProject([...argv, '--registry-mirror', 'quay.io=mirror.example']), ['reg.example:443 ×3', 'registry-1.docker.io:443 ×1', 'auth.docker.io:443 ×1'], 'a --registry-mirror flag replaces the file\'s mirrors, as in the command');
  writeFileSync(join(dir, 'other.json'), JSON.stringify({ mirrors: { 'docker.io': 'mirror.example' } }));
  writeFileSync(join(dir, 'regpush.json'), '{}');
  assert.deepEqual(withProject([...argv, '--config-file', 'other.json']), ['reg.example:443 ×3'], '--config-file names the file');
  writeFileSync(join(dir, 'regpush.json'), JSON.stringify({ mirrors: ['mirror.example'] }));
  assert.equal(mirrorMap(argv, env, dir), 'unknown', 'malformed mirrors: unknown, so no source is contacted');
  assert.deepEqual(withProject(argv), ['reg.example:443 ×3']);
  writeFileSync(join(dir, 'regpush.json'), '{"mirrors": ');
  assert.equal(mirrorMap(argv, env, dir), 'unknown', 'a file that is not JSON: unknown');
});
