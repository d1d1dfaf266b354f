// Every failure a library caller sees is a RegpushError with a code (docs/architecture.md "One
// error catalogue"), a stray one (a bug's TypeError, a throw from an object the caller passed in)
// included: E_INTERNAL, the original as its cause. Only a progress callback's own throw comes back
// as it was thrown (library-callbacks.test.ts). The stray error here comes from the `secrets` sink,
// which the auth layer calls with every token it gets.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy, deleteImage, digestOf, InternalError, inspect, listTags, login, parseSyncFile, push, RegpushError, sync, tagImage, untagImage } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const USER = 'ci';
const PASSWORD = 'ci-password-1';

/** A `secrets` sink that fails as a bug would: a plain Error, no code. */
function brokenSecrets(stray: Error): { stray: Error; add(v: string | undefined): void; addCredential(c: unknown): void } {
  return {
    stray,
    add: (v) => {
      if (v) throw stray;
    },
    addCredential: () => undefined,
  };
}

/** A logger whose debug lines fail the same way. */
function brokenLogger({ stray }: { stray: Error }): Record<'debug' | 'info' | 'warn' | 'error', (line: string) => void> {
  const none = () => undefined;
  return { debug: () => { throw stray; }, info: none, warn: none, error: none };
}

async function rejection(name: string, call: () => Promise<unknown>): Promise<unknown> {
  return call().then(
    () => assert.fail(`${name}: the call succeeded`),
    (e: unknown) => e,
  );
}

test('a stray plain Error from deep inside every library operation rejects as an InternalError (E_INTERNAL) with it as the cause', async () => {
  const reg = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  const img = reg.seedImage('base/node', { tags: ['20'] });
  const app = mkdtempSync(join(tmpdir(), 'regpush-typed-errors-'));
  dirs.push(app);
  writeFileSync(join(app, 'server.js'), 'console.log("hi")\n');
  const lib = fakeLibraryOptions(reg);
  const env = { ...lib.env, REGPUSH_USER: USER, REGPUSH_PASSWORD: PASSWORD, REGPUSH_FROM_USER: USER, REGPUSH_FROM_PASSWORD: PASSWORD, REGPUSH_TO_USER: USER, REGPUSH_TO_PASSWORD: PASSWORD };
  const spec = parseSyncFile(JSON.stringify({ images: [{ source: reg.ref('base/node'), tags: ['20'], targets: [`${reg.host}/mirror`] }] }), 'sync.json');
  const calls: [string, (opts: Record<string, unknown>) => Promise<unknown>][] = [
    ['push', (o) => push({ from: reg.ref('base/node:20'), to: reg.ref('app:1'), app: [{ src: app, dest: '/app' }], ...o })],
    ['copy', (o) => copy({ from: reg.ref('base/node:20'), to: [reg.ref('copy/node:20')], ...o })],
    ['sync', (o) => sync({ spec, ...o })],
    ['inspect', (o) => inspect(reg.ref('base/node:20'), o)],
    ['listTags', (o) => listTags(reg.ref('base/node'), o)],
    ['digestOf', (o) => digestOf(reg.ref('base/node:20'), o)],
    ['tagImage', (o) => tagImage(reg.ref('base/node:20'), ['21'], o)],
    ['untagImage', (o) => untagImage(reg.ref('base/node:20'), o)],
    ['deleteImage', (o) => deleteImage(reg.ref(`base/node@${img.digest}`), o)],
    // login() checks the password as given, and hands the sink no token: the stray error is the logger's.
    ['login', (o) => login({ registry: reg.host, username: USER, password: PASSWORD, ...o, logger: brokenLogger(o.secrets as { stray: Error }) })],
  ];
  const wrong: string[] = [];
  for (const [name, call] of calls) {
    const stray = new Error(`stray failure in ${name}`);
    const home = mkdtempSync(join(tmpdir(), 'regpush-typed-errors-home-'));
    dirs.push(home);
    const err = await rejection(name, () => call({ ...lib, homeDir: home, env: { ...env, DOCKER_CONFIG: join(home, '.docker') }, retries: 0, secrets: brokenSecrets(stray) }));
    // Each call's outcome, so that one assertion names every operation that fails the rule.
    const typed = err instanceof InternalError && err.code === 'E_INTERNAL' && err.exitCode === 1 && err.message.includes(stray.message);
    // sync's line names its image, its cause that image's error; the stray error is under it.
    const cause = err instanceof RegpushError && err.cause instanceof InternalError ? err.cause.cause : (err as Error).cause;
    if (!typed || cause !== stray) wrong.push(`${name}: ${err instanceof RegpushError ? err.code : 'not a RegpushError'}: ${(err as Error).message}`);
  }
  assert.deepEqual(wrong, []);
  // Nothing was written: each call failed at its first token.
  assert.equal(reg.count({ kind: 'manifest', method: 'PUT' }), 0);
});
