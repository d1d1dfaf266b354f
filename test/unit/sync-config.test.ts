// The sync file: YAML/JSON parsing, defaults per image, and one E_INPUT line per mistake.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegpushError } from '../../src/errors.js';
import { parseSyncFile } from '../../src/sync/config.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** Parses YAML text named sync.yaml. */
const yaml = (text: string) => parseSyncFile(text, 'sync.yaml');

/** Asserts an E_INPUT whose one-line message matches every pattern. */
function fails(text: string, ...patterns: RegExp[]) {
  failsAs('sync.yaml', text, ...patterns);
}
function failsAs(file: string, text: string, ...patterns: RegExp[]) {
  assert.throws(
    () => parseSyncFile(text, file),
    (e: unknown) => {
      assert.ok(e instanceof RegpushError, `not a RegpushError: ${String(e)}`);
      assert.equal(e.code, 'E_INPUT');
      assert.ok(!e.message.includes('\n'), `message has several lines: ${e.message}`);
      assert.ok(e.message.startsWith(`${file}: `), e.message);
      // Every message names the line of what it is about (tested on its own below): the patterns
      // of the older cases match the message with or without it.
      const withoutLine = e.message.replace(/ \(line \d+\)/, '');
      for (const p of patterns) assert.ok(p.test(e.message) || p.test(withoutLine), `${e.message} does not match ${String(p)}`);
      return true;
    },
  );
}

const ISSUE_EXAMPLE = `
defaults:
  targets: [prod.example.com/mirror, backup.example.com/mirror]
  platforms: all
  referrers: true
images:
  - source: docker.io/library/nginx
    tags: ["1.27", "1.26"]
  - source: ghcr.io/acme/app
    tags: { regex: '^v2\\.', semver: '>=2.0.0 <3.0.0', newest: 5 }
    targets: [prod-eu.example.com/acme]
  - source: quay.io/acme/tool
    tags: all
  - source: registry.example.com/acme/job@${DIGEST}
    target: prod.example.com/acme/job:pinned
`;

describe('parseSyncFile: the accepted shape', () => {
  it('reads the example of the format reference, with every default applied per image', () => {
    const spec = yaml(ISSUE_EXAMPLE);
    assert.equal(spec.file, 'sync.yaml');
    assert.equal(spec.images.length, 4);
    const [nginx, app, tool, job] = spec.images;
    const mirrors = [
      { kind: 'prefix', prefix: { registry: 'prod.example.com', path: 'mirror' } },
      { kind: 'prefix', prefix: { registry: 'backup.example.com', path: 'mirror' } },
    ];
    assert.deepEqual(nginx, {
      index: 0,
      label: 'images[0] (docker.io/library/nginx)',
      key: 'docker.io/library/nginx',
      source: { registry: 'docker.io', repository: 'library/nginx' },
      tags: { kind: 'list', tags: ['1.27', '1.26'] },
      destinations: mirrors,
      platforms: 'all',
      referrers: true,
    });
    assert.deepEqual(app!.tags, { kind: 'filter', regex: '^v2\\.', semver: '>=2.0.0 <3.0.0', newest: 5, prerelease: false });
    assert.deepEqual(app!.destinations, [{ kind: 'prefix', prefix: { registry: 'prod-eu.example.com', path: 'acme' } }]);
    assert.equal(app!.referrers, true, 'defaults still apply to keys the entry does not set');
    assert.deepEqual(tool!.tags, { kind: 'all' });
    assert.deepEqual(tool!.destinations, mirrors);
    assert.deepEqual(job!.source, { registry: 'registry.example.com', repository: 'acme/job', digest: DIGEST });
    assert.equal(job!.tags, undefined);
    assert.equal(job!.key, 'registry.example.com/acme/job');
    assert.deepEqual(job!.destinations, [{ kind: 'reference', ref: { registry: 'prod.example.com', repository: 'acme/job', tag: 'pinned' } }]);
  });

  it('reads the same file written as JSON', () => {
    const json = JSON.stringify({
      defaults: { targets: ['prod.example.com/mirror', 'backup.example.com/mirror'], platforms: 'all', referrers: true },
      images: [
        { source: 'docker.io/library/nginx', tags: ['1.27', '1.26'] },
        { source: 'ghcr.io/acme/app', tags: { regex: '^v2\\.', semver: '>=2.0.0 <3.0.0', newest: 5 }, targets: ['prod-eu.example.com/acme'] },
        { source: 'quay.io/acme/tool', tags: 'all' },
        { source: `registry.example.com/acme/job@${DIGEST}`, target: 'prod.example.com/acme/job:pinned' },
      ],
    }, null, 2);
    assert.deepEqual({ ...parseSyncFile(json, 'sync.json'), file: 'x' }, { ...yaml(ISSUE_EXAMPLE), file: 'x' });
  });

  it('uses the built-in defaults (every platform, no referrers) when defaults leave them out', () => {
    const spec = yaml('images:\n  - source: alpine\n    tags: ["3.20"]\n    targets: localhost:5000\n');
    const img = spec.images[0]!;
    assert.equal(img.platforms, 'all');
    assert.equal(img.referrers, false);
    assert.deepEqual(img.source, { registry: 'docker.io', repository: 'library/alpine' });
    assert.deepEqual(img.destinations, [{ kind: 'prefix', prefix: { registry: 'localhost:5000', path: '' } }]);
  });

  it('keeps version-like tags exactly as written (YAML would make 1.20 the number 1.2)', () => {
    const img = yaml('images:\n  - source: nginx\n    tags: [1.20, 007, 22, 1.26.0]\n    targets: [r.example.com]\n').images[0]!;
    assert.deepEqual(img.tags, { kind: 'list', tags: ['1.20', '007', '22', '1.26.0'] });
    assert.deepEqual(yaml('images:\n  - {source: nginx, tags: {newest: 3}, targets: r.example.com}\n').images[0]!.tags, { kind: 'filter', newest: 3, prerelease: false });
  });

  it('overrides defaults per image and normalises platforms, prefixes and duplicates', () => {
    const spec = yaml(`
defaults:
  targets: [prod.example.com/mirror/, PROD.example.com/mirror]
  platforms: [linux/amd64]
  referrers: true
images:
  - source: ghcr.io/acme/a
    tags: [x, x, y]
    platforms: [linux/x86_64, linux/arm64/v8, linux/amd64]
    referrers: false
  - source: ghcr.io/acme/b:2.0
    platforms: linux/arm64,linux/arm/v7
`);
    const [a, b] = spec.images;
    assert.deepEqual(a!.destinations, [{ kind: 'prefix', prefix: { registry: 'prod.example.com', path: 'mirror' } }]);
    assert.deepEqual(a!.tags, { kind: 'list', tags: ['x', 'y'] });
    assert.deepEqual(a!.platforms, ['linux/amd64', 'linux/arm64/v8']);
    assert.equal(a!.referrers, false);
    assert.deepEqual(b!.tags, { kind: 'list', tags: ['2.0'] }, 'a tag in source is a one-tag list');
    assert.deepEqual(b!.platforms, ['linux/arm64', 'linux/arm/v7']);
    assert.deepEqual(b!.source, { registry: 'ghcr.io', repository: 'acme/b' }, 'the source never keeps a tag');
  });

  it('accepts a pinned source written repo:tag@digest with prefix targets, and an explicit target without a tag', () => {
    const spec = yaml(`
defaults: { targets: [r.example.com/m] }
images:
  - source: ghcr.io/acme/job:1.4@${DIGEST}
  - source: ghcr.io/acme/api
    tags: all
    target: prod.example.com/services/api
  - source: ghcr.io/acme/web
    tags: ["3.1"]
    target: prod.example.com/web:stable
`);
    const [job, api, web] = spec.images;
    assert.equal(job!.pinnedTag, '1.4');
    assert.equal(job!.source.digest, DIGEST);
    assert.deepEqual(api!.destinations, [{ kind: 'reference', ref: { registry: 'prod.example.com', repository: 'services/api' } }]);
    assert.deepEqual(web!.destinations, [{ kind: 'reference', ref: { registry: 'prod.example.com', repository: 'web', tag: 'stable' } }]);
  });

  it('accepts a filter with prerelease: true', () => {
    const img = yaml("images:\n  - {source: a.io/x, targets: b.io, tags: {semver: '^1', prerelease: true}}\n").images[0]!;
    assert.deepEqual(img.tags, { kind: 'filter', semver: '^1', prerelease: true });
  });
});

describe('parseSyncFile: every mistake is one E_INPUT line naming file, entry and key', () => {
  const ok = 'images:\n  - source: ghcr.io/acme/app\n    tags: ["1"]\n    targets: [r.example.com]\n';

  it('syntax errors give the position', () => {
    fails('images:\n  - source: a\n - tags: [1\n', /^sync\.yaml: not valid YAML at line \d+, column \d+: /);
    fails('images: []\nimages: []\n', /not valid YAML at line 2, column 1: Map keys must be unique/);
    fails(`${ok}---\n${ok}`, /one YAML document/);
    fails('images: "unterminated\n', /not valid YAML at line \d+, column \d+: Missing closing "quote/);
    // An alias to an anchor never set (a typo), and an alias expansion bomb: the yaml package
    // throws ReferenceError for both, which must still be the file's mistake, not an internal error.
    fails('defaults:\n  targets: *defautls\nimages:\n  - source: a.io/x\n', /^sync\.yaml: not valid YAML: .*alias/i);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefghij'.split('').map((c, i) => `${c}: &${c} [${Array(10).fill(`*${'abcdefghij'[i]}`).join(', ')}]`), 'images: [*j]', ''].join('\n');
    fails(bomb, /^sync\.yaml: not valid YAML: /);
    // One anchor shared by many entries is no bomb: a 500-entry file using one target list and one filter loads.
    const shared = ['images:', '  - { source: a.io/first, targets: &prod [r1.example.com, r2.example.com], tags: &filter { semver: ">=1" } }', ...Array.from({ length: 499 }, (_, i) => `  - { source: a.io/app${i}, targets: *prod, tags: *filter }`), ''].join('\n');
    const loaded = yaml(shared);
    assert.equal(loaded.images.length, 500);
    failsAs('sync.json', '{\n  "images": [\n    {"source": "a",}\n  ]\n}', /^sync\.json: not valid JSON at line 3, column \d+/);
    failsAs('sync.json', '{"images": [', /^sync\.json: not valid JSON/);
  });

  it('JSON: a repeated key, an unexpected token and a byte order mark', () => {
    // JSON.parse keeps the last of two equal keys: the first "tags" would vanish without a word.
    failsAs('sync.json', '{"images": [\n  {"source": "a.io/x", "tags": ["1"], "targets": "r.io", "tags": ["2"]}\n]}', /^sync\.json: not valid JSON at line 2, column 58: duplicate key "tags"$/);
    failsAs('sync.json', '{"images": [], "defaults": {}, "images": [{"source": "a.io/x"}]}', /at line 1, column 32: duplicate key "images"/);
    // Equal after unescaping is equal for JSON.parse too.
    failsAs('sync.json', '{"images": [], "\\u0069mages": []}', /duplicate key "images"/);
    // Node 20's V8 says "Unexpected token" with neither line nor column, quoting lines of the file.
    failsAs('sync.json', '{\n  "images": [\n    {"source": "a.io/x", "tags": ["1",], "targets": "r.io"}\n  ]\n}', /^sync\.json: not valid JSON at line 3, column 39: expected a value, found "\]"$/);
    failsAs('sync.json', '{"images": [{"source": "a.io/x"}]} x', /at line 1, column 36: expected the end of the file after the value, found "x"/);
    failsAs('sync.json', '{"images": [{"source": "a.io/x\\q"}]}', /at line 1, column 31: invalid escape/);
    failsAs('sync.json', '', /^sync\.json: not valid JSON at line 1, column 1: expected a value, found the end of the file$/);
    failsAs('sync.json', '['.repeat(200_000), /^sync\.json: not valid JSON: nested too deeply$/);
    // Windows editors write a byte order mark first; it is not part of the JSON.
    const json = '{"images": [{"source": "a.io/x", "tags": ["1.20"], "targets": "r.io", "platforms": "all", "referrers": false}], "defaults": null}';
    const spec = parseSyncFile(`\uFEFF${json}`, 'sync.json');
    assert.deepEqual(spec.images[0]!.tags, { kind: 'list', tags: ['1.20'] });
    assert.deepEqual(parseSyncFile(json, 'sync.json'), spec);
  });

  it('a JSON number as a tag: the hint must not suggest the shortened spelling', () => {
    // 1.20 is the number 1.2 once parsed; "quote it: 1.2" would name another tag.
    failsAs('sync.json', '{"images": [{"source": "a.io/x", "tags": [1.20], "targets": "r.io"}]}', /"tags\[0\]" is the number 1\.2: write the tag in quotes, exactly as the registry names it/);
    fails('images:\n  - {source: a.io/x, targets: r.io, tags: [null]}\n', /"tags\[0\]" must be a string \(got null; write the tag in quotes\)/);
  });

  it('the file itself must be a mapping with a non-empty images list', () => {
    fails('', /a sync file is a mapping/);
    fails('- a\n- b\n', /a sync file is a mapping/);
    fails('defaults: {}\n', /"images" is missing/);
    fails('images: {source: a}\n', /"images" must be a list/);
    fails('images: []\n', /"images" is empty/);
    fails('defaults: [a]\nimages: [{source: a, tags: all, targets: r.io}]\n', /"defaults" must be a mapping/);
    // "tags" may be left out when the source names its tag: the message must not say it is needed.
    fails('images: [5]\n', /^sync\.yaml: images\[0\] must be a mapping with at least a "source" \(and "tags", unless the source names its tag or digest\)$/);
  });

  it('unknown keys anywhere, with their line and the known ones listed', () => {
    fails(`${ok}image: x\n`, /^sync\.yaml: "image" \(line 5\) is not a known key \(known: defaults, images\)$/);
    fails(`defaults: {target: r.io}\n${ok}`, /^sync\.yaml: "defaults\.target" \(line 1\) is not a known key \(known: targets, platforms, referrers, shard\)$/);
    fails('images:\n  - source: ghcr.io/acme/app\n    tag: "1"\n', /^sync\.yaml: images\[0\] \(ghcr\.io\/acme\/app\): "tag" \(line 3\) is not a known key \(known: source, tags, targets, target, platforms, referrers, shard\)$/);
    fails('images:\n  - {source: a.io/x, targets: r.io, tags: {regexp: "^v"}}\n', /images\[0\] \(a\.io\/x\): "tags\.regexp" \(line 2\) is not a known key \(known: regex, semver, newest, prerelease\)/);
    // The tenth entry of a longer file: the line is the one a reader needs.
    const many = ['defaults:', '  targets: [r.io/m]', 'images:', ...Array.from({ length: 9 }, (_, i) => `  - source: a.io/x${i}\n    tags: all`), '  - source: a.io/y', '    tags:', '      semver: "^1"', '      newset: 3', ''].join('\n');
    fails(many, /^sync\.yaml: images\[9\] \(a\.io\/y\): "tags\.newset" \(line 25\) is not a known key/);
    // JSON: the same lines.
    failsAs('sync.json', '{\n  "images": [\n    {\n      "source": "a.io/x",\n      "tags": "all",\n      "target": "r.io/y",\n      "platform": "linux/amd64"\n    }\n  ]\n}', /^sync\.json: images\[0\] \(a\.io\/x\): "platform" \(line 7\) is not a known key/);
  });

  it('entries: not a mapping, no source, a source that does not parse', () => {
    fails('images:\n  - ghcr.io/acme/app\n', /^sync\.yaml: images\[0\] must be a mapping/);
    fails('images:\n  - tags: all\n    targets: r.io\n', /images\[0\]: "source" is missing/);
    fails('images:\n  - {source: [a], tags: all, targets: r.io}\n', /images\[0\]: "source" must be a string/);
    fails(`${ok}  - source: ghcr.io/Acme/App\n    tags: all\n`, /images\[1\] \(ghcr\.io\/Acme\/App\): "source" is not a valid image reference: .*lowercase/);
    fails(`${ok}  - source: https://ghcr.io/acme/app\n    tags: all\n`, /images\[1\] \(https:\/\/ghcr\.io\/acme\/app\): "source" is not a valid image reference: .*scheme/);
  });

  it('tags: missing, empty, not strings, invalid, combined with a tag in source', () => {
    fails('images:\n  - {source: a.io/x, targets: r.io}\n', /images\[0\] \(a\.io\/x\): "tags" is missing/);
    fails('images:\n  - {source: a.io/x, targets: r.io, tags: []}\n', /"tags" is an empty list/);
    fails('images:\n  - {source: a.io/x, targets: r.io, tags: [true]}\n', /"tags\[0\]" must be a string/);
    fails('images:\n  - {source: a.io/x, targets: r.io, tags: [ok, "-bad"]}\n', /"tags\[1\]" is not a valid tag/);
    fails('images:\n  - {source: a.io/x, targets: r.io, tags: true}\n', /"tags" must be a list of tags, "all", or a filter/);
    fails('images:\n  - {source: "a.io/x:1", targets: r.io, tags: ["2"]}\n', /"tags" cannot be used with a tag in "source" \(":1"\)/);
    fails(`images:\n  - {source: "a.io/x@${DIGEST}", target: "r.io/x:1", tags: ["2"]}\n`, /"tags" cannot be used with a source pinned by digest/);
    failsAs('s.json', '{"images": [{"source": "a.io/x", "targets": "r.io", "tags": [1.2]}]}', /"tags\[0\]" is the number 1\.2: write the tag in quotes/);
  });

  it('tag filters: invalid regex, invalid semver range, newest not a positive integer, empty filter', () => {
    const img = (tags: string) => `images:\n  - source: ghcr.io/acme/app\n    targets: r.io\n    tags: ${tags}\n`;
    fails(img("{regex: '^(v2'}"), /images\[0\] \(ghcr\.io\/acme\/app\): "tags\.regex" is not a valid regular expression/);
    fails(img("{regex: ''}"), /"tags\.regex" must be a non-empty string/);
    fails(img("{semver: '>=2.0.0 <<3'}"), /"tags\.semver" is not a valid semver range: ">=2\.0\.0 <<3"/);
    fails(img("{semver: 'latest'}"), /"tags\.semver" is not a valid semver range/);
    fails(img("{semver: ''}"), /"tags\.semver" must be a non-empty string/);
    fails(img('{newest: 0}'), /"tags\.newest" must be a positive integer \(got "0"\)/);
    fails(img('{newest: -2}'), /"tags\.newest" must be a positive integer/);
    fails(img('{newest: 2.5}'), /"tags\.newest" must be a positive integer \(got "2\.5"\)/);
    fails(img('{newest: many}'), /"tags\.newest" must be a positive integer/);
    fails(img('{newest: 3, prerelease: yes}'), /"tags\.prerelease" must be true or false \(got "yes"\)/);
    fails(img('{prerelease: true}'), /filter needs at least one of regex, semver, newest/);
    fails(img('{}'), /filter needs at least one of regex, semver, newest/);
    failsAs('s.json', '{"images": [{"source": "a.io/x", "targets": "r.io", "tags": {"newest": 1.5}}]}', /"tags\.newest" must be a positive integer \(got 1\.5\)/);
  });

  it('targets: none at all, not a prefix, a tag or digest in a prefix, a name too long', () => {
    fails('images:\n  - {source: ghcr.io/acme/app, tags: all}\n', /images\[0\] \(ghcr\.io\/acme\/app\): "targets" is missing/);
    fails('defaults: {targets: []}\nimages:\n  - {source: ghcr.io/acme/app, tags: all}\n', /"targets" is missing/);
    fails('images:\n  - {source: a.io/x, tags: all, targets: [mirror]}\n', /"targets\[0\]" is not a valid target prefix \("mirror"\): it must start with a registry host/);
    fails('images:\n  - {source: a.io/x, tags: all, targets: ["r.io/m:1"]}\n', /"targets\[0\]" is not a valid target prefix .*no tag/);
    // A full reference in `targets` (meant for `target`): the message says how to write it.
    fails('images:\n  - {source: "a.io/x:1", targets: ["r.io/prod/x:stable"]}\n', /"targets\[0\]" is not a valid target prefix \("r\.io\/prod\/x:stable"\): a prefix has no tag \(the rule appends the source path and tag\); one exact destination with its own tag is written "target: r\.io\/prod\/x:stable"$/);
    fails(`images:\n  - {source: a.io/x, tags: all, targets: ["r.io/m@${DIGEST}"]}\n`, /"targets\[0\]" is not a valid target prefix .*no digest/);
    fails('images:\n  - {source: a.io/x, tags: all, targets: ["r.io/Mirror"]}\n', /"targets\[0\]" is not a valid target prefix .*lowercase/);
    fails('images:\n  - {source: a.io/x, tags: all, targets: ["r.io:99999"]}\n', /"targets\[0\]" is not a valid target prefix .*port 99999/);
    fails('images:\n  - {source: a.io/x, tags: all, targets: [r.io, true]}\n', /"targets\[1\]" must be a string/);
    fails('images:\n  - {source: a.io/x, tags: all, targets: {r: 1}}\n', /"targets" must be a registry prefix or a list/);
    fails('defaults: {targets: [mirror]}\nimages:\n  - {source: a.io/x, tags: all}\n', /^sync\.yaml: "defaults\.targets\[0\]" is not a valid target prefix/);
    const longPath = Array.from({ length: 20 }, () => 'abcdefghij').join('/');
    fails(`defaults: {targets: [r.example.com/${longPath}]}\nimages:\n  - {source: a.io/${longPath.slice(0, 40)}, tags: all}\n`, /images\[0\] \(.*\): "defaults\.targets\[0\]" gives an invalid target for this source: .*longer than 255/);
    fails('images:\n  - {source: ghcr.io/acme/app, tags: all, targets: [ghcr.io]}\n', /"targets\[0\]" puts the image back onto its source/);
  });

  it('target: a digest source without one, a digest in it, a tag with several tags, both target and targets', () => {
    fails(`images:\n  - source: a.io/job@${DIGEST}\n`, /"target" is missing: a source pinned by digest/);
    fails(`defaults: {targets: [r.io/m]}\nimages:\n  - source: registry.example.com/acme/job@${DIGEST}\n`, /images\[0\] \(registry\.example\.com\/acme\/job@sha256:abababababab…\): "target" is missing: a source pinned by digest needs a full "target" with a tag/);
    fails(`images:\n  - {source: "a.io/job@${DIGEST}", target: r.io/job}\n`, /"target" needs a tag for a source pinned by digest/);
    fails(`images:\n  - {source: a.io/job, tags: ["1"], target: "r.io/job@${DIGEST}"}\n`, /"target" must not carry a digest/);
    fails(`images:\n  - {source: a.io/job, tags: ["1"], target: "r.io/job:1@${DIGEST}"}\n`, /"target" must not carry a digest/);
    fails('images:\n  - {source: a.io/job, tags: ["1", "2"], target: "r.io/job:x"}\n', /"target" may carry a tag only when exactly one tag is copied/);
    fails('images:\n  - {source: a.io/job, tags: all, target: "r.io/job:x"}\n', /"target" may carry a tag only when exactly one tag is copied/);
    fails('images:\n  - {source: a.io/job, tags: all, target: "r.io/job", targets: [b.io]}\n', /"target" cannot be combined with "targets"/);
    fails('images:\n  - {source: a.io/job, tags: all, target: [r.io/job]}\n', /"target" must be a string/);
    // A null value is a wrong type, as for every optional key of an entry: beside "targets" it was
    // called a second destination ("cannot be combined"). And "targets" is checked before the clash.
    fails('images:\n  - {source: a.io/job, tags: all, target: null, targets: [b.io]}\n', /"target" must be a string \(a full image reference, e\.g\. [^)]*\) \(got null\)$/);
    fails('images:\n  - {source: a.io/job, tags: all, target: null}\n', /"target" must be a string .*\(got null\)$/);
    fails('images:\n  - {source: a.io/job, tags: all, target: "r.io/job", targets: null}\n', /"targets" must be a registry prefix or a list/);
    fails('images:\n  - {source: a.io/job, tags: all, platforms: null, targets: [b.io]}\n', /"platforms" must be "all" or a list/);
    fails('images:\n  - {source: a.io/job, tags: all, target: "R.io/Job"}\n', /"target" is not a valid image reference: .*lowercase/);
    fails('images:\n  - {source: a.io/job, tags: all, target: "a.io/job"}\n', /"target" is the source repository itself/);
  });

  it('platforms and referrers values', () => {
    const img = (extra: string) => `images:\n  - {source: a.io/x, tags: all, targets: r.io, ${extra}}\n`;
    fails(img('platforms: [linux]'), /images\[0\] \(a\.io\/x\): "platforms\[0\]" is invalid: "linux": expected os\/arch/);
    fails(img('platforms: [all, linux/amd64]'), /"platforms" "all" cannot be mixed/);
    fails(img('platforms: [all]'), /"platforms" takes all as a word, not in a list: write `platforms: all`/);
    fails(img('platforms: []'), /"platforms" is empty: give "all" or at least one platform such as linux\/amd64$/);
    fails(img('platforms: [false]'), /"platforms\[0\]" must be a string/);
    fails(img('referrers: "yes"'), /"referrers" must be true or false \(got "yes"\)/);
    fails('defaults: {referrers: 1}\nimages:\n  - {source: a.io/x, tags: all, targets: r.io}\n', /^sync\.yaml: "defaults\.referrers" must be true or false \(got "1"\)/);
    fails(`defaults: {platforms: linux/amd64/v1/x}\nimages:\n  - {source: a.io/x, tags: all, targets: r.io}\n`, /^sync\.yaml: "defaults\.platforms\[0\]" is invalid/);
  });

  it('two entries writing the same known target tag', () => {
    fails(
      'defaults: {targets: [r.io/m]}\nimages:\n  - {source: a.io/x, tags: ["1", "2"]}\n  - {source: "b.io/x:2"}\n',
      /images\[1\] \(b\.io\/x:2\) writes r\.io\/m\/x:2, which images\[0\] \(a\.io\/x\) writes too/,
    );
    fails(
      `images:\n  - {source: "a.io/x@${DIGEST}", target: "r.io/job:p"}\n  - {source: "b.io/y", tags: ["1"], target: "r.io/job:p"}\n`,
      /images\[1\] \(b\.io\/y\) writes r\.io\/job:p, which images\[0\] .* writes too/,
    );
    // The same tag of the same source, twice, is one copy made once: fine; with other platforms (or
    // referrers) it is a different copy into the same tag, refused.
    assert.equal(yaml('defaults: {targets: [r.io/m]}\nimages:\n  - {source: a.io/x, tags: ["1", "2"]}\n  - {source: "a.io/x:2"}\n').images.length, 2);
    fails(
      'defaults: {targets: [r.io/m]}\nimages:\n  - {source: a.io/x, tags: ["1", "2"]}\n  - {source: "a.io/x:2", platforms: [linux/amd64]}\n',
      /images\[1\] \(a\.io\/x:2\) writes r\.io\/m\/x:2, which images\[0\] \(a\.io\/x\) writes too/,
    );
    fails('defaults: {targets: [r.io/m]}\nimages:\n  - {source: a.io/x, tags: ["1"]}\n  - {source: "a.io/x:1", referrers: true}\n', /images\[1\] .* writes r\.io\/m\/x:1, which images\[0\]/);
    // Different tags into one repository are fine.
    assert.equal(yaml('defaults: {targets: [r.io/m]}\nimages:\n  - {source: a.io/x, tags: ["1"]}\n  - {source: "b.io/x:2"}\n').images.length, 2);
  });

  it('an entry that repeats an earlier one (a copy-paste slip) is refused, naming both, whatever its spelling', () => {
    // A filter's tags are known only at sync time, so no target check can see this: the entries' own values do.
    fails(
      'defaults: {targets: [r.io/m]}\nimages:\n  - {source: a.io/x, tags: all}\n  - {source: b.io/y, tags: ["1"]}\n  - {source: a.io/x, tags: all}\n',
      /^sync\.yaml: images\[2\] \(a\.io\/x\) repeats images\[0\] \(a\.io\/x\) \(the same source, tags, targets, platforms and referrers\): remove one of them$/,
    );
    // Spelt otherwise, the same entry: a short Docker Hub name, a default written out, a trailing slash.
    fails(
      'defaults: {targets: [r.io/m]}\nimages:\n  - {source: nginx, tags: {semver: "^1.26.0", newest: 3}}\n  - {source: docker.io/library/nginx, tags: {newest: 3, semver: "^1.26.0"}, targets: [r.io/m/], platforms: all, referrers: false}\n',
      /images\[1\] \(docker\.io\/library\/nginx\) repeats images\[0\] \(nginx\)/,
    );
    // Entries that differ in anything they copy stay: another filter, other targets, referrers.
    assert.equal(yaml('defaults: {targets: [r.io/m]}\nimages:\n  - {source: a.io/x, tags: {regex: "^1"}}\n  - {source: a.io/x, tags: {regex: "^2"}}\n').images.length, 2);
    assert.equal(yaml('images:\n  - {source: a.io/x, tags: all, targets: r.io/m}\n  - {source: a.io/x, tags: all, targets: s.io/m}\n').images.length, 2);
    assert.equal(yaml('defaults: {targets: [r.io/m]}\nimages:\n  - {source: a.io/x, tags: all}\n  - {source: a.io/x, tags: all, referrers: true}\n').images.length, 1 + 1);
  });

  it('a source pinned by a bare digest takes part in the known-tag check through its target\'s own tag', () => {
    // No tag in `source`: the tag the entry writes is the one its `target` carries.
    const other = `sha256:${'cd'.repeat(32)}`;
    fails(
      `images:\n  - {source: "a.io/x@${DIGEST}", target: "r.io/job:p"}\n  - {source: "b.io/y@${other}", target: "r.io/job:p"}\n`,
      /images\[1\] \(b\.io\/y@sha256:cdcdcdcdcdcd…\) writes r\.io\/job:p, which images\[0\] \(a\.io\/x@sha256:abababababab…\) writes too/,
    );
    // A later entry whose target keeps the source tag's name lands on the same tag.
    fails(
      `images:\n  - {source: "a.io/x@${DIGEST}", target: "r.io/job:1"}\n  - {source: b.io/y, tags: ["1"], target: r.io/job}\n`,
      /images\[1\] \(b\.io\/y\) writes r\.io\/job:1, which images\[0\] .* writes too/,
    );
    // Other tags of that repository are free.
    const spec = yaml(`images:\n  - {source: "a.io/x@${DIGEST}", target: "r.io/job:p"}\n  - {source: "b.io/y@${other}", target: "r.io/job:q"}\n  - {source: b.io/y, tags: ["1"], target: r.io/job}\n`);
    assert.deepEqual(
      spec.images.map((i) => [i.pinnedTag, i.destinations]),
      [
        [undefined, [{ kind: 'reference', ref: { registry: 'r.io', repository: 'job', tag: 'p' } }]],
        [undefined, [{ kind: 'reference', ref: { registry: 'r.io', repository: 'job', tag: 'q' } }]],
        [undefined, [{ kind: 'reference', ref: { registry: 'r.io', repository: 'job' } }]],
      ],
    );
  });

  it('the error carries file, entry, key and line as details', () => {
    try {
      yaml('images:\n  - {source: a.io/x, tags: {newest: 0}, targets: r.io}\n');
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof RegpushError);
      assert.equal(e.code, 'E_INPUT');
      assert.equal(e.message, 'sync.yaml: images[0] (a.io/x): "tags.newest" (line 2) must be a positive integer (got "0")');
      assert.deepEqual(e.details, { file: 'sync.yaml', entry: 'images[0] (a.io/x)', key: 'tags.newest', line: 2 });
      assert.equal(e.exitCode, 2);
    }
  });
});

describe('sync file: prefixes at registries of namespace/name repositories', () => {
  it('a Docker Hub or Quay.io prefix that would give a deeper name is refused when the file is read, naming the entry', () => {
    fails(['defaults:', '  targets: [docker.io/acme]', 'images:', '  - source: ghcr.io/acme/app:1', ''].join('\n'), /images\[0\] \(ghcr\.io\/acme\/app:1\)/, /"defaults\.targets\[0\]" gives docker\.io\/acme\/acme\/app, but Docker Hub repositories are namespace\/name only; give this entry a full "target" instead/);
    fails(['images:', '  - source: ghcr.io/acme/app:1', '    targets: [quay.io/acme]', ''].join('\n'), /"targets\[0\]" gives quay\.io\/acme\/acme\/app, but Quay\.io repositories are namespace\/name only/);
    // The position named is the one written, duplicates before it counted.
    fails(['images:', '  - source: ghcr.io/acme/app:1', '    targets: [r.io/m, r.io/m, docker.io/acme]', ''].join('\n'), /"targets\[2\]" gives docker\.io\/acme\/acme\/app/);
    fails(['defaults:', '  targets: [r.io/m, "r.io/m/", quay.io/acme]', 'images:', '  - source: ghcr.io/acme/app:1', ''].join('\n'), /"defaults\.targets\[2\]" gives quay\.io\/acme\/acme\/app/);
    // Two parts are fine there; elsewhere any depth.
    assert.equal(yaml(['images:', '  - source: ghcr.io/acme/app:1', '    targets: [docker.io]', ''].join('\n')).images.length, 1);
    assert.equal(yaml(['images:', '  - source: ghcr.io/acme/app:1', '    targets: [prod.example.com/a/b]', ''].join('\n')).images.length, 1);
  });

  it('a bare docker.io prefix gives an official image\'s name to a one-part source, library/<name>, so it clashes with target: docker.io/<name>', () => {
    fails(['images:', '  - source: ghcr.io/nginx', '    tags: [a]', '    targets: [docker.io]', '  - source: quay.io/other/nginx:a', '    target: docker.io/nginx:a', ''].join('\n'), /docker\.io\/library\/nginx:a/);
  });
});

describe('sync file: the documentation\'s example, and wrong argument types', () => {
  it('the example in docs/sync.md parses as the text after it says', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../../docs/sync.md', import.meta.url), 'utf8');
    const example = /## Example\n\n```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(example, 'docs/sync.md has its example');
    const spec = parseSyncFile(example, 'sync.yaml');
    assert.deepEqual(spec.images.map((i) => i.label.replace(/ \(.*/, '')), spec.images.map((_, n) => `images[${n}]`));
    assert.ok(spec.images.some((i) => i.source.digest !== undefined && i.pinnedTag === '1.4'));
  });

  it('parseSyncFile() given something other than strings is E_USAGE, not a TypeError', () => {
    assert.throws(() => parseSyncFile(undefined as never, 'sync.yaml'), (e: unknown) => e instanceof RegpushError && e.code === 'E_USAGE' && /text and fileName must be strings \(got undefined, a string\)/.test(e.message));
    assert.throws(() => parseSyncFile('images: []', null as never), (e: unknown) => e instanceof RegpushError && e.code === 'E_USAGE' && e.message === 'parseSyncFile(): text and fileName must be strings (got a string, null)');
  });
});

describe('sync file: where a wrong value is, and what an empty or unsupported one is', () => {
  it('a wrong value names its line, as an unknown key does; a key the entry lacks, the entry\'s line', () => {
    const file = (rest: string) => `defaults:\n  targets: [r.io/m]\nimages:\n  - source: a.io/ok\n    tags: all\n  - source: a.io/x\n${rest}`;
    fails(file('    tags: {regex: "^(v2"}\n'), /^sync\.yaml: images\[1\] \(a\.io\/x\): "tags\.regex" \(line 7\) is not a valid regular expression/);
    fails(file('    tags:\n      semver: ">=2 <<3"\n'), /^sync\.yaml: images\[1\] \(a\.io\/x\): "tags\.semver" \(line 8\) is not a valid semver range/);
    fails(file('    tags:\n      newest: 0\n'), /"tags\.newest" \(line 8\) must be a positive integer/);
    fails(file('    tags: all\n    referrers: "yes"\n'), /"referrers" \(line 8\) must be true or false/);
    fails(file('    tags: all\n    targets:\n      - r.io/a\n      - mirror\n'), /"targets\[1\]" \(line 10\) is not a valid target prefix/);
    fails('defaults:\n  targets:\n    - mirror\nimages:\n  - {source: a.io/x, tags: all}\n', /^sync\.yaml: "defaults\.targets\[0\]" \(line 3\) is not a valid target prefix/);
    // Missing: the entry's own line.
    fails('images:\n  - source: a.io/ok\n    tags: all\n    targets: r.io\n  - source: a.io/x\n    tags: all\n', /^sync\.yaml: images\[1\] \(a\.io\/x\): "targets" \(line 5\) is missing/);
    fails(`images:\n  - source: a.io/ok\n    tags: all\n    targets: r.io\n  - source: a.io/job@${DIGEST}\n`, /"target" \(line 5\) is missing: a source pinned by digest/);
    failsAs('s.json', '{\n  "images": [\n    {"source": "a.io/x", "targets": "r.io",\n     "tags": {"regex": "("}}\n  ]\n}', /"tags\.regex" \(line 4\) is not a valid regular expression/);
  });

  it('`targets: []` is empty, not missing; an empty `defaults.targets` is named where an entry has none', () => {
    fails('images:\n  - {source: a.io/x, tags: all, targets: []}\n', /^sync\.yaml: images\[0\] \(a\.io\/x\): "targets" \(line 2\) is empty: give at least one registry prefix, or a full "target"$/);
    fails('defaults: {targets: []}\nimages:\n  - {source: a.io/x, tags: all}\n', /"targets" \(line 3\) is missing \("defaults\.targets" is empty\): give "targets"/);
  });

  it('JSON types `newest` as written: a string is refused, as a number among the tags is', () => {
    failsAs('s.json', '{"images": [{"source": "a.io/x", "targets": "r.io", "tags": {"newest": "3"}}]}', /"tags\.newest" \(line 1\) must be a number \(got the string "3"; write it without quotes\)$/);
    // YAML reads every number as text (tags: [1.20] is the tag "1.20"): its digit string counts.
    assert.deepEqual(yaml('images:\n  - {source: a.io/x, targets: r.io, tags: {newest: 3}}\n').images[0]!.tags, { kind: 'filter', newest: 3, prerelease: false });
  });

  it('a YAML merge key (`<<: *x`) is said to be one that YAML 1.2 does not have, with what to write instead', () => {
    fails(
      'x-common: &e\n  targets: [r.io/m]\nimages:\n  - source: a.io/x\n    tags: all\n    <<: *e\n',
      /^sync\.yaml: "x-common" \(line 1\) is not a known key/,
    );
    fails(
      'images:\n  - &e\n    source: a.io/x\n    tags: all\n    targets: [r.io/m]\n  - <<: *e\n    source: a.io/y\n',
      /^sync\.yaml: images\[1\] \(a\.io\/y\): "<<" \(line 6\) is a YAML merge key, which YAML 1\.2 does not have and a sync file does not take: write the keys out, or share a value with an anchor \(`targets: \*prod`\); is not a known key/,
    );
  });
});
