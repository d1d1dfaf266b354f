// The bench's scenario table (scripts/bench/scenarios.mjs) builds every row's command line: each
// row, the 1 GiB ones included, with and without --gzip-level. Nothing runs; this catches a row
// whose command no longer builds (the 1 GiB rows once referred to a variable that had moved, and
// `--large` failed only when somebody ran it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/test/unit/ → repository root

interface Scenario {
  id: string;
  cmd: (ctx: unknown, round: string) => { cmd: string; args: string[]; env: Record<string, string | undefined> };
}
interface ScenariosModule {
  scenarios(ctx: unknown): Scenario[];
  largeScenarios(ctx: unknown): Scenario[];
}

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
