// A target's refusal of a manifest, told apart from a registry that takes no pushes, and of a
// repository that is not there (ECR creates none on push), and of deletes by hosts that only
// delete through their own UI or API.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copy, NotFoundError, UnsupportedError, type RegpushError } from '../../src/index.js';
import { rewordMissingRepository } from '../../src/registry/registry-http.js';
import { deletesOff } from '../../src/manage/delete-checks.js';
import { fakeLibraryOptions, startFakeRegistry, type FakeRegistry } from '../fixtures/fake-registry.js';

const opened: FakeRegistry[] = [];
after(async () => {
  for (const r of opened) await r.close();
});
async function pair(): Promise<[FakeRegistry, FakeRegistry]> {
  const src = await startFakeRegistry();
  const dst = await startFakeRegistry();
  opened.push(src, dst);
  return [src, dst];
}
const failed = (p: Promise<unknown>): Promise<RegpushError> => p.then(() => assert.fail('expected a failure'), (e: RegpushError) => e);

// ECR's answer to a manifest it will not take (falcosecurity/falcoctl#302, opcr-io/policy#149).
const ECR_REFUSAL = "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'";

test('a manifest PUT refused with 405 and a reason of its own: the reason, and the other --format; not "read-only"', async () => {
  const [src, dst] = await pair();
  src.seedImage('app', { tags: ['1'] });
  dst.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'status', status: 405, code: 'UNSUPPORTED', message: ECR_REFUSAL });
  const err = await failed(copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) }));
  assert.equal(err.code, 'E_UNSUPPORTED');
  assert.ok(err.message.includes(`answered 405 UNSUPPORTED: ${ECR_REFUSAL}`), err.message);
  assert.match(err.message, /\(the registry may not take OCI manifests: copy\(\) with format: "docker" writes Docker v2 instead\)$/);
  assert.doesNotMatch(err.message, /read-only|pull-through/);
});

test('an artifact manifest refused so: its artifact type and the registry\'s allowlist are named', async () => {
  const [src, dst] = await pair();
  // The artifact copied itself: one copied as a referrer of an image is left behind with a warning
  // instead (test/unit/copy-registry-quirks.test.ts).
  src.seedImage('app', { tags: ['att'], artifactType: 'application/vnd.dev.sigstore.bundle+json;version=0.2' });
  dst.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'status', status: 405, code: 'UNSUPPORTED', message: ECR_REFUSAL });
  const err = await failed(copy({ from: src.ref('app:att'), to: [dst.ref('app:att')], retries: 0, ...fakeLibraryOptions(src, dst) }));
  assert.equal(err.code, 'E_UNSUPPORTED');
  assert.match(err.message, /it is an artifact of type application\/vnd\.dev\.sigstore\.bundle\+json;version=0\.2, which the registry may not allow: Quay takes only the types its operator lists in ALLOWED_OCI_ARTIFACT_TYPES\)$/);
});

test('a manifest PUT answered a bare 400 (a proxy\'s HTML page, no OCI error code): the answer, not advice to use the other --format', async () => {
  // Was: a 400 with no codes passed "every code is MANIFEST_INVALID" and was taken for a refusal
  // of OCI manifests.
  const [src, dst] = await pair();
  src.seedImage('app', { tags: ['1'] });
  dst.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'status', status: 400, html: '<html><body><h1>400 Bad Request</h1>Request Header Or Cookie Too Large</body></html>' });
  const err = await failed(copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) }));
  assert.equal(err.code, 'E_REGISTRY', err.message);
  assert.match(err.message, /answered 400/);
  assert.doesNotMatch(err.message, /may not take|--format|format:/);
  assert.notEqual(err.details.manifestRefused, true);
});

test('a manifest PUT answered 405 with distribution\'s words for a pull-through cache is still a registry that takes no pushes', async () => {
  const [src, dst] = await pair();
  src.seedImage('app', { tags: ['1'] });
  dst.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'status', status: 405, code: 'UNSUPPORTED', message: 'The operation is unsupported.' });
  const err = await failed(copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) }));
  assert.equal(err.code, 'E_UNSUPPORTED');
  assert.match(err.message, /does not accept pushes to app \(the manifest PUT answered 405 UNSUPPORTED, as a pull-through cache or a read-only mirror does\)$/);
});

test('a target repository that is not there (ECR creates none on push): said so, not "check the tag; inspect shows…"', async () => {
  const [src, dst] = await pair();
  src.seedImage('app', { tags: ['1'] });
  // ECR's answers at a repository nobody created (plexsystems/sinker#55, regclient/regclient#869).
  const msg = "The repository with name 'app' does not exist in the registry with id '123456789012'";
  dst.fault({ repo: 'app', kind: ['manifest', 'blob', 'upload'] }, { kind: 'status', status: 404, code: 'NAME_UNKNOWN', message: msg });
  const err = await failed(copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) }));
  assert.equal(err.code, 'E_NOT_FOUND');
  assert.equal(err.exitCode, 4);
  assert.ok(err.message.includes(`answered 404 NAME_UNKNOWN: ${msg} (the repository app does not exist at ${dst.host}; some registries, such as Amazon ECR, do not create one on push: create it first, or check the name)`), err.message);
  assert.doesNotMatch(err.message, /inspect|tag or digest/);
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0, 'nothing written');
  // Marked where it is made, for rewordMissingRepository (a referrer's PUT rewords it).
  assert.equal(err.details.createRepository, true);
});

test('rewordMissingRepository goes by the mark failWrite sets, not by a message that ends like its advice', () => {
  // Was: told by the message's ending, so a registry's own words ending so were reworded too.
  const advice = 'some registries, such as Amazon ECR, do not create one on push: create it first, or check the name';
  const words = `PUT answered 404: (x; ${advice})`;
  assert.equal(rewordMissingRepository(new NotFoundError(words), 'check it is there'), undefined);
  const marked = new NotFoundError(`PUT answered 404 (the repository app does not exist at r.example; ${advice})`, { details: { status: 404, createRepository: true } });
  const reworded = rewordMissingRepository(marked, 'check it is there')!;
  assert.equal(reworded.code, 'E_NOT_FOUND');
  assert.equal(reworded.message, 'PUT answered 404 (the repository app does not exist at r.example; check it is there)');
  assert.deepEqual(reworded.details, { status: 404 });
  assert.equal(rewordMissingRepository(reworded, 'again'), undefined, 'its advice is no longer "create it first"');
});

test('deletes refused by GHCR and Docker Hub (405 UNSUPPORTED through the API): their own UI and API are named, not distribution\'s storage.delete.enabled', () => {
  // containers/skopeo#1880 (GHCR), docker/hub-feedback#2360 (Docker Hub).
  const refusal = new UnsupportedError('x', { details: { status: 405, registryCodes: ['UNSUPPORTED'] } });
  const refused = (host: string, ref: string): string => {
    const err = deletesOff(refusal, host, ref);
    assert.equal(err.code, 'E_UNSUPPORTED', err.message);
    return err.message;
  };
  const ghcr = refused('ghcr.io', 'ghcr.io/acme/app@sha256:' + 'a'.repeat(64));
  assert.match(ghcr, /\(GHCR takes no deletes through the registry API: delete package versions in GitHub's web UI or with the GitHub Packages REST API\)/);
  const hub = refused('docker.io', 'docker.io/acme/app@sha256:' + 'a'.repeat(64));
  assert.match(hub, /\(Docker Hub takes no deletes through the registry API: delete tags in its web UI or with the Docker Hub API\)/);
  for (const m of [ghcr, hub]) assert.doesNotMatch(m, /storage\.delete\.enabled/);
  assert.match(refused('registry.example.com', 'x'), /a pull-through cache or a read-only mirror answers so, and takes no deletes; on a CNCF distribution registry that is neither, an operator enables deletes with storage\.delete\.enabled/);
});
