#!/usr/bin/env node
// npm pack / npm publish hooks (package.json "prepack" and "postpack").
//
//   prepack:  build dist/ when it is older than the sources, then write the package.json that goes
//             into the tarball: without "scripts". A clone needs "prepare" (npm ci builds dist/),
//             but in a tarball npm counts "prepare" as an install script of a non-registry source
//             and npm ≥ 11 warns on every install that it was not allowed to run (and, allowed,
//             it would run tsc where no TypeScript is installed). The other scripts name files
//             that are not in the package.
//   postpack: put the clone's package.json back.
//
// The original is kept in .package.json.pack-orig while npm packs; a prepack that finds one left
// by an interrupted run restores it first.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.cwd();
const manifest = join(root, 'package.json');
const saved = join(root, '.package.json.pack-orig');

/** Newest modification time under `dir` of files accepted by `want` (0 when none). */
function newest(dir, want) {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, want));
    else if (want(e.name)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

function oldestOutput() {
  const outs = ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/cli/regpush.cjs', 'dist/cli/regpush-main.cjs'].map((f) => join(root, f));
  if (!outs.every((f) => existsSync(f))) return -1;
  return Math.min(...outs.map((f) => statSync(f).mtimeMs));
}

function prepack() {
  if (existsSync(saved)) renameSync(saved, manifest);
  const sources = Math.max(
    newest(join(root, 'src'), (n) => n.endsWith('.ts')),
    ...['tsconfig.json', 'scripts/bundle.mjs'].map((f) => (existsSync(join(root, f)) ? statSync(join(root, f)).mtimeMs : 0)),
  );
  if (oldestOutput() < sources) {
    process.stderr.write('pack: building dist/ (npm run build)\n');
    const r = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', cwd: root });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  const text = readFileSync(manifest, 'utf8');
  const pkg = JSON.parse(text);
  writeFileSync(saved, text);
  delete pkg.scripts;
  writeFileSync(manifest, JSON.stringify(pkg, null, 2) + '\n');
}

function postpack() {
  if (existsSync(saved)) renameSync(saved, manifest);
}

const step = process.argv[2];
if (step === 'prepack') prepack();
else if (step === 'postpack') postpack();
else {
  process.stderr.write('usage: node scripts/pack.mjs prepack|postpack (run by npm pack and npm publish)\n');
  process.exit(2);
}
