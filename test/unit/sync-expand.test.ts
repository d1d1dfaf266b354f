// sync's tag expansion (src/sync/expand.ts): a repository's tag list is selected from, for every
// entry that reads it, before the next list is read, so that only the selected tags stay and a
// file of 2,000 repositories of 2,000 tags does not hold every full list at once. Observed
// through an injected lister whose lists refuse to be read once a later list has been asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError, parseSyncFile } from '../../src/index.js';
import { expandEntries } from '../../src/sync/expand.js';
import { OutageBreaker } from '../../src/sync/outage.js';
import type { ImageReference } from '../../src/ref/reference.js';

const quiet = { debug() {}, info() {}, warn() {} };

/** Every source read by one reader (whose pulls: the breaker's key). */
const oneReader = (): Promise<string> => Promise.resolve('anonymous');

test('each repository\'s tag list is selected from, for every entry reading it, before the next list is read; each is listed once', async () => {
  const repos = Array.from({ length: 7 }, (_, i) => `team/app${i}`);
  // Every repository's entry keeps one tag of many; the first repository is read by a second
  // entry too, last in the file (another filter, the same list).
  const spec = parseSyncFile(
    [
      'defaults:',
      '  targets: [mirror.example/m]',
      'images:',
      ...repos.map((r) => `  - { source: "src.example/${r}", tags: { regex: "^keep$" } }`),
      `  - { source: "src.example/${repos[0]}", tags: { semver: ">=2.0.0" }, targets: ["mirror.example/other"] }`,
      '',
    ].join('\n'),
    'sync.yaml',
  );
  const asked: string[] = [];
  /** Lists handed out, and whether a later list had been asked for when each was read. */
  const handed: { repo: string; settled: boolean; sealed: boolean }[] = [];
  const misuse: string[] = [];
  const listTags = (source: ImageReference): Promise<string[]> => {
    asked.push(source.repository);
    // Asking for this list seals every list handed out before it: reading one now means it was
    // kept past its own listing's turn.
    for (const h of handed) if (h.settled) h.sealed = true;
    const entry = { repo: source.repository, settled: false, sealed: false };
    handed.push(entry);
    const tags = ['keep', '1.0.0', '2.0.0', '2.1.0', ...Array.from({ length: 50 }, (_, i) => `build-${i}`)];
    const list = new Proxy(tags, {
      get(target, prop, receiver) {
        if (entry.sealed) misuse.push(`${entry.repo}'s list read after a later list was asked for`);
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    // Each list arrives on its own turn of the event loop.
    return new Promise((resolve) =>
      setImmediate(() => {
        entry.settled = true;
        resolve(list);
      }),
    );
  };
  const expanded = await expandEntries(spec.images, new OutageBreaker(8), quiet, listTags, oneReader);
  assert.deepEqual(misuse, []);
  assert.deepEqual([...asked].sort(), [...repos].sort(), 'each repository listed once');
  assert.ok(asked.length > 4, 'more lists than are read at once, so that some were asked for after others had arrived');
  for (const e of expanded.slice(0, repos.length)) {
    assert.equal(e.error, undefined);
    assert.deepEqual(e.work!.map((w) => w.unit.source.tag), ['keep']);
  }
  assert.deepEqual(expanded.at(-1)!.work!.map((w) => w.unit.source.tag), ['2.1.0', '2.0.0']);
});

test('a list that cannot be read fails the entries reading it alone; an entry with referrers leaves cosign\'s tags to its walk and keeps the list for it', async () => {
  const spec = parseSyncFile(
    [
      'defaults:',
      '  targets: [mirror.example/m]',
      'images:',
      '  - { source: "src.example/a", tags: all }',
      '  - { source: "src.example/gone", tags: all }',
      '  - { source: "src.example/b", tags: [v1] }',
      '  - { source: "src.example/signed", tags: all, referrers: true }',
      '',
    ].join('\n'),
    'sync.yaml',
  );
  const forReferrers = new Map<string, boolean>();
  const expanded = await expandEntries(spec.images, new OutageBreaker(8), quiet, (source, keep) => {
    forReferrers.set(source.repository, keep);
    if (source.repository === 'gone') return Promise.reject(new NotFoundError('no such repository'));
    return Promise.resolve(['x', 'y', 'sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig']);
  }, oneReader);
  assert.deepEqual(expanded[0]!.work!.map((w) => w.unit.source.tag), ['sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig', 'x', 'y']);
  // The lister's own error, class and code kept (not made E_INTERNAL on its way), for the entry reading that list alone.
  assert.ok(expanded[1]!.error instanceof NotFoundError, String(expanded[1]!.error));
  assert.equal(expanded[1]!.error.code, 'E_NOT_FOUND');
  assert.match(expanded[1]!.error.message, /no such repository/);
  assert.deepEqual(expanded[2]!.work!.map((w) => w.unit.source.tag), ['v1']);
  // With referrers, the cosign tags come with the images they sign, and the list is the run's (its walk reads it again).
  assert.deepEqual(expanded[3]!.work!.map((w) => w.unit.source.tag), ['x', 'y']);
  assert.deepEqual(Object.fromEntries(forReferrers), { a: false, gone: false, signed: true });
});
