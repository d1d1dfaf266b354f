// Tag selection: explicit list, all, and the regex / semver / newest filters together.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegpushError } from '../../src/errors.js';
import type { TagFilter } from '../../src/sync/options.js';
import { needsTagList, selectTags, tagVersion } from '../../src/sync/select.js';

const filter = (f: Omit<TagFilter, 'kind' | 'prerelease'> & { prerelease?: boolean }): TagFilter => ({ kind: 'filter', prerelease: false, ...f });

/** A realistic tag list, deliberately unsorted, with duplicates, partial versions and variants. */
const TAGS = [
  'latest', 'v2.10.0', 'v2.9.1', 'v2.9.0', '2.9.1', 'v1.8.3', 'v3.0.0-rc.1', 'v2.11.0-rc.2', 'v2.10.1',
  'v2', '2.10', 'stable', 'v2.10.0-alpine', 'sha-1234567', 'v2.9.1', 'v10.0.0', 'v2.0.0',
];

describe('selectTags', () => {
  it('an explicit list is returned as written, in its order, without looking at the listing', () => {
    const rule = { kind: 'list' as const, tags: ['1.27', '1.26', 'missing-at-source'] };
    assert.deepEqual(selectTags(['1.26', '1.27'], rule), ['1.27', '1.26', 'missing-at-source']);
    assert.deepEqual(selectTags([], rule), ['1.27', '1.26', 'missing-at-source']);
    assert.equal(needsTagList(rule), false);
    const out = selectTags([], rule);
    out.push('x');
    assert.deepEqual(rule.tags, ['1.27', '1.26', 'missing-at-source'], 'the rule is not changed through the result');
  });

  it('all: every listed tag once, in code-point order whatever the listing order', () => {
    const rule = { kind: 'all' as const };
    assert.equal(needsTagList(rule), true);
    const a = selectTags(TAGS, rule);
    assert.deepEqual(a, [...new Set(TAGS)].sort());
    assert.deepEqual(selectTags([...TAGS].reverse(), rule), a);
    assert.equal(a.length, TAGS.length - 1, 'the duplicate v2.9.1 counts once');
    assert.deepEqual(selectTags(['b', 'B', 'a', '_'], rule), ['B', '_', 'a', 'b'], 'code points, not locale');
  });

  it('regex alone: unanchored match, code-point order, non-versions kept', () => {
    assert.deepEqual(selectTags(TAGS, filter({ regex: 'rc' })), ['v2.11.0-rc.2', 'v3.0.0-rc.1']);
    assert.deepEqual(selectTags(TAGS, filter({ regex: '^v2\\.10' })), ['v2.10.0', 'v2.10.0-alpine', 'v2.10.1']);
    assert.deepEqual(selectTags(TAGS, filter({ regex: '^s' })), ['sha-1234567', 'stable']);
    assert.equal(needsTagList(filter({ regex: 'x' })), true);
  });

  it('semver: a range over loosely parsed versions, highest first; partial versions and words left out', () => {
    assert.deepEqual(selectTags(TAGS, filter({ semver: '>=2.0.0 <3.0.0' })), ['v2.10.1', 'v2.10.0', '2.9.1', 'v2.9.1', 'v2.9.0', 'v2.0.0']);
    assert.deepEqual(selectTags(TAGS, filter({ semver: '^1' })), ['v1.8.3']);
    assert.deepEqual(selectTags(TAGS, filter({ semver: '>=10' })), ['v10.0.0'], 'numeric, not string, comparison');
    assert.deepEqual(selectTags(TAGS, filter({ semver: '*' })).includes('v2'), false, '"v2" is not a full version');
    assert.deepEqual(selectTags(TAGS, filter({ semver: '*' })).includes('2.10'), false);
  });

  it('a version is strict MAJOR.MINOR.PATCH (an optional v, a pre-release after "-"): no leading zeros, no hyphenless pre-release', () => {
    // node-semver's loose parse would take 2024.01.0 as 2024.1.0 (newest!), 1.2.4rc1 as a pre-release, 1.02.3 as 1.2.3.
    const tags = ['3.19.1', '2024.01.0', '2023.12.5', '1.2.4rc1', '1.02.3', 'v1.2.3'];
    assert.deepEqual(selectTags(tags, filter({ newest: 2 })), ['2023.12.5', '3.19.1']);
    assert.deepEqual(selectTags(tags, filter({ newest: 1, prerelease: true })), ['2023.12.5']);
    assert.deepEqual(selectTags(tags, filter({ semver: '1.2.x' })), ['v1.2.3']);
  });

  it('pre-releases (and -variant suffixes) only with prerelease: true', () => {
    assert.deepEqual(selectTags(TAGS, filter({ semver: '>=2.10.0' })), ['v10.0.0', 'v2.10.1', 'v2.10.0']);
    assert.deepEqual(selectTags(TAGS, filter({ semver: '>=2.10.0', prerelease: true })), ['v10.0.0', 'v3.0.0-rc.1', 'v2.11.0-rc.2', 'v2.10.1', 'v2.10.0']);
    assert.deepEqual(selectTags(TAGS, filter({ regex: '-alpine$', newest: 2 })), []);
    assert.deepEqual(selectTags(TAGS, filter({ regex: '-alpine$', newest: 2, prerelease: true })), ['v2.10.0-alpine']);
  });

  it('with prerelease: true a variant sorts just below its release, so range bounds want "-0" (docs/sync.md)', () => {
    const variants = ['1.26.0-alpine', '1.27.3-alpine', '1.28.0-alpine', '1.26.0', '1.28.0'];
    // The plain bounds miss the variant of the lower bound and take the one of the upper bound...
    assert.deepEqual(selectTags(variants, filter({ regex: '-alpine$', semver: '>=1.26.0 <1.28.0', prerelease: true })), ['1.28.0-alpine', '1.27.3-alpine']);
    // ...written with -0 they mean "1.26.0 and its variants, up to before 1.28.0 and its variants".
    assert.deepEqual(selectTags(variants, filter({ regex: '-alpine$', semver: '>=1.26.0-0 <1.28.0-0', prerelease: true })), ['1.27.3-alpine', '1.26.0-alpine']);
    // Caret and tilde ranges put the -0 on the upper bound themselves.
    assert.deepEqual(selectTags(variants, filter({ regex: '-alpine$', semver: '~1.27.0 || ^1.26.0-0 <1.28.0-0', prerelease: true })), ['1.27.3-alpine', '1.26.0-alpine']);
  });

  it('newest: the N highest versions, after the other filters', () => {
    assert.deepEqual(selectTags(TAGS, filter({ newest: 3 })), ['v10.0.0', 'v2.10.1', 'v2.10.0']);
    assert.deepEqual(selectTags(TAGS, filter({ newest: 100 })).length, 8, 'fewer versions than N: all of them');
    assert.deepEqual(selectTags(TAGS, filter({ regex: '^v2\\.', semver: '>=2.0.0 <3.0.0', newest: 5 })), ['v2.10.1', 'v2.10.0', 'v2.9.1', 'v2.9.0', 'v2.0.0']);
    assert.deepEqual(selectTags(TAGS, filter({ semver: '~2.9', newest: 1 })), ['2.9.1'], 'equal versions: code-point order decides');
  });

  it('is deterministic: any listing order gives the same result', () => {
    const rule = filter({ semver: '>=1', newest: 4 });
    const want = selectTags(TAGS, rule);
    for (let seed = 1; seed < 20; seed++) {
      const shuffled = [...TAGS].sort((a, b) => ((a.length * seed + a.charCodeAt(a.length - 1)) % 7) - ((b.length * seed + b.charCodeAt(b.length - 1)) % 7));
      assert.deepEqual(selectTags(shuffled, rule), want);
    }
  });

  it('an invalid rule built by a library caller is an E_INPUT, not a crash', () => {
    assert.throws(() => selectTags(TAGS, filter({ regex: '(' })), (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && /invalid tag regex/.test(e.message));
    assert.throws(() => selectTags(TAGS, filter({ semver: '>>1' })), (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && /invalid semver range/.test(e.message));
  });
});

describe('tagVersion', () => {
  it('reads v-prefixed and plain full versions, not partial ones or words', () => {
    assert.equal(tagVersion('v1.2.3')?.version, '1.2.3');
    assert.equal(tagVersion('1.2.3-rc.1')?.version, '1.2.3-rc.1');
    assert.deepEqual(tagVersion('1.27.3-alpine')?.prerelease, ['alpine']);
    assert.equal(tagVersion('1.27'), undefined);
    assert.equal(tagVersion('latest'), undefined);
    assert.equal(tagVersion('sha-1234567'), undefined);
  });
});

describe('a listed tag no reference can name', () => {
  it('is left out with one warning naming it; the entry\'s other tags are copied (a tag of 129 characters, listed by the registry)', async () => {
    const { parseSyncFile, sync } = await import('../../src/index.js');
    const { fakeLibraryOptions, fakeRegistryPool } = await import('../fixtures/fake-registry.js');
    const fake = fakeRegistryPool();
    const [src, dst] = [await fake(), await fake()];
    src.seedImage('team/app', { tags: ['1.0.0'] });
    const long = 'x'.repeat(129);
    src.fault({ kind: 'tags' }, { kind: 'respond', respond: (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'team/app', tags: ['1.0.0', long] })) });
    const warnings: string[] = [];
    for (const tags of ['all', '{ regex: "^(1|x)" }']) {
      warnings.length = 0;
      const spec = parseSyncFile(['images:', `  - { source: ${src.ref('team/app')}, tags: ${tags}, targets: [${dst.host}/mirror] }`, ''].join('\n'), 'sync.yaml');
      const r = await sync({ spec, ...fakeLibraryOptions(src, dst), logger: { debug() {}, info() {}, warn: (m: string) => void warnings.push(m) } });
      assert.deepEqual(r.units.map((u) => [u.source.split('/').at(-1), u.ok]), [['app:1.0.0', true]], tags);
      assert.equal(warnings.length, 1, warnings.join(' | '));
      assert.match(warnings[0]!, /a tag of .*team\/app that no reference can name \(tag is longer than 128 characters \(129\)\) left out: "x{40}…"$/);
    }
  });
});
