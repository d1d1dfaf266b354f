// --quiet (-q) in every command: the result on stdout; on stderr no progress and no notes, but every
// warning still (as skopeo's, crane's and docker's -q), and the error line. It hid warnings too:
// `delete --force -q` deleted tags the user never heard of, `push -q` dropped the unset-$NAME one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const tempDir = tempDirs('regpush-quiet-');

const fake = fakeRegistryPool();

function cliEnv(...regs: FakeRegistry[]): Record<string, string> {
  const lib = fakeLibraryOptions(...regs);
  return { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };
}

test('delete --force -q: the warning naming the tags deleted with the manifest is on stderr; stdout is the result alone', async () => {
  const reg = await fake();
  for (const flag of ['-q', '--quiet']) {
    const img = reg.seedImage(`app${flag}`, { tags: ['1', 'latest', 'stable'] });
    const r = await runMain(['delete', '--force', flag, reg.ref(`app${flag}:1`)], { env: cliEnv(reg) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${reg.host}/app${flag}@${img.digest}\n`);
    assert.equal(r.stderr, `warning: deleted ${reg.host}/app${flag}@${img.digest}, which tag 1 pointed at: tags latest and stable pointed at it too and are gone with it\n`);
  }
});

test('push -q: a warning is printed, progress is not; copy -q: its notes (referrers) are not', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'], config: { Env: ['PATH=/usr/bin'] } });
  const app = tempDir();
  writeFileSync(join(app, 'server.js'), 'console.log("hi")\n');
  const r = await runMain(['push', '-q', '--from', src.ref('base:1'), '--to', dst.ref('app:1'), '--app', app, '--env', 'DB=pa$sword'], { env: cliEnv(src, dst), cwd: app });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^[^\n]+\/app@sha256:[0-9a-f]{64}\n$/);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^warning: --env DB: the "\$" at offset 2 of its value starts a variable/);
  // A note (info) stays out: copy's referrer counts, printed without -q.
  const signed = src.seedImage('signed', { tags: ['1'] });
  src.seedImage('signed', { artifactType: 'application/spdx+json', subject: { mediaType: signed.mediaType, digest: signed.digest, size: signed.size } });
  const loud = await runMain(['copy', '--referrers', src.ref('signed:1'), dst.ref('signed:1')], { env: cliEnv(src, dst) });
  assert.equal(loud.code, 0, loud.stderr);
  assert.match(loud.stderr, /: 1 referrer/);
  const quiet = await runMain(['copy', '-q', '--referrers', src.ref('signed:1'), dst.ref('signed:2')], { env: cliEnv(src, dst) });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, '');
});

test('a retry after a transient failure is a note, not a warning: -q leaves it out, without -q it has no "warning:"', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const layer = img.layers[0]!.digest;
  const run = async (tag: string, ...flags: string[]) => {
    src.fault({ kind: 'blob', method: 'GET', digest: layer }, { kind: 'drop', afterBytes: 10 }, { times: 1 });
    const r = await runMain(['copy', ...flags, src.ref('app:1'), dst.ref(`app${tag}:1`)], { env: cliEnv(src, dst) });
    assert.equal(r.code, 0, r.stderr);
    return r.stderr;
  };
  const loud = await run('a');
  assert.match(loud, /^blob sha256:[0-9a-f]{64} from .*; retrying from byte \d+ in \d+ ms$/m);
  assert.doesNotMatch(loud, /^warning: /m);
  assert.equal(await run('b', '-q'), '');
});
