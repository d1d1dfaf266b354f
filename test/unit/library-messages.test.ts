// Each message about an option names what its caller used: a library caller (push(), copy(),
// sync(), deleteImage()) is told of its option paths (`push(): to`, `layers[0]`, `format: "oci"`,
// `config.env[1] (KEY)`), the CLI of its flags (`--to`, `--layer`, `--format oci`, `--env KEY`),
// word for word as it always has been. Every case runs both ways against fake registries
// (test/fixtures/fake-registry.ts), the CLI in-process (test/fixtures/run-main.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copy, deleteImage, EXIT_CODES, listRepositories, parseSyncFile, push, sync, tagImage, untagImage, type ErrorCode, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { runMain, type MainResult } from '../fixtures/run-main.js';

const fake = fakeRegistryPool();
const tempDir = tempDirs('regpush-library-messages-');

/** A directory holding one file, for a layer. */
function appDir(): string {
  const d = tempDir();
  writeFileSync(join(d, 'server.js'), 'console.log("hi")\n');
  return d;
}

/** What `call` rejects with (it must reject). */
async function rejection(call: Promise<unknown>): Promise<RegpushError> {
  return call.then(
    () => assert.fail('it succeeded'),
    (e: RegpushError) => e,
  );
}

/** `regpush ARGV` against `regs` (reached over plain HTTP, no stored logins), in `cwd`. */
function cli(argv: string[], regs: FakeRegistry[], cwd = tempDir()): Promise<MainResult> {
  const lib = fakeLibraryOptions(...regs);
  return runMain(argv, { env: { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') }, cwd });
}

/**
 * The CLI's error line, without `regpush: error: ` and the code, after it exited with `code`'s exit
 * code and named `code` on that line: an exit code alone does not tell E_USAGE from E_INPUT,
 * E_REFERENCE or E_EXISTS (all 2), nor E_REGISTRY from E_TOO_MANY_REQUESTS (5).
 */
function errorLine(r: MainResult, code: ErrorCode): string {
  assert.equal(r.code, EXIT_CODES[code], r.stderr);
  const last = r.stderr.trim().split('\n').at(-1)!;
  const m = /^regpush: error: (.*) \[(E_[A-Z_]+)\]$/.exec(last);
  assert.ok(m, last);
  assert.equal(m[2], code, last);
  return m[1]!;
}

/** The CLI's warning lines, without `warning: `. */
const warningsOf = (r: MainResult): string[] => r.stderr.split('\n').filter((l) => l.startsWith('warning: ')).map((l) => l.slice('warning: '.length));

/** A logger keeping the warnings it is given. */
function warnings(): { said: string[]; logger: { debug(): void; info(): void; warn(m: string): void } } {
  const said: string[] = [];
  return { said, logger: { debug() {}, info() {}, warn: (m: string) => void said.push(m) } };
}

test('push: the target a digest, annotations for Docker v2 output, an empty annotation key: the library names to and annotations, the CLI --to and --annotation', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  const app = appDir();
  const lib = { from: src.ref('base:1'), app: [{ src: app, dest: '/app' }], ...fakeLibraryOptions(src, dst) };
  const digest = `sha256:${'a'.repeat(64)}`;
  const cases: [Parameters<typeof push>[0], string, string[], string, string][] = [
    [{ ...lib, to: dst.ref(`app@${digest}`) }, `push(): to must name a tag, not a digest: ${dst.ref(`app@${digest}`)}`, ['--to', dst.ref(`app@${digest}`)], `--to must name a tag, not a digest: ${dst.ref(`app@${digest}`)}`, 'E_REFERENCE'],
    [
      { ...lib, to: dst.ref('app:1'), annotations: { a: 'b' }, format: 'docker' },
      'push(): annotations cannot go into a Docker v2 manifest (it has no annotations); use format: "oci"',
      ['--to', dst.ref('app:1'), '--annotation', 'a=b', '--format', 'docker'],
      '--annotation cannot go into a Docker v2 manifest (it has no annotations); use --format oci',
      'E_USAGE',
    ],
    [{ ...lib, to: dst.ref('app:1'), annotations: { ' ': 'b' } }, 'push(): annotations: the key is empty (got " ")', ['--to', dst.ref('app:1'), '--annotation', ' =b'], '--annotation: the key is empty (expected KEY=VALUE)', 'E_USAGE'],
  ];
  for (const [opts, library, argv, flags, code] of cases) {
    const err = await rejection(push(opts));
    assert.equal(err.code, code, err.message);
    assert.equal(err.message, library);
    assert.equal(errorLine(await cli(['push', '--from', src.ref('base:1'), '--app', app, ...argv], [src, dst]), err.code), flags);
  }
  // An empty list of targets: only a library caller can give one.
  const noTarget = await rejection(push({ ...lib, to: [] }));
  assert.equal(noTarget.code, 'E_USAGE', noTarget.message);
  assert.equal(noTarget.message, 'push() needs a target (to)');
  assert.equal(src.count() + dst.count(), 0, 'all refused before any request');
});

test('push: a Docker v2 base with annotations, a layer for a platform the base lacks, an empty layer: layers[0] and format: "oci" for the library, --layer and --format oci for the CLI', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/docker', { tags: ['1'], format: 'docker' });
  src.seedImage('base/oci', { tags: ['1'], platform: { os: 'linux', architecture: 'amd64' } });
  const app = appDir();
  const empty = tempDir();
  const lib = { to: dst.ref('app:1'), ...fakeLibraryOptions(src, dst) };

  let err = await rejection(push({ ...lib, from: src.ref('base/docker:1'), app: [{ src: app, dest: '/app' }], annotations: { a: 'b' } }));
  assert.equal(err.code, 'E_USAGE', err.message);
  assert.equal(err.message, 'push(): annotations needs an OCI manifest, and the base is Docker v2 (which has no annotations): add format: "oci"');
  assert.equal(errorLine(await cli(['push', '--from', src.ref('base/docker:1'), '--to', dst.ref('app:1'), '--app', app, '--annotation', 'a=b'], [src, dst]), err.code), '--annotation needs an OCI manifest, and the base is Docker v2 (which has no annotations): add --format oci');

  err = await rejection(push({ ...lib, from: src.ref('base/oci:1'), layers: [{ platform: 'linux/arm64', sources: [{ src: app, dest: '/deps' }] }] }));
  assert.equal(err.code, 'E_USAGE', err.message);
  assert.equal(err.message, 'push(): layers[0] (linux/arm64=…): the image being built has no linux/arm64 platform (it has linux/amd64)');
  assert.equal(errorLine(await cli(['push', '--from', src.ref('base/oci:1'), '--to', dst.ref('app:1'), '--layer', `linux/arm64=${app}:/deps`], [src, dst]), err.code), '--layer linux/arm64=…: the image being built has no linux/arm64 platform (it has linux/amd64)');
  // The same layer from regpush.json's `layers` is named as the file's entry, not as the flag it is read in as.
  const project = tempDir();
  // A project file's sources lie in its folder (one that resolves outside it is refused).
  const [papp, pempty] = [join(project, 'app'), join(project, 'empty')];
  mkdirSync(papp);
  mkdirSync(pempty);
  writeFileSync(join(papp, 'server.js'), 'console.log("hi")\n');
  writeFileSync(join(project, 'regpush.json'), JSON.stringify({ from: src.ref('base/oci:1'), to: dst.ref('app:1'), layers: [`linux/arm64=${papp}:/deps`] }));
  assert.equal(errorLine(await cli(['push'], [src, dst], project), 'E_INPUT'), 'regpush.json layers[0] (linux/arm64=…): the image being built has no linux/arm64 platform (it has linux/amd64)');
  writeFileSync(join(project, 'regpush.json'), JSON.stringify({ from: src.ref('base/oci:1'), to: dst.ref('app:1'), layers: [`${papp}:/deps`, `${pempty}:/data`] }));
  assert.equal(errorLine(await cli(['push'], [src, dst], project), 'E_INPUT'), `regpush.json layers[1] (${pempty}:/data): nothing to put in the layer (empty, or everything excluded by .dockerignore)`);
  writeFileSync(join(project, 'regpush.json'), JSON.stringify({ from: src.ref('base/oci:1'), to: dst.ref('app:1'), layers: [`${papp}:`] }));
  assert.equal(errorLine(await cli(['push'], [src, dst], project), 'E_INPUT'), `regpush.json layers[0] ${papp}:: empty destination after ":"`);

  err = await rejection(push({ ...lib, from: src.ref('base/oci:1'), layers: [{ sources: [{ src: app, dest: '/deps' }] }, { sources: [{ src: empty, dest: '/data' }] }] }));
  assert.equal(err.code, 'E_INPUT', err.message);
  assert.equal(err.message, `push(): layers[1] (${empty}:/data): nothing to put in the layer (empty, or everything excluded by .dockerignore)`);
  assert.equal(errorLine(await cli(['push', '--from', src.ref('base/oci:1'), '--to', dst.ref('app:1'), '--layer', `${app}:/deps`, '--layer', `${empty}:/data`], [src, dst]), err.code), `--layer ${empty}:/data: nothing to put in the layer (empty, or everything excluded by .dockerignore)`);
  err = await rejection(push({ ...lib, from: src.ref('base/oci:1'), app: [{ src: empty, dest: '/app' }] }));
  assert.equal(err.code, 'E_INPUT', err.message);
  assert.equal(err.message, `push(): app (${empty}:/app): nothing to put in the layer (empty, or everything excluded by .dockerignore)`);
  assert.equal(errorLine(await cli(['push', '--from', src.ref('base/oci:1'), '--to', dst.ref('app:1'), '--app', empty], [src, dst]), err.code), `--app ${empty}:/app/: nothing to put in the layer (empty, or everything excluded by .dockerignore)`);
  // regpush.json's `app` entries are named as the file's, as its `layers` are (they named --app).
  writeFileSync(join(project, 'regpush.json'), JSON.stringify({ from: src.ref('base/oci:1'), to: dst.ref('app:1'), app: [pempty] }));
  assert.equal(errorLine(await cli(['push'], [src, dst], project), 'E_INPUT'), `regpush.json app (${pempty}:/app/): nothing to put in the layer (empty, or everything excluded by .dockerignore)`);
  writeFileSync(join(project, 'regpush.json'), JSON.stringify({ from: src.ref('base/oci:1'), to: dst.ref('app:1'), app: [papp, `${papp}:`] }));
  assert.equal(errorLine(await cli(['push'], [src, dst], project), 'E_INPUT'), `regpush.json app[1] ${papp}:: empty destination after ":"`);
  writeFileSync(join(project, 'regpush.json'), JSON.stringify({ from: src.ref('base/oci:1'), to: dst.ref('app:1'), app: [`${papp}:srv`] }));
  assert.match(errorLine(await cli(['push'], [src, dst], project), 'E_INPUT'), new RegExp(`^regpush\\.json app\\[0\\] ${papp}:srv: `));
  // A flag given names the flag, the file's entries left out.
  assert.equal(errorLine(await cli(['push', '--app', empty], [src, dst], project), 'E_INPUT'), `--app ${empty}:/app/: nothing to put in the layer (empty, or everything excluded by .dockerignore)`);
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
});

test('push: Linux and Windows mixed up (a Windows path, --platform all, --chown, a layer built for the other OS): platform: "…" and chown for the library, --platform … and --chown for the CLI', async () => {
  const reg = await fake();
  reg.seedImage('base/linux', { tags: ['1'], platform: { os: 'linux', architecture: 'amd64' } });
  reg.seedImage('base/win', { tags: ['ltsc'], platform: { os: 'windows', architecture: 'amd64' } });
  const linux = reg.seedImage('base/mixed', { platform: { os: 'linux', architecture: 'amd64' } });
  const windows = reg.seedImage('base/mixed', { platform: { os: 'windows', architecture: 'amd64' } });
  reg.seedIndex('base/mixed', [linux, windows], { tags: ['1'] });
  const app = appDir();
  const lib = { to: reg.ref('app:1'), ...fakeLibraryOptions(reg) };
  const cases: [Parameters<typeof push>[0], string, string[], string, number][] = [
    [
      { ...lib, from: reg.ref('base/linux:1'), app: [{ src: app, dest: 'C:\\app' }] },
      `push(): app (${app}:C:\\app): destination "C:\\app" is a Windows path, and this layer goes into a Linux image (for a Windows base, give platform: "windows/amd64")`,
      ['--from', reg.ref('base/linux:1'), '--app', `${app}:C:\\app`],
      `--app ${app}:C:\\app: destination "C:\\app" is a Windows path, and this layer goes into a Linux image (for a Windows base, give --platform windows/amd64)`,
      2,
    ],
    [
      { ...lib, from: reg.ref('base/mixed:1'), platform: 'all', layers: [{ sources: [{ src: app, dest: 'C:\\deps' }] }] },
      `push(): layers[0] (${app}:C:\\deps): with platform: "all", write the destination as /…: the layer goes into the base's Linux and Windows images alike (/app is C:\\app in a Windows image); got "C:\\deps"`,
      ['--from', reg.ref('base/mixed:1'), '--platform', 'all', '--layer', `${app}:C:\\deps`],
      `--layer ${app}:C:\\deps: with --platform all, write the destination as /…: the layer goes into the base's Linux and Windows images alike (/app is C:\\app in a Windows image); got "C:\\deps"`,
      2,
    ],
    [
      { ...lib, from: reg.ref('base/win:ltsc'), platform: 'windows/amd64', app: [{ src: app, dest: '/app' }], chown: { uid: 1000, gid: 1000 } },
      'push(): chown sets a Linux owner, and a Windows image has none: its layer gives BUILTIN\\Users access to every file',
      ['--from', reg.ref('base/win:ltsc'), '--platform', 'windows/amd64', '--app', app, '--chown', '1000:1000'],
      '--chown sets a Linux owner, and a Windows image has none: its layer gives BUILTIN\\Users access to every file',
      2,
    ],
    [
      { ...lib, from: reg.ref('base/mixed:1'), platform: 'all', app: [{ src: app, dest: '/app' }], chown: { uid: 1000, gid: 1000 } },
      'the base has a windows/amd64 image: chown sets a Linux owner, and a Windows image has none: its layer gives BUILTIN\\Users access to every file',
      ['--from', reg.ref('base/mixed:1'), '--platform', 'all', '--app', app, '--chown', '1000:1000'],
      'the base has a windows/amd64 image: --chown sets a Linux owner, and a Windows image has none: its layer gives BUILTIN\\Users access to every file',
      2,
    ],
    [
      { ...lib, from: reg.ref('base/win:ltsc'), layers: [{ sources: [{ src: app, dest: '/deps' }] }] },
      'the base is a windows/amd64 image, and layers[0] (/deps) is built for Linux: give platform: "windows/amd64"',
      ['--from', reg.ref('base/win:ltsc'), '--layer', `${app}:/deps`],
      'the base is a windows/amd64 image, and --layer /deps is built for Linux: give --platform windows/amd64',
      2,
    ],
  ];
  const codes: string[] = [];
  for (const [opts, library, argv, flags, exit] of cases) {
    const err = await rejection(push(opts));
    assert.equal(err.message, library);
    assert.equal(EXIT_CODES[err.code], exit, err.code);
    codes.push(err.code);
    assert.equal(errorLine(await cli(['push', '--to', reg.ref('app:1'), ...argv], [reg]), err.code), flags);
  }
  assert.deepEqual(codes, ['E_USAGE', 'E_USAGE', 'E_USAGE', 'E_USAGE', 'E_USAGE']);
  assert.equal(reg.manifest('app', '1'), undefined);
});

test('push: what --format drops and what it cannot convert: format: "docker" and push() with format: "oci" for the library, --format docker and push with --format oci for the CLI', async () => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base/app');
  src.putManifest('base/app', { ...base.manifest, layers: base.layers.map((l, i) => (i === 0 ? { ...l, annotations: { 'org.example.note': 'x' } } : l)) }, { tags: ['1'] });
  src.putManifest('base/app', { ...base.manifest, layers: base.layers.map((l) => ({ ...l, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' })) }, { tags: ['zstd'] });
  const app = appDir();
  const { said, logger } = warnings();
  await push({ from: src.ref('base/app:1'), to: dst.ref('app:1'), app: [{ src: app, dest: '/app' }], format: 'docker', logger, ...fakeLibraryOptions(src, dst) });
  const dropped = "the base's annotations on 1 layer descriptor dropped: Docker v2 manifests have none";
  assert.deepEqual(said, [`format: "docker": ${dropped}`]);
  const r = await cli(['push', '--from', src.ref('base/app:1'), '--to', dst.ref('app:2'), '--app', app, '--format', 'docker'], [src, dst]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(warningsOf(r), [`--format docker: ${dropped}`]);

  const zstd = 'layer type application/vnd.oci.image.layer.v1.tar+zstd has no Docker v2 equivalent';
  const err = await rejection(push({ from: src.ref('base/app:zstd'), to: dst.ref('app:3'), app: [{ src: app, dest: '/app' }], format: 'docker', ...fakeLibraryOptions(src, dst) }));
  assert.equal(err.code, 'E_UNSUPPORTED', err.message);
  assert.equal(err.message, `${zstd}; push() with format: "oci" (or leave format out) to keep it`);
  assert.equal(errorLine(await cli(['push', '--from', src.ref('base/app:zstd'), '--to', dst.ref('app:3'), '--app', app, '--format', 'docker'], [src, dst]), 'E_UNSUPPORTED'), `${zstd}; push with --format oci (or leave --format out) to keep it`);
  // A copy is told to copy (it was told to push).
  assert.equal(errorLine(await cli(['copy', '--format', 'docker', src.ref('base/app:zstd'), dst.ref('app:4')], [src, dst]), 'E_UNSUPPORTED'), `${zstd}; copy with --format oci (or leave --format out) to keep it`);
});

test('push: the config changes\' messages lead with push(): for a library caller, as its other option messages do (config.workdir, config.env[0], both entrypoints, a Windows path for a Linux image of platform "all"); the CLI\'s name its flags as before', async () => {
  const reg = await fake();
  reg.seedImage('base/linux', { tags: ['1'], platform: { os: 'linux', architecture: 'amd64' } });
  const linux = reg.seedImage('base/mixed', { platform: { os: 'linux', architecture: 'amd64' } });
  const windows = reg.seedImage('base/mixed', { platform: { os: 'windows', architecture: 'amd64' } });
  reg.seedIndex('base/mixed', [linux, windows], { tags: ['1'] });
  const app = appDir();
  const lib = { from: reg.ref('base/linux:1'), to: reg.ref('app:1'), app: [{ src: app, dest: '/app' }], ...fakeLibraryOptions(reg) };
  const cases: [Parameters<typeof push>[0], string, string[] | undefined, string | undefined][] = [
    [{ ...lib, config: { workdir: 'srv' } }, 'push(): config.workdir must be an absolute path (got "srv")', ['--workdir', 'srv'], '--workdir must be an absolute path (got "srv")'],
    [
      { ...lib, config: { env: ['NOEQ'] } },
      'push(): invalid config.env[0]: expected KEY=VALUE, and the 4-character entry has no "=" (its text is not shown: values may hold tokens)',
      ['--env', 'NOEQ'],
      'invalid --env: expected KEY=VALUE, and the 4-character argument has no "=" (its text is not shown: values may hold tokens)',
    ],
    [{ ...lib, config: { entrypoint: ['node'], entrypointShell: 'node x' } }, 'push(): config: give entrypoint or entrypointShell, not both', undefined, undefined],
    [{ ...lib, config: { cmdShell: ' ' } }, 'push(): config.cmdShell: empty command', undefined, undefined],
    // Let through before the base is read (it may be Windows), refused by the Linux image's config.
    [
      { ...lib, from: reg.ref('base/mixed:1'), platform: 'all', config: { workdir: 'C:\\app' } },
      'push(): config.workdir must be an absolute path (got "C:\\app")',
      ['--from', reg.ref('base/mixed:1'), '--platform', 'all', '--workdir', 'C:\\app'],
      '--workdir must be an absolute path (got "C:\\app")',
    ],
    [
      { ...lib, from: reg.ref('base/mixed:1'), platform: 'all', config: { volumes: ['/data', 'D:\\logs'] } },
      'push(): config.volumes[1] must be an absolute path (got "D:\\logs")',
      ['--from', reg.ref('base/mixed:1'), '--platform', 'all', '--volume', '/data', '--volume', 'D:\\logs'],
      '--volume must be an absolute path (got "D:\\logs")',
    ],
    [
      { ...lib, from: reg.ref('base/mixed:1'), platform: 'all', config: { user: 'NT AUTHORITY\\NETWORK SERVICE' } },
      'push(): config.user must be USER or USER:GROUP, without spaces (got "NT AUTHORITY\\NETWORK SERVICE")',
      ['--from', reg.ref('base/mixed:1'), '--platform', 'all', '--user', 'NT AUTHORITY\\NETWORK SERVICE'],
      '--user must be USER or USER:GROUP, without spaces (got "NT AUTHORITY\\NETWORK SERVICE")',
    ],
  ];
  for (const [opts, library, argv, flags] of cases) {
    const err = await rejection(push(opts));
    assert.equal(err.code, 'E_USAGE', err.message);
    assert.equal(err.message, library);
    const from = argv?.includes('--from') ? [] : ['--from', reg.ref('base/linux:1')];
    if (argv) assert.equal(errorLine(await cli(['push', ...from, '--to', reg.ref('app:1'), '--app', `${app}:/app`, ...argv], [reg]), err.code), flags);
  }
  assert.equal(reg.count({ kind: 'manifest', method: 'PUT' }), 0);
});

test('push: a regpush.json workdir, volumes or user that the Linux image of a mixed base refuses (platform all) is E_INPUT named as the file\'s key, not as a flag or option path', async () => {
  const reg = await fake();
  const linux = reg.seedImage('base/mixed', { platform: { os: 'linux', architecture: 'amd64' } });
  const windows = reg.seedImage('base/mixed', { platform: { os: 'windows', architecture: 'amd64' } });
  reg.seedIndex('base/mixed', [linux, windows], { tags: ['1'] });
  const app = appDir();
  const argv = ['push', '--from', reg.ref('base/mixed:1'), '--to', reg.ref('app:1'), '--app', `${app}:/app`, '--platform', 'all'];
  const dir = tempDir();
  writeFileSync(join(dir, 'regpush.json'), JSON.stringify({ workdir: 'C:\\app' }));
  // README: a regpush.json value the base does not take is E_INPUT, naming its key (the config's
  // own OS refuses it, once the base is read); a flag given for it is E_USAGE.
  assert.equal(errorLine(await cli(argv, [reg], dir), 'E_INPUT'), 'regpush.json workdir must be an absolute path (got "C:\\app")');
  // A flag given over the file's value is named as the flag.
  assert.equal(errorLine(await cli([...argv, '--workdir', 'D:\\srv'], [reg], dir), 'E_USAGE'), '--workdir must be an absolute path (got "D:\\srv")');
  writeFileSync(join(dir, 'regpush.json'), JSON.stringify({ volumes: ['/data', 'C:\\logs'] }));
  assert.equal(errorLine(await cli(argv, [reg], dir), 'E_INPUT'), 'regpush.json volumes[1] must be an absolute path (got "C:\\logs")');
  // A Windows account's name may hold spaces; the Linux image's user may not.
  writeFileSync(join(dir, 'regpush.json'), JSON.stringify({ user: 'NT AUTHORITY\\NETWORK SERVICE' }));
  assert.equal(errorLine(await cli(argv, [reg], dir), 'E_INPUT'), 'regpush.json user must be USER or USER:GROUP, without spaces (got "NT AUTHORITY\\NETWORK SERVICE")');
  assert.equal(reg.count({ kind: 'manifest', method: 'PUT' }), 0);
});

test('push: a library caller\'s healthcheck is named as config.healthcheck.* (its test, each timing), led by push():', async () => {
  const reg = await fake();
  reg.seedImage('base', { tags: ['1'] });
  const lib = { from: reg.ref('base:1'), to: reg.ref('app:1'), app: [{ src: appDir(), dest: '/app' }], ...fakeLibraryOptions(reg) };
  const cases: [NonNullable<Parameters<typeof push>[0]['config']>['healthcheck'], string][] = [
    [{ test: ['curl', 'localhost'] }, 'push(): config.healthcheck.test must start with NONE, CMD or CMD-SHELL (got "curl")'],
    [{ test: ['CMD'] }, 'push(): config.healthcheck.test: CMD needs a command'],
    [{ test: ['NONE', 'x'] }, 'push(): config.healthcheck.test: NONE takes no command'],
    [{ test: ['NONE'], retries: 3 }, 'push(): config.healthcheck.retries: a healthcheck test of NONE takes no timing'],
    [{ test: ['CMD-SHELL', 'a', 'b'] }, 'push(): config.healthcheck.test: CMD-SHELL takes exactly one command string (got 2)'],
    [{ test: ['CMD', 'true'], interval: 500 }, 'push(): config.healthcheck.interval must be 0 or at least 1ms (got 500 ns)'],
    [{ test: ['CMD', 'true'], retries: 1.5 }, 'push(): config.healthcheck.retries must be a whole number ≥ 0 (got 1.5)'],
  ];
  for (const [healthcheck, message] of cases) {
    const err = await rejection(push({ ...lib, config: { healthcheck } }));
    assert.equal(err.code, 'E_USAGE', err.message);
    assert.equal(err.message, message);
  }
  assert.equal(reg.count({ kind: 'manifest', method: 'PUT' }), 0);
});

test('push: the unset-$NAME warning names config.env[i] (KEY) to a library caller, --env KEY to the CLI', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'], config: { Env: ['PATH=/usr/bin'] } });
  const app = appDir();
  const tail = ' that is not set (neither in the base\'s Env nor by an earlier %s), so it became empty; for a literal "$" write \\$ (inside single quotes on a shell command line), or ${NAME:-} to mean empty on purpose';
  const { said, logger } = warnings();
  await push({ from: src.ref('base:1'), to: dst.ref('app:1'), app: [{ src: app, dest: '/app' }], config: { env: ['A=1', 'DB=postgres://u:pa$sword@h/db'] }, logger, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(said, [`push(): config.env[1] (DB): the "$" at offset 15 of its value starts a variable${tail.replace('%s', 'config.env')}`]);
  const r = await cli(['push', '--from', src.ref('base:1'), '--to', dst.ref('app:2'), '--app', app, '--env', 'A=1', '--env', 'DB=postgres://u:pa$sword@h/db'], [src, dst]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(warningsOf(r), [`--env DB: the "$" at offset 15 of its value starts a variable${tail.replace('%s', '--env')}`]);
});

test('copy: allTags with a tag or --tag, images without allTags: allTags, tags (X), images and jobs for the library, --all-tags, --tag X, --images and --jobs for the CLI', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'] });
  const lib = fakeLibraryOptions(src, dst);
  // A tag where --all-tags takes a repository is a reference of the wrong kind (E_REFERENCE); the rest are flags.
  const cases: [Parameters<typeof copy>[0], string, string[], string, string?][] = [
    [{ from: src.ref('base/app:1'), to: [dst.ref('app')], allTags: true, ...lib }, `copy(): allTags copies every tag under its own name: give repositories, not ${src.ref('base/app:1')}`, ['--all-tags', src.ref('base/app:1'), dst.ref('app')], `--all-tags copies every tag under its own name: give repositories, not ${src.ref('base/app:1')}`, 'E_REFERENCE'],
    [{ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, tags: ['stable'], ...lib }, 'copy(): allTags copies every tag under its own name: tags (stable) cannot go with it', ['--all-tags', '--tag', 'stable', src.ref('base/app'), dst.ref('app')], '--all-tags copies every tag under its own name: --tag stable cannot go with it'],
    [
      { from: src.ref('base/app:1'), to: [dst.ref('app:1')], images: 2, ...lib },
      "copy(): images is the number of tags copied at once with allTags; a single image's blob transfers are jobs",
      ['--images', '2', src.ref('base/app:1'), dst.ref('app:1')],
      "--images is the number of tags copied at once with --all-tags; a single image's blob transfers are --jobs",
    ],
  ];
  for (const [opts, library, argv, flags, code] of cases) {
    const err = await rejection(copy(opts));
    assert.equal(err.code, code ?? 'E_USAGE', err.message);
    assert.equal(err.message, library);
    assert.equal(errorLine(await cli(['copy', ...argv], [src, dst]), err.code), flags);
  }
  assert.equal(src.count() + dst.count(), 0, 'all refused before any request');
});

test('copy: a tag held elsewhere under noClobber, a repository of referrers only, an index missing a child: noClobber, referrers and platform for the library, --no-clobber, --referrers and --platform for the CLI', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  dst.seedImage('app', { tags: ['1'] });
  const lib = fakeLibraryOptions(src, dst);
  let err = await rejection(copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], noClobber: true, ...lib }));
  assert.equal(err.code, 'E_EXISTS');
  assert.match(err.message, /:1 already points at sha256:[0-9a-f]{64} \(noClobber\)$/);
  assert.match(errorLine(await cli(['copy', '--no-clobber', src.ref('app:1'), dst.ref('app:1')], [src, dst]), 'E_EXISTS'), /:1 already points at sha256:[0-9a-f]{64} \(--no-clobber\)$/);

  // Only a cosign signature's tag: nothing to copy with --all-tags --referrers.
  src.seedImage('signed', { tags: [`sha256-${img.digest.slice(7)}.sig`] });
  const only = "has no tags other than referrers' (sha256-<hex>, .sig, .att, .sbom), which %s copies with the images they refer to";
  err = await rejection(copy({ from: src.ref('signed'), to: [dst.ref('signed')], allTags: true, referrers: true, ...lib }));
  assert.equal(err.code, 'E_NOT_FOUND', err.message);
  assert.equal(err.message, `${src.host}/signed ${only.replace('%s', 'referrers')}`);
  assert.equal(errorLine(await cli(['copy', '--all-tags', '--referrers', src.ref('signed'), dst.ref('signed')], [src, dst]), err.code), `${src.host}/signed ${only.replace('%s', '--referrers')}`);

  const missing = `sha256:${'e'.repeat(64)}`;
  src.putManifest('broken', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: missing, size: 500, platform: { os: 'linux', architecture: 'arm64' } }] }, { tags: ['1'] });
  const tail = `lists its linux/arm64 image ${missing}, which the registry does not have (a broken index at the source; %s can leave that image out)`;
  err = await rejection(copy({ from: src.ref('broken:1'), to: [dst.ref('broken:1')], retries: 0, ...lib }));
  assert.equal(err.code, 'E_NOT_FOUND', err.message);
  assert.ok(err.message.endsWith(tail.replace('%s', 'platform')), err.message);
  const line = errorLine(await cli(['copy', '--retries', '0', src.ref('broken:1'), dst.ref('broken:1')], [src, dst]), 'E_NOT_FOUND');
  assert.ok(line.endsWith(tail.replace('%s', '--platform')), line);
});

test('copy --format: what it drops, what it leaves behind, what it cannot convert: format: "docker" and format for the library, --format docker and --format for the CLI', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app');
  src.putManifest('app', { ...img.manifest, layers: img.layers.map((l) => ({ ...l, annotations: { note: 'x' } })) }, { tags: ['1'] });
  const top = src.manifest('app', '1')!;
  src.seedImage('app', { subject: { mediaType: top.mediaType, digest: top.digest, size: top.size }, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' });
  src.seedImage('chart', { tags: ['1'] });
  const chart = src.manifest('chart', '1')!;
  const m = JSON.parse(chart.bytes.toString('utf8')) as { config: { mediaType: string } };
  src.putManifest('chart', { ...m, config: { ...m.config, mediaType: 'application/vnd.cncf.helm.config.v1+json' } }, { tags: ['2'] });
  const lib = fakeLibraryOptions(src, dst);

  const dropped = 'annotations on 2 layer descriptors dropped: Docker v2 manifests have none';
  const behind = "changes the image's digest: its 1 referrer (signatures, attestations) refers to the source digest and is not copied";
  const { said, logger } = warnings();
  await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], format: 'docker', referrers: true, logger, ...lib });
  assert.deepEqual(said.sort(), [`format: "docker" ${behind}`, `format: "docker": ${dropped}`]);
  const r = await cli(['copy', '--format', 'docker', '--referrers', src.ref('app:1'), dst.ref('app:2')], [src, dst]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(warningsOf(r).filter((w) => !w.includes('differs from the source')).sort(), [`--format docker ${behind}`, `--format docker: ${dropped}`]);

  const retype = 'the manifest\'s config is "application/vnd.cncf.helm.config.v1+json", not an image config: it is not an image, and converting it to Docker v2 would retype it; copy it without';
  const err = await rejection(copy({ from: src.ref('chart:2'), to: [dst.ref('chart:2')], format: 'docker', ...lib }));
  assert.equal(err.code, 'E_UNSUPPORTED', err.message);
  assert.equal(err.message, `${retype} format`);
  assert.equal(errorLine(await cli(['copy', '--format', 'docker', src.ref('chart:2'), dst.ref('chart:2')], [src, dst]), 'E_UNSUPPORTED'), `${retype} --format`);
});

test('sync: the pull-limit gate\'s stop names minRateLimit (N) and maxWaitMs, the CLI --min-ratelimit N and --max-wait; many failures point at details.result, the CLI at --json', async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 3 } });
  const dst = await fake();
  for (let i = 0; i < 7; i++) src.seedImage(`team/app${i}`, { tags: ['1'] });
  const yaml = ['images:', `  - { source: ${src.ref('team/app0')}, tags: ['1'], targets: [${dst.host}/mirror] }`, ''].join('\n');
  const dir = tempDir();
  writeFileSync(join(dir, 'one.yaml'), yaml);
  const lib = { ...fakeLibraryOptions(src, dst), logger: warnings().logger };
  const stopped = (reserve: string, wait: string) => `ratelimit-remaining stayed below ${reserve} (last 3) for 1 s (${wait}); stopped before ${src.ref('team/app0:1')}; a re-run copies what is missing`;
  const err = await rejection(sync({ spec: parseSyncFile(yaml, 'one.yaml'), minRateLimit: 5, maxWaitMs: 1000, rateLimitPollMs: 100, retries: 0, ...lib }));
  assert.equal(err.code, 'E_TOO_MANY_REQUESTS', err.message);
  assert.equal(err.message, `${src.host}: ${stopped('minRateLimit (5)', 'maxWaitMs')}`);
  assert.equal(errorLine(await cli(['sync', '--retries', '0', '--min-ratelimit', '5', '--max-wait', '1s', 'one.yaml'], [src, dst], dir), 'E_TOO_MANY_REQUESTS'), `${src.host}: ${stopped('--min-ratelimit 5', '--max-wait')}`);

  // Seven images failing (the source answers 503): five named, the rest counted.
  const down = await fake();
  const entries = Array.from({ length: 7 }, (_, i) => `  - { source: ${down.ref(`team/app${i}`)}, tags: ['1'], targets: [${dst.host}/mirror] }`);
  const many = ['images:', ...entries, ''].join('\n');
  writeFileSync(join(dir, 'many.yaml'), many);
  down.fault({ kind: 'manifest' }, { kind: 'status', status: 503, retryAfter: 0 });
  const failed = await rejection(sync({ spec: parseSyncFile(many, 'many.yaml'), images: 1, retries: 0, ...fakeLibraryOptions(down, dst), logger: warnings().logger }));
  assert.equal(failed.code, 'E_REGISTRY');
  assert.match(failed.message, /^all 7 images failed with E_REGISTRY: .*; and 2 more \(each in the report: details\.result\)$/);
  assert.match(errorLine(await cli(['sync', '--images', '1', '--retries', '0', 'many.yaml'], [down, dst], dir), 'E_REGISTRY'), /^all 7 images failed with E_REGISTRY: .*; and 2 more \(each in the report: --json\)$/);
});

test('sync: an index missing a child of the platforms an entry keeps says platforms can leave it out', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('app', { platform: { os: 'linux', architecture: 'amd64' } });
  const missing = `sha256:${'e'.repeat(64)}`;
  src.putManifest('app', {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: amd.mediaType, digest: amd.digest, size: amd.size, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: missing, size: 500, platform: { os: 'linux', architecture: 'arm64' } },
    ],
  }, { tags: ['1'] });
  const spec = parseSyncFile(['images:', `  - { source: ${src.ref('app')}, tags: ['1'], targets: [${dst.host}/mirror] }`, ''].join('\n'), 'sync.yaml');
  const err = await rejection(sync({ spec, retries: 0, ...fakeLibraryOptions(src, dst), logger: warnings().logger }));
  assert.equal(err.code, 'E_NOT_FOUND');
  assert.ok(err.message.endsWith('(a broken index at the source; platforms can leave that image out)'), err.message);
  // The CLI names the sync file's key, not a --platform flag sync does not have.
  const dir = tempDir();
  writeFileSync(join(dir, 'sync.yaml'), ['images:', `  - { source: ${src.ref('app')}, tags: ['1'], targets: [${dst.host}/mirror] }`, ''].join('\n'));
  const r = await cli(['sync', '--retries', '0', join(dir, 'sync.yaml')], [src, dst]);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /\(a broken index at the source; the entry's platforms can leave that image out\)/);
  assert.match(r.stderr, /\[E_NOT_FOUND\]\n$/);
  assert.doesNotMatch(r.stderr, /--platform/);
});

test('deleteImage: a tag, or a platform an index lists, without force: "add force: true" (the CLI\'s "add --force" is pinned in manage-commands)', async () => {
  const reg = await fake();
  const amd = reg.seedImage('app', { tags: ['1'], platform: { os: 'linux', architecture: 'amd64' } });
  reg.seedIndex('app', [amd], { tags: ['multi'] });
  const opts = fakeLibraryOptions(reg);
  let err = await rejection(deleteImage(reg.ref('app:1'), opts));
  assert.equal(err.code, 'E_USAGE');
  assert.match(err.message, /\. Delete by digest \(.*\) or add force: true$/);
  // The tag alone is untagImage()'s, named as the library's (the CLI's `regpush untag REF` is pinned in manage-commands).
  assert.ok(err.message.includes(`. To remove tag 1 alone: untagImage(${JSON.stringify(reg.ref('app:1'))}). Delete by digest`), err.message);
  err = await rejection(deleteImage(reg.ref(`app@${amd.digest}`), opts));
  assert.equal(err.code, 'E_USAGE', err.message);
  assert.match(err.message, /\. Delete the index first, or add force: true to delete it anyway$/);
  assert.ok(reg.manifest('app', amd.digest), 'nothing deleted');
});

test('advice naming another operation: the library is told of its function (listTags(), copy(), untagImage()), the CLI of its command line', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1'] });
  const opts = fakeLibraryOptions(reg);
  const cases: [() => Promise<unknown>, string, string[], string, number][] = [
    [
      () => listRepositories(`${reg.host}/app`, opts),
      `"${reg.host}/app" is not a registry host; give e.g. registry.example.com or 127.0.0.1:5000 (a repository's tags: listTags(REPOSITORY))`,
      ['catalog', `${reg.host}/app`],
      `"${reg.host}/app" is not a registry host; give e.g. registry.example.com or 127.0.0.1:5000 (a repository's tags: regpush tags REPOSITORY)`,
      2,
    ],
    [
      () => tagImage(reg.ref('app:1'), ['other/app:2'], opts),
      'new tag "other/app:2" is not a plain tag: tag adds tags in ' + `${reg.host}/app only; to put the image in another repository use copy()`,
      ['tag', reg.ref('app:1'), 'other/app:2'],
      `new tag "other/app:2" is not a plain tag: tag adds tags in ${reg.host}/app only; to put the image in another repository use \`regpush copy\``,
      2,
    ],
    [
      () => untagImage(reg.ref(`app@${img.digest}`), opts),
      `${reg.ref(`app@${img.digest}`)} names a digest: untagImage() removes a tag (${reg.host}/app:TAG); to delete the manifest itself, use deleteImage(${JSON.stringify(reg.ref(`app@${img.digest}`))})`,
      ['untag', reg.ref(`app@${img.digest}`)],
      `${reg.ref(`app@${img.digest}`)} names a digest: untag removes a tag (${reg.host}/app:TAG); to delete the manifest itself, use \`regpush delete ${reg.ref(`app@${img.digest}`)}\``,
      2,
    ],
    [
      () => untagImage(reg.ref('app'), opts),
      `${reg.host}/app names no tag: untagImage() removes the tag it is given, written out (${reg.host}/app:TAG); "latest" is not assumed`,
      ['untag', reg.ref('app')],
      `${reg.host}/app names no tag: untag removes the tag it is given, written out (${reg.host}/app:TAG); "latest" is not assumed`,
      2,
    ],
  ];
  for (const [call, library, argv, command, exit] of cases) {
    const err = await rejection(call());
    assert.equal(err.code, 'E_REFERENCE', err.message);
    assert.equal(EXIT_CODES[err.code], exit);
    assert.equal(err.message, library);
    assert.equal(errorLine(await cli(argv, [reg]), err.code), command);
  }
  // A registry without a catalog: listTags() of a repository, as the CLI's `regpush tags` (pinned in manage-commands).
  reg.fault({ kind: 'catalog' }, { kind: 'status', status: 404 });
  const err = await rejection(listRepositories(reg.host, opts));
  assert.equal(err.code, 'E_UNSUPPORTED');
  assert.ok(err.message.endsWith(`: list a repository's tags with listTags(${reg.host}/REPOSITORY)`), err.message);
  assert.equal(reg.count({ method: 'DELETE' }), 0);
});

test('push: the working folder\'s .dockerignore that a source folder inside it does not get is said to a library caller too, naming the source by its option path', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'] });
  const project = tempDir();
  writeFileSync(join(project, '.dockerignore'), '**/*.map\n');
  mkdirSync(join(project, 'dist'));
  writeFileSync(join(project, 'dist', 'server.js'), 'x');
  writeFileSync(join(project, 'dist', 'server.js.map'), '{}');
  mkdirSync(join(project, 'deps'));
  writeFileSync(join(project, 'deps', 'a.js'), 'x');
  const { said, logger } = warnings();
  await push({ from: src.ref('base/app:1'), to: dst.ref('app:1'), cwd: project, layers: [{ sources: [{ src: './deps', dest: '/deps' }] }], app: [{ src: './dist', dest: '/app' }], logger, ...fakeLibraryOptions(src, dst) });
  // deps holds nothing the file would leave out: only app[0] is named.
  assert.deepEqual(said, ['./.dockerignore does not apply to app[0] (it would leave out dist/server.js.map): a source folder is filtered by its own .dockerignore only; to leave files out of it, put a .dockerignore in that folder']);
  // With its own .dockerignore, the source is filtered as the user wrote it: nothing to say.
  writeFileSync(join(project, 'dist', '.dockerignore'), '*.map\n');
  const quiet = warnings();
  await push({ from: src.ref('base/app:1'), to: dst.ref('app:2'), cwd: project, app: [{ src: './dist', dest: '/app' }], logger: quiet.logger, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(quiet.said, []);
});
