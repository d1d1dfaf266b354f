// The bench's scenario table (scripts/bench/scenarios.mjs) builds every row's command line: each
// row, the 1 GiB ones included, with and without --gzip-level. Nothing is measured; this catches a
// row whose command no longer builds, such as a 1 GiB row referring to a variable that has moved,
// which `--large` would show only when somebody ran it. The skopeo rows' blob-info cache is checked
// too: in the bench's temp dir, emptied before each run, proven against this machine's skopeo
// (a local dir: → dir: copy) where there is one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/test/unit/ → repository root

interface Scenario {
  id: string;
  cmd: (ctx: unknown, round: string) => { cmd: string; args: string[]; env: Record<string, string | undefined> };
}
interface ScenariosModule {
  scenarios(ctx: unknown): Scenario[];
  largeScenarios(ctx: unknown): Scenario[];
  skopeoEnv(ctx: { tmp: string }, euid?: number): Record<string, string | undefined>;
  skopeoDataDir(ctx: { tmp: string }): string;
  clearSkopeoCache(ctx: { tmp: string }): void;
  parseGzipLevel(text: string | undefined): { level?: number; error?: string };
}
const scenariosModule = (): Promise<ScenariosModule> => import(`${ROOT}scripts/bench/scenarios.mjs`) as Promise<ScenariosModule>;

function fakeContext(gzipLevelFlag?: number): Record<string, unknown> {
  const reg = (port: number) => ({ host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, user: 'alice', password: 'pw', realm: 'http://127.0.0.1:1/token', service: 'svc', storageDir: '/nonexistent' });
  return {
    cli: '/nonexistent/regpush.cjs', src: reg(5001), cold: reg(5002), warm: reg(5003), base: { repo: 'bench/base', tag: '1' }, large: { repo: 'bench/large', tag: '1' },
    app: '/nonexistent/app', appParent: '/nonexistent', appName: 'app', largeApp: '/nonexistent/large-app', manyFiles: '/nonexistent/many',
    tmp: '/nonexistent/tmp', curlPipe: '/nonexistent/curl-pipe.sh', dockerConfig: '/nonexistent/docker', plainHttp: ['127.0.0.1:5001'], containerify: '/nonexistent/cfy.js', cfyTmp: '/nonexistent/tmp',
    tools: { pigz: true }, gzipLevel: gzipLevelFlag ?? 6, gzipLevelFlag,
  };
}

test('every bench row builds its command line, the 1 GiB rows included, with and without --gzip-level', async () => {
  const mod = (await import(`${ROOT}scripts/bench/scenarios.mjs`)) as ScenariosModule;
  for (const level of [undefined, 1]) {
    const ctx = fakeContext(level);
    const rows = [...mod.scenarios(ctx), ...mod.largeScenarios(ctx)];
    assert.ok(rows.some((r) => r.id === 'large-push-same'), 'the 1 GiB rows are there');
    let pushRows = 0;
    for (const row of rows) {
      const { cmd, args } = row.cmd(ctx, 'r1');
      assert.equal(typeof cmd, 'string', row.id);
      for (const a of args) assert.ok(typeof a === 'string' && !a.includes('undefined'), `${row.id}: argument ${String(a)}`);
      const pushes = args.includes('push') && args.some((a) => a.endsWith('regpush.cjs'));
      if (pushes) pushRows++;
      if (pushes) assert.equal(args.includes('--gzip-level'), level !== undefined, `${row.id}: --gzip-level only when the bench was given one`);
    }
    assert.ok(pushRows > 0, 'some rows run regpush push (else the --gzip-level check above never ran)');
  }
});

test('skopeo rows run with a blob-info cache of their own, emptied before each run (as root too)', async () => {
  const mod = await scenariosModule();
  const ctx = fakeContext();
  const root = mod.skopeoEnv({ tmp: '/t' }, 0);
  assert.equal(root.XDG_DATA_HOME, '/t/skopeo-data');
  assert.ok(Number(root._CONTAINERS_ROOTLESS_UID) > 0, 'as root, containers/image is told to use XDG_DATA_HOME');
  const user = mod.skopeoEnv({ tmp: '/t' }, 1000);
  assert.equal(user.XDG_DATA_HOME, '/t/skopeo-data');
  assert.equal(user._CONTAINERS_ROOTLESS_UID, undefined);
  const rows = mod.scenarios(ctx).filter((r) => r.cmd(ctx, 'r1').cmd === 'skopeo');
  assert.ok(rows.length > 0);
  for (const r of rows) {
    assert.equal(r.cmd(ctx, 'r1').env.XDG_DATA_HOME, mod.skopeoDataDir(ctx as { tmp: string }), r.id);
    assert.equal((r as Scenario & { before?: unknown }).before, mod.clearSkopeoCache, `${r.id} empties the cache before a run`);
  }
});

test('this machine\'s skopeo keeps its blob-info cache where skopeoEnv says (skipped without skopeo)', async (t) => {
  if (spawnSync('skopeo', ['--version']).status !== 0) return t.skip('skopeo not installed');
  const mod = await scenariosModule();
  const tmp = mkdtempSync(join(tmpdir(), 'regpush-skopeo-cache-'));
  try {
    // A one-layer image in skopeo's dir: transport, copied dir: → dir: (no registry needed).
    const img = join(tmp, 'img');
    mkdirSync(img);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const tar = Buffer.alloc(1024); // an empty tar: two zero blocks
    const layer = gzipSync(tar);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${sha(tar)}`] } }));
    writeFileSync(join(img, sha(layer)), layer);
    writeFileSync(join(img, sha(config)), config);
    writeFileSync(join(img, 'version'), 'Directory Transport Version: 1.1\n');
    writeFileSync(join(img, 'manifest.json'), JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(config)}`, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha(layer)}`, size: layer.length }],
    }));
    const ctx = { tmp };
    const r = spawnSync('skopeo', ['--debug', 'copy', `dir:${img}`, `dir:${join(tmp, 'out')}`], { env: mod.skopeoEnv(ctx), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const dir = join(mod.skopeoDataDir(ctx), 'containers', 'cache');
    const used = /Using blob info cache at (\S+?)"?$/m.exec(r.stderr)?.[1];
    assert.ok(used?.startsWith(`${dir}/`), `skopeo's cache at ${String(used)}, expected under ${dir}`);
    assert.ok(existsSync(dir));
    mod.clearSkopeoCache(ctx);
    assert.ok(!existsSync(mod.skopeoDataDir(ctx)), 'emptied');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('--gzip-level: 1 to 9 only (regpush takes 1-9, GNU gzip has no -0), with a one-line error', async () => {
  const { parseGzipLevel } = await scenariosModule();
  for (const n of [1, 6, 9]) assert.deepEqual(parseGzipLevel(String(n)), { level: n });
  for (const bad of ['0', '10', '-1', '6.5', '', ' ', 'x', undefined]) {
    const r = parseGzipLevel(bad);
    assert.equal(r.level, undefined, String(bad));
    assert.match(r.error!, /^--gzip-level needs a whole number from 1 to 9 \(got .*\)$/, String(bad));
    assert.ok(!r.error!.includes('\n'));
  }
});
