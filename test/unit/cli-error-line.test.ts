// The one line the CLI prints for a failure: a bug says "internal error" whether it arrived as a raw
// Error or typed (the library wraps a stray error as E_INTERNAL before the CLI sees it), and every
// other failure says "error"; each names its code, and the run's secrets are scrubbed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorLine } from '../../src/cli/main.js';
import { InternalError, NotFoundError, asRegpushError } from '../../src/errors.js';
import { SecretSet } from '../../src/redact.js';
import { runMain } from '../fixtures/run-main.js';

test('a bug is an "internal error" line, raw or wrapped as E_INTERNAL; any other code an "error" line', () => {
  assert.equal(errorLine(new TypeError('x is undefined')), 'regpush: internal error: x is undefined [E_INTERNAL]');
  assert.equal(errorLine(asRegpushError(new TypeError('x is undefined'))), 'regpush: internal error: x is undefined [E_INTERNAL]');
  assert.equal(errorLine(new InternalError('lane closed twice')), 'regpush: internal error: lane closed twice [E_INTERNAL]');
  assert.equal(errorLine(new NotFoundError('no such tag')), 'regpush: error: no such tag [E_NOT_FOUND]');
});

test('the line is scrubbed of the run\'s secrets, typed or not', () => {
  const secrets = new SecretSet();
  secrets.add('hunter2-secret');
  assert.doesNotMatch(errorLine(new Error('token hunter2-secret refused'), secrets), /hunter2/);
  assert.doesNotMatch(errorLine(new InternalError('token hunter2-secret refused'), secrets), /hunter2/);
});

test('through the CLI, a bug (a TypeError thrown inside a command) exits 1 with one "internal error" line naming E_INTERNAL, and nothing on stdout', async () => {
  // An environment that throws when read: the one way in from outside to a fault regpush does not expect.
  const env = new Proxy({} as Record<string, string | undefined>, {
    get(_t, key) {
      if (typeof key === 'string') throw new TypeError(`env.${key} blew up`);
      return undefined;
    },
  });
  const r = await runMain(['inspect', 'localhost:1/app:1'], { env });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^regpush: internal error: env\.\w+ blew up \[E_INTERNAL\]\n$/);
});
