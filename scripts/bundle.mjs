#!/usr/bin/env node
// Bundles the CLI into dist/cli/regpush.cjs + regpush-main.cjs (run by `npm run build` / `prepare` after tsc).
//
// Why: a deploy job starts regpush once per push, and a warm push does ~0.1 s of real work. With
// the plain tsc output, Node resolves, reads and compiles ~300 module files first (~0.3 s here;
// docs/performance.md, "Start-up" and "What made it faster"). One bundle removes that per-file cost.
// The library entry (dist/src/index.js) stays plain tsc output for programs that import regpush.
//
// Some dependency code the CLI never runs is replaced here, because loading it costs ~100 ms per
// start: axios' form-data (and mime-db behind it; regpush never sends multipart bodies),
// follow-redirects (the transport always sets maxRedirects: 0 and follows redirects itself), its
// fetch adapter and FormData probe (the transport always uses the http adapter; merely touching
// globalThis.fetch or FormData makes Node load its internal undici), its HTTP/2 module, and yargs' help-layout
// modules, which become lazy. The e2e suite runs this bundle, so a dependency update that needs
// one of them fails the tests, not a user's deploy; a text edit that no longer matches fails the build.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './lib/test-env.mjs';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));

const STUBS = {
  'form-data': 'export default class FormData {}',
  'follow-redirects': "import http from 'node:http'; import https from 'node:https'; export default { http, https };",
  'axios-fetch-adapter': 'export const getFetch = () => undefined; export default undefined;',
  // axios imports node:http2 at load for its HTTP/2 transport, used only with httpVersion: 2,
  // which regpush never sets; loading the module costs ~8 ms.
  'axios-http2': "const unused = () => { throw new Error('regpush does not use HTTP/2'); }; export default { connect: unused, constants: {} };",
  // yargs needs these two only to lay out help text; evaluating them (Intl.Segmenter, Unicode
  // property regexps) cost ~35 ms of every start. A require() makes esbuild initialise the real
  // module on first call instead of at load.
  'lazy-cliui': "export default function cliui(opts) { return require('cliui').default(opts); }",
  'lazy-string-width': "export default function stringWidth(text, opts) { return require('string-width').default(text, opts); }",
};

/** Source edits in dependencies: [file suffix, exact text, replacement, why]. The build fails when a text is not found. */
const EDITS = [
  [
    '/axios/lib/utils.js',
    "const FormDataCtor = typeof G.FormData !== 'undefined' ? G.FormData : undefined;",
    'const FormDataCtor = undefined;',
    // Reading globalThis.FormData makes Node load its internal undici (~15 ms); regpush never sends FormData.
    'FormData probe',
  ],
];

const isYargsShim = (importer) => /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]/.test(importer) || /[\\/]yargs[\\/]build[\\/]/.test(importer);

const applied = new Set();

/** @type {import('esbuild').Plugin} */
const unusedModules = {
  name: 'regpush-unused-modules',
  setup(b) {
    b.onResolve({ filter: /^(form-data|follow-redirects)$/ }, (a) => ({ path: a.path, namespace: 'regpush-stub' }));
    b.onResolve({ filter: /^\.\/fetch\.js$/ }, (a) =>
      /[\\/]axios[\\/]lib[\\/]adapters$/.test(a.resolveDir) ? { path: 'axios-fetch-adapter', namespace: 'regpush-stub' } : undefined,
    );
    b.onResolve({ filter: /^(node:)?http2$/ }, (a) => (/[\\/]axios[\\/]/.test(a.importer) ? { path: 'axios-http2', namespace: 'regpush-stub' } : undefined));
    b.onResolve({ filter: /^(cliui|string-width)$/ }, (a) => (isYargsShim(a.importer) ? { path: `lazy-${a.path}`, namespace: 'regpush-stub' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'regpush-stub' }, (a) => ({ contents: STUBS[a.path], loader: 'js', resolveDir: REPO_ROOT }));
    for (const [suffix, text, replacement, what] of EDITS) {
      const filter = new RegExp(`${suffix.replace(/[.*+?^${}()|[\]\\/]/g, (c) => (c === '/' ? '[\\\\/]' : `\\${c}`))}$`);
      b.onLoad({ filter }, (a) => {
        const src = readFileSync(a.path, 'utf8');
        if (!src.includes(text)) throw new Error(`bundle: ${what}: the expected text is gone from ${a.path}; review scripts/bundle.mjs for this dependency version`);
        applied.add(what);
        return { contents: src.replace(text, replacement), loader: 'js' };
      });
    }
  },
};

/** Options both bundles share. */
function common(minify) {
  return {
    bundle: true,
    // CommonJS, measured against ES-module chunks: ~30 ms less per start (no ES module loader for
    // our code, no ESM facades over Node built-ins, whose lazy getters such as crypto.webcrypto
    // then load at once). Dynamic import() of our own modules becomes a lazy initialiser, so a
    // command still evaluates only what it uses.
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // Minified: less source to read and compile at every start (~20 ms). The linked source map
    // makes stack traces readable with NODE_OPTIONS=--enable-source-maps and costs nothing otherwise.
    minify,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    // ES modules among the dependencies read import.meta.url; in CommonJS it comes from __filename.
    inject: [join(REPO_ROOT, 'scripts', 'bundle-import-meta.js')],
    define: { __REGPUSH_VERSION__: JSON.stringify(pkg.version), 'import.meta.url': 'import_meta_url' },
  };
}

const MAIN_LOADER = join(REPO_ROOT, 'scripts', 'bundle-main-loader.cjs');
const CODE_CACHE = join(REPO_ROOT, 'scripts', 'bundle-code-cache.cjs');

/**
 * bin.ts loads the CLI proper from its own file, so `regpush --version` reads a few hundred bytes,
 * not the whole CLI; it loads it through scripts/bundle-main-loader.cjs, with the V8 code cache.
 */
const mainApart = {
  name: 'regpush-main-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/main\.js$/ }, (a) => (/[\\/]src[\\/]cli[\\/]bin\.ts$/.test(a.importer) ? { path: 'main-loader', namespace: 'regpush-main' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'regpush-main' }, () => ({
      contents: `module.exports = require(${JSON.stringify(MAIN_LOADER)}).load(__dirname);`,
      loader: 'js',
      resolveDir: REPO_ROOT,
    }));
  },
};

/** Writes dist/cli/regpush.cjs (the executable: argv, signals, --version) and dist/cli/regpush-main.cjs (the CLI), each with .map and .LEGAL.txt, and the CLI's code cache. */
export async function bundle({ outdir = join(REPO_ROOT, 'dist', 'cli'), minify = true } = {}) {
  rmSync(outdir, { recursive: true, force: true });
  applied.clear();
  const [launcher, cli] = await Promise.all([
    build({
      ...common(minify),
      entryPoints: { regpush: join(REPO_ROOT, 'src', 'cli', 'bin.ts') },
      outdir,
      outExtension: { '.js': '.cjs' },
      plugins: [mainApart],
      // require(), not import(): an import() of a CommonJS file makes Node scan all of it for
      // export names first (cjs-module-lexer, ~20 ms for the CLI bundle).
      supported: { 'dynamic-import': false },
    }),
    build({
      ...common(minify),
      entryPoints: { 'regpush-main': join(REPO_ROOT, 'src', 'cli', 'main.ts') },
      outdir,
      outExtension: { '.js': '.cjs' },
      plugins: [unusedModules],
      // A lazy import() of a Node built-in (child_process for credential helpers) as require():
      // through import() Node would build an ES-module facade over it first.
      supported: { 'dynamic-import': false },
    }),
  ]);
  // V8's code cache for regpush-main.cjs, made (and checked) in fresh processes of this Node.
  execFileSync(process.execPath, [CODE_CACHE, outdir], { stdio: 'inherit' });
  const missed = EDITS.filter(([, , , what]) => !applied.has(what)).map(([file, , , what]) => `${what} (${file})`);
  if (missed.length) throw new Error(`bundle: source edits not applied: ${missed.join(', ')}; the file moved in this dependency version`);
  return { launcher, cli };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await bundle();
}
