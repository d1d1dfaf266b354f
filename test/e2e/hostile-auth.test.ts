// Hostile credential sources and registries: a credential helper that hangs, one that prints its
// reply and then fails, and registries whose error messages echo the Basic credentials or the
// bearer token they received. The run must end with one clear line, and no secret known to it
// (password, base64 user:password, identity token, bearer token) may appear in anything it prints.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { startHostileRegistry, type HostileRequest } from '../fixtures/hostile-registry.js';
import { assertNoSecrets, assertOneErrorLine } from './fault-helpers.js';
import { imageRef, loadState, runCli, tempDir } from './harness.js';

const state = loadState();
const R = state.registries;
const run = `h${process.pid}${Date.now().toString(36)}`;
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

/** A home of its own, with a docker config naming `helpers` per registry host, and the helpers' dir first on PATH. */
function helperEnv(helpers: Record<string, string>, binDir: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const home = tempDir('regpush-home-');
  const dockerConfig = join(home, '.docker');
  mkdirSync(dockerConfig, { recursive: true });
  writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ credHelpers: helpers }));
  return {
    HOME: home,
    DOCKER_CONFIG: dockerConfig,
    PATH: `${binDir}${delimiter}${process.env.PATH}`,
    REGISTRY_AUTH_FILE: undefined,
    XDG_RUNTIME_DIR: join(home, 'run'), // unset, /run/containers/<uid>/auth.json of the machine would be read
    XDG_CONFIG_HOME: undefined,
    REGPUSH_FROM_USER: undefined,
    REGPUSH_FROM_PASSWORD: undefined,
    REGPUSH_FROM_TOKEN: undefined,
    REGPUSH_FROM_IDENTITY_TOKEN: undefined,
    ...extra,
  };
}

/** Writes `docker-credential-<name>` (a shell script) into a fresh dir and returns the dir. */
function installScript(name: string, body: string): string {
  const dir = tempDir('regpush-helper-');
  writeFileSync(join(dir, `docker-credential-${name}`), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return dir;
}

test('a credential helper that hangs: one E_AUTH line naming the helper and the registry once REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS passes', async () => {
  const bin = installScript('sleepy', 'cat >/dev/null\nsleep 60');
  const env = helperEnv({ [R.basic.host]: 'sleepy' }, bin, { REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS: '800' });
  // A run that waited for the sleeping grandchild (60 s) is killed at 45 s, with no E_AUTH line.
  const r = await runCli(['inspect', imageRef(R.basic, 'base/busybox:v2s2')], { env, timeoutMs: 45_000 });
  const line = assertOneErrorLine(r, 3, 'E_AUTH');
  assert.match(line, new RegExp(`docker-credential-sleepy get for ${R.basic.host.replace(/\./g, '\\.')} failed: timed out after 800 ms`));
  assert.match(line, /REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS/);
});

test('REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS that is not milliseconds is a usage error', async () => {
  const r = await runCli(['inspect', imageRef(R.anon, 'base/busybox:v2s2')], { env: { REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS: '10s' } });
  assertOneErrorLine(r, 2, 'E_INPUT', /REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS must be milliseconds/);
});

test('a credential helper that prints its JSON reply and then fails: the Secret is not on the error line', async () => {
  const secret = R.basic.password!;
  const reply = JSON.stringify({ ServerURL: R.basic.host, Username: R.basic.user, Secret: secret });
  const bin = installScript('leaky', `cat >/dev/null\necho '${reply}'\necho "keychain locked after reading ${secret}" >&2\nexit 1`);
  const env = helperEnv({ [R.basic.host]: 'leaky' }, bin);
  for (const extra of [[], ['--debug']]) {
    const r = await runCli(['inspect', imageRef(R.basic, 'base/busybox:v2s2'), ...extra], { env });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^regpush: error: .*docker-credential-leaky get for 127\.0\.0\.1:\d+ failed.* \[E_AUTH\]$/m);
    assertNoSecrets(r, [secret, JSON.stringify(secret).slice(1, -1)]);
  }
});

/** A registry that challenges for Basic and answers every authenticated request but /v2/ (and HEADs) with a 403 echoing what it got. */
async function echoingBasicRegistry(): Promise<{ host: string; requests: HostileRequest[] }> {
  const h = await startHostileRegistry((req) => {
    const auth = req.headers.authorization;
    if (!auth) return { status: 401, headers: { 'www-authenticate': 'Basic realm="hostile"' }, body: { errors: [{ code: 'UNAUTHORIZED', message: 'log in' }] } };
    if (req.url === '/v2/') return { status: 200, body: {} };
    if (req.method === 'HEAD') return { status: 404 }; // a HEAD has no body to echo into: let the upload begin
    const decoded = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString('utf8');
    return {
      status: 403,
      body: { errors: [{ code: 'DENIED', message: `denied for ${auth} (${decoded}); password was ${decoded.slice(decoded.indexOf(':') + 1)}` }] },
    };
  });
  closers.push(h.close);
  return h;
}

test('a registry whose error echoes the Basic credentials: password and base64 user:password are scrubbed (error line, --debug, copy --json)', async () => {
  const user = 'hostile-user';
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const b64 = Buffer.from(`${user}:${password}`).toString('base64');
  const h = await echoingBasicRegistry();
  const r = await runCli(['inspect', `${h.host}/app:1`, '--user', user, '--password', password, '--debug']);
  assert.equal(r.code, 3, r.stderr);
  // A 403 to credentials the registry took is a right refused (E_DENIED), not a login to fix (E_AUTH, the same exit code).
  assert.match(r.stderr, /^regpush: error: .*denied for Basic \*\*\* \(hostile-user:\*\*\*\); password was \*\*\*.* \[E_DENIED\]$/m);
  assertNoSecrets(r, [password, b64]);

  // copy --json to a good target and the hostile one: the report relays the hostile target's error.
  const good = imageRef(R.anon2, `${run}/echo:1`);
  const c = await runCli(['copy', '--json', imageRef(R.anon, 'base/busybox:v2s2'), good, `${h.host}/echo:1`, '--to-user', user, '--to-password', password]);
  assert.equal(c.code, 8, c.stderr);
  const report = JSON.parse(c.stdout) as { targets: { ok: boolean; error?: { code: string; message: string } }[] };
  const failed = report.targets.find((t) => !t.ok);
  assert.equal(failed?.error?.code, 'E_DENIED', c.stdout);
  assert.ok(failed.error.message.includes('denied for Basic ***'), c.stdout);
  assertNoSecrets(c, [password, b64]);
});

test('a registry whose error echoes the bearer token and the identity token it was given: both are scrubbed', async () => {
  const identityToken = `idt-${randomBytes(16).toString('hex')}`;
  const accessToken = `tok-${randomBytes(16).toString('hex')}`;
  let host = '';
  const h = await startHostileRegistry((req) => {
    if (req.url.startsWith('/token')) return { status: 200, body: { access_token: accessToken, refresh_token: identityToken, expires_in: 300 } };
    const auth = req.headers.authorization;
    if (!auth) {
      return {
        status: 401,
        headers: { 'www-authenticate': `Bearer realm="http://${host}/token",service="hostile",scope="repository:app:pull"` },
        body: { errors: [{ code: 'UNAUTHORIZED', message: 'log in' }] },
      };
    }
    if (req.url === '/v2/') return { status: 200, body: {} };
    return { status: 403, body: { errors: [{ code: 'DENIED', message: `token ${auth} (refresh ${identityToken}, raw ${accessToken}) may not read this` }] } };
  });
  host = h.host;
  closers.push(h.close);
  for (const extra of [[], ['--debug']]) {
    const r = await runCli(['inspect', `${h.host}/app:1`, ...extra], { env: { REGPUSH_FROM_IDENTITY_TOKEN: identityToken } });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^regpush: error: .*token Bearer \*\*\* \(refresh \*\*\*, raw \*\*\*\) may not read this.* \[E_DENIED\]$/m);
    assertNoSecrets(r, [identityToken, accessToken]);
  }
});

test('logout through a credential helper that hangs honours REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS too', async () => {
  const bin = installScript('sleepy', 'cat >/dev/null\nsleep 60');
  const env = helperEnv({ 'reg.example.com': 'sleepy' }, bin, { REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS: '800' });
  const r = await runCli(['logout', 'reg.example.com'], { env, timeoutMs: 30_000 });
  const line = assertOneErrorLine(r, 3, 'E_AUTH');
  assert.match(line, /docker-credential-sleepy erase .*timed out after 800 ms/);
});
