/**
 * No file of the repository holds a merge's conflict markers. A README once shipped both sides of
 * a conflict for a whole round: tsc catches markers in code, nothing caught them in prose, scripts
 * or data. Reads the files git tracks; no registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file runs as dist/test/unit/conflict-markers.test.js. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The opening and closing markers git writes (`=======` alone is also a Markdown heading underline). */
const MARKER = /^(<{7}|>{7}) /m;

test('no tracked file holds merge conflict markers', () => {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  assert.ok(files.length > 100, `git ls-files listed ${files.length} files`);
  const marked = files.filter((f) => {
    const bytes = readFileSync(path.join(ROOT, f));
    if (bytes.includes(0)) return false; // binary
    return MARKER.test(bytes.toString('utf8'));
  });
  assert.deepEqual(marked, []);
});
