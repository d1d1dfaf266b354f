// The warm path (src/push/reuse.ts) says why a dependency layer was not reused, which may need a
// walk of that layer's files (layer/churn.ts). Only words: the answer about which layers to reuse,
// which the changed layer's upload waits for, must not wait for that walk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { findReusableLayers, type LayerHistory } from '../../src/push/reuse.js';
import type { ResolvedBase } from '../../src/push/resolve.js';
import type { FetchedManifest, RegistryClient } from '../../src/registry/registry-client.js';
import type { RepoEndpoint } from '../../src/transfer/types.js';
import type { ImageReference } from '../../src/ref/reference.js';

const D = (c: string): string => `sha256:${c.repeat(64)}`;
const LINE = 'regpush: layer /opt/venv';

/** A target whose `latest` holds one image with one layer (diffID D('e')), from LINE, dated 0. */
function target(warnings: string[]): RepoEndpoint {
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D('c'), size: 10 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D('1'), size: 100 }],
  };
  const config = { rootfs: { type: 'layers', diff_ids: [D('e')] }, history: [{ created_by: LINE }] };
  const client = {
    registry: 'registry.example.com',
    logger: { ...silentLogger, warn: (m: string) => void warnings.push(m) },
    async getManifest(_repo: string, ref: string): Promise<FetchedManifest> {
      if (ref !== 'latest') throw new NotFoundError(`manifest ${ref} unknown`);
      return { bytes: Buffer.from(JSON.stringify(manifest)), mediaType: manifest.mediaType, digest: D('m') };
    },
    async getBlobBytes(): Promise<Buffer> {
      return Buffer.from(JSON.stringify(config));
    },
  };
  return { client: client as unknown as RegistryClient, repo: 'app' };
}

test('a dependency layer not reused: which layers to reuse is answered without waiting for the walk that names its churning file; the warning follows once it ends', async () => {
  const warnings: string[] = [];
  let walked!: (f: { name: string; why: string }) => void;
  let walkAsked!: () => void;
  const asked = new Promise<void>((r) => (walkAsked = r));
  const history: LayerHistory = {
    createdBy: [LINE],
    mtime: 0,
    option: 'mtime',
    expected: [true],
    churn: () => {
      walkAsked();
      return new Promise((r) => (walked = r));
    },
  };
  const ref = { tag: 'latest' } as ImageReference;
  const found = findReusableLayers(target(warnings), ref, Promise.resolve({} as ResolvedBase), [async () => ({ diffId: D('f'), uncompressedSize: 1 })], { history });
  // Once the walk has been asked for, nothing else is waited on: the answer comes before any
  // I/O callback could run (setImmediate), or never, where it waits for the walk.
  await asked;
  const first = await Promise.race([found.then(() => 'answered'), new Promise((r) => setImmediate(() => r('waiting for the walk')))]);
  assert.equal(first, 'answered');
  const answer = (await found)!;
  assert.deepEqual(answer.layers, [undefined], 'the changed layer is to be built');
  assert.deepEqual(warnings, [], 'the walk has not ended yet');
  walked({ name: '/opt/venv/x.pyc', why: 'a compiled Python file' });
  await answer.explained;
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /^layer 1 \(\/opt\/venv\): not reused, and sent again whole: .* it holds \/opt\/venv\/x\.pyc, a compiled Python file$/);
});

test('a dependency layer not reused while the push is stopped: the stopped walk found nothing, and no line says what it would have looked for', async () => {
  const warnings: string[] = [];
  const debugs: string[] = [];
  const stop = new AbortController();
  let walkAsked!: () => void;
  const asked = new Promise<void>((r) => (walkAsked = r));
  let walked!: (f: undefined) => void;
  const history: LayerHistory = {
    createdBy: [LINE],
    mtime: 0,
    option: 'mtime',
    expected: [true],
    signal: stop.signal,
    churn: () => {
      walkAsked();
      return new Promise((r) => (walked = r));
    },
  };
  const ep = target(warnings);
  (ep.client as unknown as { logger: { debug: (m: string) => void } }).logger.debug = (m: string) => void debugs.push(m);
  const answer = (await findReusableLayers(ep, { tag: 'latest' } as ImageReference, Promise.resolve({} as ResolvedBase), [async () => ({ diffId: D('f'), uncompressedSize: 1 })], { history }))!;
  await asked;
  // The push fails: its signal fires, and the walk it stops ends having found nothing.
  stop.abort();
  walked(undefined);
  await answer.explained;
  assert.deepEqual(warnings, []);
  assert.deepEqual(debugs.filter((d) => /not reused/.test(d)), [], debugs.join('\n'));
});
