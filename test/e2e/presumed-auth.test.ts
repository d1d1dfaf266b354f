// A challenge presumed before the first request (src/auth/presumed-challenge.ts: Docker Hub's and
// GHCR's), against the real registry in token mode and its token service: a token asked for
// without a 401 must be one the registry accepts, and a presumption that names another service
// must give way to the registry's own challenge. The registries here are on 127.0.0.1, whose
// challenges regpush does not presume, so the presumption is passed in (RegistryClientOptions.presume).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpRegistryClient } from '../../src/registry/http-registry-client.js';
import { Transport } from '../../src/http/transport.js';
import { loadState, registryLogSince, logLinesSince, settledLogMark } from './harness.js';

const state = loadState();
const R = state.registries;
const TS = state.tokenService;
const seeded = state.images.token['base/busybox:oci'];

function client(service: string): { client: HttpRegistryClient; transport: Transport } {
  const transport = new Transport({ retry: { retries: 0 } });
  const c = new HttpRegistryClient({
    registry: R.token.host,
    transport,
    insecure: [R.token.host],
    scopes: ['repository:base/busybox:pull'],
    credential: async () => ({ username: R.token.user!, password: R.token.password! }),
    presume: () => ({ scheme: 'bearer', params: { realm: TS.realm, service } }),
  });
  return { client: c, transport };
}

test('token mode: a token asked for before any 401 is accepted; the registry answers the first request', async () => {
  const reg = await settledLogMark('token');
  const tok = await settledLogMark('tokenService');
  const { client: c, transport } = client(TS.service);
  try {
    const m = await c.getManifest('base/busybox', 'oci');
    assert.equal(m.digest, seeded.digest);
  } finally {
    transport.close();
  }
  const requests = (await registryLogSince('token', reg)).filter((r) => r.uri.startsWith('/v2/base/busybox/'));
  assert.deepEqual(requests.map((r) => `${r.method} ${r.status}`), ['GET 200'], 'no request answered 401');
  assert.equal((await logLinesSince('tokenService', tok)).length, 1, 'one token request');
});

test('token mode: a presumed service the registry does not accept gives way to its own challenge', async () => {
  const reg = await settledLogMark('token');
  const { client: c, transport } = client('another-service');
  try {
    const m = await c.getManifest('base/busybox', 'oci');
    assert.equal(m.digest, seeded.digest);
    // Later requests use the registry's challenge at once.
    await c.getManifest('base/busybox', 'oci');
  } finally {
    transport.close();
  }
  const requests = (await registryLogSince('token', reg)).filter((r) => r.uri.startsWith('/v2/base/busybox/'));
  assert.deepEqual(requests.map((r) => `${r.method} ${r.status}`), ['GET 401', 'GET 200', 'GET 200']);
});
