import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipJobsFromArgv, gzipJobsOption, sizeThreadPool } from '../../src/cli/threadpool.js';
import { UsageError } from '../../src/errors.js';

/** The bundle `npm run build` makes next to the compiled tests (dist/cli/regpush.cjs). */
const BIN = fileURLToPath(new URL('../../cli/regpush.cjs', import.meta.url));

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && re.test((e as Error).message);

describe('cli: --gzip-jobs and REGPUSH_GZIP_JOBS', () => {
  it('the flag wins over the environment; neither means the library default', () => {
    assert.deepEqual(gzipJobsOption(8, { REGPUSH_GZIP_JOBS: '3' }), { gzipJobs: 8 });
    assert.deepEqual(gzipJobsOption(undefined, { REGPUSH_GZIP_JOBS: '3' }), { gzipJobs: 3 });
    assert.deepEqual(gzipJobsOption(undefined, { REGPUSH_GZIP_JOBS: ' 64 ' }), { gzipJobs: 64 });
    assert.deepEqual(gzipJobsOption(undefined, {}), {});
    assert.deepEqual(gzipJobsOption(undefined, { REGPUSH_GZIP_JOBS: '' }), {});
  });

  it('bad values are E_USAGE naming the flag or the variable', () => {
    for (const bad of [0, 65, 1.5, Number.NaN, -2]) assert.throws(() => gzipJobsOption(bad, {}), usage(/^--gzip-jobs must be a whole number from 1 to 64/), String(bad));
    assert.throws(() => gzipJobsOption([2, 3], {}), usage(/--gzip-jobs was given 2 times/));
    for (const bad of ['0', 'four', '2.5', '65', '-1', '3x']) assert.throws(() => gzipJobsOption(undefined, { REGPUSH_GZIP_JOBS: bad }), { name: 'InputError', code: 'E_INPUT', message: new RegExp(`^REGPUSH_GZIP_JOBS must be a whole number from 1 to 64 \\(got "${bad.replace('.', '\\.')}"\\)`) }, bad);
    // A valid flag is used even when the variable is bad: the flag is what the user typed last.
    assert.deepEqual(gzipJobsOption(4, { REGPUSH_GZIP_JOBS: 'four' }), { gzipJobs: 4 });
  });

  it('the launcher finds --gzip-jobs in raw argv before yargs runs', () => {
    assert.equal(gzipJobsFromArgv(['push', '--gzip-jobs', '12', '--from', 'a']), 12);
    assert.equal(gzipJobsFromArgv(['push', '--gzip-jobs=7']), 7);
    assert.equal(gzipJobsFromArgv(['push', '--gzipJobs', '5']), 5);
    assert.equal(gzipJobsFromArgv(['push', '--gzip-jobs', '2', '--gzip-jobs', '6']), 6);
    assert.equal(gzipJobsFromArgv(['push', '--gzip-jobs', 'many']), undefined);
    // Spelled as yargs still reads a whole number: the pool is sized for what the command will take.
    assert.equal(gzipJobsFromArgv(['push', '--gzip-jobs', '8.0']), 8);
    assert.equal(gzipJobsFromArgv(['push', '--gzip-jobs=1e1']), 10);
    assert.equal(gzipJobsFromArgv(['push', '--gzip-jobs', '2.5']), undefined);
    assert.equal(gzipJobsFromArgv(['push', '--gzip-jobs']), undefined);
    assert.equal(gzipJobsFromArgv(['push', '--', '--gzip-jobs', '9']), undefined);
    assert.equal(gzipJobsFromArgv(['push', '--gzip-jobs-x', '9']), undefined);
  });

  it('sizes UV_THREADPOOL_SIZE for the lanes, one spare, and keeps a value the user set', () => {
    const env: Record<string, string | undefined> = {};
    assert.deepEqual(sizeThreadPool(env, ['push'], 16), { poolSize: 19, by: 'regpush', lanes: 18 });
    assert.equal(env.UV_THREADPOOL_SIZE, '19');
    const two: Record<string, string | undefined> = {};
    assert.deepEqual(sizeThreadPool(two, ['push'], 2), { poolSize: 5, by: 'regpush', lanes: 4 }, 'a 2-core machine: two lanes queued beyond its cores');
    const flag: Record<string, string | undefined> = { REGPUSH_GZIP_JOBS: '3' };
    assert.deepEqual(sizeThreadPool(flag, ['push', '--gzip-jobs', '12'], 2), { poolSize: 13, by: 'regpush', lanes: 12 });
    const fromEnv: Record<string, string | undefined> = { REGPUSH_GZIP_JOBS: '8' };
    assert.deepEqual(sizeThreadPool(fromEnv, ['push'], 2), { poolSize: 9, by: 'regpush', lanes: 8 });
    const badEnv: Record<string, string | undefined> = { REGPUSH_GZIP_JOBS: 'lots' };
    assert.deepEqual(sizeThreadPool(badEnv, ['push'], 6), { poolSize: 9, by: 'regpush', lanes: 8 }, 'left for the command to report');
    const user: Record<string, string | undefined> = { UV_THREADPOOL_SIZE: '3' };
    assert.deepEqual(sizeThreadPool(user, ['push', '--gzip-jobs', '12'], 16), { poolSize: 3, by: 'user' });
    assert.equal(user.UV_THREADPOOL_SIZE, '3');
  });
});

/**
 * The real thread-pool size of a process, measured: `k` reads of empty fifos each hold a pool
 * thread; a stat queued after them finishes only while a thread is left.
 */
const PROBE = `
const fs = require('node:fs'); const path = require('node:path'); const { execFileSync } = require('node:child_process');
async function blockedWith(k, dir) {
  const fds = [];
  for (let i = 0; i < k; i++) { const p = path.join(dir, 'f' + i); if (!fs.existsSync(p)) execFileSync('mkfifo', [p]); fds.push(fs.openSync(p, 'r+')); }
  const reads = fds.map((fd) => new Promise((r) => fs.read(fd, Buffer.alloc(1), 0, 1, null, r)));
  const statDone = await Promise.race([new Promise((r) => fs.stat(dir, () => r(true))), new Promise((r) => setTimeout(() => r(false), 400))]);
  for (const fd of fds) fs.writeSync(fd, 'x');
  await Promise.all(reads);
  for (const fd of fds) fs.closeSync(fd);
  return !statDone;
}
module.exports = async (dir, expected) => [await blockedWith(expected - 1, dir), await blockedWith(expected, dir)];
`;

describe('cli: the bundled launcher sizes the real thread pool', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'regpush-pool-'));
    writeFileSync(join(dir, 'probe.cjs'), PROBE);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Loads dist/cli/regpush.cjs as `regpush --version …` would, then probes the pool: [blocked with size−1 reads, blocked with size reads]. */
  function probe(args: string[], env: Record<string, string>, expected: number): [boolean, boolean] {
    const code = `require(${JSON.stringify(BIN)}); setTimeout(() => require(${JSON.stringify(join(dir, 'probe.cjs'))})(${JSON.stringify(dir)}, ${expected}).then((r) => console.log(JSON.stringify(r))), 100);`;
    const envNoPool = { ...process.env, ...env };
    if (!('UV_THREADPOOL_SIZE' in env)) delete envNoPool.UV_THREADPOOL_SIZE;
    const r = spawnSync(process.execPath, ['-e', code, 'regpush', '--version', ...args], { env: envNoPool, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as [boolean, boolean];
  }

  it('regpush push refuses a bad --gzip-jobs (E_USAGE) or REGPUSH_GZIP_JOBS (E_INPUT) with one line, exit 2, before any request', (t) => {
    if (!existsSync(BIN)) return t.skip('dist/cli/regpush.cjs not built (npm run build)');
    // Port 9 (discard) on loopback: nothing listens there; the usage check comes first.
    const push = ['push', '--from', 'scratch', '--to', '127.0.0.1:9/x/app:1', '--app', dir];
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--gzip-jobs', '0'], {}, /^regpush: error: --gzip-jobs must be a whole number from 1 to 64 \(got 0\) \[E_USAGE\]\n$/],
      [['--gzip-jobs', 'many'], {}, /^regpush: error: --gzip-jobs needs a number \[E_USAGE\]\n$/],
      [['--gzip-jobs', '2', '--gzip-jobs', '3'], {}, /^regpush: error: --gzip-jobs was given 2 times; give it once \[E_USAGE\]\n$/],
      [[], { REGPUSH_GZIP_JOBS: '99' }, /^regpush: error: REGPUSH_GZIP_JOBS must be a whole number from 1 to 64 \(got "99"\) \[E_INPUT\]\n$/],
    ];
    for (const [args, env, want] of cases) {
      const r = spawnSync(process.execPath, [BIN, ...push, ...args], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 2, `${args.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`);
      assert.match(r.stderr, want);
      assert.equal(r.stdout, '');
    }
  });

  it('--gzip-jobs 9 gives 10 threads; a user-set UV_THREADPOOL_SIZE is kept', (t) => {
    if (!existsSync(BIN)) return t.skip('dist/cli/regpush.cjs not built (npm run build)');
    if (spawnSync('mkfifo', ['--version']).status !== 0) return t.skip('no mkfifo');
    assert.deepEqual(probe(['--gzip-jobs', '9'], {}, 10), [false, true]);
    assert.deepEqual(probe(['--gzip-jobs', '9'], { UV_THREADPOOL_SIZE: '6' }, 6), [false, true]);
    assert.deepEqual(probe([], { REGPUSH_GZIP_JOBS: '5' }, 6), [false, true]);
  });
});
