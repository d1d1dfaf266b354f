/**
 * Credential resolution order, Docker config.json variants, credential helpers (fake and one
 * real script on PATH), Podman auth.json, malformed files, and login/logout writes.
 * Every test runs in a temp HOME; process.env is never read by the code under test.
 */
import { after, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentialSourceList, resolveCredential, type CredentialOptions, type HelperReply, HELPER_TIMEOUT_KEPT_MS } from '../../src/auth/credential-lookup.js';
import { credentialFromEnv } from '../../src/auth/credential-env.js';
import { credentialFiles } from '../../src/auth/credential-paths.js';
import { eraseCredential, storeCredential } from '../fixtures/stored-logins.js';
import { loginTarget } from '../../src/login/login.js';
import { DEFAULT_HELPER_TIMEOUT_MS, HelperFailure, helperCommand } from '../../src/auth/helper.js';
import { AuthError, InputError, UsageError } from '../../src/errors.js';
import { SecretSet } from '../../src/redact.js';
import type { Logger } from '../../src/log.js';

const SECRET = 's3cr3t-Pa55word';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const roots: string[] = [];
after(async () => {
  for (const r of roots) await fs.rm(r, { recursive: true, force: true });
});

async function tempHome(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'regpush-auth-'));
  roots.push(dir);
  return dir;
}

async function writeJson(file: string, data: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, typeof data === 'string' ? data : JSON.stringify(data));
}

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, debug: (m) => lines.push(m), info: (m) => lines.push(m), warn: (m) => lines.push(m) };
}

/**
 * Asserts that the helper's child `pid` stops running within 2 s: gone, or a zombie nobody has
 * reaped yet (a container's init may not reap). Killed afterwards either way, so that a failing
 * test leaves nothing behind.
 */
async function assertStops(pid: number): Promise<void> {
  assert.ok(pid > 0);
  const running = async () => {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (stat !== undefined) return !/^\d+ \(.*\) Z/.test(stat);
    try {
      process.kill(pid, 0); // no /proc (macOS): signal 0 says whether it exists
      return true;
    } catch {
      return false;
    }
  };
  try {
    for (let i = 0; i < 100 && (await running()); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await running(), false, `the helper's child ${pid} is still running`);
  } finally {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Options with a temp HOME, an empty env, and a helper that fails the test if called. */
async function setup(extra: Partial<CredentialOptions> = {}): Promise<CredentialOptions & { home: string; log: ReturnType<typeof capture> }> {
  const home = await tempHome();
  const log = capture();
  return {
    home,
    log,
    role: 'to',
    env: {},
    homeDir: home,
    logger: log,
    runHelper: async (name) => assert.fail(`unexpected helper call: ${name}`),
    // Linux with a made-up uid, and /run under the temp home: the machine's own files stay unread.
    system: { platform: 'linux', uid: 4242, root: home },
    ...extra,
  };
}

const dockerConfig = (home: string) => path.join(home, '.docker', 'config.json');

/**
 * Real credential helpers for `o`: each `docker-credential-NAME` script in a bin/ of its home, that
 * folder first on its PATH, the runner of the tests' own stand-in removed.
 */
async function realHelpers(o: CredentialOptions & { home: string }, scripts: Record<string, string>): Promise<void> {
  delete o.runHelper;
  const bin = path.join(o.home, 'bin');
  await fs.mkdir(bin);
  for (const [name, script] of Object.entries(scripts)) await fs.writeFile(path.join(bin, `docker-credential-${name}`), script, { mode: 0o755 });
  o.env = { PATH: `${bin}:/usr/bin:/bin` };
}
/** Linux with a made-up uid, /run under the temp home: no test reads or writes the machine's /run/containers. */
const testSystem = (home: string) => ({ platform: 'linux' as const, uid: 4242, root: home });
/** Podman's primary auth file under testSystem without XDG_RUNTIME_DIR. */
const runtimeAuthFile = (home: string) => path.join(home, 'run', 'containers', '4242', 'auth.json');

describe('resolveCredential: order', () => {
  it('explicit credentials win over env and config', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { auths: { 'ghcr.io': { auth: b64('fileuser:filepass') } } });
    o.env = { REGPUSH_TO_USER: 'envuser', REGPUSH_TO_PASSWORD: 'envpass' };
    o.explicit = { username: 'flaguser', password: SECRET };
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'flaguser', password: SECRET });
  });

  it('an explicit username without password is an error, not a fallthrough', async () => {
    const o = await setup({ explicit: { username: 'flaguser' } });
    await assert.rejects(resolveCredential('ghcr.io', o), { name: 'AuthError', code: 'E_AUTH', message: /^incomplete credentials given for ghcr\.io: a username needs a password$/ });
  });

  it('empty explicit fields are ignored', async () => {
    const o = await setup({ explicit: { username: '', password: '' } });
    assert.equal(await resolveCredential('ghcr.io', o), undefined);
  });

  it('env vars of the role win over the config file', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { auths: { 'ghcr.io': { auth: b64('fileuser:filepass') } } });
    o.env = { REGPUSH_TO_USER: 'envuser', REGPUSH_TO_PASSWORD: SECRET, REGPUSH_FROM_USER: 'other', REGPUSH_FROM_PASSWORD: 'x' };
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'envuser', password: SECRET });
    o.role = 'from';
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'other', password: 'x' });
  });

  it('env vars of the other role are ignored', async () => {
    const o = await setup({ env: { REGPUSH_FROM_USER: 'u', REGPUSH_FROM_PASSWORD: 'p' } });
    assert.equal(await resolveCredential('ghcr.io', o), undefined);
  });

  it('REGPUSH_<ROLE>_TOKEN is a registry token; _IDENTITY_TOKEN an identity token', async () => {
    const o = await setup({ env: { REGPUSH_TO_TOKEN: 'tok' } });
    assert.deepEqual(await resolveCredential('ghcr.io', o), { registryToken: 'tok' });
    o.env = { REGPUSH_TO_IDENTITY_TOKEN: 'refresh', REGPUSH_TO_USER: 'u' };
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'u', identityToken: 'refresh' });
  });

  it("role 'read' (inspect) takes REGPUSH_USER/PASSWORD, then the REGPUSH_TO_* pair, then REGPUSH_FROM_*", async () => {
    const o = await setup({ role: 'read' });
    await writeJson(dockerConfig(o.home), { auths: { 'ghcr.io': { auth: b64('fileuser:filepass') } } });
    const all = { REGPUSH_USER: 'plain', REGPUSH_PASSWORD: '1', REGPUSH_TO_USER: 'to', REGPUSH_TO_PASSWORD: '2', REGPUSH_FROM_USER: 'from', REGPUSH_FROM_PASSWORD: '3' };
    o.env = { ...all };
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'plain', password: '1' });
    o.env = { ...all, REGPUSH_USER: undefined, REGPUSH_PASSWORD: undefined };
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'to', password: '2' });
    o.env = { REGPUSH_FROM_USER: 'from', REGPUSH_FROM_PASSWORD: '3' };
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'from', password: '3' });
    o.env = { REGPUSH_TOKEN: 'tok' };
    assert.deepEqual(await resolveCredential('ghcr.io', o), { registryToken: 'tok' });
    o.env = {};
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'fileuser', password: 'filepass' });
    o.env = { REGPUSH_USER: 'plain' };
    await assert.rejects(resolveCredential('ghcr.io', o), { name: 'InputError', code: 'E_INPUT', message: /^REGPUSH_USER is set but REGPUSH_PASSWORD is not$/ });
  });

  it('credentialSourceList names the variables each role reads, in order', () => {
    // Each named variable is one findCredential reads: a token alone is a credential.
    for (const v of ['REGPUSH_TO_TOKEN', 'REGPUSH_TO_IDENTITY_TOKEN']) assert.ok(credentialFromEnv('to', { [v]: 'x' }), v);
    assert.equal(credentialSourceList('to', undefined, { HOME: '/home/me' }).join(', '), 'REGPUSH_TO_TOKEN, REGPUSH_TO_IDENTITY_TOKEN, REGPUSH_TO_USER/REGPUSH_TO_PASSWORD, Docker config.json, containers auth.json');
    assert.match(credentialSourceList('read', undefined, {}, '/home/me').join(', '), /^REGPUSH_TOKEN, REGPUSH_IDENTITY_TOKEN, REGPUSH_USER\/REGPUSH_PASSWORD, REGPUSH_TO_TOKEN, REGPUSH_TO_IDENTITY_TOKEN, REGPUSH_TO_USER\/REGPUSH_TO_PASSWORD, REGPUSH_FROM_TOKEN, REGPUSH_FROM_IDENTITY_TOKEN, REGPUSH_FROM_USER\/REGPUSH_FROM_PASSWORD, Docker config\.json, containers auth\.json$/);
  });

  it('credentialSourceList names only the files the lookup reads: none for env: {} without homeDir, and only those env leads to', () => {
    const linux = { platform: 'linux' as const, uid: 1000 };
    assert.equal(credentialSourceList('to', undefined, {}, undefined, linux).join(', '), 'REGPUSH_TO_TOKEN, REGPUSH_TO_IDENTITY_TOKEN, REGPUSH_TO_USER/REGPUSH_TO_PASSWORD, no credential file, as no home directory was given');
    assert.equal(credentialSourceList('to', undefined, { DOCKER_CONFIG: '/dc' }, undefined, linux).join(', '), 'REGPUSH_TO_TOKEN, REGPUSH_TO_IDENTITY_TOKEN, REGPUSH_TO_USER/REGPUSH_TO_PASSWORD, Docker config.json');
    assert.equal(credentialSourceList('to', undefined, { XDG_RUNTIME_DIR: '/run/user/1000' }, undefined, linux).join(', '), 'REGPUSH_TO_TOKEN, REGPUSH_TO_IDENTITY_TOKEN, REGPUSH_TO_USER/REGPUSH_TO_PASSWORD, containers auth.json');
  });

  it('half an env pair is bad input (E_INPUT, the environment\'s) naming both variables', async () => {
    const o = await setup({ env: { REGPUSH_TO_USER: 'u' } });
    await assert.rejects(resolveCredential('ghcr.io', o), { name: 'InputError', code: 'E_INPUT', message: /^REGPUSH_TO_USER is set but REGPUSH_TO_PASSWORD is not$/ });
    o.env = { REGPUSH_TO_PASSWORD: SECRET };
    await assert.rejects(resolveCredential('ghcr.io', o), (err: Error) => err instanceof InputError && err.code === 'E_INPUT' && /^REGPUSH_TO_PASSWORD is set but REGPUSH_TO_USER is not$/.test(err.message) && !err.message.includes(SECRET));
  });

  it('docker config wins over podman auth.json', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { auths: { 'ghcr.io': { auth: b64('docker:d') } } });
    await writeJson(path.join(o.home, '.config', 'containers', 'auth.json'), { auths: { 'ghcr.io': { auth: b64('podman:p') } } });
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'docker', password: 'd' });
  });

  it('nothing anywhere → undefined (anonymous)', async () => {
    const o = await setup();
    assert.equal(await resolveCredential('ghcr.io', o), undefined);
    assert.ok(o.log.lines.some((l) => /no credentials found for ghcr.io/.test(l)));
  });
});

describe('resolveCredential: docker config.json', () => {
  const keys = ['https://reg.example.com', 'http://reg.example.com/v2/', 'reg.example.com', 'https://reg.example.com/v1/', 'REG.example.com', 'https://reg.example.com/'];
  for (const key of keys) {
    it(`auths key "${key}" matches reg.example.com`, async () => {
      const o = await setup();
      await writeJson(dockerConfig(o.home), { auths: { [key]: { auth: b64(`user:${SECRET}`) } } });
      assert.deepEqual(await resolveCredential('reg.example.com', o), { username: 'user', password: SECRET });
    });
  }

  it('auths key "reg.example.com/v2" (no scheme) is the namespace v2, as containers/image reads it: not the registry\'s login', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { auths: { 'reg.example.com/v2': { auth: b64(`user:${SECRET}`) } } });
    assert.equal(await resolveCredential('reg.example.com', { ...o, repository: 'team/app' }), undefined);
    assert.deepEqual(await resolveCredential('reg.example.com', { ...o, repository: 'v2/app' }), { username: 'user', password: SECRET });
  });

  it('a key with a port only matches that port', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { auths: { 'localhost:5000': { auth: b64('u:p') } } });
    assert.deepEqual(await resolveCredential('localhost:5000', o), { username: 'u', password: 'p' });
    assert.equal(await resolveCredential('localhost:5001', o), undefined);
  });

  it('the exact key wins over a normalised match', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { auths: { 'https://ghcr.io': { auth: b64('a:1') }, 'ghcr.io': { auth: b64('b:2') } } });
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'b', password: '2' });
  });

  it('username/password fields', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { auths: { 'ghcr.io': { username: 'u', password: SECRET } } });
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'u', password: SECRET });
  });

  it('a password containing ":" survives base64 decoding', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { auths: { 'ghcr.io': { auth: b64('u:pa:ss') } } });
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'u', password: 'pa:ss' });
  });

  it('identitytoken', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { auths: { 'myreg.azurecr.io': { auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'refresh-tok' } } });
    assert.deepEqual(await resolveCredential('myreg.azurecr.io', o), {
      username: '00000000-0000-0000-0000-000000000000',
      identityToken: 'refresh-tok',
    });
  });

  for (const name of ['docker.io', 'registry-1.docker.io', 'index.docker.io']) {
    it(`Docker Hub (${name}) is looked up under https://index.docker.io/v1/`, async () => {
      const o = await setup();
      await writeJson(dockerConfig(o.home), { auths: { 'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') } } });
      assert.deepEqual(await resolveCredential(name, o), { username: 'hubuser', password: 'hubpass' });
    });
  }

  it('$DOCKER_CONFIG replaces ~/.docker', async () => {
    const o = await setup();
    const dir = path.join(o.home, 'elsewhere');
    await writeJson(path.join(dir, 'config.json'), { auths: { 'ghcr.io': { auth: b64('dc:1') } } });
    await writeJson(dockerConfig(o.home), { auths: { 'ghcr.io': { auth: b64('home:2') } } });
    o.env = { DOCKER_CONFIG: dir };
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'dc', password: '1' });
  });

  it('credHelpers[registry] runs that helper with the server URL', async () => {
    const calls: string[] = [];
    const o = await setup({
      runHelper: async (name, url) => {
        calls.push(`${name} ${url}`);
        return JSON.stringify({ ServerURL: url, Username: 'AWS', Secret: SECRET });
      },
    });
    const host = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
    await writeJson(dockerConfig(o.home), { credHelpers: { [host]: 'ecr-login' }, auths: { [host]: { auth: b64('stale:x') } } });
    assert.deepEqual(await resolveCredential(host, o), { username: 'AWS', password: SECRET });
    assert.deepEqual(calls, [`ecr-login ${host}`]);
    assert.ok(!o.log.lines.join('\n').includes(SECRET));
  });

  it('a helper answering Username "<token>" gives an identity token', async () => {
    const o = await setup({ runHelper: async () => JSON.stringify({ ServerURL: 'x', Username: '<token>', Secret: 'idtok' }) });
    await writeJson(dockerConfig(o.home), { credHelpers: { 'myreg.azurecr.io': 'acr' } });
    assert.deepEqual(await resolveCredential('myreg.azurecr.io', o), { identityToken: 'idtok' });
  });

  it('credsStore is used when the auths entry is an empty placeholder, with the entry key as server URL', async () => {
    const calls: string[] = [];
    const o = await setup({
      runHelper: async (name, url) => {
        calls.push(`${name} ${url}`);
        return JSON.stringify({ ServerURL: url, Username: 'hub', Secret: SECRET });
      },
    });
    await writeJson(dockerConfig(o.home), { credsStore: 'desktop', auths: { 'https://index.docker.io/v1/': {} } });
    assert.deepEqual(await resolveCredential('docker.io', o), { username: 'hub', password: SECRET });
    assert.deepEqual(calls, ['desktop https://index.docker.io/v1/']);
  });

  it('an auths entry with credentials wins over credsStore', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { credsStore: 'desktop', auths: { 'ghcr.io': { auth: b64('u:p') } } });
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'u', password: 'p' });
  });

  it('helper "credentials not found" → not an error; lookup continues (podman file)', async () => {
    const o = await setup({
      runHelper: async () => {
        throw new Error('credentials not found in native keychain');
      },
    });
    await writeJson(dockerConfig(o.home), { credsStore: 'osxkeychain' });
    assert.equal(await resolveCredential('ghcr.io', o), undefined);
    await writeJson(path.join(o.home, '.config', 'containers', 'auth.json'), { auths: { 'ghcr.io': { auth: b64('pod:man') } } });
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'pod', password: 'man' });
  });

  it('any other helper failure → AuthError naming the helper, without the secret', async () => {
    const o = await setup({
      runHelper: async () => {
        throw new Error('error getting credentials - err: exit status 1, out: `keychain locked`');
      },
    });
    await writeJson(dockerConfig(o.home), { credHelpers: { 'ghcr.io': 'pass' } });
    await assert.rejects(resolveCredential('ghcr.io', o), (err: unknown) => {
      assert.ok(err instanceof AuthError);
      assert.equal(err.code, 'E_AUTH');
      assert.match(err.message, /docker-credential-pass get for ghcr.io failed/);
      return true;
    });
  });

  it('a helper replying invalid JSON → AuthError that does not quote the reply', async () => {
    const o = await setup({ runHelper: async () => `{"Secret": "${SECRET}"` });
    await writeJson(dockerConfig(o.home), { credHelpers: { 'ghcr.io': 'broken' } });
    await assert.rejects(resolveCredential('ghcr.io', o), (err: Error) => err instanceof AuthError && err.code === 'E_AUTH' && !err.message.includes(SECRET) && /docker-credential-broken/.test(err.message));
  });

  it('a helper that exits 0 having printed only to stderr: its stderr is quoted, as for a failure (was: "printed nothing, and exited 0", the helper\'s own explanation dropped)', async () => {
    const o = await setup();
    await realHelpers(o, { quiet: '#!/bin/sh\necho "gcloud: You do not currently have an active account selected." >&2\necho "Please run: gcloud auth login" >&2\nexit 0\n' });
    await writeJson(dockerConfig(o.home), { credHelpers: { 'gcr.io': 'quiet' } });
    await assert.rejects(
      resolveCredential('gcr.io', o),
      (err: unknown) =>
        err instanceof AuthError &&
        err.code === 'E_AUTH' &&
        err.message === 'credential helper docker-credential-quiet get for gcr.io failed: printed nothing on stdout, and exited 0; stderr: gcloud: You do not currently have an active account selected. | Please run: gcloud auth login',
    );
  });

  it('a helper reply that is no login names the registry asked for, as a failed helper does, and says what was wrong (was: "get returned invalid JSON", even for no output at all)', async () => {
    for (const [reply, want] of [
      [`{"Secret": "${SECRET}"`, /^credential helper docker-credential-broken get for ghcr\.io returned invalid JSON$/],
      ['', /^credential helper docker-credential-broken get for ghcr\.io printed nothing, and exited 0 \(a reply is a JSON object with Username and Secret\)$/],
      [`{"Username": 7, "Secret": "${SECRET}"}`, /^credential helper docker-credential-broken get for ghcr\.io returned an unexpected reply \(not a JSON object with a string Secret\)$/],
    ] as const) {
      const o = await setup({ runHelper: async () => reply });
      await writeJson(dockerConfig(o.home), { credHelpers: { 'ghcr.io': 'broken' } });
      await assert.rejects(resolveCredential('ghcr.io', o), (err: unknown) => {
        assert.ok(err instanceof AuthError && err.code === 'E_AUTH', String(err));
        assert.match(err.message, want);
        assert.equal(err.details.registry, 'ghcr.io');
        return true;
      });
    }
  });

  it('a credsStore that cannot answer (missing from PATH, locked) means no stored credentials, with a warning, as Docker does; a credHelpers entry stays an error', async () => {
    const o = await setup({
      runHelper: async (name) => {
        throw new Error(name === 'desktop' ? 'docker-credential-desktop not found on PATH' : 'error getting credentials - err: exit status 1, out: `keychain locked`');
      },
    });
    await writeJson(dockerConfig(o.home), { credsStore: 'desktop', credHelpers: { 'ghcr.io': 'pass' } });
    assert.equal(await resolveCredential('docker.io', o), undefined, 'a public image can still be read');
    assert.ok(o.log.lines.some((l) => /docker-credential-desktop .*not found on PATH.*going on without stored credentials for https:\/\/index\.docker\.io\/v1\//.test(l)), o.log.lines.join('\n'));
    await assert.rejects(resolveCredential('ghcr.io', o), (err: unknown) => err instanceof AuthError && err.code === 'E_AUTH' && /docker-credential-pass get for ghcr.io failed/.test(err.message));
  });

  it('a credsStore that failed is run and warned about once per operation, not again for each repository and role', async () => {
    let runs = 0;
    const failedStores = new Set<string>();
    const helperReplies = new Map<string, HelperReply>();
    const o = await setup({
      failedStores,
      helperReplies,
      runHelper: async () => {
        runs++;
        throw new Error('error getting credentials - err: timed out');
      },
    });
    await writeJson(dockerConfig(o.home), { credsStore: 'desktop' });
    for (const repository of ['a/x', 'b/y', 'c/z']) {
      for (const role of ['from', 'to'] as const) assert.equal(await resolveCredential('docker.io', { ...o, repository, role }), undefined);
    }
    assert.equal(runs, 1, 'the store ran once');
    assert.equal(o.log.lines.filter((l) => /going on without stored credentials/.test(l)).length, 1, o.log.lines.join('\n'));
  });

  it('a credHelpers helper that timed out, or is missing from PATH, is run once per operation: the other repositories of its registry get the same error at once (was: run again for each, a sync of 2,000 images waiting out the timeout 2,000 times)', async () => {
    for (const failure of [new HelperFailure('timed out after 30 s', null, true), new HelperFailure('docker-credential-gcloud not found on PATH', null, false, true)]) {
      let runs = 0;
      const helperReplies = new Map<string, HelperReply>();
      const o = await setup({
        helperReplies,
        runHelper: async () => {
          runs++;
          throw failure;
        },
      });
      await writeJson(dockerConfig(o.home), { credHelpers: { 'gcr.io': 'gcloud' } });
      for (const repository of ['p/a', 'p/b', 'q/c']) {
        for (const role of ['from', 'to'] as const) {
          await assert.rejects(resolveCredential('gcr.io', { ...o, repository, role }), (err: unknown) => err instanceof AuthError && err.code === 'E_AUTH' && err.message.includes(`docker-credential-gcloud get for gcr.io failed: ${failure.message}`));
        }
      }
      assert.equal(runs, 1, `the helper ran once (${failure.message})`);
    }
  });

  it('a credHelpers helper that timed out is taken as hung for a minute only (HELPER_TIMEOUT_KEPT_MS): a later repository of a long sync asks it again once it has recovered (was: failed for the whole operation)', async () => {
    let runs = 0;
    let clock = 1_000;
    const helperReplies = new Map<string, HelperReply>();
    const o = await setup({
      helperReplies,
      clock: () => clock,
      runHelper: async () => {
        if (++runs === 1) throw new HelperFailure('timed out after 30 s', null, true);
        return JSON.stringify({ Username: 'oauth2accesstoken', Secret: 'tok' });
      },
    });
    await writeJson(dockerConfig(o.home), { credHelpers: { 'gcr.io': 'gcloud' } });
    await assert.rejects(resolveCredential('gcr.io', { ...o, repository: 'p/a' }), { name: 'AuthError', code: 'E_AUTH', message: /timed out after 30 s/ });
    clock += HELPER_TIMEOUT_KEPT_MS - 1;
    await assert.rejects(resolveCredential('gcr.io', { ...o, repository: 'p/b' }), { name: 'AuthError', code: 'E_AUTH', message: /timed out after 30 s/ }, 'within the span: the same failure, the helper not run');
    assert.equal(runs, 1);
    clock += 1;
    assert.deepEqual(await resolveCredential('gcr.io', { ...o, repository: 'p/c' }), { username: 'oauth2accesstoken', password: 'tok' });
    assert.deepEqual(await resolveCredential('gcr.io', { ...o, repository: 'p/d' }), { username: 'oauth2accesstoken', password: 'tok' });
    assert.equal(runs, 2, 'asked again once the span had passed, and its answer kept');
  });

  it('a credHelpers helper that exited with an error is asked again by the next repository (the failure may be passing: a token endpoint that throttled one call)', async () => {
    let runs = 0;
    const helperReplies = new Map<string, HelperReply>();
    const o = await setup({
      helperReplies,
      runHelper: async () => {
        if (++runs === 1) throw new HelperFailure('error getting credentials - err: exit status 1, out: `rate exceeded`', 1);
        return JSON.stringify({ Username: 'oauth2accesstoken', Secret: 'tok' });
      },
    });
    await writeJson(dockerConfig(o.home), { credHelpers: { 'gcr.io': 'gcloud' } });
    await assert.rejects(resolveCredential('gcr.io', { ...o, repository: 'p/a' }), { name: 'AuthError', code: 'E_AUTH', message: /rate exceeded/ });
    assert.deepEqual(await resolveCredential('gcr.io', { ...o, repository: 'p/b' }), { username: 'oauth2accesstoken', password: 'tok' });
    assert.deepEqual(await resolveCredential('gcr.io', { ...o, repository: 'p/c' }), { username: 'oauth2accesstoken', password: 'tok' });
    assert.equal(runs, 2);
  });

  it('a helper name that could escape docker-credential-* is refused', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { credsStore: '../../bin/sh' });
    await assert.rejects(resolveCredential('ghcr.io', o), { name: 'AuthError', code: 'E_AUTH', message: /invalid credential helper name/ });
  });
});

describe('resolveCredential: malformed files', () => {
  it('malformed config.json → AuthError naming the file, not quoting its content', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), `{"auths": {"ghcr.io": {"auth": "${b64(`u:${SECRET}`)}"}}`);
    await assert.rejects(resolveCredential('ghcr.io', o), (err: unknown) => {
      assert.ok(err instanceof AuthError);
      assert.equal(err.code, 'E_AUTH');
      assert.ok(err.message.includes(dockerConfig(o.home)), err.message);
      assert.ok(!err.message.includes(b64(`u:${SECRET}`)) && !err.message.includes(SECRET), err.message);
      return true;
    });
  });

  it('wrongly typed fields → AuthError naming the file', async () => {
    const o = await setup();
    for (const bad of [[], { auths: [] }, { auths: { x: 'y' } }, { auths: { x: { auth: 5 } } }, { credHelpers: { x: 1 } }, { credsStore: true }]) {
      await writeJson(dockerConfig(o.home), bad);
      await assert.rejects(resolveCredential('ghcr.io', o), (err: Error) => err instanceof AuthError && err.code === 'E_AUTH' && err.message.includes('config.json'), JSON.stringify(bad));
    }
  });

  it('an auth field that is not base64 of user:password → AuthError, secret not quoted', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { auths: { 'ghcr.io': { auth: b64(SECRET) } } });
    await assert.rejects(resolveCredential('ghcr.io', o), (err: Error) => err instanceof AuthError && err.code === 'E_AUTH' && !err.message.includes(SECRET) && !err.message.includes(b64(SECRET)));
  });

  it('malformed podman auth.json → AuthError naming it', async () => {
    const o = await setup();
    const file = path.join(o.home, 'auth.json');
    await writeJson(file, 'not json');
    o.env = { REGISTRY_AUTH_FILE: file };
    await assert.rejects(resolveCredential('quay.io', o), (err: Error) => err instanceof AuthError && err.code === 'E_AUTH' && err.message.includes(file));
  });

  it('an empty config.json is treated as empty', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), '');
    assert.equal(await resolveCredential('ghcr.io', o), undefined);
  });
});

describe('resolveCredential: podman / containers auth.json', () => {
  it('REGISTRY_AUTH_FILE', async () => {
    const o = await setup();
    const file = path.join(o.home, 'custom-auth.json');
    await writeJson(file, { auths: { 'quay.io': { auth: b64('q:1') } } });
    o.env = { REGISTRY_AUTH_FILE: file };
    assert.deepEqual(await resolveCredential('quay.io', o), { username: 'q', password: '1' });
  });

  it('$XDG_RUNTIME_DIR/containers/auth.json before ~/.config/containers/auth.json', async () => {
    const o = await setup();
    const run = path.join(o.home, 'run');
    await writeJson(path.join(run, 'containers', 'auth.json'), { auths: { 'quay.io': { auth: b64('xdg:1') } } });
    await writeJson(path.join(o.home, '.config', 'containers', 'auth.json'), { auths: { 'quay.io': { auth: b64('home:2') } } });
    o.env = { XDG_RUNTIME_DIR: run };
    assert.deepEqual(await resolveCredential('quay.io', o), { username: 'xdg', password: '1' });
    o.env = {};
    assert.deepEqual(await resolveCredential('quay.io', o), { username: 'home', password: '2' });
  });

  it('docker.io key (podman style) serves Docker Hub; namespaced keys do not serve the whole registry', async () => {
    const o = await setup();
    await writeJson(path.join(o.home, '.config', 'containers', 'auth.json'), {
      auths: { 'docker.io': { auth: b64('hub:1') }, 'quay.io/someorg': { auth: b64('ns:2') } },
    });
    assert.deepEqual(await resolveCredential('registry-1.docker.io', o), { username: 'hub', password: '1' });
    assert.equal(await resolveCredential('quay.io', o), undefined);
  });
});

describe('resolveCredential: a REGISTRY_AUTH_FILE that does not exist', () => {
  it('is E_INPUT (exit 2: an environment variable\'s value) naming the variable and the path, as Podman refuses such an --authfile; never a fallback to other files', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { auths: { 'quay.io': { auth: b64('docker:d') } } });
    for (const missing of [path.join(o.home, 'missing.json'), path.join(o.home, '.docker', 'config.json', 'auth.json')]) {
      o.env = { REGISTRY_AUTH_FILE: missing };
      const err = await resolveCredential('quay.io', o).then(() => assert.fail('resolved'), (e: unknown) => e);
      assert.ok(err instanceof InputError && err.code === 'E_INPUT', String(err));
      assert.equal(err.exitCode, 2);
      assert.equal(err.message, `REGISTRY_AUTH_FILE names ${missing}, which does not exist: write it (regpush login does) or unset the variable`);
    }
    // Credentials that do not come from files do not read it.
    o.env = { REGISTRY_AUTH_FILE: path.join(o.home, 'missing.json'), REGPUSH_TO_USER: 'u', REGPUSH_TO_PASSWORD: 'p' };
    assert.deepEqual(await resolveCredential('quay.io', o), { username: 'u', password: 'p' });
  });
});

describe('resolveCredential: auths keys naming a namespace or repository (containers-auth.json(5))', () => {
  const podmanFile = (home: string) => path.join(home, '.config', 'containers', 'auth.json');
  const creds = (user: string) => ({ auth: b64(`${user}:pw-${user}`) });
  const as = (user: string) => ({ username: user, password: `pw-${user}` });

  it('the most specific key naming the repository or a namespace above it wins; else the registry key', async () => {
    const o = await setup();
    await writeJson(podmanFile(o.home), {
      auths: { 'quay.io': creds('registry'), 'quay.io/org': creds('org'), 'quay.io/org/team': creds('team'), 'quay.io/org/team/app': creds('app') },
    });
    assert.deepEqual(await resolveCredential('quay.io', { ...o, repository: 'org/team/app' }), as('app'));
    assert.deepEqual(await resolveCredential('quay.io', { ...o, repository: 'org/team/other' }), as('team'));
    assert.deepEqual(await resolveCredential('quay.io', { ...o, repository: 'org/web' }), as('org'));
    assert.deepEqual(await resolveCredential('quay.io', { ...o, repository: 'elsewhere/web' }), as('registry'));
    assert.deepEqual(await resolveCredential('quay.io', o), as('registry'), 'no repository: the registry key');
  });

  it('whole path components only: quay.io/org serves neither quay.io/organisation/app nor another registry', async () => {
    const o = await setup();
    await writeJson(podmanFile(o.home), { auths: { 'quay.io/org': creds('org'), 'quay.io/org/app': creds('app') } });
    assert.equal(await resolveCredential('quay.io', { ...o, repository: 'organisation/app' }), undefined);
    assert.deepEqual(await resolveCredential('quay.io', { ...o, repository: 'org/application' }), as('org'));
    assert.equal(await resolveCredential('quay.io:8443', { ...o, repository: 'org/app' }), undefined);
  });

  it('Docker Hub namespaces are docker.io/…, as Podman writes them (library/ for official images)', async () => {
    const o = await setup();
    await writeJson(podmanFile(o.home), { auths: { 'docker.io': creds('hub'), 'docker.io/acme': creds('acme'), 'docker.io/library': creds('official') } });
    assert.deepEqual(await resolveCredential('registry-1.docker.io', { ...o, repository: 'acme/app' }), as('acme'));
    assert.deepEqual(await resolveCredential('docker.io', { ...o, repository: 'library/alpine' }), as('official'));
    assert.deepEqual(await resolveCredential('docker.io', { ...o, repository: 'other/app' }), as('hub'));
  });

  it('read in Docker\'s config.json too (containers/image does, as an extension), not in the legacy ~/.dockercfg', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), { auths: { 'ghcr.io/acme': creds('docker-ns') } });
    await writeJson(path.join(o.home, '.dockercfg'), { 'registry.example.com/acme': creds('legacy-ns'), 'https://registry.example.com': creds('legacy') });
    assert.deepEqual(await resolveCredential('ghcr.io', { ...o, repository: 'acme/app' }), as('docker-ns'));
    assert.deepEqual(await resolveCredential('registry.example.com', { ...o, repository: 'acme/app' }), as('legacy'));
  });

  it('a namespace key in a later file wins over a registry login in an earlier one (a namespace login lives in auth.json, read after config.json); files keep their order otherwise', async () => {
    // Was: the registry key of config.json won, so `regpush login quay.io/org` (now kept in
    // auth.json) would have been ignored by regpush itself next to a `docker login quay.io`.
    const o = await setup();
    const runtimeFile = path.join(o.home, 'run', 'containers', '4242', 'auth.json');
    await writeJson(dockerConfig(o.home), { auths: { 'quay.io': creds('docker'), 'ghcr.io': creds('docker-gh') }, credHelpers: { 'r.example.com': 'h' } });
    await writeJson(runtimeFile, { auths: { 'quay.io/org': creds('podman-ns'), 'ghcr.io': creds('podman-gh'), 'r.example.com/team': creds('r-ns') } });
    await writeJson(podmanFile(o.home), { auths: { 'quay.io/org/app': creds('later-app'), 'quay.io/other': creds('later-ns') } });
    assert.deepEqual(await resolveCredential('quay.io', { ...o, repository: 'org/app' }), as('podman-ns'), 'among namespace keys, file order (as containers/image reads them)');
    assert.deepEqual(await resolveCredential('quay.io', { ...o, repository: 'other/web' }), as('later-ns'), 'the third file\'s namespace key');
    assert.deepEqual(await resolveCredential('quay.io', { ...o, repository: 'elsewhere/web' }), as('docker'));
    assert.deepEqual(await resolveCredential('ghcr.io', { ...o, repository: 'org/web' }), as('docker-gh'), 'registry keys: file order');
    // A credHelpers entry in config.json is a registry login too: the namespace key wins over it.
    assert.deepEqual(await resolveCredential('r.example.com', { ...o, repository: 'team/app' }), as('r-ns'));
  });

  it('a credHelpers entry (per registry) is asked first; a namespace entry without credentials does not count', async () => {
    const calls: string[] = [];
    const o = await setup({
      runHelper: async (name, server) => {
        calls.push(`${name} ${server}`);
        return JSON.stringify({ Username: 'helper', Secret: 'pw-helper' });
      },
    });
    await writeJson(dockerConfig(o.home), { credHelpers: { 'ghcr.io': 'gh' }, auths: { 'ghcr.io/acme': creds('ns') } });
    assert.deepEqual(await resolveCredential('ghcr.io', { ...o, repository: 'acme/app' }), as('helper'));
    assert.deepEqual(calls, ['gh ghcr.io']);
    await writeJson(podmanFile(o.home), { auths: { 'quay.io/org': {}, 'quay.io': creds('registry') } });
    assert.deepEqual(await resolveCredential('quay.io', { ...o, repository: 'org/app' }), as('registry'));
  });

  it('a file whose credHelpers helper has no login for the registry: that file\'s namespace key comes next, before its registry key and a later file\'s', async () => {
    const o = await setup({
      runHelper: async () => {
        throw new Error('credentials not found in native keychain');
      },
    });
    await writeJson(dockerConfig(o.home), { credHelpers: { 'ghcr.io': 'gh' }, auths: { 'ghcr.io/acme': creds('ns'), 'ghcr.io': creds('registry') } });
    await writeJson(podmanFile(o.home), { auths: { 'ghcr.io': creds('later') } });
    assert.deepEqual(await resolveCredential('ghcr.io', { ...o, repository: 'acme/app' }), as('ns'));
    assert.deepEqual(await resolveCredential('ghcr.io', { ...o, repository: 'other/app' }), as('registry'));
  });

  it('with helperReplies, a lookup per repository runs each helper once per registry (a "not found" is kept too)', async () => {
    const calls: string[] = [];
    const o = await setup({
      runHelper: async (name, server) => {
        calls.push(`${name} ${server}`);
        if (server === 'ghcr.io') return JSON.stringify({ Username: 'store', Secret: 'pw-store' });
        throw new Error('credentials not found in native keychain');
      },
    });
    await writeJson(dockerConfig(o.home), { credsStore: 'desktop', auths: { 'ghcr.io/acme': creds('ns') } });
    const helperReplies = new Map<string, HelperReply>();
    for (const repository of ['one/app', 'two/app', 'acme/app', 'three/app']) {
      const want = repository === 'acme/app' ? as('ns') : as('store');
      assert.deepEqual(await resolveCredential('ghcr.io', { ...o, repository, helperReplies }), want);
    }
    for (const repository of ['a/x', 'b/y']) assert.equal(await resolveCredential('quay.io', { ...o, repository, helperReplies }), undefined);
    assert.deepEqual(calls, ['desktop ghcr.io', 'desktop quay.io']);
  });
});

describe('resolveCredential: a broken file and the namespace keys looked for in every file first', () => {
  const creds = (user: string) => ({ auth: b64(`${user}:pw-${user}`) });
  const as = (user: string) => ({ username: user, password: `pw-${user}` });

  it('a malformed auth.json does not fail a repository whose registry config.json has a login for; a lookup that reaches it still fails', async () => {
    // Was (since the namespace keys are looked for first): every lookup with a repository read every
    // file first and failed on the malformed auth.json, though config.json answers before it.
    const o = await setup();
    await writeJson(dockerConfig(o.home), { auths: { '127.0.0.1:5000': creds('docker') } });
    await writeJson(runtimeAuthFile(o.home), '{"auths": {');
    assert.deepEqual(await resolveCredential('127.0.0.1:5000', { ...o, repository: 'acme/app' }), as('docker'));
    assert.deepEqual(await resolveCredential('127.0.0.1:5000', o), as('docker'));
    // Another registry: the lookup reaches the file, and fails on it as it always did.
    await assert.rejects(resolveCredential('ghcr.io', { ...o, repository: 'acme/app' }), { name: 'AuthError', code: 'E_AUTH', message: /malformed credential file .*auth\.json: not valid JSON/ });
  });

  it('a namespace key in a file after a malformed one does not step over it: the lookup in file order fails on it, as it did', async () => {
    const o = await setup();
    await writeJson(dockerConfig(o.home), '{"auths": {');
    await writeJson(runtimeAuthFile(o.home), { auths: { 'quay.io/org': creds('ns') } });
    await assert.rejects(resolveCredential('quay.io', { ...o, repository: 'org/app' }), { name: 'AuthError', code: 'E_AUTH', message: /malformed credential file .*config\.json/ });
  });

  it('a file that cannot be read (here a folder) is skipped with one warning, whichever pass meets it', async () => {
    const o = await setup();
    const log = capture();
    await fs.mkdir(runtimeAuthFile(o.home), { recursive: true }); // EISDIR
    await writeJson(path.join(o.home, '.config', 'containers', 'auth.json'), { auths: { 'quay.io/org': creds('ns') } });
    assert.deepEqual(await resolveCredential('quay.io', { ...o, logger: log, repository: 'org/app' }), as('ns'));
    const skipped = (lines: string[]) => lines.filter((l) => /cannot read credential file .*auth\.json \(EISDIR\): skipped/.test(l));
    assert.equal(skipped(log.lines).length, 1, log.lines.join('\n'));
    log.lines.length = 0;
    assert.equal(await resolveCredential('quay.io', { ...o, logger: log, repository: 'elsewhere/app' }), undefined);
    assert.equal(skipped(log.lines).length, 1, log.lines.join('\n'));
  });
});

describe('resolveCredential: which files, in which order (containers-auth.json(5), Docker)', () => {
  const podmanHome = (home: string) => path.join(home, '.config', 'containers', 'auth.json');
  const runFile = (home: string) => path.join(home, 'run', 'containers', '4242', 'auth.json');
  const entry = (user: string) => ({ auths: { 'quay.io': { auth: b64(`${user}:pw-${user}`) } } });

  it('credentialFiles lists the whole order: Docker, Podman primary, XDG config home, legacy ~/.dockercfg', async () => {
    const home = await tempHome();
    const linux = { platform: 'linux' as const, uid: 4242, root: home };
    assert.deepEqual(credentialFiles({}, home, linux), [
      { path: dockerConfig(home) },
      { path: runFile(home) },
      { path: podmanHome(home) },
      { path: path.join(home, '.dockercfg'), legacy: true },
    ]);
    const env = { DOCKER_CONFIG: '/dc', XDG_RUNTIME_DIR: '/xdg-run', XDG_CONFIG_HOME: '/xdg-cfg' };
    assert.deepEqual(
      credentialFiles(env, home, linux).map((f) => f.path),
      ['/dc/config.json', '/xdg-run/containers/auth.json', '/xdg-cfg/containers/auth.json', path.join(home, '.dockercfg')],
    );
    // Not Linux: the primary file is ~/.config/containers/auth.json, named once.
    assert.deepEqual(
      credentialFiles({ XDG_RUNTIME_DIR: '/xdg-run' }, home, { platform: 'darwin', uid: 501 }).map((f) => f.path),
      [dockerConfig(home), podmanHome(home), path.join(home, '.dockercfg')],
    );
    // Linux without a uid (nothing to put in /run/containers/<uid>): that file is left out.
    assert.deepEqual(credentialFiles({}, home, { platform: 'linux', uid: undefined }).length, 3);
    assert.deepEqual(credentialFiles({ REGISTRY_AUTH_FILE: '/ci/auth.json', DOCKER_CONFIG: '/dc' }, home, linux), [{ path: '/ci/auth.json' }]);
  });

  it('REGISTRY_AUTH_FILE is the only file read, as Podman does with --authfile (Docker config and other auth files are not)', async () => {
    const o = await setup();
    const file = path.join(o.home, 'ci', 'auth.json');
    await writeJson(dockerConfig(o.home), { auths: { 'quay.io': { auth: b64('docker:d') }, 'ghcr.io': { auth: b64('docker:g') } } });
    await writeJson(podmanHome(o.home), entry('podman'));
    await writeJson(file, entry('ci'));
    o.env = { REGISTRY_AUTH_FILE: file };
    assert.deepEqual(await resolveCredential('quay.io', o), { username: 'ci', password: 'pw-ci' });
    assert.equal(await resolveCredential('ghcr.io', o), undefined, 'Docker config.json must not be read');
    o.env = { REGISTRY_AUTH_FILE: path.join(o.home, 'missing.json') };
    assert.equal(
      credentialSourceList('to', undefined, o.env).join(', '),
      `REGPUSH_TO_TOKEN, REGPUSH_TO_IDENTITY_TOKEN, REGPUSH_TO_USER/REGPUSH_TO_PASSWORD, REGISTRY_AUTH_FILE (${path.join(o.home, 'missing.json')})`,
    );
  });

  it('with XDG_RUNTIME_DIR unset, Linux reads Podman\'s /run/containers/<uid>/auth.json before ~/.config/containers/auth.json', async () => {
    const o = await setup();
    await writeJson(runFile(o.home), entry('run'));
    await writeJson(podmanHome(o.home), entry('home'));
    assert.deepEqual(await resolveCredential('quay.io', o), { username: 'run', password: 'pw-run' });
    // Set, XDG_RUNTIME_DIR replaces /run/containers/<uid>; a folder that does not exist is skipped.
    o.env = { XDG_RUNTIME_DIR: path.join(o.home, 'no-such-dir') };
    assert.deepEqual(await resolveCredential('quay.io', o), { username: 'home', password: 'pw-home' });
  });

  it('env: {} without homeDir keeps the machine\'s logins out: /run/containers/<uid>/auth.json is not read either', async () => {
    const o = await setup();
    await writeJson(runFile(o.home), entry('run'));
    // No home, no XDG_RUNTIME_DIR: nothing at all to read (the per-uid file stands in for the latter only with a home).
    assert.deepEqual(credentialFiles({}, undefined, o.system), []);
    assert.equal(await resolveCredential('quay.io', { ...o, env: {}, homeDir: undefined }), undefined);
    // With a home (the CLI always gives one), the per-uid file is read as Podman reads it.
    assert.deepEqual(credentialFiles({ HOME: o.home }, undefined, o.system)[1], { path: runFile(o.home) });
    assert.deepEqual(await resolveCredential('quay.io', { ...o, env: { HOME: o.home }, homeDir: undefined }), { username: 'run', password: 'pw-run' });
  });

  it('$XDG_CONFIG_HOME/containers/auth.json replaces ~/.config/containers/auth.json', async () => {
    const o = await setup();
    const cfg = path.join(o.home, 'cfg');
    await writeJson(path.join(cfg, 'containers', 'auth.json'), entry('xdgcfg'));
    await writeJson(podmanHome(o.home), entry('home'));
    o.env = { XDG_CONFIG_HOME: cfg };
    assert.deepEqual(await resolveCredential('quay.io', o), { username: 'xdgcfg', password: 'pw-xdgcfg' });
  });

  it('the legacy ~/.dockercfg (registry URL keys at the top level) is read last', async () => {
    const o = await setup();
    const legacy = path.join(o.home, '.dockercfg');
    await writeJson(legacy, {
      'https://index.docker.io/v1/': { auth: b64('hub:old'), email: 'me@example.com' },
      'https://quay.io/v1/': { auth: b64('legacy:1') },
    });
    assert.deepEqual(await resolveCredential('docker.io', o), { username: 'hub', password: 'old' });
    await writeJson(podmanHome(o.home), entry('home'));
    assert.deepEqual(await resolveCredential('quay.io', o), { username: 'home', password: 'pw-home' });
    await writeJson(legacy, { 'quay.io': 'not an object' });
    await assert.rejects(resolveCredential('ghcr.io', o), (err: Error) => err instanceof AuthError && err.code === 'E_AUTH' && err.message.includes(legacy));
  });
});

describe('credential helper: real process', () => {
  it('runs docker-credential-<name> from env.PATH, writing the server URL to stdin', async () => {
    const o = await setup();
    await realHelpers(o, {
      // Echoes the URL it read back as the user name, so the test sees stdin arrived.
      regpushtest: [
        '#!/bin/sh',
        'read url',
        'if [ "$1" != get ]; then echo "unexpected action" >&2; exit 2; fi',
        'case "$url" in',
        `  ghcr.io) printf '{"ServerURL":"%s","Username":"%s","Secret":"${SECRET}"}' "$url" "from-$url" ;;`,
        '  *) echo "credentials not found in native keychain"; exit 1 ;;',
        'esac',
        '',
      ].join('\n'),
      broken: '#!/bin/sh\necho "keychain is locked" >&2\nexit 3\n',
      both: '#!/bin/sh\necho "keychain locked"\necho "helper exploded" >&2\nexit 1\n',
    });
    await writeJson(dockerConfig(o.home), { credHelpers: { 'ghcr.io': 'regpushtest', 'quay.io': 'regpushtest', 'x.io': 'broken', 'y.io': 'missing', 'z.io': 'both' } });
    // Its stdout and stderr both: told apart, not run together as one sentence.
    await assert.rejects(resolveCredential('z.io', o), (err: Error) => err instanceof AuthError && err.code === 'E_AUTH' && err.message.endsWith('docker-credential-both get for z.io failed: keychain locked; stderr: helper exploded'));
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'from-ghcr.io', password: SECRET });
    assert.equal(await resolveCredential('quay.io', o), undefined);
    await assert.rejects(resolveCredential('x.io', o), (err: Error) => err instanceof AuthError && err.code === 'E_AUTH' && /docker-credential-broken get for x.io failed: keychain is locked/.test(err.message));
    await assert.rejects(resolveCredential('y.io', o), (err: Error) => err instanceof AuthError && err.code === 'E_AUTH' && /docker-credential-missing not found on PATH/.test(err.message));
    assert.ok(!o.log.lines.join('\n').includes(SECRET));
  });

  it('a helper that hangs is killed after helperTimeoutMs: AuthError naming helper and registry (default 30 s)', async () => {
    assert.equal(DEFAULT_HELPER_TIMEOUT_MS, 30_000);
    const o = await setup();
    await realHelpers(o, { sleepy: '#!/bin/sh\nexec sleep 30\n' });
    o.helperTimeoutMs = 300;
    await writeJson(dockerConfig(o.home), { credHelpers: { 'ghcr.io': 'sleepy' } });
    // The message names the 300 ms timeout: the kill ended it, not the helper's own 30 s (nor a hang).
    await assert.rejects(
      resolveCredential('ghcr.io', o),
      (err: Error) => err instanceof AuthError && err.code === 'E_AUTH' && /docker-credential-sleepy get for ghcr.io failed: timed out after 300 ms/.test(err.message),
    );
  });

  it('a helper that times out is killed with its children (its process group): no grandchild is left running', { skip: process.platform === 'win32' }, async () => {
    // Was: SIGKILL to the helper alone; a script's `sleep 1000` went on running, reparented.
    const o = await setup();
    const pidFile = path.join(o.home, 'grandchild.pid');
    await realHelpers(o, { spawner: `#!/bin/sh\nsleep 1000 &\necho $! > "${pidFile}"\nwait\n` });
    o.helperTimeoutMs = 500;
    o.helperProcessGroup = true; // as the CLI asks without a terminal; never read from the host process's streams
    await writeJson(dockerConfig(o.home), { credHelpers: { 'ghcr.io': 'spawner' } });
    await assert.rejects(resolveCredential('ghcr.io', o), (err: Error) => err instanceof AuthError && err.code === 'E_AUTH' && /timed out after 500 ms/.test(err.message));
    await assertStops(Number((await fs.readFile(pidFile, 'utf8')).trim()));
  });

  it('a helper still running when the process exits (a second Ctrl-C) is killed with its children', { skip: process.platform !== 'linux' }, async () => {
    const home = await tempHome();
    const bin = path.join(home, 'bin');
    await fs.mkdir(bin);
    const pidFile = path.join(home, 'grandchild.pid');
    await fs.writeFile(path.join(bin, 'docker-credential-spawner'), `#!/bin/sh\nsleep 1000 &\necho $! > "${pidFile}"\nwait\n`, { mode: 0o755 });
    await writeJson(dockerConfig(home), { credHelpers: { 'ghcr.io': 'spawner' } });
    const credentials = new URL('../../src/auth/credential-lookup.js', import.meta.url).pathname;
    // Exits (as bin.ts does on a second signal) once the helper has started its child.
    const script = [
      `import { existsSync } from 'node:fs';`,
      `import { resolveCredential } from ${JSON.stringify(credentials)};`,
      `void resolveCredential('ghcr.io', { role: 'to', env: { PATH: ${JSON.stringify(`${bin}:/usr/bin:/bin`)} }, homeDir: ${JSON.stringify(home)}, helperProcessGroup: true, system: { platform: 'linux', uid: 4242, root: ${JSON.stringify(home)} } });`,
      `const poll = setInterval(() => { if (existsSync(${JSON.stringify(pidFile)})) { clearInterval(poll); setTimeout(() => process.exit(130), 50); } }, 10);`,
    ].join('\n');
    const { execFile } = await import('node:child_process');
    const code = await new Promise<number | null>((resolve) => execFile(process.execPath, ['--input-type=module', '-e', script]).on('exit', resolve));
    assert.equal(code, 130);
    await assertStops(Number((await fs.readFile(pidFile, 'utf8')).trim()));
  });

  it('a process group of its own only when the caller asks (helperProcessGroup): by default the helper stays in the caller\'s, as Docker runs it', { skip: process.platform !== 'linux' }, async () => {
    // Was: the library chose by isatty(0, 1, 2) of the host process, so the same call behaved
    // differently at a terminal (where the test of a timed-out helper's children failed).
    const o = await setup();
    // Replies with its pid and its process group (fields after "pid (comm) ": state, ppid, pgrp).
    await realHelpers(o, { pgrp: `#!/bin/sh\nread url\nset -- $(sed 's/^.*) //' /proc/$$/stat)\nprintf '{"Username":"%s","Secret":"%s"}' "$$" "$3"\n` });
    await writeJson(dockerConfig(o.home), { credHelpers: { 'ghcr.io': 'pgrp' } });
    const ours = (await fs.readFile('/proc/self/stat', 'utf8')).replace(/^.*\) /, '').split(' ')[2];
    const exitHooks = process.listenerCount('exit');
    const byDefault = await resolveCredential('ghcr.io', o);
    assert.equal(byDefault?.password, ours, 'the caller\'s process group');
    const grouped = await resolveCredential('ghcr.io', { ...o, helperProcessGroup: true });
    assert.equal(grouped?.password, grouped?.username, 'a group of its own, led by the helper');
    assert.notEqual(grouped?.password, ours);
    assert.equal((await resolveCredential('ghcr.io', { ...o, helperProcessGroup: false }))?.password, ours);
    assert.equal(process.listenerCount('exit'), exitHooks, 'no exit hook left behind');
  });

  it('a helper that prints its reply and then fails: the Secret is scrubbed and reported to the run\'s secret set', async () => {
    const o = await setup();
    await realHelpers(o, { leaky: `#!/bin/sh\nprintf '{"ServerURL":"ghcr.io","Username":"u","Secret":"${SECRET}"}'\necho "then ${SECRET} broke" >&2\nexit 1\n` });
    const secrets = new SecretSet();
    o.secrets = secrets;
    await writeJson(dockerConfig(o.home), { credHelpers: { 'ghcr.io': 'leaky' } });
    await assert.rejects(resolveCredential('ghcr.io', o), (err: Error) => err instanceof AuthError && err.code === 'E_AUTH' && !err.message.includes(SECRET) && /"Secret":"\*\*\*"/.test(err.message));
    assert.equal(secrets.scrub(`x ${SECRET} y`), 'x *** y');
  });
});

describe('SecretSet', () => {
  it('scrubs a credential in every form it travels in, and whatever JWT or secret JSON member it meets', () => {
    const s = new SecretSet();
    const password = 'p@ss "word"/1';
    s.addCredential({ username: 'bob', password });
    s.add('tok-123456');
    s.add('abc'); // too short to scrub: it would eat ordinary words
    const b64basic = Buffer.from(`bob:${password}`).toString('base64');
    const text = `a ${password} b ${encodeURIComponent(password)} c ${JSON.stringify(password)} d Basic ${b64basic} e tok-123456 abc`;
    assert.equal(s.scrub(text), 'a *** b *** c "***" d Basic *** e *** abc');
    assert.equal(s.scrub('{"token": "zzz", "Secret":"q\\"w"} eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nature'), '{"token": "***", "Secret":"***"} ***');
    assert.equal(new SecretSet().scrub('authorization: Bearer abc.def'), 'authorization: Bearer ***');
  });
});

describe('storeCredential / eraseCredential', () => {
  it('writes the Docker config format atomically, keeping other fields', async () => {
    const home = await tempHome();
    const file = dockerConfig(home);
    await writeJson(file, { auths: { 'quay.io': { auth: b64('q:1') } }, psFormat: 'table', HttpHeaders: { a: 'b' } });
    await fs.chmod(file, 0o600);
    await storeCredential('ghcr.io', { username: 'me', password: SECRET }, { env: {}, homeDir: home });
    const data = JSON.parse(await fs.readFile(file, 'utf8'));
    assert.deepEqual(data.auths['ghcr.io'], { auth: b64(`me:${SECRET}`) });
    assert.deepEqual(data.auths['quay.io'], { auth: b64('q:1') });
    assert.equal(data.psFormat, 'table');
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    assert.deepEqual((await fs.readdir(path.dirname(file))).sort(), ['config.json']);
    assert.deepEqual(await resolveCredential('ghcr.io', { role: 'to', env: {}, homeDir: home }), { username: 'me', password: SECRET });
  });

  it('creates ~/.docker/config.json when missing; Docker Hub under its v1 key; updates an existing key form', async () => {
    const home = await tempHome();
    await storeCredential('docker.io', { username: 'hub', password: 'p' }, { env: {}, homeDir: home });
    let data = JSON.parse(await fs.readFile(dockerConfig(home), 'utf8'));
    assert.deepEqual(Object.keys(data.auths), ['https://index.docker.io/v1/']);
    assert.equal((await fs.stat(dockerConfig(home))).mode & 0o777, 0o600, 'a new file is 0600 whatever the umask');
    await writeJson(dockerConfig(home), { auths: { 'https://ghcr.io': { auth: b64('old:x') } } });
    await storeCredential('ghcr.io', { username: 'new', password: 'y' }, { env: {}, homeDir: home });
    data = JSON.parse(await fs.readFile(dockerConfig(home), 'utf8'));
    assert.deepEqual(data.auths, { 'https://ghcr.io': { auth: b64('new:y') } });
  });

  it('Docker Hub with an alias in auths (docker.io, as Podman writes it): login stores under Docker\'s key, lookup asks that key first, logout erases both', async () => {
    const home = await tempHome();
    const system = { platform: 'linux' as const, uid: 4242, root: home };
    // The file: an alias key only. Docker never reads it for Docker Hub.
    await writeJson(dockerConfig(home), { auths: { 'docker.io': { auth: b64('old:alias') } } });
    await storeCredential('docker.io', { username: 'hub', password: 'p' }, { env: {}, homeDir: home });
    const data = JSON.parse(await fs.readFile(dockerConfig(home), 'utf8'));
    assert.deepEqual(data.auths['https://index.docker.io/v1/'], { auth: b64('hub:p') });
    assert.deepEqual(await resolveCredential('docker.io', { role: 'from', env: {}, homeDir: home, system }), { username: 'hub', password: 'p' });

    // A helper: Docker's key is asked first, and the alias (another tool's login) only after it.
    const store: Record<string, string> = { 'https://index.docker.io/v1/': 'hubuser' };
    const asked: string[] = [];
    const execHelper = async (_name: string, action: 'get' | 'store' | 'erase', input: string) => {
      asked.push(`${action} ${action === 'store' ? JSON.parse(input).ServerURL : input}`);
      if (action === 'store') store[JSON.parse(input).ServerURL] = JSON.parse(input).Username;
      if (action === 'erase') {
        if (!(input in store)) throw Object.assign(new Error('credentials not found in native keychain'), { notFound: true });
        delete store[input];
      }
      return '';
    };
    const runHelper = async (_name: string, url: string) => {
      asked.push(`get ${url}`);
      if (!(url in store)) throw Object.assign(new Error('credentials not found in native keychain'), { notFound: true });
      return JSON.stringify({ ServerURL: url, Username: store[url], Secret: 'x' });
    };
    await writeJson(dockerConfig(home), { credsStore: 'kv', auths: { 'docker.io': {} } });
    assert.deepEqual(await resolveCredential('docker.io', { role: 'from', env: {}, homeDir: home, runHelper, system }), { username: 'hubuser', password: 'x' });
    assert.deepEqual(asked, ['get https://index.docker.io/v1/']);
    store['docker.io'] = 'older-login';
    await storeCredential('docker.io', { username: 'new', password: 'p2' }, { env: {}, homeDir: home, execHelper });
    // The login replaces the registry's in every spelling: the helper's under the alias too.
    assert.deepEqual({ ...store }, { 'https://index.docker.io/v1/': 'new' });
    assert.deepEqual(JSON.parse(await fs.readFile(dockerConfig(home), 'utf8')).auths, { 'https://index.docker.io/v1/': {} });
    // Another tool's login under the alias, later: logout erases it too.
    await writeJson(dockerConfig(home), { credsStore: 'kv', auths: { 'https://index.docker.io/v1/': {}, 'docker.io': {} } });
    store['docker.io'] = 'podman-login';
    asked.length = 0;
    assert.equal(await eraseCredential('docker.io', { env: {}, homeDir: home, execHelper }), true);
    assert.deepEqual(asked, ['erase https://index.docker.io/v1/', 'erase docker.io']);
    assert.deepEqual(store, {}, 'no login left under either key');
    assert.equal(await resolveCredential('docker.io', { role: 'from', env: {}, homeDir: home, runHelper, system }), undefined);
  });

  it('stores an identity token as identitytoken', async () => {
    const home = await tempHome();
    await storeCredential('r.azurecr.io', { username: 'u', identityToken: 'idt' }, { env: {}, homeDir: home });
    const data = JSON.parse(await fs.readFile(dockerConfig(home), 'utf8'));
    assert.deepEqual(data.auths['r.azurecr.io'], { auth: b64('u:'), identitytoken: 'idt' });
  });

  it('uses the credential helper store/erase when credHelpers or credsStore applies', async () => {
    const home = await tempHome();
    await writeJson(dockerConfig(home), { credsStore: 'desktop', credHelpers: { 'ghcr.io': 'gh' } });
    const calls: Array<[string, string, string]> = [];
    const execHelper = async (name: string, action: 'get' | 'store' | 'erase', input: string) => {
      calls.push([name, action, input]);
      return '';
    };
    await storeCredential('ghcr.io', { username: 'me', password: SECRET }, { env: {}, homeDir: home, execHelper });
    await storeCredential('docker.io', { identityToken: 'idt' }, { env: {}, homeDir: home, execHelper });
    assert.deepEqual(calls[0], ['gh', 'store', JSON.stringify({ ServerURL: 'ghcr.io', Username: 'me', Secret: SECRET })]);
    assert.deepEqual(calls[1], ['desktop', 'store', JSON.stringify({ ServerURL: 'https://index.docker.io/v1/', Username: '<token>', Secret: 'idt' })]);
    const data = JSON.parse(await fs.readFile(dockerConfig(home), 'utf8'));
    assert.deepEqual(data.auths, { 'ghcr.io': {}, 'https://index.docker.io/v1/': {} }); // placeholders only (credHelpers' too, as Docker's nativeStore), no secret
    assert.ok(!(await fs.readFile(dockerConfig(home), 'utf8')).includes(SECRET));
    assert.equal(await eraseCredential('docker.io', { env: {}, homeDir: home, execHelper }), true);
    assert.deepEqual(calls[2], ['desktop', 'erase', 'https://index.docker.io/v1/']);
    assert.deepEqual(JSON.parse(await fs.readFile(dockerConfig(home), 'utf8')).auths, { 'ghcr.io': {} });
  });

  it('a login through credsStore clears the secrets an older inline entry held, so the new login is the one used', async () => {
    const home = await tempHome();
    await writeJson(dockerConfig(home), { credsStore: 'pass', auths: { 'ghcr.io': { auth: b64('old:stale-Password-1'), email: 'me@example.com' } } });
    const stored: string[] = [];
    const execHelper = async (_name: string, action: 'get' | 'store' | 'erase', input: string) => {
      if (action === 'store') stored.push(input);
      return '';
    };
    await storeCredential('ghcr.io', { username: 'me', password: SECRET }, { env: {}, homeDir: home, execHelper });
    assert.equal(stored.length, 1);
    const text = await fs.readFile(dockerConfig(home), 'utf8');
    assert.deepEqual(JSON.parse(text).auths, { 'ghcr.io': { email: 'me@example.com' } }, 'the entry stays, its secrets do not');
    assert.ok(!text.includes(b64('old:stale-Password-1')));
    const runHelper = async (_name: string, url: string) => JSON.stringify({ ServerURL: url, Username: 'me', Secret: SECRET });
    assert.deepEqual(await resolveCredential('ghcr.io', { role: 'to', env: {}, homeDir: home, runHelper }), { username: 'me', password: SECRET });
  });

  it('a config folder that cannot be written (here: a file where the folder should be) is one AuthError, not an internal error', async () => {
    const home = await tempHome();
    const notADir = path.join(home, 'plain-file');
    await fs.writeFile(notADir, 'x');
    await assert.rejects(
      storeCredential('ghcr.io', { username: 'me', password: SECRET }, { env: { DOCKER_CONFIG: path.join(notADir, 'docker') }, homeDir: home }),
      (err: unknown) => err instanceof AuthError && err.code === 'E_AUTH' && /cannot write credential file .*: ENOTDIR/.test(err.message) && !err.message.includes(SECRET),
    );
  });

  it('a failing helper store → AuthError naming the helper, never the secret', async () => {
    const home = await tempHome();
    await writeJson(dockerConfig(home), { credsStore: 'pass' });
    const execHelper = async () => {
      throw new Error(`could not store ${SECRET}`);
    };
    await assert.rejects(
      storeCredential('ghcr.io', { username: 'me', password: SECRET }, { env: {}, homeDir: home, execHelper }),
      (err: Error) => err instanceof AuthError && err.code === 'E_AUTH' && /docker-credential-pass store for ghcr.io failed/.test(err.message) && !err.message.includes(SECRET),
    );
  });

  it('erase removes every key form of the registry and reports whether anything was removed', async () => {
    const home = await tempHome();
    await writeJson(dockerConfig(home), { auths: { 'https://ghcr.io': { auth: b64('a:1') }, 'ghcr.io': { auth: b64('b:2') }, 'quay.io': {} } });
    assert.equal(await eraseCredential('ghcr.io', { env: {}, homeDir: home }), true);
    assert.deepEqual(JSON.parse(await fs.readFile(dockerConfig(home), 'utf8')).auths, { 'quay.io': {} });
    assert.equal(await eraseCredential('ghcr.io', { env: {}, homeDir: home }), false);
    assert.equal(await eraseCredential('ghcr.io', { env: {}, homeDir: await tempHome() }), false);
  });

  it('refuses to store an incomplete credential, writing nothing', async () => {
    const home = await tempHome();
    await assert.rejects(storeCredential('ghcr.io', { username: 'me' }, { env: {}, homeDir: home }), (e: unknown) => e instanceof AuthError && e.code === 'E_AUTH' && e.message === 'nothing to store for ghcr.io: a username and password (or an identity token) are needed');
    assert.deepEqual(await fs.readdir(home), [], 'no config file or folder made');
  });

  it('with REGISTRY_AUTH_FILE set, login writes that file (0600) and logout edits it; Docker config stays untouched', async () => {
    const home = await tempHome();
    const file = path.join(home, 'ci', 'auth.json');
    const env = { REGISTRY_AUTH_FILE: file };
    await writeJson(dockerConfig(home), { auths: { 'ghcr.io': { auth: b64('docker:d') } } });
    const before = await fs.readFile(dockerConfig(home), 'utf8');
    await storeCredential('ghcr.io', { username: 'me', password: SECRET }, { env, homeDir: home });
    assert.deepEqual(JSON.parse(await fs.readFile(file, 'utf8')).auths, { 'ghcr.io': { auth: b64(`me:${SECRET}`) } });
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await resolveCredential('ghcr.io', { role: 'to', env, homeDir: home }), { username: 'me', password: SECRET });
    assert.equal(await eraseCredential('ghcr.io', { env, homeDir: home }), true);
    assert.deepEqual(JSON.parse(await fs.readFile(file, 'utf8')).auths, {});
    assert.equal(await fs.readFile(dockerConfig(home), 'utf8'), before);
  });

  it('a namespace login (quay.io/org, as podman login takes it) is its own auths key in the containers auth file, never in config.json; logout of it or of the registry leaves the other', async () => {
    // Was: the key went to config.json, where Docker matches auths keys by host only and so sent
    // one namespace's login for the whole registry (whichever of several such keys came first).
    const home = await tempHome();
    const system = testSystem(home);
    const opts = { env: {}, homeDir: home, system };
    const podman = runtimeAuthFile(home);
    await storeCredential('quay.io', { username: 'me', password: 'p-registry' }, opts);
    await storeCredential('quay.io/org', { username: 'org+ci', password: SECRET }, opts);
    assert.deepEqual(JSON.parse(await fs.readFile(dockerConfig(home), 'utf8')).auths, { 'quay.io': { auth: b64('me:p-registry') } });
    assert.deepEqual(JSON.parse(await fs.readFile(podman, 'utf8')).auths, { 'quay.io/org': { auth: b64(`org+ci:${SECRET}`) } });
    assert.equal((await fs.stat(podman)).mode & 0o777, 0o600);
    const resolve = (repository: string) => resolveCredential('quay.io', { role: 'to', env: {}, homeDir: home, repository, system });
    assert.deepEqual(await resolve('org/app'), { username: 'org+ci', password: SECRET }, 'the namespace login wins over config.json\'s registry login');
    assert.deepEqual(await resolve('other/app'), { username: 'me', password: 'p-registry' });
    assert.equal(await eraseCredential('quay.io', opts), true);
    assert.deepEqual(JSON.parse(await fs.readFile(dockerConfig(home), 'utf8')).auths, {});
    assert.deepEqual(Object.keys(JSON.parse(await fs.readFile(podman, 'utf8')).auths), ['quay.io/org']);
    assert.equal(await eraseCredential('https://quay.io/org/', opts), true);
    assert.equal(await eraseCredential('quay.io/org', opts), false);
    assert.deepEqual(JSON.parse(await fs.readFile(podman, 'utf8')).auths, {});
    // With XDG_RUNTIME_DIR: there (Podman's primary file); elsewhere than on Linux ~/.config/containers/auth.json.
    const runtime = path.join(home, 'xdg-run');
    await fs.mkdir(runtime); // a runtime dir regpush does not make (login-store.test.ts)
    await storeCredential('quay.io/a', { username: 'a', password: 'p' }, { ...opts, env: { XDG_RUNTIME_DIR: runtime } });
    assert.deepEqual(Object.keys(JSON.parse(await fs.readFile(path.join(runtime, 'containers', 'auth.json'), 'utf8')).auths), ['quay.io/a']);
    await storeCredential('quay.io/b', { username: 'b', password: 'p' }, { ...opts, system: { platform: 'darwin' } });
    assert.deepEqual(Object.keys(JSON.parse(await fs.readFile(path.join(home, '.config', 'containers', 'auth.json'), 'utf8')).auths), ['quay.io/b']);
    assert.deepEqual(JSON.parse(await fs.readFile(dockerConfig(home), 'utf8')).auths, {}, 'config.json never gets one');
  });

  it('a namespace key an earlier version left in config.json is moved out by the next namespace login, and removed by its logout', async () => {
    const home = await tempHome();
    const log = capture();
    const opts = { env: {}, homeDir: home, system: testSystem(home), logger: log };
    await writeJson(dockerConfig(home), { auths: { 'quay.io/team-a': { auth: b64('alice:old') }, 'quay.io/team-b': { auth: b64('bob:old') }, 'quay.io': {} }, psFormat: 'x' });
    await storeCredential('quay.io/team-a', { username: 'alice', password: 'new' }, opts);
    assert.deepEqual(JSON.parse(await fs.readFile(dockerConfig(home), 'utf8')), { auths: { 'quay.io/team-b': { auth: b64('bob:old') }, 'quay.io': {} }, psFormat: 'x' });
    assert.deepEqual(JSON.parse(await fs.readFile(runtimeAuthFile(home), 'utf8')).auths, { 'quay.io/team-a': { auth: b64('alice:new') } });
    assert.ok(log.lines.some((l) => l.includes(`removed the login for quay.io/team-a from ${dockerConfig(home)}`)), log.lines.join('\n'));
    assert.equal(await eraseCredential('quay.io/team-b', opts), true);
    assert.deepEqual(JSON.parse(await fs.readFile(dockerConfig(home), 'utf8')).auths, { 'quay.io': {} });
  });

  it('a namespace login with no containers auth file to name (no XDG_RUNTIME_DIR, uid or home) is E_INPUT saying why; REGISTRY_AUTH_FILE takes it', async () => {
    const home = await tempHome();
    const env = { DOCKER_CONFIG: path.join(home, 'docker') };
    const err = await storeCredential('quay.io/org', { username: 'u', password: SECRET }, { env, system: { platform: 'linux', uid: undefined } }).then(
      () => assert.fail('stored'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof InputError && err.code === 'E_INPUT', String(err));
    assert.match(err.message, /^cannot store a login for quay\.io\/org: a login for part of a registry is kept in a containers auth\.json \(Docker would read it from config\.json as a login for the whole registry\).*set REGISTRY_AUTH_FILE/);
    await assert.rejects(fs.stat(path.join(home, 'docker')), { code: 'ENOENT' }, 'nothing written');
    const file = path.join(home, 'ci', 'auth.json');
    await storeCredential('quay.io/org', { username: 'u', password: SECRET }, { env: { ...env, REGISTRY_AUTH_FILE: file }, system: { platform: 'linux', uid: undefined } });
    assert.deepEqual(Object.keys(JSON.parse(await fs.readFile(file, 'utf8')).auths), ['quay.io/org']);
  });

  it('"quay.io/v2" (no scheme) is the namespace v2; "https://quay.io/v2/" is the registry\'s API URL, so the registry (as podman login reads them); logout the same', async () => {
    // Was: /v2 read as the API path in both spellings, so `login quay.io/v2` stored a registry-wide login.
    assert.deepEqual(loginTarget('quay.io/v2'), { registry: 'quay.io', namespace: 'v2', name: 'quay.io/v2' });
    assert.deepEqual(loginTarget('quay.io/v1/'), { registry: 'quay.io', namespace: 'v1', name: 'quay.io/v1' });
    assert.deepEqual(loginTarget('https://quay.io/v2/'), { registry: 'quay.io', name: 'quay.io' });
    assert.deepEqual(loginTarget('http://Quay.io/v2'), { registry: 'quay.io', name: 'quay.io' });
    const home = await tempHome();
    const file = path.join(home, 'auth.json');
    const opts = { env: { REGISTRY_AUTH_FILE: file }, homeDir: home };
    const auths = async () => JSON.parse(await fs.readFile(file, 'utf8')).auths;
    await storeCredential(loginTarget('https://quay.io/v2/').name, { username: 'me', password: 'p-registry' }, opts);
    await storeCredential(loginTarget('quay.io/v2').name, { username: 'v2+ci', password: SECRET }, opts);
    assert.deepEqual(Object.keys(await auths()).sort(), ['quay.io', 'quay.io/v2']);
    const resolve = (repository: string) => resolveCredential('quay.io', { role: 'to', ...opts, repository });
    assert.deepEqual(await resolve('v2/app'), { username: 'v2+ci', password: SECRET });
    assert.deepEqual(await resolve('other/app'), { username: 'me', password: 'p-registry' });
    // The registry's logout leaves the namespace key "quay.io/v2"; the namespace's leaves the registry's.
    assert.equal(await eraseCredential('https://quay.io/v2/', opts), true);
    assert.deepEqual(Object.keys(await auths()), ['quay.io/v2']);
    await storeCredential('quay.io', { username: 'me', password: 'p-registry' }, opts);
    assert.equal(await eraseCredential('quay.io/v2', opts), true);
    assert.deepEqual(Object.keys(await auths()), ['quay.io']);
  });

  it('a namespace login cannot go to a credHelpers helper of its file (one login per registry, asked first): E_USAGE, nothing written; with a credsStore it stays in the file, with a warning', async () => {
    const home = await tempHome();
    const file = path.join(home, 'auth.json');
    const env = { REGISTRY_AUTH_FILE: file };
    const execHelper = async () => assert.fail('no helper may be asked');
    await writeJson(file, { credHelpers: { 'quay.io': 'quayhelper' } });
    const before = await fs.readFile(file, 'utf8');
    const err = await storeCredential('quay.io/org', { username: 'u', password: SECRET }, { env, homeDir: home, execHelper }).then(() => assert.fail('stored'), (e: unknown) => e);
    assert.ok(err instanceof UsageError && err.code === 'E_USAGE', String(err));
    assert.match(err.message, /cannot store a login for quay\.io\/org: .* docker-credential-quayhelper \(credHelpers\)/);
    assert.equal(await fs.readFile(file, 'utf8'), before);
    const log = capture();
    await writeJson(file, { credsStore: 'desktop' });
    await storeCredential('quay.io/org', { username: 'u', password: 'p' }, { env, homeDir: home, execHelper, logger: log });
    assert.deepEqual(JSON.parse(await fs.readFile(file, 'utf8')).auths, { 'quay.io/org': { auth: b64('u:p') } });
    assert.ok(log.lines.some((l) => l.includes('kept in') && l.includes('credsStore')), log.lines.join('\n'));
    // A credHelpers entry in Docker's config.json is no obstacle: the login goes to auth.json, whose namespace keys come first.
    await writeJson(dockerConfig(home), { credHelpers: { 'quay.io': 'quayhelper' } });
    await storeCredential('quay.io/org', { username: 'u', password: 'p2' }, { env: {}, homeDir: home, execHelper, system: testSystem(home) });
    assert.deepEqual(JSON.parse(await fs.readFile(runtimeAuthFile(home), 'utf8')).auths, { 'quay.io/org': { auth: b64('u:p2') } });
  });

  it('login/logout arguments: a host in any spelling, or host/namespace (lower case, no tag or digest, a real host first)', () => {
    assert.deepEqual(loginTarget('https://index.docker.io/v1/'), { registry: 'docker.io', name: 'docker.io' });
    assert.deepEqual(loginTarget('Quay.io/org/team'), { registry: 'quay.io', namespace: 'org/team', name: 'quay.io/org/team' });
    assert.deepEqual(loginTarget('index.docker.io/acme'), { registry: 'docker.io', namespace: 'acme', name: 'docker.io/acme' });
    assert.deepEqual(loginTarget('localhost:5000/ns'), { registry: 'localhost:5000', namespace: 'ns', name: 'localhost:5000/ns' });
    for (const bad of ['library/alpine', 'quay.io/org/app:1', 'quay.io/org@sha256:abc', 'quay.io/Org', 'quay.io//org', 'not a host']) {
      assert.throws(() => loginTarget(bad), { name: 'InvalidReferenceError', code: 'E_REFERENCE', message: `"${bad}" is not a registry host or a namespace in one; give e.g. ghcr.io, registry.example.com:5000 or quay.io/org (no tag or digest)` }, bad);
    }
  });

  it('writes through a symlinked config.json to its target', async () => {
    const home = await tempHome();
    const real = path.join(home, 'dotfiles', 'docker-config.json');
    await writeJson(real, { auths: {} });
    await fs.mkdir(path.join(home, '.docker'));
    await fs.symlink(real, dockerConfig(home));
    await storeCredential('ghcr.io', { username: 'me', password: 'p' }, { env: {}, homeDir: home });
    assert.ok((await fs.lstat(dockerConfig(home))).isSymbolicLink());
    assert.deepEqual(JSON.parse(await fs.readFile(real, 'utf8')).auths['ghcr.io'], { auth: b64('me:p') });
  });
});

describe('storing a login where the file cannot be replaced', () => {
  const failing = (t: TestContext, method: 'rename' | 'open', code: string, when: (file: string) => boolean) => {
    const real = fs[method].bind(fs) as (...args: unknown[]) => Promise<unknown>;
    t.mock.method(fs, method, async (...args: unknown[]) => {
      if (when(String(args[0])) || when(String(args[1] ?? ''))) throw Object.assign(new Error(`${code}: refused`), { code });
      return real(...args);
    });
  };

  it('config.json mounted on its own (a bind mount: rename onto it is EBUSY, as `docker login` meets too): one line saying so and what to mount instead; the file and folder are left as they were', async (t) => {
    const home = await tempHome();
    const file = dockerConfig(home);
    await writeJson(file, { auths: { 'quay.io': { auth: b64('q:old') } } });
    failing(t, 'rename', 'EBUSY', (f) => f === file);
    await assert.rejects(
      storeCredential('ghcr.io', { username: 'me', password: 'p' }, { env: {}, homeDir: home }),
      (e: unknown) => e instanceof AuthError && e.code === 'E_AUTH' && e.message === `cannot write credential file ${file}: EBUSY (a file mounted on its own, which cannot be replaced: mount the folder that holds it instead)`,
    );
    t.mock.restoreAll();
    assert.deepEqual(JSON.parse(await fs.readFile(file, 'utf8')), { auths: { 'quay.io': { auth: b64('q:old') } } });
    assert.deepEqual(await fs.readdir(path.dirname(file)), ['config.json'], 'no temporary file or lock left');
  });

  it('a read-only file system (a mounted secret): one line saying so, naming the variables that move the file', async (t) => {
    const home = await tempHome();
    const file = dockerConfig(home);
    await writeJson(file, { auths: {} });
    failing(t, 'open', 'EROFS', (f) => f === `${file}.lock`);
    await assert.rejects(
      storeCredential('ghcr.io', { username: 'me', password: 'p' }, { env: {}, homeDir: home }),
      (e: unknown) => e instanceof AuthError && e.code === 'E_AUTH' && e.message === `cannot write credential file ${file}: EROFS (making its lock ${file}.lock; a read-only file system, such as a mounted secret: set DOCKER_CONFIG or REGISTRY_AUTH_FILE to a writable place)`,
    );
  });
});

describe('helperCommand: how a credential helper is started', () => {
  it('elsewhere than on Windows: the bare name, which the OS finds on PATH', () => {
    assert.deepEqual(helperCommand('pass', 'get', { PATH: '/usr/bin' }, 'linux', () => true), { file: 'docker-credential-pass', args: ['get'] });
    assert.deepEqual(helperCommand('osxkeychain', 'erase', {}, 'darwin', () => true), { file: 'docker-credential-osxkeychain', args: ['erase'] });
  });

  it('on Windows: PATH searched with PATHEXT in order; a .cmd (gcloud\'s) runs through cmd.exe, quoted; an .exe directly; not found, the bare name', () => {
    const files = new Set(['C:\\SDK\\bin\\docker-credential-gcloud.cmd', 'C:\\Tools\\docker-credential-wincred.exe', 'C:\\SDK\\bin\\docker-credential-wincred.cmd']);
    const env = { Path: 'C:\\Windows;C:\\Tools\\;C:\\SDK\\bin', PATHEXT: '.COM;.EXE;.BAT;.CMD' };
    assert.deepEqual(helperCommand('gcloud', 'get', env, 'win32', (p) => files.has(p)), { file: '"C:\\SDK\\bin\\docker-credential-gcloud.cmd" get', args: [], shell: true });
    // The first directory that has one wins, as on PATH.
    assert.deepEqual(helperCommand('wincred', 'store', env, 'win32', (p) => files.has(p)), { file: 'C:\\Tools\\docker-credential-wincred.exe', args: ['store'] });
    assert.deepEqual(helperCommand('missing', 'get', env, 'win32', (p) => files.has(p)), { file: 'docker-credential-missing', args: ['get'] });
    // Without PATHEXT, Windows' default list.
    assert.deepEqual(helperCommand('gcloud', 'get', { PATH: 'C:\\SDK\\bin' }, 'win32', (p) => files.has(p)).shell, true);
  });
});

describe('resolveCredential: a credential file found by default that cannot be read', () => {
  it('is skipped with one warning naming it (anonymous access goes on, a later file is still read); one named by REGISTRY_AUTH_FILE is an error', async () => {
    // A directory where the file should be: EISDIR, as EACCES would be for a root-owned ~/.docker (root reads any file, so the test uses this).
    const o = await setup();
    await fs.mkdir(dockerConfig(o.home), { recursive: true });
    assert.equal(await resolveCredential('ghcr.io', o), undefined);
    assert.ok(o.log.lines.some((l) => l === `cannot read credential file ${dockerConfig(o.home)} (EISDIR): skipped`), o.log.lines.join(' | '));
    // The next file in the order still counts: Podman's auth.json under XDG_RUNTIME_DIR.
    const runtime = path.join(o.home, 'xdg');
    await writeJson(path.join(runtime, 'containers', 'auth.json'), { auths: { 'ghcr.io': { auth: b64(`u:${SECRET}`) } } });
    assert.deepEqual(await resolveCredential('ghcr.io', { ...o, env: { XDG_RUNTIME_DIR: runtime } }), { username: 'u', password: SECRET });
    await assert.rejects(resolveCredential('ghcr.io', { ...o, env: { REGISTRY_AUTH_FILE: dockerConfig(o.home) } }), (e: unknown) => e instanceof AuthError && e.code === 'E_AUTH' && /cannot read credential file .*EISDIR/.test(e.message));
  });
});

describe('credHelpers edge cases', () => {
  it('an empty helper name keeps that registry\'s logins in the file, credsStore or not (Docker reads "" as the file store)', async () => {
    const o = await setup({ runHelper: async (name) => assert.fail(`no helper may run: ${name}`) });
    await writeJson(dockerConfig(o.home), { credsStore: 'desktop', credHelpers: { 'ghcr.io': '' }, auths: { 'ghcr.io': { auth: b64(`u:${SECRET}`) } } });
    assert.deepEqual(await resolveCredential('ghcr.io', o), { username: 'u', password: SECRET });
    // login stores it in the file too, with no helper run.
    await storeCredential('ghcr.io', { username: 'v', password: 'p2' }, { env: {}, homeDir: o.home, execHelper: async (name) => assert.fail(`no helper may run: ${name}`) });
    const data = JSON.parse(await fs.readFile(dockerConfig(o.home), 'utf8'));
    assert.deepEqual(data.auths['ghcr.io'], { auth: b64('v:p2') });
  });

  it('a login through a credHelpers helper drops the old secrets of that registry\'s file entry (as a credsStore login does)', async () => {
    const home = await tempHome();
    await writeJson(dockerConfig(home), { credHelpers: { 'ghcr.io': 'fake' }, auths: { 'ghcr.io': { auth: b64('old:oldpass') }, 'quay.io': { auth: b64('q:keep') } } });
    await storeCredential('ghcr.io', { username: 'new', password: 'p2' }, { env: {}, homeDir: home, execHelper: async () => '' });
    const data = JSON.parse(await fs.readFile(dockerConfig(home), 'utf8'));
    assert.deepEqual(data.auths['ghcr.io'], {});
    assert.deepEqual(data.auths['quay.io'], { auth: b64('q:keep') }, 'other entries untouched');
    assert.ok(!JSON.stringify(data).includes(b64('old:oldpass')));
  });
});

describe('the auth file written by root', () => {
  it('keeps the owner and mode of the file it replaces (a user\'s config written with sudo stays the user\'s)', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to own a file as another user');
    const home = await tempHome();
    await writeJson(dockerConfig(home), { auths: { 'quay.io': { auth: b64('q:keep') } } });
    await fs.chown(dockerConfig(home), 1234, 2345);
    await fs.chmod(dockerConfig(home), 0o640);
    await storeCredential('ghcr.io', { username: 'u', password: 'p' }, { env: {}, homeDir: home });
    const st = await fs.stat(dockerConfig(home));
    assert.deepEqual([st.uid, st.gid, (st.mode & 0o777).toString(8)], [1234, 2345, '640']);
    // A new file (none before) is root's own.
    const fresh = await tempHome();
    await storeCredential('ghcr.io', { username: 'u', password: 'p' }, { env: {}, homeDir: fresh });
    assert.equal((await fs.stat(dockerConfig(fresh))).uid, 0);
  });

  it('takes the writer\'s uid from the injected `system`, as the lookup does (credentialFiles): a writer it says is not root hands no file over', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to own a file as another user');
    const home = await tempHome();
    await writeJson(dockerConfig(home), { auths: { 'quay.io': { auth: b64('q:keep') } } });
    await fs.chown(dockerConfig(home), 1234, 2345);
    await storeCredential('ghcr.io', { username: 'u', password: 'p' }, { env: {}, homeDir: home, system: { uid: 1000 } });
    const st = await fs.stat(dockerConfig(home));
    assert.deepEqual([st.uid, st.gid], [0, 0], 'written as the process writes it, no chown');
  });
});

describe('the mode of a credential file rewritten by its user (as Docker\'s config writer keeps it)', () => {
  // Was: every login wrote 0600, so a config shared with a group (0640, e.g. a CI service
  // reading the deploy user's logins) lost the group's read at the next login.
  const system = { uid: 1234 };
  const rewrite = async (mode: number, gid: number) => {
    const home = await tempHome();
    await writeJson(dockerConfig(home), { auths: { 'quay.io': { auth: b64('q:keep') } } });
    await fs.chown(dockerConfig(home), 1234, gid);
    await fs.chmod(dockerConfig(home), mode);
    await storeCredential('ghcr.io', { username: 'u', password: 'p' }, { env: {}, homeDir: home, system });
    const st = await fs.stat(dockerConfig(home));
    assert.deepEqual(Object.keys(JSON.parse(await fs.readFile(dockerConfig(home), 'utf8')).auths).sort(), ['ghcr.io', 'quay.io']);
    return { gid: st.gid, mode: (st.mode & 0o777).toString(8) };
  };

  it('a group-shared 0640 file keeps its group and the group\'s read', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to own a file as another user');
    assert.deepEqual(await rewrite(0o640, 2345), { gid: 2345, mode: '640' });
  });

  it('a 0600 file stays 0600; a 0644 file stays 0644, as Docker leaves it', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to own a file as another user');
    assert.deepEqual(await rewrite(0o600, 2345), { gid: 2345, mode: '600' });
    assert.deepEqual(await rewrite(0o644, 2345), { gid: 2345, mode: '644' });
  });

  it('where the group cannot be kept (the file is another user\'s), the new group gets no more than everyone else had', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to own a file as another user');
    const home = await tempHome();
    await writeJson(dockerConfig(home), { auths: {} });
    await fs.chown(dockerConfig(home), 4321, 2345);
    await fs.chmod(dockerConfig(home), 0o640);
    await storeCredential('ghcr.io', { username: 'u', password: 'p' }, { env: {}, homeDir: home, system });
    const st = await fs.stat(dockerConfig(home));
    assert.deepEqual([st.gid, (st.mode & 0o777).toString(8)], [0, '600'], 'group 2345\'s read is not handed to the writer\'s group');
  });
});

describe('the auth file behind a symlink', () => {
  it('a link whose target does not exist yet is followed: the file is written there and the link stays', async () => {
    const home = await tempHome();
    await fs.mkdir(path.join(home, '.docker'), { recursive: true });
    await fs.mkdir(path.join(home, 'real'));
    await fs.symlink('../real/cfg.json', dockerConfig(home));
    await storeCredential('ghcr.io', { username: 'u', password: 'p' }, { env: {}, homeDir: home });
    assert.equal((await fs.lstat(dockerConfig(home))).isSymbolicLink(), true, 'the link is still a link');
    const data = JSON.parse(await fs.readFile(path.join(home, 'real', 'cfg.json'), 'utf8'));
    assert.deepEqual(data.auths['ghcr.io'], { auth: b64('u:p') });
  });
});
