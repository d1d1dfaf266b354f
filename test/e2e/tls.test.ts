// TLS per registry against real registries: CNCF distribution serving HTTPS with a CA made here by
// openssl (one registry with server TLS only, one that also requires client certificates through
// http.tls.clientcas), reached through certs.d directories, --ca-cert, --client-cert and
// --tls-verify REGISTRY=false; and the E_TLS / E_USAGE / E_INPUT lines when something is missing.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startExtraRegistry, type ExtraRegistry } from '../fixtures/extra-registry.js';
import { exec, imageRef, loadState, runCli, tempDir } from './harness.js';
import { assertOneErrorLine } from './fault-helpers.js';
import { copy, inspect, type RegpushError } from '../../src/index.js';

const state = loadState();
const source = imageRef(state.registries.anon, 'base/busybox:v2s2');
const sourceDigest = state.images.anon['base/busybox:v2s2'].digest;

const dir = tempDir('regpush-tls-');
const pki = join(dir, 'pki');
/** An empty certs.d root: what regpush reads when nothing is configured for the registry. */
const emptyRoot = join(dir, 'certs-empty');
const registries: ExtraRegistry[] = [];
const servers: { close(): void }[] = [];
let tlsHost = '';
let mtlsHost = '';
let wrongNameHost = '';

after(() => {
  for (const r of registries) void r.stop();
  for (const s of servers) s.close();
});

async function openssl(args: string[]): Promise<void> {
  const r = await exec('openssl', args);
  assert.equal(r.code, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A key and a certificate signed by the test CA, with the given subjectAltName and extended key usage. */
async function issue(name: string, san: string | undefined, usage: 'serverAuth' | 'clientAuth'): Promise<void> {
  await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`,
    '-keyout', join(pki, `${name}.key`), '-out', join(pki, `${name}.csr`)]);
  writeFileSync(join(pki, `${name}.ext`), `${san ? `subjectAltName=${san}\n` : ''}extendedKeyUsage=${usage}\n`);
  await openssl(['x509', '-req', '-in', join(pki, `${name}.csr`), '-CA', join(pki, 'ca.crt'), '-CAkey', join(pki, 'ca.key'),
    '-CAcreateserial', '-days', '2', '-extfile', join(pki, `${name}.ext`), '-out', join(pki, `${name}.crt`)]);
}

/** Starts `docker-registry serve` on HTTPS (with client certificates required when `clientCas`); resolves with host:port. */
async function startTlsRegistry(name: string, clientCas: boolean): Promise<string> {
  const reg = await startExtraRegistry(dir, name, `  tls:
    certificate: ${join(pki, 'server.crt')}
    key: ${join(pki, 'server.key')}
${clientCas ? `    clientcas:\n      - ${join(pki, 'ca.crt')}\n` : ''}`);
  registries.push(reg);
  return reg.host;
}

/** A certs.d root holding `files` (name → source path) for `host`. */
function certsRoot(name: string, host: string, files: Record<string, string>): string {
  const root = join(dir, name);
  mkdirSync(join(root, host), { recursive: true });
  for (const [to, from] of Object.entries(files)) copyFileSync(from, join(root, host, to));
  return root;
}


const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The env of a run: certs.d roots from REGPUSH_CERTS_DIRS (the empty one unless told), no global CA. */
const env = (...roots: string[]) => ({ REGPUSH_CERTS_DIRS: (roots.length ? roots : [emptyRoot]).join(':'), NODE_EXTRA_CA_CERTS: undefined });

async function digestOf(ref: string, args: string[], runEnv: Record<string, string | undefined>): Promise<string> {
  const r = await runCli(['inspect', '--json', ...args, ref], { env: runEnv });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).digest;
}

before(async () => {
  mkdirSync(pki, { recursive: true });
  mkdirSync(emptyRoot, { recursive: true });
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=regpush test CA',
    '-keyout', join(pki, 'ca.key'), '-out', join(pki, 'ca.crt')]);
  await issue('server', 'IP:127.0.0.1', 'serverAuth');
  await issue('wrongname', 'DNS:registry.elsewhere.test', 'serverAuth');
  await issue('client', undefined, 'clientAuth');
  [tlsHost, mtlsHost] = await Promise.all([startTlsRegistry('tls', false), startTlsRegistry('mtls', true)]);
  // A server whose certificate (from the same CA) is for another name.
  const s = https.createServer({ key: readFileSync(join(pki, 'wrongname.key')), cert: readFileSync(join(pki, 'wrongname.crt')) }, (_req, res) => res.end('{}'));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
  wrongNameHost = `127.0.0.1:${(s.address() as AddressInfo).port}`;
});

test('an unknown CA → E_TLS naming the registry, --ca-cert and the certs.d path that would be read', async () => {
  const r = await runCli(['copy', source, `${tlsHost}/app:unknown-ca`], { env: env() });
  assertOneErrorLine(r, 5, 'E_TLS', [new RegExp(`TLS failure talking to ${esc(tlsHost)}`), new RegExp(`--ca-cert ${esc(tlsHost)}=PATH`),
    new RegExp(esc(join(emptyRoot, tlsHost) + '/'))]);
});

test('--ca-cert REGISTRY=PATH trusts the CA for that registry: copy succeeds, same digest', async () => {
  const args = ['--ca-cert', `${tlsHost}=${join(pki, 'ca.crt')}`];
  const r = await runCli(['copy', ...args, source, `${tlsHost}/app:ca-flag`], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await digestOf(`${tlsHost}/app:ca-flag`, args, env()), sourceDigest);
});

test('--ca-cert with a relative path is read from the working directory', async () => {
  const r = await runCli(['inspect', '--ca-cert', `${tlsHost}=pki/ca.crt`, `${tlsHost}/app:ca-flag`], { env: env(), cwd: dir });
  assert.equal(r.code, 0, r.stderr);
});

test('library: env.NODE_EXTRA_CA_CERTS (relative, taken in cwd) trusts the CA for every registry: a copy to the TLS registry and an inspect of it succeed', async () => {
  // The library's env is not the environment Node started with: regpush trusts the file itself.
  const opts = { env: { NODE_EXTRA_CA_CERTS: 'pki/ca.crt' }, cwd: dir, tls: { certsDirs: [emptyRoot] }, retries: 0 };
  const copied = await copy({ ...opts, from: source, to: [`${tlsHost}/app:env-extra-ca`] });
  assert.equal(copied.digest, sourceDigest);
  assert.equal((await inspect(`${tlsHost}/app:env-extra-ca`, opts)).digest, sourceDigest);
  // Without it: E_TLS advising the variable; with another CA in it: E_TLS that does not advise it again.
  await assert.rejects(inspect(`${tlsHost}/app:env-extra-ca`, { ...opts, env: {} }), (e: RegpushError) => e.code === 'E_TLS' && e.message.includes('; NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry'));
  await assert.rejects(inspect(`${tlsHost}/app:env-extra-ca`, { ...opts, env: { NODE_EXTRA_CA_CERTS: 'pki/client.crt' } }), (e: RegpushError) => {
    assert.equal(e.code, 'E_TLS', e.message);
    assert.ok(e.message.endsWith(`; NODE_EXTRA_CA_CERTS (${join(pki, 'client.crt')}) is trusted already and did not verify it`), e.message);
    return true;
  });
});

test('a certs.d directory with the CA as *.crt is read: copy and inspect succeed', async () => {
  const root = certsRoot('certs-ca', tlsHost, { 'my-ca.crt': join(pki, 'ca.crt') });
  const r = await runCli(['copy', source, `${tlsHost}/app:certs-d`], { env: env(emptyRoot, root) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await digestOf(`${tlsHost}/app:certs-d`, [], env(root)), sourceDigest);
});

test('--tls-verify REGISTRY=false reaches the registry over HTTPS without verification, with a warning', async () => {
  const r = await runCli(['copy', '--tls-verify', `${tlsHost}=false`, source, `${tlsHost}/app:no-verify`], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`warning: TLS verification is off for ${esc(tlsHost)}`));
  const i = await runCli(['inspect', '--json', `--tls-verify=${tlsHost}=false`, `${tlsHost}/app:no-verify`], { env: env() });
  assert.equal(i.code, 0, i.stderr);
  assert.equal(JSON.parse(i.stdout).digest, sourceDigest);
  assert.equal(i.stderr.trim().split('\n').length, 1, `one warning line: ${i.stderr}`);
  // Only the named registry: another one keeps verification on.
  const other = await runCli(['inspect', '--tls-verify', '127.0.0.9:1=false', `${tlsHost}/app:no-verify`], { env: env() });
  assertOneErrorLine(other, 5, 'E_TLS', /--ca-cert/);
});

test('a certificate for another name → E_TLS that says so and names the names it carries, advising no CA (its CA is given and trusted)', async () => {
  const r = await runCli(['inspect', '--ca-cert', `${wrongNameHost}=${join(pki, 'ca.crt')}`, `${wrongNameHost}/a:1`], { env: env() });
  assertOneErrorLine(r, 5, 'E_TLS', [/ERR_TLS_CERT_ALTNAME_INVALID/, /does not name 127\.0\.0\.1: it names registry\.elsewhere\.test; /, /no CA setting changes that/]);
  // Before: "a private CA goes in --ca-cert HOST=PATH or <certs.d>/HOST/*.crt", for a CA already given.
  assert.doesNotMatch(r.stderr, /--ca-cert|\.crt|NODE_EXTRA_CA_CERTS/);
});

test('mutual TLS: certs.d client.cert + client.key are presented; without them E_TLS names --client-cert and the path', async () => {
  const caOnly = ['--ca-cert', `${mtlsHost}=${join(pki, 'ca.crt')}`];
  const without = await runCli(['copy', ...caOnly, source, `${mtlsHost}/app:mtls`], { env: env() });
  assertOneErrorLine(without, 5, 'E_TLS', [new RegExp(`TLS failure talking to ${esc(mtlsHost)}`), /client certificate/,
    new RegExp(`--client-cert ${esc(mtlsHost)}=CERT,KEY`), new RegExp(`client\\.cert and client\\.key in ${esc(join(emptyRoot, mtlsHost))}/`)]);

  const root = certsRoot('certs-mtls', mtlsHost, { 'ca.crt': join(pki, 'ca.crt'), 'client.cert': join(pki, 'client.crt'), 'client.key': join(pki, 'client.key') });
  const ok = await runCli(['copy', source, `${mtlsHost}/app:mtls`], { env: env(root) });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(await digestOf(`${mtlsHost}/app:mtls`, [], env(root)), sourceDigest);
});

test('certs.d roots: an empty folder for the host in the first root hides a later root\'s; a warning names the later one, and the hint the folder read, only it', async () => {
  // The audit's repro: REGPUSH_CERTS_DIRS=cdA:cdB, cdA/HOST empty, cdB/HOST/ca.crt (and the client pair).
  const first = join(dir, 'certs-first');
  mkdirSync(join(first, mtlsHost), { recursive: true });
  const later = certsRoot('certs-later', mtlsHost, { 'ca.crt': join(pki, 'ca.crt'), 'client.cert': join(pki, 'client.crt'), 'client.key': join(pki, 'client.key') });
  const r = await runCli(['inspect', '--retries', '0', `${mtlsHost}/app:mtls`], { env: env(first, later) });
  // Before: no word of cdB, and "… put the CA as a .crt file in cdA/HOST/ (or under cdB)", where it is already.
  assert.equal(r.code, 5, r.stderr);
  const [warning, error, ...rest] = r.stderr.trim().split('\n');
  assert.deepEqual(rest, [], r.stderr);
  assert.ok(warning!.startsWith(`warning: ${join(later, mtlsHost)}/ not read: ${join(first, mtlsHost)}/ is used for ${mtlsHost}`), r.stderr);
  assert.match(error!, new RegExp(`^regpush: error: TLS failure talking to ${esc(mtlsHost)}: .*; to trust its CA add --ca-cert ${esc(mtlsHost)}=PATH or put the CA as a \\.crt file in ${esc(join(first, mtlsHost))}/; NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry \\[E_TLS\\]$`));
});

test('a CA given that is not the registry\'s (--ca-cert, certs.d) → E_TLS that names it and says it did not verify the certificate', async () => {
  // Before: "…; to trust its CA add --ca-cert HOST=PATH or put the CA as a .crt file in <the folder it is in>…".
  const other = join(pki, 'client.crt');
  const flagged = await runCli(['inspect', '--ca-cert', `${tlsHost}=${other}`, `${tlsHost}/app:ca-flag`], { env: env() });
  assertOneErrorLine(flagged, 5, 'E_TLS', new RegExp(`; the CA given for ${esc(tlsHost)}, ${esc(other)} \\(--ca-cert\\), did not verify its certificate: it is not the CA that issued it, or ${esc(tlsHost)} does not send the intermediate certificates between them`));
  assert.doesNotMatch(flagged.stderr, /trust its CA add/);
  const root = certsRoot('certs-wrong-ca', tlsHost, { 'corp.crt': other });
  const inDir = await runCli(['inspect', `${tlsHost}/app:ca-flag`], { env: env(root) });
  assertOneErrorLine(inDir, 5, 'E_TLS', new RegExp(`; the CA given for ${esc(tlsHost)}, ${esc(join(root, tlsHost, 'corp.crt'))} \\(in ${esc(join(root, tlsHost))}/\\), did not verify its certificate`));
  assert.doesNotMatch(inDir.stderr, /trust its CA add/);
});

test('a client certificate the registry refuses (--client-cert) → E_TLS that names it as refused, not "add --client-cert"', async () => {
  // Self-signed: not from the CA the registry trusts for clients (http.tls.clientcas).
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=stranger',
    '-addext', 'extendedKeyUsage=clientAuth', '-keyout', join(pki, 'stranger.key'), '-out', join(pki, 'stranger.crt')]);
  const args = ['--ca-cert', `${mtlsHost}=${join(pki, 'ca.crt')}`, '--client-cert', `${mtlsHost}=${join(pki, 'stranger.crt')},${join(pki, 'stranger.key')}`];
  const r = await runCli(['inspect', '--retries', '0', ...args, `${mtlsHost}/app:mtls`], { env: env() });
  // Before: "…; HOST asks for a client certificate: add --client-cert HOST=CERT,KEY or put client.cert and client.key in …".
  assertOneErrorLine(r, 5, 'E_TLS', new RegExp(`; ${esc(mtlsHost)} refused the client certificate given, ${esc(join(pki, 'stranger.crt'))} \\(--client-cert\\): check that it is one ${esc(mtlsHost)} accepts`));
  assert.doesNotMatch(r.stderr, /asks for a client certificate/);
});

test('mutual TLS with --client-cert REGISTRY=CERT,KEY', async () => {
  const args = ['--ca-cert', `${mtlsHost}=${join(pki, 'ca.crt')}`, '--client-cert', `${mtlsHost}=${join(pki, 'client.crt')},${join(pki, 'client.key')}`];
  const r = await runCli(['copy', ...args, source, `${mtlsHost}/app:client-flag`], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await digestOf(`${mtlsHost}/app:client-flag`, args, env()), sourceDigest);
});

test('a certs.d client.cert without its client.key → E_INPUT naming the file', async () => {
  const root = certsRoot('certs-halfpair', mtlsHost, { 'ca.crt': join(pki, 'ca.crt'), 'client.cert': join(pki, 'client.crt') });
  const r = await runCli(['inspect', `${mtlsHost}/app:mtls`], { env: env(root) });
  assertOneErrorLine(r, 2, 'E_INPUT', new RegExp(`${esc(join(root, mtlsHost, 'client.cert'))} has no matching key client\\.key`));
  // --client-cert wins over the folder's pair (docs/connections.md): the broken pair is not read, one warning names it.
  const flagged = await runCli(['inspect', '--client-cert', `${mtlsHost}=${join(pki, 'client.crt')},${join(pki, 'client.key')}`, `${mtlsHost}/app:mtls`], { env: env(root) });
  assert.equal(flagged.code, 0, flagged.stderr);
  assert.match(flagged.stderr, new RegExp(`^warning: ${esc(join(root, mtlsHost, 'client.cert'))} has no matching key client\\.key .*; not used, as --client-cert gives the client certificate for ${esc(mtlsHost)}$`, 'm'));
});

test('client certificate problems are E_INPUT naming the file, before any connection: an encrypted key, a key of another certificate, a certificate that is not PEM', async () => {
  const ca = ['--ca-cert', `${mtlsHost}=${join(pki, 'ca.crt')}`];
  await openssl(['pkcs8', '-topk8', '-in', join(pki, 'client.key'), '-passout', 'pass:secret', '-out', join(pki, 'client-enc.key')]);
  await openssl(['x509', '-in', join(pki, 'client.crt'), '-outform', 'der', '-out', join(pki, 'client.der')]);
  const cases: [string, string, RegExp][] = [
    // Before: "cannot reach …: bad decrypt; check the network and proxy settings [E_NETWORK]".
    [join(pki, 'client.crt'), join(pki, 'client-enc.key'), new RegExp(`^regpush: error: ${esc(join(pki, 'client-enc.key'))} is encrypted; regpush needs an unencrypted PEM key \\(the client key for ${esc(mtlsHost)};`)],
    // Before: "key values mismatch …; to trust its CA add --ca-cert" (E_TLS).
    [join(pki, 'client.crt'), join(pki, 'server.key'), new RegExp(`${esc(join(pki, 'server.key'))} is not the key of ${esc(join(pki, 'client.crt'))} \\(the client certificate for ${esc(mtlsHost)}\\)`)],
    // Before: "no start line … [E_NETWORK]".
    [join(pki, 'client.der'), join(pki, 'client.key'), new RegExp(`${esc(join(pki, 'client.der'))} is not a PEM certificate`)],
  ];
  for (const [cert, key, message] of cases) {
    const r = await runCli(['inspect', ...ca, '--client-cert', `${mtlsHost}=${cert},${key}`, `${mtlsHost}/app:mtls`], { env: env() });
    assertOneErrorLine(r, 2, 'E_INPUT', message);
  }
});

test('a CA in DER (--ca-cert or certs.d *.crt) is trusted; a --ca-cert file holding no certificate → E_INPUT naming it', async () => {
  await openssl(['x509', '-in', join(pki, 'ca.crt'), '-outform', 'der', '-out', join(pki, 'ca.der')]);
  // Before: ignored without a word, then "unable to verify …; to trust its CA add --ca-cert" [E_TLS].
  assert.equal(await digestOf(`${tlsHost}/app:ca-flag`, ['--ca-cert', `${tlsHost}=${join(pki, 'ca.der')}`], env()), sourceDigest);
  const root = certsRoot('certs-der', tlsHost, { 'ca.crt': join(pki, 'ca.der') });
  assert.equal(await digestOf(`${tlsHost}/app:ca-flag`, [], env(root)), sourceDigest);
  const r = await runCli(['inspect', '--ca-cert', `${tlsHost}=${join(pki, 'ca.key')}`, `${tlsHost}/app:ca-flag`], { env: env() });
  assertOneErrorLine(r, 2, 'E_INPUT', new RegExp(`${esc(join(pki, 'ca.key'))} holds no certificate, neither PEM nor DER \\(the CA given for ${esc(tlsHost)}\\)`));
});

test('--insecure-registry on a registry that speaks TLS: digest and copy (a manifest HEAD first) say so, as inspect (a GET) does', async () => {
  const hint = new RegExp(`answered 400 \\(it speaks TLS, and was asked in plain HTTP: for a certificate this machine does not trust, use --ca-cert ${esc(tlsHost)}=PATH or --tls-verify ${esc(tlsHost)}=false instead of --insecure-registry\\)`);
  for (const args of [['digest', `${tlsHost}/app:ca-flag`], ['copy', source, `${tlsHost}/app:never`], ['inspect', `${tlsHost}/app:ca-flag`]]) {
    const r = await runCli([...args, '--insecure-registry', tlsHost], { env: env() });
    // Before: a bare "HEAD manifest …: … answered 400 [E_REGISTRY]" for digest and copy.
    assertOneErrorLine(r, 5, 'E_REGISTRY', hint);
  }
});

test('a --ca-cert file that does not exist → E_INPUT naming it', async () => {
  const r = await runCli(['inspect', '--ca-cert', `${tlsHost}=${join(dir, 'nope.crt')}`, `${tlsHost}/app:ca-flag`], { env: env() });
  assertOneErrorLine(r, 2, 'E_INPUT', new RegExp(`cannot read CA certificate ${esc(join(dir, 'nope.crt'))} \\(no such file; given with --ca-cert for ${esc(tlsHost)}\\)`));
});

test('--insecure and --tls-verify without a registry → E_USAGE naming the per-registry flags', async () => {
  for (const args of [['--insecure'], ['--tls-verify=false'], ['--tls-verify', 'false'], ['--no-tls-verify'], ['--insecure=true']]) {
    const r = await runCli(['copy', ...args, source, `${tlsHost}/app:never`], { env: env() });
    assertOneErrorLine(r, 2, 'E_USAGE', [/--tls-verify REGISTRY=false/, /--ca-cert REGISTRY=PATH/, /--client-cert REGISTRY=CERT,KEY/, /--insecure-registry REGISTRY/]);
  }
  const i = await runCli(['inspect', '--insecure', `${tlsHost}/app:never`], { env: env() });
  assertOneErrorLine(i, 2, 'E_USAGE', /--insecure would apply to every registry/);
});

test('bad per-registry TLS flag values → E_USAGE', async () => {
  const cases: [string[], RegExp][] = [
    [['--ca-cert', 'ca.crt'], /--ca-cert takes REGISTRY=PATH/],
    [['--ca-cert', `${tlsHost}=`], /--ca-cert takes REGISTRY=PATH/],
    [['--client-cert', `${tlsHost}=only.cert`], /--client-cert takes REGISTRY=CERT,KEY/],
    [['--tls-verify', `${tlsHost}=maybe`], /takes true or false/],
    [['--tls-verify', `${tlsHost}=false`, '--tls-verify', `${tlsHost}=true`], /both true and false/],
  ];
  for (const [args, msg] of cases) {
    const r = await runCli(['inspect', ...args, `${tlsHost}/app:never`], { env: env() });
    assertOneErrorLine(r, 2, 'E_USAGE', msg);
  }
});
