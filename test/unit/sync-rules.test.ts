// The value rules of a sync entry (src/sync/rules.ts) as both callers word them: a sync file's
// error ("sync.json: images[0] (…): "key" <why>") and a hand-built spec's ("spec.images[0].key
// <why>") give the same <why> for the same mistake, the advice apart where the two spell a
// choice differently.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegpushError } from '../../src/errors.js';
import { checkSpecValues, parseSyncFile } from '../../src/sync/config.js';
import type { SyncImage, SyncSpec } from '../../src/sync/options.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** The file's reason for `entry` (a JSON images entry): the text after its key. */
function fileWhy(entry: Record<string, unknown>): { key: string; why: string } {
  try {
    parseSyncFile(JSON.stringify({ images: [entry] }), 'sync.json');
  } catch (err) {
    assert.ok(err instanceof RegpushError && err.code === 'E_INPUT', String(err));
    const m = /^sync\.json: images\[0\][^"]*: "([^"]+)" \(line 1\) (.*)$/.exec(err.message);
    assert.ok(m, err.message);
    return { key: m[1]!, why: m[2]! };
  }
  return assert.fail(`accepted ${JSON.stringify(entry)}`);
}

const base: SyncImage = parseSyncFile('{"images": [{"source": "a.io/team/app", "tags": ["1"], "targets": ["r.io/m"]}]}', 'sync.json').images[0]!;

/** The library's reason for a SyncImage made of `patch` over a good one: the text after its key. */
function libraryWhy(patch: Partial<SyncImage>): { key: string; why: string } {
  const spec: SyncSpec = { file: 'sync.json', images: [{ ...base, ...patch }] };
  try {
    checkSpecValues(spec, 'spec');
  } catch (err) {
    assert.ok(err instanceof RegpushError && err.code === 'E_USAGE', String(err));
    const m = /^spec\.images\[0\]\.(\S+) (.*)$/.exec(err.message);
    assert.ok(m, err.message);
    return { key: m[1]!, why: m[2]! };
  }
  return assert.fail(`accepted ${JSON.stringify(patch)}`);
}

const pinned = { source: { registry: 'a.io', repository: 'team/app', digest: DIGEST }, key: 'a.io/team/app' };
const ref = (r: Record<string, string>) => ({ destinations: [{ kind: 'reference' as const, ref: { registry: 'r.io', repository: 'y', ...r } }] });

describe('sync value rules: a file and a hand-built spec word each the same', () => {
  const same: [string, Record<string, unknown>, Partial<SyncImage>, RegExp][] = [
    ['a target with a digest', { source: 'a.io/team/app', tags: ['1'], target: `r.io/y@${DIGEST}` }, ref({ digest: DIGEST }), /^must not carry a digest: the target is written by tag/],
    ['a target tag with several tags copied', { source: 'a.io/team/app', tags: ['1', '2'], target: 'r.io/y:3' }, { tags: { kind: 'list', tags: ['1', '2'] }, ...ref({ tag: '3' }) }, /^may carry a tag only when exactly one tag is copied/],
    ['a bare pinned source and a target without a tag', { source: `a.io/team/app@${DIGEST}`, target: 'r.io/y' }, { ...pinned, tags: undefined, ...ref({}) } as Partial<SyncImage>, /^needs a tag for a source pinned by digest \(e\.g\. r\.io\/y:pinned\)$/],
    ['a target that is the source', { source: 'a.io/team/app', tags: ['1'], target: 'a.io/team/app' }, { destinations: [{ kind: 'reference', ref: { registry: 'a.io', repository: 'team/app' } }] }, /^is the source repository itself$/],
    ['a prefix that puts the image back', { source: 'a.io/team/app', tags: ['1'], targets: ['a.io'] }, { destinations: [{ kind: 'prefix', prefix: { registry: 'a.io', path: '' } }] }, /^puts the image back onto its source \(a\.io\)$/],
    ['a pinned source with tags', { source: `a.io/team/app@${DIGEST}`, tags: ['1'], target: 'r.io/y:1' }, { ...pinned, ...ref({ tag: '1' }) }, /^cannot be used with a source pinned by digest \(the digest is what is copied\)$/],
    ['an invalid tag', { source: 'a.io/team/app', tags: ['-x'], targets: ['r.io'] }, { tags: { kind: 'list', tags: ['-x'] } }, /^is not a valid tag: /],
    ['an invalid regex', { source: 'a.io/team/app', tags: { regex: '(' }, targets: ['r.io'] }, { tags: { kind: 'filter', regex: '(', prerelease: false } }, /^is not a valid regular expression: /],
    ['an invalid semver range', { source: 'a.io/team/app', tags: { semver: '>=2 <<3' }, targets: ['r.io'] }, { tags: { kind: 'filter', semver: '>=2 <<3', prerelease: false } }, /^is not a valid semver range: ">=2 <<3" \(e\.g\. ">=2\.0\.0 <3\.0\.0", "\^1\.4", "~2\.1\.0"\)$/],
    // semver reads "" as "*", every version: the library took it without a word, the file refused it.
    ['an empty semver range', { source: 'a.io/team/app', tags: { semver: '' }, targets: ['r.io'] }, { tags: { kind: 'filter', semver: '', prerelease: false } }, /^must be a non-empty string \(a semver range such as ">=2\.0\.0 <3\.0\.0"\)$/],
    ['newest 0', { source: 'a.io/team/app', tags: { newest: 0 }, targets: ['r.io'] }, { tags: { kind: 'filter', newest: 0, prerelease: false } }, /^must be a positive integer \(got 0\)$/],
    ['a filter with no rule', { source: 'a.io/team/app', tags: { prerelease: true }, targets: ['r.io'] }, { tags: { kind: 'filter', prerelease: true } }, /^filter needs at least one of regex, semver, newest$/],
    ['an invalid platform', { source: 'a.io/team/app', tags: ['1'], targets: ['r.io'], platforms: ['linux/amd64', 'linux'] }, { platforms: ['linux/amd64', 'linux'] }, /^is invalid: "linux"/],
    ['"all" among platforms', { source: 'a.io/team/app', tags: ['1'], targets: ['r.io'], platforms: ['all', 'linux/amd64'] }, { platforms: ['all', 'linux/amd64'] }, /^"all" cannot be mixed with single platforms$/],
    ['no platforms', { source: 'a.io/team/app', tags: ['1'], targets: ['r.io'], platforms: [] }, { platforms: [] }, /^is empty: give "all" or at least one platform such as linux\/amd64$/],
    ['a shard by neither', { source: 'a.io/team/app', tags: ['1'], targets: ['r.io'], shard: 'image' }, { shard: 'image' as never }, /^must be "repository" .* \(got "image"\)$/],
  ];
  for (const [what, entry, patch, why] of same) {
    it(what, () => {
      const file = fileWhy(entry);
      const library = libraryWhy(patch);
      assert.match(file.why, why, `file: ${file.why}`);
      assert.equal(library.why, file.why, `${what}: library ${library.key}, file ${file.key}`);
    });
  }

  it('of two mistakes in one entry, both name the same one first (one walk checks both)', () => {
    // A destination is checked before the shard: the library checked the shard first.
    const file = fileWhy({ source: 'a.io/team/app', tags: ['1'], targets: ['a.io'], shard: 'image' });
    const library = libraryWhy({ shard: 'image' as never, destinations: [{ kind: 'prefix', prefix: { registry: 'a.io', path: '' } }] });
    assert.deepEqual([file.key, library.key], ['targets[0]', 'destinations[0].prefix']);
    assert.equal(library.why, file.why);
  });

  it('the advice apart: each names what its caller writes', () => {
    // An empty tag list: the other rules as a file's key or a SyncImage's field.
    assert.equal(fileWhy({ source: 'a.io/team/app', tags: [], targets: ['r.io'] }).why, 'is an empty list: give at least one tag, "all", or a filter');
    assert.deepEqual(libraryWhy({ tags: { kind: 'list', tags: [] } }), { key: 'tags.tags', why: "is an empty list: give at least one tag, { kind: 'all' }, or a filter" });
    // "all" alone in a list.
    assert.equal(fileWhy({ source: 'a.io/team/app', tags: ['1'], targets: ['r.io'], platforms: ['all'] }).why, 'takes all as a word, not in a list: write `platforms: all`');
    assert.deepEqual(libraryWhy({ platforms: ['all'] }), { key: 'platforms', why: "takes all as a word, not in a list: write `platforms: 'all'`" });
    // A prefix too deep for Docker Hub: a file's entry takes a full "target", a spec a reference destination.
    const deep = 'gives docker.io/acme/team/app, but Docker Hub repositories are namespace/name only; ';
    assert.equal(fileWhy({ source: 'a.io/team/app', tags: ['1'], targets: ['docker.io/acme'] }).why, `${deep}give this entry a full "target" instead`);
    assert.deepEqual(libraryWhy({ destinations: [{ kind: 'prefix', prefix: { registry: 'docker.io', path: 'acme' } }] }), { key: 'destinations[0].prefix', why: `${deep}use a reference destination instead` });
    // A prefix that is not one names the prefix as given, in both.
    assert.match(fileWhy({ source: 'a.io/team/app', tags: ['1'], targets: ['nohost'] }).why, /^is not a valid target prefix \("nohost"\): /);
    assert.match(libraryWhy({ destinations: [{ kind: 'prefix', prefix: { registry: 'nohost', path: '' } }] }).why, /^is not a valid target prefix \("nohost"\): /);
  });
});
