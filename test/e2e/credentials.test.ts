// Credentials from every place users keep them, each in its own test against the real Basic and
// token registries: flags, env, docker config `auths`, a `credHelpers` entry (a helper script on
// PATH), a `credsStore`, an `identitytoken`, Podman's auth.json (REGISTRY_AUTH_FILE and
// $XDG_RUNTIME_DIR), and `regpush login` / `logout` writing Docker's format (helper or file).
import assert from 'node:assert/strict';
import { assertValidOutput } from './report-schema.js';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { fetchToken, imageRef, loadState, runCli, tempDir } from './harness.js';
import { copy, type RegpushError } from '../../src/index.js';

const state = loadState();
const R = state.registries;
const run = `k${process.pid}${Date.now().toString(36)}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const SOURCE = imageRef(R.token, 'base/busybox:v2s2'); // token auth: needs alice's credentials to read
let seq = 0;
const target = () => imageRef(R.basic, `${run}/creds-${++seq}:1`); // Basic auth: needs credentials to write

/** A home of its own: no host credential can leak in (docker config, podman files, env). */
function isolatedEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const home = tempDir('regpush-home-');
  return {
    HOME: home,
    DOCKER_CONFIG: join(home, '.docker'),
    REGISTRY_AUTH_FILE: undefined,
    // Set (to a folder that does not exist) so that the machine's /run/containers/<uid>/auth.json,
    // read when XDG_RUNTIME_DIR is unset, stays out.
    XDG_RUNTIME_DIR: join(home, 'run'),
    XDG_CONFIG_HOME: undefined,
    REGPUSH_FROM_USER: undefined,
    REGPUSH_FROM_PASSWORD: undefined,
    REGPUSH_TO_USER: undefined,
    REGPUSH_TO_PASSWORD: undefined,
    REGPUSH_FROM_TOKEN: undefined,
    REGPUSH_TO_TOKEN: undefined,
    REGPUSH_FROM_IDENTITY_TOKEN: undefined,
    REGPUSH_TO_IDENTITY_TOKEN: undefined,
    ...extra,
  };
}

function writeJson(file: string, data: unknown): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify(data, null, 2));
}

/** Both registries' credentials as an `auths` object. */
function auths(): Record<string, { auth: string }> {
  return {
    [R.token.host]: { auth: b64(`${R.token.user}:${R.token.password}`) },
    [R.basic.host]: { auth: b64(`${R.basic.user}:${R.basic.password}`) },
  };
}

/** Copies the token-auth source to a Basic-auth target and checks it worked. */
async function copyWorks(env: Record<string, string | undefined>, extraArgs: string[] = []): Promise<void> {
  const dst = target();
  const r = await runCli(['copy', SOURCE, dst, ...extraArgs], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${dst.replace(/:1$/, '')}@${state.images.token['base/busybox:v2s2'].digest}\n`);
}

/**
 * Installs `docker-credential-regpushtest` (a small node script) in a temp dir: `get` answers
 * from a JSON store, `store`/`erase` change it; every call is logged as "<action> <server>".
 */
function installHelper(initial: Record<string, { Username: string; Secret: string }>): { binDir: string; log: () => string[]; store: () => Record<string, { Username: string; Secret: string }> } {
  const dir = tempDir('regpush-helper-');
  const storeFile = join(dir, 'store.json');
  const logFile = join(dir, 'calls.log');
  writeFileSync(storeFile, JSON.stringify(initial));
  writeFileSync(logFile, '');
  const script = `#!${process.execPath}
const fs = require('node:fs');
const action = process.argv[2];
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', () => {
  const db = JSON.parse(fs.readFileSync(${JSON.stringify(storeFile)}, 'utf8'));
  const server = action === 'store' ? JSON.parse(input).ServerURL : input.trim();
  fs.appendFileSync(${JSON.stringify(logFile)}, action + ' ' + server + '\\n');
  if (action === 'get') {
    const e = db[server];
    if (!e) { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); }
    process.stdout.write(JSON.stringify({ ServerURL: server, Username: e.Username, Secret: e.Secret }));
  } else if (action === 'store') {
    const j = JSON.parse(input);
    db[j.ServerURL] = { Username: j.Username, Secret: j.Secret };
    fs.writeFileSync(${JSON.stringify(storeFile)}, JSON.stringify(db));
  } else if (action === 'erase') {
    if (!db[server]) { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); }
    delete db[server];
    fs.writeFileSync(${JSON.stringify(storeFile)}, JSON.stringify(db));
  } else { process.stdout.write('unknown action\\n'); process.exit(1); }
});
`;
  writeFileSync(join(dir, 'docker-credential-regpushtest'), script, { mode: 0o755 });
  return {
    binDir: dir,
    log: () => readFileSync(logFile, 'utf8').split('\n').filter(Boolean),
    store: () => JSON.parse(readFileSync(storeFile, 'utf8')),
  };
}

const helperCreds = () => ({
  [R.token.host]: { Username: R.token.user!, Secret: R.token.password! },
  [R.basic.host]: { Username: R.basic.user!, Secret: R.basic.password! },
});

test('without credentials the token source refuses: exit 3 with a hint (the baseline for the tests below)', async () => {
  const r = await runCli(['copy', SOURCE, target()], { env: isolatedEnv() });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /regpush login 127\.0\.0\.1:\d+.* \[E_AUTH\]$/m);
});

test('credentials from flags (--from-user/--from-password, --to-user + --password-stdin)', async () => {
  await copyWorks(isolatedEnv(), ['--from-user', R.token.user!, '--from-password', R.token.password!, '--to-user', R.basic.user!, '--to-password', R.basic.password!]);
  const dst = target();
  const r = await runCli(['copy', SOURCE, dst, '--from-user', R.token.user!, '--from-password', R.token.password!, '--to-user', R.basic.user!, '--password-stdin'], {
    env: isolatedEnv(),
    input: `${R.basic.password}\n`,
  });
  assert.equal(r.code, 0, r.stderr);
});

test('credentials from env (REGPUSH_FROM_* and REGPUSH_TO_*)', async () => {
  await copyWorks(isolatedEnv({
    REGPUSH_FROM_USER: R.token.user,
    REGPUSH_FROM_PASSWORD: R.token.password,
    REGPUSH_TO_USER: R.basic.user,
    REGPUSH_TO_PASSWORD: R.basic.password,
  }));
});

test('library: credentials.registries gives each registry of one copy its own login (token source, Basic and token targets), over credentials.from/.to', async () => {
  const wrong = { username: 'nobody', password: 'not-a-password' };
  const login = (r: typeof R.basic) => ({ username: r.user!, password: r.password! });
  const to = [imageRef(R.basic, `${run}/per-registry:1`), imageRef(R.token, `${run}/per-registry:1`)];
  // The transport's retries as a user has them. (distribution's blob HEAD 500 while a mount of that
  // blob into the same repository writes its link, seen once here in CI, is settled by the mount's
  // answer: planOrMounted in src/transfer/target-set.ts, test/unit/engine-early.test.ts.)
  const result = await copy({
    from: SOURCE,
    to,
    env: isolatedEnv(),
    credentials: { from: wrong, to: wrong, registries: { [R.basic.host]: login(R.basic), [R.token.host]: login(R.token) } },
  });
  assert.deepEqual(result.targets.map((t) => [t.target, t.ok]), to.map((t) => [t, true]));
  // The role credential alone goes to both targets: the Basic login is refused by the token registry's service.
  const e = await copy({ from: SOURCE, to, env: isolatedEnv(), retries: 0, credentials: { from: login(R.token), to: login(R.basic) } }).then(
    () => assert.fail('it succeeded'),
    (err: RegpushError) => err,
  );
  assert.equal(e.code, 'E_PARTIAL', e.message);
});

test('credentials from docker config.json "auths" ($DOCKER_CONFIG)', async () => {
  const env = isolatedEnv();
  writeJson(join(env.DOCKER_CONFIG!, 'config.json'), { auths: auths() });
  await copyWorks(env);
});

test('credentials from ~/.docker/config.json when DOCKER_CONFIG is not set, username/password form', async () => {
  const env = isolatedEnv({ DOCKER_CONFIG: undefined });
  writeJson(join(env.HOME!, '.docker', 'config.json'), {
    auths: {
      [`https://${R.token.host}`]: { username: R.token.user, password: R.token.password },
      [`http://${R.basic.host}/v2/`]: { username: R.basic.user, password: R.basic.password },
    },
  });
  await copyWorks(env);
});

test('credentials from a "credHelpers" entry (docker-credential-regpushtest on PATH)', async () => {
  const helper = installHelper(helperCreds());
  const env = isolatedEnv();
  env.PATH = `${helper.binDir}${delimiter}${process.env.PATH}`;
  writeJson(join(env.DOCKER_CONFIG!, 'config.json'), { credHelpers: { [R.token.host]: 'regpushtest', [R.basic.host]: 'regpushtest' } });
  await copyWorks(env);
  assert.deepEqual(new Set(helper.log()), new Set([`get ${R.token.host}`, `get ${R.basic.host}`]));
});

test('credentials from "credsStore" (the default helper for every registry)', async () => {
  const helper = installHelper(helperCreds());
  const env = isolatedEnv();
  env.PATH = `${helper.binDir}${delimiter}${process.env.PATH}`;
  writeJson(join(env.DOCKER_CONFIG!, 'config.json'), { credsStore: 'regpushtest' });
  await copyWorks(env);
  assert.ok(helper.log().includes(`get ${R.token.host}`), helper.log().join('\n'));
  assert.ok(helper.log().includes(`get ${R.basic.host}`), helper.log().join('\n'));
});

test('an "identitytoken" (OAuth2 refresh token) in docker config.json for the token registry', async () => {
  const got = await fetchToken({ scopes: [], creds: { user: R.token.user!, password: R.token.password! }, offline: true });
  assert.equal(got.status, 200);
  const refresh = got.body.refresh_token as string;
  assert.ok(refresh, JSON.stringify(got.body));
  const env = isolatedEnv();
  writeJson(join(env.DOCKER_CONFIG!, 'config.json'), {
    auths: { [R.token.host]: { auth: b64(`${R.token.user}:`), identitytoken: refresh }, [R.basic.host]: auths()[R.basic.host] },
  });
  await copyWorks(env);
});

test('credentials from a Podman auth.json named by REGISTRY_AUTH_FILE', async () => {
  const dir = tempDir('regpush-podman-');
  const file = join(dir, 'auth.json');
  writeJson(file, { auths: auths() });
  await copyWorks(isolatedEnv({ REGISTRY_AUTH_FILE: file }));
});

test('REGISTRY_AUTH_FILE is the only file read; one that does not exist is refused (exit 2); regpush login writes it (and its folder), logout edits it', async () => {
  const dir = tempDir('regpush-authfile-');
  const file = join(dir, 'ci', 'auth.json');
  const env = isolatedEnv({ REGISTRY_AUTH_FILE: file });
  const dockerFile = join(env.DOCKER_CONFIG!, 'config.json');
  writeJson(dockerFile, { auths: auths() });
  // Refused before any request, even where no registry would ask for credentials.
  for (const args of [['copy', SOURCE, target()], ['inspect', imageRef(R.anon, 'base/busybox:v2s2')], ['tags', imageRef(R.anon, 'base/busybox')]]) {
    const missing = await runCli(args, { env });
    assert.equal(missing.code, 2, missing.stderr);
    assert.equal(missing.stderr, `regpush: error: REGISTRY_AUTH_FILE names ${file}, which does not exist: write it (regpush login does) or unset the variable [E_INPUT]\n`);
  }
  for (const reg of [R.token, R.basic]) {
    const ok = await runCli(['login', '-u', reg.user!, '--password-stdin', reg.host], { env, input: `${reg.password}\n` });
    assert.equal(ok.code, 0, ok.stderr);
  }
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).auths, auths());
  await copyWorks(env);
  const out = await runCli(['logout', R.basic.host], { env });
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(file, 'utf8')).auths), [R.token.host]);
  const denied = await runCli(['copy', SOURCE, target()], { env });
  assert.equal(denied.code, 3, denied.stderr);
  assert.match(denied.stderr.trim(), / \[E_AUTH\]$/, 'no login left for the target: credentials missing');
  assert.ok(denied.stderr.includes(`REGISTRY_AUTH_FILE (${file})`), denied.stderr);
  assert.deepEqual(JSON.parse(readFileSync(dockerFile, 'utf8')).auths, auths(), 'Docker config.json untouched');
});

test('an auths key naming a namespace wins there over the registry key, per repository within one run (containers-auth.json(5))', async () => {
  // The registry key is the pull-only reader's; alice (who may push) is the login for ${run}/w only.
  const reader = R.token.users!.reader!;
  const file = join(tempDir('regpush-ns-'), 'auth.json');
  writeJson(file, {
    auths: {
      [R.token.host]: { auth: b64(`reader:${reader}`) },
      [`${R.token.host}/${run}/w`]: { auth: b64(`${R.token.user}:${R.token.password}`) },
    },
  });
  const mine = imageRef(R.token, `${run}/w/app:1`);
  const notMine = imageRef(R.token, `${run}/wx/app:1`); // a string prefix of the key, not a path prefix
  const r = await runCli(['copy', SOURCE, mine, notMine], { env: isolatedEnv({ REGISTRY_AUTH_FILE: file }) });
  assert.equal(r.code, 8, r.stderr);
  assert.equal(r.stdout, `${mine.replace(/:1$/, '')}@${state.images.token['base/busybox:v2s2'].digest}\n`);
  // The token service accepted reader, who may pull but not push there: a missing right
  // (E_DENIED, naming it), not a wrong password.
  assert.ok(r.stderr.includes(`error: 1 of 2 targets failed: ${notMine} (E_DENIED: access to ${run}/wx/app at ${R.token.host} denied: the credentials for user reader were accepted by the token service `), r.stderr);
  assert.ok(r.stderr.includes(', but not for writing (push); check your rights on the repository)'), r.stderr);
});

test('regpush login HOST/NAMESPACE stores that key in Podman\'s auth.json (as podman login does), never in config.json; it wins there over the registry login in config.json; logout of it removes only it', async () => {
  const env = isolatedEnv();
  const config = join(env.DOCKER_CONFIG!, 'config.json');
  const podman = join(env.XDG_RUNTIME_DIR!, 'containers', 'auth.json');
  mkdirSync(env.XDG_RUNTIME_DIR!, { mode: 0o700 }); // the login manager's to make: a namespace login refuses a missing one
  const reader = R.token.users!.reader!;
  const ns = `${R.token.host}/${run}/n`;
  const asReader = await runCli(['login', '-u', 'reader', '--password-stdin', R.token.host], { env, input: `${reader}\n` });
  assert.equal(asReader.code, 0, asReader.stderr);
  const ok = await runCli(['login', '-u', R.token.user!, '--password-stdin', ns], { env, input: `${R.token.password}\n` });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `Login Succeeded: ${ns}\n`);
  // --json: the result object (the same login again; nothing else changes).
  const asJson = await runCli(['login', '--json', '-u', R.token.user!, '--password-stdin', ns], { env, input: `${R.token.password}\n` });
  assert.equal(asJson.code, 0, asJson.stderr);
  assert.deepEqual(JSON.parse(asJson.stdout), { registry: R.token.host, namespace: `${run}/n` });
  assertValidOutput('login', JSON.parse(asJson.stdout));
  // Docker matches config.json keys by host: there the key would be a login for the whole registry.
  assert.deepEqual(JSON.parse(readFileSync(config, 'utf8')).auths, { [R.token.host]: { auth: b64(`reader:${reader}`) } });
  assert.deepEqual(JSON.parse(readFileSync(podman, 'utf8')).auths, { [ns]: { auth: b64(`${R.token.user}:${R.token.password}`) } });
  const dst = imageRef(R.token, `${run}/n/app:1`);
  const copied = await runCli(['copy', SOURCE, dst], { env });
  assert.equal(copied.code, 0, copied.stderr);
  const out = await runCli(['logout', '--json', ns], { env });
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), { registry: R.token.host, namespace: `${run}/n`, removed: true });
  assertValidOutput('logout', JSON.parse(out.stdout));
  assert.deepEqual(JSON.parse(readFileSync(podman, 'utf8')).auths, {});
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(config, 'utf8')).auths), [R.token.host]);
  const denied = await runCli(['copy', SOURCE, imageRef(R.token, `${run}/n/app:2`)], { env });
  assert.equal(denied.code, 3, denied.stderr);
  // The namespace login gone, the registry's own login (reader, pull only) is used: its push refused is E_DENIED (README, exit 3).
  assert.match(denied.stderr.trim(), / \[E_DENIED\]$/);
});

test('credentials from $XDG_RUNTIME_DIR/containers/auth.json (Podman\'s default)', async () => {
  const runtime = tempDir('regpush-xdg-');
  writeJson(join(runtime, 'containers', 'auth.json'), { auths: auths() });
  await copyWorks(isolatedEnv({ XDG_RUNTIME_DIR: runtime }));
});

test('regpush login checks the credentials, writes config.json auths; logout removes them', async () => {
  const env = isolatedEnv();
  const config = join(env.DOCKER_CONFIG!, 'config.json');
  const wrong = await runCli(['login', '-u', R.token.user!, '--password-stdin', R.token.host], { env, input: 'not-the-password\n' });
  assert.equal(wrong.code, 3, wrong.stderr);
  assert.match(wrong.stderr, /login to 127\.0\.0\.1:\d+ failed: .*nothing was stored\) \[E_AUTH\]/);
  assert.ok(!existsSync(config), 'a refused login stored something');

  for (const reg of [R.token, R.basic]) {
    const ok = await runCli(['login', '--username', reg.user!, '--password-stdin', reg.host], { env, input: `${reg.password}\n` });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, `Login Succeeded: ${reg.host}\n`);
    assert.ok(!ok.stderr.includes(reg.password!));
  }
  const written = JSON.parse(readFileSync(config, 'utf8'));
  assert.deepEqual(written.auths, auths());
  await copyWorks(env);

  const out = await runCli(['logout', R.basic.host], { env });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, `Removed login credentials for ${R.basic.host}\n`);
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(config, 'utf8')).auths), [R.token.host]);
  const denied = await runCli(['copy', SOURCE, target()], { env });
  assert.equal(denied.code, 3, denied.stderr);
  assert.match(denied.stderr.trim(), / \[E_AUTH\]$/, 'no login left for the target: credentials missing');
  const again = await runCli(['logout', R.basic.host], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, '');
  assert.match(again.stderr, /Not logged in/);
  const againJson = await runCli(['logout', '--json', R.basic.host], { env });
  assert.equal(againJson.code, 0, againJson.stderr);
  assert.deepEqual(JSON.parse(againJson.stdout), { registry: R.basic.host, removed: false });
});

test('logout with a Podman login for the registry left in auth.json: the Docker config entry goes, and the warning (and --json) name the file still used', async () => {
  const env = isolatedEnv();
  const config = join(env.DOCKER_CONFIG!, 'config.json');
  const podman = join(env.XDG_RUNTIME_DIR!, 'containers', 'auth.json');
  writeJson(config, { auths: { [R.basic.host]: auths()[R.basic.host] } });
  writeJson(podman, { auths: { ...auths(), [`${R.basic.host}/team`]: auths()[R.basic.host] } });

  const out = await runCli(['logout', R.basic.host], { env });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, `Removed login credentials for ${R.basic.host}\n`);
  assert.deepEqual(JSON.parse(readFileSync(config, 'utf8')).auths, {});
  assert.equal(JSON.parse(readFileSync(podman, 'utf8')).auths[R.basic.host].auth, auths()[R.basic.host]!.auth, 'the other tool\'s file was edited');
  assert.ok(out.stderr.includes(`a login for ${R.basic.host} is still stored in ${podman} and is still used (podman logout ${R.basic.host} removes it from auth.json)`), out.stderr);
  assert.doesNotMatch(out.stderr, /Not logged in/);
  // What the warning says is what happens: the push still authenticates with the Podman login.
  await copyWorks(env);

  const again = await runCli(['logout', '--json', R.basic.host], { env });
  assert.equal(again.code, 0, again.stderr);
  const report = JSON.parse(again.stdout);
  assertValidOutput('logout', report);
  assert.deepEqual(report, { registry: R.basic.host, removed: false, stillStoredIn: [podman] });
  assert.doesNotMatch(again.stderr, /Not logged in/);

  // A namespace's logout asks about that key only; the registry's Podman login is not it. It edits
  // the auth.json where namespace logins are kept (regpush's and Podman's alike).
  const ns = await runCli(['logout', '--json', `${R.basic.host}/other`], { env });
  assert.deepEqual(JSON.parse(ns.stdout), { registry: R.basic.host, namespace: 'other', removed: false });
  const team = await runCli(['logout', '--json', `${R.basic.host}/team`], { env });
  assert.deepEqual(JSON.parse(team.stdout), { registry: R.basic.host, namespace: 'team', removed: true });
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(podman, 'utf8')).auths), Object.keys(auths()));
});

test('regpush login stores through the configured credential helper, not in the file; logout erases there', async () => {
  const helper = installHelper({});
  const env = isolatedEnv();
  env.PATH = `${helper.binDir}${delimiter}${process.env.PATH}`;
  const config = join(env.DOCKER_CONFIG!, 'config.json');
  writeJson(config, { credHelpers: { [R.basic.host]: 'regpushtest' }, credsStore: 'regpushtest', experimental: 'enabled' });
  for (const reg of [R.basic, R.token]) {
    const r = await runCli(['login', '-u', reg.user!, '--password-stdin', reg.host], { env, input: reg.password! });
    assert.equal(r.code, 0, r.stderr);
  }
  assert.deepEqual(helper.store(), helperCreds());
  const file = JSON.parse(readFileSync(config, 'utf8'));
  assert.equal(file.experimental, 'enabled', 'other settings are kept');
  assert.ok(!JSON.stringify(file).includes(R.basic.password!) && !JSON.stringify(file).includes(R.token.password!), 'no secret in the file');
  await copyWorks(env);
  const out = await runCli(['logout', R.basic.host], { env });
  assert.equal(out.code, 0, out.stderr);
  assert.ok(helper.log().includes(`erase ${R.basic.host}`), helper.log().join('\n'));
  assert.deepEqual(Object.keys(helper.store()), [R.token.host]);
});

test('login without a password and without a terminal says how to give one (exit 2)', async () => {
  const r = await runCli(['login', '-u', 'alice', R.basic.host], { env: isolatedEnv() });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--password-stdin.* \[E_USAGE\]$/m);
});
