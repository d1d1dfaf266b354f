// A password given as a flag is visible in the process list to every user of the machine: push,
// copy, inspect and the registry commands warn of it on stderr as login does (one line a flag,
// kept by --quiet as every warning is); a password from the environment draws none.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';

const fake = fakeRegistryPool();
const PW = 'flag-secret-1';

async function seeded() {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  const lib = fakeLibraryOptions(src, dst);
  const env = { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };
  return { src, dst, env };
}

const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('warning: '));

test('copy --to-password / --from-password: one warning each, naming the flag and what to use instead; the password itself never printed', async () => {
  const { src, dst, env } = await seeded();
  const r = await runMain(['copy', '--quiet', '--from-user', 'ci', '--from-password', PW, '--to-user', 'ci', '--to-password', PW, src.ref('app:1'), `${dst.host}/app:1`], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(warnings(r.stderr), [
    'warning: --to-password is visible to other users of this machine; use --password-stdin',
    'warning: --from-password is visible to other users of this machine; use REGPUSH_FROM_PASSWORD or regpush login',
  ]);
  assert.ok(!r.stderr.includes(PW) && !r.stdout.includes(PW));
});

test('inspect and tags with --user --password warn as login does; a password in REGPUSH_* variables draws no warning', async () => {
  const { src, env } = await seeded();
  for (const argv of [['inspect', src.ref('app:1')], ['tags', src.ref('app')]]) {
    const r = await runMain([...argv, '--user', 'ci', '--password', PW], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(warnings(r.stderr), ['warning: --password is visible to other users of this machine; use --password-stdin'], argv[0]);
  }
  const none = await runMain(['copy', src.ref('app:1'), `${src.host}/other:2`], { env: { ...env, REGPUSH_TO_USER: 'ci', REGPUSH_TO_PASSWORD: PW } });
  assert.equal(none.code, 0, none.stderr);
  assert.deepEqual(warnings(none.stderr), [], none.stderr);
});

test('copy and push with --to-password and --password-stdin: refused before stdin is read or anything is sent (one password source), as inspect and login refuse --password with it', async () => {
  const { src, dst, env } = await seeded();
  for (const argv of [
    ['copy', '--to-user', 'ci', '--to-password', PW, '--password-stdin', src.ref('app:1'), `${dst.host}/app:1`],
    ['push', '--from', src.ref('app:1'), '--to', `${dst.host}/app:2`, '--to-user', 'ci', '--to-password', PW, '--password-stdin'],
  ]) {
    const before = src.log.length + dst.log.length;
    const r = await runMain(argv, { env });
    assert.equal(r.code, 2, `${argv[0]}: ${r.stderr}`);
    assert.match(r.stderr, /give either --to-password or --password-stdin, not both \[E_USAGE\]/, argv[0]);
    assert.ok(!r.stderr.includes(PW), argv[0]);
    assert.equal(src.log.length + dst.log.length, before, `${argv[0]}: nothing sent`);
  }
});
