// --dry-run (push, copy, sync) and write permission: where the target's token is a JWT whose
// `access` claim lists what it grants (distribution's token spec), a target the credentials may
// only read fails the plan as its write would fail the run (E_DENIED, the same message); where the
// token does not say (an opaque token), or the registry takes Basic credentials or none, the plan
// says that write permission was not checked. In-process fake registries
// (test/fixtures/fake-registry.ts), whose token service issues JWTs with `jwt: true`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { copy, parseSyncFile, push, sync, type CopyResult, type RegpushError, type SyncResult } from '../../src/index.js';
import { copyPlanText } from '../../src/cli/commands/copy.js';
import { grantedActions } from '../../src/auth/token.js';
import { runMain } from '../fixtures/run-main.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeAuth, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const USER = { username: 'writer', password: 'w-pw' };
type BearerAuth = Extract<FakeAuth, { scheme: 'bearer' }>;
const bearer = (o: Partial<BearerAuth> = {}): BearerAuth => ({ scheme: 'bearer', user: USER.username, password: USER.password, ...o });
const rejection = (p: Promise<unknown>): Promise<RegpushError> => p.then(() => assert.fail('it succeeded'), (e: unknown) => e as RegpushError);
const writes = (r: FakeRegistry): number => r.count({ method: ['POST', 'PATCH', 'PUT', 'DELETE'] });

function appDir(): { src: string; dest: string }[] {
  const d = mkdtempSync(join(tmpdir(), 'regpush-dry-write-'));
  dirs.push(d);
  writeFileSync(join(d, 'server.js'), 'console.log("hello")\n');
  return [{ src: d, dest: '/app' }];
}

async function copyCase(dstAuth: FakeAuth | undefined): Promise<{ src: FakeRegistry; dst: FakeRegistry; opts: Parameters<typeof copy>[0] }> {
  const [src, dst] = [await fake(), await fake(dstAuth ? { auth: dstAuth } : {})];
  src.seedImage('base/app', { tags: ['1'] });
  return { src, dst, opts: { from: src.ref('base/app:1'), to: [dst.ref('app:1')], credentials: { to: USER }, ...fakeLibraryOptions(src, dst) } };
}

test('copy --dry-run: a JWT granting pull only → E_DENIED, the message the copy itself then fails with; nothing written', async () => {
  const { dst, opts } = await copyCase(bearer({ jwt: true, pullOnly: true }));
  const plan = await rejection(copy({ ...opts, dryRun: true }));
  assert.equal(plan.code, 'E_DENIED', plan.message);
  assert.equal(writes(dst), 0, 'the dry run wrote nothing');
  assert.match(plan.message, /^access to app at .* denied: the credentials for user writer were accepted by the token service .*, but not for writing \(push\); check your rights on the repository$/);
  const run = await rejection(copy(opts));
  assert.deepEqual([run.code, run.message], [plan.code, plan.message], 'the plan says what the copy meets');
});

test('copy --dry-run: a JWT granting pull and push → planned, write permission checked (no writeNotChecked)', async () => {
  const { dst, opts } = await copyCase(bearer({ jwt: true }));
  const r = await copy({ ...opts, dryRun: true });
  assert.equal(r.targets[0]!.ok, true);
  assert.equal(r.targets[0]!.writeNotChecked, undefined);
  assert.ok(!copyPlanText(r).includes('not checked'), copyPlanText(r));
  assert.equal(writes(dst), 0);
  assert.equal(dst.count({ kind: 'token' }), 1, 'the token the reads were sent with, not another');
});

test('copy --dry-run: an opaque token, Basic credentials, a registry that asks for none → planned, with why write permission was not checked', async () => {
  const cases: [string, FakeAuth | undefined, RegExp][] = [
    ['opaque token', bearer(), /does not list what it grants/],
    ['opaque token, pull only', bearer({ pullOnly: true }), /does not list what it grants/],
    ['Basic', { scheme: 'basic', user: USER.username, password: USER.password }, /Basic credentials/],
    ['no auth', undefined, /asked for no credentials/],
  ];
  for (const [what, auth, why] of cases) {
    const { dst, opts } = await copyCase(auth);
    const r: CopyResult = await copy({ ...opts, dryRun: true });
    assert.equal(r.targets[0]!.ok, true, what);
    assert.match(r.targets[0]!.writeNotChecked ?? '', why, what);
    assert.match(copyPlanText(r), new RegExp(`\\n  write permission not checked: .*${why.source}`), what);
    assert.equal(writes(dst), 0, what);
  }
});

test('copy --all-tags --dry-run: a target whose write permission is not checked says so, as for one tag (each tag is planned on its own set)', async () => {
  const [src, dst] = [await fake(), await fake({ auth: { scheme: 'basic', user: USER.username, password: USER.password } })];
  src.seedImage('base/app', { tags: ['1'] });
  src.seedImage('base/app', { tags: ['2'] });
  const r = await copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, dryRun: true, credentials: { to: USER }, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.ok, true);
  assert.match(r.targets[0]!.writeNotChecked ?? '', /Basic credentials/);
  assert.match(copyPlanText(r), /\n  write permission not checked: .*Basic credentials/);
  assert.equal(writes(dst), 0);
});

test('copy --dry-run to two targets: the one whose token grants pull only is set aside (E_PARTIAL), the other planned', async () => {
  const [src, good, ro] = [await fake(), await fake({ auth: bearer({ jwt: true }) }), await fake({ auth: bearer({ jwt: true, pullOnly: true }) })];
  src.seedImage('base/app', { tags: ['1'] });
  const err = await rejection(copy({ from: src.ref('base/app:1'), to: [good.ref('app:1'), ro.ref('app:1')], credentials: { to: USER }, dryRun: true, ...fakeLibraryOptions(src, good, ro) }));
  assert.equal(err.code, 'E_PARTIAL', err.message);
  const r = err.details.result as CopyResult;
  assert.deepEqual(
    r.targets.map((t) => [t.ok, t.error?.code, t.writeNotChecked]),
    [
      [true, undefined, undefined],
      [false, 'E_DENIED', undefined],
    ],
  );
  assert.equal(writes(good) + writes(ro), 0);
});

test('copy --dry-run, anonymous: a JWT granting pull only → the E_AUTH the copy meets', async () => {
  const { opts } = await copyCase(bearer({ jwt: true, anonymousPull: true }));
  const anonymous = { ...opts, credentials: {} };
  const plan = await rejection(copy({ ...anonymous, dryRun: true }));
  const run = await rejection(copy(anonymous));
  assert.equal(plan.code, 'E_AUTH', plan.message);
  assert.deepEqual([run.code, run.message], [plan.code, plan.message]);
});

test('push --dry-run: a JWT granting pull only → E_DENIED, as the push; granting push → planned; an opaque token → writeNotChecked', async () => {
  const src = await fake();
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir();
  const ro = await fake({ auth: bearer({ jwt: true, pullOnly: true }) });
  const opts = { from: src.ref('base/node:20'), to: ro.ref('app:1'), app, credentials: { to: USER }, ...fakeLibraryOptions(src, ro) };
  const plan = await rejection(push({ ...opts, dryRun: true }));
  assert.equal(plan.code, 'E_DENIED', plan.message);
  assert.equal(writes(ro), 0);
  const run = await rejection(push(opts));
  assert.deepEqual([run.code, run.message], [plan.code, plan.message]);

  const rw = await fake({ auth: bearer({ jwt: true }) });
  const opaque = await fake({ auth: bearer() });
  const r = await push({ ...opts, to: [rw.ref('app:1'), opaque.ref('app:1')], dryRun: true, ...fakeLibraryOptions(src, rw, opaque) });
  assert.deepEqual(
    r.targets?.map((t) => [t.ok, t.writeNotChecked === undefined ? 'checked' : 'not checked']),
    [
      [true, 'checked'],
      [true, 'not checked'],
    ],
  );
  const one = await push({ ...opts, to: opaque.ref('app:2'), dryRun: true, ...fakeLibraryOptions(src, opaque) });
  assert.match(one.writeNotChecked ?? '', /does not list what it grants/);
});

test('push --dry-run: a target whose tag holds the image already writes nothing, so nothing is checked there', async () => {
  const src = await fake();
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir();
  const auth = bearer({ jwt: true });
  const dst = await fake({ auth });
  const opts = { from: src.ref('base/node:20'), to: dst.ref('app:1'), app, credentials: { to: USER }, ...fakeLibraryOptions(src, dst) };
  await push(opts);
  auth.pullOnly = true; // the user's push right taken away since
  dst.clearLog();
  assert.equal((await rejection(push({ ...opts, to: dst.ref('app:2'), dryRun: true }))).code, 'E_DENIED', 'a tag to write is checked');
  const r = await push({ ...opts, dryRun: true });
  assert.deepEqual(r.tagsUnchanged, ['1']);
  assert.equal(r.writeNotChecked, undefined);
  assert.equal(writes(dst), 0);
});

test('sync --dry-run: a target whose JWT grants pull only fails its images (E_DENIED), one whose token is opaque is planned with writeNotChecked', async () => {
  const src = await fake();
  src.seedImage('a', { tags: ['1'] });
  const ro = await fake({ auth: bearer({ jwt: true, pullOnly: true }) });
  const opaque = await fake({ auth: bearer() });
  const spec = parseSyncFile(['images:', `  - { source: ${src.ref('a')}, tags: ['1'], targets: [${ro.host}/m, ${opaque.host}/m] }`, ''].join('\n'), 'sync.yaml');
  const err = await rejection(sync({ spec, dryRun: true, credentials: { to: USER }, ...fakeLibraryOptions(src, ro, opaque) }));
  const r = err.details.result as SyncResult;
  assert.deepEqual(
    r.units[0]!.targets.map((t) => [t.target, t.action, t.error?.code, t.writeNotChecked === undefined ? '' : 'not checked']),
    [
      [`${ro.host}/m/a:1`, 'failed', 'E_DENIED', ''],
      [`${opaque.host}/m/a:1`, 'planned', undefined, 'not checked'],
    ],
  );
  assert.equal(writes(ro) + writes(opaque), 0);
});

test('regpush sync --dry-run: each unit line and the summary say where write permission was not checked, once per reason', async () => {
  const src = await fake();
  for (const n of ['a', 'b']) src.seedImage(n, { tags: ['1'] });
  const basic = await fake({ auth: { scheme: 'basic', user: USER.username, password: USER.password } });
  const rw = await fake({ auth: bearer({ jwt: true }) });
  const cwd = mkdtempSync(join(tmpdir(), 'regpush-dry-write-sync-'));
  dirs.push(cwd);
  writeFileSync(join(cwd, 'sync.yaml'), ['images:', ...['a', 'b'].map((n) => `  - { source: ${src.ref(n)}, tags: ['1'], targets: [${basic.host}/m, ${rw.host}/m] }`)].join('\n') + '\n');
  const lib = fakeLibraryOptions(src, basic, rw);
  const env = { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(','), REGPUSH_TO_USER: USER.username, REGPUSH_TO_PASSWORD: USER.password };
  const r = await runMain(['sync', '--dry-run', '--images', '1', 'sync.yaml'], { env, cwd });
  assert.equal(r.code, 0, r.stderr);
  const summary = r.stdout.trim().split('\n');
  assert.match(summary[0]!, /^plan: 2 images .*4 to copy/);
  assert.deepEqual(summary.slice(1), [`write permission not checked at ${basic.host}: the registry takes Basic credentials, which say nothing of rights before a write`]);
  const units = r.stderr.split('\n').filter((l) => l.startsWith('sync: '));
  assert.equal(units.length, 2, r.stderr);
  for (const l of units) {
    assert.match(l, new RegExp(`${basic.host}/m/[ab]:1 planned \\([^)]*; write permission not checked\\)`), l);
    assert.match(l, new RegExp(`${rw.host}/m/[ab]:1 planned \\([^)]*\\)$`), l);
    assert.doesNotMatch(l.slice(l.indexOf(rw.host)), /not checked/, l);
  }
  assert.equal(writes(basic) + writes(rw), 0);
});

test('grantedActions reads the access claim and nothing it cannot read: never a throw, never a grant guessed', () => {
  const jwt = (claims: unknown) => `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
  const entry = (name: string, actions: unknown) => ({ type: 'repository', name, actions });
  assert.deepEqual(grantedActions(jwt({ access: [entry('app', ['pull', 'push'])] }), 'repository', 'app'), ['pull', 'push']);
  assert.deepEqual(grantedActions(jwt({ access: [entry('app', ['pull'])] }), 'repository', 'app'), ['pull']);
  assert.deepEqual(grantedActions(jwt({ access: [entry('app', ['*'])] }), 'repository', 'app'), ['*']);
  // Read: the repository is listed, with nothing granted.
  assert.deepEqual(grantedActions(jwt({ access: [entry('app', [])] }), 'repository', 'app'), []);
  // The same repository listed twice: what both grant.
  assert.deepEqual(grantedActions(jwt({ access: [entry('app', ['pull']), entry('app', ['push'])] }), 'repository', 'app')?.sort(), ['pull', 'push']);
  const unreadable = [
    'opaque-token-0123456789abcdef',
    'a.b',
    'a.b.c.d.e', // a JWE
    'x.!!!.y',
    `x.${Buffer.from('not json').toString('base64url')}.y`,
    jwt(null),
    jwt('access'),
    jwt({}),
    jwt({ access: 'repository:app:push' }),
    jwt({ access: { app: ['push'] } }),
    jwt({ access: [null] }),
    jwt({ access: ['repository:app:pull'] }),
    jwt({ access: [entry('app', 'pull,push')] }),
    jwt({ access: [entry('app', [1])] }),
    jwt({ access: [{ type: 'repository', actions: ['pull'] }] }),
    jwt({ access: [entry('*', ['push'])] }),
    jwt({ access: [entry('team/*', ['pull'])] }),
    // The repository not listed at all: the claim names it otherwise (the reads went through), or not.
    jwt({ access: [] }),
    jwt({ access: [entry('other', ['push']), { type: 'registry', name: 'catalog', actions: ['*'] }] }),
    jwt({ access: [entry('registry.example/app', ['pull', 'push'])] }),
  ];
  for (const token of unreadable) assert.equal(grantedActions(token, 'repository', 'app'), undefined, token);
});
