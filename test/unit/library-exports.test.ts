// The library's run-time surface, pinned: what `import … from 'regpush'` offers is a promise to
// deploy scripts, so a name added or dropped by accident (an `export *` that picks up an internal
// helper, a re-export lost in a refactor) fails here, and every name is documented in the README
// or in docs/library.md, the library reference the README's Library section leads to.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import * as lib from '../../src/index.js';

const PUBLIC = [
  // operations
  'push', 'copy', 'sync', 'inspect', 'login', 'logout',
  'listTags', 'listRepositories', 'digestOf', 'tagImage', 'untagImage', 'deleteImage',
  // helpers for what callers build around them
  'parseReference', 'formatReference', 'parseSyncFile', 'parseShard', 'inShard',
  'mirrorsFromRegistriesConf', 'mirrorsFromDaemonJson', 'insecureFromDaemonJson', 'mergeMirrorMaps',
  'defaultCertsDirs', 'DEFAULT_CERTS_DIRS', 'DEFAULT_JOBS', 'DEFAULT_IMAGES', 'SecretSet',
  // the error catalogue
  'EXIT_CODES', 'RegpushError', 'UsageError', 'InvalidReferenceError', 'InputError', 'AuthError',
  'DeniedError', 'NotFoundError', 'NetworkError', 'TlsError', 'RegistryError', 'ProtocolError',
  'UnsupportedError', 'DigestMismatchError', 'TooManyRequestsError', 'ExistsError',
  'PartialFailureError', 'InternalError', 'AbortedError', 'MirrorConfigError',
  // a failure's result, typed as its operation's
  'failureResult',
];

test('the library exports exactly its documented names', () => {
  assert.deepEqual(Object.keys(lib).sort(), [...PUBLIC].sort());
});

test('every exported name is in the README or docs/library.md', () => {
  const read = (file: string) => readFileSync(fileURLToPath(new URL(`../../../${file}`, import.meta.url)), 'utf8');
  const docs = read('README.md') + read('docs/library.md');
  // A function is named as a call (`push(`, `push()`): `push` alone is also the CLI's command.
  const named = (name: string) => (typeof (lib as Record<string, unknown>)[name] === 'function' && /^[a-z]/.test(name) ? docs.includes(`\`${name}(`) : docs.includes(`\`${name}`));
  const missing = PUBLIC.filter((name) => !named(name));
  assert.deepEqual(missing, [], `README.md and docs/library.md name none of: ${missing.join(', ')}`);
});

test('every error class the library exports is a RegpushError with its own code', () => {
  const classes = Object.entries(lib).filter(([name]) => name.endsWith('Error') && name !== 'RegpushError');
  const codes = new Set<string>();
  for (const [name, cls] of classes) {
    assert.ok((cls as { prototype: unknown }).prototype instanceof lib.RegpushError, `${name} is not a RegpushError`);
    if (name === 'MirrorConfigError') continue; // an E_INPUT of its own kind, for callers reading mirror files
    const e = new (cls as new (message: string) => lib.RegpushError)('x');
    assert.ok(!codes.has(e.code), `${name} repeats ${e.code}`);
    codes.add(e.code);
    assert.equal(e.exitCode, lib.EXIT_CODES[e.code]);
  }
});
