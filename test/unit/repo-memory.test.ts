// RepoMemory (src/transfer/repo-memory.ts): what a run asks once per repository for its referrer
// walks, each fact kept in one place: a tag list, and whether the repository answers the
// referrers API, whichever side (a source's walk, a target's fallback-index check) asked first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RepoMemory } from '../../src/transfer/repo-memory.js';
import type { RegistryClient } from '../../src/registry/registry-client.js';

/** A repository's client that counts its calls; `api` says whether it answers the referrers API. */
function endpoint(api: boolean, repo = 'app') {
  const calls = { tags: 0, referrers: 0 };
  const client = {
    registry: 'reg.example',
    listTags: async () => {
      calls.tags++;
      if (calls.tags === 1) throw new Error('first list fails');
      return ['v1'];
    },
    referrers: async () => {
      calls.referrers++;
      return api ? { manifests: [] } : undefined;
    },
  } as unknown as RegistryClient;
  return { ep: { client, repo }, calls };
}

test('RepoMemory: a tag list is read once for the run, again after a failed read', async () => {
  const repos = new RepoMemory();
  const { ep, calls } = endpoint(true);
  // The client's own error, passed on as it is (name 'Error': not made a RegpushError).
  await assert.rejects(repos.tagList(ep, () => undefined), { name: 'Error', message: 'first list fails' });
  assert.deepEqual(await Promise.all([repos.tagList(ep, () => undefined), repos.tagList(ep, () => undefined)]), [['v1'], ['v1']]);
  assert.equal(calls.tags, 2);
});

test('RepoMemory: a repository that said it has no referrers API is not asked again, as a source or as a target', async () => {
  const repos = new RepoMemory();
  const { ep, calls } = endpoint(false);
  assert.equal(await repos.referrers(ep, 'sha256:a'), undefined);
  assert.equal(await repos.referrers(ep, 'sha256:b'), undefined);
  assert.equal(await repos.hasReferrersApi(ep, 'sha256:c'), false);
  assert.equal(calls.referrers, 1, 'the first answer holds for the repository');
});

test('RepoMemory: a target asked once (concurrent asks share it); a repository with the API is asked per subject as a source', async () => {
  const repos = new RepoMemory();
  const { ep, calls } = endpoint(true);
  assert.deepEqual(await Promise.all([repos.hasReferrersApi(ep, 'sha256:a'), repos.hasReferrersApi(ep, 'sha256:b')]), [true, true]);
  assert.equal(calls.referrers, 1);
  assert.deepEqual(await repos.referrers(ep, 'sha256:a'), { manifests: [] });
  assert.deepEqual(await repos.referrers(ep, 'sha256:b'), { manifests: [] });
  assert.equal(calls.referrers, 3);
  const other = endpoint(false, 'other');
  assert.equal(await repos.hasReferrersApi(other.ep, 'sha256:a'), false);
  assert.equal(await repos.referrers(other.ep, 'sha256:a'), undefined);
  assert.equal(other.calls.referrers, 1, 'a target that said "no API" is not asked again as a source');
});
