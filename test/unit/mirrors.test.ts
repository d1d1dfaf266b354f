// Registry mirrors: parsing --registry-mirror, registries.conf (v2) and daemon.json into the one
// map; which mirrors a repository gets; the MirroredClient's order, fallback and write routing.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { AbortedError, AuthError, DeniedError, DigestMismatchError, NetworkError, NotFoundError, RegpushError, TlsError, UsageError } from '../../src/errors.js';
import {
  blockedBy,
  checkMirrorMap,
  insecureFromDaemonJson,
  mergeMirrorMaps,
  MirrorConfigError,
  type MirrorMap,
  mirrorsFor,
  mirrorsFromDaemonJson,
  mirrorsFromRegistriesConf,
  parseMirrorFlag,
  parseMirrorLocation,
} from '../../src/registry/mirror-config.js';
import { MIRROR_ANSWER_TIMEOUT_MS, MirroredClient, MirrorHealth, mirrorSendProfile, type MirrorRoute } from '../../src/registry/mirrors.js';
import type { RegistryClient } from '../../src/registry/registry-client.js';
import { mirrorsFromFlags, registryConfigOptions } from '../../src/cli/mirror-flags.js';
import { checkProjectConfig } from '../../src/cli/project-config.js';
import { sha256Digest } from '../../src/image/digest.js';
import { connect } from '../../src/registry/connect.js';
import { transportFor } from '../../src/registry/operation-transport.js';
import { HttpRegistryClient } from '../../src/registry/http-registry-client.js';
import { copy } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const bad = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof MirrorConfigError && e.code === 'E_INPUT' && re.test(e.message));

describe('mirror locations and the flag', () => {
  it('splits host, path and scheme; canonical Docker Hub', () => {
    assert.deepEqual(parseMirrorLocation('mirror.example.com:5000/hub'), { registry: 'mirror.example.com:5000', path: 'hub', plainHttp: false, apiPath: '' });
    assert.deepEqual(parseMirrorLocation('http://10.0.0.5:5000/'), { registry: '10.0.0.5:5000', path: '', plainHttp: true, apiPath: '' });
    assert.deepEqual(parseMirrorLocation('https://mirror.gcr.io/v2/'), { registry: 'mirror.gcr.io', path: '', plainHttp: false, apiPath: '' });
    assert.deepEqual(parseMirrorLocation('index.docker.io'), { registry: 'docker.io', path: '', plainHttp: false, apiPath: '' });
    // A path ending in /v2 is where the API is served (Artifactory's path-based access), not a namespace.
    assert.deepEqual(parseMirrorLocation('https://art.example/artifactory/api/docker/Hub-Remote/v2/'), { registry: 'art.example', path: '', plainHttp: false, apiPath: 'artifactory/api/docker/Hub-Remote' });
    assert.equal(parseMirrorLocation('m.example/a b/v2'), undefined);
    assert.equal(parseMirrorLocation('ftp://x.example'), undefined);
    assert.equal(parseMirrorLocation('m.example/Upper'), undefined);
    assert.equal(parseMirrorLocation('m.example//x'), undefined);
    assert.equal(parseMirrorLocation(''), undefined);
    // A port or address no URL can hold (was E_INTERNAL "Invalid URL" at the first request).
    assert.equal(parseMirrorLocation('127.0.0.1:99999'), undefined);
    assert.equal(parseMirrorLocation('http://300.1.1.1/hub'), undefined);
  });
  it('--registry-mirror REGISTRY=MIRROR, in order, duplicates dropped', () => {
    assert.deepEqual(parseMirrorFlag('Docker.IO=mirror.example.com'), ['docker.io', 'mirror.example.com']);
    assert.deepEqual(mirrorsFromFlags(['docker.io=a.example', 'docker.io=b.example', 'docker.io=a.example', 'r.example:5000/team=http://c.example:80']), {
      'docker.io': ['a.example', 'b.example'],
      'r.example:5000/team': ['http://c.example:80'],
    });
  });
  it('refuses malformed flags with E_USAGE naming the shape', () => {
    for (const v of ['docker.io', '=m.example', 'docker.io=', 'https://docker.io=m.example', 'bad host=m.example']) {
      assert.throws(() => mirrorsFromFlags([v]), (e: unknown) => e instanceof RegpushError && e.code === 'E_USAGE' && /REGISTRY=MIRROR/.test(e.message), v);
    }
  });
  it('a mirror with a scheme a registry is not reached by: E_USAGE naming the scheme, not the form (which is right)', () => {
    assert.throws(
      () => mirrorsFromFlags(['docker.io=ftp://u:secret@m.example']),
      (e: unknown) =>
        e instanceof RegpushError && e.code === 'E_USAGE' &&
        e.message === '--registry-mirror: the mirror\'s scheme "ftp://" is not one a registry is reached by: give https:// (or no scheme), or http:// for plain HTTP (got "docker.io=ftp://***@m.example")',
    );
  });
  it('checks the library option', () => {
    assert.deepEqual(checkMirrorMap({ 'Docker.io/Library': ['m.example'] }), { 'docker.io/library': ['m.example'] });
    bad(() => checkMirrorMap({ 'not a host': ['m'] }), /is not a registry/);
    bad(() => checkMirrorMap({ 'docker.io': 'm.example' as unknown as string[] }), /must have a list of mirrors/);
    bad(() => checkMirrorMap({ 'docker.io': ['bad host'] }), /is not a host/);
  });
});

describe('mirrorsFor', () => {
  const map = mergeMirrorMaps(
    { 'docker.io': ['hub-mirror.example'], 'docker.io/library': ['lib.example/official', 'http://127.0.0.1:5001'] },
    { 'docker.io': ['second.example'] },
  );
  it('takes the longest prefix at a path boundary and maps the repository under it', () => {
    assert.deepEqual(mirrorsFor(map, 'docker.io', 'library/nginx').map((m) => [m.name, m.repo, m.plainHttp]), [
      ['lib.example/official', 'official/nginx', false],
      // The prefix is replaced by the mirror's location (registries.conf(5)): library/ goes with it.
      ['127.0.0.1:5001', 'nginx', true],
    ]);
    assert.deepEqual(mirrorsFor(map, 'index.docker.io', 'acme/web').map((m) => [m.name, m.repo]), [
      ['hub-mirror.example', 'acme/web'],
      ['second.example', 'acme/web'],
    ]);
    // "docker.io/lib" is not a prefix of docker.io/library/…; other registries get nothing.
    assert.deepEqual(mirrorsFor({ 'docker.io/lib': ['x.example'] }, 'docker.io', 'library/nginx'), []);
    assert.deepEqual(mirrorsFor(map, 'ghcr.io', 'acme/web'), []);
  });
});

describe('daemon.json', () => {
  it('registry-mirrors are Docker Hub mirrors; http:// kept for plain HTTP', () => {
    assert.deepEqual(mirrorsFromDaemonJson('{"registry-mirrors": ["https://mirror.gcr.io", "http://10.0.0.5:5000/"], "debug": true}', 'd.json'), {
      'docker.io': ['mirror.gcr.io', 'http://10.0.0.5:5000'],
    });
    // A URL's path is where the mirror serves the API, as dockerd reads it (moby/moby#46594).
    assert.deepEqual(mirrorsFromDaemonJson('{"registry-mirrors": ["http://127.0.0.1:5000/repository/docker-proxy/", "https://m.example/hub/v2/"]}', 'd.json'), {
      'docker.io': ['http://127.0.0.1:5000/repository/docker-proxy/v2', 'm.example/hub/v2'],
    });
    assert.deepEqual(mirrorsFor(mirrorsFromDaemonJson('{"registry-mirrors": ["http://127.0.0.1:5000/repository/docker-proxy"]}', 'd.json'), 'docker.io', 'library/alpine'), [
      { name: '127.0.0.1:5000/repository/docker-proxy/v2', registry: '127.0.0.1:5000', repo: 'library/alpine', plainHttp: true, apiPath: 'repository/docker-proxy' },
    ]);
    assert.deepEqual(mirrorsFromDaemonJson('{}', 'd.json'), {});
    assert.deepEqual(mirrorsFromDaemonJson('{"registry-mirrors": []}', 'd.json'), {});
  });
  it('an entry without a scheme (dockerd refuses to start on it, moby/moby#50233) is read, and warned of once per entry', () => {
    const warned: string[] = [];
    const map = mirrorsFromDaemonJson('{"registry-mirrors": ["m.example:5000", "https://n.example", "http://10.0.0.5"]}', 'd.json', { warn: (m) => warned.push(m) });
    assert.deepEqual(map, { 'docker.io': ['m.example:5000', 'n.example', 'http://10.0.0.5'] });
    assert.deepEqual(warned, [
      'd.json: "registry-mirrors" entry "m.example:5000" has no scheme: dockerd refuses to start on it; write https:// or http:// before it (regpush reads it over HTTPS, a loopback host in whichever protocol its port speaks)',
    ]);
  });
  it('names the file and the mistake', () => {
    bad(() => mirrorsFromDaemonJson('{', 'd.json'), /^d\.json: not valid JSON/);
    bad(() => mirrorsFromDaemonJson('[]', 'd.json'), /must be a JSON object/);
    bad(() => mirrorsFromDaemonJson('{"registry-mirrors": "https://m"}', 'd.json'), /must be a list/);
    bad(() => mirrorsFromDaemonJson('{"registry-mirrors": [3]}', 'd.json'), /entry 3 is not a registry URL/);
  });
});

describe('daemon.json insecure-registries', () => {
  it('hosts and address ranges become insecure-TLS hosts naming daemon.json; a scheme is dropped, as dockerd drops it; other keys ignored', () => {
    assert.deepEqual(insecureFromDaemonJson('{"insecure-registries": ["Reg.Example:5000", "http://lab.local", "10.0.0.0/8", "fd00::/8", "fd00::5"], "debug": true}', 'd.json'), {
      'reg.example:5000': 'insecure-registries in d.json',
      'lab.local': 'insecure-registries in d.json',
      '10.0.0.0/8': 'insecure-registries in d.json',
      'fd00::/8': 'insecure-registries in d.json',
      '[fd00::5]': 'insecure-registries in d.json',
    });
    assert.deepEqual(insecureFromDaemonJson('{"registry-mirrors": ["https://m.example"]}', 'd.json'), {});
    bad(() => insecureFromDaemonJson('{"insecure-registries": "reg.example"}', 'd.json'), /^d\.json: "insecure-registries" must be a list/);
    bad(() => insecureFromDaemonJson('{"insecure-registries": ["10.0.0.0/33"]}', 'd.json'), /entry "10\.0\.0\.0\/33" is not a registry \(host\[:port\]\) or address range/);
    bad(() => insecureFromDaemonJson('{"insecure-registries": ["reg example"]}', 'd.json'), /entry "reg example" is not a registry/);
  });
  it('the CLI passes them on with registries.conf\'s (whose word wins for a host both name)', () => {
    const root = mkdtempSync(join(tmpdir(), 'regpush-daemon-insecure-'));
    try {
      const system = { registriesConf: join(root, 'registries.conf'), daemonJson: join(root, 'daemon.json') };
      writeFileSync(system.daemonJson, '{"insecure-registries": ["reg.example:5000", "both.example", "192.168.0.0/16"]}');
      writeFileSync(system.registriesConf, '[[registry]]\nprefix = "both.example"\ninsecure = true\n');
      const logger = { debug: () => {}, info: () => {}, warn: (m: string) => assert.fail(m) };
      const r = registryConfigOptions([], { HOME: join(root, 'home') }, root, logger, system);
      assert.deepEqual(r.insecure, {
        'reg.example:5000': `insecure-registries in ${system.daemonJson}`,
        'both.example': system.registriesConf,
        '192.168.0.0/16': `insecure-registries in ${system.daemonJson}`,
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('registries.conf', () => {
  const conf = `
# mirrors of Docker Hub's official images
unqualified-search-registries = ["docker.io", 'quay.io',
  ]
short-name-mode = "enforcing"

[[registry]]
prefix = "docker.io/library"
location = "docker.io/library"
  [[registry.mirror]]
  location = "mirror-a.example:5000/hub"   # first
  [[registry.mirror]]
  location = "127.0.0.1:5001"
  insecure = true

[[registry]]
location = "quay.io"
[[registry.mirror]]
location = "quay-mirror.example"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "quay-mirror2.example"

[[registry]]
prefix = "example.com/foo"
location = "internal.example/bar"

[[registry]]
prefix = "*.example.org"
[[registry.mirror]]
location = "wild.example"

[aliases]
"alpine" = "docker.io/library/alpine"
"\\u0061b" = "x"
`;
  it('collects the mirrors of each prefix in order; notes what it does not apply', () => {
    const r = mirrorsFromRegistriesConf(conf, 'registries.conf');
    assert.deepEqual(r.mirrors, {
      'docker.io/library': ['mirror-a.example:5000/hub', '127.0.0.1:5001'],
      'quay.io': ['quay-mirror2.example'],
      'example.com/foo': [],
    });
    // insecure = true: TLS without verification, else plain HTTP (not "plain HTTP only").
    assert.deepEqual(r.insecure, { '127.0.0.1:5001': 'registries.conf' });
    assert.deepEqual(r.blocked, { 'docker.io/library': false, 'quay.io': false, 'example.com/foo': false });
    assert.equal(r.notes.length, 3);
    assert.match(r.notes[0]!, /pull-from-mirror = "digest-only" is not supported; mirror quay-mirror\.example is not used/);
    assert.match(r.notes[1]!, /location internal\.example\/bar differs from prefix example\.com\/foo/);
    assert.match(r.notes[2]!, /wildcard prefix \*\.example\.org is not supported/);
  });
  it('the longest prefix decides alone: one without mirrors (or mirror-by-digest-only) keeps its images off a shorter prefix\'s mirror', () => {
    const text = [
      '[[registry]]', 'prefix = "docker.io"', '[[registry.mirror]]', 'location = "hub-mirror.example"',
      '[[registry]]', 'prefix = "docker.io/acme"',
      '[[registry]]', 'prefix = "docker.io/pinned"', 'mirror-by-digest-only = true', '[[registry.mirror]]', 'location = "digest-mirror.example"',
      '[[registry]]', 'prefix = "docker.io/blocked"', 'blocked = true',
      '',
    ].join('\n');
    const r = mirrorsFromRegistriesConf(text, 'r.conf');
    assert.deepEqual(mirrorsFor(r.mirrors, 'docker.io', 'library/nginx').map((m) => m.registry), ['hub-mirror.example']);
    assert.deepEqual(mirrorsFor(r.mirrors, 'docker.io', 'acme/app'), [], 'an entry without mirrors: the registry itself');
    assert.deepEqual(mirrorsFor(r.mirrors, 'docker.io', 'pinned/app'), [], 'digest-only mirrors: not trusted with tags, so not used');
    assert.ok(r.notes.some((n) => /mirror-by-digest-only = true: .* docker\.io\/pinned is read from the registry itself/.test(n)), r.notes.join('\n'));
    assert.ok(!r.notes.some((n) => /blocked/.test(n)), r.notes.join('\n'));
    assert.deepEqual(blockedBy(r.blocked, 'docker.io', 'blocked/app'), { prefix: 'docker.io/blocked', source: 'r.conf' });
    assert.deepEqual(blockedBy(r.blocked, 'index.docker.io', 'blocked'), { prefix: 'docker.io/blocked', source: 'r.conf' }, 'the prefix itself, any spelling of the registry');
    assert.equal(blockedBy(r.blocked, 'docker.io', 'blockedx/app'), undefined, 'at a path boundary only');
    assert.equal(blockedBy(r.blocked, 'docker.io', 'library/nginx'), undefined);
    bad(() => mirrorsFromRegistriesConf('[[registry]]\nprefix = "q.example"\nblocked = "yes"\n', 'r.conf'), /blocked must be true or false/);
    bad(() => mirrorsFromRegistriesConf('[[registry]]\nprefix = "q.example"\nmirror-by-digest-only = 1\n', 'r.conf'), /mirror-by-digest-only must be true or false/);
  });
  it('blocked = true: the longest matching prefix decides, so an entry under a blocked registry can let names through', () => {
    const r = mirrorsFromRegistriesConf(['[[registry]]', 'prefix = "docker.io"', 'blocked = true', '[[registry]]', 'prefix = "docker.io/library"', '[[registry]]', 'location = "quay.io"', 'blocked = false', ''].join('\n'), '/etc/r.conf');
    assert.deepEqual(blockedBy(r.blocked, 'docker.io', 'acme/app'), { prefix: 'docker.io', source: '/etc/r.conf' });
    assert.equal(blockedBy(r.blocked, 'docker.io', 'library/nginx'), undefined, 'docker.io/library is the longer entry and does not block');
    assert.equal(blockedBy(r.blocked, 'quay.io', 'a/b'), undefined);
    assert.equal(blockedBy(undefined, 'docker.io', 'acme/app'), undefined);
  });
  it('insecure = true on a [[registry]]: applied to a whole registry, noted (not applied) for a namespace', () => {
    const r = mirrorsFromRegistriesConf(['[[registry]]', 'location = "reg.example:5000"', 'insecure = true', '[[registry]]', 'prefix = "other.example/team"', 'insecure = true', ''].join('\n'), 'r.conf');
    assert.deepEqual(r.insecure, { 'reg.example:5000': 'r.conf' });
    assert.ok(r.notes.some((n) => /insecure = true for the namespace other\.example\/team is not applied/.test(n)), r.notes.join('\n'));
    bad(() => mirrorsFromRegistriesConf('[[registry]]\nprefix = "q.example"\ninsecure = 1\n', 'r.conf'), /\[\[registry\]\] #1: insecure must be true or false/);
  });
  it('a file with no [[registry]] has no mirrors (the Debian default)', () => {
    assert.deepEqual(mirrorsFromRegistriesConf('# nothing\n[aliases]\n  "a" = "docker.io/library/a"\n', 'r.conf'), { mirrors: {}, notes: [], blocked: {}, insecure: {}, unapplied: [] });
  });
  it('names the file, the line or the table of a mistake', () => {
    bad(() => mirrorsFromRegistriesConf('[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\ninsecure = true\n', 'r.conf'), /r\.conf: \[\[registry\]\] #1 mirror #1 has no location/);
    bad(() => mirrorsFromRegistriesConf('[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\nlocation = "https://m.example"\n', 'r.conf'), /location "https:\/\/m\.example" is not a host/);
    bad(() => mirrorsFromRegistriesConf('[[registry]]\n[[registry.mirror]]\nlocation = "m.example"\n', 'r.conf'), /#1 has neither prefix nor location/);
    bad(() => mirrorsFromRegistriesConf('[[registry]]\nprefix = 3\n', 'r.conf'), /prefix must be a string/);
    bad(() => mirrorsFromRegistriesConf('[[registry]]\nlocation = "q.example"\n[[registry.mirror]]\nlocation = "m.example"\ninsecure = "yes"\n', 'r.conf'), /insecure must be true or false/);
    bad(() => mirrorsFromRegistriesConf('registry = "x"\n', 'r.conf'), /"registry" must be an array of tables/);
    bad(() => mirrorsFromRegistriesConf('[[registry]]\nlocation = "q.example"\nmirror = [1]\n', 'r.conf'), /mirror #1 is not a table/);
  });
  it('mirrors written as inline tables are read as [[registry.mirror]] tables are', () => {
    const r = mirrorsFromRegistriesConf('[[registry]]\nprefix = "docker.io"\nmirror = [ { location = "m1.example" }, { location = "m2.example:5000", insecure = true } ]\n', 'r.conf');
    assert.deepEqual(r.mirrors, { 'docker.io': ['m1.example', 'm2.example:5000'] });
    assert.deepEqual(r.insecure, { 'm2.example:5000': 'r.conf' });
  });
  it('a prefix naming one tag or digest: blocked = true blocks its whole repository (never less than asked); its other settings are not used', () => {
    const r = mirrorsFromRegistriesConf(['[[registry]]', 'prefix = "docker.io/library/busybox:1.36"', 'blocked = true', '[[registry]]', 'prefix = "docker.io/library/busybox"', '[[registry]]', `prefix = "quay.io/a/b@sha256:${'a'.repeat(64)}"`, '[[registry.mirror]]', 'location = "m.example"', ''].join('\n'), 'r.conf');
    assert.deepEqual(blockedBy(r.blocked, 'docker.io', 'library/busybox'), { prefix: 'docker.io/library/busybox', source: 'r.conf' }, 'not undone by the entry for the repository');
    assert.deepEqual(r.mirrors, { 'docker.io/library/busybox': [] });
    assert.equal(r.notes.length, 2);
    assert.match(r.notes[0]!, /prefix docker\.io\/library\/busybox:1\.36 names one tag or digest; regpush blocks by repository, so all of docker\.io\/library\/busybox is blocked/);
    assert.match(r.notes[1]!, /prefix quay\.io\/a\/b@sha256:a+ names one tag or digest, which regpush does not match on; its settings are not used/);
  });
  it('the version 1 format: [registries.block] blocks, [registries.insecure] is insecure; mixed with [[registry]] it is refused', () => {
    const r = mirrorsFromRegistriesConf('[registries.search]\nregistries = ["docker.io"]\n[registries.insecure]\nregistries = ["reg.example:5000", "other.example/team"]\n[registries.block]\nregistries = ["blocked.example", "docker.io/evil"]\n', 'r.conf');
    assert.deepEqual(r.blocked, { 'blocked.example': 'r.conf', 'docker.io/evil': 'r.conf' });
    // Quoted as the file says it (it has no `insecure = true`), for the warning.
    assert.deepEqual(r.insecure, { 'reg.example:5000': '[registries.insecure] in r.conf' });
    assert.deepEqual(r.mirrors, {});
    assert.match(r.notes[0]!, /\[registries\.insecure\] other\.example\/team is a namespace, not applied/);
    assert.deepEqual(blockedBy(r.blocked, 'blocked.example', 'x'), { prefix: 'blocked.example', source: 'r.conf' });
    bad(() => mirrorsFromRegistriesConf('[registries.block]\nregistries = ["a.example"]\n[[registry]]\nprefix = "b.example"\n', 'r.conf'), /mixes the version 1 format/);
    bad(() => mirrorsFromRegistriesConf('[registries.block]\nregistries = "a.example"\n', 'r.conf'), /\[registries\.block\]: registries must be an array of strings/);
  });
  it('a registries.conf at a default path that cannot be read: set aside with a warning, unless it blocks registries (then E_INPUT, before any request)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'regpush-regconf-'));
    try {
      const file = join(home, '.config/containers/registries.conf');
      mkdirSync(dirname(file), { recursive: true });
      const warned: string[] = [];
      const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warned.push(m) };
      writeFileSync(join(home, 'daemon.json'), '{}');
      writeFileSync(file, '[[registry]]\nprefix = "m.example"\ntimeout = 1.5\n');
      assert.deepEqual(registryConfigOptions([], { HOME: home, REGPUSH_DOCKER_DAEMON_JSON: join(home, 'daemon.json') }, home, logger).blocked, {});
      // Neither variable is set here: the warning must not read as if one were.
      assert.ok(warned[0]!.endsWith('; none of its settings are used (fix it, or set CONTAINERS_REGISTRIES_CONF to read another file instead)'), warned[0]);
      for (const text of ['[[registry]]\nprefix = "m.example"\nblocked = true\ntimeout = 1.5\n', '[registries.block]\nregistries = ["m.example"]\nx = 1.5\n']) {
        writeFileSync(file, text);
        assert.throws(
          () => registryConfigOptions([], { HOME: home, REGPUSH_DOCKER_DAEMON_JSON: join(home, 'daemon.json') }, home, logger),
          (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && /it blocks registries, so regpush does not go on without it/.test(e.message),
          text,
        );
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('an unreadable default registries.conf', () => {
  it('stops the run with E_INPUT naming the file (it may block registries), as containers/image fails; a named one says the variable', () => {
    const home = mkdtempSync(join(tmpdir(), 'regpush-regconf-'));
    try {
      // A directory where the file should be: there, and unreadable as a file (EISDIR) even for root, as EACCES is for a user.
      const file = join(home, '.config/containers/registries.conf');
      mkdirSync(file, { recursive: true });
      const warned: string[] = [];
      const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warned.push(m) };
      writeFileSync(join(home, 'daemon.json'), '{}');
      assert.throws(
        () => registryConfigOptions([], { HOME: home, REGPUSH_DOCKER_DAEMON_JSON: join(home, 'daemon.json') }, home, logger),
        (e: unknown) =>
          e instanceof RegpushError && e.code === 'E_INPUT' && e.exitCode === 2 && e.details.file === file &&
          e.message === `cannot read ${file} (EISDIR); regpush does not go on without it, since it may block registries (make it readable, or name another file in CONTAINERS_REGISTRIES_CONF)`,
      );
      assert.throws(
        () => registryConfigOptions([], { HOME: home, REGISTRIES_CONFIG_PATH: file, REGPUSH_DOCKER_DAEMON_JSON: join(home, 'daemon.json') }, home, logger),
        (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && e.message === `REGISTRIES_CONFIG_PATH=${file}: cannot read it (EISDIR)`,
      );
      assert.deepEqual(warned, []);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('the variables naming registries.conf', () => {
  it('CONTAINERS_REGISTRIES_CONF (podman\'s) is read, and wins over REGISTRIES_CONFIG_PATH; a missing file it names stops the run naming it', () => {
    const root = mkdtempSync(join(tmpdir(), 'regpush-regconf-env-'));
    try {
      const system = { registriesConf: join(root, 'none.conf'), daemonJson: join(root, 'none.json') };
      const blocking = join(root, 'blocking.conf');
      const other = join(root, 'other.conf');
      writeFileSync(blocking, '[[registry]]\nprefix = "docker.io/acme"\nblocked = true\n');
      writeFileSync(other, '[[registry]]\nprefix = "other.example"\n');
      const logger = { debug: () => {}, info: () => {}, warn: () => {} };
      const env = { HOME: join(root, 'home') };
      // Its blocked = true is enforced (blockedBy is what every operation asks).
      const r = registryConfigOptions([], { ...env, CONTAINERS_REGISTRIES_CONF: blocking }, root, logger, system);
      assert.deepEqual(blockedBy(r.blocked, 'docker.io', 'acme/app'), { prefix: 'docker.io/acme', source: blocking });
      // Both set: CONTAINERS_REGISTRIES_CONF's file is the one read.
      const warned: string[] = [];
      const both = registryConfigOptions([], { ...env, CONTAINERS_REGISTRIES_CONF: blocking, REGISTRIES_CONFIG_PATH: other }, root, { ...logger, warn: (m: string) => warned.push(m) }, system);
      assert.deepEqual(both.blocked, { 'docker.io/acme': blocking });
      // …and the file left unread is named: it may block prefixes the user counts on.
      assert.deepEqual(warned, [`REGISTRIES_CONFIG_PATH=${other} is not read: CONTAINERS_REGISTRIES_CONF names the registries.conf in effect`]);
      // Set but empty, it is not set: REGISTRIES_CONFIG_PATH is read.
      assert.deepEqual(registryConfigOptions([], { ...env, CONTAINERS_REGISTRIES_CONF: ' ', REGISTRIES_CONFIG_PATH: other }, root, logger, system).blocked, { 'other.example': false });
      const missing = join(root, 'missing.conf');
      assert.throws(
        () => registryConfigOptions([], { ...env, CONTAINERS_REGISTRIES_CONF: missing, REGISTRIES_CONFIG_PATH: other }, root, logger, system),
        (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && e.message === `CONTAINERS_REGISTRIES_CONF=${missing}: cannot read it (no such file)`,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('registries.conf settings not applied, in a file found at a default path', () => {
  it('are debug lines until a read falls under their entry: then one warning each, once; reads elsewhere stay quiet', () => {
    const root = mkdtempSync(join(tmpdir(), 'regpush-regconf-unapplied-'));
    try {
      const system = { registriesConf: join(root, 'registries.conf'), daemonJson: join(root, 'none.json') };
      writeFileSync(system.registriesConf, [
        '[[registry]]\nprefix = "docker.io"\nlocation = "hub.corp.example"\n',
        '[[registry]]\nprefix = "quay.io/team"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m.example"\n',
        '[[registry]]\nprefix = "*.corp.example"\ninsecure = true\n',
      ].join('\n'));
      const warned: string[] = [];
      const debugged: string[] = [];
      const logger = { debug: (m: string) => debugged.push(m), info: () => {}, warn: (m: string) => warned.push(m) };
      const r = registryConfigOptions([], { HOME: join(root, 'home') }, root, logger, system);
      assert.deepEqual(warned, []);
      assert.equal(debugged.filter((m) => m.startsWith(system.registriesConf)).length, 3, debugged.join('\n'));
      assert.ok(r.onRead, 'a reader hook for the library');
      r.onRead('ghcr.io', 'acme/app');
      r.onRead('quay.io', 'teamx/app');
      assert.deepEqual(warned, [], 'reads under no such entry are quiet');
      r.onRead('docker.io', 'library/nginx');
      r.onRead('docker.io', 'library/alpine');
      assert.deepEqual(warned, [`${system.registriesConf}: [[registry]] #1: location hub.corp.example differs from prefix docker.io; regpush does not rewrite registries, so docker.io is read as named (this run reads docker.io/library/nginx)`]);
      r.onRead('quay.io', 'team/app');
      assert.match(warned[1]!, /#2: mirror-by-digest-only = true: .* \(this run reads quay\.io\/team\/app\)$/);
      r.onRead('reg.corp.example:5000', 'app');
      assert.match(warned[2]!, /#3: wildcard prefix \*\.corp\.example is not supported; .* \(this run reads reg\.corp\.example:5000\/app\)$/);
      assert.equal(warned.length, 3);
      // Named in the environment, the notes are warnings at once, and no hook is needed.
      warned.length = 0;
      const named = registryConfigOptions([], { HOME: join(root, 'home'), CONTAINERS_REGISTRIES_CONF: system.registriesConf }, root, logger, system);
      assert.equal(warned.length, 3, warned.join('\n'));
      assert.equal(named.onRead, undefined);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('a default daemon.json that cannot be used', () => {
  it('is set aside with one warning naming it (it gives mirrors, insecure registries and proxies): unreadable, or not JSON; the other mirrors are kept', () => {
    const root = mkdtempSync(join(tmpdir(), 'regpush-daemon-json-'));
    try {
      // The system's files, named here: the real /etc/docker/daemon.json belongs to root.
      const system = { registriesConf: join(root, 'registries.conf'), daemonJson: join(root, 'daemon.json') };
      const env = { HOME: join(root, 'home') };
      const flags = ['docker.io=flag-mirror.example'];
      const warned: string[] = [];
      const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warned.push(m) };
      // A directory where the file should be: there, and unreadable as a file (EISDIR) even for root, as EACCES is for a user.
      mkdirSync(system.daemonJson);
      const r = registryConfigOptions(flags, env, root, logger, system);
      assert.deepEqual(r.mirrors, { 'docker.io': ['flag-mirror.example'] });
      assert.deepEqual(warned, [`cannot read ${system.daemonJson} (EISDIR); its registry-mirrors, insecure-registries and proxies are not used (make it readable, or set REGPUSH_DOCKER_DAEMON_JSON to read another file instead)`]);
      rmSync(system.daemonJson, { recursive: true });
      writeFileSync(system.daemonJson, '{ "registry-mirrors": [');
      warned.length = 0;
      assert.deepEqual(registryConfigOptions(flags, env, root, logger, system).mirrors, { 'docker.io': ['flag-mirror.example'] });
      assert.equal(warned.length, 1, warned.join('\n'));
      assert.ok(warned[0]!.includes(system.daemonJson) && warned[0]!.endsWith('; its registry-mirrors, insecure-registries and proxies are not used (fix it, or set REGPUSH_DOCKER_DAEMON_JSON to read another file instead)'), warned[0]);
      // Named in the environment, the same file stops the run.
      assert.throws(() => registryConfigOptions(flags, { ...env, REGPUSH_DOCKER_DAEMON_JSON: system.daemonJson }, root, logger, system), (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && e.message.startsWith(`${system.daemonJson}: not valid JSON (`));
      // A readable one adds its Docker Hub mirrors after the flags'.
      writeFileSync(system.daemonJson, '{ "registry-mirrors": ["https://daemon-mirror.example"] }');
      assert.deepEqual(registryConfigOptions(flags, env, root, logger, system).mirrors['docker.io'], ['flag-mirror.example', 'daemon-mirror.example']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('daemon.json proxies', () => {
  /** registryConfigOptions over `daemonJson` (an object, written out) and `env`, with what it warned and said at --debug. */
  function readWith(daemonJson: unknown, env: Record<string, string> = {}) {
    const root = mkdtempSync(join(tmpdir(), 'regpush-daemon-proxies-'));
    try {
      const system = { registriesConf: join(root, 'none.conf'), daemonJson: join(root, 'daemon.json') };
      writeFileSync(system.daemonJson, typeof daemonJson === 'string' ? daemonJson : JSON.stringify(daemonJson));
      const warned: string[] = [];
      const debugged: string[] = [];
      const logger = { debug: (m: string) => debugged.push(m), info: () => {}, warn: (m: string) => warned.push(m) };
      try {
        const r = registryConfigOptions([], { HOME: join(root, 'home'), ...env }, root, logger, system);
        return { r, warned, debugged, file: system.daemonJson };
      } catch (err) {
        return { err, warned, debugged, file: system.daemonJson };
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  const proxies = { 'https-proxy': 'http://bob:pr0xy-s3cret@proxy.corp:3128', 'http-proxy': 'proxy.corp:3128', 'no-proxy': '.corp' };

  it('are the run\'s proxies when no variable is set: each proxy (http:// added where it has no scheme) with the file\'s no-proxy, said at --debug without the password', () => {
    const { r, warned, debugged, file } = readWith({ 'registry-mirrors': ['https://daemon-mirror.example'], proxies });
    assert.deepEqual(r?.mirrors['docker.io'], ['daemon-mirror.example'], 'the rest of the file is read as before');
    // Before: not applied ("is not applied" warning), and the run went direct where `docker pull` goes through the proxy.
    assert.deepEqual(r?.proxy, { httpsProxy: 'http://bob:pr0xy-s3cret@proxy.corp:3128', httpProxy: 'http://proxy.corp:3128', noProxy: '.corp', file });
    assert.deepEqual(warned, []);
    assert.ok(debugged.includes(`proxies from "proxies" in ${file}: https http://***@proxy.corp:3128, http http://proxy.corp:3128, no proxy for ".corp"`), debugged.join('\n'));
    assert.doesNotMatch([...warned, ...debugged].join('\n'), /pr0xy-s3cret|bob/);
  });

  it('win over the proxy variables, as dockerd\'s configuration wins over its environment, taking the file\'s no-proxy with them: never the environment\'s NO_PROXY', () => {
    for (const env of [{ HTTPS_PROXY: 'http://env-proxy:8080' }, { https_proxy: 'http://env-proxy:8080', NO_PROXY: '*' }, { no_proxy: 'reg.corp' }] as Record<string, string>[]) {
      const { r, warned, file } = readWith({ proxies }, env);
      assert.equal(r?.proxy.file, file, JSON.stringify(env));
      assert.equal(r?.proxy.noProxy, '.corp', `the environment's NO_PROXY is not paired with the file's proxy: ${JSON.stringify(env)}`);
      assert.equal(r?.proxy.httpsProxy, proxies['https-proxy']);
      const named = Object.keys(env).map((k) => k.toUpperCase()).sort((x, y) => ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY'].indexOf(x) - ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY'].indexOf(y));
      assert.deepEqual(warned, [`${file}: "proxies" is applied, not ${named.join(', ')} of this run's environment: as dockerd, regpush lets daemon.json's proxies win over the variables, and takes its no-proxy with them (to use the variables, remove "proxies" from the file or set REGPUSH_DOCKER_DAEMON_JSON to another file)`]);
    }
    // A file with one proxy: the other scheme goes direct, not through the environment's proxy for it.
    const one = readWith({ proxies: { 'https-proxy': 'http://file-proxy:3128' } }, { HTTP_PROXY: 'http://env-proxy:8080', NO_PROXY: 'x.example' });
    assert.deepEqual(one.r?.proxy, { httpsProxy: 'http://file-proxy:3128', file: one.file });
    // The same settings in both: nothing to warn of.
    const same = readWith({ proxies: { 'https-proxy': 'http://p:1', 'no-proxy': 'a' } }, { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'a' });
    assert.deepEqual(same.warned, []);
  });

  it('a file whose proxies give no-proxy alone gives no proxy: the environment\'s proxies stand with their own NO_PROXY, and the file\'s no-proxy is said to be set aside', () => {
    const withEnv = readWith({ proxies: { 'no-proxy': '.corp' } }, { HTTPS_PROXY: 'http://env-proxy:8080', NO_PROXY: 'env.example' });
    assert.deepEqual(withEnv.r?.proxy, { httpsProxy: 'http://env-proxy:8080', httpProxy: undefined, noProxy: 'env.example', httpsProxyVariable: 'HTTPS_PROXY' });
    assert.deepEqual(withEnv.warned, [`proxies.no-proxy in ${withEnv.file}: not applied, since the file gives no proxy for it to go with; the proxy of this run is its environment's, with that environment's NO_PROXY`]);
    const alone = readWith({ proxies: { 'no-proxy': '.corp' } });
    assert.deepEqual(alone.r?.proxy, { httpProxy: undefined, httpsProxy: undefined, noProxy: undefined });
    assert.deepEqual(alone.warned, []);
    // No proxies, an empty object, empty values: the environment's, nothing said.
    for (const text of ['{}', '{"proxies": null}', '{"proxies": {}}', '{"proxies": {"https-proxy": "", "http-proxy": " ", "no-proxy": null}}']) {
      const r = readWith(text, { HTTPS_PROXY: 'http://env-proxy:8080' });
      assert.equal(r.r?.proxy.httpsProxy, 'http://env-proxy:8080', text);
      assert.equal(r.r?.proxy.file, undefined, text);
      assert.deepEqual(r.warned, [], text);
    }
  });

  it('a value regpush cannot use is E_INPUT naming the file and the key, never the password, even in a file nobody named', () => {
    const cases: [unknown, string][] = [
      [{ proxies: { 'https-proxy': 'socks5://bob:pr0xy-s3cret@proxy.corp:1080' } }, 'proxies.https-proxy in FILE: the proxy socks5://***@proxy.corp:1080 is not an HTTP proxy (socks5 scheme); regpush speaks to HTTP proxies only (http:// or https://)'],
      [{ proxies: { 'http-proxy': 'http://bob:pr0xy-s3cret@proxy.corp:99999' } }, 'proxies.http-proxy in FILE: http://***@proxy.corp:99999 is not a valid proxy URL; give it as http://[USER:PASSWORD@]HOST:PORT'],
      [{ proxies: { 'https-proxy': 'http://bob:pr0xy/s3cret@proxy.corp:3128' } }, 'proxies.https-proxy in FILE: the password in http://***@proxy.corp:3128 must be percent-encoded: a \'/\', \'?\', \'#\', \'\\\' or \'%\' in it is read as part of the URL (write them %2F, %3F, %23, %5C, %25)'],
      [{ proxies: { 'https-proxy': 3128 } }, 'proxies.https-proxy in FILE: must be a string'],
      [{ proxies: { 'no-proxy': ['.corp'] } }, 'proxies.no-proxy in FILE: must be a string'],
      [{ proxies: 'http://proxy.corp:3128' }, 'FILE: "proxies" must be an object (http-proxy, https-proxy, no-proxy)'],
    ];
    for (const [json, want] of cases) {
      const { err, file } = readWith(json);
      assert.ok(err instanceof RegpushError && err.code === 'E_INPUT', `${JSON.stringify(json)}: ${String(err)}`);
      assert.equal(err.message, want.replace('FILE', file));
      assert.doesNotMatch(err.message, /s3cret|bob/);
    }
  });
});

describe('regpush.json mirrors', () => {
  it('become --registry-mirror values; bad ones name the key', () => {
    assert.deepEqual(checkProjectConfig({ mirrors: { 'docker.io': ['a.example', 'b.example'], 'r.example:5000': 'c.example' } }, 'regpush.json', '/p'), {
      'registry-mirror': ['docker.io=a.example', 'docker.io=b.example', 'r.example:5000=c.example'],
    });
    for (const v of [['x'], { 'docker.io': [3] }, { 'bad host': ['m.example'] }]) {
      assert.throws(() => checkProjectConfig({ mirrors: v }, 'regpush.json', '/p'), (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && /regpush\.json: "mirrors"/.test(e.message));
    }
  });
});

/** An in-memory registry: manifests and blobs by repo, every call recorded. */
class MemoryClient implements RegistryClient {
  readonly calls: string[] = [];
  readonly logger = { debug() {}, info() {}, warn() {} };
  constructor(
    readonly registry: string,
    private readonly content: Map<string, Buffer>,
    /** The error a read of `key` ("repo:reference") fails with, if any. */
    private readonly fail?: (key: string) => Error | undefined,
  ) {}
  private get(what: string, key: string): Buffer {
    this.calls.push(what);
    const failure = this.fail?.(key);
    if (failure) throw failure;
    const b = this.content.get(key);
    if (!b) throw new NotFoundError(`${key} not found at ${this.registry}`, { details: { status: 404 } });
    return b;
  }
  async ready() {}
  async ping() {
    this.calls.push('ping');
  }
  async headManifest(repo: string, ref: string) {
    try {
      const b = this.get(`HEAD ${repo}:${ref}`, `${repo}:${ref}`);
      return { digest: sha256Digest(b), size: b.length };
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }
  async getManifest(repo: string, ref: string) {
    const b = this.get(`GET ${repo}:${ref}`, `${repo}:${ref}`);
    const digest = sha256Digest(b);
    if (ref.startsWith('sha256:') && ref !== digest) throw new DigestMismatchError(`manifest ${repo}@${ref} has digest ${digest}`);
    return { bytes: b, mediaType: 'application/vnd.oci.image.manifest.v1+json', digest };
  }
  async headBlob(repo: string, digest: string) {
    try {
      return this.get(`HEAD blob ${repo}`, `${repo}:${digest}`).length;
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }
  async getBlob(repo: string, digest: string) {
    const b = this.get(`GET blob ${repo}`, `${repo}:${digest}`);
    return { body: Readable.from([b]), size: b.length, partial: false };
  }
  async getBlobBytes(repo: string, digest: string) {
    return this.get(`GET blob ${repo}`, `${repo}:${digest}`);
  }
  async listTags(repo: string) {
    this.calls.push(`tags ${repo}`);
    return ['t'];
  }
  async listRepositories() {
    this.calls.push('catalog');
    return ['r'];
  }
  async referrers() {
    this.calls.push('referrers');
    return undefined;
  }
  async putManifest(repo: string, ref: string) {
    this.calls.push(`PUT ${repo}:${ref}`);
    return 'sha256:x';
  }
  async deleteManifest(repo: string) {
    this.calls.push(`DELETE ${repo}`);
  }
  async deleteTag(repo: string, tag: string) {
    this.calls.push(`DELETE ${repo}:${tag}`);
  }
  async mountBlob(repo: string) {
    this.calls.push(`mount ${repo}`);
    return { mounted: true as const };
  }
  async startUpload(repo: string) {
    this.calls.push(`POST ${repo}`);
    return { url: 'u' };
  }
  async putUpload() {
    this.calls.push('PUT upload');
    return true;
  }
  async patchUpload() {
    this.calls.push('PATCH');
    return 'u';
  }
  async completeUpload() {
    this.calls.push('complete');
    return true;
  }
  async cancelUpload() {
    this.calls.push('cancel');
    return true;
  }
}

describe('MirroredClient', () => {
  const manifest = Buffer.from('{"schemaVersion":2}');
  const digest = sha256Digest(manifest);
  const other = Buffer.from('{"schemaVersion":2,"evil":true}');
  function setup(mirrorContent: Map<string, Buffer>[], fail: (((key: string) => Error | undefined) | undefined)[] = []) {
    const upstream = new MemoryClient('up.example', new Map([['app:1', manifest], [`app:${digest}`, manifest], ['app:sha256:b', Buffer.from('blob')], ['other:1', manifest]]));
    const mirrors = mirrorContent.map((c, i) => new MemoryClient(`m${i}.example`, c, fail[i]));
    const lines: string[] = [];
    const logger = { debug: () => {}, info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`) };
    Object.assign(upstream, { logger });
    const routes = (repo: string): MirrorRoute[] => mirrors.map((c, i) => ({ name: `m${i}.example/ns`, registry: c.registry, repo: `ns/${repo}`, plainHttp: false, client: c }));
    return { upstream, mirrors, lines, client: new MirroredClient(upstream, routes, new MirrorHealth()) };
  }

  it('reads from the first mirror that has the content, names the mirror for a tag, writes upstream only', async () => {
    const { upstream, mirrors, lines, client } = setup([new Map(), new Map([['ns/app:1', manifest], ['ns/app:sha256:b', Buffer.from('blob')]])]);
    const m = await client.getManifest('app', '1');
    assert.equal(m.digest, digest);
    assert.equal(m.mirror, 'm1.example/ns');
    assert.deepEqual(mirrors[0]!.calls, ['GET ns/app:1']);
    assert.deepEqual(upstream.calls, []);
    assert.ok(lines.some((l) => l === `info up.example/app:1 resolved through mirror m1.example/ns to ${digest}`), lines.join('\n'));
    assert.equal((await client.headManifest('app', '1'))?.mirror, 'm1.example/ns');
    assert.equal(await client.headBlob('app', 'sha256:b'), 4);
    assert.equal((await client.getBlob('app', 'sha256:b')).mirror, 'm1.example/ns');
    await client.putManifest('app', '2', manifest, 'x');
    await client.startUpload('app');
    await client.mountBlob('app', 'sha256:b', 'base');
    await client.deleteManifest('app', digest);
    await client.deleteTag('app', '2');
    assert.deepEqual(await client.listTags('app'), ['t']);
    // Lists (tags, referrers) from the upstream: a cache lists only what it has cached.
    assert.equal(await client.referrers('app', digest), undefined);
    assert.deepEqual(upstream.calls, ['PUT app:2', 'POST app', 'mount app', 'DELETE app', 'DELETE app:2', 'tags app', 'referrers']);
    assert.ok(!mirrors.some((c) => c.calls.some((x) => /PUT|POST|mount|DELETE|tags|referrers/.test(x))));
  });

  it('a mirror answering a tag with a page that is not JSON (a proxy\'s or portal\'s HTML): warned, not used again, the upstream read', async () => {
    const { upstream, lines, client } = setup([new Map([['ns/app:1', Buffer.from('<html><body>Sign in to the network</body></html>')]])]);
    const m = await client.getManifest('app', '1');
    assert.equal(m.mirror, undefined);
    assert.equal(m.digest, digest);
    assert.deepEqual(upstream.calls, ['GET app:1']);
    assert.ok(lines.some((l) => /^warn mirror m0\.example\/ns failed \(E_PROTOCOL: mirror answered manifest 1 with something that is not a manifest/.test(l)), lines.join('\n'));
    await client.getManifest('app', '1');
    assert.deepEqual(upstream.calls, ['GET app:1', 'GET app:1'], 'the mirror is not asked again');
  });

  it('falls back to the upstream when no mirror has it, without a warning', async () => {
    const { upstream, lines, client } = setup([new Map()]);
    const m = await client.getManifest('app', '1');
    assert.equal(m.mirror, undefined);
    assert.deepEqual(upstream.calls, ['GET app:1']);
    assert.deepEqual(lines, []);
  });

  it('every mirror missing (404), then the upstream unreachable: the error names what the mirrors said too; other upstream errors are left as they are', async () => {
    const mirrors = [new MemoryClient('m0.example', new Map()), new MemoryClient('m1.example', new Map())];
    const routes = (repo: string): MirrorRoute[] => mirrors.map((c, i) => ({ name: `m${i}.example/ns`, registry: c.registry, repo: `ns/${repo}`, plainHttp: false, client: c }));
    const failing = (err: () => Error) => new MirroredClient(new MemoryClient('up.example', new Map(), err), routes, new MirrorHealth());
    await assert.rejects(
      failing(() => new NetworkError('cannot reach up.example (ECONNREFUSED)')).getManifest('app', '1'),
      (e: unknown) => e instanceof NetworkError && e.code === 'E_NETWORK' && e.message === 'cannot reach up.example (ECONNREFUSED); mirrors m0.example/ns, m1.example/ns had no manifest 1 in ns/app (404)',
    );
    await assert.rejects(
      failing(() => new TlsError('TLS failure talking to up.example: self-signed certificate')).headBlob('app', 'sha256:b'),
      (e: unknown) => e instanceof TlsError && e.code === 'E_TLS' && e.message === 'TLS failure talking to up.example: self-signed certificate; mirrors m0.example/ns, m1.example/ns had no blob sha256:b in ns/app (404)',
    );
    // The registry's own 404 (or a refusal) is the answer about the image: nothing to add.
    await assert.rejects(failing(() => new NotFoundError('manifest 1 not found')).getManifest('app', '1'), (e: unknown) => e instanceof NotFoundError && e.code === 'E_NOT_FOUND' && e.message === 'manifest 1 not found');
  });

  it('concurrent reads failing on one shared upstream error (a probed scheme\'s one promise): each names only its own misses, the shared error is left as it was', async () => {
    const mirrors = [new MemoryClient('m0.example', new Map())];
    const routes = (repo: string): MirrorRoute[] => mirrors.map((c, i) => ({ name: `m${i}.example/ns`, registry: c.registry, repo: `ns/${repo}`, plainHttp: false, client: c }));
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:1');
    const shared = new NetworkError('cannot reach up.example (ECONNREFUSED)', { cause, details: { registry: 'up.example' } });
    // As registry-http.ts base() does for a loopback or insecure-TLS host: one probe, awaited by every read.
    const probe = Promise.reject(shared);
    probe.catch(() => {});
    const upstream = new MemoryClient('up.example', new Map());
    Object.assign(upstream, { getManifest: async () => { await probe; throw new Error('unreachable'); } });
    const client = new MirroredClient(upstream, routes, new MirrorHealth());
    const results = await Promise.allSettled(['1', '2', '3'].map((tag) => client.getManifest('app', tag)));
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 'rejected');
      const e = (r as PromiseRejectedResult).reason as RegpushError;
      assert.ok(e instanceof NetworkError && e.code === 'E_NETWORK', String(e));
      assert.equal(e.message, `cannot reach up.example (ECONNREFUSED); mirror m0.example/ns had no manifest ${i + 1} in ns/app (404)`);
      assert.equal(e.cause, cause);
      assert.deepEqual(e.details, { registry: 'up.example' });
    }
    assert.equal(shared.message, 'cannot reach up.example (ECONNREFUSED)');
    assert.deepEqual(shared.details, { registry: 'up.example' });
  });

  it('an unreachable mirror is warned about once and not asked again in the run', async () => {
    const { upstream, mirrors, lines, client } = setup([new Map([['ns/app:1', manifest]])], [() => new NetworkError('connect ECONNREFUSED 127.0.0.1:1')]);
    await client.getManifest('app', '1');
    await client.getManifest('app', digest);
    assert.deepEqual(mirrors[0]!.calls, ['GET ns/app:1']);
    assert.deepEqual(upstream.calls, ['GET app:1', `GET app:${digest}`]);
    assert.deepEqual(lines, ['warn mirror m0.example/ns failed (E_NETWORK: connect ECONNREFUSED 127.0.0.1:1); reading from upstream up.example']);
  });

  // Refusals as the auth layer and the response reader make them (their details decide how far they reach: refusalReach).
  const registry = 'm0.example';
  const realm = 'auth.m0.example';
  const registryWide: [string, () => RegpushError][] = [
    ['a token service refusing the credentials (401)', () => new AuthError('token service 401', { details: { registry, status: 401, realm } })],
    ['a token service refusing anonymous access (401)', () => new AuthError('token service 401, anonymous', { details: { registry, status: 401, realm, anonymous: true } })],
    ['a token service failing (500)', () => new AuthError('token service 500', { details: { registry, status: 500, realm } })],
    ['the registry refusing its own token service\'s token (invalid_token)', () => new AuthError('invalid_token', { details: { registry, status: 401, realm, tokenRefused: true } })],
    ['a Basic password refused', () => new AuthError('basic 401', { details: { registry, status: 401, scheme: 'basic' } })],
    ['a Basic registry and no login stored', () => new AuthError('basic 401, none found', { details: { registry, status: 401, scheme: 'basic', anonymous: true } })],
    ['a registry token refused', () => new AuthError('registry token 401', { details: { registry, status: 401, scheme: 'registry-token' } })],
    ['a credential helper that fails', () => new AuthError('helper failed', { details: { helper: 'x', registry } })],
    ['a proxy wanting its own login (407)', () => new AuthError('proxy 407', { details: { registry, proxyStatus: 407, proxy: 'proxy.example:3128' } })],
  ];
  for (const [what, refusal] of registryWide) {
    it(`refused for the whole registry (${what}): fallback, and the mirror is not asked again in the run, for any repository`, async () => {
      const { upstream, mirrors, lines, client } = setup([new Map([['ns/other:1', manifest]])], [refusal]);
      await client.getManifest('app', '1');
      await client.headBlob('app', 'sha256:b');
      assert.equal((await client.getManifest('other', '1')).mirror, undefined);
      assert.equal(mirrors[0]!.calls.length, 1);
      assert.equal(upstream.calls.length, 3);
      assert.deepEqual(lines, [`warn mirror m0.example/ns failed (E_AUTH: ${refusal().message}); reading from upstream up.example`]);
    });
  }

  const oneRepository: [string, (key: string) => RegpushError | undefined][] = [
    ['a token service\'s 403 (GHCR, a package the login may not read)', (key) => (key.startsWith('ns/app:') ? new AuthError('token service 403', { details: { registry, status: 403, realm } }) : undefined)],
    ['a token refused with insufficient_scope (Docker Hub, a private repository)', (key) => (key.startsWith('ns/app:') ? new AuthError('insufficient scope', { details: { registry, status: 401, scheme: 'bearer', scopes: ['repository:ns/app:pull'], anonymous: true } }) : undefined)],
    ['a bare 401 answered to one read', (key) => (key.startsWith('ns/app:') ? new AuthError('GET manifest: 401 UNAUTHORIZED', { details: { registry, status: 401, registryCodes: ['UNAUTHORIZED'] } }) : undefined)],
    ['a 403 from the registry (DENIED)', (key) => (key.startsWith('ns/app:') ? new DeniedError('GET manifest: 403 DENIED', { details: { registry, status: 403, registryCodes: ['DENIED'] } }) : undefined)],
  ];
  for (const [what, refusal] of oneRepository) {
    it(`refused for one repository (${what}): that repository falls back and is not asked at the mirror again; another repository still reads through the mirror`, async () => {
      const { upstream, mirrors, lines, client } = setup([new Map([['ns/app:1', manifest], ['ns/other:1', manifest]])], [refusal]);
      assert.equal((await client.getManifest('app', '1')).mirror, undefined);
      assert.equal(await client.headBlob('app', 'sha256:b'), 4);
      assert.equal((await client.getManifest('app', digest)).mirror, undefined);
      assert.deepEqual(mirrors[0]!.calls, ['GET ns/app:1'], 'the refused repository is asked once');
      assert.deepEqual(upstream.calls, ['GET app:1', 'HEAD blob app', `GET app:${digest}`]);
      assert.equal((await client.getManifest('other', '1')).mirror, 'm0.example/ns', 'another repository still reads through the mirror');
      assert.deepEqual(mirrors[0]!.calls, ['GET ns/app:1', 'GET ns/other:1']);
      const warned = lines.filter((l) => l.startsWith('warn'));
      assert.deepEqual(warned, [`warn mirror m0.example/ns refused ns/app (${refusal('ns/app:1')!.code}: ${refusal('ns/app:1')!.message}); reading app from upstream up.example; not asking m0.example/ns for ns/app again in this run, the mirror is still used for other repositories`]);
    });
  }

  it('a repository refused by the first mirror is read from the next one, which serves the others too', async () => {
    const { upstream, mirrors, client } = setup([new Map([['ns/other:1', manifest]]), new Map([['ns/app:1', manifest]])], [(key) => (key.startsWith('ns/app:') ? new DeniedError('403') : undefined)]);
    assert.equal((await client.getManifest('app', '1')).mirror, 'm1.example/ns');
    assert.equal((await client.getManifest('app', '1')).mirror, 'm1.example/ns');
    assert.equal((await client.getManifest('other', '1')).mirror, 'm0.example/ns');
    assert.deepEqual(mirrors[0]!.calls, ['GET ns/app:1', 'GET ns/other:1']);
    assert.deepEqual(mirrors[1]!.calls, ['GET ns/app:1', 'GET ns/app:1']);
    assert.deepEqual(upstream.calls, []);
  });

  it('a failing mirror: the next mirror is tried before the upstream', async () => {
    const { upstream, mirrors, lines, client } = setup([new Map(), new Map([['ns/app:1', manifest]])], [() => new NetworkError('refused')]);
    assert.equal((await client.getManifest('app', '1')).mirror, 'm1.example/ns');
    assert.deepEqual(upstream.calls, []);
    assert.deepEqual(lines.filter((l) => l.startsWith('warn')), ['warn mirror m0.example/ns failed (E_NETWORK: refused); trying mirror m1.example/ns']);
    assert.equal(mirrors[0]!.calls.length, 1);
  });

  it('a mirror serving another manifest for a digest is rejected: upstream read, mirror distrusted', async () => {
    const { upstream, mirrors, lines, client } = setup([new Map([[`ns/app:${digest}`, other], ['ns/app:1', manifest]])]);
    const m = await client.getManifest('app', digest);
    assert.equal(m.digest, digest);
    assert.equal(m.mirror, undefined);
    assert.deepEqual(upstream.calls, [`GET app:${digest}`]);
    assert.ok(lines.some((l) => /^warn mirror m0\.example\/ns served content that does not match its digest/.test(l)), lines.join('\n'));
    await client.getManifest('app', '1');
    assert.equal(mirrors[0]!.calls.length, 1, 'not asked again');
  });

  it('an abort is not a reason to fall back', async () => {
    const { upstream, client } = setup([new Map()], [() => new AbortedError('aborted')]);
    await assert.rejects(client.getManifest('app', '1'), (e: unknown) => e instanceof AbortedError && e.code === 'E_ABORTED' && e.message === 'aborted');
    assert.deepEqual(upstream.calls, []);
  });

  it('pullsKnown: once the registry and every mirror a GET could go to have shown whether they count pulls, or one of them counts', () => {
    const { upstream, mirrors, client } = setup([new Map(), new Map()]);
    const shown = (c: MemoryClient, counts: boolean, known: boolean) => Object.assign(c, { countsPulls: () => counts, pullsKnown: () => known });
    shown(upstream, false, true);
    shown(mirrors[0]!, false, true);
    shown(mirrors[1]!, false, false);
    assert.equal(client.pullsKnown('app'), false, 'the second mirror not heard from');
    shown(mirrors[1]!, false, true);
    assert.equal(client.pullsKnown('app'), true);
    shown(upstream, false, false);
    assert.equal(client.pullsKnown('app'), false, 'the registry not heard from (its mirrors answered everything)');
    shown(mirrors[0]!, true, true);
    assert.equal(client.pullsKnown('app'), true, 'a mirror that counts pulls: known (a HEAD first)');
  });

  it('pullsKnown: a mirror that refused the repository is not one a GET could go to', async () => {
    const { upstream, mirrors, client } = setup([new Map()], [(key) => (key.startsWith('ns/app:') ? new DeniedError('denied') : undefined)]);
    const shown = (c: MemoryClient, counts: boolean, known: boolean) => Object.assign(c, { countsPulls: () => counts, pullsKnown: () => known });
    shown(upstream, false, true);
    shown(mirrors[0]!, false, false);
    assert.equal(client.pullsKnown('app'), false, 'the mirror not heard from yet');
    await client.headManifest('app', '1'); // refused by the mirror, answered by the registry
    assert.equal(client.countsPulls('app'), false);
    assert.equal(client.pullsKnown('app'), true, 'known: a GET of app goes to the registry, which has shown it counts none');
    assert.equal(client.pullsKnown('other'), false, 'the mirror still serves other repositories, and has not been heard from');
  });
});

describe('connect', () => {
  const mirrors = { 'docker.io': ['mirror.example.com'] };
  it('wraps the mirrors for reads (role from) of a registry that has some, never for a target', () => {
    const transport = transportFor({});
    try {
      assert.ok(connect(transport, 'docker.io', 'from', [{ repo: 'library/node', actions: ['pull'] }], { mirrors }) instanceof MirroredClient);
      assert.ok(connect(transport, 'docker.io', 'to', [{ repo: 'acme/web', actions: ['pull', 'push'] }], { mirrors }) instanceof HttpRegistryClient);
      assert.ok(connect(transport, 'ghcr.io', 'from', [{ repo: 'acme/web', actions: ['pull'] }], { mirrors }) instanceof HttpRegistryClient);
      assert.ok(connect(transport, 'docker.io', 'from', [{ repo: 'library/node', actions: ['pull'] }], {}) instanceof HttpRegistryClient);
    } finally {
      transport.close();
    }
  });
  it('blocked prefixes: reads and writes refused before any request (E_DENIED naming the prefix and the file); a blocked source with mirrors reads only them', async () => {
    const blocked = { '127.0.0.1:2/team': '/etc/containers/registries.conf', '127.0.0.1:2/team/open': false as const };
    // Nothing listens on 127.0.0.1:2: a request there would fail with E_NETWORK, not E_DENIED.
    const transport = transportFor({ retries: 0 });
    const denied = (verb: string, name: string) => (e: unknown) =>
      e instanceof DeniedError && e.code === 'E_DENIED' && e.exitCode === 3 &&
      e.message === `${verb} ${name} is blocked: prefix 127.0.0.1:2/team has blocked = true in /etc/containers/registries.conf`;
    try {
      assert.throws(() => connect(transport, '127.0.0.1:2', 'from', [{ repo: 'team/app', actions: ['pull'] }], { blocked }), denied('reading from', '127.0.0.1:2/team/app'));
      assert.throws(() => connect(transport, '127.0.0.1:2', 'read', [{ repo: 'team/app', actions: ['pull'] }], { blocked }), denied('reading from', '127.0.0.1:2/team/app'));
      assert.throws(() => connect(transport, '127.0.0.1:2', 'to', [{ repo: 'team/app', actions: ['pull', 'push'] }], { blocked }), denied('writing to', '127.0.0.1:2/team/app'));
      assert.throws(() => connect(transport, '127.0.0.1:2', 'to', [{ repo: 'team/app', actions: ['delete'] }], { blocked }), denied('writing to', '127.0.0.1:2/team/app'));
      // Outside the prefix, and under a longer entry that does not block: a client as usual.
      assert.ok(connect(transport, '127.0.0.1:2', 'from', [{ repo: 'other/app', actions: ['pull'] }], { blocked }) instanceof HttpRegistryClient);
      assert.ok(connect(transport, '127.0.0.1:2', 'from', [{ repo: 'team/open/app', actions: ['pull'] }], { blocked }) instanceof HttpRegistryClient);
      // A target's pull scope on a blocked source repository (for mounts) does not refuse the target.
      assert.ok(connect(transport, '127.0.0.1:2', 'to', [{ repo: 'other/app', actions: ['pull', 'push'] }, { repo: 'team/app', actions: ['pull'] }], { blocked }) instanceof HttpRegistryClient);
      // With a mirror: the mirror is asked (it is down here), then the refusal, never the registry.
      const c = connect(transport, '127.0.0.1:2', 'from', [{ repo: 'team/app', actions: ['pull'] }], { blocked, mirrors: { '127.0.0.1:2/team': ['127.0.0.1:1'] } });
      assert.ok(c instanceof MirroredClient);
      await assert.rejects(c.getManifest('team/app', 'v1'), denied('reading from', '127.0.0.1:2/team/app'));
      await assert.rejects(c.listTags('team/app'), denied('reading from', '127.0.0.1:2/team/app'));
    } finally {
      transport.close();
    }
  });
  it('a bad mirrors option is E_USAGE', () => {
    const transport = transportFor({});
    try {
      assert.throws(() => connect(transport, 'docker.io', 'from', [], { mirrors: { 'docker.io': ['not a host'] } }), (e: unknown) => e instanceof RegpushError && e.code === 'E_USAGE' && e.message === 'mirrors entry "not a host" (a mirror of docker.io) is not a host[:port][/path]');
    } finally {
      transport.close();
    }
  });
});

describe('mirror send profile', () => {
  it('no retry for answers or the deadline, one for a lost connection (at most --retries); 15 s for an answer to start, lowered by the idle timeout', () => {
    const p = mirrorSendProfile({ retryPolicy: { retries: 5 }, idleTimeoutMs: 60_000 });
    assert.equal(p.answerTimeoutMs, MIRROR_ANSWER_TIMEOUT_MS);
    assert.equal(MIRROR_ANSWER_TIMEOUT_MS, 15_000);
    assert.equal(p.retry?.retries, 1);
    assert.equal(p.retry?.statuses?.size, 0);
    assert.ok(p.retry?.errnos?.has('ECONNRESET') && !p.retry.errnos.has('ETIMEDOUT'));
    assert.equal(mirrorSendProfile({ retryPolicy: { retries: 0 }, idleTimeoutMs: 2000 }).retry?.retries, 0);
    assert.equal(mirrorSendProfile({ retryPolicy: { retries: 5 }, idleTimeoutMs: 2000 }).answerTimeoutMs, 2000);
  });
});

describe('mergeMirrorMaps and the mirrors option, as a library caller wires the readers (docs/library.md)', () => {
  const fake = fakeRegistryPool();
  const conf = mirrorsFromRegistriesConf('[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\nlocation = "conf-mirror.example"\n', 'registries.conf');
  const daemon = mirrorsFromDaemonJson('{"registry-mirrors": ["https://daemon-mirror.example"]}', 'daemon.json');
  const usage = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof UsageError, `a UsageError, not ${String(e)}`);
      assert.equal(e.code, 'E_USAGE');
      assert.match(e.message, re);
      return true;
    });

  it('the whole registries.conf result where a map goes: E_USAGE saying to pass its mirrors (was TypeError "mirrors is not iterable")', () => {
    usage(
      () => mergeMirrorMaps(conf as unknown as MirrorMap, daemon),
      /^mergeMirrorMaps\(\): argument 1 is what mirrorsFromRegistriesConf\(\) returns \(\{ mirrors, notes, blocked, insecure \}\): pass its mirrors \(its blocked and insecure are the blocked and insecureTlsRegistries options\)$/,
    );
    usage(() => mergeMirrorMaps(daemon, conf as unknown as MirrorMap), /^mergeMirrorMaps\(\): argument 2 is what mirrorsFromRegistriesConf\(\) returns/);
    // Its mirrors are the map, first tried first.
    assert.deepEqual(mergeMirrorMaps(conf.mirrors, daemon), { 'docker.io': ['conf-mirror.example', 'daemon-mirror.example'] });
  });

  it('any other shape: E_USAGE naming the argument and the prefix', () => {
    usage(() => mergeMirrorMaps('docker.io=m.example' as never), /^mergeMirrorMaps\(\): argument 1 must be a map of prefix → mirrors, e\.g\. \{ "docker\.io": \["mirror\.example\.com"\] \} \(got a string\)$/);
    usage(() => mergeMirrorMaps({}, [['docker.io', ['m.example']]] as never), /^mergeMirrorMaps\(\): argument 2 must be a map of prefix → mirrors.*\(got an array\)$/);
    usage(() => mergeMirrorMaps(null as never), /^mergeMirrorMaps\(\): argument 1 must be a map .*\(got null\)$/);
    usage(() => mergeMirrorMaps({ 'docker.io': 'm.example' } as never), /^mergeMirrorMaps\(\): argument 1: the mirrors of "docker\.io" must be an array of strings \(got a string\)$/);
    usage(() => mergeMirrorMaps({ 'docker.io': ['m.example', 5] } as never), /^mergeMirrorMaps\(\): argument 1: the mirrors of "docker\.io" must be an array of strings \(got 5 at \[1\]\)$/);
    // Left out (undefined) is no map to merge: the others merge as if it were not there.
    assert.deepEqual(mergeMirrorMaps(undefined, { 'docker.io': ['m.example'] }), { 'docker.io': ['m.example'] });
  });

  it('the wiring of docs/library.md copies through the registries.conf mirror; the whole result given as `mirrors` is E_USAGE naming the option, before any request', async () => {
    const [mirror, dst] = [await fake(), await fake()];
    const img = mirror.seedImage('library/app', { tags: ['1'] });
    const local = mirrorsFromRegistriesConf(`[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\nlocation = "${mirror.host}"\n`, 'registries.conf');
    const opts = { from: 'docker.io/library/app:1', to: [dst.ref('app:1')], ...fakeLibraryOptions(mirror, dst) };
    await assert.rejects(copy({ ...opts, mirrors: local as unknown as MirrorMap }), (e: unknown) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.equal(e.code, 'E_USAGE');
      assert.equal(e.message, 'copy(): mirrors.mirrors must be an array of strings (got an object)');
      return true;
    });
    assert.equal(mirror.count() + dst.count(), 0, 'no request');
    const r = await copy({ ...opts, mirrors: mergeMirrorMaps(local.mirrors, mirrorsFromDaemonJson('{}', 'daemon.json')), blocked: local.blocked, insecureTlsRegistries: local.insecure });
    assert.equal(r.digest, img.digest);
    assert.equal(r.source.mirror, mirror.host);
  });
});
