// What a run does with credentials a registry refuses, through the library against in-process fake
// registries: a refused password is sent once per run, not once per image (an LDAP-backed Harbor,
// Quay or Artifactory locks an account after a few failed logins; Docker Hub throttles them).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { parseSyncFile, sync, type RegpushError, type SyncResult } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const USER = 'alice';
const PASSWORD = 'refusal-test-Password-1';
const WRONG = 'refusal-test-WRONG-2';

/** A sync of `n` images, each its own repository, from `src` into `dst`/mirror. */
function syncSpec(src: FakeRegistry, dst: FakeRegistry, n: number) {
  const names = Array.from({ length: n }, (_, i) => `team/app${i}`);
  for (const name of names) src.seedImage(name, { tags: ['1'] });
  return parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...names.map((name) => `  - { source: ${src.ref(name)}, tags: ["1"] }`), ''].join('\n'), 'sync.yaml');
}

/**
 * Each image's failure, from the sync's error: `code` is E_AUTH where every image fails for its
 * credentials (the sync fails as they do), E_PARTIAL where some images were copied.
 */
async function failures(p: Promise<SyncResult>, code = 'E_AUTH'): Promise<{ code?: string; message?: string }[]> {
  const err = await p.then(() => assert.fail('the sync should fail'), (e: RegpushError) => e);
  assert.equal(err.code, code, String(err));
  return (err.details.result as SyncResult).units.flatMap((u) => u.targets.map((t) => ({ code: t.error?.code, message: t.error?.message })));
}

test('a sync with a wrong target password into a token registry: one failed login, every image E_AUTH with the same message', async () => {
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  const spec = syncSpec(src, dst, 8);
  const base = fakeLibraryOptions(src, dst);
  // One image at a time; the next image's token is asked for while one runs (a sync's prefetch),
  // so the second image's GET may already be on its way when the first one's 401 comes back.
  const failed = await failures(sync({ spec, images: 1, retries: 0, ...base, env: { ...base.env, REGPUSH_TO_USER: USER, REGPUSH_TO_PASSWORD: WRONG } }));
  const tokenGets = dst.requests({ kind: 'token' });
  assert.ok(tokenGets.length <= 2, `token requests: ${tokenGets.length} (one per image without the run's memory of the refusal)`);
  assert.ok(tokenGets.every((t) => t.status === 401));
  assert.equal(failed.length, 8);
  for (const f of failed) {
    assert.equal(f.code, 'E_AUTH');
    assert.match(f.message!, /^authentication to .* failed: .* rejected the credentials for user alice/);
    assert.ok(!f.message!.includes(WRONG));
  }
  assert.equal(dst.requests({ kind: 'manifest', method: 'PUT' }).length, 0);
});

test('a sync with a wrong target password into a Basic registry: the password goes out once', async () => {
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'basic', user: USER, password: PASSWORD } });
  let withPassword = 0;
  dst.fault({ when: (q) => (q.headers.authorization ? ++withPassword : 0) < 0 }, { kind: 'status', status: 500 });
  const spec = syncSpec(src, dst, 8);
  const base = fakeLibraryOptions(src, dst);
  const failed = await failures(sync({ spec, images: 1, retries: 0, ...base, env: { ...base.env, REGPUSH_TO_USER: USER, REGPUSH_TO_PASSWORD: WRONG } }));
  assert.equal(failed.length, 8);
  for (const f of failed) {
    assert.equal(f.code, 'E_AUTH');
    assert.match(f.message!, /rejected the credentials for user alice/);
  }
  assert.equal(withPassword, 1, 'requests that carried the wrong password');
});

// ---------------------------------------------------------------------------------------------
// Credentials from a credential helper whose token runs out during the run (gcloud: 1 h, ECR:
// 12 h, ACR: 3 h): the helper is asked again once the registry refuses what it gave.

const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/**
 * `docker-credential-rotest` on a PATH of its own, and a home whose config.json sends `registry`
 * to it: `get` answers USER with the secret in a file (`setSecret` changes it) and logs each run.
 */
function rotatingHelper(registry: string, secret: string): { env: Record<string, string>; homeDir: string; setSecret: (s: string) => void; runs: () => number } {
  const dir = mkdtempSync(join(tmpdir(), 'regpush-rotest-'));
  temps.push(dir);
  const secretFile = join(dir, 'secret');
  const logFile = join(dir, 'runs.log');
  writeFileSync(secretFile, secret);
  writeFileSync(logFile, '');
  const script = `#!${process.execPath}
const fs = require('node:fs');
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', () => {
  if (process.argv[2] !== 'get') { process.stdout.write('unsupported\\n'); process.exit(1); }
  fs.appendFileSync(${JSON.stringify(logFile)}, 'get ' + input.trim() + '\\n');
  let secret = fs.readFileSync(${JSON.stringify(secretFile)}, 'utf8');
  // "mint:": a new secret on each run, as a helper that mints a token per call.
  if (secret.startsWith('mint:')) secret += '-' + fs.readFileSync(${JSON.stringify(logFile)}, 'utf8').split('\\n').length;
  process.stdout.write(JSON.stringify({ ServerURL: input.trim(), Username: ${JSON.stringify(USER)}, Secret: secret }));
});
`;
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'docker-credential-rotest'), script, { mode: 0o755 });
  const homeDir = join(dir, 'home');
  mkdirSync(join(homeDir, '.docker'), { recursive: true });
  writeFileSync(join(homeDir, '.docker', 'config.json'), JSON.stringify({ credHelpers: { [registry]: 'rotest' } }));
  return {
    env: { PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`, XDG_RUNTIME_DIR: join(dir, 'run') },
    homeDir,
    setSecret: (s) => writeFileSync(secretFile, s),
    runs: () => readFileSync(logFile, 'utf8').split('\n').filter(Boolean).length,
  };
}

const NEXT = 'refusal-test-Rotated-3';

test('a helper token that runs out mid-sync (token registry): refused once, the helper runs again, every image is copied', async () => {
  const src = await fake();
  const auth = { scheme: 'bearer' as const, user: USER, password: PASSWORD };
  const dst = await fake({ auth });
  const helper = rotatingHelper(dst.host, PASSWORD);
  // The second token request finds the old token gone: the token service now takes the new one
  // only, and the helper hands it out (as gcloud's does once its hour is over).
  let tokenRequests = 0;
  dst.fault({ kind: 'token', when: () => ++tokenRequests === 2 && rotate() }, { kind: 'status', status: 500 });
  const rotate = (): false => {
    auth.password = NEXT;
    helper.setSecret(NEXT);
    return false;
  };
  const spec = syncSpec(src, dst, 6);
  const r = await sync({ spec, retries: 0, ...fakeLibraryOptions(src, dst), env: helper.env, homeDir: helper.homeDir });
  assert.equal(r.totals.copied, 6);
  assert.equal(helper.runs(), 2, 'the helper ran at the start and once after the refusal: not once per image');
  const refused = dst.requests({ kind: 'token', status: 401 });
  assert.ok(refused.length >= 1, 'the old token was refused');
  assert.ok(refused.length <= 4, `refused token requests: ${refused.length} (only those sent before the first refusal came back)`);
});

test('a helper whose answer the token service keeps refusing: asked once more, then the refusal is remembered (no failed login per image)', async () => {
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  const helper = rotatingHelper(dst.host, WRONG);
  const spec = syncSpec(src, dst, 6);
  const failed = await failures(sync({ spec, images: 1, retries: 0, ...fakeLibraryOptions(src, dst), env: helper.env, homeDir: helper.homeDir }));
  assert.equal(failed.length, 6);
  for (const f of failed) assert.equal(f.code, 'E_AUTH', f.message);
  assert.equal(helper.runs(), 2, 'the first lookup and one more after the refusal');
  assert.ok(dst.requests({ kind: 'token' }).length <= 2, `token requests: ${dst.requests({ kind: 'token' }).length}`);
});

test('a helper that mints a new token on each run, none of them accepted: it runs once more in the run, not once per image', async () => {
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  const helper = rotatingHelper(dst.host, `mint:${WRONG}`);
  const spec = syncSpec(src, dst, 6);
  const failed = await failures(sync({ spec, images: 1, retries: 0, ...fakeLibraryOptions(src, dst), env: helper.env, homeDir: helper.homeDir }));
  for (const f of failed) assert.equal(f.code, 'E_AUTH', f.message);
  assert.equal(helper.runs(), 2);
  const tokenGets = dst.requests({ kind: 'token' }).length;
  assert.ok(tokenGets <= 3, `token requests: ${tokenGets} (the first secret, the one minted after its refusal, and a token asked for ahead)`);
});

test('a helper password that runs out mid-sync (Basic registry, as ECR\'s 12-hour one): refused once, the helper runs again, every image is copied', async () => {
  const src = await fake();
  const auth = { scheme: 'basic' as const, user: USER, password: PASSWORD };
  const dst = await fake({ auth });
  const helper = rotatingHelper(dst.host, PASSWORD);
  // The password changes as the second image's first request with credentials arrives.
  let rotated = false;
  dst.fault({ when: (q) => !rotated && !!q.headers.authorization && q.path.includes('/team/app1/') && (rotated = true) && rotate() }, { kind: 'status', status: 500 });
  const rotate = (): false => {
    auth.password = NEXT;
    helper.setSecret(NEXT);
    return false;
  };
  const spec = syncSpec(src, dst, 4);
  const r = await sync({ spec, images: 1, retries: 0, ...fakeLibraryOptions(src, dst), env: helper.env, homeDir: helper.homeDir });
  assert.ok(rotated);
  assert.equal(r.totals.copied, 4);
  assert.equal(helper.runs(), 2);
});

test('a config file rewritten mid-sync (another docker login): refused once, the file is read again, every image is copied', async () => {
  const src = await fake();
  const auth = { scheme: 'bearer' as const, user: USER, password: PASSWORD };
  const dst = await fake({ auth });
  const homeDir = mkdtempSync(join(tmpdir(), 'regpush-relogin-'));
  temps.push(homeDir);
  const config = join(homeDir, '.docker', 'config.json');
  const login = (password: string) => writeFileSync(config, JSON.stringify({ auths: { [dst.host]: { auth: Buffer.from(`${USER}:${password}`).toString('base64') } } }));
  mkdirSync(join(homeDir, '.docker'));
  login(PASSWORD);
  let tokenRequests = 0;
  dst.fault({ kind: 'token', when: () => ++tokenRequests === 2 && relogin() }, { kind: 'status', status: 500 });
  const relogin = (): false => {
    auth.password = NEXT;
    login(NEXT);
    return false;
  };
  const spec = syncSpec(src, dst, 4);
  const r = await sync({ spec, images: 1, retries: 0, ...fakeLibraryOptions(src, dst), homeDir });
  assert.equal(r.totals.copied, 4);
  assert.ok(dst.requests({ kind: 'token', status: 401 }).length >= 1);
});

// ---------------------------------------------------------------------------------------------
// A token service's 403, and a ready-made registry token the registry refuses.

test('a sync where the target token service answers 403 for one repository (GHCR, a package the user may not write): that image fails, its scope asked for once; every other image is copied', async () => {
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  const denied = (q: { query: URLSearchParams }) => q.query.getAll('scope').some((s) => s.includes('/app1:'));
  dst.fault({ kind: 'token', when: denied }, { kind: 'status', status: 403, code: 'DENIED', message: 'denied' });
  // Three tags of the refused repository: three images of the sync, each with its own client.
  src.seedImage('team/app1', { tags: ['2', '3'] });
  const names = ['team/app0', 'team/app1', 'team/app2'];
  for (const name of names) src.seedImage(name, { tags: ['1'] });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...names.map((name) => `  - { source: ${src.ref(name)}, tags: ${name === 'team/app1' ? '["1", "2", "3"]' : '["1"]'} }`), ''].join('\n'), 'sync.yaml');
  const base = fakeLibraryOptions(src, dst);
  const failed = await failures(sync({ spec, images: 1, retries: 0, ...base, env: { ...base.env, REGPUSH_TO_USER: USER, REGPUSH_TO_PASSWORD: PASSWORD } }), 'E_PARTIAL');
  const refused = failed.filter((f) => f.code !== undefined);
  assert.equal(refused.length, 3, JSON.stringify(failed));
  assert.equal(dst.requests({ kind: 'token', status: 403 }).length, 1, 'the refused scope was asked for once in the run');

  for (const f of refused) {
    assert.equal(f.code, 'E_AUTH');
    assert.match(f.message!, /refused a token for repository:mirror\/team\/app1:pull,push.* to user alice \(HTTP 403\)/);
  }
  for (const name of ['team/app0', 'team/app2']) assert.ok(dst.manifest(`mirror/${name}`, '1'), `${name} copied`);
});

test('a sync with a registry token (REGPUSH_TO_TOKEN) the target refuses: the token goes out once, every image E_AUTH with the same message', async () => {
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  const STALE = 'refusal-test-STALE-token-4';
  let withToken = 0;
  dst.fault({ when: (q) => (q.headers.authorization === `Bearer ${STALE}` ? ++withToken : 0) < 0 }, { kind: 'status', status: 500 });
  const spec = syncSpec(src, dst, 6);
  const base = fakeLibraryOptions(src, dst);
  const failed = await failures(sync({ spec, images: 1, retries: 0, ...base, env: { ...base.env, REGPUSH_TO_TOKEN: STALE } }));
  assert.equal(failed.length, 6);
  for (const f of failed) {
    assert.equal(f.code, 'E_AUTH');
    assert.equal(f.message, failed[0]!.message);
    assert.match(f.message!, /rejected the registry token/);
    assert.ok(!f.message!.includes(STALE));
  }
  assert.equal(withToken, 1, 'requests that carried the refused token (one per image without the run\'s memory of the refusal)');
});
