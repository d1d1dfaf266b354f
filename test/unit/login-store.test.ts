/**
 * What `regpush login`/`logout` leave in the credential files: Docker Hub's other spellings
 * replaced, parallel runs that all keep their entry (the file's lock), a logout whose credential
 * helper is missing or hangs, a DOCKER_CONFIG that names a file. The registry's check (the /v2/
 * ping) is stubbed where login() runs: nothing is sent anywhere. Every test has its own temp home;
 * the machine's own files are never read or written.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eraseCredential, storeCredential } from '../fixtures/stored-logins.js';
import { resolveCredential } from '../../src/auth/credential-lookup.js';
import { updateCredentialFile } from '../../src/auth/config-file.js';
import { withCredentialFileLock } from '../../src/auth/credential-lock.js';
import { login, logout } from '../../src/login/login.js';
import { HttpRegistryClient } from '../../src/registry/http-registry-client.js';
import { main } from '../../src/cli/main.js';
import { runMain } from '../fixtures/run-main.js';
import { assertValidOutput } from '../e2e/report-schema.js';
import { AuthError, InputError, UsageError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';

const SECRET = 'n3w-Pa55word-x';
const HUB = 'https://index.docker.io/v1/';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const roots: string[] = [];
after(async () => {
  for (const r of roots) await fs.rm(r, { recursive: true, force: true });
});

async function tempHome(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'regpush-login-store-'));
  roots.push(dir);
  return dir;
}

async function writeJson(file: string, data: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify(data));
}

const readJson = async (file: string) => JSON.parse(await fs.readFile(file, 'utf8'));
const dockerConfig = (home: string) => path.join(home, '.docker', 'config.json');
/** Linux with a made-up uid and /run under the temp home. */
const testSystem = (home: string) => ({ platform: 'linux' as const, uid: 4242, root: home });

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, debug: (m) => lines.push(m), info: (m) => lines.push(m), warn: (m) => lines.push(m) };
}

describe('a login replaces the registry\'s login in every spelling', () => {
  it('Docker Hub through login(): the docker.io, index.docker.io and registry-1.docker.io entries go, namespace keys and other registries stay', async (t) => {
    // Was: only https://index.docker.io/v1/ was written; Podman and skopeo, which prefer a
    // docker.io key, went on sending the old login (`skopeo login --get-login docker.io`).
    const pings = t.mock.method(HttpRegistryClient.prototype, 'ping', async () => {});
    const home = await tempHome();
    await writeJson(dockerConfig(home), {
      auths: {
        'docker.io': { auth: b64('alice:old-pw-1') },
        'index.docker.io': { auth: b64('alice:old-pw-2') },
        'https://registry-1.docker.io/v2/': { auth: b64('alice:old-pw-3') },
        'docker.io/acme': { auth: b64('acme:ns') },
        'ghcr.io': { auth: b64('gh:pw') },
      },
      psFormat: 'table',
    });
    assert.deepEqual(await login({ registry: 'docker.io', username: 'bob', password: SECRET, env: {}, homeDir: home }), { registry: 'docker.io' });
    assert.equal(pings.mock.callCount(), 1);
    const data = await readJson(dockerConfig(home));
    assert.deepEqual(data.auths, { 'docker.io/acme': { auth: b64('acme:ns') }, 'ghcr.io': { auth: b64('gh:pw') }, [HUB]: { auth: b64(`bob:${SECRET}`) } });
    assert.equal(data.psFormat, 'table');
    // Read the way Podman reads it (a docker.io key first, were there one): the new login.
    for (const registry of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      assert.deepEqual(await resolveCredential(registry, { role: 'to', env: {}, homeDir: home, system: testSystem(home) }), { username: 'bob', password: SECRET });
    }
  });

  it('through a credsStore: the old plaintext entries under other spellings go (none is left in the file), and the store loses its logins under them', async () => {
    const home = await tempHome();
    await writeJson(dockerConfig(home), { credsStore: 'pass', auths: { 'docker.io': { auth: b64('old:stale-Password-1') }, 'registry-1.docker.io': {} } });
    const calls: string[] = [];
    const execHelper = async (_name: string, action: 'get' | 'store' | 'erase', input: string) => {
      calls.push(`${action} ${action === 'store' ? JSON.parse(input).ServerURL : input}`);
      if (input === 'registry-1.docker.io') throw new Error('credentials not found in native keychain');
      return '';
    };
    await storeCredential('docker.io', { username: 'me', password: SECRET }, { env: {}, homeDir: home, execHelper });
    assert.deepEqual(calls, [`store ${HUB}`, 'erase docker.io', 'erase registry-1.docker.io']);
    const text = await fs.readFile(dockerConfig(home), 'utf8');
    assert.ok(!text.includes(b64('old:stale-Password-1')), text);
    assert.deepEqual(JSON.parse(text).auths, { [HUB]: {} });
  });

  it('another registry written as https://host and host: the login updates the exact key and drops the other', async () => {
    const home = await tempHome();
    await writeJson(dockerConfig(home), { auths: { 'https://ghcr.io': { auth: b64('a:old') }, 'ghcr.io': { auth: b64('b:old') }, 'ghcr.io/org': { auth: b64('ns:x') } } });
    await storeCredential('ghcr.io', { username: 'new', password: 'p' }, { env: {}, homeDir: home });
    assert.deepEqual((await readJson(dockerConfig(home))).auths, { 'ghcr.io': { auth: b64('new:p') }, 'ghcr.io/org': { auth: b64('ns:x') } });
  });
});

describe('a namespace login through login()', () => {
  it('goes to the containers auth file, config.json untouched (where Docker would use it for the whole registry)', async (t) => {
    const pings = t.mock.method(HttpRegistryClient.prototype, 'ping', async () => {});
    const home = await tempHome();
    await writeJson(dockerConfig(home), { auths: { 'quay.io': { auth: b64('reader:r') } } });
    const before = await fs.readFile(dockerConfig(home), 'utf8');
    const runtime = path.join(home, 'xdg-run');
    await fs.mkdir(runtime, { mode: 0o700 }); // made by the login manager (systemd-logind), never by regpush
    const env = { XDG_RUNTIME_DIR: runtime };
    assert.deepEqual(await login({ registry: 'quay.io/team-a', username: 'alice', password: SECRET, env, homeDir: home }), { registry: 'quay.io', namespace: 'team-a' });
    assert.equal(await fs.readFile(dockerConfig(home), 'utf8'), before);
    assert.deepEqual((await readJson(path.join(runtime, 'containers', 'auth.json'))).auths, { 'quay.io/team-a': { auth: b64(`alice:${SECRET}`) } });
    assert.equal(pings.mock.callCount(), 1);
  });
});

describe('a namespace login with nowhere to keep it', () => {
  it('XDG_RUNTIME_DIR naming a folder that does not exist: E_INPUT (an environment variable\'s value) naming it before any request, and the folder is not made (as Podman refuses)', { skip: process.platform !== 'linux' }, async (t) => {
    // Was: the login made $XDG_RUNTIME_DIR itself (mode 0700, owned by whoever ran it) and stored
    // the password there; a runtime dir is the login manager's to make (and to empty at logout),
    // and containers/image refuses to write its auth file there rather than make it.
    const pings = t.mock.method(HttpRegistryClient.prototype, 'ping', async () => {});
    const home = await tempHome();
    const runtime = path.join(home, 'run', 'user', '4242');
    const env = { HOME: home, XDG_RUNTIME_DIR: runtime };
    const refused = (e: unknown) =>
      e instanceof InputError &&
      e.code === 'E_INPUT' &&
      e.message ===
        `cannot store a login for quay.io/org in ${path.join(runtime, 'containers', 'auth.json')}: XDG_RUNTIME_DIR names ${runtime}, which does not exist (regpush does not make a runtime directory, as Podman does not): create it, or set REGISTRY_AUTH_FILE to the file to keep logins in`;
    await assert.rejects(login({ registry: 'quay.io/org', username: 'a', password: SECRET, env, homeDir: home }), refused);
    await assert.rejects(storeCredential('quay.io/org', { username: 'a', password: SECRET }, { env, homeDir: home }), refused);
    assert.equal(pings.mock.callCount(), 0, 'refused before the registry is asked');
    await assert.rejects(fs.stat(path.join(home, 'run')), { code: 'ENOENT' }, 'the runtime dir (or a folder above it) was made');
    // A file where the folder should be: the same refusal, worded for it.
    await fs.mkdir(path.dirname(runtime), { recursive: true });
    await fs.writeFile(runtime, '');
    await assert.rejects(storeCredential('quay.io/org', { username: 'a', password: SECRET }, { env, homeDir: home }), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT' && e.message.includes(`XDG_RUNTIME_DIR names ${runtime}, which is not a directory`));
    await fs.rm(runtime);
    // A logout finds nothing stored there and makes nothing either.
    assert.equal(await eraseCredential('quay.io/org', { env, homeDir: home }), false);
    await assert.rejects(fs.stat(runtime), { code: 'ENOENT' });

    // The CLI: exit 2, the one line.
    const err: string[] = [];
    const code = await main(['login', '-u', 'a', '-p', SECRET, 'quay.io/org'], {
      stdout: new PassThrough(),
      stderr: Object.assign(new PassThrough(), { columns: 200 }).on('data', (d) => err.push(String(d))),
      stdin: new PassThrough(),
      env,
      cwd: home,
    });
    assert.equal(code, 2, err.join(''));
    const errors = err.join('').split('\n').filter((l) => l.startsWith('regpush: error:'));
    assert.equal(errors.length, 1, err.join(''));
    assert.match(errors[0]!, /XDG_RUNTIME_DIR names .* which does not exist .*\[E_INPUT\]$/);
    assert.equal(pings.mock.callCount(), 0);
    await assert.rejects(fs.stat(runtime), { code: 'ENOENT' });

    // Once it exists, its containers/ folder is made, as Podman makes it.
    await fs.mkdir(runtime, { recursive: true, mode: 0o700 });
    await storeCredential('quay.io/org', { username: 'a', password: SECRET }, { env, homeDir: home });
    assert.deepEqual(Object.keys((await readJson(path.join(runtime, 'containers', 'auth.json'))).auths), ['quay.io/org']);
  });

  it('env: {} without a home on Linux too: E_INPUT (the environment names no file) before any request (Podman\'s /run/containers/<uid>/ file is not used without a home either)', async (t) => {
    const pings = t.mock.method(HttpRegistryClient.prototype, 'ping', async () => {});
    const nowhere = (e: unknown) => e instanceof InputError && e.code === 'E_INPUT' && /cannot store a login for quay\.io\/org: .*there is none to write here: set REGISTRY_AUTH_FILE/.test(e.message);
    await assert.rejects(storeCredential('quay.io/org', { username: 'a', password: SECRET }, { env: {}, system: { platform: 'linux', uid: 4242 } }), nowhere);
    await assert.rejects(storeCredential('quay.io/org', { username: 'a', password: SECRET }, { env: {}, system: { platform: 'darwin' } }), nowhere);
    if (process.platform === 'linux') await assert.rejects(login({ registry: 'quay.io/org', username: 'a', password: SECRET, env: {} }), nowhere);
    assert.equal(pings.mock.callCount(), 0);
    // A logout of that namespace has no such file to look in either: nothing can be stored there, so nothing to remove (not an error).
    assert.equal(await eraseCredential('quay.io/org', { env: {}, system: { platform: 'linux', uid: 4242 } }), false);
    // A login for the whole registry goes to Docker's config.json, which needs a home too: the same
    // shortfall (homeDir may be left out, the home then being env.HOME), and the same code.
    const noFile = (e: unknown) =>
      e instanceof InputError && e.code === 'E_INPUT' && e.message === 'no credential file to write: give homeDir (or HOME in env), DOCKER_CONFIG or REGISTRY_AUTH_FILE';
    await assert.rejects(storeCredential('quay.io', { username: 'a', password: SECRET }, { env: {} }), noFile);
    await assert.rejects(eraseCredential('quay.io', { env: {} }), noFile);
    await assert.rejects(login({ registry: 'quay.io', username: 'a', password: SECRET, env: {} }), noFile);
    assert.equal(pings.mock.callCount(), 0);
  });
});

describe('parallel logins (a lock around each read-modify-write of the file)', () => {
  const credentialStore = fileURLToPath(new URL('../../src/auth/credential-store.js', import.meta.url));

  it('8 logins in this process and 8 in other processes, all at once: all 16 entries are stored', async () => {
    // Was: each run read the file, added its entry and renamed its copy over it; 8 parallel logins kept 5.
    const home = await tempHome();
    const opts = { env: {}, homeDir: home };
    const script = (i: number) =>
      `import { openLoginStore } from ${JSON.stringify(credentialStore)};\n` +
      `await (await openLoginStore('child${i}.example.com', { env: {}, homeDir: ${JSON.stringify(home)} })).store({ username: 'u${i}', password: 'p${i}' });\n`;
    const run = promisify(execFile);
    await Promise.all([
      ...Array.from({ length: 8 }, (_, i) => storeCredential(`reg${i}.example.com`, { username: `u${i}`, password: `p${i}` }, opts)),
      ...Array.from({ length: 8 }, (_, i) => run(process.execPath, ['--input-type=module', '-e', script(i)])),
    ]);
    const keys = Object.keys((await readJson(dockerConfig(home))).auths).sort();
    assert.deepEqual(keys, [...Array.from({ length: 8 }, (_, i) => `child${i}.example.com`), ...Array.from({ length: 8 }, (_, i) => `reg${i}.example.com`)].sort());
    assert.deepEqual((await fs.readdir(path.join(home, '.docker'))).sort(), ['config.json'], 'no lock or temp file left');
    // Parallel logouts too.
    await Promise.all(Array.from({ length: 8 }, (_, i) => eraseCredential(`reg${i}.example.com`, opts)));
    assert.deepEqual(Object.keys((await readJson(dockerConfig(home))).auths).sort(), Array.from({ length: 8 }, (_, i) => `child${i}.example.com`));
  });

  it('a held lock is waited for; one left by a run that died (stale) is removed with a warning; the lock goes when the change fails', async () => {
    const home = await tempHome();
    const file = dockerConfig(home);
    const lock = `${file}.lock`;
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(lock, '');
    let done = false;
    const storing = storeCredential('ghcr.io', { username: 'me', password: 'p' }, { env: {}, homeDir: home }).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(done, false, 'written while another held the lock');
    await fs.rm(lock);
    await storing;
    assert.deepEqual(Object.keys((await readJson(file)).auths), ['ghcr.io']);

    await fs.writeFile(lock, '');
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(lock, old, old);
    const log = capture();
    await storeCredential('quay.io', { username: 'me', password: 'p' }, { env: {}, homeDir: home, logger: log });
    assert.deepEqual(Object.keys((await readJson(file)).auths), ['ghcr.io', 'quay.io']);
    assert.ok(log.lines.some((l) => l.includes(`took over a stale lock ${lock}`)), log.lines.join('\n'));

    // The update's own error, as it was thrown (not made a RegpushError on its way).
    const boom = new Error('boom');
    await assert.rejects(
      updateCredentialFile(file, () => {
        throw boom;
      }),
      (e: unknown) => e === boom,
    );
    await assert.rejects(fs.stat(lock), { code: 'ENOENT' }, 'the lock outlived a failed change');
    assert.equal(await withCredentialFileLock(file, async () => fs.stat(lock).then(() => 'held')), 'held');
    assert.deepEqual((await fs.readdir(path.dirname(file))).sort(), ['config.json']);
  });
});

describe('the lock of a credential file is removed only by its holder', () => {
  it('a holder whose lock was taken as stale meanwhile (held past staleMs) leaves the new holder\'s lock in place', async () => {
    // Was: the first holder's `finally` removed whatever lock was there, the second holder's
    // included, and a third writer could then write beside the second.
    const home = await tempHome();
    const file = dockerConfig(home);
    const lock = `${file}.lock`;
    let releaseFirst!: () => void;
    // Its heartbeat an hour apart: it stands for a stopped process, whose lock does not stay fresh.
    const first = withCredentialFileLock(file, () => new Promise<void>((r) => (releaseFirst = r)), { heartbeatMs: 3_600_000 });
    while (!(await fs.stat(lock).catch(() => undefined))) await new Promise((r) => setTimeout(r, 5));
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(lock, old, old);
    const stale: string[] = [];
    let finishSecond!: () => void;
    let secondHolds!: () => void;
    const holding = new Promise<void>((r) => (secondHolds = r));
    const second = withCredentialFileLock(
      file,
      async () => {
        secondHolds();
        await new Promise<void>((r) => (finishSecond = r));
      },
      { onStale: (l) => stale.push(l) },
    );
    await holding;
    assert.deepEqual(stale, [lock]);
    releaseFirst();
    await first;
    assert.ok(await fs.stat(lock).catch(() => undefined), 'the first holder removed the second holder\'s lock');
    finishSecond();
    await second;
    await assert.rejects(fs.stat(lock), { code: 'ENOENT' }, 'the second holder left its lock');
  });

  it('a process that exits holding the lock removes it on its way out', { skip: process.platform === 'win32' }, async () => {
    const home = await tempHome();
    const file = dockerConfig(home);
    const lockModule = fileURLToPath(new URL('../../src/auth/credential-lock.js', import.meta.url));
    const script =
      `import { withCredentialFileLock } from ${JSON.stringify(lockModule)};\n` +
      `await withCredentialFileLock(${JSON.stringify(file)}, async () => process.exit(130));\n`;
    const code = await new Promise<number | null>((resolve) => execFile(process.execPath, ['--input-type=module', '-e', script]).on('exit', resolve));
    assert.equal(code, 130);
    assert.deepEqual(await fs.readdir(path.dirname(file)), []);
  });
});

describe('logout when the credential helper cannot be asked', () => {
  async function setupStore(helperScript?: string): Promise<{ home: string; env: Record<string, string> }> {
    const home = await tempHome();
    const bin = path.join(home, 'bin');
    await fs.mkdir(bin);
    if (helperScript) await fs.writeFile(path.join(bin, 'docker-credential-slow'), helperScript, { mode: 0o755 });
    await writeJson(dockerConfig(home), { credsStore: helperScript ? 'slow' : 'gone', auths: { 'ghcr.io': { auth: b64(`me:${SECRET}`) }, 'https://ghcr.io': {}, 'quay.io': { auth: b64('q:1') } } });
    return { home, env: { PATH: `${bin}:/usr/bin:/bin` } };
  }

  it('missing from PATH: the file\'s entries (a password every lookup used) still go, with a warning; exit 0', async () => {
    // Was: the erase failed first, so the password stayed in the file and lookups went on using it.
    const { home, env } = await setupStore();
    assert.deepEqual(await resolveCredential('ghcr.io', { role: 'to', env, homeDir: home, system: testSystem(home) }), { username: 'me', password: SECRET });
    const log = capture();
    assert.equal(await eraseCredential('ghcr.io', { env, homeDir: home, logger: log }), true);
    assert.deepEqual((await readJson(dockerConfig(home))).auths, { 'quay.io': { auth: b64('q:1') } });
    assert.ok(log.lines.some((l) => /docker-credential-gone not found on PATH: the login it may hold was not erased; the entries for ghcr\.io in .* are removed/.test(l)), log.lines.join('\n'));
    assert.equal(await resolveCredential('ghcr.io', { role: 'to', env, homeDir: home, system: testSystem(home) }), undefined);

    // The CLI: removed, the warning, exit 0.
    const again = await setupStore();
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['logout', 'ghcr.io'], {
      stdout: new PassThrough().on('data', (d) => out.push(String(d))),
      stderr: Object.assign(new PassThrough(), { columns: 100 }).on('data', (d) => err.push(String(d))),
      stdin: new PassThrough(),
      env: { ...again.env, HOME: again.home, XDG_RUNTIME_DIR: path.join(again.home, 'run') },
      cwd: again.home,
    });
    assert.equal(code, 0, err.join(''));
    assert.equal(out.join(''), 'Removed login credentials for ghcr.io\n');
    assert.match(err.join(''), /warning: credential helper docker-credential-gone erase for .* failed: docker-credential-gone not found on PATH/);
    assert.ok(!err.join('').includes(SECRET));
  });

  it('logout() and --json name the helper that could not be asked (helperNotAsked), so removed: false is not read as nothing stored', async () => {
    const { home, env } = await setupStore();
    await writeJson(dockerConfig(home), { credsStore: 'gone', auths: { 'quay.io': { auth: b64('q:1') } } });
    const cliEnv = { ...env, HOME: home, XDG_RUNTIME_DIR: path.join(home, 'run') };
    assert.deepEqual(await logout({ registry: 'ghcr.io', env: cliEnv, homeDir: home }), { registry: 'ghcr.io', removed: false, helperNotAsked: 'docker-credential-gone' });
    const r = await runMain(['logout', '--json', 'ghcr.io'], { env: cliEnv, cwd: home });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as unknown;
    assert.deepEqual(out, { registry: 'ghcr.io', removed: false, helperNotAsked: 'docker-credential-gone' });
    assertValidOutput('logout', out);
    assert.match(r.stderr, /^warning: credential helper docker-credential-gone erase for ghcr\.io failed/);
    // Every helper asked (none configured): no such field.
    await writeJson(dockerConfig(home), { auths: { 'ghcr.io': { auth: b64('g:1') } } });
    assert.deepEqual(await logout({ registry: 'ghcr.io', env: cliEnv, homeDir: home }), { registry: 'ghcr.io', removed: true });
  });

  it('the CLI, with no entry in the file: the warning alone, not "Not logged in" after it (was both: the second contradicted the first)', async () => {
    const { home, env } = await setupStore();
    await writeJson(dockerConfig(home), { credsStore: 'gone', auths: { 'quay.io': { auth: b64('q:1') } } });
    const cliEnv = { ...env, HOME: home, XDG_RUNTIME_DIR: path.join(home, 'run') };
    const r = await runMain(['logout', 'ghcr.io'], { env: cliEnv, cwd: home });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^warning: credential helper docker-credential-gone erase for ghcr\.io failed: docker-credential-gone not found on PATH: the login it may hold was not erased\n$/);
    // Nothing stored anywhere, no helper involved: "Not logged in".
    await writeJson(dockerConfig(home), { auths: { 'quay.io': { auth: b64('q:1') } } });
    const none = await runMain(['logout', 'ghcr.io'], { env: cliEnv, cwd: home });
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stderr, 'Not logged in to ghcr.io\n');
  });

  it('timing out: the file\'s entries go, then E_AUTH saying the store may still hold the login', async () => {
    const { home, env } = await setupStore('#!/bin/sh\nexec sleep 30\n');
    const err = await eraseCredential('ghcr.io', { env, homeDir: home, helperTimeoutMs: 300 }).then(
      () => assert.fail('no error'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AuthError, String(err));
    assert.equal(err.code, 'E_AUTH');
    assert.match(err.message, /docker-credential-slow erase for ghcr\.io failed: timed out after 300 ms.*; the entries for ghcr\.io in .* were removed, but the login the helper holds was not erased$/);
    assert.deepEqual((await readJson(dockerConfig(home))).auths, { 'quay.io': { auth: b64('q:1') } });
  });
  it('with no entry for the registry in the file (a credsStore login): the warning and the error do not say entries were removed', async () => {
    const log = capture();
    const missing = await setupStore();
    await writeJson(dockerConfig(missing.home), { credsStore: 'gone', auths: { 'quay.io': { auth: b64('q:1') } } });
    assert.equal(await eraseCredential('ghcr.io', { env: missing.env, homeDir: missing.home, logger: log }), false);
    const warning = log.lines.find((l) => l.includes('docker-credential-gone not found on PATH'));
    assert.ok(warning?.endsWith('not found on PATH: the login it may hold was not erased'), log.lines.join('\n'));

    const slow = await setupStore('#!/bin/sh\nexec sleep 30\n');
    await writeJson(dockerConfig(slow.home), { credsStore: 'slow', auths: { 'quay.io': { auth: b64('q:1') } } });
    await assert.rejects(
      eraseCredential('ghcr.io', { env: slow.env, homeDir: slow.home, helperTimeoutMs: 300 }),
      (e: unknown) => e instanceof AuthError && e.code === 'E_AUTH' && /timed out after 300 ms.*; the login the helper holds was not erased$/.test(e.message) && !e.message.includes('removed'),
    );
    assert.deepEqual((await readJson(dockerConfig(slow.home))).auths, { 'quay.io': { auth: b64('q:1') } });
  });
});

describe('logout connects nowhere, so it takes no connection settings', () => {
  it('a broken registries.conf does not refuse it (was: E_INPUT, the login kept); a connection flag is an unknown flag, not ignored; help lists none', async () => {
    const home = await tempHome();
    await writeJson(dockerConfig(home), { auths: { 'ghcr.io': { auth: b64(`me:${SECRET}`) }, 'quay.io': { auth: b64('q:1') } } });
    const conf = path.join(home, 'registries.conf');
    await fs.writeFile(conf, 'garbage [[[\n');
    const env = { HOME: home, XDG_RUNTIME_DIR: path.join(home, 'run'), REGISTRIES_CONFIG_PATH: conf };
    const r = await runMain(['logout', 'ghcr.io'], { env, cwd: home });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Removed login credentials for ghcr.io\n');
    assert.deepEqual((await readJson(dockerConfig(home))).auths, { 'quay.io': { auth: b64('q:1') } });

    for (const flag of ['--ca-cert=quay.io=/nonexistent.pem', '--insecure-registry=quay.io', '--registry-mirror=quay.io=m.example', '--retries=2']) {
      const refused = await runMain(['logout', flag, 'quay.io'], { env, cwd: home });
      assert.equal(refused.code, 2, flag);
      assert.match(refused.stderr, /^regpush: error: unknown flag --[\w-]+.*\[E_USAGE\]\n$/, flag);
    }
    assert.deepEqual((await readJson(dockerConfig(home))).auths, { 'quay.io': { auth: b64('q:1') } });

    const help = await runMain(['logout', '--help'], { columns: 100 });
    assert.equal(help.code, 0);
    assert.doesNotMatch(help.stdout, /Connection:|--insecure-registry|--ca-cert|--registry-mirror|--retries/);
    assert.match(help.stdout, /--json/);
  });
});

describe('DOCKER_CONFIG naming a file instead of its directory', () => {
  it('is E_INPUT (an environment variable\'s value) naming DOCKER_CONFIG for lookups, login and logout (was: its logins silently ignored, then "cannot write …/config.json/config.json")', async () => {
    const home = await tempHome();
    const file = dockerConfig(home);
    await writeJson(file, { auths: { 'ghcr.io': { auth: b64('me:pw') } } });
    const before = await fs.readFile(file, 'utf8');
    const env = { DOCKER_CONFIG: file };
    const usage = (e: unknown) =>
      e instanceof InputError &&
      e.code === 'E_INPUT' &&
      e.message === `DOCKER_CONFIG names ${file}, which is not a directory; it must name the directory that holds config.json: set it to ${path.dirname(file)}`;
    await assert.rejects(resolveCredential('ghcr.io', { role: 'to', env, homeDir: home, system: testSystem(home) }), usage);
    await assert.rejects(storeCredential('ghcr.io', { username: 'me', password: 'x' }, { env, homeDir: home }), usage);
    await assert.rejects(eraseCredential('ghcr.io', { env, homeDir: home }), usage);
    await assert.rejects(login({ registry: 'ghcr.io', username: 'me', password: 'x', env, homeDir: home }), usage, 'refused before the registry is asked');
    assert.equal(await fs.readFile(file, 'utf8'), before);
    // A DOCKER_CONFIG directory that does not exist yet is still fine (login creates it).
    const fresh = path.join(home, 'new-docker');
    await storeCredential('ghcr.io', { username: 'me', password: 'x' }, { env: { DOCKER_CONFIG: fresh }, homeDir: home });
    assert.deepEqual(Object.keys((await readJson(path.join(fresh, 'config.json'))).auths), ['ghcr.io']);
  });
});

describe('a namespace login or logout refused by a credential file: refused before the registry is asked, nothing written', () => {
  // Was: login() checked only which file a namespace's login goes to before the /v2/ request; the
  // rest (DOCKER_CONFIG, Docker's config.json, the file's credHelpers) came after auth.json was
  // written, so the login was stored and the command failed; a logout emptied auth.json, then failed.
  async function setup(dockerText?: string, authData?: unknown): Promise<{ home: string; auth: string; env: Record<string, string> }> {
    const home = await tempHome();
    if (dockerText !== undefined) {
      await fs.mkdir(path.dirname(dockerConfig(home)), { recursive: true });
      await fs.writeFile(dockerConfig(home), dockerText);
    }
    const runtime = path.join(home, 'run');
    await fs.mkdir(runtime);
    const auth = path.join(runtime, 'containers', 'auth.json');
    if (authData !== undefined) await writeJson(auth, authData);
    return { home, auth, env: { HOME: home, XDG_RUNTIME_DIR: runtime } };
  }
  const held = { auths: { 'ghcr.io/org': { auth: b64('alice:old') } } };

  it('DOCKER_CONFIG naming a file: login E_INPUT with no request and no auth.json; logout E_INPUT with auth.json kept', async (t) => {
    const pings = t.mock.method(HttpRegistryClient.prototype, 'ping', async () => {});
    const { home, auth, env } = await setup('{"auths": {}}');
    const file = dockerConfig(home);
    const usage = (e: unknown) => e instanceof InputError && e.code === 'E_INPUT' && e.message.startsWith(`DOCKER_CONFIG names ${file}, which is not a directory`);
    const withFile = { ...env, DOCKER_CONFIG: file };
    await assert.rejects(login({ registry: 'ghcr.io/org', username: 'alice', password: SECRET, env: withFile, homeDir: home }), usage);
    await assert.rejects(storeCredential('ghcr.io/org', { username: 'alice', password: SECRET }, { env: withFile, homeDir: home }), usage);
    assert.equal(pings.mock.callCount(), 0, 'refused before the registry is asked');
    await assert.rejects(fs.stat(auth), { code: 'ENOENT' }, 'auth.json written');
    await writeJson(auth, held);
    await assert.rejects(eraseCredential('ghcr.io/org', { env: withFile, homeDir: home }), usage);
    assert.deepEqual(await readJson(auth), held);

    // The CLI: exit 2, one line, nothing written.
    await fs.rm(auth);
    const err: string[] = [];
    const code = await main(['login', '-u', 'alice', '-p', SECRET, 'ghcr.io/org'], {
      stdout: new PassThrough(),
      stderr: Object.assign(new PassThrough(), { columns: 100 }).on('data', (d) => err.push(String(d))),
      stdin: new PassThrough(),
      env: withFile,
      cwd: home,
    });
    assert.equal(code, 2, err.join(''));
    assert.match(err.join(''), /DOCKER_CONFIG names .* not a directory.*\[E_INPUT\]\n/);
    assert.equal(pings.mock.callCount(), 0);
    await assert.rejects(fs.stat(auth), { code: 'ENOENT' }, 'auth.json written');
  });

  it('a malformed ~/.docker/config.json: login E_AUTH naming it with no request and no auth.json; logout the same with auth.json kept', async (t) => {
    const pings = t.mock.method(HttpRegistryClient.prototype, 'ping', async () => {});
    const { home, auth, env } = await setup('{"auths": {');
    const malformed = (e: unknown) => e instanceof AuthError && e.code === 'E_AUTH' && e.message.startsWith(`malformed credential file ${dockerConfig(home)}`);
    await assert.rejects(login({ registry: 'ghcr.io/org', username: 'alice', password: SECRET, env, homeDir: home }), malformed);
    assert.equal(pings.mock.callCount(), 0);
    await assert.rejects(fs.stat(auth), { code: 'ENOENT' }, 'auth.json written');
    await writeJson(auth, held);
    await assert.rejects(eraseCredential('ghcr.io/org', { env, homeDir: home }), malformed);
    assert.deepEqual(await readJson(auth), held);
  });

  it('a credHelpers entry for the registry in auth.json: login E_USAGE with no request', async (t) => {
    const pings = t.mock.method(HttpRegistryClient.prototype, 'ping', async () => {});
    const data = { credHelpers: { 'ghcr.io': 'pass' } };
    const { home, auth, env } = await setup(undefined, data);
    await assert.rejects(
      login({ registry: 'ghcr.io/org', username: 'alice', password: SECRET, env, homeDir: home }),
      (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && /sends ghcr\.io to docker-credential-pass \(credHelpers\)/.test(e.message),
    );
    assert.equal(pings.mock.callCount(), 0);
    assert.deepEqual(await readJson(auth), data);
  });

  it('a whole registry: a malformed config.json is refused before the request too', async (t) => {
    const pings = t.mock.method(HttpRegistryClient.prototype, 'ping', async () => {});
    const { home, env } = await setup('{"auths": {');
    await assert.rejects(login({ registry: 'ghcr.io', username: 'alice', password: SECRET, env, homeDir: home }), { name: 'AuthError', code: 'E_AUTH', message: /malformed credential file/ });
    assert.equal(pings.mock.callCount(), 0);
  });
});

describe('the CLI runs credential helpers in a process group of their own only without a terminal', () => {
  it('logout: no terminal → the helper leads its own group; a terminal on stdin/stderr → it stays in regpush\'s (so it can prompt there)', { skip: process.platform !== 'linux' }, async () => {
    // Was: the library chose by isatty(0, 1, 2) of the host process, never by the CLI's own streams.
    const home = await tempHome();
    const bin = path.join(home, 'bin');
    await fs.mkdir(bin);
    const seen = path.join(home, 'pgrp');
    // Records its pid and its process group (fields after "pid (comm) ": state, ppid, pgrp).
    await fs.writeFile(path.join(bin, 'docker-credential-pgrp'), `#!/bin/sh\nread url\nset -- $(sed 's/^.*) //' /proc/$$/stat)\necho "$$ $3" > "${seen}"\n`, { mode: 0o755 });
    const ours = (await fs.readFile('/proc/self/stat', 'utf8')).replace(/^.*\) /, '').split(' ')[2];
    const run = async (tty: boolean) => {
      await writeJson(dockerConfig(home), { credsStore: 'pgrp', auths: { 'ghcr.io': {} } });
      const err: string[] = [];
      const code = await main(['logout', 'ghcr.io'], {
        stdout: new PassThrough(),
        stderr: Object.assign(new PassThrough(), { columns: 100, ...(tty ? { isTTY: true } : {}) }).on('data', (d) => err.push(String(d))),
        stdin: Object.assign(new PassThrough(), tty ? { isTTY: true } : {}),
        env: { PATH: `${bin}:/usr/bin:/bin`, HOME: home, XDG_RUNTIME_DIR: path.join(home, 'run') },
        cwd: home,
      });
      assert.equal(code, 0, err.join(''));
      const [pid, pgrp] = (await fs.readFile(seen, 'utf8')).trim().split(' ');
      return { pid, pgrp };
    };
    const ci = await run(false);
    assert.equal(ci.pgrp, ci.pid, 'without a terminal: a group of its own');
    assert.equal((await run(true)).pgrp, ours, 'at a terminal: regpush\'s group');
  });
});
