// tag and delete against an in-process token registry: what a refused write is called. A write
// refused by the registry after a read with the same credentials succeeded is E_DENIED (the
// permission is missing); a token service that fails on the way is not a refusal and stays E_AUTH.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, tagImage, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const USER = 'alice';
const PASSWORD = 'tag-test-Password-1';
const creds = { REGPUSH_TO_USER: USER, REGPUSH_TO_PASSWORD: PASSWORD };

test('tag: the registry refuses the manifest PUT and a fresh token changes nothing → E_DENIED', async () => {
  const reg = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  reg.seedImage('app', { tags: ['1'] });
  reg.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'status', status: 401 });
  const err = await tagImage(reg.ref('app:1'), ['2'], { ...fakeLibraryOptions(reg), env: creds, retries: 0 }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_DENIED', String(err));
  assert.equal(reg.manifest('app', '2'), undefined);
});

test('copy: the target refuses the manifest PUT and a fresh token changes nothing → E_DENIED, as tag says (it was E_AUTH, "check the credentials")', async () => {
  const src = await fake();
  src.seedImage('app', { tags: ['1'] });
  const reg = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  reg.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'status', status: 401 });
  const err = await copy({ from: src.ref('app:1'), to: [reg.ref('app:1')], ...fakeLibraryOptions(src, reg), env: creds, retries: 0 }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_DENIED', String(err));
  assert.match(err!.message, /^access to app at .* denied: the credentials for user alice were accepted by the token service .*, but not for writing \(push\)/);
  assert.equal(reg.manifest('app', '1'), undefined);
});

test('tag: the token service fails (503) when the write needs a new token → E_AUTH naming it, not E_DENIED', async () => {
  const reg = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  reg.seedImage('app', { tags: ['1'] });
  let tokens = 0;
  // The read's token is granted; the write is refused once, as a token gone stale would be, and
  // the token service is down when the client asks for a fresh one.
  reg.fault({ kind: 'token', when: () => ++tokens > 1 }, { kind: 'status', status: 503 });
  reg.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'status', status: 401 }, { times: 1 });
  const err = await tagImage(reg.ref('app:1'), ['2'], { ...fakeLibraryOptions(reg), env: creds, retries: 0 }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_AUTH', String(err));
  assert.match(err!.message, /answered HTTP 503/);
  assert.equal(reg.manifest('app', '2'), undefined);
});

test('tag at a registry anyone may read and only Basic may write (nginx limit_except, Nexus): a wrong password is E_AUTH, not "accepted for reading"; the right one tags', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const right = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  reg.fault({ kind: 'manifest', method: 'PUT', when: (q) => q.headers.authorization !== right }, { kind: 'status', status: 401, code: 'UNAUTHORIZED', headers: { 'www-authenticate': 'Basic realm="registry"' } });
  const err = await tagImage(reg.ref('app:1'), ['2'], { ...fakeLibraryOptions(reg), env: { REGPUSH_TO_USER: USER, REGPUSH_TO_PASSWORD: 'wrong' }, retries: 0 }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_AUTH', String(err));
  assert.match(err!.message, /the registry rejected the credentials for user alice/);
  assert.equal(reg.manifest('app', '2'), undefined);
  await tagImage(reg.ref('app:1'), ['2'], { ...fakeLibraryOptions(reg), env: creds, retries: 0 });
  assert.ok(reg.manifest('app', '2'));
});
