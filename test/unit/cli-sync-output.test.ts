// `regpush sync` in-process against fake registries (test/fixtures/fake-registry.ts): what its
// per-image lines and its exit code say when an image fails, in CI logs and on a terminal, and
// how log lines share the terminal with its status line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain, type MainResult } from '../fixtures/run-main.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { assertValidReport } from '../e2e/report-schema.js';

const tempDir = tempDirs('regpush-cli-sync-output-');

const fake = fakeRegistryPool();
const PASSWORD = 'S3cr3t-Passw0rd';

/** A sync file of `images` (source → target lines) in a directory of its own, and the environment that reaches the fakes. */
function syncFile(images: { source: string; targets: string[] }[], ...registries: FakeRegistry[]): { cwd: string; env: Record<string, string> } {
  const cwd = tempDir();
  const lines = ['images:', ...images.flatMap((i) => [`  - source: ${i.source}`, `    targets: [${i.targets.join(', ')}]`])];
  writeFileSync(join(cwd, 'sync.yaml'), lines.join('\n') + '\n');
  const lib = fakeLibraryOptions(...registries);
  return { cwd, env: { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') } };
}

/** `regpush sync` through main(); `tty`: stderr is a terminal 100 columns wide (the status line), else a pipe (CI lines). */
async function runSync(args: string[], where: { cwd: string; env: Record<string, string> }, tty = false): Promise<MainResult> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = new PassThrough().on('data', (d) => out.push(String(d)));
  const stderr = Object.assign(new PassThrough(), tty ? { isTTY: true, columns: 100 } : {}).on('data', (d) => err.push(String(d)));
  const stdin = new PassThrough();
  stdin.end();
  const code = await main(['sync', '--retries', '0', ...args, 'sync.yaml'], { stdout, stderr, stdin, env: where.env, cwd: where.cwd });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

test('a failed image\'s line is scrubbed of the run\'s credentials like every other line, in CI logs and on a terminal', async () => {
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'basic', user: 'ci', password: PASSWORD } });
  src.seedImage('app', { tags: ['1'] });
  src.seedImage('other', { tags: ['1'] });
  // A registry that quotes what it was sent in its refusal.
  dst.fault({ kind: 'upload', repo: 'app/app' }, { kind: 'status', status: 400, code: 'DENIED', message: `no writes for ci:${PASSWORD}` });
  const where = syncFile(
    [
      { source: src.ref('app:1'), targets: [`${dst.host}/app`] },
      { source: src.ref('other:1'), targets: [`${dst.host}/other`] },
    ],
    src,
    dst,
  );
  where.env = { ...where.env, REGPUSH_TO_USER: 'ci', REGPUSH_TO_PASSWORD: PASSWORD };
  for (const tty of [false, true]) {
    const r = await runSync([], where, tty);
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /sync: .*\/app:1 FAILED E_DENIED: .*no writes for ci:\*\*\*/, 'the image\'s own line names the failure');
    assert.ok(!r.stderr.includes(PASSWORD) && !r.stdout.includes(PASSWORD), `${tty ? 'terminal' : 'CI'}: ${r.stderr}`);
  }
});

test('a file of one image that every target refuses exits with the failure\'s own code, as `regpush copy` of it does; with a target that takes it beside them, E_PARTIAL', async () => {
  const src = await fake();
  const [dst, other] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  dst.fault({ kind: 'upload', when: (q) => q.repo?.startsWith('denied') === true }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  const lastLine = (r: MainResult) => r.stderr.trim().split('\n').at(-1)!;

  const one = syncFile([{ source: src.ref('app:1'), targets: [`${dst.host}/denied`] }], src, dst);
  const r = await runSync([], one);
  assert.equal(r.code, 3, r.stderr);
  assert.match(lastLine(r), /^regpush: error: start upload to .*\/denied\/app: .*answered 403 DENIED: requested access to the resource is denied .*\[E_DENIED\]$/);
  assert.match(r.stdout, /^synced: 1 image .* 1 failed;/, 'the summary is printed all the same');
  assert.doesNotMatch(r.stderr, /the other targets go on/, 'there is no other target');
  assert.equal(r.stderr.split('requested access to the resource is denied').length - 1, 2, 'said twice: the image\'s line and the error line');
  const copy = await runMain(['copy', '--retries', '0', src.ref('app:1'), `${dst.host}/denied/app:1`], { env: one.env });
  assert.equal(copy.code, 3, copy.stderr);
  assert.match(lastLine(copy), / \[E_DENIED\]$/);

  // Every target refusing it: the first one's failure, as copy to several targets reports it.
  const two = await runSync([], syncFile([{ source: src.ref('app:1'), targets: [`${dst.host}/denied`, `${dst.host}/denied2`] }], src, dst));
  assert.equal(two.code, 3, two.stderr);
  assert.match(lastLine(two), /start upload to .*\/denied\/app: .*\[E_DENIED\]$/);

  const partial = await runSync([], syncFile([{ source: src.ref('app:1'), targets: [`${dst.host}/denied`, `${other.host}/ok`] }], src, dst, other));
  assert.equal(partial.code, 8, partial.stderr);
  // The image is in place at the other target: the line says so, or it reads as nothing copied.
  assert.match(lastLine(partial), /^regpush: error: 1 of 1 images failed \(at some of their targets only; their other targets hold them\): .*\[E_PARTIAL\]$/);
  assert.match(partial.stderr, new RegExp(`→ .*/denied/app:1 FAILED E_DENIED: .*; ${other.host}/ok/app:1 copied`), partial.stderr);
  // The re-run: the target that took it is up to date, in the summary's words.
  const again = await runSync([], syncFile([{ source: src.ref('app:1'), targets: [`${other.host}/ok`] }], src, dst, other));
  assert.equal(again.code, 0, again.stderr);
  assert.ok(again.stderr.includes(`→ ${other.host}/ok/app:1 up to date\n`), again.stderr);
  assert.match(again.stdout, /^synced: 1 image \(1 entry\): 0 copied, 1 up to date, 0 failed;/);
  assert.ok(other.manifest('ok/app', '1'), 'the target that takes it has it');
});

test('the error line of a sync whose failed images share one cause (a target registry refusing them) says it once, then names the images', async () => {
  const src = await fake();
  const [dst, other] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1', '2', '3'] });
  dst.fault({ kind: 'upload' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  const where = syncFile(['1', '2', '3'].map((t) => ({ source: src.ref(`app:${t}`), targets: [`${dst.host}/mirror`, `${other.host}/mirror`] })), src, dst, other);
  const r = await runSync([], where);
  assert.equal(r.code, 8, r.stderr);
  const last = r.stderr.trim().split('\n').at(-1)!;
  assert.match(last, /^regpush: error: 3 of 3 images failed \(at some of their targets only; their other targets hold them\): \S+\/app:1, \S+\/app:2, \S+\/app:3 \(each with E_DENIED: start upload to .*\/mirror\/app: .*requested access to the resource is denied.*\) \[E_PARTIAL\]$/);
  assert.equal(last.split('requested access to the resource is denied').length - 1, 1, 'the cause is said once');
  // One image failing for another reason beside them: it keeps its own cause, the others still share theirs.
  const mixed = await runSync([], syncFile(['1', '2', '9'].map((t) => ({ source: src.ref(`app:${t}`), targets: [`${dst.host}/mirror`, `${other.host}/mirror`] })), src, dst, other));
  assert.equal(mixed.code, 8, mixed.stderr);
  const mixedLast = mixed.stderr.trim().split('\n').at(-1)!;
  assert.match(mixedLast, /\S+\/app:1, \S+\/app:2 \(each with E_DENIED: start upload to /);
  assert.match(mixedLast, /\S+\/app:9 \(E_NOT_FOUND: /);
  assert.equal(mixedLast.split('requested access to the resource is denied').length - 1, 1, 'the shared cause is said once');
  // With every target refusing, one code: that code's exit, the code said once.
  const all = await runSync([], syncFile(['1', '2'].map((t) => ({ source: src.ref(`app:${t}`), targets: [`${dst.host}/mirror`] })), src, dst));
  assert.equal(all.code, 3, all.stderr);
  assert.match(all.stderr.trim().split('\n').at(-1)!, /^regpush: error: all 2 images failed with E_DENIED: \S+\/app:1, \S+\/app:2 \(each with start upload to .*\) \[E_DENIED\]$/);
});

/** The lines a terminal shows after `text`: \r goes back to the start of the line, \x1b[K clears the rest of it. */
function screen(text: string): string[] {
  const lines: string[] = [''];
  let col = 0;
  for (let i = 0; i < text.length; i++) {
    const row = lines.length - 1;
    if (text.startsWith('\x1b[K', i)) {
      lines[row] = lines[row]!.slice(0, col);
      i += 2;
    } else if (text[i] === '\r') col = 0;
    else if (text[i] === '\n') {
      lines.push('');
      col = 0;
    } else {
      lines[row] = lines[row]!.slice(0, col) + text[i] + lines[row]!.slice(col + 1);
      col++;
    }
  }
  return lines;
}

test('on a terminal, a warning during the sync gets a line of its own above the status line, which is drawn again below it', async () => {
  const [src, dst, bad] = [await fake(), await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  // Set aside while the other target goes on: a warning says so in the middle of the run.
  bad.fault({ kind: 'upload' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  const r = await runSync([], syncFile([{ source: src.ref('app:1'), targets: [dst.host, bad.host] }], src, dst, bad), true);
  assert.equal(r.code, 8, r.stderr);
  const shown = screen(r.stderr);
  const warning = shown.findIndex((l) => l.startsWith('warning: '));
  assert.ok(warning >= 0, JSON.stringify(shown));
  assert.match(shown[warning]!, new RegExp(`^warning: ${bad.host.replace(/\./g, '\\.')}/app:1: .*; the other targets go on \\(later images failing at ${bad.host.replace(/\./g, '\\.')} are not warned of again: each image's result says where it failed\\)$`));
  assert.ok(!shown.some((l) => /failed {2}\S+warning: /.test(l)), JSON.stringify(shown));
  assert.match(r.stderr.slice(r.stderr.indexOf('says where it failed)')), /^says where it failed\)\n\r\x1b\[Ksync: 0\/1 images done, 1 in flight, 0 failed {2}/, 'the status line is drawn again below it');
  assert.deepEqual(shown.filter((l) => l.includes('images done')), [], 'no status line stays on the screen');
});

test('sync -q with a target registry refusing every image: one warning for that registry, not one per image; the images\' lines and the report name each', async () => {
  const [src, dst, bad] = [await fake(), await fake(), await fake()];
  const names = Array.from({ length: 12 }, (_, i) => `app${i}`);
  for (const n of names) src.seedImage(n, { tags: ['1'] });
  bad.fault({ kind: 'upload' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  const where = syncFile(names.map((n) => ({ source: src.ref(`${n}:1`), targets: [`${dst.host}/m`, `${bad.host}/m`] })), src, dst, bad);
  const quiet = await runSync(['-q'], where);
  assert.equal(quiet.code, 8, quiet.stderr);
  const lines = quiet.stderr.split('\n').filter((l) => l !== '');
  const warnings = lines.filter((l) => l.startsWith('warning: '));
  assert.equal(warnings.length, 1, quiet.stderr);
  assert.match(warnings[0]!, /; the other targets go on \(later images failing at \S+ are not warned of again: each image's result says where it failed\)$/);
  assert.equal(lines.length, 2, quiet.stderr); // the warning and the error line
  // Without -q each image's own line names its failed target.
  const loud = await runSync([], syncFile(names.map((n) => ({ source: src.ref(`${n}:1`), targets: [`${dst.host}/n`, `${bad.host}/n`] })), src, dst, bad));
  assert.equal(loud.code, 8, loud.stderr);
  assert.equal(loud.stderr.split('\n').filter((l) => l.startsWith('warning: ')).length, 1, loud.stderr);
  for (const n of names) assert.match(loud.stderr, new RegExp(`sync: \\S+/${n}:1\\S* → .*${bad.host.replace(/\./g, '\\.')}/n/${n}:1 FAILED E_DENIED`), `${n}'s line names its failed target`);
});

test('interrupted (SIGINT/SIGTERM: the signal fires): the report of what was done so far is printed all the same, then E_ABORTED, exit 130', async () => {
  const src = await fake();
  const dst = await fake();
  const names = Array.from({ length: 8 }, (_, i) => `app${i}`);
  for (const n of names) src.seedImage(n, { tags: ['1'] });
  const where = syncFile(names.map((n) => ({ source: src.ref(`${n}:1`), targets: [`${dst.host}/mirror`] })), src, dst);
  const controller = new AbortController();
  const aborted = new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
  // Three images are copied (one at a time); the signal fires once the fourth has asked its
  // target, and its source manifest is held until then.
  src.fault({ kind: 'manifest', repo: 'app3' }, { kind: 'hold', until: aborted });
  void dst.seen({ kind: 'manifest', repo: 'mirror/app3' }).then(() => controller.abort());
  const r = await runMain(['sync', '--retries', '0', '--images', '1', '--json', 'sync.yaml'], { env: where.env, cwd: where.cwd, io: { signal: controller.signal } });
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr.trim().split('\n').at(-1)!, /^regpush: error: interrupted: .*\[E_ABORTED\]$/);
  const report = JSON.parse(r.stdout) as { totals: { copied: number; failed: number }; units: { source: string; ok: boolean; error?: { code: string } }[] };
  assert.equal(report.totals.copied, 3, r.stdout);
  assert.equal(report.units.length, names.length, 'every image is in the report');
  for (const u of report.units.filter((x) => !x.ok)) assert.equal(u.error?.code, 'E_ABORTED', JSON.stringify(u));
  assert.ok(dst.manifest('mirror/app2', '1'), 'what the report says was copied is there');
});

test('an entry whose tags cannot be listed, and a tag two entries would both write, each get their FAILED line in the log, in CI logs and on a terminal, not only in --json', async () => {
  const [src, dst] = [await fake(), await fake()];
  for (const n of ['a', 'b', 'ok']) src.seedImage(n, { tags: ['1'] });
  // Six images that fail at their source come first: the error line names five failures and
  // counts the rest, so the listing failure and the clash are past it.
  const cwd = tempDir();
  const missing = ['2', '3', '4', '5', '6', '7'];
  writeFileSync(
    join(cwd, 'sync.yaml'),
    [
      'images:',
      `  - { source: ${src.ref('ok')}, tags: [${missing.join(', ')}], targets: [${dst.host}/m] }`,
      `  - { source: ${src.ref('gone')}, tags: all, targets: [${dst.host}/m] }`,
      `  - { source: ${src.ref('a')}, tags: all, target: ${dst.host}/one }`,
      `  - { source: ${src.ref('b')}, tags: all, target: ${dst.host}/one }`,
      `  - { source: ${src.ref('ok')}, tags: ['1'], targets: [${dst.host}/m] }`,
    ].join('\n') + '\n',
  );
  const lib = fakeLibraryOptions(src, dst);
  const where = { cwd, env: { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') } };
  for (const tty of [false, true]) {
    const r = await runSync([], where, tty);
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stdout, /^synced: 10 images \(5 entries\): [01] copied, [01] up to date, 9 failed;/, r.stdout);
    assert.match(r.stderr, /and 4 more \(each in the report: --json\) \[E_PARTIAL\]\n$/, 'the error line names five of the nine');
    const lines = r.stderr.split(/\r\x1b\[K|\n/);
    assert.ok(lines.some((l) => new RegExp(`^sync: ${src.host.replace(/\./g, '\\.')}/gone: FAILED E_NOT_FOUND: list tags of `).test(l)), `${tty ? 'terminal' : 'CI'}: the listing failure has its line: ${r.stderr}`);
    for (const n of ['a', 'b']) assert.ok(lines.some((l) => l.startsWith(`sync: ${src.ref(`${n}:1`)}: FAILED E_INPUT: `) && l.includes(`${dst.host}/one:1`)), `${tty ? 'terminal' : 'CI'}: the clash refusal of ${n} has its line: ${r.stderr}`);
    if (tty) {
      // The status line's total is every image of the plan, those failed before any started
      // included, from the first frame on (was: the started ones alone, 7 of these 10), and its
      // count of those done ends at it.
      const frames = [...r.stderr.matchAll(/sync: (\d+)\/(\d+) images done, (\d+) in flight, (\d+) failed/g)].map((m) => m.slice(1).map(Number));
      assert.ok(frames.length > 0 && frames.every(([done, total]) => total === 10 && done! <= total), `terminal: ${JSON.stringify(frames)}`);
      assert.deepEqual(frames.at(-1), [10, 10, 0, 9], `terminal: the last frame: ${JSON.stringify(frames)}`);
      assert.ok(frames.every(([, , inFlight]) => inFlight! >= 0), JSON.stringify(frames));
    } else {
      // Every image of the plan gets one `sync [i/total]` line, numbered 1..total in the order the
      // lines print, those failed before any started (the listing failure, the two clashes)
      // included (7 of these 10 images start).
      const counted = [...r.stderr.matchAll(/^sync \[(\d+)\/(\d+)\] (\S+)$/gm)];
      assert.deepEqual(counted.map((m) => Number(m[1])), Array.from({ length: 10 }, (_, i) => i + 1), r.stderr);
      assert.ok(counted.every((m) => m[2] === '10'), r.stderr);
      assert.equal(new Set(counted.map((m) => m[3])).size, 10, `each image once: ${r.stderr}`);
      // An image's counter line comes before its result line.
      const gone = `${src.host}/gone`;
      const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
      const esc = (t: string) => t.replace(/[.[\]/]/g, (c) => `\\${c}`);
      assert.ok(at(new RegExp(`^sync \\[\\d+/10\\] ${esc(gone)}$`)) < at(new RegExp(`^sync: ${esc(gone)}: FAILED`)), r.stderr);
    }
  }
});

test('interrupted while the tag lists are read: the listings cut short get no FAILED line each (the report has them), then E_ABORTED, exit 130; an entry whose listing was never sent is "not started", not "aborted: GET …/tags/list" as the ones cut off are', async () => {
  const [src, dst] = [await fake(), await fake()];
  // More repositories than are listed at once (4): the last ones wait for a turn.
  const names = Array.from({ length: 7 }, (_, i) => `app${i}`);
  for (const n of names) src.seedImage(n, { tags: ['1'] });
  const cwd = tempDir();
  writeFileSync(join(cwd, 'sync.yaml'), ['images:', ...names.map((n) => `  - { source: ${src.ref(n)}, tags: all, targets: [${dst.host}/m] }`)].join('\n') + '\n');
  const lib = fakeLibraryOptions(src, dst);
  const controller = new AbortController();
  const aborted = new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
  src.fault({ kind: 'tags' }, { kind: 'hold', until: aborted });
  // Interrupted once the first four listings have all reached the registry (held there).
  void Promise.all(names.slice(0, 4).map((repo) => src.seen({ kind: 'tags', repo }))).then(() => controller.abort());
  const r = await runMain(['sync', '--retries', '0', '--json', 'sync.yaml'], { env: { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') }, cwd, io: { signal: controller.signal } });
  assert.equal(r.code, 130, r.stderr);
  assert.doesNotMatch(r.stderr, /FAILED/, r.stderr);
  assert.match(r.stderr.trim().split('\n').at(-1)!, /^regpush: error: interrupted: .*\[E_ABORTED\]$/);
  const units = (JSON.parse(r.stdout) as { units: { source: string; error?: { code: string; message: string } }[] }).units;
  assert.equal(units.length, names.length);
  const listed = new Set(src.requests({ kind: 'tags' }).map((q) => q.repo));
  assert.deepEqual([...listed].sort(), names.slice(0, 4), 'the listings after the first four were never sent');
  for (const u of units) {
    assert.equal(u.error?.code, 'E_ABORTED', JSON.stringify(u));
    const repo = u.source.slice(src.host.length + 1);
    if (listed.has(repo)) assert.match(u.error!.message, /tags\/list/, JSON.stringify(u));
    else assert.equal(u.error!.message, 'not started: the sync was interrupted', JSON.stringify(u));
  }
});

test('the summary of images with several targets says its counts are per target (2 images to 2 targets each: 4 copied)', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  src.seedImage('one', { tags: ['1'] });
  src.seedImage('two', { tags: ['1'] });
  const where = syncFile(
    [
      { source: src.ref('one:1'), targets: [`${a.host}/one`, `${b.host}/one`] },
      { source: src.ref('two:1'), targets: [`${a.host}/two`, `${b.host}/two`] },
    ],
    src,
    a,
    b,
  );
  const r = await runSync([], where);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^synced: 2 images \(2 entries\): per target, 4 copied, 0 up to date, 0 failed;/);
  const one = await runSync([], syncFile([{ source: src.ref('one:1'), targets: [`${a.host}/single`] }], src, a));
  assert.match(one.stdout, /^synced: 1 image \(1 entry\): 1 copied, 0 up to date, 0 failed;/, 'one target each: the counts are image counts, and no words say otherwise');
});

test('an entry whose tag filter keeps none of the listed tags: exit 0 (not a failure), and the warning, the summary and the --json report (noMatch) each say so', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1.27', 'latest'] });
  src.seedImage('rc', { tags: ['2.0.0'] });
  const cwd = tempDir();
  writeFileSync(
    join(cwd, 'sync.yaml'),
    [
      'images:',
      `  - { source: ${src.ref('app')}, tags: { regex: "^nomatch$" }, targets: [${dst.host}/m] }`,
      // Partial versions are not versions: `newest` keeps none of them.
      `  - { source: ${src.ref('app')}, tags: { newest: 1 }, targets: [${dst.host}/n] }`,
      `  - { source: ${src.ref('rc')}, tags: all, targets: [${dst.host}/m] }`,
      '',
    ].join('\n'),
  );
  const lib = fakeLibraryOptions(src, dst);
  const where = { cwd, env: { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') } };
  const r = await runSync([], where);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`warning: images\\[0\\] \\(${src.host.replace(/\./g, '\\.')}/app\\): no tag of ${src.host.replace(/\./g, '\\.')}/app matches \\(of 2 listed\\); nothing to copy`), r.stderr);
  assert.match(r.stdout, /^synced: 1 image \(3 entries\): 1 copied, .*; 2 entries matched no tag\n$/);
  const json = await runSync(['--json'], where);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as Record<string, unknown>;
  assertValidReport(report, 'sync --json');
  assert.deepEqual(report.noMatch, [
    { entry: `images[0] (${src.host}/app)`, source: `${src.host}/app`, listed: 2 },
    { entry: `images[1] (${src.host}/app)`, source: `${src.host}/app`, listed: 2 },
  ]);
  const all = await runSync(['--json'], syncFile([{ source: src.ref('rc:2.0.0'), targets: [`${dst.host}/m`] }], src, dst));
  assert.equal((JSON.parse(all.stdout) as Record<string, unknown>).noMatch, undefined, 'absent where every entry matched');
});

test('a platform whose architecture or os the OCI spec does not name (a typo) is warned of before the first image; a known one is not', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  const cwd = tempDir();
  writeFileSync(
    join(cwd, 'sync.yaml'),
    [
      'images:',
      `  - { source: ${src.ref('app')}, tags: ["1"], targets: [${dst.host}/m], platforms: [linux/amd65, linux/arm64] }`,
      `  - { source: ${src.ref('app')}, tags: ["1"], targets: [${dst.host}/n], platforms: [lnux/amd64] }`,
      '',
    ].join('\n'),
  );
  const lib = fakeLibraryOptions(src, dst);
  const r = await runSync([], { cwd, env: { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') } });
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: '));
  assert.deepEqual(warnings, [
    `warning: images[0] (${src.host}/app): platform linux/amd65: architecture "amd65" is not one the OCI image spec names (386, amd64, arm, arm64, loong64, mips, mips64, mips64le, mipsle, ppc64, ppc64le, riscv64, s390x, wasm); an image without it fails with E_NOT_FOUND (check the spelling)`,
    `warning: images[1] (${src.host}/app): platform lnux/amd64: os "lnux" is not one the OCI image spec names (aix, android, darwin, dragonfly, freebsd, illumos, ios, js, linux, netbsd, openbsd, plan9, solaris, wasip1, windows); an image without it fails with E_NOT_FOUND (check the spelling)`,
  ]);
  assert.ok(r.stderr.indexOf('warning: images[0]') < r.stderr.indexOf('sync [1/'), r.stderr);
});

test('interrupted: the report printed before E_ABORTED names the entries whose rule matched no tag (noMatch), in --json and in the summary line, as a completed sync does', async () => {
  for (const json of [true, false]) {
    const [src, dst] = [await fake(), await fake()];
    const names = Array.from({ length: 4 }, (_, i) => `app${i}`);
    for (const n of names) src.seedImage(n, { tags: ['1'] });
    src.seedImage('rc', { tags: ['1.27', 'latest'] });
    const cwd = tempDir();
    writeFileSync(
      join(cwd, 'sync.yaml'),
      ['images:', `  - { source: ${src.ref('rc')}, tags: { regex: '^nomatch$' }, targets: [${dst.host}/m] }`, ...names.map((n) => `  - { source: ${src.ref(`${n}:1`)}, targets: [${dst.host}/m] }`)].join('\n') + '\n',
    );
    const lib = fakeLibraryOptions(src, dst);
    const env = { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };
    const controller = new AbortController();
    const aborted = new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
    src.fault({ kind: 'manifest', repo: 'app1' }, { kind: 'hold', until: aborted });
    void dst.seen({ kind: 'manifest', repo: 'm/app1' }).then(() => controller.abort());
    const r = await runMain(['sync', '--retries', '0', '--images', '1', ...(json ? ['--json'] : []), 'sync.yaml'], { env, cwd, io: { signal: controller.signal } });
    assert.equal(r.code, 130, r.stderr);
    if (json) {
      const report = JSON.parse(r.stdout) as { noMatch?: { entry: string; source: string; listed: number }[] };
      assert.deepEqual(report.noMatch, [{ entry: `images[0] (${src.ref('rc')})`, source: src.ref('rc'), listed: 2 }], r.stdout);
    } else {
      assert.match(r.stdout, /; 1 entry matched no tag\n$/, r.stdout);
    }
  }
});

test('interrupted after an image\'s tag was written (its referrers being walked): its target is reported copied, with the digest written, not failed as if the tag were missing; the image not started stays failed', async () => {
  const [src, dst] = [await fake(), await fake()];
  const image = src.seedImage('app', { tags: ['1'] });
  src.seedImage('later', { tags: ['1'] });
  const cwd = tempDir();
  writeFileSync(
    join(cwd, 'sync.yaml'),
    ['defaults: { referrers: true }', 'images:', `  - { source: ${src.ref('app:1')}, targets: [${dst.host}/m] }`, `  - { source: ${src.ref('later:1')}, targets: [${dst.host}/m] }`].join('\n') + '\n',
  );
  const lib = fakeLibraryOptions(src, dst);
  const controller = new AbortController();
  const aborted = new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
  // The referrer walk starts once the image's tag is written: the signal fires while its source's referrers are asked for.
  src.fault({ kind: 'referrers', repo: 'app' }, { kind: 'hold', until: aborted });
  void src.seen({ kind: 'referrers', repo: 'app' }).then(() => controller.abort());
  const env = { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };
  const r = await runMain(['sync', '--retries', '0', '--images', '1', '--json', 'sync.yaml'], { env, cwd, io: { signal: controller.signal } });
  assert.equal(r.code, 130, r.stderr);
  const report = JSON.parse(r.stdout) as { totals: { copied: number; failed: number }; units: { source: string; ok: boolean; error?: { code: string }; targets: { target: string; action: string; ok: boolean; digest: string; error?: { code: string; message: string } }[] }[] };
  assertValidReport(report, 'sync --json');
  const [app, later] = report.units;
  assert.equal(dst.manifest('m/app', '1')?.digest, image.digest, 'the tag was written before the signal');
  assert.equal(app!.source, src.ref('app:1'));
  assert.equal(app!.error?.code, 'E_ABORTED', 'the image itself was cut short (its referrers)');
  assert.deepEqual(
    app!.targets.map((t) => [t.target, t.action, t.ok, t.digest]),
    [[`${dst.host}/m/app:1`, 'copied', true, image.digest]],
    JSON.stringify(app),
  );
  assert.equal(later!.targets[0]!.action, 'failed');
  assert.equal(report.totals.copied, 1, r.stdout);
});
