// TLS per registry without a network: the CLI flag parsing (--ca-cert, --client-cert,
// --tls-verify, --insecure, REGPUSH_CERTS_DIRS) and the certs.d lookup and resolver.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { certsDirsFromEnv, tlsOptionsFromFlags } from '../../src/cli/tls-flags.js';
import { CONNECTION_FLAG_NAMES } from '../../src/cli/connection-flags.js';
import { certsDirNames, findCertsDir, tlsConnectOptions, tlsResolver } from '../../src/http/tls.js';
import { DEFAULT_CERTS_DIRS } from '../../src/http/tls-options.js';
import { InputError, UsageError } from '../../src/errors.js';
import { tlsFailureKind } from '../../src/http/send-errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'regpush-tls-unit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// Not real certificates: the resolver reads and passes PEM text on, Node parses it at connect time.
const PEM_CA = '-----BEGIN CERTIFICATE-----\nTUlJQ0FDQQ==\n-----END CERTIFICATE-----\n';
// NODE_EXTRA_CA_CERTS files the process started with: PEM (one holding no PEM certificate is
// ignored, as Node ignores it: tested apart).
const EXTRA = PEM_CA.replace('TUlJ', 'RVhU');
const STARTED = PEM_CA.replace('TUlJ', 'U1RB');

/** A real self-signed certificate and its key (PEM text): the resolver checks a client pair up front. */
function keyPair(name: string, extraArgs: string[] = []): { cert: string; key: string } {
  const key = join(tmp, `${name}.pair.key`);
  const cert = join(tmp, `${name}.pair.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-days', '1', '-subj', `/CN=${name}`, '-keyout', key, '-out', cert, ...(extraArgs.length ? extraArgs : ['-nodes'])], { stdio: 'ignore' });
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}
const DIR_PAIR = keyPair('dir');
const FLAG_PAIR = keyPair('flag');

function files(root: string, host: string, names: Record<string, string>): string {
  mkdirSync(join(root, host), { recursive: true });
  for (const [n, text] of Object.entries(names)) writeFileSync(join(root, host, n), text);
  return join(root, host);
}

const usage = (fn: () => unknown, msg: RegExp) => assert.throws(fn, (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && msg.test((e as Error).message));

test('--ca-cert / --client-cert / --tls-verify parse per registry; paths resolve against cwd, registry names are canonical', () => {
  const o = tlsOptionsFromFlags(
    {
      'ca-cert': ['Reg.Example.com:5000=ca.pem', 'reg.example.com:5000=/abs/two.pem', 'https://index.docker.io/v1/=hub.pem'],
      'client-cert': 'reg.example.com:5000=c.pem,k.pem',
      'tls-verify': ['lab.local=false', 'other.local=true'],
    },
    {},
    '/work',
  );
  assert.deepEqual(o, {
    caCerts: { 'reg.example.com:5000': ['/work/ca.pem', '/abs/two.pem'], 'docker.io': ['/work/hub.pem'] },
    clientCerts: { 'reg.example.com:5000': { cert: '/work/c.pem', key: '/work/k.pem' } },
    verifyOff: ['lab.local'],
  });
  assert.deepEqual(tlsOptionsFromFlags({}, {}, '/work'), {});
  assert.deepEqual(tlsOptionsFromFlags({ 'ca-cert': 'r=a=b.pem' }, {}, '/'), { caCerts: { r: ['/a=b.pem'] } }, 'only the first = splits');
});

test('--insecure and --tls-verify without a registry are refused, naming the per-registry flags', () => {
  const all = /--tls-verify REGISTRY=false.*--ca-cert REGISTRY=PATH.*--client-cert REGISTRY=CERT,KEY.*--insecure-registry REGISTRY/;
  usage(() => tlsOptionsFromFlags({ insecure: true }, {}, '/'), all);
  usage(() => tlsOptionsFromFlags({ insecure: false }, {}, '/'), all);
  for (const v of ['false', '', 'true', ['reg=false', 'false']]) usage(() => tlsOptionsFromFlags({ 'tls-verify': v }, {}, '/'), all);
  // --no-tls-verify: yargs delivers a boolean.
  usage(() => tlsOptionsFromFlags({ 'tls-verify': false as unknown as string }, {}, '/'), all);
});

test('bad per-registry TLS values are E_USAGE naming the flag', () => {
  usage(() => tlsOptionsFromFlags({ 'ca-cert': 'ca.pem' }, {}, '/'), /--ca-cert takes REGISTRY=PATH.*"ca\.pem"/);
  usage(() => tlsOptionsFromFlags({ 'ca-cert': 'reg=' }, {}, '/'), /--ca-cert takes REGISTRY=PATH/);
  usage(() => tlsOptionsFromFlags({ 'ca-cert': '=x.pem' }, {}, '/'), /--ca-cert takes REGISTRY=PATH/);
  usage(() => tlsOptionsFromFlags({ 'ca-cert': 'quay.io/org=x.pem' }, {}, '/'), /--ca-cert takes REGISTRY=PATH/);
  usage(() => tlsOptionsFromFlags({ 'client-cert': 'reg=c.pem' }, {}, '/'), /--client-cert takes REGISTRY=CERT,KEY/);
  usage(() => tlsOptionsFromFlags({ 'client-cert': 'reg=c.pem,k.pem,x' }, {}, '/'), /two files/);
  usage(() => tlsOptionsFromFlags({ 'client-cert': 'reg=c.pem,' }, {}, '/'), /two files/);
  usage(() => tlsOptionsFromFlags({ 'client-cert': ['reg=a,b', 'REG=c,d'] }, {}, '/'), /given twice for reg/);
  usage(() => tlsOptionsFromFlags({ 'tls-verify': 'reg=no' }, {}, '/'), /takes true or false \(got "no"\)/);
  usage(() => tlsOptionsFromFlags({ 'tls-verify': ['reg=false', 'reg=true'] }, {}, '/'), /both true and false for reg/);
});

test('REGPUSH_CERTS_DIRS: colon-separated, relative to cwd; unset or empty keeps the defaults', () => {
  assert.deepEqual(certsDirsFromEnv({ REGPUSH_CERTS_DIRS: '/a/certs.d:rel::/b' }, '/cwd'), ['/a/certs.d', '/cwd/rel', '/b']);
  assert.equal(certsDirsFromEnv({}, '/'), undefined);
  assert.equal(certsDirsFromEnv({ REGPUSH_CERTS_DIRS: ' ' }, '/'), undefined);
  assert.deepEqual(tlsOptionsFromFlags({}, { REGPUSH_CERTS_DIRS: '/x' }, '/'), { certsDirs: ['/x'] });
  assert.deepEqual(DEFAULT_CERTS_DIRS, ['/etc/containers/certs.d', '/etc/docker/certs.d']);
});

test('certs.d directory names: host[:port] as written, host:443 for the default port, Docker Hub by its names', () => {
  assert.deepEqual(certsDirNames('reg.example.com:5000'), ['reg.example.com:5000']);
  assert.deepEqual(certsDirNames('Reg.Example.com'), ['reg.example.com', 'reg.example.com:443']);
  assert.deepEqual(certsDirNames('registry-1.docker.io'), ['registry-1.docker.io', 'registry-1.docker.io:443', 'docker.io']);
  assert.deepEqual(certsDirNames('[::1]:5000'), ['[::1]:5000']);
  assert.deepEqual(certsDirNames('[::1]'), ['[::1]', '[::1]:443']);
});

test('findCertsDir: the first root holding the host wins; *.crt are CAs, NAME.cert + NAME.key the client pair', async () => {
  const a = join(tmp, 'find-a');
  const b = join(tmp, 'find-b');
  files(b, 'reg:5000', { 'z.crt': PEM_CA, 'a.crt': PEM_CA, 'client.cert': 'c', 'client.key': 'k', 'README': 'ignored' });
  files(b, 'other', { 'x.crt': PEM_CA });
  assert.deepEqual(await findCertsDir([a, b], 'reg:5000'), {
    dir: join(b, 'reg:5000'),
    cas: [join(b, 'reg:5000', 'a.crt'), join(b, 'reg:5000', 'z.crt')],
    client: { cert: join(b, 'reg:5000', 'client.cert'), key: join(b, 'reg:5000', 'client.key') },
  });
  files(a, 'reg:5000', {});
  assert.deepEqual(await findCertsDir([a, b], 'reg:5000'), { dir: join(a, 'reg:5000'), cas: [], client: undefined, shadowed: [join(b, 'reg:5000')] }, 'an empty directory in the first root still wins (as in Podman); the later one is named, not read');
  assert.equal(await findCertsDir([a, b], 'none:1'), undefined);
  assert.equal(await findCertsDir([], 'reg:5000'), undefined);
  files(a, 'reg.example.com:443', { 'ca.crt': PEM_CA });
  assert.equal((await findCertsDir([a], 'reg.example.com'))?.dir, join(a, 'reg.example.com:443'));
});

test('certs.d roots: a later root\'s folder for the same host is not read, and a warning says so; the hints name the folder read, and only it', async () => {
  const a = join(tmp, 'shadow-a');
  const b = join(tmp, 'shadow-b');
  mkdirSync(join(a, 'reg:5000'), { recursive: true });
  const later = files(b, 'reg:5000', { 'ca.crt': PEM_CA, 'client.cert': DIR_PAIR.cert, 'client.key': DIR_PAIR.key });
  assert.deepEqual(await findCertsDir([a, b], 'reg:5000'), { dir: join(a, 'reg:5000'), cas: [], client: undefined, shadowed: [later] });
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m) };
  const r = tlsResolver({ certsDirs: [a, b] }, logger, CONNECTION_FLAG_NAMES);
  assert.equal(await r.settingsFor('reg:5000'), undefined, 'the empty folder of the first root is the one read');
  await r.settingsFor('REG:5000');
  // Before: nothing said that b's CA and client certificate were not read.
  assert.deepEqual(warnings, [`${later}/ not read: ${join(a, 'reg:5000')}/ is used for reg:5000 (only the first certs.d folder found for a registry is read); move what reg:5000 needs into ${join(a, 'reg:5000')}/`]);
  // Before: "… put the CA as a .crt file in A/reg:5000/ (or under B)": the CA is under B already,
  // and putting it there changes nothing.
  assert.equal(r.hint('reg:5000', 'untrusted'), `to trust its CA add --ca-cert reg:5000=PATH or put the CA as a .crt file in ${join(a, 'reg:5000')}/; NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry`);
  assert.equal(r.hint('reg:5000', 'client-certificate'), `reg:5000 asks for a client certificate: add --client-cert reg:5000=CERT,KEY or put client.cert and client.key in ${join(a, 'reg:5000')}/`);
  // The folder read is named whichever root holds it; with none, any root would do.
  assert.equal(tlsResolver({ certsDirs: [join(tmp, 'shadow-none'), b] }).hint('reg:5000', 'untrusted'), 'to trust its CA add tls.caCerts: { "reg:5000": [PATH] } or put the CA as a .crt file in ' + join(tmp, 'shadow-none', 'reg:5000') + `/ (or under ${b}); NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry`);
  const fromB = tlsResolver({ certsDirs: [join(tmp, 'shadow-none'), b] });
  await fromB.settingsFor('reg:5000');
  assert.match(fromB.hint('reg:5000', 'other'), new RegExp(`^a CA is given for reg:5000 already \\(${later.replace(/[.]/g, '\\.')}/ca\\.crt \\(in ${later.replace(/[.]/g, '\\.')}/\\)\\)`));
  // The same files in both roots (a machine set up for Docker and Podman alike): nothing is lost,
  // nothing said; one file that differs, or is in the later folder alone, is.
  const both = join(tmp, 'shadow-both');
  files(both, 'reg:5000', { 'ca.crt': PEM_CA, 'client.cert': DIR_PAIR.cert, 'client.key': DIR_PAIR.key });
  assert.equal((await findCertsDir([both, b], 'reg:5000'))?.shadowed, undefined);
  writeFileSync(join(both, 'reg:5000', 'ca.crt'), EXTRA);
  assert.deepEqual((await findCertsDir([both, b], 'reg:5000'))?.shadowed, [later]);
  assert.equal((await findCertsDir([b, both], 'reg:5000'))?.shadowed?.length, 1, 'and the other way round');
  mkdirSync(join(tmp, 'shadow-empty', 'reg:5000'), { recursive: true });
  assert.equal((await findCertsDir([both, join(tmp, 'shadow-empty')], 'reg:5000'))?.shadowed, undefined, 'an empty later folder loses nothing');
  // A later copy that cannot be read (here a folder where the key would be; for a user, root's
  // 0600 key) tells nothing when the folder used holds that name: no warning on every run.
  const same = join(tmp, 'shadow-same');
  files(same, 'reg:5000', { 'ca.crt': PEM_CA, 'client.cert': DIR_PAIR.cert, 'client.key': DIR_PAIR.key });
  const unreadable = join(tmp, 'shadow-unreadable');
  files(unreadable, 'reg:5000', { 'ca.crt': PEM_CA, 'client.cert': DIR_PAIR.cert });
  mkdirSync(join(unreadable, 'reg:5000', 'client.key'));
  assert.equal((await findCertsDir([same, unreadable], 'reg:5000'))?.shadowed, undefined, 'an unreadable later copy of a file the folder used holds');
  assert.deepEqual((await findCertsDir([join(tmp, 'shadow-empty'), unreadable], 'reg:5000'))?.shadowed, [join(unreadable, 'reg:5000')], 'a name the folder used lacks is news');
});

test('certs.d: a folder with several client pairs sends the first by name, and a warning names it and the ones not sent', async () => {
  const root = join(tmp, 'pairs');
  const other = keyPair('other');
  const dir = files(root, 'reg:5000', { 'a.cert': DIR_PAIR.cert, 'a.key': DIR_PAIR.key, 'b.cert': other.cert, 'b.key': other.key });
  assert.deepEqual(await findCertsDir([root], 'reg:5000'), { dir, cas: [], client: { cert: join(dir, 'a.cert'), key: join(dir, 'a.key') }, unsent: [join(dir, 'b.cert')] });
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m) };
  const s = (await tlsResolver({ certsDirs: [root] }, logger, CONNECTION_FLAG_NAMES).settingsFor('reg:5000'))!;
  assert.equal(s.clientCert?.toString(), DIR_PAIR.cert);
  assert.deepEqual(warnings, [`${dir}/ holds 2 client certificates: ${join(dir, 'a.cert')} is the one sent to reg:5000, not ${join(dir, 'b.cert')} (one is presented per registry, the first by file name); to send another, give it with --client-cert reg:5000=CERT,KEY`]);
  // Given with --client-cert, the folder's pairs are not read: nothing to say of them.
  writeFileSync(join(tmp, 'pairs-flag.cert'), FLAG_PAIR.cert);
  writeFileSync(join(tmp, 'pairs-flag.key'), FLAG_PAIR.key);
  warnings.length = 0;
  await tlsResolver({ certsDirs: [root], clientCerts: { 'reg:5000': { cert: join(tmp, 'pairs-flag.cert'), key: join(tmp, 'pairs-flag.key') } } }, logger).settingsFor('reg:5000');
  assert.deepEqual(warnings, []);
});

test('findCertsDir: a host that is no host name (`..` from `https://%2e%2e/x` in a redirect or token realm, `.`) reads no folder: not the root\'s parent or the root itself', async () => {
  const base = join(tmp, 'dots');
  files(base, 'certs.d', { 'root.crt': PEM_CA });
  files(tmp, 'dots', { 'parent.crt': PEM_CA });
  const root = join(base, 'certs.d');
  assert.equal(new URL('https://%2e%2e/x').host, '..');
  for (const host of ['..', '.', '..:443', 'a..b', 'a/../..']) {
    assert.deepEqual(certsDirNames(host), [], host);
    assert.equal(await findCertsDir([root], host), undefined, host);
  }
});

test('findCertsDir: a client certificate without its key (or a key alone) is E_INPUT naming the file', async () => {
  const root = join(tmp, 'half');
  files(root, 'nokey', { 'client.cert': 'c' });
  files(root, 'nocert', { 'client.key': 'k' });
  await assert.rejects(findCertsDir([root], 'nokey'), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT' && /nokey\/client\.cert has no matching key client\.key \(CA certificates must end in \.crt\)/.test((e as Error).message));
  await assert.rejects(findCertsDir([root], 'nocert'), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT' && /nocert\/client\.key has no matching client certificate client\.cert/.test((e as Error).message));
});

test('--client-cert wins over a broken certs.d pair: a certificate without its key there is a warning, not E_INPUT, and the folder\'s CAs still count', async () => {
  const root = join(tmp, 'half-flagged');
  const dir = files(root, 'reg:5000', { 'ca.crt': PEM_CA, 'client.cert': DIR_PAIR.cert });
  writeFileSync(join(tmp, 'flag.cert'), FLAG_PAIR.cert);
  writeFileSync(join(tmp, 'flag.key'), FLAG_PAIR.key);
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m) };
  const r = tlsResolver({ certsDirs: [root], clientCerts: { 'reg:5000': { cert: join(tmp, 'flag.cert'), key: join(tmp, 'flag.key') } } }, logger, CONNECTION_FLAG_NAMES);
  const s = (await r.settingsFor('reg:5000'))!;
  assert.equal(s.clientCert?.toString(), FLAG_PAIR.cert);
  assert.deepEqual(s.sources, [join(dir, 'ca.crt'), join(tmp, 'flag.cert'), join(tmp, 'flag.key')]);
  assert.deepEqual(warnings, [`${join(dir, 'client.cert')} has no matching key client.key (CA certificates must end in .crt); not used, as --client-cert gives the client certificate for reg:5000`]);
  // Without the flag the same folder is still refused.
  await assert.rejects(tlsResolver({ certsDirs: [root] }).settingsFor('reg:5000'), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT' && /client\.cert has no matching key/.test((e as Error).message));
});

test('tlsResolver: nothing configured → default trust; CAs are added to the defaults; flags win over certs.d for the client pair', async () => {
  const root = join(tmp, 'resolve');
  const dir = files(root, 'reg:5000', { 'ca.crt': PEM_CA, 'client.cert': DIR_PAIR.cert, 'client.key': DIR_PAIR.key });
  writeFileSync(join(tmp, 'flag.crt'), PEM_CA.replace('TUlJ', 'RkxB'));
  writeFileSync(join(tmp, 'flag.cert'), FLAG_PAIR.cert);
  writeFileSync(join(tmp, 'flag.key'), FLAG_PAIR.key);
  writeFileSync(join(tmp, 'extra.pem'), EXTRA);
  const r = tlsResolver({ certsDirs: [root], caCerts: { 'REG:5000': [join(tmp, 'flag.crt')] }, nodeExtraCaCerts: join(tmp, 'extra.pem') });
  assert.equal(await r.settingsFor('elsewhere:1'), undefined);
  const s = (await r.settingsFor('reg:5000'))!;
  assert.equal(s.verify, true);
  assert.deepEqual(s.ca, [...rootCertificates, EXTRA, PEM_CA, PEM_CA.replace('TUlJ', 'RkxB')]);
  assert.equal(s.clientCert?.toString(), DIR_PAIR.cert);
  assert.deepEqual(s.sources, [join(dir, 'ca.crt'), join(tmp, 'flag.crt'), join(dir, 'client.cert'), join(dir, 'client.key')]);
  assert.equal(await r.settingsFor('reg:5000'), s, 'cached per host');
  // The trust list and the client pair go to the connections as one context, made once for the host
  // (as `ca`, Node parsed the ~140 roots again for every connection).
  assert.ok(s.secureContext, 'a context of its own');
  assert.deepEqual(tlsConnectOptions(s), { secureContext: s.secureContext, rejectUnauthorized: true });
  assert.equal(tlsConnectOptions(await r.settingsFor('REG:5000')).secureContext, s.secureContext, 'the same context for every connection to the host');

  const flagged = tlsResolver({ certsDirs: [root], clientCerts: { 'reg:5000': { cert: join(tmp, 'flag.cert'), key: join(tmp, 'flag.key') } } });
  assert.equal((await flagged.settingsFor('reg:5000'))!.clientCert?.toString(), FLAG_PAIR.cert);

  // A client pair alone keeps Node's default trust (no `ca`).
  const clientOnly = tlsResolver({ certsDirs: [], clientCerts: { other: { cert: join(tmp, 'flag.cert'), key: join(tmp, 'flag.key') } } });
  const c = (await clientOnly.settingsFor('other'))!;
  assert.equal(c.ca, undefined);
  assert.ok(tlsConnectOptions(c).secureContext, 'the client pair, in a context that keeps the default trust');
  assert.equal(tlsConnectOptions(undefined).rejectUnauthorized, undefined);
});

test('a registry key written as a bare IPv6 address (--tls-verify, --ca-cert, --client-cert, tls.* options) names that address in brackets', async () => {
  const o = tlsOptionsFromFlags({ 'tls-verify': ['fd00::2=false'], 'ca-cert': ['fd00::3=ca.pem', 'fd00::443=ca443.pem'] }, {}, '/work');
  assert.deepEqual(o.verifyOff, ['[fd00::2]']);
  assert.deepEqual(o.caCerts, { '[fd00::3]': ['/work/ca.pem'], '[fd00::443]': ['/work/ca443.pem'] });
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m) };
  const r = tlsResolver({ certsDirs: [], verifyOff: ['fd00::2'] }, logger, CONNECTION_FLAG_NAMES);
  assert.equal((await r.settingsFor('[fd00::2]:5000'))?.verify, false);
  assert.equal(await r.settingsFor('[fd00::5]:5000'), undefined);
  // A bare key of the library's tls.caCerts is read for that registry (the file is then opened: E_INPUT naming it).
  const lib = tlsResolver({ certsDirs: [], caCerts: { 'fd00::3': ['/nonexistent/ca.pem'] } }, logger);
  await assert.rejects(lib.settingsFor('[fd00::3]'), { name: 'InputError', code: 'E_INPUT', message: /\/nonexistent\/ca\.pem/ });
});

test('tlsResolver: verification off for the named registry only, with one warning per host once it has answered over TLS (naming the CLI\'s flag, or the library\'s option)', async () => {
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m) };
  const r = tlsResolver({ certsDirs: [], verifyOff: ['lab.local:5000', 'docker.io'] }, logger, CONNECTION_FLAG_NAMES);
  const s = (await r.settingsFor('lab.local:5000'))!;
  assert.equal(s.verify, false);
  assert.equal(tlsConnectOptions(s).rejectUnauthorized, false);
  await r.settingsFor('lab.local:5000');
  assert.equal((await r.settingsFor('registry-1.docker.io'))?.verify, false, 'docker.io names the Hub API host');
  assert.equal(await r.settingsFor('lab.local:5001'), undefined);
  assert.deepEqual(warnings, [], 'nothing said before a TLS answer: an insecure = true host may end up on plain HTTP');
  for (const host of ['lab.local:5000', 'lab.local:5000', 'registry-1.docker.io', 'lab.local:5001']) r.answered(host);
  assert.deepEqual(warnings, [
    'TLS verification is off for lab.local:5000 (--tls-verify lab.local:5000=false): the connection is encrypted, but the server is not authenticated',
    'TLS verification is off for docker.io (--tls-verify docker.io=false): the connection is encrypted, but the server is not authenticated',
  ]);
  // A library caller set tls.verifyOff; what set it elsewhere (verifyOffBy) is named as given.
  warnings.length = 0;
  const lib = tlsResolver({ certsDirs: [], verifyOff: ['lab.local:5000', 'other:5000'], verifyOffBy: { 'other:5000': 'insecure = true in /etc/containers/registries.conf' } }, logger);
  lib.answered('lab.local:5000');
  lib.answered('other:5000');
  assert.deepEqual(warnings, [
    'TLS verification is off for lab.local:5000 (tls.verifyOff): the connection is encrypted, but the server is not authenticated',
    'TLS verification is off for other:5000 (insecure = true in /etc/containers/registries.conf): the connection is encrypted, but the server is not authenticated',
  ]);
});

test('tlsResolver: unreadable files are E_INPUT, a key that is not PEM too; a failed read is tried again', async () => {
  const missing = tlsResolver({ certsDirs: [], caCerts: { reg: [join(tmp, 'missing.crt')] } });
  // Said as other file messages say it ("no such file"), with the setting that gave it and the host.
  const ca = join(tmp, 'missing.crt');
  await assert.rejects(missing.settingsFor('reg'), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT' && (e as Error).message === `cannot read CA certificate ${ca} (no such file; given with tls.caCerts for reg)` && (e as InputError).details.file === ca);
  const noKey = tlsResolver({ certsDirs: [], clientCerts: { 'reg:5000': { cert: join(tmp, 'flag.cert'), key: join(tmp, 'gone.key') } } }, undefined, CONNECTION_FLAG_NAMES);
  await assert.rejects(noKey.settingsFor('reg:5000'), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT' && (e as Error).message === `cannot read client key ${join(tmp, 'gone.key')} (no such file; given with --client-cert for reg:5000)`);
  // A certs.d CA listed, then not readable (a dangling link): the folder is named.
  const certsRoot = join(tmp, 'certs-dangling');
  mkdirSync(join(certsRoot, 'reg:5000'), { recursive: true });
  symlinkSync(join(tmp, 'nowhere.crt'), join(certsRoot, 'reg:5000', 'ca.crt'));
  await assert.rejects(tlsResolver({ certsDirs: [certsRoot] }).settingsFor('reg:5000'), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT' && (e as Error).message === `cannot read CA certificate ${join(certsRoot, 'reg:5000', 'ca.crt')} (no such file; in ${join(certsRoot, 'reg:5000')}/ for reg:5000)`);
  writeFileSync(join(tmp, 'missing.crt'), PEM_CA);
  assert.ok(await missing.settingsFor('reg'), 'the file appeared: read now');
  writeFileSync(join(tmp, 'bad.key'), 'not a key');
  const badKey = tlsResolver({ certsDirs: [], clientCerts: { reg: { cert: join(tmp, 'flag.cert'), key: join(tmp, 'bad.key') } } });
  await assert.rejects(badKey.settingsFor('reg'), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT' && /bad\.key is not a PEM private key \(the client key for reg\)/.test((e as Error).message));
});

test('tlsResolver: a client pair is checked before any connection: an encrypted key, a key of another certificate, a certificate that is not PEM are E_INPUT naming the file', async () => {
  const enc = keyPair('enc', ['-passout', 'pass:secret']);
  writeFileSync(join(tmp, 'enc.cert'), enc.cert);
  writeFileSync(join(tmp, 'enc.key'), enc.key);
  // The traditional OpenSSL encrypted form (Proc-Type: 4,ENCRYPTED) as well as PKCS#8's.
  const trad = join(tmp, 'enc-trad.key');
  execFileSync('openssl', ['ec', '-in', join(tmp, 'enc.pair.key'), '-passin', 'pass:secret', '-aes256', '-passout', 'pass:secret', '-out', trad], { stdio: 'ignore' });
  const der = join(tmp, 'flag.cert.der');
  execFileSync('openssl', ['x509', '-in', join(tmp, 'flag.cert'), '-outform', 'der', '-out', der], { stdio: 'ignore' });
  const fails = async (cert: string, key: string, message: string) =>
    assert.rejects(tlsResolver({ certsDirs: [], clientCerts: { 'reg:5000': { cert, key } } }).settingsFor('reg:5000'), (e: unknown) => {
      assert.ok(e instanceof InputError, String(e));
      assert.equal(e.code, 'E_INPUT');
      assert.equal(e.exitCode, 2);
      assert.equal(e.message, message);
      return true;
    });
  const decrypt = (k: string) => `${k} is encrypted; regpush needs an unencrypted PEM key (the client key for reg:5000; decrypt it with: openssl pkey -in KEY -out KEY.plain)`;
  await fails(join(tmp, 'enc.cert'), join(tmp, 'enc.key'), decrypt(join(tmp, 'enc.key')));
  await fails(join(tmp, 'enc.cert'), trad, decrypt(trad));
  await fails(join(tmp, 'flag.cert'), join(tmp, 'enc.key'), decrypt(join(tmp, 'enc.key')));
  writeFileSync(join(tmp, 'dir.key'), DIR_PAIR.key);
  await fails(join(tmp, 'flag.cert'), join(tmp, 'dir.key'), `${join(tmp, 'dir.key')} is not the key of ${join(tmp, 'flag.cert')} (the client certificate for reg:5000)`);
  await fails(der, join(tmp, 'flag.key'), `${der} is not a PEM certificate (the client certificate for reg:5000; a DER file converts with: openssl x509 -inform der -in CERT -out CERT.pem)`);
  await fails(join(tmp, 'flag.key'), join(tmp, 'flag.key'), `${join(tmp, 'flag.key')} is not a PEM certificate (the client certificate for reg:5000; a DER file converts with: openssl x509 -inform der -in CERT -out CERT.pem)`);
});

test('tlsResolver: a CA file in DER is converted; one holding no certificate is E_INPUT when given (--ca-cert), a warning in certs.d (Docker passes over it)', async () => {
  const der = join(tmp, 'ca.der');
  execFileSync('openssl', ['x509', '-in', join(tmp, 'flag.cert'), '-outform', 'der', '-out', der], { stdio: 'ignore' });
  const s = (await tlsResolver({ certsDirs: [], caCerts: { reg: [der] } }).settingsFor('reg'))!;
  assert.equal(s.ca?.at(-1), new (await import('node:crypto')).X509Certificate(FLAG_PAIR.cert).toString(), 'the DER certificate, as PEM');
  for (const junk of [join(tmp, 'flag.key'), join(tmp, 'bad.key')]) {
    await assert.rejects(tlsResolver({ certsDirs: [], caCerts: { 'reg:5000': [junk] } }).settingsFor('reg:5000'), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT' && e.message === `${junk} holds no certificate, neither PEM nor DER (the CA given for reg:5000)`);
  }
  const root = join(tmp, 'junk-certsd');
  const dir = files(root, 'reg:5000', { 'ca.crt': 'not a certificate', 'good.crt': PEM_CA });
  const warnings: string[] = [];
  const r = tlsResolver({ certsDirs: [root] }, { debug() {}, info() {}, warn: (m: string) => warnings.push(m) });
  assert.deepEqual((await r.settingsFor('reg:5000'))!.ca?.slice(rootCertificates.length), [PEM_CA]);
  assert.deepEqual(warnings, [`${join(dir, 'ca.crt')} holds no certificate, neither PEM nor DER; not used as a CA for reg:5000`]);
});

test('tlsResolver hints name the flag and the certs.d path for the host', () => {
  const r = tlsResolver({ certsDirs: ['/etc/containers/certs.d', '/etc/docker/certs.d'] }, undefined, CONNECTION_FLAG_NAMES);
  assert.equal(r.hint('reg:5000', 'untrusted'), 'to trust its CA add --ca-cert reg:5000=PATH or put the CA as a .crt file in /etc/containers/certs.d/reg:5000/ (or under /etc/docker/certs.d); NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry');
  assert.match(r.hint('reg:5000', 'client-certificate'), /^reg:5000 asks for a client certificate: add --client-cert reg:5000=CERT,KEY or put client\.cert and client\.key in \/etc\/containers\/certs\.d\/reg:5000\//);
  // The chain verified, the name did not: the names it carries, and no CA to add (was: "a private CA goes in --ca-cert reg=PATH or …/*.crt").
  assert.equal(
    r.hint('reg:5000', 'hostname', ['registry.internal', '10.0.0.5']),
    'the certificate of reg:5000 does not name reg: it names registry.internal, 10.0.0.5; reach the registry by a name its certificate carries, or have the certificate reissued to name reg; no CA setting changes that (--tls-verify reg:5000=false skips the check: not recommended)',
  );
  assert.match(r.hint('10.0.0.7:5000', 'hostname', []), /^the certificate of 10\.0\.0\.7:5000 does not name 10\.0\.0\.7: it names no IP address; /);
  assert.match(r.hint('[fd00::7]:5000', 'hostname', []), /^the certificate of \[fd00::7\]:5000 does not name fd00::7: it names no IP address; /);
  assert.match(r.hint('reg', 'hostname'), /^the certificate of reg does not name reg; reach/, 'no names in the error: none listed');
  for (const names of [undefined, ['x']]) assert.doesNotMatch(r.hint('reg', 'hostname', names), /--ca-cert|\.crt|NODE_EXTRA_CA_CERTS/);
  // No certs.d root read: no directory to point at.
  assert.equal(tlsResolver({ certsDirs: [] }, undefined, CONNECTION_FLAG_NAMES).hint('reg', 'other'), 'to trust its CA add --ca-cert reg=PATH');
  assert.match(tlsResolver({}).hint('reg', 'untrusted'), /\/etc\/containers\/certs\.d\/reg\/ \(or under \/etc\/docker\/certs\.d\); NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry$/, 'the defaults');
});

test('tlsResolver hints name the library\'s tls options when no names are given (a library caller\'s transport)', () => {
  const r = tlsResolver({ certsDirs: ['/etc/containers/certs.d', '/etc/docker/certs.d'] });
  assert.equal(r.hint('reg:5000', 'untrusted'), 'to trust its CA add tls.caCerts: { "reg:5000": [PATH] } or put the CA as a .crt file in /etc/containers/certs.d/reg:5000/ (or under /etc/docker/certs.d); NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry');
  assert.equal(
    r.hint('reg:5000', 'client-certificate'),
    'reg:5000 asks for a client certificate: add tls.clientCerts: { "reg:5000": { cert: CERT, key: KEY } } or put client.cert and client.key in /etc/containers/certs.d/reg:5000/ (or under /etc/docker/certs.d)',
  );
  assert.equal(
    r.hint('reg', 'hostname', ['localhost']),
    'the certificate of reg does not name reg: it names localhost; reach the registry by a name its certificate carries, or have the certificate reissued to name reg; no CA setting changes that (tls.verifyOff: ["reg"] skips the check: not recommended)',
  );
  assert.equal(tlsResolver({ certsDirs: [] }).hint('reg', 'other'), 'to trust its CA add tls.caCerts: { "reg": [PATH] }');
  assert.doesNotMatch([r.hint('reg', 'untrusted'), r.hint('reg', 'client-certificate'), r.hint('reg', 'hostname')].join(' '), /--/);
});

test('tlsResolver hints for CAs and a client certificate that were given: they name them and say they did not do, not to give them (flags, certs.d, the library\'s options)', async () => {
  const root = join(tmp, 'given');
  const dir = files(root, 'reg:5000', { 'corp.crt': PEM_CA, 'client.cert': DIR_PAIR.cert, 'client.key': DIR_PAIR.key });
  const flagCa = join(tmp, 'other.crt');
  writeFileSync(flagCa, PEM_CA);
  const cert = join(tmp, 'stranger.crt');
  const key = join(tmp, 'stranger.key');
  writeFileSync(cert, FLAG_PAIR.cert);
  writeFileSync(key, FLAG_PAIR.key);
  const notIt = (host: string, files: string) => `the CA given for ${host}, ${files}, did not verify its certificate: it is not the CA that issued it, or ${host} does not send the intermediate certificates between them (then add those to the CA file)`;
  // Before: "to trust its CA add --ca-cert reg:5000=PATH or put the CA as a .crt file in <that dir>",
  // and "reg:5000 asks for a client certificate: add --client-cert …", the settings already given.
  const cli = tlsResolver({ certsDirs: [root], caCerts: { 'reg:5000': [flagCa], other: [flagCa] }, clientCerts: { other: { cert, key } } }, undefined, CONNECTION_FLAG_NAMES);
  await cli.settingsFor('reg:5000');
  await cli.settingsFor('other');
  assert.equal(cli.hint('reg:5000', 'untrusted'), notIt('reg:5000', `${join(dir, 'corp.crt')} (in ${dir}/), ${flagCa} (--ca-cert)`));
  assert.equal(cli.hint('reg:5000', 'client-certificate'), `reg:5000 refused the client certificate given, ${join(dir, 'client.cert')} (in ${dir}/): check that it is one reg:5000 accepts (issued by the CA it trusts for clients, not expired)`);
  assert.equal(cli.hint('other', 'untrusted'), notIt('other', `${flagCa} (--ca-cert)`));
  assert.equal(cli.hint('other', 'client-certificate'), `other refused the client certificate given, ${cert} (--client-cert): check that it is one other accepts (issued by the CA it trusts for clients, not expired)`);
  const lib = tlsResolver({ certsDirs: [], caCerts: { other: [flagCa] }, clientCerts: { other: { cert, key } }, envExtraCaCerts: flagCa });
  await lib.settingsFor('other');
  assert.equal(lib.hint('other', 'untrusted'), `${notIt('other', `${flagCa} (tls.caCerts)`)}; NODE_EXTRA_CA_CERTS (${flagCa}) is trusted too and did not verify it either`);
  assert.match(lib.hint('other', 'client-certificate'), new RegExp(`^other refused the client certificate given, ${cert.replace(/[.]/g, '\\.')} \\(tls\\.clientCerts\\)`));
  // Another kind of failure with a CA given: no advice to add one (was: "to trust its CA add tls.caCerts …").
  assert.equal(lib.hint('other', 'other'), `a CA is given for other already (${flagCa} (tls.caCerts)), and this failure is not one another CA fixes: check the TLS setup of other (the protocol versions and cipher suites it accepts, the certificate chain it sends)`);
  assert.equal(cli.hint('reg:5000', 'other'), `a CA is given for reg:5000 already (${join(dir, 'corp.crt')} (in ${dir}/), ${flagCa} (--ca-cert)), and this failure is not one another CA fixes: check the TLS setup of reg:5000 (the protocol versions and cipher suites it accepts, the certificate chain it sends)`);
  // A host given nothing keeps the advice to give something.
  await lib.settingsFor('elsewhere');
  assert.match(lib.hint('elsewhere', 'untrusted'), /^to trust its CA add tls\.caCerts/);
  assert.match(lib.hint('elsewhere', 'client-certificate'), /^elsewhere asks for a client certificate: add tls\.clientCerts/);
});

test('tlsResolver: env\'s NODE_EXTRA_CA_CERTS is trusted for every host, on top of Node\'s roots; the file the process started with (nodeExtraCaCerts) only where a host\'s CAs replace the default trust', async () => {
  const root = join(tmp, 'env-extra');
  files(root, 'reg:5000', { 'ca.crt': PEM_CA });
  const envCa = join(tmp, 'env-extra.pem');
  writeFileSync(envCa, FLAG_PAIR.cert);
  const envCaText = FLAG_PAIR.cert;
  // A library caller's env: Node never read it, so every host gets the file.
  const lib = tlsResolver({ certsDirs: [root], envExtraCaCerts: envCa });
  const plain = (await lib.settingsFor('elsewhere:1'))!;
  assert.ok(plain, 'a host without CAs of its own gets a trust list too');
  assert.deepEqual(plain.ca, [...rootCertificates, envCaText]);
  assert.equal(plain.verify, true);
  assert.deepEqual((await lib.settingsFor('reg:5000'))!.ca, [...rootCertificates, envCaText, PEM_CA]);
  // The hint does not advise the variable that is set: it says it did not help.
  assert.equal(lib.hint('elsewhere:1', 'untrusted'), `to trust its CA add tls.caCerts: { "elsewhere:1": [PATH] } or put the CA as a .crt file in ${root}/elsewhere:1/; NODE_EXTRA_CA_CERTS (${envCa}) is trusted already and did not verify it`);
  assert.doesNotMatch(lib.hint('elsewhere:1', 'untrusted'), /NODE_EXTRA_CA_CERTS=PATH/);

  // The same file is the one the process started with (the CLI): Node trusts it already.
  writeFileSync(join(tmp, 'started.pem'), STARTED);
  const cli = tlsResolver({ certsDirs: [root], envExtraCaCerts: join(tmp, 'started.pem'), nodeExtraCaCerts: join(tmp, 'started.pem') }, undefined, CONNECTION_FLAG_NAMES);
  assert.equal(await cli.settingsFor('elsewhere:1'), undefined, 'Node\'s default trust, which has it already');
  assert.deepEqual((await cli.settingsFor('reg:5000'))!.ca, [...rootCertificates, STARTED, PEM_CA], 'added back with the host\'s own CAs');
  assert.match(cli.hint('elsewhere:1', 'untrusted'), /; NODE_EXTRA_CA_CERTS \(.*started\.pem\) is trusted already and did not verify it$/);
  // The same file written otherwise in env (a doubled slash, a `.` step) than the CLI's resolved one: still Node's.
  const written = tlsResolver({ certsDirs: [root], envExtraCaCerts: `${tmp}//./started.pem`, nodeExtraCaCerts: join(tmp, 'started.pem') }, undefined, CONNECTION_FLAG_NAMES);
  assert.equal(await written.settingsFor('elsewhere:1'), undefined, 'a path written otherwise is the same file: Node\'s default trust');
  // Another file in env than the one named by tls.nodeExtraCaCerts: the option wins, as the
  // explicit options win over env elsewhere; env's is not trusted, for any host, and a warning
  // says so once. Was: env's trusted for the hosts without CAs of their own (the started one then
  // left out of their trust), both for the others.
  const passedOver: string[] = [];
  const both = tlsResolver({ certsDirs: [root], envExtraCaCerts: envCa, nodeExtraCaCerts: join(tmp, 'started.pem') }, { debug() {}, info() {}, warn: (m: string) => passedOver.push(m) });
  assert.equal(await both.settingsFor('elsewhere:1'), undefined, 'Node\'s default trust, which holds the started file');
  assert.deepEqual((await both.settingsFor('reg:5000'))!.ca, [...rootCertificates, STARTED, PEM_CA]);
  assert.equal(await both.proxySettings('proxy.corp:3128'), undefined, 'a proxy on Node\'s default trust too');
  assert.equal(both.extraCaCerts(), join(tmp, 'started.pem'));
  assert.match(both.hint('elsewhere:1', 'untrusted'), new RegExp(`; NODE_EXTRA_CA_CERTS \\(${join(tmp, 'started.pem').replace(/[.]/g, '\\.')}\\) is trusted already and did not verify it$`));
  assert.deepEqual(passedOver, [`env.NODE_EXTRA_CA_CERTS=${envCa} is not trusted: tls.nodeExtraCaCerts names ${join(tmp, 'started.pem')} as the NODE_EXTRA_CA_CERTS in effect, and wins over env`]);

  // A file that cannot be read, or holds no certificate: one warning (as the CLI's start-up
  // variable gets, and Node gives its own), and verification goes on with the other roots (was
  // E_INPUT for every host). Its hint does not say it was trusted.
  writeFileSync(join(tmp, 'junk.pem'), 'not a certificate');
  for (const [file, why] of [[join(tmp, 'nope.pem'), 'cannot read it (no such file)'], [join(tmp, 'junk.pem'), 'it holds no certificate, neither PEM nor DER']] as const) {
    const warnings: string[] = [];
    const r = tlsResolver({ certsDirs: [root], envExtraCaCerts: file }, { debug() {}, info() {}, warn: (m: string) => warnings.push(m) });
    assert.equal(await r.settingsFor('elsewhere:1'), undefined, `${file}: Node's default trust`);
    assert.deepEqual((await r.settingsFor('reg:5000'))!.ca, [...rootCertificates, PEM_CA], `${file}: the host's own CAs still`);
    assert.equal(await r.proxySettings('proxy.corp:3128'), undefined, `${file}: a proxy on Node's default trust`);
    assert.deepEqual(warnings, [`NODE_EXTRA_CA_CERTS=${file}: ${why}; ignored, as Node ignores it: it adds no CA for any registry or proxy`]);
    assert.equal(r.extraCaCerts(), undefined);
    assert.match(r.hint('elsewhere:1', 'untrusted'), /; NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry$/);
  }
});

test('tlsResolver: the connection to an https:// proxy trusts env\'s NODE_EXTRA_CA_CERTS on top of Node\'s roots and the CAs given for the proxy\'s own host, never a registry\'s', async () => {
  const envCa = join(tmp, 'proxy-env-extra.pem');
  writeFileSync(envCa, FLAG_PAIR.cert);
  const proxyCa = join(tmp, 'proxy-own.pem');
  writeFileSync(proxyCa, PEM_CA);
  const lib = tlsResolver({ certsDirs: [], caCerts: { 'reg.corp:5000': [join(tmp, 'never-read.pem')], 'proxy.corp:3128': [proxyCa] }, envExtraCaCerts: envCa });
  const p = (await lib.proxySettings('proxy.other:3128'))!;
  assert.deepEqual(p.ca, [...rootCertificates, FLAG_PAIR.cert]);
  assert.equal(p.verify, true);
  assert.ok(p.secureContext);
  assert.equal(await lib.proxySettings('proxy.other:3128'), p, 'one context per proxy for the operation');
  assert.equal(lib.extraCaCerts(), envCa);
  // A CA given for the proxy's host[:port] (--ca-cert proxy.corp:3128=PATH) is its connection's: was left out.
  assert.deepEqual((await lib.proxySettings('proxy.corp:3128'))!.ca, [...rootCertificates, FLAG_PAIR.cert, PEM_CA]);
  assert.deepEqual((await tlsResolver({ certsDirs: [], caCerts: { 'proxy.corp:3128': [proxyCa] } }).proxySettings('proxy.corp:3128'))!.ca, [...rootCertificates, PEM_CA]);
  // Verification turned off for the proxy's host: off for its connection, and warned of once, when it is first used.
  const said: string[] = [];
  const off = tlsResolver({ certsDirs: [], verifyOff: ['proxy.corp:3128'] }, { debug() {}, info() {}, warn: (m: string) => said.push(m) }, CONNECTION_FLAG_NAMES);
  assert.equal((await off.proxySettings('proxy.corp:3128'))!.verify, false);
  await off.proxySettings('proxy.corp:3128');
  assert.deepEqual(said, ['TLS verification is off for proxy.corp:3128 (--tls-verify proxy.corp:3128=false): the connection is encrypted, but the server is not authenticated']);
  // Nothing beyond Node's own trust (the CLI: its start-up file is Node's already): the default.
  writeFileSync(join(tmp, 'proxy-started.pem'), STARTED);
  const cli = tlsResolver({ certsDirs: [], envExtraCaCerts: join(tmp, 'proxy-started.pem'), nodeExtraCaCerts: join(tmp, 'proxy-started.pem') });
  assert.equal(await cli.proxySettings('proxy.corp:3128'), undefined);
  assert.equal(cli.extraCaCerts(), join(tmp, 'proxy-started.pem'));
  assert.equal(await tlsResolver({ certsDirs: [] }).proxySettings('proxy.corp:3128'), undefined);
});

test('tlsResolver: a nodeExtraCaCerts file that cannot be read is ignored, as Node ignored it at start (which warned): a host with CAs of its own goes on', async () => {
  const root = join(tmp, 'node-extra-missing');
  files(root, 'reg:5000', { 'ca.crt': PEM_CA });
  const warnings: string[] = [];
  const missing = join(tmp, 'no-such-node-extra.pem');
  const r = tlsResolver({ certsDirs: [root], nodeExtraCaCerts: missing }, { debug() {}, info() {}, warn: (m: string) => warnings.push(m) });
  assert.deepEqual((await r.settingsFor('reg:5000'))!.ca, [...rootCertificates, PEM_CA]);
  assert.equal(await r.settingsFor('elsewhere:1'), undefined);
  assert.deepEqual(warnings, []);
  // Its TLS hints do not call it trusted (was: "NODE_EXTRA_CA_CERTS (…) is trusted already and
  // did not verify it", for a file that added nothing), for a host with its CAs, one without, and
  // a proxy; the CLI's env names the same file.
  const cli = tlsResolver({ certsDirs: [root], nodeExtraCaCerts: missing, envExtraCaCerts: missing }, undefined, CONNECTION_FLAG_NAMES);
  assert.equal(await cli.settingsFor('elsewhere:1'), undefined, 'read before the first handshake, whatever the host');
  assert.equal(cli.extraCaCerts(), undefined);
  assert.match(cli.hint('elsewhere:1', 'untrusted'), /; NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry$/);
  await cli.settingsFor('reg:5000');
  assert.doesNotMatch(cli.hint('reg:5000', 'untrusted'), /NODE_EXTRA_CA_CERTS/);
});

test('tlsResolver: a nodeExtraCaCerts file that can be read and holds no PEM certificate is ignored, as Node added nothing from it: one warning, not added back, and the hints do not call it trusted', async () => {
  const root = join(tmp, 'node-extra-junk');
  files(root, 'reg:5000', { 'ca.crt': PEM_CA });
  const junk = join(tmp, 'node-extra-junk.pem');
  writeFileSync(junk, 'not a certificate\n');
  const warnings: string[] = [];
  const r = tlsResolver({ certsDirs: [root], nodeExtraCaCerts: junk, envExtraCaCerts: junk }, { debug() {}, info() {}, warn: (m: string) => warnings.push(m) }, CONNECTION_FLAG_NAMES);
  assert.deepEqual((await r.settingsFor('reg:5000'))!.ca, [...rootCertificates, PEM_CA], 'not added back beside the host\'s CA');
  assert.equal(await r.settingsFor('elsewhere:1'), undefined);
  assert.equal(r.extraCaCerts(), undefined);
  assert.deepEqual(warnings, [`NODE_EXTRA_CA_CERTS=${junk}: it holds no PEM certificate; ignored, as Node ignores it: it adds no CA for any registry or proxy`]);
  // Was: "NODE_EXTRA_CA_CERTS (…) is trusted already and did not verify it".
  assert.equal(r.hint('elsewhere:1', 'untrusted'), `to trust its CA add --ca-cert elsewhere:1=PATH or put the CA as a .crt file in ${root}/elsewhere:1/; NODE_EXTRA_CA_CERTS=${junk} adds no CA: it holds no PEM certificate; NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry`);
  assert.doesNotMatch(r.hint('reg:5000', 'untrusted'), /NODE_EXTRA_CA_CERTS/);
});

test('registries.conf insecure hosts: one matching rule for the scheme choice and TLS verification (an entry without a port covers every port, as containers/image matches prefixes)', async () => {
  const { endpointFor } = await import('../../src/registry/endpoint.js');
  const entries = ['reg.example', 'other.example:5000', 'Docker.io', 'hub443.example:443'];
  const by = Object.fromEntries(entries.map((e) => [e, 'insecure = true in /etc/containers/registries.conf']));
  const warnings: string[] = [];
  const r = tlsResolver({ certsDirs: [], verifyOff: entries, verifyOffBy: by }, { debug() {}, info() {}, warn: (m: string) => warnings.push(m) });
  for (const [registry, urlHost, off] of [
    ['reg.example:22014', 'reg.example:22014', true],
    ['reg.example', 'reg.example', true],
    ['other.example:5000', 'other.example:5000', true],
    ['other.example:5001', 'other.example:5001', false],
    ['other.example', 'other.example', false],
    ['docker.io', 'registry-1.docker.io', true],
    ['hub443.example', 'hub443.example', true],
    ['hub443.example:5000', 'hub443.example:5000', false],
    ['elsewhere.example', 'elsewhere.example', false],
  ] as const) {
    const tlsOff = (await r.settingsFor(urlHost))?.verify === false;
    assert.equal(tlsOff, off, `TLS verification off for ${urlHost}`);
    r.answered(urlHost);
    // 'auto' is "TLS without verification, else plain HTTP"; hub443.example is the one that differs: :443 is https only.
    if (registry !== 'hub443.example') assert.equal(endpointFor(registry, [], entries).scheme === 'auto', off, `scheme of ${registry}`);
  }
  assert.ok(warnings.includes('TLS verification is off for reg.example:22014 (insecure = true in /etc/containers/registries.conf): the connection is encrypted, but the server is not authenticated'), warnings.join('\n'));
});

test('--ca-cert REG:443=A and --ca-cert REG=B are one registry: both CAs are kept; two --client-cert for it are refused', async () => {
  const o = tlsOptionsFromFlags({ 'ca-cert': ['reg.example:443=a.pem', 'reg.example=b.pem'] }, {}, '/work');
  assert.deepEqual(o.caCerts, { 'reg.example': ['/work/a.pem', '/work/b.pem'] });
  usage(() => tlsOptionsFromFlags({ 'client-cert': ['reg.example:443=a,b', 'reg.example=c,d'] }, {}, '/'), /--client-cert was given twice for reg\.example;/);
  // And the resolver reads both for the host.
  writeFileSync(join(tmp, 'a.pem'), PEM_CA);
  writeFileSync(join(tmp, 'b.pem'), PEM_CA.replace('TUlJ', 'QkJC'));
  const r = tlsResolver({ certsDirs: [], caCerts: tlsOptionsFromFlags({ 'ca-cert': ['reg.example:443=a.pem', 'reg.example=b.pem'] }, {}, tmp).caCerts });
  assert.deepEqual((await r.settingsFor('reg.example'))!.sources, [join(tmp, 'a.pem'), join(tmp, 'b.pem')]);
});

test('a TLS failure\'s kind: a server certificate outside its dates is no CA\'s fault (was: "the CA given … did not verify"), and an alert about the client\'s certificate (expired, revoked, unknown, unsupported) is the client certificate\'s (was: "add --ca-cert")', () => {
  for (const errno of ['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']) assert.equal(tlsFailureKind(errno, 'certificate has expired'), 'validity', errno);
  for (const alert of ['CERTIFICATE_EXPIRED', 'CERTIFICATE_REVOKED', 'CERTIFICATE_UNKNOWN', 'UNSUPPORTED_CERTIFICATE', 'BAD_CERTIFICATE', 'UNKNOWN_CA']) {
    assert.equal(tlsFailureKind(`ERR_SSL_SSLV3_ALERT_${alert}`, ''), 'client-certificate', alert);
  }
  assert.equal(tlsFailureKind('EPROTO', 'write EPROTO …:sslv3 alert certificate expired:…:SSL alert number 45'), 'client-certificate', 'the alert read from the message');
  assert.equal(tlsFailureKind('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'), 'untrusted');
  const dir = mkdtempSync(join(tmpdir(), 'regpush-tls-validity-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = join(dir, 'ca.crt');
  writeFileSync(ca, 'not read for a hint');
  const r = tlsResolver({ certsDirs: [], caCerts: { 'reg:5000': [ca] } }, undefined, CONNECTION_FLAG_NAMES);
  const hint = r.hint('reg:5000', 'validity');
  assert.equal(hint, 'the certificate of reg:5000 is outside its validity dates (expired, or not valid yet): the registry\'s operator renews it, or this machine\'s clock is wrong; no CA setting changes that');
  assert.doesNotMatch(hint, /--ca-cert|did not verify/);
});
