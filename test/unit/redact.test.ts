// redactUrl: the signed query parameters of storage redirects (S3, Azure Blob, CloudFront, GCS)
// and userinfo never reach a log line or an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactTyped, redactUrl, SecretSet } from '../../src/redact.js';
import { proxyPasswords, redactProxyUrl } from '../../src/http/proxy-choice.js';
import { tlsOptionsFromFlags } from '../../src/cli/tls-flags.js';
import { loginTarget } from '../../src/login/login.js';
import { listRepositories } from '../../src/manage/manage.js';
import { parseReference } from '../../src/ref/reference.js';
import { mirrorsFromFlags } from '../../src/cli/mirror-flags.js';
import { checkMirrorMap, mirrorsFromDaemonJson, mirrorsFromRegistriesConf } from '../../src/registry/mirror-config.js';
import { checkProjectConfig } from '../../src/cli/project-config.js';

test('redactUrl hides userinfo and the signature parameters of every storage a registry redirects to', () => {
  const cases: [string, string][] = [
    ['https://u:p@reg.example/v2/', 'https://***@reg.example/v2/'],
    ['https://s3.example/b?X-Amz-Credential=AK%2F1&X-Amz-Signature=abc&x=1', 'https://s3.example/b?X-Amz-Credential=***&X-Amz-Signature=***&x=1'],
    ['https://acct.blob.core.windows.net/c?sv=2021&se=2026&sp=r&sig=abc', 'https://acct.blob.core.windows.net/c?sv=***&se=***&sp=***&sig=***'],
    ['https://d1.cloudfront.net/b?Expires=1&Signature=abc&Key-Pair-Id=K1', 'https://d1.cloudfront.net/b?Expires=***&Signature=***&Key-Pair-Id=***'],
    // Google Cloud Storage V4 signed URLs (Artifact Registry downloads).
    ['https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%40p.iam&X-Goog-Signature=abc123', 'https://storage.googleapis.com/b/o?X-Goog-Algorithm=***&X-Goog-Credential=***&X-Goog-Signature=***'],
    // Docker Hub's storage redirects (Cloudflare): an expiry and a signature.
    ['https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/4a/4abc/data?verify=1707288743-Cy4zDsyi3Ktt%3D', 'https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/4a/4abc/data?verify=***'],
    // Akamai token authentication: in the query as hdnts (or hdnea, __token__), an expiry, ACL and HMAC.
    ['https://cdn.example/blob?hdnts=exp%3D1~acl%3D%2F*~hmac%3DAKAMAISECRET&x-id=GetObject', 'https://cdn.example/blob?hdnts=***&x-id=GetObject'],
    ['https://cdn.example/blob?a=1&hdnea=exp=1~hmac=AKAMAISECRET', 'https://cdn.example/blob?a=1&hdnea=***'],
    ['https://cdn.example/blob?__token__=exp=1~hmac=AKAMAISECRET', 'https://cdn.example/blob?__token__=***'],
    // A proxy password typed with a bare '@': everything up to the last '@' of the authority goes.
    ['http://bob:p@ss@proxy.corp:3128', 'http://***@proxy.corp:3128'],
    ['http://bob:p@ss@proxy.corp:3128/x?y=a@b', 'http://***@proxy.corp:3128/x?y=a@b'],
    // An '@' after the authority is not userinfo.
    ['https://reg.example/v2/app/blobs/x?from=a@b', 'https://reg.example/v2/app/blobs/x?from=a@b'],
    ['https://reg.example?x=a@b', 'https://reg.example?x=a@b'],
  ];
  for (const [url, want] of cases) assert.equal(redactUrl(url), want, url);
});

test('redactTyped hides user:password typed without a scheme, and keeps a reference\'s tag and digest', () => {
  assert.equal(redactTyped('ci:hunter22@reg.example.com/app:1'), '***@reg.example.com/app:1');
  const digest = `sha256:${'a'.repeat(64)}`;
  for (const kept of [`alpine:3@${digest}`, `reg.example.com:5000/app:1@${digest}`, `app@${digest}`, 'reg.example.com:5000/app:1']) assert.equal(redactTyped(kept), kept);
});

test('a proxy password with a space, a slash or an @ is never printed: redactProxyUrl cuts to the last @, and the password is known to the SecretSet', () => {
  // The URL parser accepts a space in the password (the proxy gets my%20secret), so regpush uses that proxy.
  assert.equal(redactUrl('http://bob:my secret@proxy.corp:3128'), 'http://***@proxy.corp:3128');
  for (const [proxy, shown] of [
    ['http://bob:my secret@proxy.corp:3128', 'http://***@proxy.corp:3128'],
    ['http://bob:123/abc@proxy.corp:3128', 'http://***@proxy.corp:3128'],
    ['http://bob:a?b#c@d@proxy.corp:3128/', 'http://***@proxy.corp:3128/'],
    ['http://proxy.corp:3128', 'http://proxy.corp:3128'],
  ] as const) assert.equal(redactProxyUrl(proxy), shown, proxy);
  assert.deepEqual(proxyPasswords('http://bob:my%20secret@proxy.corp:3128'), ['my%20secret', 'my secret']);
  assert.deepEqual(proxyPasswords('http://bob:123/abc@proxy.corp:3128'), ['123/abc', '123/abc']);
  assert.deepEqual(proxyPasswords('http://bob:100%@proxy.corp:3128'), ['100%'], 'not decodable: as typed only');
  assert.deepEqual(proxyPasswords('http://bob@proxy.corp:3128'), []);
  assert.deepEqual(proxyPasswords('http://proxy.corp:3128'), []);
  assert.deepEqual(proxyPasswords(undefined), []);
  const secrets = new SecretSet();
  for (const p of proxyPasswords('http://bob:my%20secret@proxy.corp:3128')) secrets.add(p);
  assert.equal(secrets.scrub('proxy said: my secret / my%20secret'), 'proxy said: *** / ***');
});

test('a URL\'s userinfo typed where a reference, a registry or a mirror goes is not echoed in the error that refuses it', async () => {
  const pw = 'pw-typed-into-a-url';
  const refused = (what: string, fn: () => unknown) => {
    let message = '';
    try {
      fn();
    } catch (err) {
      message = (err as Error).message;
    }
    assert.ok(message.includes('***@'), `${what}: refused, userinfo shown as ***: ${message}`);
    assert.ok(!message.includes(pw), `${what} echoes the password: ${message}`);
  };
  refused('parseReference', () => parseReference(`http://ci:${pw}@127.0.0.1:5000/app:1`));
  refused('loginTarget', () => loginTarget(`https://ci:${pw}@reg.example.com`));
  refused('--ca-cert', () => tlsOptionsFromFlags({ 'ca-cert': `https://ci:${pw}@reg.example.com=ca.pem` }, {}, '/'));
  refused('--registry-mirror', () => mirrorsFromFlags([`docker.io=https://ci:${pw}@mirror.example.com`]));
  // Docker's registry-mirrors take a bare URL: typed here without REGISTRY=, it is refused, unechoed.
  refused('--registry-mirror without REGISTRY=', () => mirrorsFromFlags([`https://ci:${pw}@mirror.example.com`]));
  // A reference with user:password but no scheme.
  refused('parseReference without a scheme', () => parseReference(`ci:${pw}@reg.example.com/app:1`));
  const catalog = await listRepositories(`https://ci:${pw}@reg.example.com`).then(() => undefined, (err: Error) => err.message);
  assert.ok(catalog?.includes('***@') && !catalog.includes(pw), `listRepositories: ${catalog}`);
});

test('userinfo typed with a bare "/", "@" or no user (not a valid URL) is never echoed: references, registries, mirrors, with and without a scheme', async () => {
  const pw = 'pa/ss-x';
  // Each shape: the userinfo as typed (user:password, a password with a bare '/' or '@', no user), with and without a scheme.
  const shapes = [`ci:${pw}@`, `ci:p@${pw}@`, `:${pw}@`, `ci:${pw}?#@`];
  assert.equal(redactTyped(`https://ci:${pw}@reg.example/app:1`), 'https://***@reg.example/app:1');
  assert.equal(redactTyped(`ci:p@${pw}@reg.example/app:1`), '***@reg.example/app:1');
  assert.equal(redactTyped(`:${pw}@reg.example/app:1`), '***@reg.example/app:1');
  // A reference's digest keeps what precedes it; a password before it still goes.
  const digest = `sha256:${'a'.repeat(64)}`;
  assert.equal(redactTyped(`reg.example/app@${digest}`), `reg.example/app@${digest}`);
  assert.equal(redactTyped(`ci:${pw}@reg.example/app@${digest}`), `***@reg.example/app@${digest}`);
  for (const kept of ['reg.example.com:5000/app:1', 'user@reg.example/app', 'alpine']) assert.equal(redactTyped(kept), kept);
  const message = async (fn: () => unknown): Promise<string> => {
    try {
      await fn();
    } catch (err) {
      return (err as Error).message;
    }
    return assert.fail('it was refused');
  };
  for (const userinfo of shapes) {
    for (const scheme of ['https://', 'http://', '']) {
      const typed = `${scheme}${userinfo}`;
      const seen: [string, string][] = [
        ['parseReference', await message(() => parseReference(`${typed}reg.example.com/app:1`))],
        ['parseReference, a loopback registry', await message(() => parseReference(`${typed}127.0.0.1:5000/app:1`))],
        ['loginTarget', await message(() => loginTarget(`${typed}reg.example.com`))],
        ['--ca-cert', await message(() => tlsOptionsFromFlags({ 'ca-cert': `${typed}reg.example.com=ca.pem` }, {}, '/'))],
        ['--registry-mirror', await message(() => mirrorsFromFlags([`docker.io=${typed}mirror.example.com`]))],
        ['--registry-mirror without REGISTRY=', await message(() => mirrorsFromFlags([`${typed}mirror.example.com`]))],
        ['the mirrors option', await message(() => checkMirrorMap({ 'docker.io': [`${typed}mirror.example.com`] }))],
        ['daemon.json', await message(() => mirrorsFromDaemonJson(JSON.stringify({ 'registry-mirrors': [`${typed}mirror.example.com`] }), 'daemon.json'))],
        ['registries.conf', await message(() => mirrorsFromRegistriesConf(`[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\nlocation = "${typed}mirror.example.com"\n`, 'registries.conf'))],
        ['regpush.json mirrors', await message(() => checkProjectConfig({ mirrors: { 'docker.io': [`${typed}mirror.example.com`] } }, 'regpush.json', '/p'))],
        ['listRepositories', await message(() => listRepositories(`${typed}reg.example.com`))],
      ];
      for (const [where, line] of seen) {
        assert.ok(!line.includes(pw) && !line.includes('pa/ss'), `${where} echoes the password of ${typed}: ${line}`);
        assert.ok(line.includes('***@') || !line.includes('@'), `${where}: ${line}`);
      }
    }
  }
});
