// regpush inspect against real registries in every auth mode, checked against skopeo; and the
// bad inputs of the foundation issue, each a one-line error with its exit code.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, after } from 'node:test';
import { credsOf, exec, imageRef, loadState, pushRawBlob, runCli, skopeoInspect, tempDir, type SeededRegistry } from './harness.js';
import { assertValidOutput } from './report-schema.js';
import { assertOneErrorLine } from './fault-helpers.js';

const state = loadState();
const R = state.registries;
const modes: SeededRegistry[] = ['anon', 'basic', 'token'];
const credArgs = (name: SeededRegistry) => {
  const c = credsOf(R[name]);
  return c ? ['--user', c.user, '--password', c.password] : [];
};
const sha = (b: string | Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');


for (const mode of modes) {
  for (const image of ['base/busybox:v2s2', 'base/busybox:oci'] as const) {
    test(`inspect ${image} through ${mode} agrees with skopeo`, async () => {
      const ref = imageRef(R[mode], image);
      const r = await runCli(['inspect', '--json', ref, ...credArgs(mode)]);
      assert.equal(r.code, 0, r.stderr);
      const mine = JSON.parse(r.stdout);
      assertValidOutput('inspect', mine, `inspect --json ${image}`);
      const raw = await skopeoInspect(ref, { raw: true, creds: credsOf(R[mode]) });
      const summary = await skopeoInspect(ref, { creds: credsOf(R[mode]) });
      const cfg = await skopeoInspect(ref, { raw: true, config: true, creds: credsOf(R[mode]) });
      assert.equal(mine.digest, raw.digest);
      assert.equal(mine.digest, state.images[mode][image].digest);
      assert.equal(mine.mediaType, raw.json.mediaType ?? 'application/vnd.oci.image.manifest.v1+json');
      assert.deepEqual(mine.layers.map((l: { digest: string }) => l.digest), summary.json.Layers);
      assert.equal(mine.config.digest, cfg.digest);
      assert.deepEqual(mine.config.Env, summary.json.Env);
      assert.equal(mine.config.architecture, summary.json.Architecture);
      // --raw and --config print the exact bytes
      const rawOut = await runCli(['inspect', '--raw', ref, ...credArgs(mode)]);
      assert.equal(sha(rawOut.stdout), raw.digest);
      const cfgOut = await runCli(['inspect', '--config', ref, ...credArgs(mode)]);
      assert.equal(sha(cfgOut.stdout), cfg.digest);
    });
  }

  test(`inspect a multi-arch index through ${mode}: children, and --platform picks like skopeo`, async () => {
    for (const image of ['base/multi:oci', 'base/multi:v2s2'] as const) {
      const ref = imageRef(R[mode], image);
      const r = await runCli(['inspect', '--json', ref, ...credArgs(mode)]);
      assert.equal(r.code, 0, r.stderr);
      const mine = JSON.parse(r.stdout);
      assertValidOutput('inspect', mine, `inspect --json ${image}`);
      const raw = await skopeoInspect(ref, { raw: true, creds: credsOf(R[mode]) });
      assert.equal(mine.digest, raw.digest);
      assert.deepEqual(mine.manifests.map((m: { digest: string }) => m.digest), raw.json.manifests.map((m: { digest: string }) => m.digest));
      for (const arch of ['arm64', 'amd64']) {
        const p = await runCli(['inspect', '--json', '--platform', `linux/${arch}`, ref, ...credArgs(mode)]);
        assert.equal(p.code, 0, p.stderr);
        const pick = JSON.parse(p.stdout);
        assertValidOutput('inspect', pick, `inspect --json --platform linux/${arch} ${image}`);
        const sk = await skopeoInspect(ref, { arch, creds: credsOf(R[mode]) });
        assert.deepEqual(pick.layers.map((l: { digest: string }) => l.digest), sk.json.Layers, `${image} ${arch}`);
        assert.equal(pick.indexDigest, raw.digest);
        assert.ok(pick.config.Env.includes(`ARCH_MARKER=${arch}`));
      }
    }
  });
}

test('human output names digest, layers and config fields', async () => {
  const r = await runCli(['inspect', imageRef(R.anon, 'base/busybox:v2s2')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Digest: +${state.images.anon['base/busybox:v2s2'].digest}`));
  assert.match(r.stdout, /Layers:\n  sha256:/);
  assert.match(r.stdout, /Cmd: +\["\/bin\/sh"\]/);
  assert.match(r.stdout, /PATH=\/bin/);
});

// ---------------------------------------------------------------- bad input

for (const bad of ['Foo/bar:1', 'UPPER', 'a//b', 'repo:tag:extra', 'repo@sha256:123', ':tag', 'https://reg.example/x', 'x'.repeat(260), 'repo:' + 't'.repeat(129), '']) {
  test(`malformed reference ${JSON.stringify(bad.slice(0, 30))} → E_REFERENCE`, async () => {
    assertOneErrorLine(await runCli(['inspect', bad]), 2, 'E_REFERENCE', /invalid image reference|reference/);
  });
}

test('unknown repository and unknown tag → E_NOT_FOUND naming the registry', async () => {
  assertOneErrorLine(await runCli(['inspect', imageRef(R.anon, 'no/such-repo:1')]), 4, 'E_NOT_FOUND', new RegExp(`${R.anon.host}.*404`));
  assertOneErrorLine(await runCli(['inspect', imageRef(R.anon, 'base/busybox:no-such-tag')]), 4, 'E_NOT_FOUND', /MANIFEST_UNKNOWN/);
});

test('a registry that refuses the connection → E_NETWORK', async () => {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  assertOneErrorLine(await runCli(['inspect', `127.0.0.1:${port}/a:1`]), 5, 'E_NETWORK', /connection refused/);
});

test('an unknown host → E_NETWORK', async () => {
  assertOneErrorLine(await runCli(['inspect', '--retries', '0', 'no-such-host.invalid/a:1']), 5, 'E_NETWORK', /no-such-host\.invalid/);
});

test('wrong credentials → E_AUTH naming the registry, and the password never appears', async () => {
  for (const mode of ['basic', 'token'] as const) {
    const pw = `wrong-pw-${mode}-7731`;
    const r = await runCli(['inspect', '--debug', imageRef(R[mode], 'base/busybox:v2s2'), '--user', 'alice', '--password', pw]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr.trim().split('\n').at(-1)!, new RegExp(`${R[mode].host}.*\\[E_AUTH\\]$`));
    assert.ok(!r.stderr.includes(pw) && !r.stdout.includes(pw), 'password leaked');
    assert.ok(!r.stderr.includes(Buffer.from(`alice:${pw}`).toString('base64')), 'basic header leaked');
  }
});

test('no credentials for a token registry → E_AUTH', async () => {
  assertOneErrorLine(await runCli(['inspect', imageRef(R.token, 'base/busybox:v2s2')]), 3, 'E_AUTH', new RegExp(R.token.host));
});

test('inspect takes REGPUSH_USER/PASSWORD, else the REGPUSH_TO_* pair one pushed with, else REGPUSH_FROM_*', async () => {
  const ref = imageRef(R.basic, 'base/busybox:v2s2');
  const c = credsOf(R.basic)!;
  const want = state.images.basic['base/busybox:v2s2']!.digest;
  for (const env of [
    { REGPUSH_USER: c.user, REGPUSH_PASSWORD: c.password },
    { REGPUSH_TO_USER: c.user, REGPUSH_TO_PASSWORD: c.password },
    { REGPUSH_FROM_USER: c.user, REGPUSH_FROM_PASSWORD: c.password },
    // REGPUSH_USER wins over a wrong REGPUSH_TO_* pair.
    { REGPUSH_USER: c.user, REGPUSH_PASSWORD: c.password, REGPUSH_TO_USER: c.user, REGPUSH_TO_PASSWORD: 'wrong-1' },
  ]) {
    const r = await runCli(['inspect', '--json', ref], { env });
    assert.equal(r.code, 0, `${Object.keys(env).join(',')}: ${r.stderr}`);
    assert.equal(JSON.parse(r.stdout).digest, want);
  }
  // None set: the error lists every variable it looked at.
  const none = await runCli(['inspect', ref], { env: { REGPUSH_USER: undefined, REGPUSH_TO_USER: undefined, REGPUSH_FROM_USER: undefined } });
  assertOneErrorLine(none, 3, 'E_AUTH', /looked at REGPUSH_TOKEN, REGPUSH_IDENTITY_TOKEN, REGPUSH_USER\/REGPUSH_PASSWORD, REGPUSH_TO_TOKEN, REGPUSH_TO_IDENTITY_TOKEN, REGPUSH_TO_USER\/REGPUSH_TO_PASSWORD, REGPUSH_FROM_TOKEN, REGPUSH_FROM_IDENTITY_TOKEN, REGPUSH_FROM_USER\/REGPUSH_FROM_PASSWORD, Docker config\.json/);
  // A refused pair says where credentials were taken from (the variables, once), never the password.
  const bad = await runCli(['inspect', ref], { env: { REGPUSH_TO_USER: c.user, REGPUSH_TO_PASSWORD: 'wrong-pw-5521' } });
  assertOneErrorLine(bad, 3, 'E_AUTH', /rejected the credentials for user alice; check REGPUSH_TO_USER\/REGPUSH_TO_PASSWORD: /);
  assert.ok(!bad.stderr.includes('wrong-pw-5521'));
});

test('a token realm that answers garbage → E_PROTOCOL naming the realm', async () => {
  const r = await runCli(['inspect', imageRef(R.tokenbad, 'base/busybox:v2s2'), '--user', 'alice', '--password', R.token.password!]);
  assertOneErrorLine(r, 5, 'E_PROTOCOL', /127\.0\.0\.1/);
});

test('a schema 1 manifest → E_UNSUPPORTED', async () => {
  assertOneErrorLine(await runCli(['inspect', imageRef(R.anon, 'base/schema1:1')]), 6, 'E_UNSUPPORTED', /schema 1/);
});

test('a platform missing from the index → E_NOT_FOUND listing what is there', async () => {
  assertOneErrorLine(await runCli(['inspect', '--platform', 'linux/s390x', imageRef(R.anon, 'base/multi:oci')]), 4, 'E_NOT_FOUND', /linux\/amd64/);
});

test('--platform on a single image: the image when it matches, else E_NOT_FOUND naming its platform (as push and copy)', async () => {
  const ref = imageRef(R.anon, 'base/busybox:v2s2');
  const ok = await runCli(['inspect', '--json', '--platform', 'linux/amd64', ref]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).digest, state.images.anon['base/busybox:v2s2'].digest);
  assert.equal(JSON.parse(ok.stdout).kind, 'image');
  assertValidOutput('inspect', JSON.parse(ok.stdout));
  for (const args of [['--platform', 'linux/arm64'], ['--platform', 'linux/arm64', '--json'], ['--platform', 'linux/arm64', '--config']]) {
    assertOneErrorLine(await runCli(['inspect', ...args, ref]), 4, 'E_NOT_FOUND', /is a single linux\/amd64 image, not linux\/arm64/);
  }
});

/** An OCI manifest in `repo` of the anon registry whose config is `config` (of type `configType`); returns its tag reference and the config's digest. */
async function pushArtifact(repo: string, tag: string, config: Buffer, configType: string, artifactType?: string): Promise<{ ref: string; config: string; layer: string }> {
  const host = R.anon.host;
  const cfg = await pushRawBlob(host, repo, config);
  const layer = await pushRawBlob(host, repo, Buffer.from(`payload of ${tag}\n`));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...(artifactType ? { artifactType } : {}),
    config: { mediaType: configType, ...cfg },
    layers: [{ mediaType: 'text/plain', ...layer }],
  };
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: JSON.stringify(manifest), headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(res.status, 201, await res.text());
  return { ref: `${host}/${repo}:${tag}`, config: cfg.digest, layer: layer.digest };
}

const artifactRepo = `inspect/artifact-${process.pid.toString(36)}${Date.now().toString(36)}`;

test('an OCI artifact whose config is not an image config (not even JSON): its type, config and layers, no image fields', async () => {
  const configBytes = Buffer.from('an artifact config in no JSON at all\n');
  const a = await pushArtifact(artifactRepo, 'bin', configBytes, 'application/vnd.example.thing.config.v1', 'application/vnd.example.thing.v1');
  const j = await runCli(['inspect', '--json', a.ref]);
  assert.equal(j.code, 0, j.stderr);
  const mine = JSON.parse(j.stdout);
  assert.equal(mine.kind, 'artifact');
  assertValidOutput('inspect', mine, 'inspect --json of an artifact');
  assert.equal(mine.artifactType, 'application/vnd.example.thing.v1');
  assert.deepEqual(mine.config, { digest: a.config, mediaType: 'application/vnd.example.thing.config.v1', size: configBytes.length });
  assert.deepEqual(mine.layers.map((l: { digest: string }) => l.digest), [a.layer]);
  const text = await runCli(['inspect', a.ref]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^ArtifactType: +application\/vnd\.example\.thing\.v1$/m);
  assert.match(text.stdout, new RegExp(`^Config: +${a.config} \\(${configBytes.length} bytes, application/vnd\\.example\\.thing\\.config\\.v1\\)$`, 'm'));
  assert.match(text.stdout, new RegExp(`^  ${a.layer} +\\d+  text/plain$`, 'm'));
  assert.doesNotMatch(text.stdout, /^(Platform|Entrypoint|Cmd|Env):/m);
  // --config prints the exact bytes, whatever they are.
  const cfg = await runCli(['inspect', '--config', a.ref]);
  assert.equal(cfg.code, 0, cfg.stderr);
  assert.equal(cfg.stdout, configBytes.toString());
  // --platform asks for an image, which an artifact is not.
  assertOneErrorLine(await runCli(['inspect', '--platform', 'linux/amd64', a.ref]), 4, 'E_NOT_FOUND', /artifact \(application\/vnd\.example\.thing\.v1\), not a linux\/amd64 image/);
});

test('an artifact with the OCI empty config and no artifactType: its type is the config media type (as the referrers API says)', async () => {
  const a = await pushArtifact(artifactRepo, 'empty', Buffer.from('{}'), 'application/vnd.oci.empty.v1+json');
  const j = await runCli(['inspect', '--json', a.ref]);
  assert.equal(j.code, 0, j.stderr);
  const mine = JSON.parse(j.stdout);
  assert.equal(mine.artifactType, 'application/vnd.oci.empty.v1+json');
  assert.deepEqual(Object.keys(mine.config).sort(), ['digest', 'mediaType', 'size']);
  assertValidOutput('inspect', mine, 'inspect --json of an artifact with the empty config');
});

test('an image config that is JSON but no object (null, a list) → E_PROTOCOL naming it, not a crash', async () => {
  for (const [tag, body] of [['null', 'null'], ['list', '[1,2]']] as const) {
    const a = await pushArtifact(artifactRepo, tag, Buffer.from(body), 'application/vnd.oci.image.config.v1+json');
    for (const args of [[], ['--json']]) {
      assertOneErrorLine(await runCli(['inspect', ...args, a.ref]), 5, 'E_PROTOCOL', new RegExp(`config ${a.config} of .* is not a JSON object`));
    }
    // --config prints the bytes as they are (nothing to describe), --raw the manifest: both still work.
    const config = await runCli(['inspect', '--config', a.ref]);
    assert.equal(config.code, 0, config.stderr);
    assert.equal(config.stdout, body);
    assert.equal((await runCli(['inspect', '--raw', a.ref])).code, 0);
  }
});

test('an image config whose fields have the wrong type (Env a number, Labels a string…) → E_PROTOCOL naming the field, not a crash', async () => {
  for (const [tag, config, field] of [
    ['env', { os: 'linux', architecture: 'amd64', config: { Env: 5 } }, 'config.Env is not a list of strings'],
    ['labels', { os: 'linux', architecture: 'amd64', config: { Labels: 'x' } }, 'config.Labels is not an object of strings'],
    ['ports', { os: 'linux', architecture: 'amd64', config: { ExposedPorts: [80] } }, 'config.ExposedPorts is not an object'],
    ['os', { os: 7, architecture: 'amd64' }, 'os is not a string'],
  ] as const) {
    const a = await pushArtifact(artifactRepo, tag, Buffer.from(JSON.stringify(config)), 'application/vnd.oci.image.config.v1+json');
    for (const args of [[], ['--json'], ['--platform', 'linux/amd64']]) {
      assertOneErrorLine(await runCli(['inspect', ...args, a.ref]), 5, 'E_PROTOCOL', new RegExp(`config ${a.config} of .*: ${field.replace(/\./g, '\\.')} \\[`));
    }
    // What --raw and --config print are the bytes, which a field of the wrong type does not stop
    // (a debugging view: skopeo inspect --raw reads only the manifest).
    const raw = await runCli(['inspect', '--raw', a.ref]);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(JSON.parse(raw.stdout).config.digest, a.config);
    const cfg = await runCli(['inspect', '--config', a.ref]);
    assert.equal(cfg.code, 0, cfg.stderr);
    assert.deepEqual(JSON.parse(cfg.stdout), config);
    // With --platform on a single image only the platform's own fields are checked (it is taken from them).
    const picked = await runCli(['inspect', '--config', '--platform', 'linux/amd64', a.ref]);
    if (field.startsWith('os ')) assertOneErrorLine(picked, 5, 'E_PROTOCOL', /: os is not a string \[/);
    else assert.equal(picked.code, 0, picked.stderr);
  }
});

test('Entrypoint and Cmd written as one string (Docker reads it as a list of one) are shown as that list', async () => {
  const config = { os: 'linux', architecture: 'amd64', config: { Entrypoint: '/bin/app', Cmd: 'serve', Env: null } };
  const a = await pushArtifact(artifactRepo, 'strings', Buffer.from(JSON.stringify(config)), 'application/vnd.docker.container.image.v1+json');
  const j = await runCli(['inspect', '--json', a.ref]);
  assert.equal(j.code, 0, j.stderr);
  const mine = JSON.parse(j.stdout);
  assert.equal(mine.kind, 'image');
  assert.deepEqual([mine.config.Entrypoint, mine.config.Cmd, mine.config.Env], [['/bin/app'], ['serve'], null]);
  assertValidOutput('inspect', mine, 'inspect --json of a config with string Entrypoint and Cmd, null Env');
  const text = await runCli(['inspect', a.ref]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^Entrypoint: +\["\/bin\/app"\]$/m);
  assert.match(text.stdout, /^Cmd: +\["serve"\]$/m);
});

const servers: { close(): void }[] = [];
after(() => servers.forEach((s) => s.close()));

test('a manifest bigger than the cap → E_PROTOCOL, not a crash or a huge read', async () => {
  const s = http.createServer((req, res) => {
    if (req.url === '/v2/') return res.end('{}');
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    // 6 MiB streamed without a length: the cap must stop reading.
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let n = 0;
    const write = () => {
      while (n < 96) {
        n++;
        if (!res.write(chunk)) return res.once('drain', write);
      }
      res.end();
    };
    write();
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  assertOneErrorLine(await runCli(['inspect', `127.0.0.1:${port}/big:1`]), 5, 'E_PROTOCOL', /too large/);
});

test('an HTTPS registry with an unknown CA → E_TLS, and NODE_EXTRA_CA_CERTS fixes it', async () => {
  const dir = tempDir();
  const gen = await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
  assert.equal(gen.code, 0, gen.stderr);
  const s = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    if (req.url === '/v2/') return res.end('{}');
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const ref = `127.0.0.1:${(s.address() as AddressInfo).port}/a:1`;
  assertOneErrorLine(await runCli(['inspect', ref]), 5, 'E_TLS', /TLS failure.*NODE_EXTRA_CA_CERTS/);
  // Trusting the CA turns it into a normal answer from the registry.
  const trusted = await runCli(['inspect', ref], { env: { NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') } });
  assertOneErrorLine(trusted, 4, 'E_NOT_FOUND', /MANIFEST_UNKNOWN/);
});

test('a loopback TLS registry that answers plain HTTP the way Go does (400) is reached over TLS', async () => {
  // The scheme probe asks in plain HTTP first; a Go TLS server (distribution's) answers such a
  // request with 400 "Client sent an HTTP request to an HTTPS server". This port does the same
  // for plain requests and hands TLS hellos (first byte 0x16) to an HTTPS server.
  const dir = tempDir();
  const gen = await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
  assert.equal(gen.code, 0, gen.stderr);
  const seen: string[] = [];
  const tlsSide = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    seen.push(`tls ${req.method} ${req.url}`);
    if (req.url === '/v2/') return res.end('{}');
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
  });
  const port = net.createServer((sock) => {
    sock.once('data', (first: Buffer) => {
      sock.pause();
      if (first[0] === 0x16) {
        sock.unshift(first);
        tlsSide.emit('connection', sock);
      } else {
        seen.push(`plain ${first.toString('latin1').split(' ', 2).join(' ')}`);
        sock.end('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n');
      }
    });
  });
  servers.push(port, tlsSide);
  await new Promise<void>((r) => port.listen(0, '127.0.0.1', r));
  const ref = `127.0.0.1:${(port.address() as AddressInfo).port}/a:1`;
  const r = await runCli(['inspect', ref], { env: { NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') } });
  assertOneErrorLine(r, 4, 'E_NOT_FOUND', /MANIFEST_UNKNOWN/);
  assert.deepEqual(seen.filter((x) => x.startsWith('plain')), ['plain GET /v2/'], 'one plain probe, without credentials');
  assert.ok(seen.includes('tls GET /v2/a/manifests/1'), seen.join(', '));
});

test('a loopback port that answers plain HTTP the way a TLS server does (400) but resets the TLS attempt: an error, never a switch to plain HTTP', async () => {
  const seen: string[] = [];
  const port = net.createServer((sock) => {
    sock.once('data', (first: Buffer) => {
      if (first[0] === 0x16) {
        seen.push('tls hello');
        sock.resetAndDestroy(); // a transient reset, or a client certificate demanded and missing
        return;
      }
      seen.push(`plain ${first.toString('latin1').split(' ', 2).join(' ')}`);
      sock.end('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n');
    });
  });
  servers.push(port);
  await new Promise<void>((r) => port.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(port.address() as AddressInfo).port}`;
  const r = await runCli(['inspect', '--retries', '0', `${host}/a:1`]);
  assertOneErrorLine(r, 5, 'E_NETWORK', new RegExp(`^regpush: error: .*${host.replace(/\./g, '\\.')}`));
  assert.ok(seen.includes('tls hello'), seen.join(', '));
  assert.deepEqual(seen.filter((x) => x.startsWith('plain')), ['plain GET /v2/'], 'the probe only: no request sent in plain HTTP after it');
});

test('usage errors: unknown command and flags → E_USAGE exit 2', async () => {
  assertOneErrorLine(await runCli(['inspekt', 'x']), 2, 'E_USAGE', /did you mean inspect/i);
  assertOneErrorLine(await runCli(['push', '--form', 'a', '--to', 'b']), 2, 'E_USAGE', /did you mean --from/);
  assertOneErrorLine(await runCli(['inspect', '--nope', 'a:1']), 2, 'E_USAGE', /nope/);
  assertOneErrorLine(await runCli([]), 2, 'E_USAGE', /command/);
});
