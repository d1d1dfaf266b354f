// push(), copy() and sync() called as a plain-JavaScript deploy script calls them, with nothing to
// check the declared types: each wrong type is E_USAGE naming the option path and what it must be,
// before any request (zero requests at every fake registry). And the CLI's own checks on
// --workdir, --volume, --user and --stop-signal, now made on a library caller's config too, with
// Windows paths (C:\app) allowed where the image may be a Windows one. And a misspelt option name
// (`dryrun`, `allTag`, `config.entrypont`) in any operation's options: E_USAGE naming the path and
// the name meant, never ignored (a misspelt dryRun would run for real).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy, deleteImage, digestOf, inspect, listRepositories, listTags, login, logout, parseReference, parseSyncFile, push, SecretSet, sync, tagImage, untagImage, type PushEvents, type RegpushError, type SyncEvents } from '../../src/index.js';
import { applyConfigChanges, scratchConfig } from '../../src/image/config.js';
import { configChangesFromFlags } from '../../src/cli/flags.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';

const fake = fakeRegistryPool();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
/** A directory with one file, for an app layer. */
function appDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'regpush-library-options-'));
  dirs.push(d);
  writeFileSync(join(d, 'server.js'), 'console.log("hi")\n');
  return d;
}

/** What `call` rejects with (it must reject). */
async function rejection(call: () => Promise<unknown>): Promise<RegpushError> {
  return call().then(
    () => assert.fail('it succeeded'),
    (e: RegpushError) => e,
  );
}

/** Each case rejects with `code` and a message matching its pattern, and no registry saw a request. */
async function refusedUpFront(regs: FakeRegistry[], code: string, cases: [string, () => Promise<unknown>, RegExp][]): Promise<void> {
  for (const [what, call, message] of cases) {
    const err = await rejection(call);
    assert.equal(err.code, code, `${what}: ${err.message ?? String(err)}`);
    assert.match(err.message, message, what);
  }
  for (const r of regs) assert.equal(r.count(), 0, `no request reached ${r.host}`);
}

/** Two fake registries, an app directory and the options of a valid push between them; `bad(patch)` is that push with `patch` spread over them, as a JavaScript caller might spoil a field. */
async function validPush() {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir();
  const good = { from: src.ref('base/node:20'), to: dst.ref('app:1'), app: [{ src: app, dest: '/app' }], ...fakeLibraryOptions(src, dst) };
  const bad = (patch: Record<string, unknown>) => () => push({ ...good, ...patch } as never);
  return { src, dst, app, good, bad };
}

test('push(): each option of the wrong type is E_USAGE naming its path and the type it must have, before any request', async () => {
  // The options of a valid push; each case spoils one field as a JavaScript caller might.
  const { src, dst, app, bad } = await validPush();
  const config = (c: Record<string, unknown>) => bad({ config: c });
  await refusedUpFront([src, dst], 'E_USAGE', [
    ['entrypoint string', config({ entrypoint: 'node' }), /^push\(\): config\.entrypoint must be an array of strings \(got a string\)$/],
    ['cmd string', config({ cmd: 'server.js' }), /^push\(\): config\.cmd must be an array of strings \(got a string\)$/],
    ['entrypoint with a number', config({ entrypoint: ['node', 8] }), /^push\(\): config\.entrypoint\[1\] must be a string \(got 8\)$/],
    ['env string', config({ env: 'A=1' }), /^push\(\): config\.env must be an array of strings/],
    ['ports numbers', config({ ports: [8080] }), /^push\(\): config\.ports\[0\] must be a string \(got 8080\)$/],
    ['label value number', config({ labels: { version: 2 } }), /^push\(\): config\.labels\.version must be a string \(got 2\)$/],
    ['label with a dotted key', config({ labels: { 'org.opencontainers.image.version': true } }), /^push\(\): config\.labels\["org\.opencontainers\.image\.version"\] must be a string \(got true\)$/],
    ['labels as a list', config({ labels: ['a=b'] }), /^push\(\): config\.labels must be an object of string values \(got an array\)$/],
    ['labels as a Map', config({ labels: new Map([['a', 'b']]) }), /^push\(\): config\.labels must be an object of string values \(got a Map\)$/],
    ['workdir number', config({ workdir: 1 }), /^push\(\): config\.workdir must be a string \(got 1\)$/],
    ['volumes string', config({ volumes: '/data' }), /^push\(\): config\.volumes must be an array of strings \(got a string\)$/],
    ['user number', config({ user: 1000 }), /^push\(\): config\.user must be a string \(got 1000\)$/],
    ['healthcheck test string', config({ healthcheck: { test: 'CMD-SHELL true' } }), /^push\(\): config\.healthcheck\.test must be an array of strings \(got a string\)$/],
    ['healthcheck interval string', config({ healthcheck: { test: ['CMD', 'true'], interval: '30s' } }), /^push\(\): config\.healthcheck\.interval must be a number \(got a string\)$/],
    ['stopSignal number', config({ stopSignal: 15 }), /^push\(\): config\.stopSignal must be a string \(got 15\)$/],
    ['config as a list', bad({ config: ['--entrypoint', 'node'] }), /^push\(\): config must be an object \(got an array\)$/],
    ['tags string', bad({ tags: 'latest' }), /^push\(\): tags must be an array of strings \(got a string\)$/],
    ['to number', bad({ to: 1 }), /^push\(\): to must be a string or an array of strings \(got 1\)$/],
    ['from missing', bad({ from: undefined }), /^push\(\): from must be a string \(got nothing\)$/],
    ['app one object', bad({ app: { src: app, dest: '/app' } }), /^push\(\): app must be an array \(got an object\)$/],
    ['app source without dest', bad({ app: [{ src: app }] }), /^push\(\): app\[0\]\.dest must be a string \(got nothing\)$/],
    ['layers sources string', bad({ layers: [{ sources: app }] }), /^push\(\): layers\[0\]\.sources must be an array \(got a string\)$/],
    ['annotations list', bad({ annotations: ['a=b'] }), /^push\(\): annotations must be an object of string values \(got an array\)$/],
    ['dryRun string', bad({ dryRun: 'false' }), /^push\(\): dryRun must be true or false \(got a string\)$/],
    ['baseLabels number', bad({ baseLabels: 1 }), /^push\(\): baseLabels must be true or false \(got 1\)$/],
    ['jobs string', bad({ jobs: '4' }), /^push\(\): jobs must be a number \(got a string\)$/],
    ['mtime string', bad({ mtime: '1700000000' }), /^push\(\): mtime must be a whole number ≥ 0 \(got a string\)$/],
    ['chown string', bad({ chown: '1000:1000' }), /^push\(\): chown must be an object with uid, gid \(got a string\)$/],
    ['layerUpload other', bad({ layerUpload: 'stream' }), /^push\(\): layerUpload must be "patch", "put" or "chunked" \(got a string\)$/],
    ['insecureRegistries string', bad({ insecureRegistries: dst.host }), /^push\(\): insecureRegistries must be an array of strings \(got a string\)$/],
    ['env value number', bad({ env: { SOURCE_DATE_EPOCH: 1700000000 } }), /^push\(\): env\.SOURCE_DATE_EPOCH must be a string \(got 1700000000\)$/],
    ['signal controller', bad({ signal: new AbortController() }), /^push\(\): signal must be an AbortSignal \(got an AbortController\)$/],
    ['password number', bad({ credentials: { to: { username: 'ci', password: 1234 } } }), /^push\(\): credentials\.to\.password must be a string \(got 1234\)$/],
    ['tls verifyOff string', bad({ tls: { verifyOff: dst.host } }), /^push\(\): tls\.verifyOff must be an array of strings \(got a string\)$/],
    ['logger partial', bad({ logger: { warn() {} } }), /^push\(\): logger\.debug must be a function \(got nothing\)$/],
    ['events callback string', bad({ events: { end: 'log' } }), /^push\(\): events\.end must be a function \(got a string\)$/],
    ['no options object', () => push('alpine:3' as never), /^push\(\): the options must be an object \(got a string\)$/],
  ]);
});

test('push(): the shapes the types allow pass: `to` as a string or a list, config fields absent or undefined, a logger and secrets that are class instances', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  class Logger {
    readonly lines: string[] = [];
    debug(m: string) { this.lines.push(m); }
    info(m: string) { this.lines.push(m); }
    warn(m: string) { this.lines.push(m); }
  }
  const logger = new Logger();
  const opts = { from: src.ref('base/node:20'), config: { entrypoint: ['node'], workdir: undefined, labels: { a: 'b' } }, dryRun: false, logger, secrets: new SecretSet(), ...fakeLibraryOptions(src, dst) };
  await push({ ...opts, to: dst.ref('app:1') });
  await push({ ...opts, to: [dst.ref('app:2'), dst.ref('other:2')] });
  assert.deepEqual([dst.tags('app'), dst.tags('other')], [['1', '2'], ['2']]);
});

test('a blank platform is E_USAGE before any request in copy() and inspect(), as digestOf() and push() refuse it (read as no platform, `--platform "$UNSET"` copied or showed every platform)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  const opts = fakeLibraryOptions(src, dst);
  const blank = (op: string) => new RegExp(`^${op.replace(/[()]/g, '\\$&')}: platform "" is invalid: expected os/arch`);
  await refusedUpFront([src, dst], 'E_USAGE', [
    ['copy platform ""', () => copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], ...opts, platform: '' }), blank('copy()')],
    ['inspect platform ""', () => inspect(src.ref('app:1'), { ...opts, platform: '' }), blank('inspect()')],
    ['digestOf platform ""', () => digestOf(src.ref('app:1'), { ...opts, platform: '' }), blank('digestOf()')],
  ]);
  // The CLI passes the blank value on.
  const r = await runMain(['copy', '--platform', '', src.ref('app:1'), dst.ref('app:1')], { env: opts.env });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^regpush: error: invalid platform "": .*\[E_USAGE\]\n$/);
  assert.equal(dst.tags('app').length, 0);
});

test('a value the options check cannot see is refused naming the call and the option, as docs/library.md promises (copy() to [], tagImage() without tags, a bad platform of copy(), push(), inspect() and digestOf()); the CLI names its flags', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  const opts = fakeLibraryOptions(src, dst);
  const invalid = (option: string, value: string) => new RegExp(`^${option.replace(/[()[\]]/g, '\\$&')} ${JSON.stringify(value).replace(/[/()]/g, '\\$&')} is invalid: expected os/arch`);
  await refusedUpFront([src, dst], 'E_USAGE', [
    ['copy to []', () => copy({ from: src.ref('app:1'), to: [], ...opts }), /^copy\(\): to must name at least one target$/],
    ['tagImage no tags', () => tagImage(src.ref('app:1'), [], opts), /^tagImage\(\): newTags must name at least one new tag$/],
    ['copy platform linux/', () => copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], ...opts, platform: 'linux/amd64,linux/' }), invalid('copy(): platform', 'linux/')],
    ['digestOf platform all', () => digestOf(src.ref('app:1'), { ...opts, platform: 'all' }), invalid('digestOf(): platform', 'all')],
    ['inspect platform linux', () => inspect(src.ref('app:1'), { ...opts, platform: 'linux' }), invalid('inspect(): platform', 'linux')],
    ['push platform linux//', () => push({ from: src.ref('app:1'), to: dst.ref('app:2'), ...opts, platform: 'linux//' }), invalid('push(): platform', 'linux//')],
    ['push layers platform', () => push({ from: src.ref('app:1'), to: dst.ref('app:2'), ...opts, layers: [{ sources: [{ src: appDir(), dest: '/app' }], platform: 'windows(/amd64' }] }), /^push\(\): layers\[0\]\.platform "windows\(\/amd64" is invalid: unbalanced parentheses/],
  ]);
  // The CLI's messages name no library call: its flags are the words it already uses.
  for (const [args, message] of [
    [['copy', '--platform', 'linux/', src.ref('app:1'), dst.ref('app:1')], /^regpush: error: invalid platform "linux\/": expected os\/arch/],
    [['digest', '--platform', 'all', src.ref('app:1')], /^regpush: error: invalid platform "all": expected os\/arch/],
    [['inspect', '--platform', 'linux', src.ref('app:1')], /^regpush: error: invalid platform "linux": expected os\/arch/],
    [['copy', src.ref('app:1')], /^regpush: error: copy needs at least one target/],
  ] as const) {
    const r = await runMain([...args], { env: opts.env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.match(r.stderr.trim().split('\n').at(-1)!, / \[E_USAGE\]$/, args.join(' '));
  }
  assert.equal(src.count() + dst.count(), 0, 'nothing was sent');
});

test('copy(): `to` as one string (the type is a list), and flags that are not booleans, are E_USAGE before any request', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  const good = { from: src.ref('app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) };
  const bad = (patch: Record<string, unknown>) => () => copy({ ...good, ...patch } as never);
  await refusedUpFront([src, dst], 'E_USAGE', [
    ['to string', bad({ to: dst.ref('app:1') }), /^copy\(\): to must be an array of strings \(got a string\)$/],
    ['to missing', bad({ to: undefined }), /^copy\(\): to must be an array of strings \(got nothing\)$/],
    ['tags string', bad({ tags: 'prod' }), /^copy\(\): tags must be an array of strings \(got a string\)$/],
    ['dryRun string', bad({ dryRun: 'false' }), /^copy\(\): dryRun must be true or false \(got a string\)$/],
    ['noClobber number', bad({ noClobber: 1 }), /^copy\(\): noClobber must be true or false \(got 1\)$/],
    ['referrers string', bad({ referrers: 'yes' }), /^copy\(\): referrers must be true or false \(got a string\)$/],
    ['allTags string', bad({ allTags: 'true' }), /^copy\(\): allTags must be true or false \(got a string\)$/],
    ['platform list', bad({ platform: ['linux/amd64'] }), /^copy\(\): platform must be a string \(got an array\)$/],
    ['retries string', bad({ retries: '3' }), /^copy\(\): retries must be a whole number ≥ 0 \(got a string\)$/],
  ]);
  // The valid call copies.
  await copy(good);
  assert.deepEqual(dst.tags('app'), ['1']);
});

test('insecureRegistries: an entry that can name no registry (a path, an empty one, a URL with a path, one of a comma list) is E_USAGE naming the option and the entry, before any request, in every operation, as the CLI refuses --insecure-registry (was taken, matched nothing, and the registry was asked over HTTPS)', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const opts = fakeLibraryOptions(src, dst);
  const form = 'is not a registry \\(host\\[:port\\]\\) or address range \\(10\\.0\\.0\\.0\\/8\\)$';
  const insecure = (...extra: string[]) => ({ ...opts, insecureRegistries: [...opts.insecureRegistries, ...extra] });
  await refusedUpFront([src, dst], 'E_USAGE', [
    ['copy with a path', () => copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], ...insecure(`${dst.host}/library`) }), new RegExp(`^copy\\(\\): insecureRegistries entry "${dst.host}/library" ${form}`)],
    ['push empty', () => push({ from: src.ref('app:1'), to: dst.ref('app:1'), ...insecure('') }), new RegExp(`^push\\(\\): insecureRegistries entry "" ${form}`)],
    ['inspect URL with a path', () => inspect(src.ref('app:1'), insecure('http://reg.example:5000/v2/')), new RegExp(`^inspect\\(\\): insecureRegistries entry "reg\\.example:5000/v2" ${form}`)],
    ['digestOf comma list', () => digestOf(src.ref('app:1'), insecure(`${src.host},reg.example/team`)), new RegExp(`^digestOf\\(\\): insecureRegistries entry "reg\\.example/team" ${form}`)],
    ['login with a path', () => login({ ...insecure('reg.example/team'), registry: dst.host, username: 'ci', password: 'pw' }), new RegExp(`^login\\(\\): insecureRegistries entry "reg\\.example/team" ${form}`)],
    ['listTags blank', () => listTags(src.ref('app'), insecure(' ')), new RegExp(`^listTags\\(\\): insecureRegistries entry " " ${form}`)],
  ]);
  // What the CLI's flag takes passes: a comma list, an http:// prefix, an address range.
  const given = { ...opts, insecureRegistries: [`http://${src.host}`, `${dst.host},reg.example`, '10.0.0.0/8'] };
  assert.equal((await digestOf(src.ref('app:1'), given)).digest, img.digest);
});

test('env.REGPUSH_INSECURE_REGISTRIES: an entry that can name no registry is E_INPUT (the environment\'s value) naming the variable and the entry, before any request; a usable list still reaches the registries', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const opts = fakeLibraryOptions(src, dst);
  const form = 'is not a registry \\(host\\[:port\\]\\) or address range \\(10\\.0\\.0\\.0\\/8\\)$';
  const withEnv = (value: string) => ({ ...opts, insecureRegistries: [], env: { ...opts.env, REGPUSH_INSECURE_REGISTRIES: value } });
  await refusedUpFront([src, dst], 'E_INPUT', [
    ['copy with a path', () => copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], ...withEnv(`${src.host},${dst.host}/library`) }), new RegExp(`^REGPUSH_INSECURE_REGISTRIES entry "${dst.host}/library" ${form}`)],
    ['digestOf URL with a path', () => digestOf(src.ref('app:1'), withEnv('http://reg.example:5000/v2/')), new RegExp(`^REGPUSH_INSECURE_REGISTRIES entry "reg\\.example:5000/v2" ${form}`)],
  ]);
  // Before: the entry was dropped without a word and the registry was reached over HTTPS.
  assert.equal((await digestOf(src.ref('app:1'), withEnv(`http://${src.host}, ${dst.host}`))).digest, img.digest);
});

test('sync(): a spec that is not parseSyncFile\'s object, a shard that is not { index, count } or out of range, and non-boolean dryRun are E_USAGE before any request', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  const spec = parseSyncFile(['images:', `  - { source: ${src.ref('app')}, tags: ['1'], targets: [${dst.host}/mirror] }`, ''].join('\n'), 'sync.yaml');
  const good = { spec, ...fakeLibraryOptions(src, dst) };
  const bad = (patch: Record<string, unknown>) => () => sync({ ...good, ...patch } as never);
  await refusedUpFront([src, dst], 'E_USAGE', [
    ['spec file name', bad({ spec: 'sync.yaml' }), /^sync\(\): spec must be an object with file, images \(got a string\)$/],
    ['spec images missing', bad({ spec: { file: 'sync.yaml' } }), /^sync\(\): spec\.images must be an array \(got nothing\)$/],
    ['shard text', bad({ shard: '0/3' }), /^sync\(\): shard must be an object with index, count \(got a string\)$/],
    ['shard index string', bad({ shard: { index: '0', count: 3 } }), /^sync\(\): shard\.index must be a whole number ≥ 0 \(got a string\)$/],
    ['shard out of range', bad({ shard: { index: 3, count: 3 } }), /^sync\(\): shard must have 0 ≤ index < count \(got 3\/3\)$/],
    ['dryRun string', bad({ dryRun: 'false' }), /^sync\(\): dryRun must be true or false \(got a string\)$/],
    ['maxWaitMs string', bad({ maxWaitMs: '60000' }), /^sync\(\): maxWaitMs must be a whole number ≥ 0 \(got a string\)$/],
    ['unitEnd not a function', bad({ events: { unitEnd: true } }), /^sync\(\): events\.unitEnd must be a function \(got true\)$/],
  ]);
  const r = await sync(good);
  assert.equal(r.totals.copied, 1);
});

test('sync(): a spec given as the sync file\'s content (not parseSyncFile\'s result) is E_USAGE naming spec and what it must be, before any request (was E_INTERNAL "Cannot read properties of undefined"); a hand-made spec of parseSyncFile\'s shape is checked as one', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1', '2'] });
  const content = { images: [{ source: src.ref('app'), tags: ['1'], targets: [`${dst.host}/mirror`] }] };
  const opts = fakeLibraryOptions(src, dst);
  const spec = parseSyncFile(JSON.stringify(content), 'sync.json');
  const entry = spec.images[0]!;
  const given = (s: unknown) => () => sync({ spec: s, ...opts } as never);
  const advice = 'spec must be what parseSyncFile\\(text, fileName\\) returns, which checks each entry and applies the defaults; for content held as an object, parseSyncFile\\(JSON\\.stringify\\(content\\), "sync\\.json"\\)$';
  await refusedUpFront([src, dst], 'E_USAGE', [
    ['an inline entry', given({ file: 'inline', images: [{ source: src.ref('app:1'), targets: [`${dst.host}/mirror`] }] }), new RegExp(`^sync\\(\\): spec is a sync file's content as written \\(spec\\.images\\[0\\] has "source" as a string and "targets"\\): ${advice}`)],
    ['the content, no file', given(content), new RegExp(`^sync\\(\\): spec is a sync file's content as written \\(spec\\.images\\[0\\] has "source" as a string and "targets"\\): ${advice}`)],
    ['a full target', given({ file: 'f', images: [entry, { source: { registry: 'r.example', repository: 'a' }, target: 'r.example/b:1' }] }), /^sync\(\): spec is a sync file's content as written \(spec\.images\[1\] has "target"\): spec must be what parseSyncFile/],
    ['defaults', given({ file: 'f', defaults: { targets: [dst.host] }, images: [] }), /^sync\(\): spec is a sync file's content as written \(spec has "defaults"\)/],
    // parseSyncFile's shape, spoilt: named as any option is.
    ['no destinations', given({ ...spec, images: [{ ...entry, destinations: undefined }] }), /^sync\(\): spec\.images\[0\]\.destinations must be an array \(got nothing\)$/],
    ['tags as the file writes them', given({ ...spec, images: [{ ...entry, tags: ['1'] }] }), /^sync\(\): spec\.images\[0\]\.tags must be an object with kind, tags or /],
    ['a destination of another kind', given({ ...spec, images: [{ ...entry, destinations: [{ kind: 'prefix', prefix: `${dst.host}/mirror` }] }] }), /^sync\(\): spec\.images\[0\]\.destinations\[0\] must be /],
    ['platforms as one string', given({ ...spec, images: [{ ...entry, platforms: 'linux/amd64' }] }), /^sync\(\): spec\.images\[0\]\.platforms must be "all" or an array of strings \(got a string\)$/],
    ['a misspelt field', given({ ...spec, images: [{ ...entry, referers: true }] }), /^sync\(\): unknown option "spec\.images\[0\]\.referers" \(did you mean "spec\.images\[0\]\.referrers"\?\)$/],
  ]);
  // The advice works, and so does a spec made from parseSyncFile's entries (a subset of them).
  assert.equal((await sync({ spec, ...opts })).totals.copied, 1);
  const two = parseSyncFile(JSON.stringify({ images: [content.images[0], { ...content.images[0], tags: ['2'], targets: [`${dst.host}/other`] }] }), 'sync.json');
  const r = await sync({ spec: { file: 'subset', images: two.images.filter((i) => i.index === 1) }, ...opts });
  assert.deepEqual(r.units.map((u) => [u.entry, u.ok]), [['images[1] (' + src.ref('app') + ')', true]]);
  assert.deepEqual(dst.tags('other/app'), ['2']);
});

test('push(): a relative workdir or volume, a user that is not USER[:GROUP] and a malformed stop signal are E_USAGE before any request, as the CLI refuses them', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const good = { from: src.ref('base/node:20'), to: dst.ref('app:1'), ...fakeLibraryOptions(src, dst) };
  const config = (c: Record<string, unknown>, platform?: string) => () => push({ ...good, config: c, ...(platform ? { platform } : {}) } as never);
  await refusedUpFront([src, dst], 'E_USAGE', [
    ['relative workdir', config({ workdir: 'app' }), /^push\(\): config\.workdir must be an absolute path \(got "app"\)$/],
    ['relative volume', config({ volumes: ['/data', 'cache'] }), /^push\(\): config\.volumes\[1\] must be an absolute path \(got "cache"\)$/],
    // A Linux image (the default platform, or named) takes no Windows path.
    ['Windows workdir, Linux image', config({ workdir: 'C:\\app' }), /^push\(\): config\.workdir must be an absolute path \(got "C:\\app"\)$/],
    ['Windows volume, linux/arm64', config({ volumes: ['D:\\data'] }, 'linux/arm64'), /^push\(\): config\.volumes\[0\] must be an absolute path \(got "D:\\data"\)$/],
    // A Windows image takes C:\app and /app, never a relative path.
    ['relative workdir, Windows image', config({ workdir: 'app' }, 'windows/amd64'), /^push\(\): config\.workdir must be an absolute path \(\/app or C:\\app\) \(got "app"\)$/],
    ['user with a space', config({ user: 'app user' }), /^push\(\): config\.user must be USER or USER:GROUP, without spaces \(got "app user"\)$/],
    // A Windows account may hold a space inside its name, never at its ends.
    ['Windows user with a space at its end', config({ user: 'ContainerUser ' }, 'windows/amd64'), /^push\(\): config\.user must be USER or USER:GROUP \(got "ContainerUser "\)$/],
    ['user with two colons', config({ user: 'a:b:c' }), /^push\(\): config\.user must be USER or USER:GROUP/],
    ['user empty', config({ user: '' }), /^push\(\): config\.user must be USER or USER:GROUP/],
    ['stop signal misspelt', config({ stopSignal: 'SIGTERN' }), /^push\(\): config\.stopSignal must be a signal name \(SIGTERM, TERM\) or number from 1 to 64 \(got "SIGTERN"\)$/],
    ['stop signal empty', config({ stopSignal: '' }), /^push\(\): config\.stopSignal must be a signal name/],
    ['stop signal number too long', config({ stopSignal: '150' }), /^push\(\): config\.stopSignal must be a signal name/],
    ['stop signal number past 64', config({ stopSignal: '99' }), /^push\(\): config\.stopSignal must be a signal name/],
    ['stop signal not one', config({ stopSignal: 'NOTASIGNAL' }), /^push\(\): config\.stopSignal must be a signal name/],
  ]);
});

test('push(): a layer option out of range (mtime, chown ids, gzip level or jobs) is refused before any request, named as the option, with or without a layer to build (was thrown, uncaught, once the layer upload had started; without a layer, gzipLevel 42 passed)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const layered = { from: src.ref('base/node:20'), to: dst.ref('app:1'), app: [{ src: appDir(), dest: '/app' }], ...fakeLibraryOptions(src, dst) };
  const configOnly = { from: src.ref('base/node:20'), to: dst.ref('app:1'), config: { env: ['A=1'] }, ...fakeLibraryOptions(src, dst) };
  await refusedUpFront([src, dst], 'E_USAGE', [
    ['mtime past the tar field', () => push({ ...layered, mtime: 9e9 }), /^push\(\): mtime must be a whole number of seconds from 0 to 8589934591 \(2242-03-16, the most a tar header holds\), got 9000000000$/],
  ]);
  const cases: [string, () => Promise<unknown>, RegExp][] = [];
  for (const [shape, good] of [['with a layer', layered], ['config-only', configOnly]] as const) {
    const bad = (patch: Record<string, unknown>) => () => push({ ...good, ...patch });
    cases.push(
      [`gzipLevel 42, ${shape}`, bad({ gzipLevel: 42 }), /^push\(\): gzipLevel must be a whole number from 0 to 9 \(got 42\)$/],
      [`gzipLevel -1, ${shape}`, bad({ gzipLevel: -1 }), /^push\(\): gzipLevel must be a whole number from 0 to 9 \(got -1\)$/],
      [`gzipLevel 1.5, ${shape}`, bad({ gzipLevel: 1.5 }), /^push\(\): gzipLevel must be a whole number from 0 to 9 \(got 1\.5\)$/],
      [`gzipJobs 0, ${shape}`, bad({ gzipJobs: 0 }), /^push\(\): gzipJobs must be a whole number from 1 to 64 \(got 0\)$/],
      [`gzipJobs 65, ${shape}`, bad({ gzipJobs: 65 }), /^push\(\): gzipJobs must be a whole number from 1 to 64 \(got 65\)$/],
      [`chown.uid past 32 bits, ${shape}`, bad({ chown: { uid: 2 ** 32, gid: 0 } }), /^push\(\): chown\.uid must be a whole number from 0 to 4294967294 \(got 4294967296\)$/],
      [`chown.gid (uid_t)-1, ${shape}`, bad({ chown: { uid: 0, gid: 2 ** 32 - 1 } }), /^push\(\): chown\.gid must be a whole number from 0 to 4294967294 \(got 4294967295\)$/],
    );
  }
  await refusedUpFront([src, dst], 'E_USAGE', cases);
  // The edges are taken: level 0 (stored blocks, as --gzip-level 0) and 9, 64 lanes, the largest id.
  const r = await push({ ...layered, gzipLevel: 0, gzipJobs: 64, chown: { uid: 2 ** 32 - 2, gid: 2 ** 32 - 2 } });
  assert.equal(dst.manifest('app', '1')?.digest, r.digest);
  assert.ok((await push({ ...layered, to: dst.ref('app:2'), gzipLevel: 9 })).digest);
});

test('push(): SOURCE_DATE_EPOCH (E_INPUT) or mtime (E_USAGE) out of range is refused naming it before any request, with a layer or config-only, one range for both (config-only was E_INTERNAL "Invalid time value" after the base blobs were mounted)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const opts = fakeLibraryOptions(src, dst);
  const withLayer = { from: src.ref('base/node:20'), to: dst.ref('app:1'), app: [{ src: appDir(), dest: '/app' }], ...opts };
  const configOnly = { from: src.ref('base/node:20'), to: dst.ref('app:1'), config: { env: ['A=1'] }, ...opts };
  const range = 'must be a whole number of seconds from 0 to 8589934591 \\(2242-03-16, the most a tar header holds\\)';
  const cases: [string, () => Promise<unknown>, RegExp][] = [];
  const options: [string, () => Promise<unknown>, RegExp][] = [];
  for (const [shape, good] of [['with a layer', withLayer], ['config-only', configOnly]] as const) {
    // 8^11 is one past the tar field; 1e13 is past what a JS Date holds (config-only got that far before).
    for (const epoch of ['8589934592', '10000000000000', '99999999999999999999999']) {
      cases.push([`SOURCE_DATE_EPOCH=${epoch}, ${shape}`, () => push({ ...good, env: { ...opts.env, SOURCE_DATE_EPOCH: epoch } }), new RegExp(`^SOURCE_DATE_EPOCH ${range}, got "${epoch}"$`)]);
    }
    // The option is how push() was called (E_USAGE); the variable is read from its environment (E_INPUT).
    options.push([`mtime 1e13, ${shape}`, () => push({ ...good, mtime: 1e13 }), new RegExp(`^push\\(\\): mtime ${range}, got 10000000000000$`)]);
  }
  await refusedUpFront([src, dst], 'E_INPUT', cases);
  await refusedUpFront([src, dst], 'E_USAGE', options);
  // The last second the range holds is taken either way.
  const last = new Date((8 ** 11 - 1) * 1000).toISOString();
  const r = await push({ ...configOnly, env: { ...opts.env, SOURCE_DATE_EPOCH: String(8 ** 11 - 1) } });
  assert.ok(r.digest);
  assert.equal(last, '2242-03-16T12:56:31.000Z');
});

test('Windows paths: accepted for a Windows image and for every platform of a base ("all"), then checked against each config\'s own OS', () => {
  const linux = scratchConfig({ os: 'linux', architecture: 'amd64' });
  const windows = scratchConfig({ os: 'windows', architecture: 'amd64' });
  const out = applyConfigChanges(windows, { workdir: 'C:\\app', volumes: ['C:/data', '/logs'] }, undefined);
  assert.equal(out.config?.WorkingDir, 'C:\\app');
  assert.deepEqual(Object.keys(out.config?.Volumes ?? {}), ['C:/data', '/logs']);
  // push({ platform: 'all' }) lets C:\app through before the base is read; a Linux child of the index refuses it.
  assert.throws(() => applyConfigChanges(linux, { workdir: 'C:\\app' }, undefined), { code: 'E_USAGE', message: 'config.workdir must be an absolute path (got "C:\\app")' });
  assert.throws(() => applyConfigChanges(windows, { volumes: ['data'] }, undefined), { code: 'E_USAGE', message: /^config\.volumes\[0\] must be an absolute path/ });
  // A stop signal is written without the spaces around it, as the CLI writes it.
  assert.equal(applyConfigChanges(linux, { stopSignal: ' SIGQUIT ' }, undefined).config?.StopSignal, 'SIGQUIT');
});

test('push({ platform: "windows/amd64" }) writes C:\\app, and platform "all" over a Linux base refuses it with nothing written', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/win', { tags: ['ltsc'], platform: { os: 'windows', architecture: 'amd64' } });
  src.seedImage('base/node', { tags: ['20'] });
  const opts = fakeLibraryOptions(src, dst);
  await push({ ...opts, from: src.ref('base/win:ltsc'), to: dst.ref('win:1'), platform: 'windows/amd64', config: { workdir: 'C:\\app', volumes: ['C:\\data'] } });
  const m = JSON.parse(dst.manifest('win', '1')!.bytes.toString('utf8'));
  const cfg = JSON.parse(dst.blob('win', m.config.digest)!.toString('utf8'));
  assert.equal(cfg.config.WorkingDir, 'C:\\app');
  assert.deepEqual(cfg.config.Volumes, { 'C:\\data': {} });
  const err = await rejection(() => push({ ...opts, from: src.ref('base/node:20'), to: dst.ref('lin:1'), platform: 'all', config: { workdir: 'C:\\app' } }));
  assert.equal(err.code, 'E_USAGE', err.message);
  assert.equal(err.message, 'push(): config.workdir must be an absolute path (got "C:\\app")');
  assert.equal(dst.manifest('lin', '1'), undefined);
});

test('the CLI\'s flags keep their checks and messages: "/" paths and USER[:GROUP] without spaces for a Linux image, C:\\app and spaced account names where the image may be a Windows one, a trimmed signal', () => {
  assert.throws(() => configChangesFromFlags({ workdir: 'C:\\app' }), { code: 'E_USAGE', message: '--workdir must be an absolute path (got "C:\\app")' });
  assert.throws(() => configChangesFromFlags({ volume: ['/ok', 'rel'] }), { code: 'E_USAGE', message: '--volume must be an absolute path (got "rel")' });
  assert.throws(() => configChangesFromFlags({ user: 'a b' }), { code: 'E_USAGE', message: '--user must be USER or USER:GROUP, without spaces (got "a b")' });
  assert.throws(() => configChangesFromFlags({ 'stop-signal': ' SIGTERN' }), { code: 'E_USAGE', message: '--stop-signal must be a signal name (SIGTERM, TERM) or number from 1 to 64 (got " SIGTERN")' });
  // As docker build takes STOPSIGNAL: any case, SIG or not, real-time signals; kept as written.
  for (const ok of ['sigterm', 'term', 'SIGRTMIN+3', 'RTMAX-2', '9', 'SIGWINCH']) assert.equal(configChangesFromFlags({ 'stop-signal': ok }).stopSignal, ok);
  for (const bad of ['RTMIN+16', '0', 'SIG', 'TERM9']) assert.throws(() => configChangesFromFlags({ 'stop-signal': bad }), { code: 'E_USAGE' }, bad);
  assert.deepEqual(configChangesFromFlags({ workdir: '/app', volume: '/data', user: '1000:1000', 'stop-signal': ' SIGQUIT ' }), { workdir: '/app', volumes: ['/data'], user: '1000:1000', stopSignal: 'SIGQUIT' });
  // --platform windows/… or all (the third argument): Windows forms too, still never a relative path.
  assert.deepEqual(configChangesFromFlags({ workdir: 'C:\\app', volume: ['C:/data', '/logs'], user: 'NT AUTHORITY\\NETWORK SERVICE' }, undefined, true), {
    workdir: 'C:\\app',
    volumes: ['C:/data', '/logs'],
    user: 'NT AUTHORITY\\NETWORK SERVICE',
  });
  assert.throws(() => configChangesFromFlags({ workdir: 'app' }, undefined, true), { code: 'E_USAGE', message: '--workdir must be an absolute path (/app or C:\\app) (got "app")' });
  assert.throws(() => configChangesFromFlags({ user: ' ContainerUser' }, undefined, true), { code: 'E_USAGE', message: '--user must be USER or USER:GROUP (got " ContainerUser")' });
});

test('push(): a misspelt option name, at the top or in a nested object, is E_USAGE naming its path and the name meant, before any request', async () => {
  const { src, dst, app, bad } = await validPush();
  await refusedUpFront([src, dst], 'E_USAGE', [
    ['dryrun', bad({ dryrun: true }), /^push\(\): unknown option "dryrun" \(did you mean "dryRun"\?\)$/],
    ['DRYRUN', bad({ DRYRUN: true }), /^push\(\): unknown option "DRYRUN" \(did you mean "dryRun"\?\)$/],
    ['misspelt even when undefined', bad({ dryrun: undefined }), /^push\(\): unknown option "dryrun" \(did you mean "dryRun"\?\)$/],
    ['form (the typo, not a missing from)', () => push({ form: src.ref('base/node:20'), to: dst.ref('app:1') } as never), /^push\(\): unknown option "form" \(did you mean "from"\?\)$/],
    ['tag', bad({ tag: ['latest'] }), /^push\(\): unknown option "tag" \(did you mean "tags"\?\)$/],
    ['nothing near', bad({ colour: 'blue' }), /^push\(\): unknown option "colour"$/],
    ['config.entrypont', bad({ config: { entrypont: ['node'] } }), /^push\(\): unknown option "config\.entrypont" \(did you mean "config\.entrypoint"\?\)$/],
    ['config.healthcheck.intervall', bad({ config: { healthcheck: { test: ['NONE'], intervall: 1 } } }), /^push\(\): unknown option "config\.healthcheck\.intervall" \(did you mean "config\.healthcheck\.interval"\?\)$/],
    ['app[0].dset', bad({ app: [{ src: app, dset: '/app' }] }), /^push\(\): unknown option "app\[0\]\.dset" \(did you mean "app\[0\]\.dest"\?\)$/],
    ['layers[0].platfrom', bad({ layers: [{ sources: [{ src: app, dest: '/x' }], platfrom: 'linux/amd64' }] }), /^push\(\): unknown option "layers\[0\]\.platfrom" \(did you mean "layers\[0\]\.platform"\?\)$/],
    ['credentials.to.pasword', bad({ credentials: { to: { username: 'ci', pasword: 'x' } } }), /^push\(\): unknown option "credentials\.to\.pasword" \(did you mean "credentials\.to\.password"\?\)$/],
    ['credentials.target', bad({ credentials: { target: { username: 'ci' } } }), /^push\(\): unknown option "credentials\.target"$/],
    ['tls.verfyOff', bad({ tls: { verfyOff: [dst.host] } }), /^push\(\): unknown option "tls\.verfyOff" \(did you mean "tls\.verifyOff"\?\)$/],
    ['tls.clientCerts entry', bad({ tls: { clientCerts: { [dst.host]: { cert: '/c.pem', key: '/k.pem', pass: 'x' } } } }), new RegExp(`^push\\(\\): unknown option "tls\\.clientCerts\\["${dst.host.replace('.', '\\.')}"\\]\\.pass"`)],
    ['chown.UID', bad({ chown: { UID: 1, uid: 1, gid: 1 } }), /^push\(\): unknown option "chown\.UID" \(did you mean "chown\.uid"\?\)$/],
    ['events.onEnd', bad({ events: { onEnd() {} } }), /^push\(\): unknown option "events\.onEnd" \(did you mean "events\.end"\?\)$/],
  ]);
});

test('push(): every documented option at once (the maps with any keys, the CLI\'s internal fields, objects that are class instances) is no unknown option', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir();
  /** A caller's progress class: its own fields are its state, not misspelt callbacks. */
  class Events {
    phases: string[] = [];
    phase = (name: string) => this.phases.push(name);
  }
  const events = new Events();
  const logger = { debug() {}, info() {}, warn() {}, error() {} }; // a logger may have more methods
  const r = await push({
    ...fakeLibraryOptions(src, dst),
    from: src.ref('base/node:20'),
    to: dst.ref('app:1'),
    tags: ['2'],
    app: [{ src: app, dest: '/app' }],
    layers: [{ sources: [{ src: app, dest: '/lib' }], platform: 'linux/amd64' }],
    format: 'oci',
    annotations: { 'org.opencontainers.image.title': 'app' },
    platform: 'linux/amd64',
    config: { entrypoint: ['node'], cmd: ['server.js'], env: ['A=1'], ports: ['8080'], workdir: '/app', volumes: ['/data'], labels: { 'any key': 'v' }, user: '1000', healthcheck: { test: ['NONE'], interval: 0, timeout: 0, startPeriod: 0, retries: 0 }, stopSignal: 'SIGTERM' },
    baseLabels: true,
    jobs: 2,
    gzipLevel: 6,
    gzipJobs: 1,
    mtime: 0,
    chown: { uid: 0, gid: 0 },
    dryRun: false,
    layerUpload: 'put',
    logger,
    events,
    retries: 1,
    credentials: { from: undefined, to: undefined },
    signal: new AbortController().signal,
    idleTimeoutMs: 60_000,
    chunkSize: 1 << 20,
    tls: { certsDirs: [], caCerts: {}, clientCerts: {}, verifyOff: [], verifyOffBy: {}, nodeExtraCaCerts: undefined },
    credentialHelperTimeoutMs: 1000,
    credentialHelperProcessGroup: true,
    secrets: new SecretSet(),
    mirrors: {},
    blocked: {},
    insecureTlsRegistries: {},
    earlySockets: undefined,
  });
  assert.deepEqual(dst.tags('app'), ['1', '2']);
  assert.equal(r.layers?.length, 2);
  assert.ok(events.phases.length > 0, 'the class instance\'s callbacks were called');
});

test('copy() and sync(): a misspelt option name is E_USAGE naming it and the name meant, before any request; the CLI\'s event names are known', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  const good = { from: src.ref('app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) };
  const badCopy = (patch: Record<string, unknown>) => () => copy({ ...good, ...patch } as never);
  const spec = parseSyncFile(['images:', `  - { source: ${src.ref('app')}, tags: ['1'], targets: [${dst.host}/mirror] }`, ''].join('\n'), 'sync.yaml');
  const badSync = (patch: Record<string, unknown>) => () => sync({ spec, ...fakeLibraryOptions(src, dst), ...patch } as never);
  await refusedUpFront([src, dst], 'E_USAGE', [
    ['allTag', badCopy({ allTag: true }), /^copy\(\): unknown option "allTag" \(did you mean "allTags"\?\)$/],
    ['dryrun', badCopy({ dryrun: true }), /^copy\(\): unknown option "dryrun" \(did you mean "dryRun"\?\)$/],
    ['noclobber', badCopy({ noclobber: true }), /^copy\(\): unknown option "noclobber" \(did you mean "noClobber"\?\)$/],
    ['referers', badCopy({ referers: true }), /^copy\(\): unknown option "referers" \(did you mean "referrers"\?\)$/],
    ['insecureRegistry', badCopy({ insecureRegistry: [dst.host] }), /^copy\(\): unknown option "insecureRegistry" \(did you mean "insecureRegistries"\?\)$/],
    ['sync dryrun', badSync({ dryrun: true }), /^sync\(\): unknown option "dryrun" \(did you mean "dryRun"\?\)$/],
    ['sync minRatelimit', badSync({ minRatelimit: 100 }), /^sync\(\): unknown option "minRatelimit" \(did you mean "minRateLimit"\?\)$/],
    ['sync shard.idx', badSync({ shard: { idx: 0, index: 0, count: 1 } }), /^sync\(\): unknown option "shard\.idx" \(did you mean "shard\.index"\?\)$/],
    ['sync spec.image', badSync({ spec: { ...spec, image: [] } }), /^sync\(\): unknown option "spec\.image" \(did you mean "spec\.images"\?\)$/],
  ]);
  // The events the CLI hands copy and sync (its progress display and GC pacing) carry phase, work and close.
  const noop = () => undefined;
  await copy({ ...good, events: { phase: noop, work: noop } as never });
  assert.deepEqual(dst.tags('app'), ['1']);
  const r = await sync({ spec, ...fakeLibraryOptions(src, dst), events: { unitEnd: noop, work: noop, close: noop } as never });
  assert.equal(r.totals.copied, 1);
});

test('one progress object serves push(), copy() and sync(): the types let a SyncEvents or PushEvents object be every operation\'s events, so no callback name of another operation is refused (was E_USAGE: copy(): unknown option "events.unitStart"); a misspelt one still is', async () => {
  const { src, dst, good } = await validPush();
  const seen = new Set<string>();
  // Typed as sync's and push's events at once, as a script's one progress reporter is; assignable to each operation's.
  const progress: SyncEvents & PushEvents = {
    start: () => seen.add('start'),
    end: () => seen.add('end'),
    phase: () => seen.add('phase'),
    unitStart: () => seen.add('unitStart'),
    unitEnd: () => seen.add('unitEnd'),
    waiting: () => undefined,
  };
  await push({ ...good, events: progress });
  await copy({ from: dst.ref('app:1'), to: [dst.ref('copied:1')], ...fakeLibraryOptions(src, dst), events: progress });
  const spec = parseSyncFile(['images:', `  - { source: ${dst.ref('app')}, tags: ['1'], targets: [${dst.host}/mirror] }`, ''].join('\n'), 'sync.yaml');
  const r = await sync({ spec, ...fakeLibraryOptions(src, dst), events: progress });
  assert.equal(r.totals.copied, 1);
  assert.deepEqual([...seen].sort(), ['end', 'phase', 'start', 'unitEnd', 'unitStart']);
  assert.deepEqual(dst.tags('copied'), ['1']);
  const before = src.count() + dst.count();
  await refusedUpFront([], 'E_USAGE', [
    ['copy strat', () => copy({ from: dst.ref('app:1'), to: [dst.ref('copied:2')], ...fakeLibraryOptions(src, dst), events: { strat: () => undefined } as never }), /^copy\(\): unknown option "events\.strat" \(did you mean "events\.start"\?\)$/],
    ['push unitstart', () => push({ ...good, events: { unitstart: () => undefined } as never }), /^push\(\): unknown option "events\.unitstart" \(did you mean "events\.unitStart"\?\)$/],
  ]);
  assert.equal(src.count() + dst.count(), before, 'nothing sent for the misspelt ones');
});

test('inspect(), login(), logout(), listTags(), listRepositories(), digestOf(), tagImage(), untagImage() and deleteImage(): a wrong type or a misspelt option name is E_USAGE naming it, before any request', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1'] });
  const opts = fakeLibraryOptions(reg);
  const home = mkdtempSync(join(tmpdir(), 'regpush-library-options-home-'));
  dirs.push(home);
  await refusedUpFront([reg], 'E_USAGE', [
    ['inspect platfrom', () => inspect(reg.ref('app:1'), { ...opts, platfrom: 'linux/amd64' } as never), /^inspect\(\): unknown option "platfrom" \(did you mean "platform"\?\)$/],
    ['inspect credentials.form', () => inspect(reg.ref('app:1'), { ...opts, credentials: { form: {} } } as never), /^inspect\(\): unknown option "credentials\.form" \(did you mean "credentials\.from"\?\)$/],
    ['inspect platform list', () => inspect(reg.ref('app:1'), { ...opts, platform: ['linux/amd64'] } as never), /^inspect\(\): platform must be a string \(got an array\)$/],
    ['inspect options string', () => inspect(reg.ref('app:1'), 'linux/amd64' as never), /^inspect\(\): the options must be an object \(got a string\)$/],
    ['login usename', () => login({ ...opts, registry: reg.host, usename: 'ci', username: 'ci', password: 'pw' } as never), /^login\(\): unknown option "usename" \(did you mean "username"\?\)$/],
    ['login password number', () => login({ ...opts, registry: reg.host, username: 'ci', password: 1234 } as never), /^login\(\): password must be a string \(got 1234\)$/],
    ['login no registry', () => login({ ...opts, username: 'ci', password: 'pw' } as never), /^login\(\): registry must be a string \(got nothing\)$/],
    ['logout homedir', () => logout({ registry: reg.host, homedir: home } as never), /^logout\(\): unknown option "homedir" \(did you mean "homeDir"\?\)$/],
    ['logout credentialHelperProcessGroup string', () => logout({ registry: reg.host, homeDir: home, credentialHelperProcessGroup: 'yes' } as never), /^logout\(\): credentialHelperProcessGroup must be true or false \(got a string\)$/],
    ['logout retries (not a logout option)', () => logout({ registry: reg.host, homeDir: home, retries: 1 } as never), /^logout\(\): unknown option "retries"/],
    ['listTags pagesize', () => listTags(reg.ref('app'), { ...opts, pagesize: 10 } as never), /^listTags\(\): unknown option "pagesize" \(did you mean "pageSize"\?\)$/],
    ['listTags pageSize string', () => listTags(reg.ref('app'), { ...opts, pageSize: '10' } as never), /^listTags\(\): pageSize must be a number \(got a string\)$/],
    ['listTags pageSize 0', () => listTags(reg.ref('app'), { ...opts, pageSize: 0 }), /^listTags\(\): pageSize must be a whole number from 1 to 10000 \(got 0\)$/],
    ['listRepositories pageSize 10001', () => listRepositories(reg.host, { ...opts, pageSize: 10001 }), /^listRepositories\(\): pageSize must be a whole number from 1 to 10000 \(got 10001\)$/],
    ['listRepositories page_size', () => listRepositories(reg.host, { ...opts, page_size: 10 } as never), /^listRepositories\(\): unknown option "page_size" \(did you mean "pageSize"\?\)$/],
    ['listRepositories registry object', () => listRepositories({ registry: reg.host } as never, opts), /^listRepositories\(\): registry must be a string \(got an object\)$/],
    ['digestOf insecureRegistry', () => digestOf(reg.ref('app:1'), { ...opts, insecureRegistry: [reg.host] } as never), /^digestOf\(\): unknown option "insecureRegistry" \(did you mean "insecureRegistries"\?\)$/],
    ['tagImage dryRun (it has none)', () => tagImage(reg.ref('app:1'), ['2'], { ...opts, dryRun: true } as never), /^tagImage\(\): unknown option "dryRun"/],
    ['tagImage credentials.to.pasword', () => tagImage(reg.ref('app:1'), ['2'], { ...opts, credentials: { to: { pasword: 'x' } } } as never), /^tagImage\(\): unknown option "credentials\.to\.pasword" \(did you mean "credentials\.to\.password"\?\)$/],
    ['untagImage force (it has none: deleteImage has)', () => untagImage(reg.ref('app:1'), { ...opts, force: true } as never), /^untagImage\(\): unknown option "force"/],
    ['deleteImage Force', () => deleteImage(reg.ref('app:1'), { ...opts, Force: true } as never), /^deleteImage\(\): unknown option "Force" \(did you mean "force"\?\)$/],
    ['deleteImage force string', () => deleteImage(reg.ref('app:1'), { ...opts, force: 'yes' } as never), /^deleteImage\(\): force must be true or false \(got a string\)$/],
  ]);
  // Valid calls, every option of each given (connection options as the CLI gives them).
  const all = { ...opts, logger: { debug() {}, info() {}, warn() {} }, retries: 1, signal: new AbortController().signal, credentials: { from: undefined, to: undefined }, secrets: new SecretSet(), earlySockets: undefined };
  assert.equal((await inspect(reg.ref('app:1'), { ...all, platform: 'linux/amd64' })).digest, img.digest);
  assert.deepEqual((await listTags(reg.ref('app'), { ...all, pageSize: 10 })).tags, ['1']);
  assert.deepEqual((await listRepositories(reg.host, { ...all, pageSize: 10 })).repositories, ['app']);
  assert.equal((await digestOf(reg.ref('app:1'), all)).digest, img.digest);
  assert.deepEqual((await tagImage(reg.ref('app:1'), ['2', '3'], all)).tags, ['2', '3']);
  assert.deepEqual(await untagImage(reg.ref('app:3'), all), { reference: reg.ref('app:3'), digest: img.digest });
  assert.equal((await deleteImage(reg.ref('app:2'), { ...all, force: true })).digest, img.digest);
  assert.deepEqual(await login({ ...all, homeDir: home, registry: reg.host, username: 'ci', password: 'pw' }), { registry: reg.host });
  assert.deepEqual(await logout({ registry: reg.host, env: opts.env, homeDir: home, credentialHelperTimeoutMs: 1000, credentialHelperProcessGroup: false, logger: all.logger }), { registry: reg.host, removed: true });
});

test('the arguments given by position (a reference, tagImage\'s new tags) are checked as the options are: E_USAGE naming the argument, before any request', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1'] });
  const opts = fakeLibraryOptions(reg);
  await refusedUpFront([reg], 'E_USAGE', [
    // A string where the list is meant would have made the tags "l", "a", "t", "e", "s", "t".
    ['tagImage new tags as a string', () => tagImage(reg.ref('app:1'), 'latest' as never, opts), /^tagImage\(\): newTags must be an array of strings \(got a string\)$/],
    ['tagImage a number tag', () => tagImage(reg.ref('app:1'), ['2', 3] as never, opts), /^tagImage\(\): newTags\[1\] must be a string \(got 3\)$/],
    ['inspect a number', () => inspect(42 as never, opts), /^inspect\(\): reference must be a string or an object with registry, repository \(got 42\)$/],
    ['digestOf a reference without its repository', () => digestOf({ registry: reg.host } as never, opts), /^digestOf\(\): reference must be a string or an object with registry, repository \(got an object\)$/],
    ['listTags null', () => listTags(null as never, opts), /^listTags\(\): repository must be a string or an object with registry, repository \(got null\)$/],
    ['untagImage a number', () => untagImage(7 as never, opts), /^untagImage\(\): reference must be a string or an object with registry, repository \(got 7\)$/],
    ['deleteImage a list', () => deleteImage([reg.ref('app:1')] as never, opts), /^deleteImage\(\): reference must be a string or an object with registry, repository \(got an array\)$/],
  ]);
  // A parsed reference is taken as the string is.
  assert.equal((await digestOf(parseReference(reg.ref('app:1')), opts)).digest, img.digest);
});

test('push(), copy() and sync() given a signal that has already fired: E_ABORTED before any request, nothing written', async () => {
  const { good } = await validPush();
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  const opts = { ...fakeLibraryOptions(src, dst), signal: AbortSignal.abort() };
  const spec = parseSyncFile(`images:\n  - { source: ${src.ref('app')}, tags: ['1'], targets: [${dst.host}/mirror] }\n`, 'sync.yaml');
  await refusedUpFront([src, dst], 'E_ABORTED', [
    ['push', () => push({ ...good, signal: AbortSignal.abort() }), /^interrupted before it started \(the abort signal had already fired\): nothing was sent$/],
    ['copy', () => copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], ...opts }), /^interrupted before it started \(the abort signal had already fired\): nothing was sent$/],
    ['sync', () => sync({ spec, ...opts }), /^interrupted before it started \(the abort signal had already fired\): nothing was sent$/],
  ]);
  assert.deepEqual(dst.tags('app'), []);
});

test('env: {} without homeDir reads no login under the process\'s own home ($HOME): the library takes only the environment it is given', async () => {
  const reg = await fake({ auth: { scheme: 'basic', user: 'ci', password: 'pw' } });
  reg.seedImage('app', { tags: ['1'] });
  const home = mkdtempSync(join(tmpdir(), 'regpush-library-options-home-'));
  dirs.push(home);
  mkdirSync(join(home, '.docker'));
  writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('ci:pw').toString('base64') } } }));
  const saved = process.env.HOME;
  process.env.HOME = home;
  try {
    const opts = { insecureRegistries: [reg.host], retries: 0 };
    const err = await rejection(() => digestOf(reg.ref('app:1'), { ...opts, env: {} }));
    assert.equal(err.code, 'E_AUTH', err.message);
    // Given the home (as the CLI gives it), the login there is used.
    assert.match((await digestOf(reg.ref('app:1'), { ...opts, env: { HOME: home } })).digest, /^sha256:/);
    assert.match((await digestOf(reg.ref('app:1'), { ...opts, env: {}, homeDir: home })).digest, /^sha256:/);
  } finally {
    process.env.HOME = saved;
  }
});

test('numbers a plain-JS caller may give that cannot work (chunkSize 0, idleTimeoutMs 1, retries 1e6) are E_USAGE in the CLI\'s ranges, naming the operation as its other messages do, before any request', async () => {
  const { src, dst, good, bad } = await validPush();
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const opts = fakeLibraryOptions(reg);
  const spec = parseSyncFile(`images:\n  - { source: ${reg.ref('app')}, tags: ['1'], targets: [${reg.host}/mirror] }\n`, 'sync.yaml');
  await refusedUpFront([reg, src, dst], 'E_USAGE', [
    ['push chunkSize 0', bad({ chunkSize: 0, layerUpload: 'chunked' }), /^push\(\): chunkSize must be bytes from 1024 \(1 KiB\) to 1073741824 \(1 GiB\) \(got 0\)$/],
    ['push idleTimeoutMs 1', bad({ idleTimeoutMs: 1 }), /^push\(\): idleTimeoutMs must be milliseconds from 100 to 3600000 \(got 1\)$/],
    ['push retries 21', bad({ retries: 21 }), /^push\(\): retries must be a whole number from 0 to 20 \(got 21\)$/],
    ['copy retries 99', () => copy({ from: reg.ref('app:1'), to: [reg.ref('other:1')], ...opts, retries: 99 }), /^copy\(\): retries must be a whole number from 0 to 20 \(got 99\)$/],
    ['copy chunkSize 1023', () => copy({ from: reg.ref('app:1'), to: [reg.ref('other:1')], ...opts, chunkSize: 1023 }), /^copy\(\): chunkSize must be bytes from 1024/],
    ['sync idleTimeoutMs 99', () => sync({ spec, ...opts, idleTimeoutMs: 99 }), /^sync\(\): idleTimeoutMs must be milliseconds from 100 to 3600000 \(got 99\)$/],
    ['inspect retries 21', () => inspect(reg.ref('app:1'), { ...opts, retries: 21 }), /^inspect\(\): retries must be a whole number from 0 to 20 \(got 21\)$/],
    ['digestOf idleTimeoutMs 0', () => digestOf(reg.ref('app:1'), { ...opts, idleTimeoutMs: 0 }), /^digestOf\(\): idleTimeoutMs must be milliseconds from 100/],
    ['listTags retries 1e6', () => listTags(reg.ref('app'), { ...opts, retries: 1_000_000 }), /^listTags\(\): retries must be a whole number from 0 to 20 \(got 1000000\)$/],
    ['listRepositories idleTimeoutMs 1', () => listRepositories(reg.host, { ...opts, idleTimeoutMs: 1 }), /^listRepositories\(\): idleTimeoutMs must be/],
    ['tagImage retries 21', () => tagImage(reg.ref('app:1'), ['2'], { ...opts, retries: 21 }), /^tagImage\(\): retries must be/],
    ['deleteImage retries 21', () => deleteImage(reg.ref('app:1'), { ...opts, force: true, retries: 21 }), /^deleteImage\(\): retries must be/],
    ['login retries 21', () => login({ registry: reg.host, username: 'u', password: 'p', ...opts, retries: 21 }), /^login\(\): retries must be/],
  ]);
  // The same push with sane numbers goes through: each refusal was for its number alone.
  assert.match((await push(good)).digest, /^sha256:[0-9a-f]{64}$/);
});

test('library calls name the option path, not the CLI\'s flag: jobs, images, format, config.env/ports/volumes/labels, the pull-limit gate\'s options; before any request', async () => {
  const { src, dst, bad } = await validPush();
  const config = (c: Record<string, unknown>) => bad({ config: c });
  await refusedUpFront([src, dst], 'E_USAGE', [
    ['push jobs 0', bad({ jobs: 0 }), /^push\(\): jobs must be a whole number from 1 to 64 \(got 0\)$/],
  ]);
  await refusedUpFront([src, dst], 'E_USAGE', [
    ['push format', bad({ format: 'v2s2' }), /^push\(\): format must be "oci" or "docker" \(got "v2s2"\)$/],
    ['config.env without =', config({ env: ['A=1', 'NOEQ'] }), /^push\(\): invalid config\.env\[1\]: expected KEY=VALUE, and the 4-character entry has no "="/],
    ['config.env empty name', config({ env: ['=1'] }), /^push\(\): invalid config\.env\[0\]: the variable name is empty/],
    ['config.env bad ${', config({ env: ['A=1', 'TOKEN=abc${secret'] }), /^push\(\): invalid config\.env\[1\] \(TOKEN\): the "\$\{" at offset 3 of its value has no closing "\}"/],
    ['config.ports range', config({ ports: ['80', '70000'] }), /^push\(\): invalid config\.ports\[1\] "70000": port must be 1-65535$/],
    ['config.volumes empty', config({ volumes: ['/data', ''] }), /^push\(\): invalid config\.volumes\[1\] "": the path is empty$/],
    ['config.labels key', config({ labels: { '': 'x' } }), /^push\(\): invalid config\.labels: the label key is empty$/],
  ]);
  const reg = await fake();
  reg.seedImage('app', { tags: ['1'] });
  const opts = fakeLibraryOptions(reg);
  const spec = parseSyncFile(['images:', `  - { source: ${reg.ref('app')}, tags: ['1'], targets: [${reg.host}/mirror] }`, ''].join('\n'), 'sync.yaml');
  const syncWith = (patch: Record<string, unknown>) => () => sync({ spec, ...opts, ...patch } as never);
  await refusedUpFront([reg], 'E_USAGE', [
    ['copy jobs 0', () => copy({ from: reg.ref('app:1'), to: [reg.ref('other:1')], jobs: 0, ...opts }), /^copy\(\): jobs must be a whole number from 1 to 64 \(got 0\)$/],
    ['copy images 65', () => copy({ from: reg.ref('app'), to: [reg.ref('other')], allTags: true, images: 65, ...opts }), /^copy\(\): images must be a whole number from 1 to 64 \(got 65\)$/],
    ['sync jobs 0', syncWith({ jobs: 0 }), /^sync\(\): jobs must be a whole number from 1 to 64 \(got 0\)$/],
    ['sync images 0', syncWith({ images: 0 }), /^sync\(\): images must be a whole number from 1 to 64 \(got 0\)$/],
    ['sync minRateLimit -1', syncWith({ minRateLimit: -1 }), /^sync\(\): minRateLimit must be a whole number of pulls, 0 or more \(got -1\)$/],
    ['sync minRateLimit 1.5', syncWith({ minRateLimit: 1.5 }), /^sync\(\): minRateLimit must be a whole number of pulls, 0 or more \(got 1\.5\)$/],
    ['sync maxWaitMs alone', syncWith({ maxWaitMs: 1000 }), /^sync\(\): maxWaitMs needs minRateLimit: it is how long the pull-limit gate may hold images \(give minRateLimit N too, or leave maxWaitMs out\)$/],
    ['sync maxWaitMs past a day', syncWith({ minRateLimit: 5, maxWaitMs: 2 * 86_400_000 }), /^sync\(\): maxWaitMs must be from 0 to 24 h \(86400000 ms; got 172800000 ms\)$/],
    // 0 polled the source back to back (~440 HEADs a second).
    ['sync rateLimitPollMs 0', syncWith({ minRateLimit: 5, rateLimitPollMs: 0 }), /^sync\(\): rateLimitPollMs must be milliseconds from 10 to 3600000 \(got 0\)$/],
    ['sync rateLimitPollMs 2 h', syncWith({ minRateLimit: 5, rateLimitPollMs: 7_200_000 }), /^sync\(\): rateLimitPollMs must be milliseconds from 10 to 3600000 \(got 7200000\)$/],
  ]);
  await refusedUpFront([reg], 'E_USAGE', [
    ['copy format', () => copy({ from: reg.ref('app:1'), to: [reg.ref('other:1')], format: 'v2' as never, ...opts }), /^copy\(\): format must be "oci" or "docker" \(got "v2"\)$/],
  ]);
});

test('the CLI still names its flags: --jobs, --images, --min-ratelimit, --max-wait, --page-size', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regpush-library-options-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'sync.yaml'), 'images:\n  - { source: 127.0.0.1:1/app, tags: ["1"], targets: [127.0.0.1:1/mirror] }\n');
  const cases: [string[], RegExp][] = [
    [['copy', '--jobs', '0', '127.0.0.1:1/a:1', '127.0.0.1:1/b:1'], /^regpush: error: --jobs must be a whole number from 1 to 64 \(got 0\) \[E_USAGE\]$/],
    [['copy', '--all-tags', '--images', '0', '127.0.0.1:1/a', '127.0.0.1:1/b'], /^regpush: error: --images must be a whole number from 1 to 64 \(got 0\) \[E_USAGE\]$/],
    [['sync', '--jobs', '65', 'sync.yaml'], /^regpush: error: --jobs must be a whole number from 1 to 64 \(got 65\) \[E_USAGE\]$/],
    [['sync', '--min-ratelimit', '-1', 'sync.yaml'], /^regpush: error: --min-ratelimit must be a whole number of pulls, 0 or more \(got -1\) \[E_USAGE\]$/],
    [['tags', '--page-size', '0', '127.0.0.1:1/a'], /^regpush: error: --page-size must be a whole number from 1 to 10000 \(got 0\) \[E_USAGE\]$/],
    [['catalog', '--page-size', '20000', '127.0.0.1:1'], /^regpush: error: --page-size must be a whole number from 1 to 10000 \(got 20000\) \[E_USAGE\]$/],
    [['sync', '--max-wait', '10m', 'sync.yaml'], /^regpush: error: --max-wait needs --min-ratelimit: .* \(give --min-ratelimit N too, or leave --max-wait out\) \[E_USAGE\]$/],
  ];
  for (const [argv, message] of cases) {
    const r = await runMain(argv, { cwd: dir });
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trim(), message, argv.join(' '));
  }
});

test('a reference given as an object is checked as the same string would be: a path that climbs out of its repository, or a registry that is no host, is E_REFERENCE before any request', async () => {
  const reg = await fake();
  reg.seedImage('victim/app', { tags: ['1'] });
  const opts = fakeLibraryOptions(reg);
  await refusedUpFront([reg], 'E_REFERENCE', [
    ['tagImage ../', () => tagImage({ registry: reg.host, repository: 'sandbox/../victim/app', tag: '1' }, ['pwned'], opts), /invalid image reference .*sandbox\/\.\.\/victim\/app/],
    ['digestOf ../../v2/_catalog', () => digestOf({ registry: reg.host, repository: '../../v2/_catalog', tag: 'x' }, opts), /invalid image reference/],
    ['inspect upper case', () => inspect({ registry: reg.host, repository: 'Victim/app', tag: '1' }, opts), /must be lowercase/],
    ['listTags registry no host', () => listTags({ registry: 'myhost', repository: 'app' }, opts), /registry "myhost" is not a registry host/],
  ]);
  assert.deepEqual(reg.tags('victim/app'), ['1']);
  // A valid object works, its names canonicalised, with no tag added.
  assert.equal((await digestOf({ registry: reg.host, repository: 'victim/app', tag: '1' }, opts)).reference, reg.ref('victim/app:1'));
});
