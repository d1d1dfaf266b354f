// scripts/test.mjs gives each run one temporary folder (scripts/lib/run-temp.mjs): the tests'
// TMPDIR, removed when the run ends, on SIGTERM and SIGINT too, and, once an hour old, when a later
// run finds one a killed run left. Each case runs the runner on one probe test file
// (test/fixtures/runner-temp-probe.ts, which leaves a folder in os.tmpdir() as a killed test would)
// with TMPDIR pointing at a folder of the case's own, and looks at what is left there.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDirs } from '../fixtures/temp-dirs.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/test/unit/ → repository root
const PROBE = join(ROOT, 'dist', 'test', 'fixtures', 'runner-temp-probe.js');
const tmp = tempDirs('regpush-runner-temp-');

interface Run {
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
}

/** Starts the runner on the probe with TMPDIR=`base`; the probe writes its folder's path to `ready`. */
function runner(base: string, ready: string, env: Record<string, string> = {}): Run {
  // Without NODE_TEST_CONTEXT, which this file's runner sets: node --test refuses to run inside a test.
  const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'test.mjs'), '--no-registries', PROBE], {
    cwd: ROOT,
    env: { ...outer, REGPUSH_TEST_KEEP: '', TMPDIR: base, PROBE_READY: ready, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const limit = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal, output });
    }),
  );
  return { pid: child.pid!, exited };
}

async function waitForFile(path: string): Promise<string> {
  for (let i = 0; i < 300; i++) {
    if (existsSync(path) && readFileSync(path, 'utf8')) return readFileSync(path, 'utf8');
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${path} never written`);
}

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  test(`a run stopped by ${sig} leaves nothing in the temp dir, what its tests left there included`, async () => {
    const base = tmp();
    const ready = join(tmp(), 'ready');
    const run = runner(base, ready, { PROBE_WAIT: '1' });
    const probeDir = await waitForFile(ready);
    // The probe's folder is in the run's own, named for the runner.
    assert.match(basename(dirname(probeDir)), new RegExp(`^regpush-tests-${run.pid}-`));
    assert.equal(dirname(dirname(probeDir)), base);
    // Open as /tmp is, for the tests that run the CLI as nobody.
    assert.equal(statSync(dirname(probeDir)).mode & 0o7777, 0o1777);
    process.kill(run.pid, sig);
    const { code, output } = await run.exited;
    assert.equal(code, 130, output);
    assert.deepEqual(readdirSync(base), [], output);
  });
}

test('a run that ends removes its folder, and the folders a killed run left once they are an hour old', async () => {
  const base = tmp();
  // A pid that is no runner any more: a process that has ended.
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000);
  const left = (name: string, age: number, files: Record<string, string> = { f: 'x' }) => {
    const d = join(base, name);
    mkdirSync(d);
    for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
    utimesSync(d, hoursAgo(age), hoursAgo(age));
    return d;
  };
  left(`regpush-tests-${dead}-aB3dE9`, 2); // a killed run's: removed
  left(`regpush-tests-${dead}-fResh1`, 0.5); // changed within the hour: left alone
  left(`regpush-tests-${dead}-kept01`, 2, { KEPT: 'REGPUSH_TEST_KEEP=1' }); // kept on purpose
  left(`regpush-tests-${process.pid}-alive1`, 2); // its pid is alive, though no runner: still removed
  // A runner still at work (a process whose command line names scripts/test.mjs): its folder stays, however old.
  const busy = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', 'scripts/test.mjs'], { stdio: 'ignore' });
  after(() => busy.kill());
  left(`regpush-tests-${busy.pid}-busy01`, 2);
  left('regpush-e2e-aB3dE9', 2); // not a run's folder
  const elsewhere = left('target-of-link', 2);
  symlinkSync(elsewhere, join(base, `regpush-tests-${dead}-link01`)); // a link: never followed nor removed
  const ready = join(tmp(), 'ready');
  const { code, output } = await runner(base, ready).exited;
  assert.equal(code, 0, output);
  assert.ok(existsSync(await waitForFile(ready)) === false, 'the probe ran, and its folder went with the run');
  assert.deepEqual(readdirSync(base).sort(), [`regpush-tests-${busy.pid}-busy01`, `regpush-tests-${dead}-fResh1`, `regpush-tests-${dead}-kept01`, `regpush-tests-${dead}-link01`, 'regpush-e2e-aB3dE9', 'target-of-link'].sort(), output);
  assert.match(output, new RegExp(`removed .*regpush-tests-${dead}-aB3dE9`));
});

test('REGPUSH_TEST_KEEP=1 keeps the run folder, marked so that no later run sweeps it', async () => {
  const base = tmp();
  const ready = join(tmp(), 'ready');
  const { code, output } = await runner(base, ready, { REGPUSH_TEST_KEEP: '1' }).exited;
  assert.equal(code, 0, output);
  const probeDir = await waitForFile(ready);
  assert.ok(existsSync(join(probeDir, 'file')), output);
  assert.ok(existsSync(join(dirname(probeDir), 'KEPT')));
  assert.match(output, new RegExp(`stay in ${dirname(probeDir)}`));
});
