/**
 * The rule between E_USAGE and E_INPUT (src/errors.ts, README "Exit codes and error codes"): a
 * flag's value that is malformed or out of range is E_USAGE, whatever the flag sets — how the run
 * goes (--jobs, --format) or what goes into the image (--port, --stop-signal); what regpush reads
 * from a file or folder (an app source, a sync file, regpush.json) is E_INPUT. Both exit 2. The CLI
 * runs in-process; every case is refused before any request (the references name port 1 of
 * 127.0.0.1, where nothing listens).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runMain } from '../fixtures/run-main.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const SRC = '127.0.0.1:1/a:1';
const DST = '127.0.0.1:1/b:1';
const dir = tempDirs('regpush-error-codes-')();
writeFileSync(join(dir, 'app.txt'), 'x');
writeFileSync(join(dir, 'sync.yaml'), `images:\n  - { source: ${SRC}, targets: [127.0.0.1:1/m] }\n`);
const push = (...flags: string[]) => ['push', '--retries', '0', '--from', SRC, '--to', DST, '--app', join(dir, 'app.txt'), ...flags];

const CASES: [string, string[], 'E_USAGE' | 'E_INPUT', RegExp][] = [
  // A flag's value: E_USAGE, whichever the flag.
  ['--platform linux/ (was E_INPUT)', ['copy', '--retries', '0', '--platform', 'linux/', SRC, DST], 'E_USAGE', /invalid platform "linux\/"/],
  ['--stop-signal FOO (was E_INPUT)', push('--stop-signal', 'FOO'), 'E_USAGE', /--stop-signal must be a signal name/],
  ['--port abc (was E_INPUT)', push('--port', 'abc'), 'E_USAGE', /invalid --port "abc"/],
  ['--env without = (was E_INPUT)', push('--env', 'K'), 'E_USAGE', /invalid --env: expected KEY=VALUE/],
  ['--env with an unclosed ${ (was E_INPUT)', push('--env', 'K=${A'), 'E_USAGE', /invalid --env K: the "\$\{" at offset 0/],
  ['--label without = (was E_INPUT)', push('--label', 'k'), 'E_USAGE', /invalid --label "k"/],
  ['--user with a space (was E_INPUT)', push('--user', 'a b'), 'E_USAGE', /--user must be USER or USER:GROUP/],
  ['--workdir relative (was E_INPUT)', push('--workdir', 'app'), 'E_USAGE', /--workdir must be an absolute path/],
  ['--volume empty (was E_INPUT)', push('--volume', ''), 'E_USAGE', /--volume must be an absolute path \(got ""\)/],
  ['--chown root (was E_INPUT)', push('--chown', 'root'), 'E_USAGE', /--chown must be UID:GID/],
  ['--annotation without = (was E_INPUT)', push('--annotation', 'k'), 'E_USAGE', /invalid --annotation "k"/],
  ['--entrypoint JSON not of strings (was E_INPUT)', push('--entrypoint', '["a",1]'), 'E_USAGE', /--entrypoint: a JSON value must be an array of strings/],
  ['--healthcheck "" (was E_INPUT)', push('--healthcheck', ''), 'E_USAGE', /--healthcheck: empty command/],
  ['--healthcheck-interval 90x (was E_INPUT)', push('--healthcheck', 'true', '--healthcheck-interval', '90x'), 'E_USAGE', /--healthcheck-interval must be a duration/],
  ['--healthcheck-interval 500us (was E_INPUT)', push('--healthcheck', 'true', '--healthcheck-interval', '500us'), 'E_USAGE', /--healthcheck-interval must be 0 or at least 1ms/],
  ['--healthcheck-retries -1 (was E_INPUT)', push('--healthcheck', 'true', '--healthcheck-retries=-1'), 'E_USAGE', /--healthcheck-retries must be a whole number/],
  ['--chunk-size 5X', push('--chunk-size', '5X'), 'E_USAGE', /--chunk-size/],
  ['--jobs 0', push('--jobs', '0'), 'E_USAGE', /--jobs must be a whole number/],
  ['--gzip-level 10', push('--gzip-level', '10'), 'E_USAGE', /--gzip-level must be a whole number from 0 to 9/],
  ['--format foo', push('--format', 'foo'), 'E_USAGE', /format/],
  ['--max-wait 1x', ['sync', '--min-ratelimit', '5', '--max-wait', '1x', 'sync.yaml'], 'E_USAGE', /--max-wait must be a duration/],
  // What regpush reads from a file or folder: E_INPUT.
  ['an --app source that does not exist', ['push', '--retries', '0', '--from', SRC, '--to', DST, '--app', join(dir, 'missing')], 'E_INPUT', /missing/],
  ['a sync file that does not exist', ['sync', 'missing.yaml'], 'E_INPUT', /missing\.yaml: cannot read the sync file/],
  ['a sync file with a bad value', ['sync', 'bad.yaml'], 'E_INPUT', /bad\.yaml: images\[0\]/],
  ['regpush.json with a bad value', ['push', '--retries', '0', '--config-file', 'bad.json', '--from', SRC, '--to', DST, '--app', join(dir, 'app.txt')], 'E_INPUT', /bad\.json: "ports"/],
];
writeFileSync(join(dir, 'bad.yaml'), `images:\n  - { source: ${SRC}, platforms: [linux/], targets: [127.0.0.1:1/m] }\n`);
writeFileSync(join(dir, 'bad.json'), '{"ports": ["abc"]}');

test('a flag\'s malformed value is E_USAGE, whatever the flag sets; a file or folder regpush reads is E_INPUT; both exit 2, one line, before any request', async () => {
  for (const [name, argv, code, pattern] of CASES) {
    const r = await runMain(argv, { cwd: dir, env: { REGPUSH_IDLE_TIMEOUT_MS: '2000' } });
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${name}: ${r.stderr}`);
    assert.match(lines[0]!, new RegExp(`^regpush: error: .*\\[${code}\\]$`), name);
    assert.match(lines[0]!, pattern, name);
  }
});
