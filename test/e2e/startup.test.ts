// What the bundled CLI loads (issue 7, start-up): `--version` reads only the small launcher, and a
// command loads neither the Node modules the bundle leaves out on purpose (http2, undici behind
// fetch/FormData, child_process without a credential helper) nor anything it did not need before.
// Structure, not timing: the speed itself is measured by `npm run bench`.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { imageRef, loadState, runCli, tempDir } from './harness.js';

const R = loadState().registries;
const MARK = 'REGPUSH-TEST-LOADED ';

/** A --require preload that reports, at exit, the bundle files and Node built-ins the process loaded. */
function preload(): string {
  const file = join(tempDir('regpush-startup-'), 'report-loaded.cjs');
  writeFileSync(
    file,
    `process.on('exit', () => {
  const files = Object.keys(require.cache).filter((f) => /[\\\\/]dist[\\\\/]cli[\\\\/]/.test(f)).map((f) => require('node:path').basename(f));
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
  process.stderr.write('\\n${MARK}' + JSON.stringify({ files, builtins }) + '\\n');
});
`,
  );
  return file;
}

async function loaded(args: string[]): Promise<{ code: number; stdout: string; stderr: string; files: string[]; builtins: string[] }> {
  const r = await runCli(args, { env: { NODE_OPTIONS: `--require ${preload()}` } });
  const line = r.stderr.split('\n').find((l) => l.startsWith(MARK));
  assert.ok(line, `no load report in stderr:\n${r.stderr}`);
  return { ...r, ...(JSON.parse(line.slice(MARK.length)) as { files: string[]; builtins: string[] }) };
}

const LEFT_OUT = ['http2', 'child_process', 'internal/deps/undici/undici'];

test('--version loads the launcher only: no CLI bundle, no http, no zlib', async () => {
  const r = await loaded(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  assert.deepEqual(r.files, ['regpush.cjs']);
  for (const m of ['http', 'https', 'zlib', 'crypto']) assert.ok(!r.builtins.includes(m), `--version loaded node:${m}`);
});

test(`inspect loads the CLI bundle but none of ${LEFT_OUT.join(', ')}`, async () => {
  const r = await loaded(['inspect', imageRef(R.anon, 'base/busybox:v2s2')]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.files.sort(), ['regpush-main.cjs', 'regpush.cjs']);
  for (const m of LEFT_OUT) assert.ok(!r.builtins.includes(m), `inspect loaded ${m}`);
});

test(`a push (dry run, with an app directory) loads none of ${LEFT_OUT.join(', ')}`, async () => {
  const app = tempDir('regpush-startup-app-');
  writeFileSync(join(app, 'hello.txt'), 'hello\n');
  const r = await loaded(['push', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', `${R.anon.host}/startup/check:1`, '--app', app, '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.builtins.includes('zlib'), 'the layer build uses zlib');
  for (const m of LEFT_OUT) assert.ok(!r.builtins.includes(m), `push loaded ${m}`);
});
