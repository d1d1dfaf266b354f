// A reference typed with credentials in it (`ci:pa/ss@reg.example/app:1`, as in a URL's userinfo)
// is refused saying that a reference cannot carry credentials, and how to give them: the CLI names
// `regpush login` and the command's flags, the library its options. It was refused before, the
// password redacted, but for an `unsupported digest algorithm "reg.example/app"`, which sent the
// user looking at the digest. E_REFERENCE (exit 2); nothing is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, InvalidReferenceError, parseReference } from '../../src/index.js';
import { runMain } from '../fixtures/run-main.js';

const PW = 'pa/ss-w0rd';
const DIGEST = `sha256:${'0'.repeat(64)}`;

/** Each shape of typed credentials, with the registry it names. */
const SHAPES: Array<[string, string]> = [
  [`ci:${PW}@reg.example/app:1`, 'reg.example'],
  [`ci:p@${PW}@reg.example:5000/team/app@${DIGEST}`, 'reg.example:5000'],
  [`:${PW}@localhost/app`, 'localhost'],
  [`ci@reg.example/app`, 'reg.example'],
  [`https://ci:${PW}@reg.example/app:1`, 'reg.example'],
];

test('parseReference: credentials before a registry host are refused as such (E_REFERENCE), the password never echoed', () => {
  for (const [typed, registry] of SHAPES) {
    assert.throws(
      () => parseReference(typed),
      (err: unknown) => {
        assert.ok(err instanceof InvalidReferenceError, String(err));
        assert.equal(err.code, 'E_REFERENCE');
        assert.equal(err.exitCode, 2);
        assert.match(err.message, /: a reference cannot carry credentials; give the reference without them, and the credentials for (\S+) another way: store a login with login\(/, typed);
        assert.ok(err.message.includes(`credentials for ${registry} another way`), err.message);
        assert.ok(!err.message.includes('digest') || typed.includes(DIGEST), err.message);
        assert.ok(!err.message.includes(PW) && !err.message.includes('pa/ss'), err.message);
        return true;
      },
    );
  }
  // A token alone before the '@' (no ':' to mark a password) is a secret too: shown as ***.
  for (const typed of ['ghp_S3CRETTOKEN42@ghcr.io/org/app:1', 'https://ghp_S3CRETTOKEN42@ghcr.io/org/app:1']) {
    assert.throws(
      () => parseReference(typed),
      (err: unknown) => {
        assert.ok(err instanceof InvalidReferenceError && err.code === 'E_REFERENCE', String(err));
        assert.ok(!err.message.includes('S3CRETTOKEN'), err.message);
        assert.ok(err.message.startsWith(`invalid image reference "${typed.startsWith('https') ? 'https://' : ''}***@ghcr.io/org/app:1": a reference cannot carry credentials`), err.message);
        return true;
      },
    );
  }
  // Not credentials: a digest after the '@', and the problems of a reference that has one.
  assert.equal(parseReference(`reg.example/app:1@${DIGEST}`).digest, DIGEST);
  assert.throws(() => parseReference('reg.example/app@sha256:abc'), { name: 'InvalidReferenceError', code: 'E_REFERENCE', message: /sha256 digest must have 64 hex characters/ });
  assert.throws(() => parseReference('reg.example/app@latest'), { name: 'InvalidReferenceError', code: 'E_REFERENCE', message: /digest must look like/ });
});

test('copy(): the library names its options; the CLI names `regpush login` and its flags, exit 2', async () => {
  const err = await copy({ from: `ci:${PW}@reg.example/app:1`, to: ['other.example/app:1'], env: {}, homeDir: '/nonexistent' }).then(
    () => assert.fail('copy resolved'),
    (e: unknown) => e as InvalidReferenceError,
  );
  assert.equal(err.code, 'E_REFERENCE');
  assert.match(err.message, /a reference cannot carry credentials; .*credentials\.registries\["reg\.example"\]/);
  assert.ok(!err.message.includes(PW));

  const r = await runMain(['copy', `ci:${PW}@reg.example/app:1`, 'other.example/app:1']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^regpush: error: invalid image reference "\*\*\*@reg\.example\/app:1": a reference cannot carry credentials; give the reference without them, and the credentials for reg\.example another way: `regpush login reg\.example`, --from-user\/--from-password for the source, .* \[E_REFERENCE\]\n$/);
  assert.doesNotMatch(r.stderr, /digest|pa\/ss|credentials\.registries/);
});
