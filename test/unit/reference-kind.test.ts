// A well-formed reference of the wrong kind for its argument — a digest where a tag is written, a
// tag or digest where a repository or registry is named, a reference where a plain tag goes — is
// one code in every command and library function: E_REFERENCE (exit 2), as a malformed reference
// is, in one line naming the argument, before any request. (It was E_USAGE in push, copy, tag and
// login, and E_REFERENCE in tags and catalog.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidReferenceError, copy, listRepositories, listTags, login, push, tagImage, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';

const fake = fakeRegistryPool();
const DIGEST = `sha256:${'a'.repeat(64)}`;

function cliEnv(reg: FakeRegistry): Record<string, string> {
  const lib = fakeLibraryOptions(reg);
  return { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };
}

test('a reference of the wrong kind is E_REFERENCE, exit 2, one line naming the argument, in every command', async () => {
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const cases: [string, string[], RegExp][] = [
    ['push --to a digest', ['push', '--from', 'scratch', '--to', reg.ref(`app@${DIGEST}`), '--app', '.'], /^--to must name a tag, not a digest: /],
    ['copy to a digest', ['copy', reg.ref('app:1'), reg.ref(`other@${DIGEST}`)], /^copy target must name a tag or a repository, not a digest: /],
    ['copy --to a digest', ['copy', reg.ref('app:1'), '--to', reg.ref(`other@${DIGEST}`)], /^copy target must name a tag or a repository, not a digest: /],
    ['copy --all-tags from a tag', ['copy', '--all-tags', reg.ref('app:1'), reg.ref('other')], /^--all-tags copies every tag under its own name: give repositories, not /],
    ['copy --all-tags to a digest', ['copy', '--all-tags', reg.ref('app'), reg.ref(`other@${DIGEST}`)], /^--all-tags copies every tag under its own name: give repositories, not /],
    ['tags of a tag', ['tags', reg.ref('app:1')], /names an image, not a repository/],
    ['tags of a digest', ['tags', reg.ref(`app@${DIGEST}`)], /names an image, not a repository/],
    ['catalog of a repository', ['catalog', reg.ref('app')], /is not a registry host/],
    ['tag to another repository', ['tag', reg.ref('app:1'), reg.ref('other:1')], /^new tag ".*" is not a plain tag/],
    ['tag to a digest', ['tag', reg.ref('app:1'), `app@${DIGEST}`], /^new tag ".*" is not a plain tag/],
    ['login to an image', ['login', '-u', 'u', '-p', 'pw-12345', reg.ref('app:1')], /is not a registry host or a namespace in one/],
    ['logout of an image', ['logout', reg.ref(`app@${DIGEST}`)], /is not a registry host or a namespace in one/],
  ];
  for (const [name, argv, message] of cases) {
    const r = await runMain(argv, { env: cliEnv(reg) });
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('regpush: error:'));
    assert.equal(lines.length, 1, `${name}: ${r.stderr}`);
    const line = lines[0]!.replace(/^regpush: error: /, '');
    assert.match(line, / \[E_REFERENCE\]$/, name);
    assert.match(line, message, name);
  }
  assert.equal(reg.requests().length, 0, 'refused before any request');
});

test('a reference of the wrong kind is InvalidReferenceError (E_REFERENCE) in every library function', async () => {
  const reg = await fake();
  const opts = fakeLibraryOptions(reg);
  const calls: [string, () => Promise<unknown>, RegExp][] = [
    ['push to a digest', () => push({ from: 'scratch', to: reg.ref(`app@${DIGEST}`), app: [{ src: '.', dest: '/app' }], ...opts }), /^push\(\): to must name a tag, not a digest: /],
    ['copy to a digest', () => copy({ from: reg.ref('app:1'), to: [reg.ref(`other@${DIGEST}`)], ...opts }), /^copy\(\): to must name a tag or a repository, not a digest: /],
    ['copy allTags from a tag', () => copy({ from: reg.ref('app:1'), to: [reg.ref('other')], allTags: true, ...opts }), /^copy\(\): allTags copies every tag under its own name: give repositories, not /],
    ['listTags of a tag', () => listTags(reg.ref('app:1'), opts), /names an image, not a repository/],
    ['listRepositories of a repository', () => listRepositories(reg.ref('app'), opts), /is not a registry host/],
    ['tagImage to another repository', () => tagImage(reg.ref('app:1'), [reg.ref('other:1')], opts), /^new tag ".*" is not a plain tag/],
    ['login to an image', () => login({ registry: reg.ref('app:1'), username: 'u', password: 'pw', ...opts }), /is not a registry host or a namespace in one/],
  ];
  for (const [name, call, message] of calls) {
    const err = await call().then(() => undefined, (e: RegpushError) => e);
    assert.ok(err instanceof InvalidReferenceError, `${name}: ${String(err)}`);
    assert.equal(err.code, 'E_REFERENCE', name);
    assert.match(err.message, message, name);
  }
  assert.equal(reg.requests().length, 0, 'refused before any request');
});
