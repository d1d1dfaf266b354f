// push's output with several targets (CLI in-process against fake registries,
// test/fixtures/fake-registry.ts): when some fail, what succeeded is still printed and its digest
// written to --digest-file, then the error line, exit 8, as copy does; the progress lines give
// the new layer's own size however many targets it was sent to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesOf, fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { formatBytes } from '../../src/cli/progress-model.js';
import { runMain } from '../fixtures/run-main.js';
import { assertValidReport } from '../e2e/report-schema.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const tempDir = tempDirs('regpush-cli-push-output-');

const fake = fakeRegistryPool();

/** A working directory holding a one-file app (`dir/app`), and the CLI's environment for `regs`. */
function appAndEnv(...regs: FakeRegistry[]): { dir: string; env: Record<string, string | undefined> } {
  const dir = tempDir();
  mkdirSync(join(dir, 'app'));
  writeFileSync(join(dir, 'app', 'server.js'), 'console.log("hi")\n');
  const lib = fakeLibraryOptions(...regs);
  return { dir, env: { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') } };
}

test('push and copy with a target refusing uploads: exit 8, the digest the other target got written to --digest-file', async () => {
  const [src, good, bad] = [await fake(), await fake(), await fake()];
  const base = src.seedImage('base', { tags: ['1'] });
  bad.fault({ kind: 'upload' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  const { dir, env } = appAndEnv(src, good, bad);

  const push = await runMain(['push', '--retries', '0', '--from', src.ref('base:1'), '--to', good.ref('app:1'), '--to', bad.ref('app:1'), '--app', join(dir, 'app'), '--digest-file', 'push.digest'], { env, cwd: dir });
  assert.equal(push.code, 8, push.stderr);
  const pushed = good.manifest('app', '1')!.digest;
  assert.equal(push.stdout, `${good.host}/app@${pushed}\n`);
  assert.equal(readFileSync(join(dir, 'push.digest'), 'utf8'), `${pushed}\n`);

  const copy = await runMain(['copy', '--retries', '0', src.ref('base:1'), good.ref('copy:1'), bad.ref('copy:1'), '--digest-file', 'copy.digest'], { env, cwd: dir });
  assert.equal(copy.code, 8, copy.stderr);
  assert.equal(readFileSync(join(dir, 'copy.digest'), 'utf8'), `${base.digest}\n`);
});

/** The same two-target run as a push (of the app in `dir`) and as a copy, from `src`'s base:1 to `a` and `b`. */
function pushAndCopyTo(src: FakeRegistry, a: FakeRegistry, b: FakeRegistry, dir: string): string[][] {
  return [
    ['push', '--from', src.ref('base:1'), '--to', a.ref('app:1'), '--to', b.ref('app:1'), '--app', join(dir, 'app')],
    ['copy', src.ref('base:1'), a.ref('copy:1'), b.ref('copy:1')],
  ];
}

test('push --json and copy --json whose every target failed: the first target\'s exit code and error line, nothing on stdout (the report is the library\'s details.result)', async () => {
  const [src, denied, broken] = [await fake(), await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  denied.fault({ kind: 'upload' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  broken.fault({ kind: 'upload' }, { kind: 'status', status: 500, retryAfter: 0 });
  const { dir, env } = appAndEnv(src, denied, broken);
  for (const args of pushAndCopyTo(src, denied, broken, dir)) {
    const r = await runMain([...args, '--retries', '0', '--json'], { env, cwd: dir });
    assert.equal(r.code, 3, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr.trim().split('\n').at(-1)!, /\[E_DENIED\]$/, r.stderr);
    assert.equal(r.stdout, '', `${args[0]}: no report`);
  }
});

test('push to two targets: the app layer\'s progress line gives its own size, not the bytes of both uploads added up', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  const dir = tempDir();
  mkdirSync(join(dir, 'app'));
  // Incompressible, so the layer is large enough to be sent in several chunks.
  writeFileSync(join(dir, 'app', 'data.bin'), bytesOf('app data', 300_000));
  const lib = fakeLibraryOptions(src, a, b);
  const env = { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };

  const r = await runMain(['push', '--from', src.ref('base:1'), '--to', a.ref('app:1'), '--to', b.ref('app:1'), '--app', join(dir, 'app')], { env, cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const layers = (JSON.parse(a.manifest('app', '1')!.bytes.toString()) as { layers: { digest: string; size: number }[] }).layers;
  const layer = layers.at(-1)!;
  assert.ok(b.hasBlob('app', layer.digest), 'both targets got the layer');
  assert.equal(b.uploadsFor(layer.digest).length > 0 && a.uploadsFor(layer.digest).length > 0, true, 'each was sent it');
  assert.match(r.stderr, new RegExp(`^build   app layer done \\(${formatBytes(layer.size).replace('.', '\\.')}\\)$`, 'm'));
});

test('push --dry-run and copy --dry-run with a target whose registry refuses: both exit 8 (E_PARTIAL) after printing the plan, as the push or copy itself would', async () => {
  const [src, good, bad] = [await fake(), await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  bad.fault({ method: 'HEAD' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  const { dir, env } = appAndEnv(src, good, bad);
  for (const args of pushAndCopyTo(src, good, bad, dir)) {
    const r = await runMain([...args, '--retries', '0', '--dry-run'], { env, cwd: dir });
    assert.equal(r.code, 8, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr.trim().split('\n').at(-1)!, /1 of 2 targets failed: .*E_DENIED.*\[E_PARTIAL\]$/, r.stderr);
    assert.notEqual(r.stdout, '', `${args[0]}: the plan is still printed`);
  }
  assert.equal(good.count({ method: 'PUT' }) + bad.count({ method: 'PUT' }), 0, 'nothing written');
});

test('push --dry-run to several targets: the text plan has a block per target (each its own blob actions and whether the app layer is reused there; a failing one named with its error), and the config is printed as indented JSON, one line per line (it was one line of escaped \\n)', async () => {
  const [src, a, b, bad] = [await fake(), await fake(), await fake(), await fake()];
  const base = src.seedImage('base', { tags: ['1'], config: { Env: ['PATH=/usr/bin:/bin', 'NOTE=tab\there'] } });
  bad.fault({ method: 'HEAD' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  const { dir, env } = appAndEnv(src, a, b, bad);
  // b already holds this push's image at its tag: its plan reuses the app layer and skips nothing twice.
  const first = await runMain(['push', '--from', src.ref('base:1'), '--to', b.ref('app:1'), '--app', join(dir, 'app')], { env, cwd: dir });
  assert.equal(first.code, 0, first.stderr);
  const args = ['push', '--retries', '0', '--from', src.ref('base:1'), '--to', a.ref('app:1'), '--to', b.ref('app:1'), '--app', join(dir, 'app'), '--dry-run'];
  const r = await runMain(args, { env, cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const blocks = r.stdout.split(/^(?=→ )/m);
  assert.match(blocks[0]!, new RegExp(`^plan: push ${src.ref('base:1').replace(/[.]/g, '\\.')}@${base.digest}\\n$`));
  assert.equal(blocks.length, 3, r.stdout);
  assert.match(blocks[1]!, new RegExp(`^→ ${a.ref('app:1').replace(/[.]/g, '\\.')}  tags: 1\\n`));
  assert.match(blocks[1]!, /^ {2}stream {3}sha256:/m);
  assert.match(blocks[1]!, /^ {2}upload {3}sha256:\S+ {2}\d+ bytes \(app layer: \/app\)$/m);
  // b's tag holds the very image: nothing is written there, as the push itself writes nothing.
  assert.match(blocks[2]!, new RegExp(`^→ ${b.ref('app:1').replace(/[.]/g, '\\.')}  tags: 1, up to date: nothing to write\\n`));
  assert.match(blocks[2]!, /^ {2}\d+ blobs, 0 bytes to send; no config or manifest to write$/m);
  assert.match(blocks[1]!, /^ {2}\d+ blobs, \d+ bytes to send; then 1 config\(s\) and manifest\(s\)$/m);
  assert.match(blocks[2]!, /^ {2}reuse {4}sha256:\S+ {2}\d+ bytes \(app layer: \/app\)$/m);
  assert.doesNotMatch(blocks[2]!, /^ {2}stream/m, 'b holds the base blobs its tag names');
  assert.match(blocks[2]!, /^ {2}\d+ blobs, 0 bytes to send;/m);
  // The config: indented JSON over many lines, which parses back to what --json reports.
  const cfgText = r.stdout.slice(r.stdout.indexOf('config:\n') + 'config:\n'.length);
  assert.ok(cfgText.split('\n').length > 5, cfgText);
  const json = await runMain([...args, '--json'], { env, cwd: dir });
  assertValidReport(JSON.parse(json.stdout), 'push --dry-run --json, two targets');
  assert.deepEqual(JSON.parse(cfgText), JSON.parse(json.stdout).configs[0]);
  assert.deepEqual((JSON.parse(json.stdout) as { targets: { layers: { action: string }[] }[] }).targets.map((t) => t.layers.map((l) => l.action)), [['planned'], ['reused']]);
  assert.deepEqual((JSON.parse(json.stdout) as { targets: { tagsUnchanged?: string[] }[] }).targets.map((t) => t.tagsUnchanged), [undefined, ['1']]);
  assert.ok((JSON.parse(cfgText) as { config: { Env: string[] } }).config.Env.includes('NOTE=tab\there'));
  // A target that fails is named in the plan with its error; the others are still planned.
  const failing = await runMain(['push', '--retries', '0', '--from', src.ref('base:1'), '--to', a.ref('app:2'), '--to', bad.ref('app:1'), '--app', join(dir, 'app'), '--dry-run'], { env, cwd: dir });
  assert.equal(failing.code, 8, failing.stderr);
  assert.match(failing.stdout, new RegExp(`^→ ${bad.ref('app:1').replace(/[.]/g, '\\.')}  FAILS: E_DENIED `, 'm'));
  assert.match(failing.stdout, new RegExp(`^→ ${a.ref('app:2').replace(/[.]/g, '\\.')}  tags: 2$`, 'm'));
  // The failing target named first: the same plan, exit 8 (it exited 3 with nothing printed).
  const badFirst = await runMain(['push', '--retries', '0', '--from', src.ref('base:1'), '--to', bad.ref('app:1'), '--to', a.ref('app:2'), '--app', join(dir, 'app'), '--dry-run'], { env, cwd: dir });
  assert.equal(badFirst.code, 8, badFirst.stderr);
  const order = badFirst.stdout.split('\n').filter((l) => l.startsWith('→ ')).map((l) => l.split('  ')[0]);
  assert.deepEqual(order, [`→ ${bad.ref('app:1')}`, `→ ${a.ref('app:2')}`]);
  assert.match(badFirst.stdout, /^ {2}upload {3}sha256:/m);
  assert.match(badFirst.stderr.trim().split('\n').at(-1)!, /1 of 2 targets failed: .*\[E_PARTIAL\]$/);
  assert.equal(a.count({ method: 'PUT' }) + bad.count({ method: 'PUT' }), 0, 'nothing written');
});

test('push --dry-run with --tag: an extra tag that already holds the very image is planned as not written (tagsUnchanged), as the real push then leaves it alone; each tag asked about once', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  const { dir, env } = appAndEnv(src, dst);
  const push = (to: string, ...more: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    runMain(['push', '--from', src.ref('base:1'), '--to', dst.ref(`app:${to}`), '--tag', 'latest', '--app', join(dir, 'app'), ...more], { env, cwd: dir });
  const first = await push('1');
  assert.equal(first.code, 0, first.stderr);
  // A new tag in --to, `latest` already on the image: only the new tag is written.
  const text = await push('2', '--dry-run');
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^→ ${dst.ref('app:2').replace(/[.]/g, '\\.')},latest  tags: 2, latest \\(already holds the image\\)$`, 'm'));
  const before = dst.count({ path: /\/manifests\/latest$/ });
  const json = await push('2', '--dry-run', '--json');
  assert.equal(json.code, 0, json.stderr);
  assertValidReport(JSON.parse(json.stdout), 'push --dry-run --tag --json');
  assert.deepEqual(JSON.parse(json.stdout).tagsUnchanged, ['latest']);
  assert.equal(dst.count({ path: /\/manifests\/latest$/ }) - before, 1, 'latest asked about once');
  // Every tag holds it: nothing to write, as the re-run writes nothing.
  const rerun = await push('1', '--dry-run');
  assert.match(rerun.stdout, /tags: 1, latest, up to date: nothing to write\n/);
  const real = await push('2', '--json');
  assert.equal(real.code, 0, real.stderr);
  assert.deepEqual(JSON.parse(real.stdout).tagsUnchanged, ['latest'], 'the push did what the plan said');
});

test('--gzip-level takes 0 to 9, as the library\'s gzipLevel does (0: the layer stored uncompressed in its gzip stream); the CLI\'s refusals name its flags: --gzip-level 10, --chown past 32 bits', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  const { dir, env } = appAndEnv(src, dst);
  const args = (to: string, ...more: string[]) => ['push', '--from', src.ref('base:1'), '--to', dst.ref(to), '--app', join(dir, 'app'), ...more];
  const stored = await runMain(args('app:0', '--gzip-level', '0'), { env, cwd: dir });
  assert.equal(stored.code, 0, stored.stderr);
  const deflated = await runMain(args('app:6'), { env, cwd: dir });
  assert.equal(deflated.code, 0, deflated.stderr);
  const top = (tag: string) => (JSON.parse(dst.manifest('app', tag)!.bytes.toString()) as { layers: { digest: string; size: number }[] }).layers.at(-1)!;
  // The tar's zero padding, stored as it is, against the default level's.
  assert.ok(top('0').size > 2 * top('6').size, `a level-0 layer (${top('0').size} bytes) holds its tar uncompressed (default level: ${top('6').size})`);
  const before = dst.count();
  for (const [flags, message] of [
    [['--gzip-level', '10'], /^regpush: error: --gzip-level must be a whole number from 0 to 9 \(got 10\) \[E_USAGE\]$/m],
    [['--chown', '4294967295:0'], /^regpush: error: --chown UID must be a whole number from 0 to 4294967294 \(got 4294967295\) \[E_USAGE\]$/m],
    [['--chown', '0:9999999999'], /^regpush: error: --chown GID must be a whole number from 0 to 4294967294 \(got 9999999999\) \[E_USAGE\]$/m],
  ] as const) {
    const r = await runMain(args('app:1', ...flags), { env, cwd: dir });
    assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.equal(dst.count(), before, 'nothing was sent for the refused flags');
});
