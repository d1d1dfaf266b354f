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
import { copy, failureResult, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';
import { NotFoundError } from '../../src/errors.js';
import { isContentRefusal } from '../../src/transfer/referrers.js';

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

/** A logger that keeps the warnings. */
function keepWarnings(): { warnings: string[]; logger: { debug(): void; info(): void; warn(m: string): void } } {
  const warnings: string[] = [];
  return { warnings, logger: { debug() {}, info() {}, warn: (m: string) => void warnings.push(m) } };
}

test('copy --referrers to a target without the referrers API that resolves the fallback tag `sha256-<hex>` to the manifest itself (GitLab): the index\'s own platform manifests are not taken for its referrers; nothing is written under that tag, one warning says so', async () => {
  const [src, dst] = [await fake(), await fake({ referrers: false })];
  const a = src.seedImage('app', { platform: { os: 'linux', architecture: 'amd64' } });
  const b = src.seedImage('app', { platform: { os: 'linux', architecture: 'arm64' } });
  const idx = src.seedIndex('app', [a, b], { tags: ['1'] });
  const sig = src.seedImage('app', { artifactType: 'application/vnd.example.sig', subject: subjectOf(idx) });
  const att = src.seedImage('app', { artifactType: 'application/vnd.in-toto+json', subject: subjectOf(a) });
  // GitLab: the reference `sha256-<hex>` answers as the manifest `sha256:<hex>` (oras-project/oras-go#1396).
  dst.fault({ kind: 'manifest', method: ['GET', 'HEAD'], when: (q) => q.tag !== undefined && /^sha256-[0-9a-f]{64}$/.test(q.tag) }, {
    kind: 'respond',
    respond: (req, _body, res) => {
      const m = dst.manifest('app', req.tag!.replace('-', ':'));
      if (!m) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': m.mediaType, 'docker-content-digest': m.digest }).end(req.method === 'HEAD' ? undefined : m.bytes);
    },
  });
  const { warnings, logger } = keepWarnings();
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, retries: 0, logger, ...fakeLibraryOptions(src, dst) });
  assert.ok(r.targets[0]!.ok);
  assert.equal(r.targets[0]!.referrers, 2, 'the signature and the attestation, copied by digest');
  assert.ok(dst.manifest('app', sig.digest) && dst.manifest('app', att.digest));
  assert.equal(dst.requests({ kind: 'manifest', method: 'PUT', when: (q) => q.tag !== undefined && q.tag.startsWith('sha256-') }).length, 0, 'no fallback index written over what the registry reads as a digest');
  const said = warnings.filter((w) => w.includes('answers the fallback tag'));
  assert.equal(said.length, 1, warnings.join(' | '));
  assert.match(said[0]!, /with the manifest sha256:[0-9a-f]{64} itself \(it reads the tag as a digest\), so no OCI fallback index can list referrers there/);
});

test('copy --referrers from a source without the referrers API whose fallback tag answers with the subject itself: the subject is not copied again as its own referrer, under that tag', async () => {
  const [src, dst] = [await fake({ referrers: false }), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  // The tag list names the fallback tag, and it answers with the image itself.
  src.putManifest('app', src.manifest('app', img.digest)!.bytes, { mediaType: img.mediaType, tags: [img.digest.replace(':', '-')] });
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, retries: 0, ...fakeLibraryOptions(src, dst) });
  assert.ok(r.targets[0]!.ok);
  assert.equal(r.targets[0]!.referrers, 0);
  assert.equal(dst.manifest('app', img.digest.replace(':', '-')), undefined);
});

test('copy --referrers to targets one of which refuses a referrer\'s manifest (ECR and a sigstore bundle\'s `;version=0.2`): the image and the other referrers are copied there, that referrer and what refers to it are left behind with one warning naming it, its type and the registry\'s answer; the other target gets it all', async () => {
  const [src, ecr, other] = [await fake(), await fake({ referrers: false }), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const bundleType = 'application/vnd.dev.sigstore.bundle+json;version=0.2';
  const bundle = src.seedImage('app', { artifactType: bundleType, subject: subjectOf(img) });
  const sbom = src.seedImage('app', { artifactType: 'application/spdx+json', subject: subjectOf(img) });
  const bundleSig = src.seedImage('app', { artifactType: 'application/vnd.example.sig', subject: subjectOf(bundle) });
  ecr.fault({ kind: 'manifest', method: 'PUT', digest: bundle.digest }, { kind: 'status', status: 405, code: 'UNSUPPORTED', message: "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'" });
  const { warnings, logger } = keepWarnings();
  const r = await copy({ from: src.ref('app:1'), to: [ecr.ref('app:1'), other.ref('app:1')], referrers: true, retries: 0, logger, ...fakeLibraryOptions(src, ecr, other) });
  const [atEcr, atOther] = r.targets;
  assert.ok(atEcr!.ok && atOther!.ok, JSON.stringify(r.targets.map((t) => t.error)));
  assert.equal(ecr.manifest('app', '1')?.digest, img.digest);
  assert.ok(ecr.manifest('app', sbom.digest), 'the other referrer is copied');
  assert.equal(ecr.manifest('app', bundle.digest), undefined);
  assert.equal(ecr.requests({ kind: 'manifest', method: 'PUT', digest: bundleSig.digest }).length, 0, 'what refers to the refused one is not written where its subject is not');
  assert.deepEqual([atEcr!.referrers, atEcr!.referrersSkipped], [1, 2]);
  assert.deepEqual([atOther!.referrers, atOther!.referrersSkipped], [3, 0]);
  const listed = (JSON.parse(ecr.manifest('app', img.digest.replace(':', '-'))!.bytes.toString('utf8')) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest);
  assert.deepEqual(listed, [sbom.digest], 'the fallback index lists what the target holds');
  const said = warnings.filter((w) => w.startsWith(`referrer ${bundle.digest}`));
  assert.equal(said.length, 1, warnings.join(' | '));
  assert.equal(
    said[0],
    `referrer ${bundle.digest} (${bundleType}) of ${src.host}/app@${img.digest} not copied to ${ecr.host}/app: the registry refused its manifest (PUT manifest ${ecr.host}/app@${bundle.digest}: ${ecr.host} answered 405 UNSUPPORTED: Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'); the image and its other referrers are copied`,
  );
  assert.ok(!warnings.some((w) => w.includes('does not accept pushes')), warnings.join(' | '));
});

test('copy --referrers to one target that refuses a referrer (Docker Hub\'s 404 for a manifest with a subject): the copy succeeds, the referrer left behind with a warning; a failure of the connection or the registry itself still fails it', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const sig = src.seedImage('app', { artifactType: 'application/vnd.example.sig', subject: subjectOf(img) });
  dst.fault({ kind: 'manifest', method: 'PUT', digest: sig.digest }, { kind: 'status', status: 404, code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' });
  const { warnings, logger } = keepWarnings();
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, retries: 0, logger, ...fakeLibraryOptions(src, dst) });
  assert.ok(r.targets[0]!.ok);
  assert.deepEqual([r.targets[0]!.referrers, r.targets[0]!.referrersSkipped], [0, 1]);
  assert.equal(warnings.filter((w) => w.startsWith(`referrer ${sig.digest} (application/vnd.example.sig) of `)).length, 1, warnings.join(' | '));

  dst.clearFaults();
  dst.fault({ kind: 'manifest', method: 'PUT', digest: sig.digest }, { kind: 'status', status: 500, message: 'storage down' });
  await assert.rejects(copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, retries: 0, logger, ...fakeLibraryOptions(src, dst) }), (e: unknown) => (e as { code?: string }).code === 'E_REGISTRY');
});

test('copy --referrers where a referrer\'s manifest PUT says the target lacks or got wrong bytes (400 MANIFEST_BLOB_UNKNOWN, DIGEST_INVALID, SIZE_INVALID) or answers a bare 400: the copy fails, not a referrer skipped as refused', async () => {
  // Was: any 400 was taken for a refusal of the manifest: the copy succeeded with the referrer
  // left behind and advice about what the registry allows.
  const codes: string[] = [];
  for (const code of ['MANIFEST_BLOB_UNKNOWN', 'DIGEST_INVALID', 'SIZE_INVALID', undefined]) {
    const [src, dst] = [await fake(), await fake()];
    const img = src.seedImage('app', { tags: ['1'] });
    const sig = src.seedImage('app', { artifactType: 'application/vnd.example.sig', subject: subjectOf(img) });
    dst.fault({ kind: 'manifest', method: 'PUT', digest: sig.digest }, { kind: 'status', status: 400, ...(code ? { code, message: 'blob unknown to registry' } : {}) });
    const { warnings, logger } = keepWarnings();
    await assert.rejects(copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, retries: 0, logger, ...fakeLibraryOptions(src, dst) }), (e: unknown) => {
      codes.push((e as RegpushError).code);
      assert.match((e as Error).message, /answered 400/, String(code));
      return true;
    });
    assert.ok(!warnings.some((w) => w.startsWith(`referrer ${sig.digest}`) && w.includes('refused')), `${code}: ${warnings.join(' | ')}`);
  }
  assert.deepEqual(codes, ['E_NOT_FOUND', 'E_DIGEST_MISMATCH', 'E_DIGEST_MISMATCH', 'E_REGISTRY']);
});

test('copy --referrers where a referrer\'s manifest PUT is answered 404 NAME_UNKNOWN (no such repository, at the one the image was just written to): that target fails (E_NOT_FOUND), the other gets it all; no referrer skipped as refused', async () => {
  // Was: counted as a refusal of that kind of artifact, with a warning and exit 0, though the
  // registry's answer says nothing of the artifact (the repository gone meanwhile, or access worded so).
  const [src, dst, other] = [await fake(), await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const sig = src.seedImage('app', { artifactType: 'application/vnd.example.sig', subject: subjectOf(img) });
  dst.fault({ kind: 'manifest', method: 'PUT', digest: sig.digest }, { kind: 'status', status: 404, code: 'NAME_UNKNOWN', message: 'repository name not known to registry' });
  const { warnings, logger } = keepWarnings();
  const alone = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, retries: 0, logger, ...fakeLibraryOptions(src, dst) }).then(
    () => assert.fail('it succeeded'),
    (e: unknown) => e as RegpushError,
  );
  assert.equal(alone.code, 'E_NOT_FOUND', alone.message);
  assert.match(alone.message, /answered 404 NAME_UNKNOWN/);
  // Not "create it first": the image was just written to that repository.
  assert.ok(alone.message.endsWith(`(the repository app does not exist at ${dst.host}; said of this referrer's manifest right after the image it refers to was written there: the repository may have been deleted meanwhile, or the registry words a refusal of this write so; check that it is there and that these credentials may push to it)`), alone.message);
  assert.doesNotMatch(alone.message, /create it first/);
  const both = await copy({ from: src.ref('app:1'), to: [dst.ref('app:2'), other.ref('app:1')], referrers: true, retries: 0, logger, ...fakeLibraryOptions(src, dst, other) }).then(
    () => assert.fail('it succeeded'),
    (e: unknown) => e as RegpushError,
  );
  assert.equal(both.code, 'E_PARTIAL', both.message);
  const result = failureResult(both, 'copy')!;
  assert.deepEqual(result.targets.map((t) => [t.ok, t.error?.code]), [[false, 'E_NOT_FOUND'], [true, undefined]]);
  assert.deepEqual([result.targets[1]!.referrers, result.targets[1]!.referrersSkipped], [1, 0]);
  assert.ok(other.manifest('app', sig.digest));
  assert.ok(!warnings.some((w) => w.includes('refused')), warnings.join(' | '));
});

test('a referrer PUT answered 404 NAME_UNKNOWN fails the target, but at Docker Hub (which makes repositories on push; its 404 to a `subject` is the refusal of hub-feedback#2307) it is a refusal', () => {
  const answer = (codes: string[]) => new NotFoundError('PUT manifest answered 404', { details: { status: 404, registryCodes: codes } });
  assert.equal(isContentRefusal(answer(['NAME_UNKNOWN']), 'registry.example.com'), false);
  assert.equal(isContentRefusal(answer(['NAME_UNKNOWN']), 'docker.io'), true);
  assert.equal(isContentRefusal(answer(['NAME_UNKNOWN']), 'registry-1.docker.io'), true);
  assert.equal(isContentRefusal(answer(['MANIFEST_UNKNOWN']), 'docker.io'), true);
  assert.equal(isContentRefusal(answer(['MANIFEST_BLOB_UNKNOWN']), 'docker.io'), false);
});

test('copy --referrers of an image with a referrer stored as an OCI 1.1-rc artifact manifest (Notation\'s 2023 signatures): the image and its other referrers are copied, that one left behind with one warning naming it', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const sbom = src.seedImage('app', { artifactType: 'application/spdx+json', subject: subjectOf(img) });
  const blob = src.putBlob('app', 'sig-bytes', 'application/vnd.cncf.notary.signature');
  const type = 'application/vnd.oci.artifact.manifest.v1+json';
  const art = src.putManifest('app', { mediaType: type, artifactType: 'application/vnd.cncf.notary.signature', blobs: [blob], subject: subjectOf(img) }, { mediaType: type });
  const { warnings, logger } = keepWarnings();
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, retries: 0, logger, ...fakeLibraryOptions(src, dst) });
  assert.ok(r.targets[0]!.ok);
  assert.deepEqual([r.targets[0]!.referrers, r.targets[0]!.referrersSkipped], [1, 1]);
  assert.ok(dst.manifest('app', sbom.digest));
  assert.deepEqual(
    warnings.filter((w) => w.includes(art.digest)),
    [`referrer ${art.digest} of ${src.host}/app@${img.digest} is an OCI artifact manifest (${type}, of the OCI 1.1 release candidates, dropped from OCI 1.1): not copied`],
  );
  // The referrers API's listing names its media type: left behind from the listing, not read (a GET, a pull where pulls count).
  assert.equal(src.count({ kind: 'manifest', digest: art.digest }), 0, 'no request for the artifact manifest');
});

test('copy --referrers from a source without the referrers API whose fallback index lists an OCI 1.1-rc artifact manifest: left behind from the index\'s entry, the manifest not read; the other referrer copied', async () => {
  const [src, dst] = [await fake({ referrers: false }), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const sbom = src.seedImage('app', { artifactType: 'application/spdx+json', subject: subjectOf(img) });
  const blob = src.putBlob('app', 'sig-bytes', 'application/vnd.cncf.notary.signature');
  const type = 'application/vnd.oci.artifact.manifest.v1+json';
  const art = src.putManifest('app', { mediaType: type, artifactType: 'application/vnd.cncf.notary.signature', blobs: [blob], subject: subjectOf(img) }, { mediaType: type });
  const entry = (m: { mediaType: string; digest: string; size: number }, artifactType: string) => ({ ...subjectOf(m), artifactType });
  src.putManifest('app', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [entry(sbom, 'application/spdx+json'), entry(art, 'application/vnd.cncf.notary.signature')] }, { tags: [img.digest.replace(':', '-')] });
  const { warnings, logger } = keepWarnings();
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, retries: 0, logger, ...fakeLibraryOptions(src, dst) });
  assert.ok(r.targets[0]!.ok);
  assert.deepEqual([r.targets[0]!.referrers, r.targets[0]!.referrersSkipped], [1, 1]);
  assert.ok(dst.manifest('app', sbom.digest));
  assert.equal(warnings.filter((w) => w.includes(`referrer ${art.digest} `) && w.includes('is an OCI artifact manifest')).length, 1, warnings.join(' | '));
  assert.deepEqual(r.targets[0]!.skippedReferrers, [{ digest: art.digest, subject: img.digest, mediaType: type, artifactType: 'application/vnd.cncf.notary.signature', reason: 'artifact-manifest' }]);
  assert.equal(src.count({ kind: 'manifest', digest: art.digest }), 0, 'no request for the artifact manifest');
});
