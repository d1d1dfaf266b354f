// The CLI's one duration grammar (src/cli/duration.ts), for push's --healthcheck-* timing flags and
// sync's --max-wait alike: every value either flag took before still means what it meant, and a
// value neither takes is one E_USAGE line naming the flag, whichever flag it is given to.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, parseDurationMs } from '../../src/cli/duration.js';
import { configChangesFromFlags } from '../../src/cli/flags.js';
import { UsageError } from '../../src/errors.js';
import { runMain } from '../fixtures/run-main.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

test('one grammar: a bare number of seconds, or number-and-unit terms (ns, us, ms, s, m, h), each value in nanoseconds', () => {
  for (const [text, ns] of [
    // What --max-wait took: a number alone is seconds; one term, a space before its unit allowed.
    ['90', 90e9], ['1.5', 1.5e9], ['0', 0], ['90s', 90e9], ['10m', 600e9], ['1h', 3600e9], ['500ms', 500e6], ['90 s', 90e9], [' 2h ', 7200e9],
    // What the healthcheck flags took: Go's compound form, and ns/us.
    ['1m30s', 90e9], ['1h2m3s4ms', 3723.004e9], ['100us', 100e3], ['250ns', 250], ['0s', 0], ['1.5m', 90e9],
  ] as const) {
    assert.equal(parseDuration(text, '--x'), ns, text);
  }
  assert.equal(parseDurationMs('1m30s', '--max-wait'), 90_000);
  assert.equal(parseDurationMs('500us', '--max-wait'), 1, 'rounded to a whole millisecond, as 0.5ms was');
});

test('a value that is no duration: E_USAGE, one line naming the flag and the value as given', () => {
  for (const bad of ['', ' ', 'x', '1x', 's', '-5s', '1m s', '5 5s', '1,5s', 'm30', '30s 1', '1d']) {
    assert.throws(() => parseDuration(bad, '--max-wait'), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && e.message === `--max-wait must be a duration such as 90s, 1m30s or 500ms, or a number of seconds (got ${JSON.stringify(bad)})`, JSON.stringify(bad));
  }
});

test('the flags use it: --healthcheck-interval 90 is 90 s (was E_INPUT), a bad one is E_USAGE naming the flag', () => {
  const hc = configChangesFromFlags({ healthcheck: 'true', 'healthcheck-interval': '90', 'healthcheck-timeout': '1m30s', 'healthcheck-start-period': '2 s' }).healthcheck!;
  assert.deepEqual([hc.interval, hc.timeout, hc.startPeriod], [90e9, 90e9, 2e9]);
  assert.throws(() => configChangesFromFlags({ healthcheck: 'true', 'healthcheck-timeout': '5x' }), { code: 'E_USAGE', message: '--healthcheck-timeout must be a duration such as 90s, 1m30s or 500ms, or a number of seconds (got "5x")' });
});

test('sync --max-wait 1m30s is taken (it was E_USAGE "must be a duration"): the run goes on to read the sync file; one past 24 h is refused by the gate\'s own check', async () => {
  const dir = tempDirs('regpush-cli-duration-')();
  const run = (argv: string[]) => runMain(argv, { cwd: dir });
  const taken = await run(['sync', '--min-ratelimit', '5', '--max-wait', '1m30s', 'missing.yaml']);
  assert.equal(taken.code, 2, taken.stderr);
  assert.match(taken.stderr, /^regpush: error: missing\.yaml: cannot read the sync file \(no such file\) \[E_INPUT\]\n$/);
  const long = await run(['sync', '--min-ratelimit', '5', '--max-wait', '24h1s', 'missing.yaml']);
  assert.equal(long.code, 2, long.stderr);
  assert.match(long.stderr, /^regpush: error: --max-wait must be from 0 to 24 h \(86400000 ms; got 86401000 ms\) \[E_USAGE\]\n$/);
  const bad = await run(['sync', '--min-ratelimit', '5', '--max-wait', '1d', 'missing.yaml']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /^regpush: error: --max-wait must be a duration such as 90s, 1m30s or 500ms, or a number of seconds \(got "1d"\) \[E_USAGE\]\n$/);
});
