// The library's per-registry credentials (`credentials.registries`): each registry of a run gets
// the login named for it, or for a namespace of it, and no other. Before it, `credentials.to` went
// to every target, so a copy to a Basic registry and a token registry sent the Basic password to the
// other registry's token service (and failed E_AUTH). Keys are matched as `auths` keys are; a map
// that cannot work is E_USAGE before any request.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy, digestOf, inspect, listTags, push, sync, parseSyncFile, tagImage, type RegpushError } from '../../src/index.js';
import { registryCredentialFor } from '../../src/auth/credential-lookup.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';

const fake = fakeRegistryPool();

/** What `call` rejects with (it must reject). */
async function rejection(call: Promise<unknown>): Promise<RegpushError> {
  return call.then(
    () => assert.fail('it succeeded'),
    (e: RegpushError) => e,
  );
}

/** Every Authorization header `reg` is sent, in order, the token endpoint's included ("-" for none), by request kind. */
function authorizations(reg: FakeRegistry): { kind: string; authorization: string }[] {
  const seen: { kind: string; authorization: string }[] = [];
  // A fault that never applies: its condition sees every request, headers included.
  reg.fault(
    {
      when: (req) => {
        seen.push({ kind: req.kind, authorization: req.headers.authorization ?? '-' });
        return false;
      },
    },
    { kind: 'status', status: 500 },
  );
  return seen;
}

/** An anonymous source holding app:1, a Basic target (basic-user/basic-pw) and a token target (token-user/token-pw). */
async function sourceAndTwoTargets(): Promise<{ src: FakeRegistry; basic: FakeRegistry; bearer: FakeRegistry }> {
  const src = await fake();
  const basic = await fake({ auth: { scheme: 'basic', user: 'basic-user', password: 'basic-pw' } });
  const bearer = await fake({ auth: { scheme: 'bearer', user: 'token-user', password: 'token-pw' } });
  src.seedImage('app', { tags: ['1'] });
  return { src, basic, bearer };
}

const basicOf = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

test('copy to a Basic registry and a token registry in one call: each target gets only the login credentials.registries names for it, not credentials.to', async () => {
  const { src, basic, bearer } = await sourceAndTwoTargets();
  const atSrc = authorizations(src);
  const atBasic = authorizations(basic);
  const atBearer = authorizations(bearer);
  const result = await copy({
    from: src.ref('app:1'),
    to: [basic.ref('app:1'), bearer.ref('team/app:1')],
    ...fakeLibraryOptions(src, basic, bearer),
    credentials: {
      // What every target got before: wrong for both, and overridden where a registry is named.
      to: { username: 'everyone', password: 'shared-pw' },
      registries: { [basic.host]: { username: 'basic-user', password: 'basic-pw' }, [`${bearer.host}/team`]: { username: 'token-user', password: 'token-pw' } },
    },
  });
  assert.deepEqual(result.targets.map((t) => t.ok), [true, true]);
  assert.ok(basic.manifest('app', '1') && bearer.manifest('team/app', '1'));
  // The Basic registry saw its own password and nothing else: never the token registry's, never credentials.to.
  const basicSent = new Set(atBasic.map((a) => a.authorization));
  basicSent.delete('-');
  assert.deepEqual([...basicSent], [basicOf('basic-user', 'basic-pw')]);
  // The token registry's token service was asked with its own login only; its API saw bearer tokens only.
  const tokenAsks = atBearer.filter((a) => a.kind === 'token');
  assert.ok(tokenAsks.length > 0);
  assert.deepEqual([...new Set(tokenAsks.map((a) => a.authorization))], [basicOf('token-user', 'token-pw')]);
  const apiSent = atBearer.filter((a) => a.kind !== 'token' && a.authorization !== '-');
  assert.ok(apiSent.length > 0 && apiSent.every((a) => a.authorization.startsWith('Bearer ')), JSON.stringify(apiSent));
  // The source (anonymous) was sent no credential at all.
  assert.ok(atSrc.length > 0 && atSrc.every((a) => a.authorization === '-'), JSON.stringify(atSrc));
});

test('without credentials.registries the role credential goes to every target (why the option exists): the token registry refuses the Basic login', async () => {
  const { src, basic, bearer } = await sourceAndTwoTargets();
  const atBearer = authorizations(bearer);
  const e = await rejection(
    copy({ from: src.ref('app:1'), to: [basic.ref('app:1'), bearer.ref('app:1')], ...fakeLibraryOptions(src, basic, bearer), retries: 0, credentials: { to: { username: 'basic-user', password: 'basic-pw' } } }),
  );
  assert.equal(e.code, 'E_PARTIAL', e.message);
  assert.ok(atBearer.some((a) => a.kind === 'token' && a.authorization === basicOf('basic-user', 'basic-pw')));
});

test('credentials.registries wins over credentials.from for the registry it names, reads included (inspect, listTags), and over the stored logins; a registry it does not name keeps the role credential', async () => {
  const reg = await fake({ auth: { scheme: 'basic', user: 'u', password: 'right' } });
  reg.seedImage('app', { tags: ['1'] });
  const opts = { ...fakeLibraryOptions(reg), retries: 0 };
  const right = { username: 'u', password: 'right' };
  const wrong = { username: 'u', password: 'wrong' };
  assert.ok((await inspect(reg.ref('app:1'), { ...opts, credentials: { from: wrong, registries: { [reg.host]: right } } })).digest);
  assert.deepEqual((await listTags(reg.ref('app'), { ...opts, credentials: { from: wrong, registries: { [`${reg.host}/app`]: right } } })).tags, ['1']);
  // A stored login for the registry (config.json) loses to it too.
  const home = mkdtempSync(join(tmpdir(), 'regpush-registry-credentials-'));
  after(() => rmSync(home, { recursive: true, force: true }));
  mkdirSync(join(home, '.docker'));
  writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('u:stored-wrong').toString('base64') } } }));
  const stored = { ...opts, env: { ...opts.env, DOCKER_CONFIG: join(home, '.docker') } };
  assert.equal((await rejection(inspect(reg.ref('app:1'), stored))).code, 'E_AUTH', 'the stored login is the wrong one');
  assert.ok((await inspect(reg.ref('app:1'), { ...stored, credentials: { registries: { [reg.host]: right } } })).digest);
  // Named for another registry (or another namespace): the role credential is used here.
  const e = await rejection(inspect(reg.ref('app:1'), { ...opts, credentials: { from: wrong, registries: { 'ghcr.io': right, [`${reg.host}/other`]: right } } }));
  assert.equal(e.code, 'E_AUTH', e.message);
  // The refusal of a credential given for the registry says where it came from.
  const named = await rejection(inspect(reg.ref('app:1'), { ...opts, credentials: { from: right, registries: { [`${reg.host}/app`]: wrong } } }));
  assert.equal(named.code, 'E_AUTH', named.message);
  // …once, in the advice: no "(taken from …)" repeating it.
  assert.ok(named.message.includes(`rejected the credentials for user u; check credentials.registries`), named.message);
  assert.doesNotMatch(named.message, /taken from/);
  // It says to check that entry, which wins over any login or variable (was: "store a login with login(…) … or set the REGPUSH_* variables").
  assert.ok(named.message.endsWith(`; check credentials.registries["${reg.host}/app"]: credentials given there are used instead of any stored login, so logging in would not change this`), named.message);
  assert.doesNotMatch(named.message, /login\(\{|REGPUSH_\*/);
});

test('a read mirror named in credentials.registries gets that login; the source\'s credentials.from never goes to it', async () => {
  const upstream = await fake();
  const mirror = await fake({ auth: { scheme: 'basic', user: 'm', password: 'mirror-pw' } });
  const img = mirror.seedImage('app', { tags: ['1'] });
  const atMirror = authorizations(mirror);
  const opts = { ...fakeLibraryOptions(upstream, mirror), retries: 0, mirrors: { [upstream.host]: [mirror.host] } };
  const from = { username: 'source-user', password: 'source-pw' };
  const r = await inspect(upstream.ref('app:1'), { ...opts, credentials: { from, registries: { [mirror.host]: { username: 'm', password: 'mirror-pw' } } } });
  assert.equal(r.digest, img.digest, 'read from the mirror');
  assert.equal(upstream.count({ kind: 'manifest' }), 0);
  assert.deepEqual([...new Set(atMirror.map((a) => a.authorization).filter((a) => a !== '-'))], [basicOf('m', 'mirror-pw')]);
});

test('registryCredentialFor: keys matched as auths keys are (namespace by whole path components, most specific first, then the registry; Docker Hub by any name)', () => {
  const c = (username: string) => ({ username, password: `${username}-pw` });
  const given = {
    'quay.io': c('registry'),
    'quay.io/org': c('org'),
    'quay.io/org/team': c('team'),
    'https://index.docker.io/v1/': c('hub'),
    'docker.io/library': c('official'),
    'HTTPS://Reg.Example:5000/': c('reg'),
    'skipped.example': undefined,
  };
  const at = (registry: string, repository?: string) => registryCredentialFor(given, registry, repository);
  assert.deepEqual(at('quay.io', 'org/team/app'), { key: 'quay.io/org/team', credential: c('team') });
  assert.deepEqual(at('quay.io', 'org/app'), { key: 'quay.io/org', credential: c('org') });
  assert.equal(at('quay.io', 'organisation/app')?.key, 'quay.io', 'whole components: quay.io/org does not serve organisation');
  assert.equal(at('quay.io', 'org')?.key, 'quay.io/org', 'a key naming the repository itself');
  assert.equal(at('quay.io')?.key, 'quay.io', 'no repository: the registry key');
  assert.equal(at('docker.io', 'acme/app')?.key, 'https://index.docker.io/v1/');
  assert.equal(at('registry-1.docker.io', 'library/alpine')?.key, 'docker.io/library');
  assert.equal(at('reg.example:5000', 'x')?.key, 'HTTPS://Reg.Example:5000/');
  assert.equal(at('reg.example', 'x'), undefined, 'another port is another registry');
  assert.equal(at('skipped.example', 'x'), undefined, 'an undefined entry is no entry');
  assert.equal(at('ghcr.io', 'org/app'), undefined);
});

test('credentials.registries that cannot work is E_USAGE naming the key, before any request, in every operation that takes credentials', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const ok = { username: 'u', password: 'p' };
  const cases: [string, unknown, string][] = [
    ['a string', 'ghcr.io', 'credentials.registries must be an object (got a string)'],
    ['an array', [ok], 'credentials.registries must be an object (got an array)'],
    ['an entry of the wrong type', { 'ghcr.io': 'token' }, 'credentials.registries["ghcr.io"] must be an object (got a string)'],
    ['a misspelt field', { 'ghcr.io': { username: 'u', pasword: 'p' } }, 'unknown option "credentials.registries["ghcr.io"].pasword" (did you mean "credentials.registries["ghcr.io"].password"?)'],
    ['a key that names no registry', { 'not a host': ok }, 'credentials.registries["not a host"] names no registry: a key is a registry HOST[:PORT], or one with a namespace or repository under it (ghcr.io, quay.io/org, reg.example:5000/team/app)'],
    ['a key with a tag', { 'quay.io/org/app:1': ok }, 'credentials.registries["quay.io/org/app:1"] names no registry'],
    ['a first component that is no host', { 'library/alpine': ok }, 'credentials.registries["library/alpine"] names no registry'],
    ['two names of Docker Hub', { 'docker.io': ok, 'index.docker.io': ok }, 'credentials.registries["index.docker.io"] names the same registry as "docker.io" (docker.io)'],
    ['two spellings of a namespace', { 'quay.io/org': ok, 'https://QUAY.io/org/': ok }, 'credentials.registries["https://QUAY.io/org/"] names the same namespace as "quay.io/org" (quay.io/org)'],
    ['half a pair', { 'ghcr.io': { username: 'u' } }, 'credentials.registries["ghcr.io"] has a username but no password'],
    ['a password alone', { 'ghcr.io': { password: 'p' } }, 'credentials.registries["ghcr.io"] has a password but no username'],
    ['nothing', { 'ghcr.io': {} }, 'credentials.registries["ghcr.io"] holds no credential: give username and password, identityToken or registryToken'],
    ['null', null, 'credentials.registries must be an object (got null)'],
  ];
  const base = fakeLibraryOptions(reg);
  const ops: [string, (registries: unknown) => Promise<unknown>][] = [
    ['copy()', (r) => copy({ from: reg.ref('app:1'), to: [reg.ref('app:2')], ...base, credentials: { registries: r } } as never)],
    ['push()', (r) => push({ from: reg.ref('app:1'), to: reg.ref('app:3'), ...base, credentials: { registries: r } } as never)],
    ['inspect()', (r) => inspect(reg.ref('app:1'), { ...base, credentials: { registries: r } } as never)],
    ['listTags()', (r) => listTags(reg.ref('app'), { ...base, credentials: { registries: r } } as never)],
    [
      'sync()',
      (r) => sync({ spec: parseSyncFile(`images:\n  - { source: ${reg.ref('app')}, tags: ['1'], targets: [${reg.ref('mirror')}] }\n`, 'sync.yaml'), ...base, credentials: { registries: r } } as never),
    ],
  ];
  for (const [op, call] of ops) {
    for (const [what, registries, message] of cases) {
      const e = await rejection(call(registries));
      assert.equal(e.code, 'E_USAGE', `${op} ${what}: ${e.message}`);
      assert.ok(e.message.startsWith(`${op}: ${message}`), `${op} ${what}: ${e.message}`);
    }
  }
  assert.equal(reg.count(), 0, 'nothing was sent');
  // Keys of every form that works, undefined entries and tokens included, pass the check.
  const good = { 'ghcr.io': ok, 'quay.io/org': { identityToken: 't' }, 'reg.example:5000/team/app': { registryToken: 'r' }, 'https://index.docker.io/v1/': ok, 'unused.example': undefined };
  assert.ok((await inspect(reg.ref('app:1'), { ...base, credentials: { registries: good } })).digest);
});

test('half a credential in credentials.to or credentials.from is E_USAGE naming it and the half that is missing, before any request, in every operation, as under credentials.registries', async () => {
  // An anonymous registry: found only when a registry asked (E_AUTH, "a username needs a password"
  // for a password alone too), half a credential went unsaid here and the call succeeded.
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const base = fakeLibraryOptions(reg);
  const halves: [string, Record<string, string>, string][] = [
    ['a username alone', { username: 'u' }, 'has a username but no password'],
    ['a username with an empty password', { username: 'u', password: '' }, 'has a username but no password'],
    ['a password alone', { password: 'p' }, 'has a password but no username'],
  ];
  const ops: [string, 'from' | 'to', (credentials: object) => Promise<unknown>][] = [
    ['copy()', 'from', (c) => copy({ from: reg.ref('app:1'), to: [reg.ref('app:2')], ...base, credentials: c })],
    ['copy()', 'to', (c) => copy({ from: reg.ref('app:1'), to: [reg.ref('app:2')], ...base, credentials: c })],
    ['push()', 'to', (c) => push({ from: reg.ref('app:1'), to: reg.ref('app:3'), ...base, credentials: c })],
    ['inspect()', 'from', (c) => inspect(reg.ref('app:1'), { ...base, credentials: c })],
    ['digestOf()', 'from', (c) => digestOf(reg.ref('app:1'), { ...base, credentials: c })],
    ['tagImage()', 'to', (c) => tagImage(reg.ref('app:1'), ['4'], { ...base, credentials: c })],
    ['sync()', 'to', (c) => sync({ spec: parseSyncFile(`images:\n  - { source: ${reg.ref('app')}, tags: ['1'], targets: [${reg.ref('mirror')}] }\n`, 'sync.yaml'), ...base, credentials: c })],
  ];
  for (const [op, role, call] of ops) {
    for (const [what, credential, text] of halves) {
      const e = await rejection(call({ [role]: credential }));
      assert.equal(e.code, 'E_USAGE', `${op} ${role} ${what}: ${e.message}`);
      assert.equal(e.message, `${op}: credentials.${role} ${text}`);
    }
  }
  assert.equal(reg.count(), 0, 'nothing was sent');
  // Empty (nothing given, or only empty strings) is no credential, as leaving it out is; whole ones pass.
  for (const credentials of [{ to: {} }, { from: { username: '', password: '' } }, { from: { username: 'u', password: 'p' } }, { from: { identityToken: 't' } }]) {
    assert.ok((await inspect(reg.ref('app:1'), { ...base, credentials })).digest, JSON.stringify(credentials));
  }
});

test('the CLI\'s user flags with an empty password are E_USAGE naming the flag (the library would name its credentials option)', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const { env } = fakeLibraryOptions(reg);
  for (const [args, message] of [
    [['inspect', '--insecure-registry', reg.host, '--user', 'u', '--password', '', reg.ref('app:1')], /^regpush: error: --password is empty/],
    [['copy', '--insecure-registry', reg.host, '--to-user', 'u', '--to-password', '', reg.ref('app:1'), reg.ref('app:2')], /^regpush: error: --to-password is empty/],
    [['copy', '--insecure-registry', reg.host, '--from-user', 'u', '--from-password', '', reg.ref('app:1'), reg.ref('app:2')], /^regpush: error: --from-password is empty/],
  ] as const) {
    const r = await runMain([...args], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.match(r.stderr.trim(), / \[E_USAGE\]$/, args.join(' '));
  }
  assert.equal(reg.count(), 0, 'nothing was sent');
});

test('half a credential in the environment (REGPUSH_TO_USER without REGPUSH_TO_PASSWORD, or the reverse; FROM too) is E_INPUT naming both variables, before any request, for the CLI and a library call\'s env', async () => {
  // An anonymous registry: found only when a registry asked (E_AUTH), a typo in one variable's
  // name went unsaid here and the run succeeded.
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const base = fakeLibraryOptions(reg);
  const halves: [Record<string, string>, string][] = [
    [{ REGPUSH_TO_USER: 'u' }, 'REGPUSH_TO_USER is set but REGPUSH_TO_PASSWORD is not'],
    [{ REGPUSH_TO_PASSWORD: 'p' }, 'REGPUSH_TO_PASSWORD is set but REGPUSH_TO_USER is not'],
    [{ REGPUSH_FROM_USER: 'u' }, 'REGPUSH_FROM_USER is set but REGPUSH_FROM_PASSWORD is not'],
    [{ REGPUSH_FROM_PASSWORD: 'p' }, 'REGPUSH_FROM_PASSWORD is set but REGPUSH_FROM_USER is not'],
  ];
  for (const [vars, text] of halves) {
    const env = { ...base.env, ...vars };
    const e = await rejection(copy({ from: reg.ref('app:1'), to: [reg.ref('app:2')], ...base, env }));
    assert.equal(e.code, 'E_INPUT', `copy() ${JSON.stringify(vars)}: ${e.message}`);
    assert.equal(e.message, text);
    const r = await runMain(['copy', '--insecure-registry', reg.host, reg.ref('app:1'), reg.ref('app:2')], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^regpush: error: ${text} \\[E_INPUT\\]$`, 'm'));
  }
  // A read command takes REGPUSH_USER, else the TO set, else the FROM set: half of the set it reads is refused.
  const e = await rejection(inspect(reg.ref('app:1'), { ...base, env: { ...base.env, REGPUSH_USER: 'u' } }));
  assert.equal(e.code, 'E_INPUT', e.message);
  assert.equal(e.message, 'REGPUSH_USER is set but REGPUSH_PASSWORD is not');
  assert.equal(reg.count(), 0, 'nothing was sent');
  // The variables are not read where credentials are given (flags, options), so half a pair there is no error.
  const copied = await copy({ from: reg.ref('app:1'), to: [reg.ref('app:2')], ...base, env: { ...base.env, REGPUSH_TO_USER: 'u' }, credentials: { to: { username: 'u', password: 'p' } } });
  assert.equal(copied.targets[0]!.ok, true);
});
