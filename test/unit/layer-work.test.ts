// onTarBytes: the layer reports the tar it produces (before gzip), so a host can pace its memory
// on local work; the reports add up to the tar's size and leave the bytes unchanged.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { hashLayer } from '../../src/layer/index.js';

const dir = mkdtempSync(join(tmpdir(), 'regpush-layer-work-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('onTarBytes reports every tar byte once, and the layer is the same with or without it', async () => {
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(dir, `d${d}`));
    for (let f = 0; f < 200; f++) writeFileSync(join(dir, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`.repeat(f % 7 + 1));
  }
  const reports: number[] = [];
  const withHook = await hashLayer({ sources: [{ src: dir, dest: '/app' }], onTarBytes: (n) => reports.push(n) });
  const without = await hashLayer({ sources: [{ src: dir, dest: '/app' }] });
  assert.ok(reports.length >= 1);
  assert.ok(reports.every((n) => n > 0));
  assert.equal(reports.reduce((a, b) => a + b, 0), withHook.uncompressedSize);
  assert.deepEqual([withHook.digest, withHook.diffId], [without.digest, without.diffId]);
});
