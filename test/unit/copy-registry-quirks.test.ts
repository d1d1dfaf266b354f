// Registry behaviours met by copy (and sync, which copies each image the same way), against fake
// registries (test/fixtures/fake-registry.ts), each with the public issue it comes from
// (docs/registry-quirks.md): a target that redirects a blob HEAD to storage that refuses HEADs; a
// target that refuses a referrer's manifest; a registry that resolves the fallback tag
// `sha256-<hex>` to the manifest `sha256:<hex>` itself; a referrer stored as an OCI 1.1-rc
// artifact manifest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { copy } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const subjectOf = (m: { mediaType: string; digest: string; size: number }) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size });

test('copy to a target that redirects blob HEADs to storage refusing HEADs (distribution `redirect`, S3 URLs signed for GET): the blobs count as there, skipped, storage never asked', async (t) => {
  const storageSaw: string[] = [];
  const storage = http.createServer((req, res) => {
    storageSaw.push(`${req.method}`);
    res.writeHead(req.method === 'HEAD' ? 403 : 200).end();
  });
  await new Promise<void>((ok) => storage.listen(0, '127.0.0.1', ok));
  t.after(() => new Promise<void>((ok) => storage.close(() => ok())));
  const storageHost = `127.0.0.1:${(storage.address() as AddressInfo).port}`;
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  // A re-run: the target holds the blobs, and redirects each blob HEAD to a signed storage URL.
  const blobs = [img.config, ...img.layers];
  for (const b of blobs) dst.putBlob('app', src.blob('app', b.digest)!);
  dst.fault({ kind: 'blob', method: 'HEAD' }, { kind: 'respond', respond: (req, _body, res) => void res.writeHead(307, { location: `http://${storageHost}/blobs/${req.digest}?X-Amz-Signature=x` }).end() });
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) });
  assert.ok(r.targets[0]!.ok);
  assert.deepEqual(r.targets[0]!.blobs.map((b) => b.action), blobs.map(() => 'skipped'));
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
  assert.deepEqual(storageSaw, []);
});
