// Bad inputs not covered by inspect.test.ts, push.test.ts and copy.test.ts: malformed registry
// answers (scripted registries on 127.0.0.1), malformed manifests and configs, hostile redirects,
// Locations and token realms, bad flags, credentials and directories. Each one: the exit code, one
// error line ending in the stable code, a message that names the problem, nothing on stdout, and
// (where something could be written) no tag at the target.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertNoSecrets, assertOneErrorLine, manifestStatus } from './fault-helpers.js';
import { spawn } from 'node:child_process';
import { cliBin, loadState, runCli, tempDir, type ExecResult } from './harness.js';
import type { ErrorCode } from '../../src/errors.js';

const state = loadState();
const R = state.registries;
const run = `bad-${process.pid}-${Date.now().toString(36)}`;
const sha = (b: string | Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** What a scripted registry answers. */
interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}
type Route = (method: string, path: string, req: http.IncomingMessage) => Reply | undefined;

const servers: http.Server[] = [];
after(() => servers.forEach((s) => s.close()));

/** A scripted registry: GET /v2/ answers 200, `route` decides the rest, anything else is 404 MANIFEST/BLOB_UNKNOWN. */
async function fake(route: Route): Promise<string> {
  const s = http.createServer((req, res) => {
    const path = req.url ?? '/';
    req.resume();
    req.on('end', () => {
      const r = path === '/v2/' ? { body: '{}' } : route(req.method ?? 'GET', path, req);
      if (!r) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ errors: [{ code: path.includes('/blobs/') ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN', message: 'unknown' }] }));
      }
      const body = r.body ?? '';
      res.writeHead(r.status ?? 200, { 'content-length': String(Buffer.byteLength(body)), ...(r.headers ?? {}) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** A small valid image (config + one layer) a scripted registry can serve, with its manifest. */
function image(overrides: { config?: Buffer } = {}) {
  const layer = Buffer.from('not really a tar, never unpacked here');
  const config = overrides.config ?? Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha(layer)] } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
  }));
  const blobs = new Map<string, Buffer>([[sha(config), config], [sha(layer), layer]]);
  return { layer, config, manifest, blobs, digest: sha(manifest) };
}

/** Serves `manifest` for any manifest GET (with `headers`) and the given blobs. */
function serving(manifest: Buffer | string, opts: { headers?: Record<string, string>; blobs?: Map<string, Buffer> } = {}): Route {
  return (_method, path) => {
    if (path.includes('/manifests/')) return { headers: { 'content-type': OCI_MANIFEST, ...(opts.headers ?? {}) }, body: manifest };
    const d = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path)?.[1];
    if (d && opts.blobs?.has(d)) return { headers: { 'content-type': 'application/octet-stream' }, body: opts.blobs.get(d)! };
    return undefined;
  };
}

let appDir = '';
before(() => {
  appDir = join(tempDir(), 'app');
  mkdirSync(appDir, { recursive: true });
  writeFileSync(join(appDir, 'hello.txt'), 'hi\n');
});

const one = (r: ExecResult, exit: number, code: ErrorCode, pattern: RegExp) => {
  assertOneErrorLine(r, exit, code, pattern);
};
const tagAbsent = async (repo: string) => assert.equal((await manifestStatus(R.anon2, repo, '1')).status, 404, `${repo}:1 must not exist`);

// ---------------------------------------------------------------- manifests from the registry

test('manifest: body that is not JSON → E_PROTOCOL', async () => {
  const host = await fake(serving('{"schemaVersion": 2, "mediaType": '));
  one(await runCli(['inspect', `${host}/x:1`]), 5, 'E_PROTOCOL', /manifest is not valid JSON/);
});

test('manifest: no "layers" list → E_PROTOCOL', async () => {
  const host = await fake(serving(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: image().manifest && JSON.parse(image().manifest.toString()).config })));
  one(await runCli(['inspect', `${host}/x:1`]), 5, 'E_PROTOCOL', /has no "layers" list/);
});

test('manifest: a descriptor with a malformed digest → E_PROTOCOL', async () => {
  const m = JSON.parse(image().manifest.toString());
  m.layers[0].digest = 'sha256:xyz';
  const host = await fake(serving(JSON.stringify(m)));
  one(await runCli(['inspect', `${host}/x:1`]), 5, 'E_PROTOCOL', /is not a valid digest/);
});

test('manifest: a negative descriptor size → E_PROTOCOL', async () => {
  const m = JSON.parse(image().manifest.toString());
  m.layers[0].size = -1;
  const host = await fake(serving(JSON.stringify(m)));
  one(await runCli(['inspect', `${host}/x:1`]), 5, 'E_PROTOCOL', /size -1 is not a non-negative integer/);
});

test('manifest: schemaVersion 3 → E_PROTOCOL', async () => {
  const m = JSON.parse(image().manifest.toString());
  m.schemaVersion = 3;
  const host = await fake(serving(JSON.stringify(m)));
  one(await runCli(['inspect', `${host}/x:1`]), 5, 'E_PROTOCOL', /schemaVersion is 3, expected 2/);
});

test('manifest: an unknown media type → E_UNSUPPORTED', async () => {
  const m = { ...JSON.parse(image().manifest.toString()), mediaType: 'application/vnd.example.thing.v1+json' };
  const host = await fake(serving(JSON.stringify(m), { headers: { 'content-type': 'application/vnd.example.thing.v1+json' } }));
  one(await runCli(['inspect', `${host}/x:1`]), 6, 'E_UNSUPPORTED', /unsupported manifest media type "application\/vnd\.example\.thing\.v1\+json"/);
});

test('manifest: an HTML page instead of a manifest → E_PROTOCOL', async () => {
  const host = await fake(serving('<html><body>login</body></html>', { headers: { 'content-type': 'text/html' } }));
  one(await runCli(['inspect', `${host}/x:1`]), 5, 'E_PROTOCOL', /manifest is not valid JSON/);
});

test('manifest: Docker-Content-Digest disagrees with the bytes → E_DIGEST_MISMATCH', async () => {
  const img = image();
  const host = await fake(serving(img.manifest, { headers: { 'docker-content-digest': sha('something else') } }));
  one(await runCli(['inspect', `${host}/x:1`]), 7, 'E_DIGEST_MISMATCH', /registry says sha256:[0-9a-f]{64} but the bytes hash to/);
});

test('manifest: fetched by digest, the bytes hash to another digest → E_DIGEST_MISMATCH', async () => {
  const img = image();
  const wanted = sha('the manifest we asked for');
  const host = await fake(serving(img.manifest));
  one(await runCli(['inspect', `${host}/x@${wanted}`]), 7, 'E_DIGEST_MISMATCH', new RegExp(`x@${wanted} has digest ${img.digest}`));
});

test('manifest: indexes nested deeper than 4 levels → E_PROTOCOL, nothing written', async () => {
  // index0 → index1 → … → index5, each by digest.
  const levels: Buffer[] = [];
  let child = image().manifest;
  let childType = OCI_MANIFEST;
  for (let i = 0; i < 6; i++) {
    const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: childType, digest: sha(child), size: child.length, platform: { os: 'linux', architecture: 'amd64' } }] }));
    levels.push(child);
    child = idx;
    childType = OCI_INDEX;
  }
  const byDigest = new Map(levels.map((b) => [sha(b), b]));
  const top = child;
  const host = await fake((_m, path) => {
    const ref = path.split('/manifests/')[1];
    if (!ref) return undefined;
    const b = ref === '1' ? top : byDigest.get(ref);
    if (!b) return undefined;
    return { headers: { 'content-type': JSON.parse(b.toString()).mediaType }, body: b };
  });
  one(await runCli(['copy', `${host}/deep:1`, `${R.anon2.host}/${run}/deep:1`]), 5, 'E_PROTOCOL', /index nesting deeper than 4/);
  await tagAbsent(`${run}/deep`);
});

// ---------------------------------------------------------------- configs

test('config: a base whose config is not JSON → E_PROTOCOL, nothing written', async () => {
  const img = image({ config: Buffer.from('this is not { json') });
  const host = await fake(serving(img.manifest, { blobs: img.blobs }));
  one(await runCli(['push', '--from', `${host}/base:1`, '--to', `${R.anon2.host}/${run}/bad-config:1`, '--app', appDir]), 5, 'E_PROTOCOL', /config sha256:[0-9a-f]{64} of .* is not valid JSON/);
  await tagAbsent(`${run}/bad-config`);
});

test('config: a base whose config is JSON but not an object → E_PROTOCOL', async () => {
  const img = image({ config: Buffer.from('[1, 2, 3]') });
  const host = await fake(serving(img.manifest, { blobs: img.blobs }));
  one(await runCli(['push', '--from', `${host}/base:1`, '--to', `${R.anon2.host}/${run}/array-config:1`, '--app', appDir]), 5, 'E_PROTOCOL', /is not a JSON object/);
  await tagAbsent(`${run}/array-config`);
});

test('config: bytes that do not match the config digest → E_DIGEST_MISMATCH, nothing written', async () => {
  const img = image();
  const cfgDigest = sha(img.config);
  const tampered = new Map(img.blobs);
  tampered.set(cfgDigest, Buffer.from(img.config.toString().replace('amd64', 'arm64')));
  const host = await fake(serving(img.manifest, { blobs: tampered }));
  one(await runCli(['push', '--from', `${host}/base:1`, '--to', `${R.anon2.host}/${run}/tampered-config:1`, '--app', appDir]), 7, 'E_DIGEST_MISMATCH', /does not match its digest/);
  await tagAbsent(`${run}/tampered-config`);
});

// ---------------------------------------------------------------- hostile or broken registry answers

test('429 with a Retry-After beyond the cap (1 hour) → E_TOO_MANY_REQUESTS at once, not an hour later', async () => {
  const host = await fake(() => ({ status: 429, headers: { 'retry-after': '3600', 'content-type': 'application/json' }, body: JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }) }));
  // Ending at all shows it: a run that waited the hour would be killed at runCli's limit (120 s), no E_TOO_MANY_REQUESTS line.
  one(await runCli(['inspect', `${host}/x:1`]), 5, 'E_TOO_MANY_REQUESTS', /429 TOOMANYREQUESTS.*rate limited/);
});

test('403 DENIED on a manifest → E_DENIED', async () => {
  const host = await fake(() => ({ status: 403, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] }) }));
  one(await runCli(['inspect', `${host}/x:1`]), 3, 'E_DENIED', /403 DENIED/);
});

test('401 without any challenge → E_AUTH naming the registry', async () => {
  const host = await fake(() => ({ status: 401, body: '' }));
  one(await runCli(['inspect', `${host}/x:1`]), 3, 'E_AUTH', new RegExp(`${host}.*401`));
});

test('a Bearer challenge without a realm → E_PROTOCOL', async () => {
  const host = await fake(() => ({ status: 401, headers: { 'www-authenticate': 'Bearer service="x"' } }));
  one(await runCli(['inspect', `${host}/x:1`]), 5, 'E_PROTOCOL', /Bearer challenge from .* has no realm/);
});

test('a token realm that is not http(s) (file:) → refused with E_PROTOCOL, never read', async () => {
  const host = await fake(() => ({ status: 401, headers: { 'www-authenticate': 'Bearer realm="file:///etc/passwd",service="x"' } }));
  one(await runCli(['inspect', `${host}/x:1`, '--user', 'alice', '--password', 'pw-for-file-realm']), 5, 'E_PROTOCOL', /only http\(s\) realms are allowed/);
});

test('a token service that answers 403 → E_AUTH naming it, the password not shown', async () => {
  const realm = await fake(() => ({ status: 403, body: 'no' }));
  const host = await fake(() => ({ status: 401, headers: { 'www-authenticate': `Bearer realm="http://${realm}/token",service="x"` } }));
  const pw = 'secret-for-a-403-realm';
  const r = await runCli(['inspect', `${host}/x:1`, '--user', 'alice', '--password', pw]);
  one(r, 3, 'E_AUTH', new RegExp(`${realm.replace(/\./g, '\\.')}`));
  assertNoSecrets(r, [pw, Buffer.from(`alice:${pw}`).toString('base64')]);
});

test('blob GET redirecting to itself forever → E_PROTOCOL (too many redirects), nothing written', async () => {
  const img = image();
  const host = await fake((m, path): Reply | undefined => {
    if (path.includes('/blobs/')) return { status: 307, headers: { location: path } };
    return serving(img.manifest)(m, path, undefined as never);
  });
  one(await runCli(['copy', '--quiet', '--retries', '0', `${host}/loop:1`, `${R.anon2.host}/${run}/loop:1`]), 5, 'E_PROTOCOL', /too many redirects/);
  await tagAbsent(`${run}/loop`);
});

test('blob GET redirecting to a file: URL → E_PROTOCOL, nothing written', async () => {
  const img = image();
  const host = await fake((m, path): Reply | undefined => {
    if (path.includes('/blobs/')) return { status: 307, headers: { location: 'file:///etc/shadow' } };
    return serving(img.manifest)(m, path, undefined as never);
  });
  one(await runCli(['copy', '--quiet', `${host}/fileredir:1`, `${R.anon2.host}/${run}/fileredir:1`]), 5, 'E_PROTOCOL', /refusing redirect to a file: URL/);
  await tagAbsent(`${run}/fileredir`);
});

test('target opens an upload without a Location header → E_PROTOCOL, no manifest PUT', async () => {
  let manifestPuts = 0;
  const host = await fake((m, path) => {
    if (m === 'HEAD') return undefined;
    if (m === 'POST' && path.includes('/blobs/uploads/')) return { status: 202 };
    if (m === 'PUT' && path.includes('/manifests/')) manifestPuts++;
    return undefined;
  });
  one(await runCli(['copy', '--quiet', `${R.anon.host}/base/busybox:v2s2`, `${host}/noloc:1`]), 5, 'E_PROTOCOL', /opened an upload without a Location header/);
  assert.equal(manifestPuts, 0);
});

test('target sends an upload Location with an ftp: scheme → E_PROTOCOL', async () => {
  const host = await fake((m, path) => {
    if (m === 'POST' && path.includes('/blobs/uploads/')) return { status: 202, headers: { location: 'ftp://127.0.0.1/upload' } };
    return undefined;
  });
  one(await runCli(['copy', '--quiet', `${R.anon.host}/base/busybox:v2s2`, `${host}/ftp:1`]), 5, 'E_PROTOCOL', /upload Location with scheme ftp: "ftp:\/\/127\.0\.0\.1\/upload" \(only http and https are followed\)/);
});

test('target claims it stored another digest for a blob → E_DIGEST_MISMATCH, no manifest PUT', async () => {
  let manifestPuts = 0;
  const host = await fake((m, path): Reply | undefined => {
    if (m === 'POST' && path.includes('/blobs/uploads/')) return { status: 202, headers: { location: `${path}u1?_state=x` } };
    if (m === 'PUT' && path.includes('/blobs/uploads/')) return { status: 201, headers: { 'docker-content-digest': sha('other bytes') } };
    if (m === 'PUT' && path.includes('/manifests/')) manifestPuts++;
    return undefined;
  });
  one(await runCli(['copy', '--quiet', `${R.anon.host}/base/busybox:v2s2`, `${host}/liar:1`]), 7, 'E_DIGEST_MISMATCH', /registry stored sha256:/);
  assert.equal(manifestPuts, 0);
});

test('target stores the manifest under another digest → E_DIGEST_MISMATCH', async () => {
  const host = await fake((m, path): Reply | undefined => {
    if (m === 'HEAD' && path.includes('/blobs/')) return { status: 200, headers: { 'content-length': '1' } };
    if (m === 'PUT' && path.includes('/manifests/')) return { status: 201, headers: { 'docker-content-digest': sha('not the manifest') } };
    return undefined;
  });
  one(await runCli(['copy', '--quiet', `${R.anon.host}/base/busybox:v2s2`, `${host}/manifest-liar:1`]), 7, 'E_DIGEST_MISMATCH', /PUT manifest .* registry stored sha256:[0-9a-f]{64}, expected/);
});

// ---------------------------------------------------------------- flags, environment, credentials

const src = () => `${R.anon.host}/base/busybox:v2s2`;
const dst = (n: string) => `${R.anon2.host}/${run}/${n}:1`;

const flagCases: [string, string[], Record<string, string>, number, string, RegExp][] = [
  ['--retries -1', ['copy', '--retries=-1', src(), dst('f1')], {}, 2, 'E_USAGE', /--retries must be a whole number from 0 to 20 \(got -1\)/],
  ['--retries 2.5', ['copy', '--retries', '2.5', src(), dst('f2')], {}, 2, 'E_USAGE', /--retries must be a whole number/],
  ['--retries 99', ['copy', '--retries', '99', src(), dst('f3')], {}, 2, 'E_USAGE', /from 0 to 20 \(got 99\)/],
  ['--jobs 0 on push', ['push', '--jobs', '0', '--from', src(), '--to', dst('f4'), '--app', '__APP__'], {}, 2, 'E_USAGE', /--jobs must be a whole number from 1 to 64/],
  ['--gzip-level 12', ['push', '--gzip-level', '12', '--from', src(), '--to', dst('f5'), '--app', '__APP__'], {}, 2, 'E_USAGE', /--gzip-level must be a whole number from 0 to 9 \(got 12\)/],
  ['--layer-upload bogus', ['push', '--layer-upload', 'bogus', '--from', src(), '--to', dst('f6'), '--app', '__APP__'], {}, 2, 'E_USAGE', /Invalid values: Argument: layer-upload, Given: "bogus", Choices: "patch", "put", "chunked"/],
  ['--platform without an arch', ['copy', '--platform', 'linux', src(), dst('f7')], {}, 2, 'E_USAGE', /invalid platform "linux": expected os\/arch/],
  ['--platform with unbalanced parentheses', ['copy', '--platform', 'windows(10.0.20348.1/amd64', src(), dst('f7b')], {}, 2, 'E_USAGE', /invalid platform "windows\(10\.0\.20348\.1\/amd64": unbalanced parentheses in "windows\(10\.0\.20348\.1"; expected os\/arch\[\/variant\] or os\(osversion\)\/arch/],
  ['--platform with an empty os version', ['push', '--platform', 'windows()/amd64', '--from', src(), '--to', dst('f7c'), '--app', '__APP__'], {}, 2, 'E_USAGE', /invalid platform "windows\(\)\/amd64": empty os version in "windows\(\)"/],
  ['REGPUSH_IDLE_TIMEOUT_MS=soon', ['copy', src(), dst('f8')], { REGPUSH_IDLE_TIMEOUT_MS: 'soon' }, 2, 'E_INPUT', /REGPUSH_IDLE_TIMEOUT_MS must be milliseconds/],
  ['SOURCE_DATE_EPOCH=yesterday', ['push', '--from', src(), '--to', dst('f9'), '--app', '__APP__'], { SOURCE_DATE_EPOCH: 'yesterday' }, 2, 'E_', /SOURCE_DATE_EPOCH must be/],
  ['--mtime -1', ['push', '--mtime=-1', '--from', src(), '--to', dst('f9b'), '--app', '__APP__'], {}, 2, 'E_USAGE', /--mtime must be a whole number of seconds from 0 to 8589934591 \(2242-03-16, the most a tar header holds\), got -1 /],
  ['--mtime 1.5', ['push', '--mtime', '1.5', '--from', src(), '--to', dst('f9c'), '--app', '__APP__'], {}, 2, 'E_USAGE', /--mtime must be a whole number of seconds .*, got 1\.5 /],
  ['SOURCE_DATE_EPOCH=yesterday with --mtime (checked all the same: it dates the config)', ['push', '--mtime', '0', '--from', src(), '--to', dst('f9d'), '--app', '__APP__'], { SOURCE_DATE_EPOCH: 'yesterday' }, 2, 'E_INPUT', /SOURCE_DATE_EPOCH must be/],
  ['copy to a digest', ['copy', src(), `${R.anon2.host}/${run}/f10@${'sha256:' + 'a'.repeat(64)}`], {}, 2, 'E_REFERENCE', /copy target must name a tag or a repository, not a digest/],
  ['copy without a target', ['copy', src()], {}, 2, 'E_USAGE', /at least one target/],
  ['--from-password without --from-user', ['copy', '--from-password', 'pw-without-user', src(), dst('f12')], {}, 2, 'E_USAGE', /--from-password was given without --from-user/],
  ['--to-user without a password', ['copy', '--to-user', 'alice', src(), dst('f13')], {}, 2, 'E_USAGE', /--to-user was given without --to-password/],
  ['--app with a relative destination', ['push', '--from', src(), '--to', dst('f14'), '--app', '__APP__:relative/dest'], {}, 2, 'E_USAGE', /destination "relative\/dest" must be an absolute path/],
  ['--app with an empty destination', ['push', '--from', src(), '--to', dst('f15'), '--app', '__APP__:'], {}, 2, 'E_USAGE', /empty destination after ":"/],
  ['--app that is a device', ['push', '--from', src(), '--to', dst('f16'), '--app', '/dev/null'], {}, 2, 'E_INPUT', /\/dev\/null: not a directory or regular file/],
  ['--volume relative', ['push', '--from', src(), '--to', dst('f17'), '--app', '__APP__', '--volume', 'data'], {}, 2, 'E_USAGE', /--volume must be an absolute path/],
  ['--user with two colons', ['push', '--from', src(), '--to', dst('f18'), '--app', '__APP__', '--user', 'a:b:c'], {}, 2, 'E_USAGE', /--user must be USER or USER:GROUP/],
  ['--user with a space, Linux image', ['push', '--from', src(), '--to', dst('f18b'), '--app', '__APP__', '--user', 'app user'], {}, 2, 'E_USAGE', /--user must be USER or USER:GROUP, without spaces \(got "app user"\)/],
  ['--workdir C:\\app, Linux image', ['push', '--from', src(), '--to', dst('f19'), '--app', '__APP__', '--workdir', 'C:\\app'], {}, 2, 'E_USAGE', /--workdir must be an absolute path \(got "C:\\app"\)/],
  ['--app DIR:C:\\app, Linux image', ['push', '--from', src(), '--to', dst('f20'), '--app', '__APP__:C:\\app'], {}, 2, 'E_USAGE', /destination "C:\\app" is a Windows path, and this layer goes into a Linux image \(for a Windows base, give --platform windows\/amd64\)/],
  ['--app DIR:D:\\app, Windows image', ['push', '--platform', 'windows/amd64', '--from', src(), '--to', dst('f21'), '--app', '__APP__:D:\\app'], {}, 2, 'E_USAGE', /destination "D:\\app" is on drive D:, and a Windows layer holds only the system drive \(C:\)/],
  ['--chown, Windows image', ['push', '--platform', 'windows/amd64', '--from', src(), '--to', dst('f22'), '--app', '__APP__', '--chown', '1000:1000'], {}, 2, 'E_USAGE', /--chown sets a Linux owner, and a Windows image has none/],
];
for (const [name, args, env, exit, code, pattern] of flagCases) {
  test(`flag: ${name} → ${code}`, async () => {
    const r = await runCli(args.map((a) => a.replace('__APP__', appDir)), { env });
    assert.equal(r.code, exit, r.stderr);
    const line = r.stderr.trim().split('\n').at(-1)!;
    assert.match(line, new RegExp(`\\[${code}[A-Z_]*\\]$`));
    assert.match(line, pattern);
    assert.equal(r.stdout, '');
    assert.ok(!r.stderr.includes('pw-without-user'), 'password not echoed');
  });
}

test('--password-stdin with empty standard input → E_USAGE', async () => {
  one(await runCli(['copy', '--password-stdin', '--to-user', 'alice', src(), dst('stdin')], { input: '' }), 2, 'E_USAGE', /--password-stdin: standard input was empty/);
});

test('a malformed docker config.json → E_AUTH naming the file, not a crash', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), '{"auths": {"127.0.0.1": {"auth": 42}}}');
  const r = await runCli(['inspect', `${R.basic.host}/base/busybox:v2s2`], { env: { DOCKER_CONFIG: dir } });
  one(r, 3, 'E_AUTH', /config\.json.*auth is not a string/);
});

// ---------------------------------------------------------------- a reader that closes early

/** Runs the CLI with its stdout read end closed at once (as `regpush … | true` does); exit code and stderr. */
function runWithClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DOCKER_CONFIG: tempDir('regpush-dockercfg-') } });
    child.stdout.destroy();
    const err: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr: Buffer.concat(err).toString('utf8') }));
  });
}

for (const [name, args] of [
  ['inspect REF', () => ['inspect', src()]],
  ['push --help', () => ['push', '--help']],
] as const) {
  test(`stdout closed by the reader (${name} | true) → exit 0, no EPIPE stack trace`, async () => {
    const r = await runWithClosedStdout(args());
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
  });
}
