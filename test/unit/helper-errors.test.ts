// A credential helper's failure as callers see it: a typed RegpushError with a stable code
// (HelperFailure is an AuthError, E_AUTH, even where nothing wraps it), and its output quoted whole
// in the one error line: every line, bounded, secrets redacted as before.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AuthError, RegpushError } from '../../src/errors.js';
import { HELPER_QUOTE_MAX, HelperFailure, failureText, helperError, spawnHelper } from '../../src/auth/helper.js';
import { runMain } from '../fixtures/run-main.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const tempDir = tempDirs('regpush-helper-errors-');

const SECRET = 's3cr3t-helper-value-0123';

async function helperBin(scripts: Record<string, string>): Promise<{ home: string; env: Record<string, string> }> {
  const home = tempDir();
  const bin = path.join(home, 'bin');
  await fs.mkdir(bin);
  for (const [name, script] of Object.entries(scripts)) await fs.writeFile(path.join(bin, `docker-credential-${name}`), script, { mode: 0o755 });
  return { home, env: { PATH: `${bin}:/usr/bin:/bin` } };
}

describe('a credential helper failure is a RegpushError with a stable code', { skip: process.platform === 'win32' }, () => {
  it('spawnHelper rejects with HelperFailure, an AuthError (E_AUTH, exit 3); the helper\'s own status is helperExitCode', async () => {
    const { env } = await helperBin({ broken: '#!/bin/sh\necho "keychain locked"\nexit 5\n' });
    const exec = spawnHelper(env);
    const failed = await exec('broken', 'get', 'ghcr.io').then(() => undefined, (e: unknown) => e);
    assert.ok(failed instanceof HelperFailure, String(failed));
    assert.ok(failed instanceof RegpushError && failed instanceof AuthError);
    assert.equal(failed.code, 'E_AUTH');
    assert.equal(failed.exitCode, 3, 'the CLI\'s exit code, as for every RegpushError');
    assert.equal(failed.helperExitCode, 5);
    assert.equal(failed.message, 'keychain locked');
    const missing = await exec('no-such-helper', 'get', 'ghcr.io').then(() => undefined, (e: unknown) => e);
    assert.ok(missing instanceof HelperFailure && missing instanceof RegpushError, String(missing));
    assert.equal(missing.code, 'E_AUTH');
    assert.equal(missing.missing, true);
    assert.equal(missing.helperExitCode, null);
  });
});

describe('a helper\'s multi-line output is quoted whole in the error line', () => {
  it('every non-blank line, joined by " | ", secrets redacted by value and as JSON members', () => {
    const output = [`{"ServerURL":"ghcr.io","Username":"me","Secret":"${SECRET}"}`, '', 'error: the keychain is locked', `  run \`pass unlock\` (token ${SECRET})  `].join('\n');
    const err = helperError('pass', 'get', new HelperFailure(failureText(output, 'gpg: decryption failed\nNo secret key\n'), 1), [], 'ghcr.io');
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'E_AUTH');
    assert.equal(
      err.message,
      'credential helper docker-credential-pass get for ghcr.io failed: {"ServerURL":"ghcr.io","Username":"me","Secret":"***"} | error: the keychain is locked | run `pass unlock` (token ***); stderr: gpg: decryption failed | No secret key',
    );
    assert.ok(!err.message.includes('\n'));
  });

  it('bounded: a long output is cut at HELPER_QUOTE_MAX characters, after redaction (no part of a secret left at the cut)', () => {
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i}: ${SECRET}`);
    const err = helperError('pass', 'get', new HelperFailure(lines.join('\n'), 1), [SECRET], 'ghcr.io');
    assert.equal(err.code, 'E_AUTH');
    const quoted = err.message.replace(/^credential helper docker-credential-pass get for ghcr\.io failed: /, '');
    assert.equal(quoted.length, HELPER_QUOTE_MAX);
    assert.ok(quoted.endsWith('…'));
    assert.ok(quoted.startsWith('line 0: *** | line 1: *** | line 2: ***'));
    assert.ok(!err.message.includes(SECRET.slice(0, 4)));
  });

  it('the CLI: one line, exit 3, E_AUTH, every line of the helper\'s message', { skip: process.platform === 'win32' }, async () => {
    const { home, env } = await helperBin({ locked: `#!/bin/sh\ncat >/dev/null\necho "the keychain is locked"\necho "run: security unlock-keychain"\necho "gpg: no secret key" >&2\nexit 1\n` });
    await fs.mkdir(path.join(home, '.docker'));
    await fs.writeFile(path.join(home, '.docker', 'config.json'), JSON.stringify({ credHelpers: { 'ghcr.io': 'locked' } }));
    const r = await runMain(['logout', 'ghcr.io'], { env: { ...env, HOME: home, XDG_RUNTIME_DIR: path.join(home, 'run') }, cwd: home });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(
      r.stderr,
      `regpush: error: credential helper docker-credential-locked erase for ghcr.io failed: the keychain is locked | run: security unlock-keychain; stderr: gpg: no secret key [E_AUTH]\n`,
    );
  });
});
