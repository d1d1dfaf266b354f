// `regpush sync FILE` in-process: a file that cannot be read, or is not a sync file, is one error
// line with exit code 2 before any request (the CLI's part; the format is sync-config.test.ts).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runMain } from '../fixtures/run-main.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const dir = tempDirs('regpush-cli-sync-')();

const run = (argv: string[]) => runMain(argv, { cwd: dir });

function oneLine(r: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
}

test('a sync file that does not exist, or is a directory: one line saying so, exit 2', async () => {
  oneLine(await run(['sync', 'missing.yaml']), /missing\.yaml: cannot read the sync file \(no such file\) \[E_INPUT\]$/);
  oneLine(await run(['sync', '.']), /: \.: cannot read the sync file \(it is a directory\) \[E_INPUT\]$/);
});

test('a bad file is named as given, relative to the working directory', async () => {
  writeFileSync(join(dir, 'typo.yaml'), 'images:\n  - source: a.io/x\n    tags: all\n    target: r.io/y\n    platform: linux/amd64\n');
  oneLine(await run(['sync', 'typo.yaml']), /typo\.yaml: images\[0\] \(a\.io\/x\): "platform" \(line 5\) is not a known key.* \[E_INPUT\]$/);
  writeFileSync(join(dir, 'empty.yaml'), '');
  oneLine(await run(['sync', 'empty.yaml']), /empty\.yaml: a sync file is a mapping with an "images" list.* \[E_INPUT\]$/);
});

test('--max-wait without --min-ratelimit: one line saying it needs the gate, exit 2, before any request', async () => {
  // The source is an address nothing listens on: a request would fail E_NETWORK (exit 6), not E_USAGE.
  writeFileSync(join(dir, 'wait.yaml'), 'images:\n  - source: 127.0.0.1:9/app:1\n    targets: [127.0.0.1:9/mirror]\n');
  oneLine(await run(['sync', '--max-wait', '10m', 'wait.yaml']), /--max-wait needs --min-ratelimit: it is how long the pull-limit gate may hold images .*\[E_USAGE\]$/);
});
