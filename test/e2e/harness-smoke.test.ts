// Proves the e2e harness: registries in every auth mode, token service, seeded images, skopeo,
// umoci and crun. Needs the registries running (npm test starts them).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  credsOf, fetchToken, imageRef, loadState, logMark, registryLogSince, runImage, runtimeUnavailable,
  skopeoCopyToLayout, skopeoInspect, umociUnpack, type SeedImage, type SeededRegistry,
} from './harness.js';

const state = loadState();
const { registries: R, tokenService: TS } = state;
const ACCEPT = [
  'application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

test('anon and anon2 answer /v2/ with 200', async () => {
  for (const reg of [R.anon, R.anon2]) assert.equal((await fetch(`${reg.url}/v2/`)).status, 200, reg.name);
});

test('basic answers /v2/ with 401 and a Basic challenge; alice and bob are accepted', async () => {
  const res = await fetch(`${R.basic.url}/v2/`);
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="regpush-basic"/);
  for (const [user, password] of Object.entries(state.users.basic)) {
    const ok = await fetch(`${R.basic.url}/v2/`, { headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
    assert.equal(ok.status, 200, user);
  }
  const bad = await fetch(`${R.basic.url}/v2/`, { headers: { authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` } });
  assert.equal(bad.status, 401);
});

test('token answers /v2/ with a Bearer challenge whose realm is on the token service port', async () => {
  const res = await fetch(`${R.token.url}/v2/`);
  assert.equal(res.status, 401);
  const challenge = res.headers.get('www-authenticate') ?? '';
  assert.equal(challenge, `Bearer realm="http://127.0.0.1:${state.portBase + 3}/token",service="${TS.service}"`);
  assert.notEqual(TS.port, R.token.port);
  const bad = await fetch(`${R.tokenbad.url}/v2/`);
  assert.match(bad.headers.get('www-authenticate') ?? '', /\/garbage-token"/);
});

test('a token fetched as alice is accepted for a manifest GET; anonymous and reader-push tokens are not', async () => {
  const repo = 'base/busybox';
  const mark = logMark('tokenService');
  const alice = await fetchToken({ scopes: [`repository:${repo}:pull`], creds: credsOf(R.token) });
  assert.equal(alice.status, 200);
  assert.ok(alice.token && alice.body.access_token === alice.token && alice.body.expires_in > 0 && alice.body.issued_at);
  const get = (token?: string) => fetch(`${R.token.url}/v2/${repo}/manifests/v2s2`, {
    headers: { accept: ACCEPT, ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  const ok = await get(alice.token);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('docker-content-digest'), state.images.token['base/busybox:v2s2'].digest);

  const anon = await fetchToken({ scopes: [`repository:${repo}:pull`] });
  assert.equal(anon.status, 200); // a token with no access…
  const denied = await get(anon.token);
  assert.equal(denied.status, 401); // …which the registry refuses
  assert.match(denied.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);

  const wrong = await fetchToken({ scopes: [`repository:${repo}:pull`], creds: { user: 'alice', password: 'wrong' } });
  assert.equal(wrong.status, 401);
  assert.equal(typeof wrong.body, 'object');

  const reader = await fetchToken({ scopes: [`repository:${repo}:pull,push`], creds: { user: 'reader', password: TS.users.reader! } });
  const push = await fetch(`${R.token.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${reader.token}` } });
  assert.equal(push.status, 401);

  const offline = await fetchToken({ scopes: [], creds: credsOf(R.token), offline: true });
  assert.ok(typeof offline.body.refresh_token === 'string');
  const refreshed = await fetch(TS.realm, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: offline.body.refresh_token, service: TS.service,
      client_id: 'regpush-e2e', scope: `repository:${repo}:pull` }),
  });
  assert.equal(refreshed.status, 200);
  const { access_token: viaRefresh } = (await refreshed.json()) as { access_token: string };
  assert.equal((await get(viaRefresh)).status, 200);

  const garbage = await fetch(TS.garbageRealm);
  assert.equal(garbage.status, 200);
  const garbageText = await garbage.text();
  assert.throws(() => JSON.parse(garbageText), SyntaxError);

  const log = readFileSync(TS.logFile, 'utf8').slice(mark);
  assert.ok(!log.includes(TS.users.alice!), 'token service log must not contain passwords');
  assert.ok(!log.includes(offline.body.refresh_token), 'token service log must not contain refresh tokens');
  assert.match(log, /"basicAuth":true/);
});

test('skopeo inspect works on every seeded image in every seeded registry, with the recorded digests', async () => {
  for (const name of ['anon', 'basic', 'token', 'anon2'] as SeededRegistry[]) {
    const reg = R[name];
    for (const [repoTag, seeded] of Object.entries(state.images[name]) as [SeedImage, typeof state.images.anon['base/busybox:oci']][]) {
      const ref = imageRef(reg, repoTag);
      const info = await skopeoInspect(ref, { creds: credsOf(reg) });
      assert.equal(info.json.Digest, seeded.digest, ref);
      if (repoTag !== 'base/schema1:1') {
        const raw = await skopeoInspect(ref, { creds: credsOf(reg), raw: true });
        assert.equal(raw.digest, seeded.digest, `${ref} raw`);
      }
    }
  }
  const v2s2 = state.images.anon['base/busybox:v2s2'];
  assert.ok(v2s2.layers!.length >= 3);
  assert.equal(v2s2.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  const cfg = await skopeoInspect(imageRef(R.anon, 'base/busybox:v2s2'), { config: true, raw: true });
  assert.equal(cfg.digest, v2s2.config);
  assert.deepEqual(cfg.json.config.Env, ['PATH=/bin']);
  assert.deepEqual(cfg.json.config.Cmd, ['/bin/sh']);
  const multi = state.images.anon['base/multi:oci'];
  assert.deepEqual(multi.manifests!.map((m) => `${m.platform!.os}/${m.platform!.architecture}`), ['linux/arm64', 'linux/amd64', 'unknown/unknown']);
  assert.equal(multi.manifests![2]!.annotations!['vnd.docker.reference.type'], 'attestation-manifest');
  const arm = await skopeoInspect(imageRef(R.anon, 'base/multi:oci'), { config: true, raw: true, arch: 'arm64' });
  assert.equal(arm.json.architecture, 'arm64');
  assert.ok(arm.json.config.Env.includes('ARCH_MARKER=arm64'));
  assert.equal(state.images.anon['base/multi:v2s2'].mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
});

test('a cross-repo mount shows up in the registry log with its 201', async () => {
  const layer = state.images.anon['base/busybox:v2s2'].layers![0]!;
  const mark = logMark('anon');
  const res = await fetch(`${R.anon.url}/v2/smoke/mount-${process.pid}/blobs/uploads/?mount=${layer}&from=base/busybox`, { method: 'POST' });
  assert.equal(res.status, 201);
  const reqs = await registryLogSince('anon', mark);
  assert.deepEqual(reqs.map((r) => [r.method, r.status]), [['POST', 201]]);
  assert.match(reqs[0]!.uri, /mount=sha256:[0-9a-f]{64}&from=base\/busybox/);
});

test('base/busybox:v2s2 unpacks and runs /bin/sh -c "echo hi" under crun', async (t) => {
  const layout = await skopeoCopyToLayout(imageRef(R.basic, 'base/busybox:v2s2'), credsOf(R.basic));
  const bundle = await umociUnpack(layout);
  assert.equal(readFileSync(join(bundle, 'rootfs', 'usr', 'share', 'seed', 'one.txt'), 'utf8'), 'seed file one\n');
  const why = await runtimeUnavailable();
  if (why) { t.skip(why); return; }
  const r = await runImage(bundle, { args: ['/bin/sh', '-c', 'echo hi; cat /usr/share/seed/two.txt'] });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hi\nseed file two\n');
  const exit3 = await runImage(bundle, { args: ['/bin/sh', '-c', 'exit 3'] });
  assert.equal(exit3.code, 3);
});
