// The package as a user gets it: `npm pack` of what is built, installed into a scratch project
// from the tarball. The install prints no warning a user would have to act on, the CLI runs from
// node_modules/.bin, the library answers against a real registry, and a strict TypeScript
// project (the README's library example) compiles with no `types` setting, with the TypeScript
// this repository pins and, when the npm registry (or its cache) can provide it, the newest.
//
// npm pack runs in a copy of the package's files, not in the repository: pack rewrites
// package.json for the length of the pack, and other test files run at the same time.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exec, imageRef, loadState, tempDir } from './harness.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const state = loadState();
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; version: string; files: string[] };
const npm = (args: string[], cwd: string) =>
  exec('npm', [...args, '--no-audit', '--no-fund', '--no-update-notifier'], { cwd, timeoutMs: 240_000, env: { ...process.env, npm_config_loglevel: 'warn' } });
const tsc = (bin: string, cwd: string, args: string[]) => exec(process.execPath, [bin, ...args], { cwd, timeoutMs: 240_000 });

/** Lines of npm output a user would read as something to fix. */
const warnings = (out: string) => out.split('\n').filter((l) => /\bwarn|\bERR!|deprecated/i.test(l));

/** The README's library example. */
function readmeLibraryExample(): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Library\n'));
  const block = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(block, 'README has a ts block under Library');
  return block[1]!;
}

let tarball: Promise<string> | undefined;
/** Packs once per file: copies package.json, LICENSE, README and the files list, runs npm pack. */
function packed(): Promise<string> {
  tarball ??= (async () => {
    const src = tempDir('regpush-pack-src-');
    for (const f of ['package.json', 'README.md', 'LICENSE', 'scripts/pack.mjs', ...pkg.files]) {
      cpSync(join(REPO, f), join(src, f), { recursive: true });
    }
    const out = tempDir('regpush-pack-out-');
    const r = await npm(['pack', '--pack-destination', out], src);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(warnings(r.stdout + r.stderr), [], 'npm pack warnings');
    // The clone's package.json is back in place after the pack.
    assert.equal(readFileSync(join(src, 'package.json'), 'utf8'), readFileSync(join(REPO, 'package.json'), 'utf8'));
    const file = readdirSync(out).find((f) => f.endsWith('.tgz'));
    assert.equal(file, `${pkg.name}-${pkg.version}.tgz`);
    return join(out, file);
  })();
  return tarball;
}

/** npm could not reach the registry for what its cache lacks: a host without network, not a defect. */
const offline = (out: string) => /\b(ENOTFOUND|EAI_AGAIN|ENETUNREACH|ECONNREFUSED|ETIMEDOUT)\b/.test(out);

/** A scratch ES-module project with regpush installed from the tarball; undefined when npm is offline. */
async function scratchProject(t: { skip(msg: string): void }): Promise<string | undefined> {
  const dir = tempDir('regpush-scratch-');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module' }));
  // --prefer-offline: the npm cache (filled by the repository's own install) serves what it has.
  const r = await npm(['install', '--prefer-offline', await packed()], dir);
  if (r.code !== 0 && offline(r.stderr)) {
    t.skip(`npm cannot fetch regpush's dependencies here: ${r.stderr.trim().split('\n').at(-1)}`);
    return undefined;
  }
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(warnings(r.stdout + r.stderr), [], `npm install warnings:\n${r.stdout}${r.stderr}`);
  return dir;
}

test('the packed tarball: LICENSE and types inside, no scripts, installs cleanly; CLI and library work', async (t) => {
  const tgz = await packed();
  const list = await exec('tar', ['tzf', tgz]);
  const files = list.stdout.split('\n');
  for (const f of ['package/LICENSE', 'package/README.md', 'package/dist/src/index.d.ts', 'package/dist/cli/regpush.cjs']) assert.ok(files.includes(f), f);
  // Every page under docs/ goes with it: the README sums up in a line what they hold and links to
  // them (credentials, connections, the library, push and copy's flags, sync, the quirks, the
  // performance record…), so the installed README would otherwise point at pages that are not there.
  const pages = readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md'));
  assert.ok(pages.length >= 10, `docs/ pages found: ${pages.join(', ')}`);
  for (const f of pages) assert.ok(files.includes(`package/docs/${f}`), `docs/${f}`);
  assert.ok(!files.some((f) => f.startsWith('package/dist/test/') || f.startsWith('package/src/') && !f.endsWith('.json')), 'no tests or sources');
  const manifest = JSON.parse((await exec('tar', ['xzfO', tgz, 'package/package.json'])).stdout) as { scripts?: unknown; license: string; dependencies: Record<string, string> };
  assert.equal(manifest.scripts, undefined, 'no install scripts for npm to warn about');
  assert.equal(manifest.license, 'MIT');
  assert.match(readFileSync(join(REPO, 'LICENSE'), 'utf8'), /^MIT License/);

  const dir = await scratchProject(t);
  if (!dir) return;
  const version = await exec(join(dir, 'node_modules', '.bin', 'regpush'), ['--version']);
  assert.equal(version.stdout.trim(), pkg.version);
  // The library from the installed package, against a real registry.
  const ref = imageRef(state.registries.anon, 'base/busybox:v2s2');
  writeFileSync(join(dir, 'check.mjs'), `import { inspect, RegpushError } from 'regpush';
const r = await inspect(${JSON.stringify(ref)}, { env: {} });
console.log(r.digest, r.layers.length);
try { await inspect('127.0.0.1:1/nothing:1', { env: {}, retries: 0 }); } catch (e) { console.log(e instanceof RegpushError, e.code); }
`);
  const run = await exec(process.execPath, ['check.mjs'], { cwd: dir, timeoutMs: 60_000 });
  assert.equal(run.code, 0, run.stderr);
  const seeded = state.images.anon['base/busybox:v2s2']!;
  assert.equal(run.stdout, `${seeded.digest} ${seeded.layers!.length}\ntrue E_NETWORK\n`);
});

/** A scratch project with regpush installed, the README's library example, and two strict tsconfigs (with and without "types"). */
async function typesProject(t: { skip(msg: string): void }): Promise<string | undefined> {
  const dir = await scratchProject(t);
  if (!dir) return undefined;
  writeFileSync(join(dir, 'example.ts'), readmeLibraryExample());
  // A strict project as `tsc --init` users write it, without "types": ["node"].
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false }, files: ['example.ts'] }));
  // The same with "types": [] (only what the code itself references is loaded).
  writeFileSync(join(dir, 'tsconfig.notypes.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { types: [] } }));
  return dir;
}

test('library types: the README example compiles under strict with the pinned TypeScript, no types setting', async (t) => {
  const dir = await typesProject(t);
  if (!dir) return;
  const pinned = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  const pinnedVersion = (JSON.parse(readFileSync(join(REPO, 'node_modules', 'typescript', 'package.json'), 'utf8')) as { version: string }).version;
  for (const config of ['tsconfig.json', 'tsconfig.notypes.json']) {
    const r = await tsc(pinned, dir, ['-p', config]);
    assert.equal(r.code, 0, `TypeScript ${pinnedVersion}, ${config}:\n${r.stdout}${r.stderr}`);
  }
  // The command line of the issue, no tsconfig at all.
  const bare = await tsc(pinned, dir, ['--strict', '--noEmit', '--module', 'nodenext', '--target', 'es2022', 'example.ts']);
  assert.equal(bare.code, 0, bare.stdout + bare.stderr);
});

test('library types: the README example compiles under strict with the newest TypeScript (skipped where npm cannot fetch it)', async (t) => {
  const latestDir = tempDir('regpush-ts-latest-');
  writeFileSync(join(latestDir, 'package.json'), '{"private":true}');
  const got = await npm(['install', '--prefer-offline', 'typescript@latest'], latestDir);
  if (got.code !== 0) {
    t.skip(`newest TypeScript not available here: ${got.stderr.trim().split('\n').at(-1)}`);
    return;
  }
  const dir = await typesProject(t);
  if (!dir) return;
  const latest = join(latestDir, 'node_modules', 'typescript');
  const latestVersion = (JSON.parse(readFileSync(join(latest, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> });
  const pinnedVersion = (JSON.parse(readFileSync(join(REPO, 'node_modules', 'typescript', 'package.json'), 'utf8')) as { version: string }).version;
  // --prefer-offline may answer "latest" from the cache: say which version was checked.
  t.diagnostic(`TypeScript ${latestVersion.version} (newest found; pinned ${pinnedVersion})`);
  for (const config of ['tsconfig.json', 'tsconfig.notypes.json']) {
    const r = await tsc(join(latest, latestVersion.bin.tsc!), dir, ['-p', config]);
    assert.equal(r.code, 0, `TypeScript ${latestVersion.version}, ${config}:\n${r.stdout}${r.stderr}`);
  }
});
