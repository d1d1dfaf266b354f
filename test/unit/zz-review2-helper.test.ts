// Review R2: a credHelpers helper that timed out once is remembered as failed for the whole
// operation, with no bound in time: a real helper that hangs on its first call only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveCredential } from '../../src/auth/credentials.js';

test('R2-H: a helper that timed out once and then answers is never asked again in the same operation', { timeout: 20_000 }, async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'r2-helper-'));
  const bin = path.join(home, 'bin');
  await fs.mkdir(bin);
  const marker = path.join(home, 'called-once');
  // First call: hangs (a gcloud re-auth, a slow metadata server); later calls answer at once.
  await fs.writeFile(path.join(bin, 'docker-credential-flaky'), `#!/bin/sh\nif [ ! -e ${marker} ]; then touch ${marker}; sleep 5; fi\ncat >/dev/null; echo '{"Username":"u","Secret":"s3cret"}'\n`, { mode: 0o755 });
  await fs.mkdir(path.join(home, '.docker'));
  await fs.writeFile(path.join(home, '.docker', 'config.json'), JSON.stringify({ credHelpers: { 'gcr.io': 'flaky' } }));
  const helperReplies = new Map<string, Promise<string>>();
  const quiet = { debug() {}, info() {}, warn() {} };
  const o = { role: 'from' as const, env: { PATH: `${bin}:/usr/bin:/bin` }, homeDir: home, logger: quiet, helperReplies, helperTimeoutMs: 300, system: { platform: 'linux' as const, uid: 4242, root: home } };
  await assert.rejects(resolveCredential('gcr.io', { ...o, repository: 'p/a' }), /timed out/);
  // The helper now answers (the marker is there); a later repository of the same operation (a later image of the sync, minutes or hours on):
  const later = await resolveCredential('gcr.io', { ...o, repository: 'p/b' }).then((c) => `got ${c?.username}`, (e: Error) => `failed: ${e.message}`);
  console.log('later lookup:', later);
  assert.equal(later, 'got u', 'a helper that has recovered is asked again');
});
