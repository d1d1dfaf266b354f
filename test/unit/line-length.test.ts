// No line of src/**/*.ts is longer than MAX_LINE characters: a reader should not have to scroll
// sideways to see the end of a condition, a message or a comment. Long comments are re-flowed, long
// strings split with `+`, long argument lists put one per line.
//
// Characters are counted as code points (what an editor shows), so a non-ASCII character in a
// message counts once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, repoPath, tsFiles } from '../fixtures/source-files.js';

const SRC = join(REPO_ROOT, 'src');
const MAX_LINE = 200;

/** Every line over MAX_LINE in src/, as { file, line, length }. */
function longLines(): { file: string; line: number; length: number }[] {
  return tsFiles(SRC).flatMap((abs) =>
    readFileSync(abs, 'utf8')
      .split(/\r?\n/)
      .flatMap((text, i) => {
        const length = [...text].length;
        return length > MAX_LINE ? [{ file: repoPath(abs), line: i + 1, length }] : [];
      }),
  );
}

test('the scan sees src/: it finds the source files and reads their lines', () => {
  const files = tsFiles(SRC).map(repoPath);
  assert.ok(files.includes('src/index.ts'), 'src/index.ts not found: the test is looking in the wrong place');
  assert.ok(files.includes('src/cli/main.ts'), 'the scan does not descend into folders');
});

test(`no line of src/**/*.ts is longer than ${MAX_LINE} characters`, () => {
  assert.deepEqual(
    longLines().map((l) => `${l.file}:${l.line} (${l.length} characters)`),
    [],
    `lines longer than ${MAX_LINE} characters: wrap them (comments re-flowed, strings split with +, arguments one per line)`,
  );
});
