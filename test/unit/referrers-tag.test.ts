// The OCI fallback index's tag (the distribution spec's referrers tag schema: the algorithm cut
// to 32 characters, `-`, the encoded part cut to 64, what a tag may not hold replaced with `-`):
// referrersTag() on the spec's own examples, isReferrerTag() on the tags it makes, and the tag
// findReferrers() reads and listInFallbackIndex() writes for a sha512 subject, whose whole
// `sha512-<128 hex>` would be 135 characters, over the 128 a tag may have.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { findReferrers, isReferrerTag, listInFallbackIndex, referrersTag } from '../../src/transfer/referrers.js';
import { RepoMemory } from '../../src/transfer/repo-memory.js';
import type { RegistryClient } from '../../src/registry/registry-client.js';
import { MediaType } from '../../src/image/mediatypes.js';
import { NotFoundError } from '../../src/errors.js';

const sha256 = `sha256:${createHash('sha256').update('subject').digest('hex')}`;
const sha512 = `sha512:${createHash('sha512').update('subject').digest('hex')}`;
/** A tag as the distribution spec allows it. */
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

test('referrersTag: the spec\'s examples; sha512 keeps the first 64 characters of its encoded part', () => {
  assert.equal(referrersTag(`sha256:${'a'.repeat(64)}`), `sha256-${'a'.repeat(64)}`);
  assert.equal(referrersTag(`sha512:${'a'.repeat(128)}`), `sha512-${'a'.repeat(64)}`);
  assert.equal(
    referrersTag('test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise+overall+truncation:alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLotsOfCharactersToExcerciseEncodedTruncation'),
    'test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot',
  );
  assert.equal(referrersTag(sha256), sha256.replace(':', '-'));
  const tag512 = referrersTag(sha512);
  assert.equal(tag512, `sha512-${sha512.slice(7, 7 + 64)}`);
  assert.match(tag512, TAG);
  assert.ok(!TAG.test(sha512.replace(':', '-')), 'the untruncated form is no tag (135 characters)');
});

test('isReferrerTag: the fallback tags of both digests and cosign\'s sha256 tags; not other tags', () => {
  for (const t of [referrersTag(sha256), referrersTag(sha512), `${referrersTag(sha256)}.sig`, `${referrersTag(sha256)}.att`, `${referrersTag(sha256)}.sbom`]) assert.ok(isReferrerTag(t), t);
  for (const t of ['latest', `sha512-${'a'.repeat(63)}`, `sha512-${'a'.repeat(64)}.sig`, `sha256-${'a'.repeat(63)}`, `sha384-${'a'.repeat(64)}`]) assert.ok(!isReferrerTag(t), t);
});

/** A registry client without the referrers API holding `tags`, whose manifests are `manifests`; writes are recorded. */
function noApiClient(tags: string[], manifests: Record<string, unknown>) {
  const puts: { ref: string; body: { manifests: { digest: string }[] } }[] = [];
  const gets: string[] = [];
  const client = {
    registry: 'reg.example',
    listTags: async () => tags,
    referrers: async () => undefined,
    getManifest: async (_repo: string, ref: string) => {
      gets.push(ref);
      const m = manifests[ref];
      if (!m) throw new NotFoundError(`${ref} not found`);
      const bytes = Buffer.from(JSON.stringify(m));
      return { bytes, mediaType: (m as { mediaType: string }).mediaType, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
    },
    putManifest: async (_repo: string, ref: string, bytes: Buffer) => {
      puts.push({ ref, body: JSON.parse(bytes.toString('utf8')) });
      return 'sha256:x';
    },
  };
  return { client: client as unknown as RegistryClient, puts, gets };
}

test('a sha512 subject without the referrers API: its fallback index is read from, and written to, the truncated tag', async () => {
  const sig = `sha256:${'5'.repeat(64)}`;
  const index = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [{ mediaType: MediaType.OCI_MANIFEST, digest: sig, size: 10 }] };
  const src = noApiClient(['1', referrersTag(sha512)], { [referrersTag(sha512)]: index });
  const found = await findReferrers({ client: src.client, repo: 'app' }, [sha512], new RepoMemory(), () => undefined);
  assert.deepEqual(found, [{ subject: sha512, referrer: { kind: 'digest', digest: sig, mediaType: MediaType.OCI_MANIFEST } }]);
  assert.deepEqual(src.gets, [referrersTag(sha512)]);

  // At a target without the API: the index is written under the same tag (a new one: nothing there yet).
  const node = { digest: sig, mediaType: MediaType.OCI_MANIFEST, bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config: { mediaType: 'application/vnd.example+json', digest: sig, size: 2 }, layers: [] })) };
  const dst = noApiClient([], {});
  await listInFallbackIndex({ client: dst.client, repo: 'app' }, sha512, [{ digest: sig, node: node as never }], { repos: new RepoMemory() });
  assert.deepEqual(dst.puts.map((p) => [p.ref, p.body.manifests.map((m) => m.digest)]), [[referrersTag(sha512), [sig]]]);
  assert.match(dst.puts[0]!.ref, TAG);
});
