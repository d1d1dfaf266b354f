// The library's options that name registry hosts (tls.verifyOff, tls.caCerts, tls.clientCerts,
// insecureTlsRegistries, mirrors): an entry that can name no registry (a URL, a path, a typo)
// matched none and changed nothing, and the call went on to fail on TLS (or, against a registry
// that needed none of it, to succeed without a word). Each is E_USAGE naming the operation, the
// option and the entry, before any request; every form that can match passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, inspect, listTags, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

/** What `call` rejects with (it must reject). */
async function rejection(call: Promise<unknown>): Promise<RegpushError> {
  return call.then(
    () => assert.fail('it succeeded'),
    (e: RegpushError) => e,
  );
}

const HOST_OR_RANGE = 'a registry (host[:port]) or address range (10.0.0.0/8)';

test('a registry host option whose entry names no registry is E_USAGE naming the call, the option and the entry, before any request', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const base = fakeLibraryOptions(reg);
  const cases: [string, object, string][] = [
    ['tls.verifyOff with a scheme', { tls: { verifyOff: ['https://reg:5000'] } }, `tls.verifyOff entry "https://reg:5000" is not ${HOST_OR_RANGE}`],
    ['tls.verifyOff with a path', { tls: { verifyOff: ['reg:5000/team'] } }, `tls.verifyOff entry "reg:5000/team" is not ${HOST_OR_RANGE}`],
    ['tls.verifyOff empty', { tls: { verifyOff: [''] } }, `tls.verifyOff entry "" is not ${HOST_OR_RANGE}`],
    ['tls.caCerts key', { tls: { caCerts: { 'no host!': ['/ca.pem'] } } }, 'tls.caCerts key "no host!" is not a registry (host[:port])'],
    ['tls.caCerts key a range', { tls: { caCerts: { '10.0.0.0/8': ['/ca.pem'] } } }, 'tls.caCerts key "10.0.0.0/8" is not a registry (host[:port])'],
    ['tls.clientCerts key', { tls: { clientCerts: { 'no host!': { cert: '/c.pem', key: '/k.pem' } } } }, 'tls.clientCerts key "no host!" is not a registry (host[:port])'],
    ['insecureTlsRegistries key', { insecureTlsRegistries: { 'no host!': 'x' } }, `insecureTlsRegistries key "no host!" is not ${HOST_OR_RANGE}`],
    ['a URL key with a password', { tls: { caCerts: { 'https://u:secret@reg': ['/ca.pem'] } } }, 'tls.caCerts key "https://***@reg" is not a registry (host[:port])'],
    ['mirrors key', { mirrors: { 'no host!': ['m.example'] } }, 'mirrors key "no host!" is not a registry (host[:port]) or registry/namespace'],
    ['mirrors entry', { mirrors: { 'docker.io': ['not a host'] } }, 'mirrors entry "not a host" (a mirror of docker.io) is not a host[:port][/path]'],
  ];
  const ops: [string, (patch: object) => Promise<unknown>][] = [
    ['copy()', (p) => copy({ from: reg.ref('app:1'), to: [reg.ref('app:2')], ...base, ...p })],
    ['inspect()', (p) => inspect(reg.ref('app:1'), { ...base, ...p })],
    ['listTags()', (p) => listTags(reg.ref('app'), { ...base, ...p })],
  ];
  for (const [op, call] of ops) {
    for (const [what, patch, message] of cases) {
      const e = await rejection(call(patch));
      assert.equal(e.code, 'E_USAGE', `${op} ${what}: ${e.message}`);
      assert.equal(e.message, `${op}: ${message}`, `${op} ${what}`);
    }
  }
  assert.equal(reg.count(), 0, 'nothing was sent');
});

test('every form a registry host option matches by passes its check: host[:port], a bare or bracketed IPv6 address, an address range where ranges match, undefined entries', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const tls = {
    verifyOff: ['other.example', 'other.example:5000', '10.0.0.0/8', 'fd00::2', '[fd00::3]:5000'],
    caCerts: { 'other.example:5000': ['/nonexistent/ca.pem'], 'fd00::2': ['/nonexistent/ca.pem'], 'unused.example': undefined },
    clientCerts: { 'Other.Example': { cert: '/nonexistent/c.pem', key: '/nonexistent/k.pem' } },
  };
  const insecureTlsRegistries = { 'other.example:5000': 'insecure = true in registries.conf', '192.168.0.0/16': 'insecure-registries in daemon.json' };
  const mirrors = { 'docker.io/library': ['mirror.example:5000/hub'], 'unused.example': undefined };
  const r = await inspect(reg.ref('app:1'), { ...fakeLibraryOptions(reg), tls, insecureTlsRegistries, mirrors } as never);
  assert.match(r.digest, /^sha256:/);
});
