// Where a layer source may lie: a project file's (regpush.json) `app` and `layers` entries only
// inside its folder, symlinks and `..` resolved; a source named on the command line anywhere, with
// a warning when it resolves outside the working folder. In-process CLI against fake registries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';
import { layerNames } from '../fixtures/layer-names.js';
import { execFileSync } from 'node:child_process';
import { unappliedIgnoreWarning } from '../../src/layer/index.js';
import { checkInputs } from '../../src/push/inputs.js';
import { flagNames, optionPaths } from '../../src/option-names.js';

const fake = fakeRegistryPool();

function cliEnv(...regs: FakeRegistry[]): Record<string, string | undefined> {
  const lib = fakeLibraryOptions(...regs);
  return { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };
}

/** root/proj (a checkout with ./dist/server.js) and root/host (a "secret" outside it). */
function checkout(t: { after(fn: () => void): void }): { root: string; proj: string; host: string } {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'regpush-source-places-')));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const proj = join(root, 'proj');
  const host = join(root, 'host');
  mkdirSync(join(proj, 'dist'), { recursive: true });
  writeFileSync(join(proj, 'dist', 'server.js'), 'console.log("hi")\n');
  mkdirSync(join(host, 'secrets'), { recursive: true });
  writeFileSync(join(host, 'secrets', 'token'), 'host secret\n');
  writeFileSync(join(host, 'config.json'), '{"password":"host secret"}\n');
  return { root, proj, host };
}

async function pushWith(project: Record<string, unknown>, proj: string, args: string[] = []) {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  writeFileSync(join(proj, 'regpush.json'), JSON.stringify({ from: src.ref('base:1'), to: dst.ref('app:1'), ...project }));
  const r = await runMain(['push', ...args], { env: cliEnv(src, dst), cwd: proj });
  return { ...r, dst };
}

/** The one error line: E_INPUT (exit 2) naming the entry, nothing written to the target. */
function refused(r: { code: number; stderr: string; dst: FakeRegistry }, entry: string, flag: string, real: string, root: string) {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, / \[E_INPUT\]$/, 'a value in regpush.json is the file\'s mistake');
  assert.ok(lines[0]!.includes(`regpush.json ${entry} resolves outside the project folder ${root} (to ${real})`), r.stderr);
  assert.ok(lines[0]!.includes(`give it on the command line with ${flag}`), r.stderr);
  assert.equal(r.dst.count(), 0, 'nothing pushed');
}

test('regpush.json: an app entry "../…" outside the project folder is E_INPUT naming the entry, nothing pushed', async (t) => {
  const { proj, host } = checkout(t);
  refused(await pushWith({ app: ['./dist', '../host/secrets:/app/s'] }, proj), 'app[1]', '--app', join(host, 'secrets'), proj);
});

test('regpush.json: an absolute app entry outside the project folder is refused the same way', async (t) => {
  const { proj, host } = checkout(t);
  refused(await pushWith({ app: [`${join(host, 'secrets')}:/app/s`] }, proj), 'app[0]', '--app', join(host, 'secrets'), proj);
});

test('regpush.json: a symlinked file source pointing out of the project folder is refused (the link is resolved)', async (t) => {
  const { proj, host } = checkout(t);
  symlinkSync(join(host, 'config.json'), join(proj, 'dist-config.json'));
  refused(await pushWith({ app: ['./dist', './dist-config.json:/app/config.json'] }, proj), 'app[1]', '--app', join(host, 'config.json'), proj);
});

test('regpush.json: a symlinked folder source pointing out is refused, in layers too (with a platform prefix)', async (t) => {
  const { proj, host } = checkout(t);
  symlinkSync(join(host, 'secrets'), join(proj, 'vendor'));
  refused(await pushWith({ app: './dist', layers: ['./dist:/deps', 'linux/amd64=./vendor:/vendor'] }, proj), 'layers[1]', '--layer', join(host, 'secrets'), proj);
});

test('regpush.json: a symlink to a folder inside the project, and the project folder itself, are taken', async (t) => {
  const { proj } = checkout(t);
  symlinkSync(join(proj, 'dist'), join(proj, 'current'));
  const r = await pushWith({ app: ['./current', '.:/src'] }, proj);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /outside/);
});

test('--app on the command line is followed wherever it leads, with one warning naming the real path where a symlink leads it out of the working folder', async (t) => {
  const { proj, host } = checkout(t);
  symlinkSync(join(host, 'secrets'), join(proj, 'linked'));
  symlinkSync(join(host, 'config.json'), join(proj, 'config.json'));
  const r = await pushWith({}, proj, ['--app', './dist', '--app', './linked:/app/s', '--layer', 'config.json:/etc/c.json', '--layer', '../host/config.json:/etc/d.json', '--layer', `${join(host, 'secrets')}:/x`]);
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => l.includes('outside'));
  // A path written outside the folder (`../host/…`, an absolute one) says where it goes: no line for it.
  assert.deepEqual(warnings, [
    `warning: --app ./linked resolves outside the working folder, to ${join(host, 'secrets')} (through a symlink)`,
    `warning: --layer config.json resolves outside the working folder, to ${join(host, 'config.json')} (through a symlink)`,
  ]);
  // Taken all the same: the caller named them.
  const m = JSON.parse(r.dst.manifest('app', '1')!.bytes.toString('utf8')) as { layers: { digest: string }[] };
  const names = await layerNames(r.dst.blob('app', m.layers.at(-1)!.digest)!);
  assert.ok(names.includes('app/s/token'), names.join(' '));
});


test('the working folder\'s .dockerignore does not apply to a source folder inside it: one warning naming those without their own, and how to make one apply', async (t) => {
  const { proj } = checkout(t);
  writeFileSync(join(proj, '.dockerignore'), '**/*.map\n');
  writeFileSync(join(proj, 'dist', 'server.js.map'), '{}');
  mkdirSync(join(proj, 'own'));
  writeFileSync(join(proj, 'own', 'a.js'), 'a');
  writeFileSync(join(proj, 'own', '.dockerignore'), '*.map\n');
  mkdirSync(join(proj, 'deps'));
  writeFileSync(join(proj, 'deps', 'lib.js'), 'l');
  writeFileSync(join(proj, 'config.json'), '{}');
  const r = await pushWith({}, proj, ['--app', './dist', '--app', './own:/own', '--app', '.:/src', '--app', './config.json:/etc/c.json', '--layer', 'deps:/deps']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.includes('does not apply'));
  assert.deepEqual(lines.map((l) => l.replace(/^warning: /, '')), [
    './.dockerignore does not apply to --app ./dist (it would leave out dist/server.js.map): a source folder is filtered by its own .dockerignore only; to leave files out of it, put a .dockerignore in that folder',
  ]);
  // As said: the map went in.
  const m = JSON.parse(r.dst.manifest('app', '1')!.bytes.toString('utf8')) as { layers: { digest: string }[] };
  assert.ok((await layerNames(r.dst.blob('app', m.layers.at(-1)!.digest)!)).includes('app/server.js.map'));

  // The project file's entries are named as such; none is said once the source has its own.
  const again = await pushWith({ app: ['./dist'] }, proj);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /^warning: \.\/\.dockerignore does not apply to regpush\.json app\[0\] \(it would leave out dist\/server\.js\.map\): a source folder is filtered by its own \.dockerignore only; to leave files out of it, put a \.dockerignore in that folder$/m);
  writeFileSync(join(proj, 'dist', '.dockerignore'), '');
  const quiet = await pushWith({ app: ['./dist'] }, proj);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /dockerignore/);
});

test('--config-file: the project folder is the working folder where the file lies in it (deploy/prod.json may name ../dist, not ../../host), else the file\'s own folder', async (t) => {
  const { root, proj, host } = checkout(t);
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  const env = cliEnv(src, dst);
  const write = (file: string, app: string[]) => {
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, JSON.stringify({ from: src.ref('base:1'), to: dst.ref('app:1'), app }));
  };
  write(join(proj, 'deploy', 'prod.json'), ['../dist']);
  const ok = await runMain(['push', '--config-file', 'deploy/prod.json'], { env, cwd: proj });
  assert.equal(ok.code, 0, ok.stderr);
  write(join(proj, 'deploy', 'prod.json'), ['../dist', '../../host/secrets:/s']);
  const out = await runMain(['push', '--config-file', 'deploy/prod.json'], { env, cwd: proj });
  assert.equal(out.code, 2, out.stderr);
  assert.match(out.stderr, new RegExp(`^regpush: error: deploy/prod\\.json app\\[1\\] resolves outside the project folder ${proj} \\(to ${join(host, 'secrets')}\\).* \\[E_INPUT\\]$`, 'm'));
  // A file outside the working folder: its own folder bounds it.
  const elsewhere = join(root, 'conf');
  mkdirSync(join(elsewhere, 'site'), { recursive: true });
  writeFileSync(join(elsewhere, 'site', 'index.html'), 'hi');
  write(join(elsewhere, 'push.json'), ['./site']);
  const own = await runMain(['push', '--config-file', join(elsewhere, 'push.json')], { env, cwd: proj });
  assert.equal(own.code, 0, own.stderr);
  write(join(elsewhere, 'push.json'), ['./site', '../proj/dist']);
  const up = await runMain(['push', '--config-file', join(elsewhere, 'push.json')], { env, cwd: proj });
  assert.equal(up.code, 2, up.stderr);
  assert.match(up.stderr, /app\[1\] resolves outside the project folder.* \[E_INPUT\]$/m);
});

test('--config-file in a checkout: the project folder is the one holding .git, the same from any working folder', async (t) => {
  const { proj, host } = checkout(t);
  mkdirSync(join(proj, '.git'));
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  const env = cliEnv(src, dst);
  mkdirSync(join(proj, 'deploy'));
  const write = (app: string[]) => writeFileSync(join(proj, 'deploy', 'prod.json'), JSON.stringify({ from: src.ref('base:1'), to: dst.ref('app:1'), app }));
  write(['../dist']);
  const fromTop = await runMain(['push', '--config-file', 'deploy/prod.json'], { env, cwd: proj });
  assert.equal(fromTop.code, 0, fromTop.stderr);
  const fromDeploy = await runMain(['push', '--config-file', 'prod.json'], { env, cwd: join(proj, 'deploy') });
  assert.equal(fromDeploy.code, 0, fromDeploy.stderr);
  write(['../dist', '../../host/secrets:/s']);
  dst.clearLog();
  for (const [cwd, file] of [[proj, 'deploy/prod.json'], [join(proj, 'deploy'), 'prod.json']] as const) {
    const out = await runMain(['push', '--config-file', file], { env, cwd });
    assert.equal(out.code, 2, out.stderr);
    assert.ok(out.stderr.includes(`${file} app[1] resolves outside the project folder ${proj} (to ${join(host, 'secrets')})`), out.stderr);
    assert.match(out.stderr.trim(), / \[E_INPUT\]$/);
  }
  assert.equal(dst.count(), 0, 'the refused runs asked nothing of the target');
});

test('a monorepo: apps/api/regpush.json may name ../../dist/apps/api inside the checkout (.git a file, as in a worktree), not a folder outside it', async (t) => {
  const { proj, host } = checkout(t);
  writeFileSync(join(proj, '.git'), 'gitdir: /elsewhere/.git/worktrees/proj\n');
  mkdirSync(join(proj, 'dist', 'apps', 'api'), { recursive: true });
  writeFileSync(join(proj, 'dist', 'apps', 'api', 'main.js'), 'api');
  const api = join(proj, 'apps', 'api');
  mkdirSync(api, { recursive: true });
  const ok = await pushWith({ app: '../../dist/apps/api' }, api);
  assert.equal(ok.code, 0, ok.stderr);
  assert.doesNotMatch(ok.stderr, /outside/);
  refused(await pushWith({ app: ['../../dist/apps/api', '../../../host/secrets:/s'] }, api), 'app[1]', '--app', join(host, 'secrets'), proj);
});

test('a home folder kept in git is no project folder: a project below it without a .git of its own may not name a host folder beside it', async (t) => {
  const { root, proj, host } = checkout(t);
  mkdirSync(join(root, '.git')); // root stands for $HOME, kept in git (dotfiles)
  const was = process.env.HOME;
  process.env.HOME = root;
  t.after(() => {
    if (was === undefined) delete process.env.HOME;
    else process.env.HOME = was;
  });
  refused(await pushWith({ app: ['./dist', '../host/secrets:/s'] }, proj), 'app[1]', '--app', join(host, 'secrets'), proj);
});

test('the working folder\'s .dockerignore is warned of only where it would have left something out of the source folder (bin/ and obj/ say nothing of ./dist)', async (t) => {
  const { proj } = checkout(t);
  writeFileSync(join(proj, '.dockerignore'), 'bin/\nobj/\n*.md\n# dist/x would be a comment\n');
  mkdirSync(join(proj, 'deps'));
  writeFileSync(join(proj, 'deps', 'lib.js'), 'l');
  const quiet = await pushWith({}, proj, ['--app', './dist', '--layer', 'deps:/deps']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /does not apply/);
  // A pattern that reaches into one of them names that one only.
  writeFileSync(join(proj, '.dockerignore'), 'bin/\ndist/*.map\n');
  const quietStill = await pushWith({}, proj, ['--app', './dist', '--layer', 'deps:/deps']);
  assert.doesNotMatch(quietStill.stderr, /does not apply/, 'no map in dist yet: nothing it would leave out');
  mkdirSync(join(proj, 'dist', 'js'));
  writeFileSync(join(proj, 'dist', 'js', 'a.js'), 'a');
  writeFileSync(join(proj, 'dist', 'z.js.map'), '{}');
  writeFileSync(join(proj, 'dist', 'b.js.map'), '{}');
  const one = await pushWith({}, proj, ['--app', './dist', '--layer', 'deps:/deps']);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(one.stderr.split('\n').filter((l) => l.includes('does not apply')).map((l) => l.replace(/^warning: /, '')), [
    './.dockerignore does not apply to --app ./dist (it would leave out dist/b.js.map): a source folder is filtered by its own .dockerignore only; to leave files out of it, put a .dockerignore in that folder',
  ]);
  // One that leaves the folder itself out counts too.
  writeFileSync(join(proj, '.dockerignore'), 'dep*\n');
  const folder = await pushWith({}, proj, ['--app', './dist', '--layer', 'deps:/deps']);
  assert.match(folder.stderr, /^warning: \.\/\.dockerignore does not apply to --layer deps \(it would leave out deps\/\): /m);
});

test('push\'s checks warn of an unapplied .dockerignore as their entry says, not as their messages are worded: the CLI has said it (each folder\'s file), push() has not', async (t) => {
  const { proj } = checkout(t);
  writeFileSync(join(proj, '.dockerignore'), '**/*.map\n');
  writeFileSync(join(proj, 'dist', 'server.js.map'), '{}');
  const warned = async (names: Parameters<typeof checkInputs>[1], ignoreWarned: boolean): Promise<string[]> => {
    const said: string[] = [];
    const logger = { debug() {}, info() {}, warn: (l: string) => void said.push(l) };
    await checkInputs({ from: 'scratch', to: '127.0.0.1:1/app:1', cwd: proj, app: [{ src: './dist', dest: '/app' }], logger }, names, { ignoreWarned });
    return said.filter((l) => l.includes('does not apply'));
  };
  const cli = flagNames({ app: '--app' });
  const library = optionPaths('push()');
  // Named the way the messages name options, whichever entry it is.
  assert.deepEqual(await warned(cli, false), ['./.dockerignore does not apply to --app (it would leave out dist/server.js.map): a source folder is filtered by its own .dockerignore only; to leave files out of it, put a .dockerignore in that folder']);
  assert.deepEqual(await warned(library, false), ['./.dockerignore does not apply to app[0] (it would leave out dist/server.js.map): a source folder is filtered by its own .dockerignore only; to leave files out of it, put a .dockerignore in that folder']);
  assert.deepEqual(await warned(cli, true), []);
  assert.deepEqual(await warned(library, true), [], 'an entry that has said it is not said to twice, however its options are named');
});

test('a working folder whose .dockerignore is a fifo: the warning check does not read it (it would wait for a writer forever), and says it as for a file it cannot read', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'regpush-fifo-ignore-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'dist'));
  execFileSync('mkfifo', [join(dir, '.dockerignore')]);
  const line = unappliedIgnoreWarning([{ src: './dist', named: '--app ./dist' }], dir, dir);
  assert.match(line ?? '', /^\.\/\.dockerignore does not apply to --app \.\/dist: /);
});

test('Visual Studio\'s .dockerignore (**/bin, **/obj, **/.env…) beside a dotnet publish folder: no warning while the folder holds none of them; one naming the first that it holds', async (t) => {
  const { proj } = checkout(t);
  writeFileSync(join(proj, '.dockerignore'), '**/.dockerignore\n**/.env\n**/.git\n**/bin\n**/obj\n**/node_modules\n**/Dockerfile*\nLICENSE\nREADME.md\n');
  mkdirSync(join(proj, 'publish', 'runtimes', 'linux-x64'), { recursive: true });
  writeFileSync(join(proj, 'publish', 'App.dll'), 'dll');
  writeFileSync(join(proj, 'publish', 'appsettings.json'), '{}');
  writeFileSync(join(proj, 'publish', 'runtimes', 'linux-x64', 'native.so'), 'so');
  const quiet = await pushWith({}, proj, ['--app', './publish']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /does not apply/);
  writeFileSync(join(proj, 'publish', 'runtimes', '.env'), 'SECRET=1');
  const told = await pushWith({}, proj, ['--app', './publish']);
  assert.equal(told.code, 0, told.stderr);
  assert.match(told.stderr, /^warning: \.\/\.dockerignore does not apply to --app \.\/publish \(it would leave out publish\/runtimes\/\.env\): /m);
});
