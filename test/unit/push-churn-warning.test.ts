// push()'s churn warning (a dependency layer sent again because of a file that every install
// rewrites: a timestamped .pyc, node_modules/.cache) is said before push() resolves. The walk
// that finds that file runs beside the layer's upload, and may end last of all: push() waits for
// it, so a caller that reads its logger once push() has resolved has the warning.
//
// The walk alone reads files through fs/promises (layer/churn.ts opens each .pyc for its header;
// the layer build reads with sync calls), so holding that one open holds the walk, nothing else.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { push } from '../../src/index.js';
import { silentLogger } from '../../src/log.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';
import { waitFor } from '../fixtures/wait-for.js';

const fsp = createRequire(import.meta.url)('node:fs/promises') as typeof import('node:fs/promises');
const fake = fakeRegistryPool();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'regpush-churn-warning-'));
  dirs.push(d);
  return d;
};

/** A PEP 552 header with flags 0 (checked against its source's mtime, so renewed by every install) and the source's time `stamp`. */
const timestampedPyc = (stamp: number): Buffer => Buffer.concat([Buffer.from([0xa7, 0x0d, 0x0d, 0x0a]), Buffer.from(new Uint32Array([0, stamp, 6]).buffer), Buffer.from('code')]);

/** Event-loop turns (I/O polled on each): more than the in-process registry's last answer needs to reach a push that waits for nothing more. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

test('the churn warning is said before push() resolves, even when the walk that names the file ends after everything else the push did', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/python', { tags: ['3'] });
  const venv = tempDir();
  mkdirSync(join(venv, 'lib', '__pycache__'), { recursive: true });
  writeFileSync(join(venv, 'lib', 'mod.py'), 'x = 1\n');
  const pycPath = join(venv, 'lib', '__pycache__', 'mod.cpython-311.pyc');
  writeFileSync(pycPath, timestampedPyc(1_700_000_000));
  const app = tempDir();
  writeFileSync(join(app, 'main.py'), 'print("hi")\n');
  const order: string[] = [];
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (m: string) => void (warnings.push(m), order.push('warning')) };
  const opts = { from: src.ref('base/python:3'), to: dst.ref('app:latest'), app: [{ src: app, dest: '/app' }], layers: [{ sources: [{ src: venv, dest: '/opt/venv' }] }], ...fakeLibraryOptions(src, dst), logger };
  const first = await push(opts);
  assert.deepEqual(warnings, []);

  // A fresh install: the same sources, a new stamp in the .pyc. The walk's read of its header is held.
  writeFileSync(pycPath, timestampedPyc(1_700_000_100));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let walkReached!: () => void;
  const reached = new Promise<void>((r) => (walkReached = r));
  const open = fsp.open;
  fsp.open = (async (...args: Parameters<typeof open>) => {
    if (String(args[0]) === pycPath) {
      walkReached();
      await released;
    }
    return open(...args);
  }) as typeof open;
  syncBuiltinESMExports();
  try {
    const pushing = push(opts).then((r) => (order.push('resolved'), r));
    await reached;
    // Everything else is done: the tag points at the new image, and its answer has had turns to come back.
    await waitFor('the new image at the tag', () => dst.manifest('app', 'latest')?.digest !== first.digest);
    await turns(200);
    assert.deepEqual(order, [], 'push() has not resolved while the walk is held, and nothing was said yet');
    release();
    const again = await pushing;
    assert.deepEqual(again.layers?.map((l) => l.action), ['uploaded', 'reused']);
    assert.deepEqual(order, ['warning', 'resolved']);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /^layer 1 \(\/opt\/venv\): not reused, and sent again whole: .* it holds \/opt\/venv\/lib\/__pycache__\/mod\.cpython-311\.pyc, a compiled Python file stamped with its source's modification time/);
  } finally {
    release();
    fsp.open = open;
    syncBuiltinESMExports();
  }
});
