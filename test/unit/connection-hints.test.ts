// The hints of a failed connection name what the caller uses to fix it: a library caller its
// connection options (`tls.caCerts: { "HOST": [PATH] }`, `tls.verifyOff`, `insecureRegistries`,
// `credentials`, `jobs`, `inspect(REF)`), the CLI its flags, word for word as it always has
// (`--ca-cert HOST=PATH`, `--tls-verify HOST=false`, `--insecure-registry HOST`, the user flags,
// `--jobs`). The hints are made in src/http/, below the operations: the names reach it through the
// transport each operation builds (transportFor, the `connectionNames` option the CLI passes), so
// each is run here both ways, and the TLS one through every operation that connects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  copy,
  deleteImage,
  digestOf,
  inspect,
  listRepositories,
  listTags,
  login,
  mirrorsFromRegistriesConf,
  parseShard,
  parseSyncFile,
  push,
  sync,
  tagImage,
  untagImage,
  type RegpushError,
} from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { localhostCert } from '../fixtures/localhost-cert.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { runMain, type MainResult } from '../fixtures/run-main.js';
import { EXIT_CODES, type ErrorCode } from '../../src/errors.js';

const fake = fakeRegistryPool();
const tempDir = tempDirs('regpush-connection-hints-');

/** What `call` rejects with (it must reject). */
async function rejection(call: Promise<unknown>): Promise<RegpushError> {
  return call.then(
    () => assert.fail('it succeeded'),
    (e: RegpushError) => e,
  );
}

/** A logger keeping the warnings it is given. */
function warnings(): { said: string[]; logger: { debug(): void; info(): void; warn(m: string): void } } {
  const said: string[] = [];
  return { said, logger: { debug() {}, info() {}, warn: (m: string) => void said.push(m) } };
}

/** The CLI's error line, without `regpush: error: `; the run exited with the code that line names. */
function errorLine(r: MainResult): string {
  const line = r.stderr
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('regpush: error: '));
  assert.ok(line, r.stderr);
  const code = /\[(E_[A-Z_]+)\]$/.exec(line)?.[1] as ErrorCode | undefined;
  assert.ok(code !== undefined && code in EXIT_CODES, `no error code at the end of: ${line}`);
  assert.equal(r.code, EXIT_CODES[code], r.stderr);
  return line.slice('regpush: error: '.length);
}

/** An option or flag of the CLI (`--ca-cert`), which no library message may name. */
const FLAG = /(^|[\s(`])--[a-z]/;

/** Every operation that connects, given the registry `host` to reach: the library call and the CLI's argv. */
function operations(host: string, dir: string): { name: string; lib: (o: Record<string, unknown>) => Promise<unknown>; argv: string[] }[] {
  const ref = `${host}/app:1`;
  const syncFile = join(dir, 'sync.yaml');
  writeFileSync(syncFile, ['images:', `  - { source: ${host}/app, tags: ['1'], targets: [${host}/mirror] }`, ''].join('\n'));
  return [
    { name: 'push', lib: (o) => push({ from: ref, to: `${host}/app:2`, ...o }), argv: ['push', '--from', ref, '--to', `${host}/app:2`] },
    { name: 'copy', lib: (o) => copy({ from: ref, to: [`${host}/app:2`], ...o }), argv: ['copy', ref, `${host}/app:2`] },
    { name: 'sync', lib: (o) => sync({ spec: parseSyncFile(readFileSync(syncFile, 'utf8'), 'sync.yaml'), ...o }), argv: ['sync', syncFile] },
    { name: 'inspect', lib: (o) => inspect(ref, o), argv: ['inspect', ref] },
    { name: 'listTags', lib: (o) => listTags(`${host}/app`, o), argv: ['tags', `${host}/app`] },
    { name: 'listRepositories', lib: (o) => listRepositories(host, o), argv: ['catalog', host] },
    { name: 'digestOf', lib: (o) => digestOf(ref, o), argv: ['digest', ref] },
    { name: 'tagImage', lib: (o) => tagImage(ref, ['2'], o), argv: ['tag', ref, '2'] },
    { name: 'untagImage', lib: (o) => untagImage(ref, o), argv: ['untag', ref] },
    { name: 'deleteImage', lib: (o) => deleteImage(ref, { ...o, force: true }), argv: ['delete', '--force', ref] },
    { name: 'login', lib: (o) => login({ registry: host, username: 'u', password: 'p', ...o }), argv: ['login', '-u', 'u', '-p', 'p', host] },
  ];
}

/** An HTTPS server on loopback with a self-signed certificate for localhost: `localhost:PORT`, or undefined (skipped) without openssl. */
async function untrustedTls(t: TestContext, extra: https.ServerOptions = {}): Promise<{ host: string; certFile: string } | undefined> {
  const cert = localhostCert(t);
  if (!cert) return undefined;
  const s = https.createServer({ key: cert.key, cert: cert.cert, ...extra }, (_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN"}]}'));
  s.on('tlsClientError', () => {});
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => s.close(() => r())));
  return { host: `localhost:${(s.address() as AddressInfo).port}`, certFile: cert.certFile };
}

/** Library options and CLI environment without stored logins or the machine's certs.d roots. */
function isolated(dir: string): { lib: Record<string, unknown>; env: Record<string, string> } {
  const env = { XDG_RUNTIME_DIR: join(dir, 'run'), DOCKER_CONFIG: dir };
  return { lib: { env, homeDir: dir, retries: 0, tls: { certsDirs: [] } }, env: { ...env, HOME: dir, REGPUSH_CERTS_DIRS: '' } };
}

test('an untrusted certificate, through every operation that connects: the library is told tls.caCerts, the CLI --ca-cert', async (t) => {
  const server = await untrustedTls(t);
  if (!server) return;
  const { host } = server;
  const dir = tempDir();
  const { lib, env } = isolated(dir);
  for (const op of operations(host, dir)) {
    const e = await rejection(op.lib(lib));
    assert.equal(e.code, 'E_TLS', `${op.name}: ${e.message}`);
    assert.ok(e.message.includes(`; to trust its CA add tls.caCerts: { "${host}": [PATH] }; NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry`), `${op.name}: ${e.message}`);
    assert.doesNotMatch(e.message, FLAG, op.name);
    const r = await runMain([...op.argv, '--retries', '0'], { env, cwd: dir });
    const line = errorLine(r);
    // The CLI reads the certs.d roots of its home too, and points at them.
    assert.ok(line.includes(`; to trust its CA add --ca-cert ${host}=PATH or put the CA as a .crt file in ${dir}/.config/containers/certs.d/${host}/`), `${op.name} (CLI): ${r.stderr}`);
    assert.ok(line.endsWith('; NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry [E_TLS]'), `${op.name} (CLI): ${r.stderr}`);
  }
});

test('env.NODE_EXTRA_CA_CERTS trusts its CA for every registry, a relative path taken in cwd (library and in-process CLI); when it does not help, the hint does not advise it again', async (t) => {
  const server = await untrustedTls(t);
  if (!server) return;
  const { host, certFile } = server;
  const dir = tempDir();
  writeFileSync(join(dir, 'ca.pem'), readFileSync(certFile));
  const { lib, env } = isolated(dir);
  // The server answers 404 NAME_UNKNOWN: E_NOT_FOUND means the handshake went through.
  const trusted = await rejection(inspect(`${host}/app:1`, { ...lib, env: { ...lib.env as object, NODE_EXTRA_CA_CERTS: 'ca.pem' }, cwd: dir }));
  assert.equal(trusted.code, 'E_NOT_FOUND', trusted.message);
  const r = await runMain(['inspect', '--retries', '0', `${host}/app:1`], { env: { ...env, NODE_EXTRA_CA_CERTS: 'ca.pem' }, cwd: dir });
  assert.equal(r.code, 4, r.stderr);
  // Another CA in it: E_TLS, and the hint says the variable did not help rather than advise it.
  const other = join(dir, 'other.pem');
  const cert = localhostCert(t)!;
  writeFileSync(other, cert.cert);
  const e = await rejection(inspect(`${host}/app:1`, { ...lib, env: { ...lib.env as object, NODE_EXTRA_CA_CERTS: other } }));
  assert.equal(e.code, 'E_TLS', e.message);
  assert.ok(e.message.endsWith(`; to trust its CA add tls.caCerts: { "${host}": [PATH] }; NODE_EXTRA_CA_CERTS (${other}) is trusted already and did not verify it`), e.message);
});

test('tls.nodeExtraCaCerts wins over another file in env.NODE_EXTRA_CA_CERTS: env\'s is not trusted (one warning says so), and the hint names the option\'s file', async (t) => {
  const server = await untrustedTls(t);
  if (!server) return;
  const { host, certFile } = server;
  const dir = tempDir();
  const started = join(dir, 'started.pem');
  writeFileSync(started, localhostCert(t)!.cert);
  const { lib } = isolated(dir);
  const w = warnings();
  // env's file is the server's CA: trusted, it would let the handshake through (E_NOT_FOUND). Was:
  // trusted for this host, which has no CA of its own, while a host with one got the option's file.
  const e = await rejection(inspect(`${host}/app:1`, { ...lib, logger: w.logger, env: { ...lib.env as object, NODE_EXTRA_CA_CERTS: certFile }, tls: { certsDirs: [], nodeExtraCaCerts: started } }));
  assert.equal(e.code, 'E_TLS', e.message);
  assert.ok(e.message.endsWith(`; NODE_EXTRA_CA_CERTS (${started}) is trusted already and did not verify it`), e.message);
  assert.deepEqual(w.said, [`env.NODE_EXTRA_CA_CERTS=${certFile} is not trusted: tls.nodeExtraCaCerts names ${started} as the NODE_EXTRA_CA_CERTS in effect, and wins over env`]);
  // The same file both ways: the process's, trusted by Node; nothing to warn of.
  const same = warnings();
  await rejection(inspect(`${host}/app:1`, { ...lib, logger: same.logger, env: { ...lib.env as object, NODE_EXTRA_CA_CERTS: started }, tls: { certsDirs: [], nodeExtraCaCerts: started } }));
  assert.deepEqual(same.said, []);
});

test('a NODE_EXTRA_CA_CERTS file the CLI cannot read (Node ignored it at start): one warning naming the variable and the file, and every run goes on, with --ca-cert or without', async (t) => {
  const server = await untrustedTls(t);
  if (!server) return;
  const { host, certFile } = server;
  const dir = tempDir();
  const { env } = isolated(dir);
  const missing = join(dir, 'gone.pem');
  const io = { startupExtraCaCerts: missing };
  const warning = `warning: NODE_EXTRA_CA_CERTS=${missing}: cannot read it (no such file); ignored, as Node ignores it: it adds no CA for any registry or proxy\n`;
  // The server answers 404 NAME_UNKNOWN: E_NOT_FOUND (exit 4) means the handshake went through.
  const withCa = await runMain(['inspect', '--retries', '0', '--ca-cert', `${host}=${certFile}`, `${host}/app:1`], { env: { ...env, NODE_EXTRA_CA_CERTS: missing }, cwd: dir, io });
  assert.equal(withCa.code, 4, withCa.stderr);
  assert.ok(withCa.stderr.includes(warning), withCa.stderr);
  const without = await runMain(['inspect', '--retries', '0', '--tls-verify', `${host}=false`, `${host}/app:1`], { env: { ...env, NODE_EXTRA_CA_CERTS: missing }, cwd: dir, io });
  assert.equal(without.code, 4, without.stderr);
  assert.ok(without.stderr.includes(warning), without.stderr);
  assert.equal(withCa.stderr.split(warning).length, 2, 'one warning');
  // A certificate failure's hint does not call that file trusted: it added nothing (was: "NODE_EXTRA_CA_CERTS
  // (…/gone.pem) is trusted already and did not verify it"); it says why, and setting the variable is still the advice.
  const failed = await runMain(['inspect', '--retries', '0', `${host}/app:1`], { env: { ...env, NODE_EXTRA_CA_CERTS: missing }, cwd: dir, io });
  assert.equal(failed.code, 5, failed.stderr);
  assert.ok(failed.stderr.includes(warning), failed.stderr);
  assert.ok(errorLine(failed).endsWith(`; NODE_EXTRA_CA_CERTS=${missing} adds no CA: cannot read it (no such file); NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry [E_TLS]`), failed.stderr);
  assert.doesNotMatch(failed.stderr, /is trusted already/);
});

test('a NODE_EXTRA_CA_CERTS file the CLI started with that can be read and holds no PEM certificate (Node added nothing from it): one warning, and a certificate failure\'s hint says it added no CA rather than call it trusted (CLI and library)', async (t) => {
  const server = await untrustedTls(t);
  if (!server) return;
  const { host, certFile } = server;
  const dir = tempDir();
  const { lib, env } = isolated(dir);
  const junk = join(dir, 'junk.pem');
  writeFileSync(junk, 'not a certificate\n');
  // DER: Node reads the variable's file as PEM only, so this CA is not trusted by Node either.
  const der = join(dir, 'ca.der');
  writeFileSync(der, new X509Certificate(readFileSync(certFile)).raw);
  for (const file of [junk, der]) {
    const io = { startupExtraCaCerts: file };
    const warning = `warning: NODE_EXTRA_CA_CERTS=${file}: it holds no PEM certificate; ignored, as Node ignores it: it adds no CA for any registry or proxy\n`;
    const failed = await runMain(['inspect', '--retries', '0', `${host}/app:1`], { env: { ...env, NODE_EXTRA_CA_CERTS: file }, cwd: dir, io });
    assert.equal(failed.code, 5, failed.stderr);
    assert.equal(failed.stderr.split(warning).length, 2, `one warning: ${failed.stderr}`);
    // Was: "NODE_EXTRA_CA_CERTS (…/junk.pem) is trusted already and did not verify it".
    assert.ok(errorLine(failed).endsWith(`; NODE_EXTRA_CA_CERTS=${file} adds no CA: it holds no PEM certificate; NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry [E_TLS]`), failed.stderr);
    assert.doesNotMatch(failed.stderr, /is trusted already/);
    // With the registry's own CA the run goes on (E_NOT_FOUND, exit 4: the handshake went through).
    const withCa = await runMain(['inspect', '--retries', '0', '--ca-cert', `${host}=${certFile}`, `${host}/app:1`], { env: { ...env, NODE_EXTRA_CA_CERTS: file }, cwd: dir, io });
    assert.equal(withCa.code, 4, withCa.stderr);
    // The library's tls.nodeExtraCaCerts, the same file: the same warning and hint, in the option's words.
    const w = warnings();
    const e = await rejection(inspect(`${host}/app:1`, { ...lib, logger: w.logger, tls: { certsDirs: [], nodeExtraCaCerts: file } }));
    assert.equal(e.code, 'E_TLS', e.message);
    assert.ok(e.message.endsWith(`; to trust its CA add tls.caCerts: { "${host}": [PATH] }; NODE_EXTRA_CA_CERTS=${file} adds no CA: it holds no PEM certificate; NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry`), e.message);
    assert.deepEqual(w.said, [`NODE_EXTRA_CA_CERTS=${file}: it holds no PEM certificate; ignored, as Node ignores it: it adds no CA for any registry or proxy`]);
  }
});

test('a library call\'s env.NODE_EXTRA_CA_CERTS that cannot be read, or holds no certificate: one warning, as the CLI gives for its own, and verification goes on with the other roots (was E_INPUT for every registry)', async (t) => {
  const server = await untrustedTls(t);
  if (!server) return;
  const { host, certFile } = server;
  const dir = tempDir();
  const { lib } = isolated(dir);
  writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
  for (const [file, why] of [[join(dir, 'gone.pem'), 'cannot read it (no such file)'], [join(dir, 'junk.pem'), 'it holds no certificate, neither PEM nor DER']] as const) {
    const env = { ...(lib.env as object), NODE_EXTRA_CA_CERTS: file };
    const w = warnings();
    // The CA given for the registry still verifies it: E_NOT_FOUND (the server's 404) means the handshake went through.
    const e = await rejection(inspect(`${host}/app:1`, { ...lib, env, logger: w.logger, tls: { certsDirs: [], caCerts: { [host]: [certFile] } } }));
    assert.equal(e.code, 'E_NOT_FOUND', e.message);
    assert.deepEqual(w.said, [`NODE_EXTRA_CA_CERTS=${file}: ${why}; ignored, as Node ignores it: it adds no CA for any registry or proxy`]);
    // Without one, the certificate is not trusted, and the hint does not say the variable was.
    const untrusted = await rejection(inspect(`${host}/app:1`, { ...lib, env }));
    assert.equal(untrusted.code, 'E_TLS', untrusted.message);
    assert.ok(untrusted.message.endsWith(`; NODE_EXTRA_CA_CERTS=${file} adds no CA: ${why}; NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry`), untrusted.message);
  }
});

test('a certificate made out to other names: the hint lists the names it carries and advises no CA (library and CLI)', async (t) => {
  const server = await untrustedTls(t);
  if (!server) return;
  const { host, certFile } = server;
  // The same server reached by its address: its CA given and trusted, its certificate for localhost only.
  const byAddress = host.replace(/^localhost:/, '127.0.0.1:');
  const dir = tempDir();
  const { lib, env } = isolated(dir);
  const e = await rejection(inspect(`${byAddress}/app:1`, { ...lib, tls: { certsDirs: [], caCerts: { [byAddress]: [certFile] } } }));
  assert.equal(e.code, 'E_TLS', e.message);
  const said = `the certificate of ${byAddress} does not name 127.0.0.1: it names localhost; reach the registry by a name its certificate carries, or have the certificate reissued to name 127.0.0.1; no CA setting changes that`;
  assert.ok(e.message.includes(`(ERR_TLS_CERT_ALTNAME_INVALID); ${said} (tls.verifyOff: ["${byAddress}"] skips the check: not recommended)`), e.message);
  assert.doesNotMatch(e.message, /tls\.caCerts|\.crt|NODE_EXTRA_CA_CERTS/);
  const r = await runMain(['inspect', '--retries', '0', '--ca-cert', `${byAddress}=${certFile}`, `${byAddress}/app:1`], { env, cwd: dir });
  const line = errorLine(r);
  assert.ok(line.endsWith(`; ${said} (--tls-verify ${byAddress}=false skips the check: not recommended) [E_TLS]`), r.stderr);
  assert.doesNotMatch(line, /--ca-cert|\.crt|NODE_EXTRA_CA_CERTS/);
});

test('verification off: the warning names tls.verifyOff to the library, --tls-verify HOST=false to the CLI', async (t) => {
  const server = await untrustedTls(t);
  if (!server) return;
  const { host } = server;
  const dir = tempDir();
  const { lib, env } = isolated(dir);
  const w = warnings();
  const e = await rejection(inspect(`${host}/app:1`, { ...lib, tls: { certsDirs: [], verifyOff: [host] }, logger: w.logger }));
  assert.equal(e.code, 'E_NOT_FOUND', e.message);
  assert.deepEqual(w.said, [`TLS verification is off for ${host} (tls.verifyOff): the connection is encrypted, but the server is not authenticated`]);
  const r = await runMain(['inspect', '--tls-verify', `${host}=false`, `${host}/app:1`], { env, cwd: dir });
  assert.equal(r.code, 4, r.stderr);
  assert.ok(r.stderr.includes(`warning: TLS verification is off for ${host} (--tls-verify ${host}=false): the connection is encrypted, but the server is not authenticated\n`), r.stderr);
});

test('a server that wants a client certificate: the library is told tls.clientCerts, the CLI --client-cert', async (t) => {
  const cert = localhostCert(t);
  if (!cert) return;
  const server = await untrustedTls(t, { requestCert: true, rejectUnauthorized: true, ca: [cert.cert] });
  if (!server) return;
  const { host, certFile } = server;
  const dir = tempDir();
  const { lib, env } = isolated(dir);
  const e = await rejection(inspect(`${host}/app:1`, { ...lib, tls: { certsDirs: [], caCerts: { [host]: [certFile] } } }));
  assert.equal(e.code, 'E_TLS', e.message);
  assert.ok(e.message.endsWith(`; ${host} asks for a client certificate: add tls.clientCerts: { "${host}": { cert: CERT, key: KEY } }`), e.message);
  assert.doesNotMatch(e.message, FLAG);
  const r = await runMain(['inspect', '--retries', '0', '--ca-cert', `${host}=${certFile}`, `${host}/app:1`], { env, cwd: dir });
  const line = errorLine(r);
  assert.ok(line.includes(`; ${host} asks for a client certificate: add --client-cert ${host}=CERT,KEY or put client.cert and client.key in ${dir}/.config/containers/certs.d/${host}/`), r.stderr);
  assert.ok(line.endsWith(' [E_TLS]'), r.stderr);
});

/** This machine's first IPv4 address that is not loopback (a host regpush asks over TLS first), or undefined. */
function ownAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

test('a plain-HTTP registry asked over TLS: the library is told insecureRegistries, the CLI --insecure-registry', async (t) => {
  const ip = ownAddress();
  if (!ip) return t.skip('no non-loopback IPv4 address');
  const s = http.createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((r) => s.listen(0, ip, r));
  t.after(() => new Promise<void>((r) => s.close(() => r())));
  const host = `${ip}:${(s.address() as AddressInfo).port}`;
  const dir = tempDir();
  const { lib, env } = isolated(dir);
  const e = await rejection(inspect(`${host}/app:1`, lib));
  assert.equal(e.code, 'E_TLS', e.message);
  // Before: "…: write EPROTO 80AC…:error:0A00010B:SSL routines:ssl3_get_record:wrong version
  // number:../deps/openssl/…; to trust its CA add tls.caCerts…; if HOST serves plain HTTP, add …".
  assert.match(e.message, new RegExp(`^TLS failure talking to ${host.replace(/\./g, '\\.')}: it answered in plain HTTP, not TLS \\(wrong version number, (EPROTO|ERR_SSL_WRONG_VERSION_NUMBER)\\); if ${host.replace(/\./g, '\\.')} serves plain HTTP, add insecureRegistries: \\["${host.replace(/\./g, '\\.')}"\\]$`), e.message);
  assert.doesNotMatch(e.message, /trust its CA|ssl3_get_record|openssl/, e.message);
  assert.doesNotMatch(e.message, FLAG);
  const r = await runMain(['inspect', '--retries', '0', `${host}/app:1`], { env, cwd: dir });
  const line = errorLine(r);
  assert.ok(line.startsWith(`TLS failure talking to ${host}: it answered in plain HTTP, not TLS (wrong version number, `), r.stderr);
  assert.doesNotMatch(line, /trust its CA|ssl3_get_record|openssl/, r.stderr);
  assert.ok(line.endsWith(`; if ${host} serves plain HTTP, add --insecure-registry ${host} [E_TLS]`), r.stderr);
});

test('a CA given that does not verify the certificate (--ca-cert, certs.d): the hint names it and says so, not to add one', async (t) => {
  const server = await untrustedTls(t);
  if (!server) return;
  const { host } = server;
  const dir = tempDir();
  const { lib, env } = isolated(dir);
  const other = join(dir, 'other.crt');
  writeFileSync(other, localhostCert(t)!.cert);
  const said = (where: string) => `; the CA given for ${host}, ${where}, did not verify its certificate: it is not the CA that issued it, or ${host} does not send the intermediate certificates between them (then add those to the CA file)`;
  // Before: "; to trust its CA add tls.caCerts: { HOST: [PATH] } …", the very setting given.
  const e = await rejection(inspect(`${host}/app:1`, { ...lib, tls: { certsDirs: [], caCerts: { [host]: [other] } } }));
  assert.equal(e.code, 'E_TLS', e.message);
  assert.ok(e.message.endsWith(said(`${other} (tls.caCerts)`)), e.message);
  const r = await runMain(['inspect', '--retries', '0', '--ca-cert', `${host}=${other}`, `${host}/app:1`], { env, cwd: dir });
  assert.ok(errorLine(r).endsWith(`${said(`${other} (--ca-cert)`)} [E_TLS]`), r.stderr);
  assert.doesNotMatch(r.stderr, /trust its CA add/, r.stderr);
  // The same CA in the user's certs.d folder for the host.
  const certsD = join(dir, '.config/containers/certs.d', host);
  mkdirSync(certsD, { recursive: true });
  writeFileSync(join(certsD, 'corp.crt'), readFileSync(other));
  const r2 = await runMain(['inspect', '--retries', '0', `${host}/app:1`], { env: { ...env, REGPUSH_CERTS_DIRS: join(dir, '.config/containers/certs.d') }, cwd: dir });
  assert.ok(errorLine(r2).endsWith(`${said(`${join(certsD, 'corp.crt')} (in ${certsD}/)`)} [E_TLS]`), r2.stderr);
});

/** `regpush ARGV` against fake registries reached over plain HTTP, no stored logins. */
function cliAgainst(argv: string[], regs: FakeRegistry[], cwd = tempDir(), more: Record<string, string> = {}): Promise<MainResult> {
  const lib = fakeLibraryOptions(...regs);
  return runMain(argv, { env: { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(','), ...more }, cwd });
}

/** What the CLI's 401 hint says after "check the credentials for HOST: ": `regpush login` and the user flags and env vars of the command at hand only. */
const CLI_CREDENTIALS: Record<string, (host: string) => string> = {
  push: (h) => `\`regpush login ${h}\`, --from-user/--from-password for the base image, --to-user with --password-stdin for the target, or the REGPUSH_FROM_*/REGPUSH_TO_* env vars`,
  copy: (h) => `\`regpush login ${h}\`, --from-user/--from-password for the source, --to-user with --password-stdin for the targets, or the REGPUSH_FROM_*/REGPUSH_TO_* env vars`,
  sync: (h) => `\`regpush login ${h}\`, or the REGPUSH_FROM_* (sources) and REGPUSH_TO_* (targets) env vars`,
  inspect: (h) => `\`regpush login ${h}\`, --user with --password-stdin, or the REGPUSH_* env vars`,
  listTags: (h) => `\`regpush login ${h}\`, --user with --password-stdin, or the REGPUSH_FROM_* env vars`,
  listRepositories: (h) => `\`regpush login ${h}\`, --user with --password-stdin, or the REGPUSH_FROM_* env vars`,
  digestOf: (h) => `\`regpush login ${h}\`, --user with --password-stdin, or the REGPUSH_FROM_* env vars`,
  tagImage: (h) => `\`regpush login ${h}\`, --user with --password-stdin, or the REGPUSH_TO_* env vars`,
  untagImage: (h) => `\`regpush login ${h}\`, --user with --password-stdin, or the REGPUSH_TO_* env vars`,
  deleteImage: (h) => `\`regpush login ${h}\`, --user with --password-stdin, or the REGPUSH_TO_* env vars`,
};

test('a 401, through every operation that sends credentials: the library is told login(), credentials and env, the CLI its login command and the user flags of the command at hand', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  reg.fault({ kind: ['manifest', 'tags', 'catalog'] }, { kind: 'status', status: 401, code: 'UNAUTHORIZED' });
  const dir = tempDir();
  const lib = { ...fakeLibraryOptions(reg), retries: 0 };
  // login() words its own refusal ("the registry refused user …"), without this hint.
  for (const op of operations(reg.host, dir).filter((o) => o.name !== 'login')) {
    const e = await rejection(op.lib(lib));
    assert.equal(e.code, 'E_AUTH', `${op.name}: ${e.message}`);
    // listRepositories adds what the catalog needs after it.
    assert.ok(
      e.message.includes(
        `(check the credentials for ${reg.host}: store a login with login({ registry: "${reg.host}", … }), give the credentials option (credentials.registries["${reg.host}"] for this registry, credentials.from for what is read, credentials.to for what is written), or set the REGPUSH_* variables in env)`,
      ),
      `${op.name}: ${e.message}`,
    );
    assert.doesNotMatch(e.message, FLAG, op.name);
    const r = await cliAgainst([...op.argv, '--retries', '0'], [reg], dir);
    const line = errorLine(r);
    assert.ok(line.endsWith(' [E_AUTH]'), `${op.name} (CLI): ${r.stderr}`);
    assert.ok(line.includes(`(check the credentials for ${reg.host}: ${CLI_CREDENTIALS[op.name]!(reg.host)})`), `${op.name} (CLI): ${r.stderr}`);
    // No other command's user flag: inspect has no --from-user, copy no --user.
    const userFlags = (text: string) => [...new Set(text.match(/--(from-|to-)?user\b/g))];
    assert.deepEqual(userFlags(line), userFlags(CLI_CREDENTIALS[op.name]!(reg.host)), `${op.name} (CLI): ${line}`);
  }
});

test('a refusal of the credentials (none for a Basic registry, anonymous access refused by a token registry, a wrong password at either): the library is told login(), credentials and env, the CLI `regpush login`; credentials given in options, flags or REGPUSH_* variables are named instead, as no login could change them', async () => {
  const basic = await fake({ auth: { scheme: 'basic', user: 'u', password: 'right' } });
  const bearer = await fake({ auth: { scheme: 'bearer', user: 'u', password: 'right' } });
  for (const reg of [basic, bearer]) reg.seedImage('app', { tags: ['1'] });
  const wrong = { username: 'u', password: 'wrong' };
  const looked = 'REGPUSH_TOKEN, REGPUSH_IDENTITY_TOKEN, REGPUSH_USER/REGPUSH_PASSWORD, REGPUSH_TO_TOKEN, REGPUSH_TO_IDENTITY_TOKEN, REGPUSH_TO_USER/REGPUSH_TO_PASSWORD, REGPUSH_FROM_TOKEN, REGPUSH_FROM_IDENTITY_TOKEN, REGPUSH_FROM_USER/REGPUSH_FROM_PASSWORD, Docker config.json, containers auth.json';
  const cases = [
    { reg: basic, cred: undefined, said: (h: string) => `authentication to ${h} failed: it requires a username and password and none were found (looked at ${looked})` },
    {
      reg: bearer,
      cred: undefined,
      said: (h: string) => `authentication to ${h} failed: the registry rejected anonymous access (no credentials were found) for repository:app:pull (the repository may not exist, or access is not granted) (looked at ${looked})`,
    },
    { reg: basic, cred: wrong, said: (h: string) => `authentication to ${h} failed: the registry rejected the credentials for user u` },
    { reg: bearer, cred: wrong, said: (h: string) => `authentication to ${h} failed: ${h} rejected the credentials for user u` },
  ];
  for (const { reg, cred, said } of cases) {
    const h = reg.host;
    const e = await rejection(inspect(reg.ref('app:1'), { ...fakeLibraryOptions(reg), retries: 0, ...(cred ? { credentials: { from: cred } } : {}) }));
    assert.equal(e.code, 'E_AUTH', e.message);
    // Credentials given (options, flags, REGPUSH_* variables) win over any stored login: the hint
    // says to check them, not to log in (before: "check the credentials or run `regpush login H`").
    const given = (where: string) => `check ${where}: credentials given there are used instead of any stored login, so logging in would not change this`;
    assert.equal(
      e.message,
      `${said(h)}; ${cred ? given('credentials.from') : `check the credentials for ${h}: store a login with login({ registry: "${h}", … }), give the credentials option (credentials.registries["${h}"] for this registry, credentials.from for what is read, credentials.to for what is written), or set the REGPUSH_* variables in env`}`,
    );
    assert.doesNotMatch(e.message, FLAG);
    const r = await cliAgainst(['inspect', '--retries', '0', ...(cred ? ['--user', cred.username, '--password', cred.password] : []), reg.ref('app:1')], [reg]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(errorLine(r), `${said(h)}; ${cred ? given('--user/--password (or --password-stdin)') : `check the credentials or run \`regpush login ${h}\``} [E_AUTH]`);
    if (!cred) continue;
    // The same credentials in REGPUSH_TO_* variables: those are named.
    const vars = { REGPUSH_TO_USER: cred.username, REGPUSH_TO_PASSWORD: cred.password };
    // The advice names the variables the credentials came from: the error lists no other source.
    const saidEnv = said(h);
    const fromEnv = await rejection(inspect(reg.ref('app:1'), { ...fakeLibraryOptions(reg), retries: 0, env: { ...fakeLibraryOptions(reg).env, ...vars } }));
    assert.equal(fromEnv.code, 'E_AUTH', fromEnv.message);
    assert.equal(fromEnv.message, `${saidEnv}; ${given('REGPUSH_TO_USER/REGPUSH_TO_PASSWORD')}`);
    const r2 = await cliAgainst(['inspect', '--retries', '0', reg.ref('app:1')], [reg], undefined, vars);
    assert.equal(errorLine(r2), `${saidEnv}; ${given('REGPUSH_TO_USER/REGPUSH_TO_PASSWORD')} [E_AUTH]`);
    assert.doesNotMatch(r2.stderr, /regpush login/);
  }
  // The library's env: {} without homeDir reads no credential file, and the message says so.
  const e = await rejection(inspect(basic.ref('app:1'), { env: {}, insecureRegistries: [basic.host], retries: 0 }));
  assert.equal(e.code, 'E_AUTH', e.message);
  assert.ok(
    e.message.startsWith(
      `authentication to ${basic.host} failed: it requires a username and password and none were found (looked at REGPUSH_TOKEN, REGPUSH_IDENTITY_TOKEN, REGPUSH_USER/REGPUSH_PASSWORD, REGPUSH_TO_TOKEN, REGPUSH_TO_IDENTITY_TOKEN, REGPUSH_TO_USER/REGPUSH_TO_PASSWORD, REGPUSH_FROM_TOKEN, REGPUSH_FROM_IDENTITY_TOKEN, REGPUSH_FROM_USER/REGPUSH_FROM_PASSWORD, no credential file, as no home directory was given); check the credentials for ${basic.host}: store a login`,
    ),
    e.message,
  );
});

test('a 429, through every operation that connects: lower jobs (the CLI --jobs) only where the operation has that setting, log in only where it takes credentials', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  reg.fault({ kind: ['ping', 'manifest', 'tags', 'catalog'] }, { kind: 'status', status: 429, code: 'TOOMANYREQUESTS', retryAfter: 0 });
  const dir = tempDir();
  const lib = { ...fakeLibraryOptions(reg), retries: 0 };
  const login = 'log in (Docker Hub allows authenticated users more pulls)';
  for (const op of operations(reg.host, dir)) {
    const jobs = ['push', 'copy', 'sync'].includes(op.name);
    const advice = (jobsName: string) => (op.name === 'login' ? 'wait and retry' : jobs ? `wait and retry, lower ${jobsName}, or ${login}` : `wait and retry, or ${login}`);
    const e = await rejection(op.lib(lib));
    assert.equal(e.code, 'E_TOO_MANY_REQUESTS', `${op.name}: ${e.message}`);
    assert.ok(e.message.endsWith(`: ${advice('jobs')})`), `${op.name}: ${e.message}`);
    assert.doesNotMatch(e.message, FLAG, op.name);
    const r = await cliAgainst([...op.argv, '--retries', '0'], [reg], dir);
    assert.equal(r.code, 5, `${op.name} (CLI): ${r.stderr}`);
    assert.ok(errorLine(r).endsWith(`: ${advice('--jobs')}) [E_TOO_MANY_REQUESTS]`), `${op.name} (CLI): ${r.stderr}`);
  }
});

test('a 404 with an error body: the library is told inspect(REF), the CLI `regpush inspect REF`', async () => {
  const reg = await fake();
  const e = await rejection(copy({ from: reg.ref('nothing:1'), to: [reg.ref('copy:1')], ...fakeLibraryOptions(reg), retries: 0 }));
  assert.equal(e.code, 'E_NOT_FOUND', e.message);
  assert.ok(e.message.endsWith('(check the repository name and tag or digest; inspect(REF) shows what a reference resolves to)'), e.message);
  const r = await cliAgainst(['copy', '--retries', '0', reg.ref('nothing:1'), reg.ref('copy:1')], [reg]);
  assert.ok(errorLine(r).endsWith('(check the repository name and tag or digest; `regpush inspect REF` shows what a reference resolves to) [E_NOT_FOUND]'), r.stderr);
});

test('a 404 at inspect does not advise inspect, the call that failed: the library is told listTags(REPO), the CLI `regpush tags REPO`', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const e = await rejection(inspect(reg.ref('app:2'), { ...fakeLibraryOptions(reg), retries: 0 }));
  assert.equal(e.code, 'E_NOT_FOUND', e.message);
  assert.ok(e.message.endsWith('(check the repository name and tag or digest; listTags(REPO) lists the tags it has)'), e.message);
  const r = await cliAgainst(['inspect', '--retries', '0', reg.ref('app:2')], [reg]);
  assert.equal(r.code, 4, r.stderr);
  assert.ok(errorLine(r).endsWith('(check the repository name and tag or digest; `regpush tags REPO` lists the tags it has) [E_NOT_FOUND]'), r.stderr);
  assert.doesNotMatch(r.stderr, /regpush inspect/);
});

test('a 404 for a missing tag at digest, tag, untag and delete advises the tag listing, not inspect (which fails the same way): the library is told listTags(REPO), the CLI `regpush tags REPO`', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const missing = reg.ref('app:2');
  const cases = [
    // A HEAD's 404 (no error body) for digest and delete; a GET's for tag and digest --platform.
    { name: 'digestOf', lib: (o: Record<string, unknown>) => digestOf(missing, o), argv: ['digest', missing] },
    { name: 'digestOf platform', lib: (o: Record<string, unknown>) => digestOf(missing, { ...o, platform: 'linux/amd64' }), argv: ['digest', '--platform', 'linux/amd64', missing] },
    { name: 'tagImage', lib: (o: Record<string, unknown>) => tagImage(missing, ['3'], o), argv: ['tag', missing, '3'] },
    { name: 'untagImage', lib: (o: Record<string, unknown>) => untagImage(missing, o), argv: ['untag', missing] },
    { name: 'deleteImage', lib: (o: Record<string, unknown>) => deleteImage(missing, { ...o, force: true }), argv: ['delete', '--force', missing] },
  ];
  for (const c of cases) {
    const e = await rejection(c.lib({ ...fakeLibraryOptions(reg), retries: 0 }));
    assert.equal(e.code, 'E_NOT_FOUND', `${c.name}: ${e.message}`);
    assert.ok(e.message.endsWith('(check the repository name and tag or digest; listTags(REPO) lists the tags it has)'), `${c.name}: ${e.message}`);
    const r = await cliAgainst([...c.argv, '--retries', '0'], [reg]);
    assert.equal(r.code, 4, `${c.name} (CLI): ${r.stderr}`);
    assert.ok(errorLine(r).endsWith('(check the repository name and tag or digest; `regpush tags REPO` lists the tags it has) [E_NOT_FOUND]'), `${c.name} (CLI): ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /regpush inspect/, c.name);
  }
});

test('a tag list of a repository the registry does not know says to check the repository name, and neither inspect nor the tag listing, which fail the same way', async () => {
  const reg = await fake();
  const e = await rejection(listTags(`${reg.host}/nope`, { ...fakeLibraryOptions(reg), retries: 0 }));
  assert.equal(e.code, 'E_NOT_FOUND', e.message);
  assert.match(e.message, /^list tags of .*\/nope: .* answered 404 NAME_UNKNOWN: .* \(check the repository name\)$/);
  const r = await cliAgainst(['tags', `${reg.host}/nope`, '--retries', '0'], [reg]);
  assert.equal(r.code, 4, r.stderr);
  assert.ok(errorLine(r).endsWith('(check the repository name) [E_NOT_FOUND]'), r.stderr);
});

test('a TLS registry asked in plain HTTP (Go\'s 400): the library is told tls.caCerts or tls.verifyOff instead of insecureRegistries, the CLI its flags', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  reg.fault({ kind: 'manifest' }, { kind: 'respond', respond: (_req, _body, res) => res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('Client sent an HTTP request to an HTTPS server.\n') });
  const h = reg.host;
  const e = await rejection(inspect(reg.ref('app:1'), { ...fakeLibraryOptions(reg), retries: 0 }));
  assert.equal(e.code, 'E_REGISTRY', e.message);
  assert.ok(e.message.endsWith(`(it speaks TLS, and was asked in plain HTTP: for a certificate this machine does not trust, use tls.caCerts: { "${h}": [PATH] } or tls.verifyOff: ["${h}"] instead of insecureRegistries)`), e.message);
  // Named by --insecure-registry: the flag is named.
  const lib = fakeLibraryOptions(reg);
  const flagged = await runMain(['inspect', '--retries', '0', '--insecure-registry', h, reg.ref('app:1')], { env: { ...lib.env, HOME: lib.homeDir }, cwd: tempDir() });
  assert.ok(errorLine(flagged).endsWith(`(it speaks TLS, and was asked in plain HTTP: for a certificate this machine does not trust, use --ca-cert ${h}=PATH or --tls-verify ${h}=false instead of --insecure-registry) [E_REGISTRY]`), flagged.stderr);
  // Named by REGPUSH_INSECURE_REGISTRIES alone: the variable is named, not a flag that was not used
  // (before: "… instead of --insecure-registry").
  const r = await cliAgainst(['inspect', '--retries', '0', reg.ref('app:1')], [reg]);
  assert.ok(errorLine(r).endsWith(`(it speaks TLS, and was asked in plain HTTP: for a certificate this machine does not trust, use --ca-cert ${h}=PATH or --tls-verify ${h}=false instead of REGPUSH_INSECURE_REGISTRIES) [E_REGISTRY]`), r.stderr);
  const viaEnv = await rejection(inspect(reg.ref('app:1'), { env: { ...lib.env, REGPUSH_INSECURE_REGISTRIES: h }, homeDir: lib.homeDir, retries: 0 }));
  assert.equal(viaEnv.code, 'E_REGISTRY', viaEnv.message);
  assert.ok(viaEnv.message.endsWith(`use tls.caCerts: { "${h}": [PATH] } or tls.verifyOff: ["${h}"] instead of REGPUSH_INSECURE_REGISTRIES)`), viaEnv.message);
});

test('registries.conf: insecure = true for a namespace is not applied; the note names tls.verifyOff/insecureRegistries to the library, the flags to the CLI', async () => {
  const conf = ['[[registry]]', 'prefix = "other.example/team"', 'insecure = true', ''].join('\n');
  const note = (use: string) => `regs.conf: [[registry]] #1: insecure = true for the namespace other.example/team is not applied (regpush sets TLS per registry host); use ${use}`;
  const { notes } = mirrorsFromRegistriesConf(conf, 'regs.conf');
  assert.ok(notes.includes(note('tls.verifyOff: ["HOST"] or insecureRegistries: ["HOST"]')), notes.join('\n'));
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const dir = tempDir();
  writeFileSync(join(dir, 'regs.conf'), conf);
  const r = await cliAgainst(['digest', reg.ref('app:1')], [reg], dir, { REGISTRIES_CONFIG_PATH: 'regs.conf' });
  assert.equal(r.code, 0, r.stderr);
  const cliNote = note('--tls-verify HOST=false or --insecure-registry HOST').replace('regs.conf', join(dir, 'regs.conf'));
  assert.ok(r.stderr.includes(`warning: ${cliNote}\n`), r.stderr);
});

test('parseShard: the library\'s messages say shard, the CLI\'s --shard', async () => {
  const cases: [string, Record<string, string>, string][] = [
    ['3', {}, 'invalid %s "3": expected I/N (e.g. 0/3), or /N to take I from JOB_COMPLETION_INDEX'],
    ['0/0', {}, 'invalid %s "0/0": the shard count must be 1 to 1000'],
    ['3/3', {}, 'invalid %s: index 3 is out of range for 3 shards (0 to 2; indexes count from 0 like JOB_COMPLETION_INDEX)'],
  ];
  const dir = tempDir();
  writeFileSync(join(dir, 'sync.yaml'), ['images:', "  - { source: 127.0.0.1:1/app, tags: ['1'], targets: [127.0.0.1:1/mirror] }", ''].join('\n'));
  for (const [text, env, message] of cases) {
    assert.throws(() => parseShard(text, env), (e: RegpushError) => e.code === 'E_USAGE' && e.message === message.replace('%s', 'shard'), text);
    const r = await runMain(['sync', '--shard', text, 'sync.yaml'], { env, cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(errorLine(r), `${message.replace('%s', '--shard')} [E_USAGE]`);
  }
  // An index from the environment past the count, or none there (JOB_COMPLETION_INDEX not set: not
  // an Indexed Job's pod): E_INPUT (exit 2 too), the value named as the caller gave it.
  const envCases: [Record<string, string>, string][] = [
    [{ JOB_COMPLETION_INDEX: '3' }, 'JOB_COMPLETION_INDEX=3 is out of range for %s "/3": 3 shards, indexes 0 to 2 (the Job\'s completions must match the shard count)'],
    [{}, '%s "/3" takes the index from JOB_COMPLETION_INDEX, which is not set (give I/N instead)'],
  ];
  for (const [env, said] of envCases) {
    assert.throws(() => parseShard('/3', env), (e: RegpushError) => e.code === 'E_INPUT' && e.message === said.replace('%s', 'shard'));
    const r = await runMain(['sync', '--shard', '/3', 'sync.yaml'], { env, cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(errorLine(r), `${said.replace('%s', '--shard')} [E_INPUT]`, JSON.stringify(env));
    assert.equal(r.stdout, '', 'nothing half-written');
  }
});

test('connectionNames (the CLI\'s option) is checked like every other option', async () => {
  const e = await rejection(inspect('127.0.0.1:1/app:1', { connectionNames: { jobs: '--jobs' } as never }));
  assert.equal(e.code, 'E_USAGE');
  assert.equal(e.message, 'inspect(): connectionNames.caCert must be a function (got nothing)');
  const typo = await rejection(listTags('127.0.0.1:1/app', { connectionName: {} } as never));
  assert.equal(typo.code, 'E_USAGE', typo.message);
  assert.equal(typo.message, 'listTags(): unknown option "connectionName" (did you mean "connectionNames"?)');
});
