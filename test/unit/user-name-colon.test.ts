// A user name with a colon in it cannot be sent over HTTP Basic (RFC 7617 joins user and password
// with the first colon): given in a flag, an env variable or the library's options it is refused
// as input (exit 2), naming where it came from and never echoing it (often `user:password`), before
// any request. It was sent, and the registry's refusal said "registry refused user a:b" (exit 3).
// The fixed user names of token logins, and a Docker config `auth` whose password holds a colon,
// still work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copy, inspect, login, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';
import { runMain, type MainResult } from '../fixtures/run-main.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const fake = fakeRegistryPool();
const tempDir = tempDirs('regpush-user-name-colon-');
const SECRET = 'pw-Zq7';

/** Exit 2, one error line with `code` matching `pattern`, neither the user name nor the password in it. */
function refused(r: MainResult, pattern: RegExp, code: string, what: string): void {
  assert.equal(r.code, 2, `${what}: ${r.stderr}`);
  assert.equal(r.stdout, '', what);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
  assert.match(lines[0]!, new RegExp(`^regpush: error: .*\\[${code}\\]$`), what);
  assert.match(lines[0]!, pattern, what);
  assert.ok(!r.stderr.includes('ci:') && !r.stderr.includes(SECRET), `${what}: ${r.stderr}`);
}

test('a user name with a colon in a flag is E_USAGE naming the flag, before any request (login, inspect, the registry commands, copy, push)', async () => {
  const reg = await fake({ auth: { scheme: 'basic', user: 'ci', password: SECRET } });
  reg.seedImage('app', { tags: ['1'] });
  const ref = reg.ref('app:1');
  const run = (argv: string[]) => runMain([...argv, '--insecure-registry', reg.host, '--retries', '0']);
  const colon = /contains a colon, which no HTTP Basic user name may \(RFC 7617\)/;
  const cases: [string[], string][] = [
    [['login', '-u', `ci:${SECRET}`, '--password', SECRET, reg.host], '--username'],
    [['login', '--username', `ci:${SECRET}`, '--password', SECRET, reg.host], '--username'],
    [['inspect', '--user', `ci:${SECRET}`, '--password', SECRET, ref], '--user'],
    [['tags', '--user', `ci:${SECRET}`, '--password', SECRET, reg.ref('app')], '--user'],
    [['tag', '--user', `ci:${SECRET}`, '--password', SECRET, ref, '2'], '--user'],
    [['copy', '--from-user', `ci:${SECRET}`, '--from-password', SECRET, ref, reg.ref('app:2')], '--from-user'],
    [['copy', '--to-user', `ci:${SECRET}`, '--to-password', SECRET, ref, reg.ref('app:2')], '--to-user'],
    [['push', '--from', 'scratch', '--to-user', `ci:${SECRET}`, '--to-password', SECRET, '--to', reg.ref('app:2')], '--to-user'],
  ];
  for (const [argv, flag] of cases) {
    refused(await run(argv), new RegExp(`error: ${flag} ${colon.source}`), 'E_USAGE', argv.slice(0, 2).join(' '));
  }
  assert.equal(reg.count(), 0, 'no request was sent');
});

test('a user name with a colon in REGPUSH_*_USER is E_INPUT naming the variable, before any request; a set that is not used is not checked', async () => {
  const reg = await fake({ auth: { scheme: 'basic', user: 'ci', password: SECRET } });
  reg.seedImage('app', { tags: ['1'] });
  const ref = reg.ref('app:1');
  const run = (argv: string[], env: Record<string, string>) => runMain([...argv, '--insecure-registry', reg.host, '--retries', '0'], { env });
  const cases: [string[], Record<string, string>, string][] = [
    [['inspect', ref], { REGPUSH_USER: `ci:${SECRET}`, REGPUSH_PASSWORD: SECRET }, 'REGPUSH_USER'],
    [['copy', ref, reg.ref('app:2')], { REGPUSH_FROM_USER: `ci:${SECRET}`, REGPUSH_FROM_PASSWORD: SECRET }, 'REGPUSH_FROM_USER'],
    [['copy', ref, reg.ref('app:2')], { REGPUSH_FROM_USER: 'ci', REGPUSH_FROM_PASSWORD: SECRET, REGPUSH_TO_USER: `ci:${SECRET}`, REGPUSH_TO_PASSWORD: SECRET }, 'REGPUSH_TO_USER'],
    // Beside an identity token the user name is the Basic user of the token request (token.ts).
    [['tag', ref, '2'], { REGPUSH_TO_USER: `ci:${SECRET}`, REGPUSH_TO_IDENTITY_TOKEN: 'refresh' }, 'REGPUSH_TO_USER'],
  ];
  for (const [argv, env, name] of cases) {
    refused(await run(argv, env), new RegExp(`error: ${name} contains a colon, which no HTTP Basic user name may \\(RFC 7617\\)`), 'E_INPUT', `${argv[0]} ${name}`);
  }
  assert.equal(reg.count(), 0, 'no request was sent');
  // inspect takes REGPUSH_USER first: the REGPUSH_TO_* set behind it is never used, so not refused.
  const r = await run(['inspect', ref], { REGPUSH_USER: 'ci', REGPUSH_PASSWORD: SECRET, REGPUSH_TO_USER: 'x:y', REGPUSH_TO_PASSWORD: 'z' });
  assert.equal(r.code, 0, r.stderr);
  // A registry token wins over the user name, which is then not sent at all.
  const t = await run(['tags', reg.ref('app')], { REGPUSH_TOKEN: 'tok', REGPUSH_USER: 'x:y', REGPUSH_PASSWORD: 'z' });
  assert.doesNotMatch(t.stderr, /colon/, t.stderr);
});

test('library: credentials.from/.to/.registries and login() with a colon in username are E_USAGE naming the option, before any request', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const opts = fakeLibraryOptions(reg);
  const bad = { username: `ci:${SECRET}`, password: SECRET };
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['copy from', () => copy({ ...opts, from: reg.ref('app:1'), to: [reg.ref('app:2')], credentials: { from: bad } }), /^copy\(\): credentials\.from\.username contains a colon/],
    ['copy to', () => copy({ ...opts, from: reg.ref('app:1'), to: [reg.ref('app:2')], credentials: { to: bad } }), /^copy\(\): credentials\.to\.username contains a colon/],
    ['inspect registries', () => inspect(reg.ref('app:1'), { ...opts, credentials: { registries: { [reg.host]: bad } } }), /^inspect\(\): credentials\.registries\["?[\d.:]+"?\]\.username contains a colon/],
    ['login', () => login({ ...opts, registry: reg.host, ...bad }), /^login\(\): username contains a colon/],
  ];
  for (const [what, call, pattern] of cases) {
    const err = await call().then(() => assert.fail(`${what}: it succeeded`), (e: RegpushError) => e);
    assert.equal(err.code, 'E_USAGE', `${what}: ${err.message}`);
    assert.match(err.message, pattern, what);
    assert.ok(!err.message.includes(SECRET), `${what}: ${err.message}`);
  }
  assert.equal(reg.count(), 0, 'no request was sent');
});

test('unchanged: a fixed token user name (ACR\'s all-zero GUID) and a Docker config auth whose password holds a colon', async () => {
  const acr = '00000000-0000-0000-0000-000000000000';
  const reg = await fake({ auth: { scheme: 'basic', user: acr, password: SECRET } });
  reg.seedImage('app', { tags: ['1'] });
  const r = await runMain(['inspect', '--user', acr, '--password', SECRET, '--insecure-registry', reg.host, reg.ref('app:1')]);
  assert.equal(r.code, 0, r.stderr);

  // config.json's `auth` is base64 of user:password, split at its first colon: the password keeps its own.
  const colonPassword = `${SECRET}:more`;
  const reg2 = await fake({ auth: { scheme: 'basic', user: 'ci', password: colonPassword } });
  reg2.seedImage('app', { tags: ['1'] });
  const home = tempDir();
  mkdirSync(join(home, '.docker'));
  writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [reg2.host]: { auth: Buffer.from(`ci:${colonPassword}`).toString('base64') } } }));
  const r2 = await runMain(['inspect', '--insecure-registry', reg2.host, reg2.ref('app:1')], { env: { HOME: home, XDG_RUNTIME_DIR: join(home, 'run') } });
  assert.equal(r2.code, 0, r2.stderr);
});
