// The pure pieces behind several layers, --format, annotations, healthcheck and the exec-form
// checks: media-type conversion, multi-layer composition, flag parsing and the empty-layer check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configChangesFromFlags, execForm, shellForm } from '../../src/cli/flags.js';
import { parseAnnotations, parseLayerFlag } from '../../src/cli/commands/push.js';
import { checkProjectConfig } from '../../src/cli/project-config.js';
import { InputError, UnsupportedError, UsageError } from '../../src/errors.js';
import { composeIndex, composeManifest, rewriteConfig } from '../../src/image/compose.js';
import { applyConfigChanges, checkConfigChanges, scratchConfig } from '../../src/image/config.js';
import { convertIndex, convertIndexTo, convertLayerMediaType, convertManifest, DroppedFields, parseFormat } from '../../src/image/convert.js';
import { MediaType } from '../../src/image/mediatypes.js';
import { flagNames, optionPaths } from '../../src/option-names.js';
import { checkInputs } from '../../src/push/inputs.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from '../../src/image/types.js';
import { hasContent, scanSources, WALK_TURN_ENTRIES } from '../../src/layer/content.js';
import { parseAppFlag } from '../../src/layer/sources.js';

const hex = (c: string) => `sha256:${c.repeat(64)}`;
/** What the CLI calls the format option in the advice a refusal gives. */
const CLI = flagNames({ format: '--format' });
const d = (mediaType: string, c: string, extra: Partial<Descriptor> = {}): Descriptor => ({ mediaType, digest: hex(c), size: 10, ...extra });

const dockerManifest: ImageManifest = {
  schemaVersion: 2,
  mediaType: MediaType.DOCKER_MANIFEST,
  config: d(MediaType.DOCKER_CONFIG, 'a'),
  layers: [d(MediaType.DOCKER_LAYER_GZIP, 'b'), d(MediaType.DOCKER_FOREIGN_LAYER, 'c', { urls: ['https://example.com/c'] })],
};
const ociManifest: ImageManifest = {
  schemaVersion: 2,
  mediaType: MediaType.OCI_MANIFEST,
  config: d(MediaType.OCI_CONFIG, 'a'),
  layers: [d(MediaType.OCI_LAYER_GZIP, 'b', { annotations: { k: 'v' } })],
  annotations: { 'org.opencontainers.image.base.name': 'x' },
};

test('convertManifest: Docker v2 → OCI keeps digests, converts every type (foreign → non-distributable, urls kept)', () => {
  const out = convertManifest(dockerManifest, 'oci');
  assert.equal(out.mediaType, MediaType.OCI_MANIFEST);
  assert.equal(out.config.mediaType, MediaType.OCI_CONFIG);
  assert.deepEqual(out.layers.map((l) => l.mediaType), [MediaType.OCI_LAYER_GZIP, MediaType.OCI_LAYER_NONDIST_GZIP]);
  assert.deepEqual(out.layers.map((l) => l.digest), dockerManifest.layers.map((l) => l.digest));
  assert.deepEqual(out.layers[1]!.urls, ['https://example.com/c']);
  assert.equal(dockerManifest.mediaType, MediaType.DOCKER_MANIFEST, 'input untouched');
  assert.equal(convertManifest(dockerManifest, 'docker'), dockerManifest, 'same family: same object');
});

test('convertManifest: OCI → Docker drops annotations (and says so); zstd and subjects are refused with a reason', () => {
  const dropped: string[] = [];
  const out = convertManifest(ociManifest, 'docker', (w) => dropped.push(w));
  assert.equal(out.mediaType, MediaType.DOCKER_MANIFEST);
  assert.equal(out.config.mediaType, MediaType.DOCKER_CONFIG);
  assert.equal(out.layers[0]!.mediaType, MediaType.DOCKER_LAYER_GZIP);
  assert.equal(out.layers[0]!.annotations, undefined);
  assert.equal(out.annotations, undefined);
  assert.match(dropped.join(), /org\.opencontainers\.image\.base\.name/);
  const zstd = { ...ociManifest, layers: [d(MediaType.OCI_LAYER_ZSTD, 'e')] };
  assert.throws(() => convertManifest(zstd, 'docker'), (e: unknown) => e instanceof UnsupportedError && e.code === 'E_UNSUPPORTED' && /zstd.*no Docker v2 equivalent/.test((e as Error).message));
  assert.throws(() => convertManifest({ ...ociManifest, subject: d(MediaType.OCI_MANIFEST, 'f') }, 'docker'), { name: 'UnsupportedError', code: 'E_UNSUPPORTED', message: /subject/ });
  assert.throws(() => convertManifest({ ...ociManifest, subject: d(MediaType.OCI_MANIFEST, 'f') }, 'docker', undefined, undefined, true, CLI), { name: 'UnsupportedError', code: 'E_UNSUPPORTED', message: /has a subject .*Docker v2 cannot carry it: use --format oci$/ });
  const artifactIndex: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [], artifactType: 'application/x-thing' };
  assert.throws(() => convertIndex(artifactIndex, 'docker', undefined, optionPaths('copy()')), { name: 'UnsupportedError', code: 'E_UNSUPPORTED', message: /^the base index is an artifact .*Docker v2 cannot carry it: use format: "oci"$/ });
  // A config that is not an image's (an artifact's empty config, a Flux or Helm config) is not retyped into one.
  for (const config of ['application/vnd.oci.empty.v1+json', 'application/vnd.cncf.flux.config.v1+json']) {
    // The advice names the format option as the caller gave it: the CLI's flag, the library's option.
    assert.throws(() => convertManifest({ ...ociManifest, config: d(config, 'c') }, 'docker', undefined, undefined, true, CLI), (e: unknown) => e instanceof UnsupportedError && e.code === 'E_UNSUPPORTED' && /not an image config.*; copy it without --format$/.test((e as Error).message), config);
    assert.throws(() => convertManifest({ ...ociManifest, config: d(config, 'c') }, 'docker', undefined, undefined, true, optionPaths('copy()')), { name: 'UnsupportedError', code: 'E_UNSUPPORTED', message: /not an image config.*; copy it without format$/ }, config);
  }
  assert.throws(() => convertManifest({ ...dockerManifest, config: d('application/vnd.docker.plugin.v1+json', 'c') }, 'oci'), { name: 'UnsupportedError', code: 'E_UNSUPPORTED', message: /^the manifest's config is "application\/vnd\.docker\.plugin\.v1\+json", not an image config/ });
  assert.throws(() => convertLayerMediaType(MediaType.OCI_LAYER_NONDIST, 'docker'), { name: 'UnsupportedError', code: 'E_UNSUPPORTED', message: /^layer type application\/vnd\.oci\.image\.layer\.nondistributable\.v1\.tar has no Docker v2 equivalent$/ });
  assert.equal(convertLayerMediaType(MediaType.DOCKER_LAYER_GZIP, 'docker'), MediaType.DOCKER_LAYER_GZIP);
});

test('convertLayerMediaType: an uncompressed layer has its type in both families; the refusal offers leaving --format out only where that keeps it', () => {
  assert.equal(convertLayerMediaType('application/vnd.docker.image.rootfs.diff.tar', 'oci'), 'application/vnd.oci.image.layer.v1.tar');
  assert.equal(convertLayerMediaType('application/vnd.oci.image.layer.v1.tar', 'docker'), 'application/vnd.docker.image.rootfs.diff.tar');
  const out = convertManifest({ ...dockerManifest, layers: [d('application/vnd.docker.image.rootfs.diff.tar', 'e')] }, 'oci');
  assert.deepEqual(out.layers, [d('application/vnd.oci.image.layer.v1.tar', 'e')]);
  const refusal = (byFormat?: boolean, names = CLI): string => {
    try {
      convertLayerMediaType(MediaType.OCI_LAYER_ZSTD, 'docker', byFormat, names);
    } catch (e) {
      assert.ok(e instanceof UnsupportedError);
      assert.equal(e.code, 'E_UNSUPPORTED');
      return e.message;
    }
    return assert.fail('zstd converted to Docker v2');
  };
  assert.match(refusal(), /no Docker v2 equivalent; push with --format oci \(or leave --format out\) to keep it$/);
  assert.match(refusal(false), /no Docker v2 equivalent; push with --format oci to keep it$/);
  // A library caller is told of its own option.
  assert.match(refusal(true, optionPaths('push()')), /no Docker v2 equivalent; push\(\) with format: "oci" \(or leave format out\) to keep it$/);
  assert.match(refusal(true, optionPaths('copy()')), /no Docker v2 equivalent; copy\(\) with format: "oci" \(or leave format out\) to keep it$/);
  // The CLI's copy is told to copy again, not to push (it said "push with --format oci" to a copy).
  assert.match(refusal(true, flagNames({ format: '--format' }, 'copy')), /no Docker v2 equivalent; copy with --format oci \(or leave --format out\) to keep it$/);
});

test('convertIndex / convertIndexTo: list ↔ index, children re-pointed, attestations dropped', () => {
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_INDEX,
    manifests: [
      d(MediaType.OCI_MANIFEST, '1', { platform: { os: 'linux', architecture: 'amd64' }, annotations: { a: 'b' } }),
      d(MediaType.OCI_MANIFEST, '2', { platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } }),
    ],
    annotations: { x: 'y' },
  };
  const list = convertIndex(index, 'docker');
  assert.equal(list.mediaType, MediaType.DOCKER_LIST);
  assert.equal(list.annotations, undefined);
  assert.ok(list.manifests.every((m) => m.mediaType === MediaType.DOCKER_MANIFEST && m.annotations === undefined));
  const dropped: string[] = [];
  const re = convertIndexTo(index, 'docker', new Map([[hex('1'), { digest: hex('9'), mediaType: MediaType.DOCKER_MANIFEST, size: 77 }]]), (w) => dropped.push(w));
  assert.deepEqual(re.manifests.map((m) => [m.digest, m.size, m.mediaType]), [[hex('9'), 77, MediaType.DOCKER_MANIFEST]]);
  assert.equal(re.manifests[0]!.platform!.architecture, 'amd64');
  assert.ok(dropped.some((w) => /attestation/.test(w)));
  assert.equal(parseFormat('OCI', 'push(): format'), 'oci');
  assert.throws(() => parseFormat('v2s2', 'push(): format'), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && e.message === 'push(): format must be "oci" or "docker" (got "v2s2")');
});

test('DroppedFields: descriptors whose annotations Docker v2 drops are counted, one line for the whole conversion; none when there were none', () => {
  const annotated = { annotations: { 'containerd.io/snapshot/stargz/toc.digest': hex('d') } };
  const m: ImageManifest = { ...ociManifest, annotations: undefined, layers: [d(MediaType.OCI_LAYER_GZIP, 'b', annotated), d(MediaType.OCI_LAYER_GZIP, 'c'), d(MediaType.OCI_LAYER_GZIP, 'e', annotated)] };
  const tally = new DroppedFields();
  const out = convertManifest(m, 'docker', undefined, tally);
  assert.ok(out.layers.every((l) => l.annotations === undefined));
  assert.equal(tally.line(), 'annotations on 2 layer descriptors dropped: Docker v2 manifests have none');
  // The index entries count too; an entry without annotations, an attestation (dropped whole) and an empty map do not.
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_INDEX,
    manifests: [
      d(MediaType.OCI_MANIFEST, '1', { platform: { os: 'linux', architecture: 'amd64' }, annotations: { a: 'b' } }),
      d(MediaType.OCI_MANIFEST, '3', { platform: { os: 'linux', architecture: 'arm64' }, annotations: {} }),
      d(MediaType.OCI_MANIFEST, '2', { platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } }),
    ],
  };
  convertIndexTo(index, 'docker', new Map(), undefined, tally);
  assert.equal(tally.line(), 'annotations on 2 layer descriptors and 1 index entry dropped: Docker v2 manifests and manifest lists have none');
  const onlyIndex = new DroppedFields();
  convertIndexTo(index, 'docker', new Map(), undefined, onlyIndex);
  assert.equal(onlyIndex.line(), 'annotations on 1 index entry dropped: Docker v2 manifest lists have none');
  const config = new DroppedFields();
  convertManifest({ ...m, config: d(MediaType.OCI_CONFIG, 'a', annotated) }, 'docker', undefined, config);
  assert.equal(config.line(), 'annotations on 1 config descriptor and 2 layer descriptors dropped: Docker v2 manifests have none');
  // Nothing to say: no annotations, or a conversion to OCI (which keeps room for them).
  const none = new DroppedFields();
  convertManifest({ ...m, layers: [d(MediaType.OCI_LAYER_GZIP, 'c')] }, 'docker', undefined, none);
  convertManifest(dockerManifest, 'oci', undefined, none);
  assert.equal(none.line(), undefined);
});

test('DroppedFields: artifactType and data (embedded content) are dropped and named with annotations; urls on foreign layers and the list entries\' platform (os.version, os.features, variant) are kept', () => {
  const data = Buffer.from('{}').toString('base64');
  const m: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    config: d(MediaType.OCI_CONFIG, 'a', { data, artifactType: '' }),
    layers: [
      d(MediaType.OCI_LAYER_GZIP, 'b', { annotations: { k: 'v' }, data }),
      d(MediaType.OCI_LAYER_NONDIST_GZIP, 'c', { urls: ['https://example.com/c'], 'org.example.unknown': 1 }),
    ],
  };
  const tally = new DroppedFields();
  const out = convertManifest(m, 'docker', undefined, tally);
  assert.deepEqual(out.config, { mediaType: MediaType.DOCKER_CONFIG, digest: hex('a'), size: 10 }, 'data and the empty artifactType gone');
  assert.deepEqual(out.layers[0], { mediaType: MediaType.DOCKER_LAYER_GZIP, digest: hex('b'), size: 10 });
  assert.deepEqual(out.layers[1]!.urls, ['https://example.com/c'], 'a foreign layer keeps its urls');
  assert.equal(out.layers[1]!['org.example.unknown'], 1, 'a field neither family defines is left alone');
  assert.equal(tally.line(), 'annotations on 1 layer descriptor; data (embedded content) on 1 config descriptor and 1 layer descriptor dropped: Docker v2 manifests have none of these');
  const platform = { os: 'windows', architecture: 'arm64', variant: 'v8', 'os.version': '10.0.20348.1', 'os.features': ['win32k'] };
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_INDEX,
    manifests: [d(MediaType.OCI_MANIFEST, '1', { platform, artifactType: 'application/vnd.example', data, urls: ['https://example.com/1'] })],
  };
  const entries = new DroppedFields();
  const list = convertIndexTo(index, 'docker', new Map([[hex('1'), { digest: hex('9'), mediaType: MediaType.DOCKER_MANIFEST, size: 77 }]]), undefined, entries);
  assert.deepEqual(list.manifests, [{ mediaType: MediaType.DOCKER_MANIFEST, digest: hex('9'), size: 77, platform, urls: ['https://example.com/1'] }]);
  assert.equal(entries.line(), 'artifactType on 1 index entry; data (embedded content) on 1 index entry dropped: Docker v2 manifest lists have none of these');
  const one = new DroppedFields();
  convertIndexTo({ ...index, manifests: [d(MediaType.OCI_MANIFEST, '1', { platform, data })] }, 'docker', new Map(), undefined, one);
  assert.equal(one.line(), 'data (embedded content) on 1 index entry dropped: Docker v2 manifest lists have none');
  // To OCI nothing is dropped.
  const oci = new DroppedFields();
  assert.deepEqual(convertIndexTo({ ...index, mediaType: MediaType.DOCKER_LIST }, 'oci', new Map(), undefined, oci).manifests[0]!.data, data);
  assert.equal(oci.line(), undefined);
});

test('composeManifest/rewriteConfig with several layers: appended in order, one diff_id and history entry each', () => {
  const layers = [d(MediaType.OCI_LAYER_GZIP, '3'), d(MediaType.OCI_LAYER_GZIP, '4')];
  const m = composeManifest(ociManifest, d(MediaType.OCI_CONFIG, '5'), layers, { build: '42' }, 'oci');
  assert.deepEqual(m.layers.map((l) => l.digest), [hex('b'), hex('3'), hex('4')]);
  assert.deepEqual(m.annotations, { 'org.opencontainers.image.base.name': 'x', build: '42' });
  const scratch = composeManifest(undefined, d(MediaType.OCI_CONFIG, '5'), layers, { build: '42' }, 'oci');
  assert.deepEqual(scratch.annotations, { build: '42' });
  const records = [
    { diffId: hex('6'), created: '2024-01-01T00:00:00.000Z', createdBy: 'regpush: layer /deps' },
    { diffId: hex('7'), created: '2024-01-01T00:00:00.000Z', createdBy: 'regpush: layer /app' },
  ];
  const cfg = rewriteConfig(scratchConfig({ os: 'linux', architecture: 'amd64' }), undefined, records);
  assert.deepEqual(cfg.rootfs.diff_ids, [hex('6'), hex('7')]);
  assert.deepEqual(cfg.history!.map((h) => h.created_by), ['regpush: layer /deps', 'regpush: layer /app']);
  const none = rewriteConfig(scratchConfig({ os: 'linux', architecture: 'amd64' }), { user: 'x' }, []);
  assert.equal(none.history!.at(-1)!.empty_layer, true, 'no layers: a config-change entry');
  const idx = JSON.parse(composeIndex(undefined, [{ manifest: m, bytes: Buffer.from(JSON.stringify(m)), platform: { os: 'linux', architecture: 'amd64' } }], { a: 'b' }, 'oci').bytes.toString());
  assert.deepEqual(idx.annotations, { a: 'b' });
  const dockerIdx = JSON.parse(composeIndex(undefined, [{ manifest: { ...dockerManifest }, bytes: Buffer.from('{}'), platform: { os: 'linux', architecture: 'amd64' } }], undefined, 'docker').bytes.toString());
  assert.equal(dockerIdx.mediaType, MediaType.DOCKER_LIST);
});

test('healthcheck and stop signal in the config: Docker field names, zero durations left out, bad tests refused', () => {
  const base = scratchConfig({ os: 'linux', architecture: 'amd64' });
  const out = applyConfigChanges(base, { healthcheck: { test: ['CMD-SHELL', 'true'], interval: 30e9, timeout: 0, retries: 3 }, stopSignal: 'SIGQUIT' }, undefined);
  assert.deepEqual(out.config!.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 30e9, Retries: 3 });
  assert.equal(out.config!.StopSignal, 'SIGQUIT');
  assert.throws(() => applyConfigChanges(base, { healthcheck: { test: ['RUN', 'x'] } }, undefined), { name: 'UsageError', code: 'E_USAGE', message: /^config\.healthcheck\.test must start with NONE, CMD or CMD-SHELL \(got "RUN"\)$/ });
  assert.throws(() => applyConfigChanges(base, { healthcheck: { test: ['CMD'] } }, undefined), { name: 'UsageError', code: 'E_USAGE', message: /needs a command/ });
});

test('exec form: JSON array value, the whitespace warning naming both forms, shell forms, and the refusals', () => {
  assert.deepEqual(execForm('["dotnet","App.dll"]'), ['dotnet', 'App.dll']);
  assert.deepEqual(execForm(['["a b"]']), ['a b']);
  assert.throws(() => execForm('[not json'), { name: 'UsageError', code: 'E_USAGE', message: /not a JSON array/ });
  assert.throws(() => execForm('[1,2]'), { name: 'UsageError', code: 'E_USAGE', message: /array of strings/ });
  const warnings: string[] = [];
  assert.deepEqual(execForm('/bin/sh /srv/app/server.sh', 'entrypoint', (m) => warnings.push(m)), ['/bin/sh /srv/app/server.sh']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /--entrypoint \/bin\/sh --entrypoint \/srv\/app\/server\.sh/);
  assert.match(warnings[0]!, /--entrypoint '\["\/bin\/sh","\/srv\/app\/server\.sh"\]'/);
  assert.match(warnings[0]!, /--entrypoint-shell/);
  execForm(['/bin/sh', '-c', 'echo a b'], 'entrypoint', (m) => warnings.push(m));
  assert.equal(warnings.length, 1, 'several values: no warning (spaces inside one argument are intended)');
  assert.equal(shellForm('echo $HOME', 'cmd-shell'), 'echo $HOME');
  assert.throws(() => shellForm(' ', 'cmd-shell'), { name: 'UsageError', code: 'E_USAGE', message: /^--cmd-shell: empty command$/ });
  assert.deepEqual(configChangesFromFlags({ 'cmd-shell': 'node server.js' }), { cmdShell: 'node server.js' });
  assert.throws(() => configChangesFromFlags({ cmd: 'a', 'cmd-shell': 'b' }), { name: 'UsageError', code: 'E_USAGE', message: /^give --cmd or --cmd-shell, not both$/ });
});

test('shell form, per image as a Dockerfile builds it: the base\'s Shell, else cmd /S /C for Windows, else /bin/sh -c', () => {
  const config = (os: string, shell?: string[]): ImageConfig => ({ os, architecture: 'amd64', config: { ...(shell ? { Shell: shell } : {}), Cmd: ['base'] }, rootfs: { type: 'layers', diff_ids: [] } });
  const changes = configChangesFromFlags({ 'entrypoint-shell': 'dotnet App.dll', 'cmd-shell': 'echo ready' });
  const linux = applyConfigChanges(config('linux'), changes, undefined).config!;
  assert.deepEqual([linux.Entrypoint, linux.Cmd], [['/bin/sh', '-c', 'dotnet App.dll'], ['/bin/sh', '-c', 'echo ready']]);
  const windows = applyConfigChanges(config('windows'), changes, undefined).config!;
  assert.deepEqual(windows.Entrypoint, ['cmd', '/S', '/C', 'dotnet App.dll'], 'nanoserver has no /bin/sh');
  const pwsh = applyConfigChanges(config('windows', ['powershell', '-Command']), changes, undefined).config!;
  assert.deepEqual(pwsh.Entrypoint, ['powershell', '-Command', 'dotnet App.dll'], 'the base\'s SHELL');
  const bash = applyConfigChanges(config('linux', ['/bin/bash', '-c']), { entrypointShell: 'run' }, undefined).config!;
  assert.deepEqual([bash.Entrypoint, bash.Cmd], [['/bin/bash', '-c', 'run'], null], 'a new entrypoint resets the base\'s Cmd');
  assert.throws(() => checkConfigChanges({ entrypoint: ['a'], entrypointShell: 'b' }), { name: 'UsageError', code: 'E_USAGE', message: /^config: give entrypoint or entrypointShell, not both$/ });
  assert.throws(() => checkConfigChanges({ cmdShell: ' ' }), { name: 'UsageError', code: 'E_USAGE', message: /^config\.cmdShell: empty command$/ });
});

test('healthcheck flags: shell, JSON exec form, NONE, durations; timing without a check refused', () => {
  assert.deepEqual(configChangesFromFlags({ healthcheck: 'curl -f http://localhost/ || exit 1', 'healthcheck-interval': '1m30s', 'healthcheck-retries': 2 }).healthcheck, {
    test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'], interval: 90e9, retries: 2,
  });
  assert.deepEqual(configChangesFromFlags({ healthcheck: '["/bin/check","--quick"]' }).healthcheck, { test: ['CMD', '/bin/check', '--quick'] });
  assert.deepEqual(configChangesFromFlags({ healthcheck: 'none' }).healthcheck, { test: ['NONE'] });
  // The form docker inspect prints and Compose takes: used as it is, not given a second CMD.
  assert.deepEqual(configChangesFromFlags({ healthcheck: '["CMD","curl","-f","http://localhost/"]' }).healthcheck, { test: ['CMD', 'curl', '-f', 'http://localhost/'] });
  assert.deepEqual(configChangesFromFlags({ healthcheck: '["CMD-SHELL","curl -f http://localhost/ || exit 1"]' }).healthcheck, { test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'] });
  assert.throws(() => configChangesFromFlags({ healthcheck: '["CMD-SHELL","a","b"]' }), { name: 'UsageError', code: 'E_USAGE', message: /exactly one command string/ });
  assert.throws(() => configChangesFromFlags({ healthcheck: '["CMD"]' }), { name: 'UsageError', code: 'E_USAGE', message: /needs a command/ });
  assert.throws(() => configChangesFromFlags({ healthcheck: '["NONE"]' }), { name: 'UsageError', code: 'E_USAGE', message: /write NONE/ });
  // Forms Docker refuses: under 1ms, NONE with a command or timing, CMD-SHELL with several strings (the library's config too).
  // Named as the flag, the value as written (CLI); as the option, in the nanoseconds it takes (library).
  assert.throws(() => configChangesFromFlags({ healthcheck: 'true', 'healthcheck-interval': '500us' }), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && e.message === '--healthcheck-interval must be 0 or at least 1ms (got 500us)');
  assert.throws(() => configChangesFromFlags({ healthcheck: 'true', 'healthcheck-start-period': '0.5ms' }), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && e.message === '--healthcheck-start-period must be 0 or at least 1ms (got 0.5ms)');
  assert.throws(() => checkConfigChanges({ healthcheck: { test: ['CMD-SHELL', 'true'], interval: 500_000 } }), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && e.message === 'config.healthcheck.interval must be 0 or at least 1ms (got 500000 ns)');
  assert.throws(() => checkConfigChanges({ healthcheck: { test: ['CMD-SHELL', 'true'], timeout: -1 } }), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && e.message === 'config.healthcheck.timeout must be a non-negative duration (got -1 ns)');
  checkConfigChanges(configChangesFromFlags({ healthcheck: 'true', 'healthcheck-interval': '1ms', 'healthcheck-timeout': '0' }));
  assert.throws(() => checkConfigChanges({ healthcheck: { test: ['NONE', 'x'] } }), { code: 'E_USAGE', message: 'config.healthcheck.test: NONE takes no command' });
  assert.throws(() => checkConfigChanges({ healthcheck: { test: ['NONE'], interval: 5e9 } }), { code: 'E_USAGE', message: 'config.healthcheck.interval: a healthcheck test of NONE takes no timing' });
  assert.throws(() => checkConfigChanges({ healthcheck: { test: ['CMD-SHELL', 'a', 'b'] } }), { name: 'UsageError', code: 'E_USAGE', message: /exactly one command string \(got 2\)/ });
  assert.throws(() => configChangesFromFlags({ 'healthcheck-timeout': '5s' }), { name: 'UsageError', code: 'E_USAGE', message: /^--healthcheck-timeout needs --healthcheck: it times the check it gives$/ });
  assert.throws(() => configChangesFromFlags({ 'healthcheck-interval': '5s', 'healthcheck-retries': 2 }), { name: 'UsageError', code: 'E_USAGE', message: /^--healthcheck-interval, --healthcheck-retries need --healthcheck/ });
  assert.throws(() => configChangesFromFlags({ healthcheck: 'NONE', 'healthcheck-retries': 1 }), { name: 'UsageError', code: 'E_USAGE', message: /^--healthcheck NONE takes no timing flags$/ });
  assert.throws(() => configChangesFromFlags({ healthcheck: 'x', 'healthcheck-retries': -1 }), { name: 'UsageError', code: 'E_USAGE', message: /^--healthcheck-retries must be a whole number ≥ 0 \(got -1\)$/ });
  assert.equal(configChangesFromFlags({ 'stop-signal': '15' }).stopSignal, '15');
  assert.throws(() => configChangesFromFlags({ 'stop-signal': 'kill me' }), { name: 'UsageError', code: 'E_USAGE', message: /^--stop-signal must be a signal name .* \(got "kill me"\)$/ });
});

test('--layer parsing: platform qualifier, SRC[:DEST], messages name --layer; --annotation parsing', () => {
  assert.deepEqual(parseLayerFlag('./deps:/srv/deps', '/app', parseAppFlag), { sources: [{ src: './deps', dest: '/srv/deps' }] });
  assert.deepEqual(parseLayerFlag('./out', '/app', parseAppFlag), { sources: [{ src: './out', dest: '/app/' }] });
  assert.deepEqual(parseLayerFlag('linux/arm64=./out/arm64:/app', '/x', parseAppFlag), { platform: 'linux/arm64', sources: [{ src: './out/arm64', dest: '/app' }] });
  assert.deepEqual(parseLayerFlag('linux/arm/v7=out', '/x', parseAppFlag), { platform: 'linux/arm/v7', sources: [{ src: 'out', dest: '/x/' }] });
  assert.deepEqual(parseLayerFlag('./a/b=c', '/x', parseAppFlag), { sources: [{ src: './a/b=c', dest: '/x/' }] }, 'a path with "=" stays a path');
  assert.throws(() => parseLayerFlag('out:rel', '/x', parseAppFlag), { name: 'UsageError', code: 'E_USAGE', message: /--layer out:rel: destination "rel" must be an absolute path/ });
  assert.deepEqual(parseAnnotations(['a=1', 'b=x=y', 'a=2']), { a: '2', b: 'x=y' });
  assert.equal(parseAnnotations([]), undefined);
  assert.throws(() => parseAnnotations(['=v']), { name: 'UsageError', code: 'E_USAGE', message: /^invalid --annotation "=v": expected KEY=VALUE$/ });
  assert.throws(() => parseAnnotations(['k']), { name: 'UsageError', code: 'E_USAGE', message: /^invalid --annotation "k": expected KEY=VALUE$/ });
});

test('--layer PLATFORM=: the os(osversion)/arch spelling --platform takes; a misspelt one is one E_USAGE line, as for --platform; paths stay paths', () => {
  const ltsc = 'windows(10.0.20348.1)/amd64';
  assert.deepEqual(parseLayerFlag(`${ltsc}=./out/ltsc2022:/app`, '/x', parseAppFlag), { platform: ltsc, sources: [{ src: './out/ltsc2022', dest: '/app' }] });
  assert.deepEqual(parseLayerFlag('windows(10.0.17763.5576)/arm64/v8=out', '/x', parseAppFlag), { platform: 'windows(10.0.17763.5576)/arm64/v8', sources: [{ src: 'out', dest: '/x/' }] });
  // The same errors as `--platform windows(10.0/amd64` and the like: E_USAGE, one line, naming the spellings accepted.
  for (const [bad, why] of [
    ['windows(10.0.20348.1/amd64=out', /unbalanced parentheses/],
    ['windows()/amd64=out', /empty os version/],
    ['windows(10 0)/amd64=out', /has characters other than/],
    ['linux/amd64(10.0)=out', /an os version goes in parentheses right after the os/],
  ] as const) {
    assert.throws(
      () => parseLayerFlag(bad, '/x', parseAppFlag),
      (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && why.test(e.message) && /expected os\/arch\[\/variant\] or os\(osversion\)\/arch/.test(e.message) && !e.message.includes('\n'),
      bad,
    );
  }
  // Not platforms: a leading "./", a dotted name without parentheses, four parts.
  assert.deepEqual(parseLayerFlag('./windows(1)/amd64=x', '/x', parseAppFlag), { sources: [{ src: './windows(1)/amd64=x', dest: '/x/' }] });
  assert.deepEqual(parseLayerFlag('out/v1.2=x', '/x', parseAppFlag), { sources: [{ src: 'out/v1.2=x', dest: '/x/' }] });
  assert.deepEqual(parseLayerFlag('a/b/c/d=x', '/x', parseAppFlag), { sources: [{ src: 'a/b/c/d=x', dest: '/x/' }] });
  // regpush.json's "layers": the same qualifier, its path anchored; a misspelt one names the file and key.
  assert.deepEqual(checkProjectConfig({ layers: [`${ltsc}=out:/app`] }, 'regpush.json', '/p').layer, [`${ltsc}=/p/out:/app`]);
  assert.throws(() => checkProjectConfig({ layers: ['windows(10.0/amd64=out'] }, 'regpush.json', '/p'), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT' && /^regpush\.json: "layers" invalid platform .*unbalanced parentheses/.test(e.message));
});

test('regpush.json layers/format/annotations: checked and anchored like the flags', () => {
  const v = checkProjectConfig({ layers: ['deps:/srv/deps', 'linux/arm64=out/arm64:/app'], format: 'oci', annotations: { team: 'web' } }, 'regpush.json', '/p');
  assert.deepEqual(v.layer, ['/p/deps:/srv/deps', 'linux/arm64=/p/out/arm64:/app']);
  assert.equal(v.format, 'oci');
  assert.deepEqual(v.annotation, ['team=web']);
  assert.throws(() => checkProjectConfig({ format: 'v2s2' }, 'regpush.json', '/p'), { name: 'InputError', code: 'E_INPUT', message: /"format" must be "oci" or "docker"/ });
  assert.throws(() => checkProjectConfig({ layers: [1] }, 'regpush.json', '/p'), { name: 'InputError', code: 'E_INPUT', message: /"layers"/ });
});

test('hasContent: files count, a source .dockerignore alone does not, everything ignored is empty', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'regpush-content-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const empty = join(root, 'empty');
  mkdirSync(empty);
  assert.equal(await hasContent([{ src: empty, dest: '/srv' }], '/'), false);
  const ignored = join(root, 'ignored');
  mkdirSync(ignored);
  writeFileSync(join(ignored, 'a.log'), 'x');
  writeFileSync(join(ignored, '.dockerignore'), '*.log\n');
  assert.equal(await hasContent([{ src: ignored, dest: '/srv' }], '/'), false);
  assert.equal(await hasContent([{ src: ignored, dest: '/' }], '/'), false, 'at the image root too');
  // Destinations as the walk spells them: still the source's own destination, still empty.
  for (const dest of ['/srv/./', '/x/../srv', '//srv//', '/srv/sub/..']) assert.equal(await hasContent([{ src: empty, dest }], '/'), false, dest);
  assert.equal(await hasContent([{ src: ignored, dest: '/srv/./' }], '/'), false, 'its .dockerignore alone, at /srv/./');
  const sub = join(root, 'sub');
  mkdirSync(join(sub, 'd'), { recursive: true });
  assert.equal(await hasContent([{ src: sub, dest: '/srv' }], '/'), true, 'a directory of its own counts');
  const file = join(root, 'one.txt');
  writeFileSync(file, 'x');
  assert.equal(await hasContent([{ src: file, dest: '/srv/' }], '/'), true);
});

test('scanSources: one walk answers content, readable and the first symlink; a Windows layer\'s walk ends at the link, a variant\'s goes on', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'regpush-scan-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const src = join(root, 'app');
  mkdirSync(join(src, 'a'), { recursive: true });
  writeFileSync(join(src, 'a', 'x.js'), 'x');
  symlinkSync('a/x.js', join(src, 'l.js'));
  mkdirSync(join(src, 'z'));
  // After the link in walk order: a name the walk refuses (a whiteout), met only by a walk that goes on.
  writeFileSync(join(src, 'z', '.wh.gone'), 'x');
  const sources = [{ src, dest: '/app' }];
  const linux = scanSources(sources, '/');
  assert.equal(await linux.content, true);
  assert.equal(linux.symlink, undefined, 'not asked');
  await assert.rejects(linux.readable, { name: 'InputError', code: 'E_INPUT', message: /\/app\/z\/\.wh\.gone/ });
  const windows = scanSources(sources, '/', { symlinks: 'refuse' });
  assert.equal(await windows.content, true);
  assert.equal(await windows.symlink, 'app/l.js');
  await assert.rejects(windows.readable, { code: 'E_INPUT', message: /^\/app\/l\.js is a symbolic link, which a Windows layer cannot hold/ }, 'ended at the link: the whiteout after it is not reached');
  const variant = scanSources(sources, '/', { symlinks: 'find' });
  assert.equal(await variant.symlink, 'app/l.js');
  await assert.rejects(variant.readable, { name: 'InputError', code: 'E_INPUT', message: /\/app\/z\/\.wh\.gone/ }, 'went on past the link');
  // Met before anything of the layer's own: every answer is that error.
  const early = join(root, 'early');
  mkdirSync(early);
  writeFileSync(join(early, '.wh.a'), 'x');
  symlinkSync('.wh.a', join(early, 'b'));
  const refused = scanSources([{ src: early, dest: '/e' }], '/', { symlinks: 'find' });
  for (const p of [refused.content, refused.symlink!, refused.readable]) await assert.rejects(p, { name: 'InputError', code: 'E_INPUT', message: /\/e\/\.wh\.a/ });
  const empty = join(root, 'empty');
  mkdirSync(empty);
  const none = scanSources([{ src: empty, dest: '/e' }], '/', { symlinks: 'refuse' });
  assert.equal(await none.content, false);
  assert.equal(await none.symlink, undefined);
  await none.readable;
});

test('scanSources: whoever awaits `content` goes on before the walk does (push\'s other checks and first requests come first), even inside one directory', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'regpush-scan-turn-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  // Between directories the walk runs synchronously: without a pause after the first entry, all
  // of a large directory was walked before `await content` returned.
  writeFileSync(join(root, 'a.js'), 'x');
  symlinkSync('a.js', join(root, 'b'));
  const scan = scanSources([{ src: root, dest: '/app' }], '/');
  assert.equal(await scan.content, true);
  // Listed with a.js, not reached yet: the walk reads the link only after this.
  rmSync(join(root, 'b'));
  await assert.rejects(scan.readable, { code: 'E_INPUT', message: `${join(root, 'b')} disappeared while the layer was being built (deleted after the walk listed it)` });
});

test('scanSources: the readability walk gives the event loop a turn every WALK_TURN_ENTRIES entries (push\'s first round trips run alongside it)', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'regpush-scan-turns-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  // One directory: between directories the walk runs synchronously, so only its own turns let the loop run.
  const files = WALK_TURN_ENTRIES * 8;
  for (let i = 0; i < files; i++) writeFileSync(join(root, `f${String(i).padStart(5, '0')}`), 'x');
  const scan = scanSources([{ src: root, dest: '/app' }], '/');
  assert.equal(await scan.content, true);
  let turns = 0;
  let done = false;
  const tick = (): void => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  await scan.readable;
  done = true;
  // One turn after the first entry, then one per WALK_TURN_ENTRIES: at least the eight of the files.
  assert.ok(turns >= 8, `the loop ran ${turns} times during a walk of ${files} files`);
});

test('a layer whose directory takes in another layer\'s source is warned about (files twice in the image, the split defeated); a .dockerignore line or another platform silences it', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'regpush-shared-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'node_modules', 'dep'), { recursive: true });
  mkdirSync(join(root, 'src'));
  writeFileSync(join(root, 'node_modules', 'dep', 'index.js'), 'x');
  writeFileSync(join(root, 'src', 'app.js'), 'x');
  writeFileSync(join(root, 'package.json'), '{}');
  const warnings = async (opts: { layers: { sources: { src: string; dest: string }[]; platform?: string }[]; app?: { src: string; dest: string }[]; platform?: string }): Promise<string[]> => {
    const said: string[] = [];
    await checkInputs({ from: 'scratch', to: '127.0.0.1:1/app:1', cwd: root, logger: { debug() {}, info() {}, warn: (l: string) => said.push(l) }, ...opts }, flagNames({ layers: '--layer', app: '--app' }), { ignoreWarned: true });
    return said;
  };
  // The README's CI split written with the whole project as the app: node_modules goes in twice.
  const split = { layers: [{ sources: [{ src: './node_modules', dest: '/app/node_modules' }] }], app: [{ src: '.', dest: '/app' }] };
  const [line, ...rest] = await warnings(split);
  assert.equal(rest.length, 0);
  assert.match(line!, /^--app \.:\/app: takes in \.\/node_modules, a source of --layer \.\/node_modules:\/app\/node_modules; .*twice.*; leave it out with a line "node_modules" in \.\/\.dockerignore$/);
  // The destination as the report and the history line give it: the default `/app/` reads `/app`.
  assert.match((await warnings({ ...split, app: [{ src: '.', dest: '/app/' }] })).join('\n'), /^--app \.:\/app: takes in \.\/node_modules, a source of --layer \.\/node_modules:\/app\/node_modules;/);
  assert.match((await warnings({ layers: [{ sources: [{ src: './node_modules', dest: '/app/node_modules/' }] }], app: [{ src: '.', dest: '/app/' }] })).join('\n'), /^--app \.:\/app: takes in \.\/node_modules, a source of --layer \.\/node_modules:\/app\/node_modules;/);
  // The other way round (a code directory inside the dependencies' layer) and a file source count too.
  assert.match((await warnings({ layers: [{ sources: [{ src: '.', dest: '/app' }] }], app: [{ src: './src', dest: '/app/src' }] })).join('\n'), /^--layer \.:\/app: takes in \.\/src, a source of --app/);
  assert.match((await warnings({ layers: [{ sources: [{ src: 'package.json', dest: '/app/' }] }], app: [{ src: '.', dest: '/app' }] })).join('\n'), /takes in \.\/package\.json/);
  // A flat folder as a --layer (a `dotnet publish` output) with several of its files given to --app: one line for them all.
  const flat = await warnings({ layers: [{ sources: [{ src: '.', dest: '/app' }] }], app: [{ src: './package.json', dest: '/app/package.json' }, { src: './src/app.js', dest: '/app/src/app.js' }] });
  assert.equal(flat.length, 1, flat.join('\n'));
  assert.match(flat[0]!, /^--layer \.:\/app: takes in \.\/package\.json and \.\/src\/app\.js, sources of --app .*; .*twice.*; leave them out with the lines "package\.json" and "src\/app\.js" in \.\/\.dockerignore$/);
  // One line for one directory named by two layers.
  assert.equal((await warnings({ layers: [{ sources: [{ src: '.', dest: '/a' }] }], app: [{ src: './', dest: '/b' }] })).length, 1);
  // Apart, or for different platforms' images: nothing to say.
  assert.deepEqual(await warnings({ layers: [{ sources: [{ src: './node_modules', dest: '/app/node_modules' }] }], app: [{ src: './src', dest: '/app/src' }, { src: './package.json', dest: '/app/' }] }), []);
  assert.deepEqual(await warnings({ layers: [{ sources: [{ src: './node_modules', dest: '/x' }], platform: 'linux/arm64' }, { sources: [{ src: '.', dest: '/y' }], platform: 'linux/amd64' }] }), []);
  // Excluded by the outer source's .dockerignore (even with an exception bringing part of it back): as meant.
  writeFileSync(join(root, '.dockerignore'), 'node_modules\n!node_modules/dep/index.js\n');
  assert.deepEqual(await warnings(split), []);
  // Everything below it left out (`node_modules/**`, `node_modules/*`): only its empty directory is in the app layer.
  for (const pattern of ['node_modules/**', 'node_modules/*']) {
    writeFileSync(join(root, '.dockerignore'), `${pattern}\n`);
    assert.deepEqual(await warnings(split), [], pattern);
  }
  // …unless an exception brings a file below it back: that file is in both layers.
  writeFileSync(join(root, '.dockerignore'), 'node_modules/**\n!node_modules/dep/index.js\n');
  assert.equal((await warnings(split)).length, 1);
});

test('progress: each layer being built is its own line, named "layer N" or "app layer", and all close at the transfer phase', async () => {
  const { ProgressModel, shortDigest } = await import('../../src/cli/progress-model.js');
  const { isLayerKey } = await import('../../src/push/layer-label.js');
  assert.equal(shortDigest('layer:2'), 'layer 2');
  assert.equal(shortDigest('layer'), 'app layer');
  assert.ok(isLayerKey('layer:1') && isLayerKey('layer') && !isLayerKey('sha256:abc'));
  let now = 0;
  const m = new ProgressModel(() => now);
  m.bytes('layer:1', 1000);
  m.bytes('layer', 10);
  m.bytes('layer:1', 500);
  assert.deepEqual(m.entries.map((e) => [e.digest, e.bytes, e.action]), [['layer:1', 1500, 'build'], ['layer', 10, 'build']]);
  now = 5;
  m.phase('transfer');
  assert.deepEqual(m.entries.map((e) => [e.ended, e.size]), [[5, 1500], [5, 10]]);
});
