// The target rule <prefix>/<source repository path>:<tag>, explicit targets, and copy units.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegpushError } from '../../src/errors.js';
import { formatReference, parseReference } from '../../src/ref/reference.js';
import { parseSyncFile } from '../../src/sync/config.js';
import { formatTargetPrefix, parseTargetPrefix, syncUnits, targetReference, targetRepository } from '../../src/sync/target.js';

const DIGEST = `sha256:${'cd'.repeat(32)}`;
const fmt = (units: ReturnType<typeof syncUnits>) => units.map((u) => ({ source: formatReference(u.source), targets: u.targets.map(formatReference) }));

describe('parseTargetPrefix', () => {
  it('takes a bare registry (with port) or registry/path, canonically spelt', () => {
    assert.deepEqual(parseTargetPrefix('prod.example.com/mirror'), { registry: 'prod.example.com', path: 'mirror' });
    assert.deepEqual(parseTargetPrefix('prod.example.com/a/b/c'), { registry: 'prod.example.com', path: 'a/b/c' });
    assert.deepEqual(parseTargetPrefix('localhost:5000'), { registry: 'localhost:5000', path: '' });
    assert.deepEqual(parseTargetPrefix('localhost'), { registry: 'localhost', path: '' });
    assert.deepEqual(parseTargetPrefix('LOCALHOST/mirror'), { registry: 'localhost', path: 'mirror' }, 'localhost in any case, as in a reference');
    assert.deepEqual(parseTargetPrefix('Registry.Example.com:443/team/'), { registry: 'registry.example.com:443', path: 'team' });
    assert.deepEqual(parseTargetPrefix('index.docker.io/acme'), { registry: 'docker.io', path: 'acme' }, 'Docker Hub spelt one way, and no library/ added');
    assert.deepEqual(parseTargetPrefix('[::1]:5000/m'), { registry: '[::1]:5000', path: 'm' });
    assert.equal(formatTargetPrefix(parseTargetPrefix('localhost:5000')), 'localhost:5000');
    assert.equal(formatTargetPrefix(parseTargetPrefix('r.io/x/y')), 'r.io/x/y');
  });

  it('refuses what is not a prefix, with an E_INPUT saying why', () => {
    const bad = (text: string, why: RegExp) =>
      assert.throws(() => parseTargetPrefix(text), (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && why.test(e.message) && e.message.includes(JSON.stringify(text)));
    bad('', /empty/);
    bad('mirror', /must start with a registry host/);
    bad('acme/mirror', /must start with a registry host \("acme" is not one\)/);
    bad('r.io/m:1', /no tag/);
    bad(`r.io/m@${DIGEST}`, /no digest/);
    bad('r.io//m', /empty path component/);
    bad('r.io/M', /lowercase/);
    bad('https://r.io/m', /no scheme|registry host/);
    bad('r.io:0', /port 0 is out of range/);
    bad('r_x.io/m', /invalid registry host/);
  });

  it('takes a long prefix that a target still fits under (255 characters in all), and refuses one no target fits under, naming no repository of its own making', () => {
    // r.io/ + path: 5 + path characters; the shortest target adds "/x".
    const path = (n: number) => 'a'.repeat(n);
    assert.deepEqual(parseTargetPrefix(`r.io/${path(248)}`), { registry: 'r.io', path: path(248) }, 'r.io/<248>/x is 255: a target fits');
    assert.equal(targetRepository(parseTargetPrefix(`r.io/${path(246)}`), parseReference('r.io/ab:1')), `${path(246)}/ab`, 'and one of 253 characters is made');
    assert.throws(() => parseTargetPrefix(`r.io/${path(249)}`), (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && /longer than 255 characters \(256\)/.test(e.message) && !/probe/.test(e.message));
  });
});

describe('target rule', () => {
  it('puts the whole source repository path under the prefix (the format reference example)', () => {
    const src = parseReference('docker.io/library/nginx:1.27');
    const dest = { kind: 'prefix' as const, prefix: parseTargetPrefix('prod.example.com/mirror') };
    assert.equal(formatReference(targetReference(dest, src, '1.27')), 'prod.example.com/mirror/library/nginx:1.27');
    assert.equal(formatReference(targetReference(dest, parseReference('nginx'), '1.26')), 'prod.example.com/mirror/library/nginx:1.26', 'short Docker Hub names too');
    assert.equal(targetRepository(parseTargetPrefix('localhost:5000'), parseReference('ghcr.io/acme/app')), 'acme/app', 'bare registry: same path');
  });

  it('an explicit target keeps its own tag, or takes the source tag when it has none', () => {
    const src = parseReference('ghcr.io/acme/app');
    assert.equal(formatReference(targetReference({ kind: 'reference', ref: { registry: 'r.io', repository: 'x/app', tag: 'stable' } }, src, '1.0')), 'r.io/x/app:stable');
    assert.equal(formatReference(targetReference({ kind: 'reference', ref: { registry: 'r.io', repository: 'x/app' } }, src, '1.0')), 'r.io/x/app:1.0');
    assert.throws(() => targetReference({ kind: 'reference', ref: { registry: 'r.io', repository: 'x/app' } }, src, undefined), (e: unknown) => e instanceof RegpushError && e.code === 'E_INTERNAL' && e.message === 'no tag for target r.io/x/app');
  });
});

describe('syncUnits', () => {
  const spec = parseSyncFile(`
defaults:
  targets: [prod.example.com/mirror, backup.example.com]
images:
  - source: nginx
    tags: ["1.27", "1.26"]
  - source: registry.example.com/acme/job@${DIGEST}
    target: prod.example.com/acme/job:pinned
  - source: ghcr.io/acme/job:1.4@${DIGEST}
  - source: ghcr.io/acme/api
    tags: all
    target: prod.example.com/services/api
  - source: ghcr.io/acme/web:3.1
    target: prod.example.com/web:stable
`, 'sync.yaml');
  const [nginx, job, pinned, api, web] = spec.images;

  it('one unit per tag, each to every destination', () => {
    assert.deepEqual(fmt(syncUnits(nginx!, ['1.27', '1.26'])), [
      { source: 'docker.io/library/nginx:1.27', targets: ['prod.example.com/mirror/library/nginx:1.27', 'backup.example.com/library/nginx:1.27'] },
      { source: 'docker.io/library/nginx:1.26', targets: ['prod.example.com/mirror/library/nginx:1.26', 'backup.example.com/library/nginx:1.26'] },
    ]);
    assert.deepEqual(syncUnits(nginx!, []), []);
  });

  it('a pinned source is one unit read by digest, whatever tags are passed', () => {
    assert.deepEqual(fmt(syncUnits(job!, [])), [{ source: `registry.example.com/acme/job@${DIGEST}`, targets: ['prod.example.com/acme/job:pinned'] }]);
    assert.deepEqual(fmt(syncUnits(pinned!, ['ignored'])), [
      { source: `ghcr.io/acme/job@${DIGEST}`, targets: ['prod.example.com/mirror/acme/job:1.4', 'backup.example.com/acme/job:1.4'] },
    ]);
  });

  it('explicit targets: a repository keeps each tag; a tagged target renames the one tag', () => {
    assert.deepEqual(fmt(syncUnits(api!, ['2', '1'])), [
      { source: 'ghcr.io/acme/api:2', targets: ['prod.example.com/services/api:2'] },
      { source: 'ghcr.io/acme/api:1', targets: ['prod.example.com/services/api:1'] },
    ]);
    assert.deepEqual(fmt(syncUnits(web!, ['3.1'])), [{ source: 'ghcr.io/acme/web:3.1', targets: ['prod.example.com/web:stable'] }]);
    assert.throws(() => syncUnits(web!, ['3.1', '3.2']), (e: unknown) => e instanceof RegpushError && e.code === 'E_INTERNAL' && e.message === 'images[4] (ghcr.io/acme/web:3.1): a target with a fixed tag cannot take 2 tags');
  });

  it('a tag from the listing that is not a valid tag is refused', () => {
    assert.throws(() => syncUnits(nginx!, ['-bad']), (e: unknown) => e instanceof RegpushError && e.code === 'E_REFERENCE' && e.message.startsWith('invalid tag "-bad" for docker.io/library/nginx: '));
  });
});
