// The transfer plan, with fake registry endpoints that record what they are asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { moveBlob, planBlob } from '../../src/transfer/blobs.js';
import type { RepoEndpoint, TransferContext } from '../../src/transfer/types.js';
import { UploadMemory } from '../../src/registry/quirks.js';
import { Transport } from '../../src/http/transport.js';
import { RepoMemory } from '../../src/transfer/repo-memory.js';
import type { RegistryClient } from '../../src/registry/registry-client.js';

function fakeEndpoint(registry: string, repo: string, has: Set<string>, calls: string[]): RepoEndpoint {
  const client = {
    registry,
    headBlob: async (r: string, d: string) => {
      calls.push(`HEAD ${registry}/${r}@${d}`);
      return has.has(d) ? 10 : undefined;
    },
    mountBlob: async (r: string, d: string, from: string) => {
      calls.push(`MOUNT ${registry}/${r}@${d} from ${from}`);
      return { mounted: true as const };
    },
  } as unknown as RegistryClient;
  return { client, repo };
}

const d = (c: string) => 'sha256:' + c.repeat(64);

test('plan: present → skip; same registry → mount; other registry → stream', async () => {
  const calls: string[] = [];
  const src = fakeEndpoint('a.example', 'base', new Set(), calls);
  const sameReg = fakeEndpoint('a.example', 'app', new Set([d('1')]), calls);
  const otherReg = fakeEndpoint('b.example', 'app', new Set(), calls);
  const layer = (digest: string) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: 10 });
  assert.equal(await planBlob(layer(d('1')), src, sameReg), 'skip');
  assert.equal(await planBlob(layer(d('2')), src, sameReg), 'mount');
  assert.equal(await planBlob(layer(d('2')), src, otherReg), 'stream');
});

test('foreign / non-distributable layers are referenced as they are: no HEAD, no transfer', async () => {
  const calls: string[] = [];
  const src = fakeEndpoint('a.example', 'base', new Set(), calls);
  const dst = fakeEndpoint('b.example', 'app', new Set(), calls);
  const foreign = [
    { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: d('3'), size: 10, urls: ['https://go.microsoft.com/fwlink/?linkid=1'] },
    { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: d('4'), size: 10 },
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('5'), size: 10, urls: ['https://cdn.example/layer'] },
  ];
  const transport = new Transport();
  const ctx: TransferContext = { transport, uploads: new UploadMemory(), repos: new RepoMemory() };
  for (const desc of foreign) {
    assert.equal(await planBlob(desc, src, dst), 'foreign', desc.mediaType);
    const report = await moveBlob(desc, 'foreign', src, dst, ctx);
    assert.equal(report.action, 'foreign');
    assert.equal(report.bytes, 0);
  }
  transport.close();
  assert.deepEqual(calls, [], 'no request for a foreign layer');
});

test('a mount that succeeds moves no bytes', async () => {
  const calls: string[] = [];
  const src = fakeEndpoint('a.example', 'base', new Set(), calls);
  const dst = fakeEndpoint('a.example', 'app', new Set(), calls);
  const transport = new Transport();
  const report = await moveBlob({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('6'), size: 99 }, 'mount', src, dst, { transport, uploads: new UploadMemory(), repos: new RepoMemory() });
  transport.close();
  assert.deepEqual([report.action, report.bytes], ['mounted', 0]);
  assert.deepEqual(calls, [`MOUNT a.example/app@${d('6')} from base`]);
});
