#!/usr/bin/env node
// Bundles the CLI into dist/cli/ (run by `npm run build` / `prepare` after tsc).
//
// Why: a deploy job starts regpush once per push, and a warm push does ~0.1 s of real work. With
// the plain tsc output, Node resolves, reads and compiles ~300 module files first (~0.3 s here,
// see PERFORMANCE-NOTES.md and the README's performance section). One bundle (split only where
// the CLI itself loads lazily: each command, the progress display) removes that per-file cost.
// The library entry (dist/src/index.js) stays plain tsc output for programs that import regpush.
//
// Three modules of axios are replaced by stubs here, because the CLI never uses them and loading
// them costs ~60 ms per start: form-data (and mime-db behind it; regpush never sends multipart
// bodies), follow-redirects (the transport always sets maxRedirects: 0 and follows redirects
// itself), and axios' fetch adapter (the transport always uses the http adapter; merely probing
// for fetch makes Node load its internal undici). The e2e suite runs this bundle, so a change in
// axios that needs one of them fails the tests, not a user's deploy.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './lib/test-env.mjs';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));

const STUBS = {
  'form-data': 'export default class FormData {}',
  'follow-redirects': "import http from 'node:http'; import https from 'node:https'; export default { http, https };",
  'axios-fetch-adapter': 'export const getFetch = () => undefined; export default undefined;',
};

/** @type {import('esbuild').Plugin} */
const unusedModules = {
  name: 'regpush-unused-modules',
  setup(b) {
    b.onResolve({ filter: /^(form-data|follow-redirects)$/ }, (a) => ({ path: a.path, namespace: 'regpush-stub' }));
    b.onResolve({ filter: /^\.\/fetch\.js$/ }, (a) =>
      /[\\/]axios[\\/]lib[\\/]adapters$/.test(a.resolveDir) ? { path: 'axios-fetch-adapter', namespace: 'regpush-stub' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'regpush-stub' }, (a) => ({ contents: STUBS[a.path], loader: 'js', resolveDir: REPO_ROOT }));
  },
};

export async function bundle({ outdir = join(REPO_ROOT, 'dist', 'cli'), minify = false } = {}) {
  rmSync(outdir, { recursive: true, force: true }); // chunk names carry hashes: old ones would pile up
  return build({
    entryPoints: { regpush: join(REPO_ROOT, 'src', 'cli', 'bin.ts') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minify,
    legalComments: 'linked',
    logLevel: 'warning',
    plugins: [unusedModules],
    define: { __REGPUSH_VERSION__: JSON.stringify(pkg.version) },
    // CommonJS dependencies bundled into an ES module still call require() for Node built-ins.
    banner: { js: "import { createRequire as __regpushCreateRequire } from 'node:module';\nconst require = __regpushCreateRequire(import.meta.url);" },
    chunkNames: 'chunks/[name]-[hash]',
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await bundle();
}
