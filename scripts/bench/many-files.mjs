#!/usr/bin/env node
// An app directory of many small files, for the memory limit with many app files: 50 directories
// × 1,000 files (`d0/f0.txt` … `d49/f999.txt`) of 200–599 bytes each, text derived from the path,
// so the same tree (and the same layer digest) on every run and machine. Used by the bench's
// `push-50k` row and the e2e test test/e2e/many-files.test.ts.
//
//   node scripts/bench/many-files.mjs [DIR]     # default /tmp/50k; reused when already complete
//
// node: builtins only; no build step.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const MANY_DIRS = 50;
export const FILES_PER_DIR = 1000;
export const MANY_FILES = MANY_DIRS * FILES_PER_DIR;

/** The content of `d<d>/f<f>.txt`: 200–599 bytes of lines made from a hash chain of its name. */
export function manyFileContent(d, f) {
  const name = `d${d}/f${f}.txt`;
  let h = createHash('sha256').update(name).digest();
  const size = 200 + (h.readUInt16BE(0) % 400);
  let text = '';
  while (text.length < size) {
    text += `${name} ${h.toString('hex')}\n`;
    h = createHash('sha256').update(h).digest();
  }
  return text.slice(0, size - 1) + '\n';
}

/** True when `dir` already holds the whole tree (checked by the last file of every directory). */
function complete(dir) {
  try {
    for (let d = 0; d < MANY_DIRS; d++) {
      const f = FILES_PER_DIR - 1;
      if (readFileSync(join(dir, `d${d}`, `f${f}.txt`), 'utf8') !== manyFileContent(d, f)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates the tree in `dir` unless it is already there; returns `dir`. Built beside it and renamed
 * into place, so an interrupted run leaves no half tree; a `dir` holding anything else is refused.
 */
export function makeManyFiles(dir) {
  if (complete(dir)) return dir;
  if (existsSync(dir)) throw new Error(`${dir} exists and is not the many-files tree; remove it or name another directory`);
  const tmp = `${dir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  for (let d = 0; d < MANY_DIRS; d++) {
    const sub = join(tmp, `d${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < FILES_PER_DIR; f++) writeFileSync(join(sub, `f${f}.txt`), manyFileContent(d, f));
  }
  renameSync(tmp, dir);
  return dir;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = process.argv[2] ?? '/tmp/50k';
  const t0 = Date.now();
  makeManyFiles(dir);
  process.stdout.write(`${dir}: ${MANY_FILES} files (${Date.now() - t0} ms)\n`);
}
