// A registry's challenge, heard once in a run, is answered up front by every later request to it:
// a loopback registry's scheme probe (GET /v2/) hears it before any image's first request, so no
// image of a sync, nor any request of a copy, pays a 401 round trip of its own. The first request
// of a repository new to a token registry still needs a token for that repository: that is a
// token request, not a 401. Against in-process fake registries, reached as the CLI reaches a
// loopback registry: by probing (no insecureRegistries), so the probe's GET /v2/ is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, parseSyncFile, sync } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const USER = 'alice';
const PASSWORD = 'first-auth-Password-1';

/** fakeLibraryOptions without insecureRegistries: each registry's scheme is probed, as the CLI does for a loopback host. */
function probedOptions(...registries: FakeRegistry[]) {
  const { env, homeDir } = fakeLibraryOptions(...registries);
  return { env: { ...env, REGPUSH_FROM_USER: USER, REGPUSH_FROM_PASSWORD: PASSWORD, REGPUSH_TO_USER: USER, REGPUSH_TO_PASSWORD: PASSWORD }, homeDir };
}

/** The 401s `reg` sent, each as "METHOD path". */
function refusals(reg: FakeRegistry): string[] {
  return reg.requests({ status: 401 }).map((r) => `${r.method} ${r.path}`);
}

test('a sync from a token registry into a Basic one: each registry answers 401 once, to the scheme probe, whatever the number of images', async () => {
  const src = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  const dst = await fake({ auth: { scheme: 'basic', user: USER, password: PASSWORD } });
  const names = Array.from({ length: 10 }, (_, i) => `team/app${i}`);
  for (const name of names) src.seedImage(name, { tags: ['1'] });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...names.map((n) => `  - { source: ${src.ref(n)}, tags: ["1"] }`), ''].join('\n'), 'sync.yaml');
  // The default --images (4): the first four images start together, before anything is known.
  const result = await sync({ spec, retries: 0, ...probedOptions(src, dst) });
  assert.equal(result.units.filter((u) => u.ok).length, 10);
  assert.deepEqual(refusals(src), ['GET /v2/']);
  assert.deepEqual(refusals(dst), ['GET /v2/']);
  // Each source repository needed a token of its own: asked for, each once, with no 401 first.
  const tokenScopes = src.requests({ kind: 'token' }).map((r) => r.query.scope);
  assert.deepEqual([...new Set(tokenScopes)].sort(), names.map((n) => `repository:${n}:pull`).sort());
  assert.ok(src.requests({ kind: 'token' }).every((r) => r.status === 200));
});

test('a copy into a token registry: its only 401 is the scheme probe\'s; every request of the copy carries its token', async () => {
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  src.seedImage('app', { tags: ['1'] });
  await copy({ from: src.ref('app:1'), to: [`${dst.host}/mirror/app:1`], retries: 0, ...probedOptions(src, dst) });
  assert.deepEqual(refusals(dst), ['GET /v2/']);
  assert.ok(dst.requests({ kind: ['manifest', 'blob', 'upload'] }).every((r) => r.status !== 401));
});

test('the next image\'s token is fetched while the first image runs, once the scheme probe has named the challenge', { timeout: 20_000 }, async () => {
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  const names = ['team/app0', 'team/app1'];
  for (const name of names) src.seedImage(name, { tags: ['1'] });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...names.map((n) => `  - { source: ${src.ref(n)}, tags: ["1"] }`), ''].join('\n'), 'sync.yaml');
  // One image at a time: the first image's manifest PUT waits until the second image's token has
  // been asked for. The sync asks for it as the first image starts, before the probe has answered:
  // unless the ask waits for the probe's challenge, nothing is fetched, and this never ends.
  const secondToken = dst.seen({ kind: 'token', when: (r) => r.query.scope === 'repository:mirror/team/app1:pull,push' });
  dst.fault({ kind: 'manifest', method: 'PUT', repo: 'mirror/team/app0' }, { kind: 'hold', until: secondToken });
  const result = await sync({ spec, images: 1, retries: 0, ...probedOptions(src, dst) });
  assert.equal(result.units.filter((u) => u.ok).length, 2);
  const second = await secondToken;
  const secondStart = dst.requests({ repo: 'mirror/team/app1' })[0]!;
  assert.ok(second.seq < secondStart.seq, 'the second image\'s token was asked for before its first request');
  assert.deepEqual(refusals(dst), ['GET /v2/']);
  // One token per scope set: the second image used the one fetched ahead of it.
  assert.equal(dst.count({ kind: 'token', when: (r) => r.query.scope === 'repository:mirror/team/app1:pull,push' }), 1);
});
