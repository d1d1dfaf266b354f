// certs.d roots of an operation: Podman's per-user ~/.config/containers/certs.d is read first, then
// the system roots, as containers/image reads them (docker/docker_client.go dockerCertDir); the
// home directory comes from the options (homeDir, else env.HOME), never from process.env.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transportFor } from '../../src/registry/operation-transport.js';
import { localhostCert } from '../fixtures/localhost-cert.js';

test('a CA in ~/.config/containers/certs.d/HOST/ is trusted (home from homeDir or env.HOME); REGPUSH_CERTS_DIRS-style certsDirs replace the defaults', async (t) => {
  const cert = localhostCert(t);
  if (!cert) return;
  const server = https.createServer({ key: cert.key, cert: cert.cert }, (_req, res) => res.end('registry'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const host = `localhost:${(server.address() as AddressInfo).port}`;
  const home = mkdtempSync(join(tmpdir(), 'regpush-home-certs-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  mkdirSync(join(home, '.config/containers/certs.d', host), { recursive: true });
  copyFileSync(cert.certFile, join(home, '.config/containers/certs.d', host, 'ca.crt'));
  const get = async (opts: Parameters<typeof transportFor>[0]): Promise<string> => {
    const transport = transportFor({ retries: 0, ...opts });
    try {
      const res = await transport.send({ method: 'GET', url: `https://${host}/v2/` });
      res.body.resume();
      return String(res.status);
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    } finally {
      transport.close();
    }
  };
  assert.equal(await get({ homeDir: home }), '200');
  assert.equal(await get({ env: { HOME: home } }), '200');
  // Before: only /etc/containers/certs.d and /etc/docker/certs.d were read.
  assert.equal(await get({ env: {} }), 'E_TLS', 'no home directory given: not read');
  assert.equal(await get({ homeDir: home, tls: { certsDirs: [] } }), 'E_TLS', 'roots given replace the defaults');
});
