// push's output when some targets fail (CLI in-process against fake registries,
// test/fixtures/fake-registry.ts): what succeeded is still printed and its digest written to
// --digest-file, then the error line, exit 8; as copy does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';

const fake = fakeRegistryPool();

test('push and copy with a target refusing uploads: exit 8, the digest the other target got written to --digest-file', async () => {
  const [src, good, bad] = [await fake(), await fake(), await fake()];
  const base = src.seedImage('base', { tags: ['1'] });
  bad.fault({ kind: 'upload' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  const dir = mkdtempSync(join(tmpdir(), 'regpush-cli-push-output-'));
  mkdirSync(join(dir, 'app'));
  writeFileSync(join(dir, 'app', 'server.js'), 'console.log("hi")\n');
  const lib = fakeLibraryOptions(src, good, bad);
  const env = { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };

  const push = await runMain(['push', '--retries', '0', '--from', src.ref('base:1'), '--to', good.ref('app:1'), '--to', bad.ref('app:1'), '--app', join(dir, 'app'), '--digest-file', 'push.digest'], { env, cwd: dir });
  assert.equal(push.code, 8, push.stderr);
  const pushed = good.manifest('app', '1')!.digest;
  assert.equal(push.stdout, `${good.host}/app@${pushed}\n`);
  assert.equal(readFileSync(join(dir, 'push.digest'), 'utf8'), `${pushed}\n`);

  const copy = await runMain(['copy', '--retries', '0', src.ref('base:1'), good.ref('copy:1'), bad.ref('copy:1'), '--digest-file', 'copy.digest'], { env, cwd: dir });
  assert.equal(copy.code, 8, copy.stderr);
  assert.equal(readFileSync(join(dir, 'copy.digest'), 'utf8'), `${base.digest}\n`);
});
