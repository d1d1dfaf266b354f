// ExtraTags (src/push/extra-tags.ts): the push's other tags at a target, each asked about once, for
// the warm path (the manifest of the first that exists) and the commit (each one's digest) alike.
// A client stub counts the requests; the fake registry cannot pass for Docker Hub, where a GET is a pull.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError, RegistryError } from '../../src/errors.js';
import { ExtraTags, tagsHolding } from '../../src/push/extra-tags.js';
import type { FetchedManifest, ManifestHead, RegistryClient } from '../../src/registry/registry-client.js';
import type { RepoEndpoint } from '../../src/transfer/types.js';

const D = (c: string): string => `sha256:${c.repeat(64)}`;

/** A target whose repository holds `tags` (tag → digest); `fail`: tags whose requests fail with a 500. */
function target(tags: Record<string, string>, countsPulls: boolean, fail: string[] = []): { ep: RepoEndpoint; asked: string[] } {
  const asked: string[] = [];
  const client = {
    registry: 'registry.example.com',
    countsPulls: () => countsPulls,
    async headManifest(_repo: string, ref: string): Promise<ManifestHead | undefined> {
      asked.push(`HEAD ${ref}`);
      if (fail.includes(ref)) throw new RegistryError('HEAD manifest: 500');
      return tags[ref] ? { digest: tags[ref] } : undefined;
    },
    async getManifest(_repo: string, ref: string): Promise<FetchedManifest> {
      asked.push(`GET ${ref}`);
      if (fail.includes(ref)) throw new RegistryError('GET manifest: 500');
      if (!tags[ref]) throw new NotFoundError(`manifest ${ref} unknown`);
      return { bytes: Buffer.from('{}'), mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: tags[ref]! };
    },
  };
  return { ep: { client: client as unknown as RegistryClient, repo: 'app' }, asked };
}

test('where a GET counts no pull: each tag is read with one GET at once, which answers both the warm path and the commit', async () => {
  const { ep, asked } = target({ stable: D('a') }, false);
  assert.equal(ExtraTags.askFor(ep), 'get');
  const others = new ExtraTags(ep, ['latest', 'stable'], ExtraTags.askFor(ep));
  assert.deepEqual(asked, ['GET latest', 'GET stable'], 'asked at once, beside the first tag\'s GET');
  assert.equal(await others.manifest('latest'), undefined);
  assert.equal((await others.manifest('stable'))?.digest, D('a'));
  assert.deepEqual([...(await others.digests())], [['latest', undefined], ['stable', D('a')]]);
  assert.deepEqual(asked, ['GET latest', 'GET stable'], 'nothing asked twice');
});

test('where a GET is a pull (Docker Hub): HEADs at once; the warm path GETs only a tag its HEAD did not find absent', async () => {
  const { ep, asked } = target({ stable: D('b') }, true);
  assert.equal(ExtraTags.askFor(ep), 'head');
  const others = new ExtraTags(ep, ['latest', 'stable'], 'head');
  assert.deepEqual(asked, ['HEAD latest', 'HEAD stable']);
  // The first tag is new: the warm path tries latest (absent: its HEAD said so, no GET), then stable.
  assert.equal(await others.manifest('latest'), undefined);
  assert.deepEqual(asked, ['HEAD latest', 'HEAD stable'], 'latest: its HEAD was the answer');
  assert.equal((await others.manifest('stable'))?.digest, D('b'));
  assert.deepEqual(asked, ['HEAD latest', 'HEAD stable', 'GET stable'], 'stable: read, since its bytes are needed');
  assert.deepEqual([...(await others.digests())], [['latest', undefined], ['stable', D('b')]]);
});

test('where a GET is a pull and the first tag exists (a re-run): the HEADs alone, no pull spent on the other tags', async () => {
  const { ep, asked } = target({ latest: D('c') }, true);
  const others = new ExtraTags(ep, ['latest'], ExtraTags.askFor(ep));
  assert.deepEqual([...(await others.digests())], [['latest', D('c')]]);
  assert.deepEqual(asked, ['HEAD latest']);
});

test('a failed request is no answer: the commit treats the tag as not on the digest (it is written), and the warm path sees the error a GET gives', async () => {
  for (const pulls of [false, true]) {
    const { ep, asked } = target({ latest: D('d') }, pulls, ['latest']);
    const others = new ExtraTags(ep, ['latest'], ExtraTags.askFor(ep));
    assert.deepEqual([...(await others.digests())], [['latest', undefined]]);
    await assert.rejects(others.manifest('latest'), { name: 'RegistryError', code: 'E_REGISTRY', message: 'GET manifest: 500' });
    // A failed HEAD is no "absent": the warm path still asks with its GET, as it did before.
    assert.deepEqual(asked, pulls ? ['HEAD latest', 'GET latest'] : ['GET latest']);
  }
});

test('tagsHolding: the tag in --to by the warm path\'s digest, the others by their answers, in the order given', async () => {
  const { ep } = target({ latest: D('e'), stable: D('f') }, false);
  const others = new ExtraTags(ep, ['latest', 'stable'], ExtraTags.askFor(ep));
  assert.deepEqual(await tagsHolding(D('e'), ['1', 'latest', 'stable'], D('e'), others), ['1', 'latest']);
  assert.deepEqual(await tagsHolding(D('f'), ['1', 'latest', 'stable'], undefined, others), ['stable']);
  assert.deepEqual(await tagsHolding(D('e'), ['1'], D('e'), undefined), ['1']);
});
