// Credential helpers run in process groups of their own (credentialHelperProcessGroup) are killed
// with their groups if the process exits while they run. One `exit` listener serves all of them:
// with one per helper, a library process running more than ten at once printed
// MaxListenersExceededWarning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnHelper } from '../../src/auth/helper.js';

const HELPERS = 12;

test('twelve helpers running at once in groups of their own: one exit listener on the process while they run, none after, no warning', { skip: process.platform !== 'linux', timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regpush-helper-exit-'));
  try {
    const started = join(dir, 'started');
    const release = join(dir, 'release');
    writeFileSync(started, '');
    assert.equal(spawnSync('mkfifo', [release]).status, 0, 'mkfifo');
    // Each helper says it runs, then waits on the FIFO until the test opens and closes it.
    writeFileSync(join(dir, 'docker-credential-waiter'), `#!/bin/sh\nread url\necho $$ >> "${started}"\nread go < "${release}"\nprintf '{"Username":"u","Secret":"s"}'\n`, { mode: 0o755 });
    const exec = spawnHelper({ PATH: `${dir}:/usr/bin:/bin` }, { processGroup: true });

    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    const before = process.listenerCount('exit');
    const allStarted = new Promise<void>((resolve) => {
      const check = (): void => {
        if (readFileSync(started, 'utf8').split('\n').filter(Boolean).length < HELPERS) return;
        watcher.close();
        resolve();
      };
      const watcher = watch(started, check);
      check();
    });
    const replies = Array.from({ length: HELPERS }, () => exec('waiter', 'get', 'ghcr.io'));
    await allStarted;
    const whileRunning = process.listenerCount('exit');
    // Opening the FIFO for writing and closing it ends every helper's wait at once.
    closeSync(openSync(release, 'w'));
    for (const reply of await Promise.all(replies)) assert.equal(JSON.parse(reply).Secret, 's');
    // A warning is emitted on the next tick of the listener that exceeded the bound.
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    assert.equal(whileRunning, before + 1, 'one exit listener for every running helper');
    assert.equal(process.listenerCount('exit'), before, 'no exit listener left once they ended');
    assert.deepEqual(warnings.filter((w) => w === 'MaxListenersExceededWarning'), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
