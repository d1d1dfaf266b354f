// regpush copy against real registries: exact digests, multi-arch, two targets from one read,
// referrers by tag scheme, same-registry mounts, and the refusals.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { credsOf, exec, imageRef, loadState, logMark, pushCosignSignature, pushRawBlob, registryLogSince, runCli, settledLogMark, skopeoInspect, tempDir, type SeedImage } from './harness.js';
import { assertValidReport } from './report-schema.js';

const state = loadState();
const R = state.registries;
const fromToken = ['--from-user', R.token.user!, '--from-password', R.token.password!];
const toBasic = ['--to-user', R.basic.user!, '--to-password', R.basic.password!];
const run = `c${Date.now().toString(36)}`;
const sha = (b: string | Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

for (const image of ['base/busybox:v2s2', 'base/busybox:oci', 'base/multi:v2s2', 'base/multi:oci'] as SeedImage[]) {
  test(`copy ${image} token → basic keeps the digest, and skopeo copy --all of the target works`, async () => {
    const src = imageRef(R.token, image);
    const dst = imageRef(R.basic, `${run}/${image.replace(/[/:]/g, '-')}:promoted`);
    const r = await runCli(['copy', '--json', src, dst, ...fromToken, ...toBasic]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    const want = state.images.token[image].digest;
    assert.equal(report.digest, want);
    assert.equal(report.targets[0].reference, `${dst.replace(/:promoted$/, '')}@${want}`);
    const raw = await skopeoInspect(dst, { raw: true, creds: credsOf(R.basic) });
    assert.equal(raw.digest, want, 'skopeo inspect --raw | sha256sum equals the source digest');
    const layout = tempDir();
    const cp = await exec('skopeo', ['copy', '--all', '--src-tls-verify=false', '--src-creds', `${R.basic.user}:${R.basic.password}`, `docker://${dst}`, `oci:${layout}/l:img`]);
    assert.equal(cp.code, 0, cp.stderr);
    // Text mode prints exactly one line: the target with its digest.
    const again = await runCli(['copy', src, dst, ...fromToken, ...toBasic]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `${dst.replace(/:promoted$/, '')}@${want}\n`);
  });
}

test('copy to two targets reads each source blob once and completes both', async () => {
  const src = imageRef(R.anon, 'base/busybox:v2s2');
  const t1 = imageRef(R.anon2, `${run}/two-a:1`);
  const t2 = imageRef(R.basic, `${run}/two-b:1`);
  const mark = logMark('anon');
  const r = await runCli(['copy', '--json', src, t1, t2, ...toBasic]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.targets.length, 2);
  assert.notEqual(report.targets.length, 0, 'an empty list would pass the check below vacuously');
  for (const t of report.targets) assert.ok(t.ok, JSON.stringify(t));
  const seeded = state.images.anon['base/busybox:v2s2'];
  const blobGets = (await registryLogSince('anon', mark)).filter((q) => q.method === 'GET' && q.uri.includes('/blobs/sha256:'));
  const perBlob = new Map<string, number>();
  for (const q of blobGets) perBlob.set(q.uri, (perBlob.get(q.uri) ?? 0) + 1);
  for (const d of [seeded.config!, ...seeded.layers!]) {
    const hits = [...perBlob.entries()].filter(([u]) => u.endsWith(d)).reduce((a, [, n]) => a + n, 0);
    assert.equal(hits, 1, `source blob ${d} read ${hits} times`);
  }
  assert.equal((await skopeoInspect(t1, { raw: true })).digest, seeded.digest);
  assert.equal((await skopeoInspect(t2, { raw: true, creds: credsOf(R.basic) })).digest, seeded.digest);
});

test('same-registry copy mounts every blob and streams no bytes', async () => {
  const src = imageRef(R.anon, 'base/busybox:oci');
  const dst = imageRef(R.anon, `${run}/mounted:1`);
  const mark = logMark('anon');
  const r = await runCli(['copy', '--json', src, dst]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const blobs = report.targets[0].blobs as { action: string; bytes: number }[];
  assert.ok(blobs.length >= 4);
  for (const b of blobs) assert.deepEqual([b.action, b.bytes], ['mounted', 0]);
  const reqs = await registryLogSince('anon', mark);
  const mounts = reqs.filter((q) => q.method === 'POST' && q.uri.includes('mount=') && q.status === 201);
  assert.equal(mounts.length, blobs.length);
  assert.equal(reqs.filter((q) => q.method === 'GET' && q.uri.includes('/blobs/')).length, 0, 'no blob read');
});

test('a second copy, to another tag of the repository, skips every blob: no blob byte uploaded, only the manifests written', async () => {
  const src = imageRef(R.anon, 'base/multi:oci');
  assert.equal((await runCli(['copy', src, imageRef(R.anon2, `${run}/skip:1`)])).code, 0);
  // Another tag: the tag is new, so the blobs are planned (an unchanged tag is left alone before any plan).
  const mark = logMark('anon2');
  const r = await runCli(['copy', '--json', src, imageRef(R.anon2, `${run}/skip:2`)]);
  assert.equal(r.code, 0, r.stderr);
  const blobs = JSON.parse(r.stdout).targets[0].blobs as { action: string; bytes: number }[];
  assert.notEqual(blobs.length, 0, 'an empty list would pass the check below vacuously');
  for (const b of blobs) assert.deepEqual([b.action, b.bytes], ['skipped', 0]);
  const writes = (await registryLogSince('anon2', mark)).filter((q) => q.method !== 'GET' && q.method !== 'HEAD');
  assert.ok(writes.some((q) => q.method === 'PUT' && q.uri.startsWith(`/v2/${run}/skip/manifests/`)), 'the manifests are written');
  assert.deepEqual(writes.filter((q) => q.method === 'PATCH' || (q.method === 'PUT' && q.uri.includes('/blobs/uploads/'))).map((q) => `${q.method} ${q.uri}`), [], 'no blob byte is sent');
  // A new tag may get the speculative start of its largest layer (docs/performance-history.md, "When the engine starts a blob speculatively"): its session is cancelled.
  const posts = writes.filter((q) => q.method === 'POST' && q.uri.includes('/blobs/uploads/')).length;
  assert.equal(writes.filter((q) => q.method === 'DELETE' && q.uri.includes('/blobs/uploads/')).length, posts, 'each session opened ahead is cancelled');
});

/** Pushes a small "signature" manifest under the cosign tag scheme, next to `digest`. */

test('--referrers copies a signature stored under the sha256-<hex>.sig tag', async () => {
  const repo = `${run}/signed`;
  const seedRef = imageRef(R.anon, 'base/busybox:v2s2');
  assert.equal((await runCli(['copy', seedRef, imageRef(R.anon, `${repo}:1`)])).code, 0);
  const digest = state.images.anon['base/busybox:v2s2'].digest;
  const tag = await pushCosignSignature(R.anon.host, repo, digest);
  const dst = imageRef(R.anon2, `${run}/signed-copy:1`);
  const r = await runCli(['copy', '--json', '--referrers', imageRef(R.anon, `${repo}:1`), dst]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).targets[0].referrers, 1);
  const sig = await skopeoInspect(imageRef(R.anon2, `${run}/signed-copy:${tag}`), { raw: true });
  assert.equal(sig.digest, (await skopeoInspect(imageRef(R.anon, `${repo}:${tag}`), { raw: true })).digest);
  // Without --referrers the signature stays behind.
  const plain = imageRef(R.anon2, `${run}/unsigned-copy:1`);
  assert.equal((await runCli(['copy', imageRef(R.anon, `${repo}:1`), plain])).code, 0);
  const missing = await fetch(`http://${R.anon2.host}/v2/${run}/unsigned-copy/manifests/${tag}`, { method: 'HEAD' });
  assert.equal(missing.status, 404);
});

test('--referrers follows referrers of referrers: the SBOM attached to the image (cosign\'s .sbom tag) and the signature of that SBOM (.sig of its digest); the report validates', async () => {
  const repo = `${run}/signed-sbom`;
  assert.equal((await runCli(['copy', imageRef(R.anon, 'base/busybox:oci'), imageRef(R.anon, `${repo}:1`)])).code, 0);
  const digest = state.images.anon['base/busybox:oci'].digest;
  // An SBOM as `cosign attach sbom` stores it: a manifest under sha256-<image hex>.sbom.
  const empty = await pushRawBlob(R.anon.host, repo, Buffer.from('{}'));
  const spdx = await pushRawBlob(R.anon.host, repo, Buffer.from('{"spdxVersion":"SPDX-2.3"}'));
  const sbom = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...empty },
    layers: [{ mediaType: 'text/spdx+json', ...spdx }],
  }));
  const sbomTag = `${digest.replace(':', '-')}.sbom`;
  const put = await fetch(`http://${R.anon.host}/v2/${repo}/manifests/${sbomTag}`, { method: 'PUT', body: new Uint8Array(sbom), headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(put.status, 201);
  const sigTag = await pushCosignSignature(R.anon.host, repo, sha(sbom)); // `cosign sign` of the SBOM
  const dst = imageRef(R.anon2, `${run}/signed-sbom-copy:1`);
  const r = await runCli(['copy', '--json', '--referrers', imageRef(R.anon, `${repo}:1`), dst]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assertValidReport(report, 'copy --referrers --json');
  assert.equal(report.targets[0].referrers, 2, 'the SBOM and its signature');
  assert.equal(report.targets[0].referrersSkipped, 0);
  for (const tag of [sbomTag, sigTag]) {
    const want = (await skopeoInspect(imageRef(R.anon, `${repo}:${tag}`), { raw: true })).digest;
    assert.equal((await skopeoInspect(imageRef(R.anon2, `${run}/signed-sbom-copy:${tag}`), { raw: true })).digest, want, tag);
  }
});

test('--referrers of an index signed recursively (cosign sign --recursive): each platform manifest\'s signature too; with --platform, the kept child\'s only (the new index\'s source digest keeps its own)', async () => {
  const repo = `${run}/signed-multi`;
  const seeded = state.images.anon['base/multi:oci'];
  assert.equal((await runCli(['copy', imageRef(R.anon, 'base/multi:oci'), imageRef(R.anon, `${repo}:1`)])).code, 0);
  const children = seeded.manifests!.filter((m) => m.platform && m.platform.os !== 'unknown');
  assert.ok(children.length >= 2, 'a multi-platform seed');
  const tags = [await pushCosignSignature(R.anon.host, repo, seeded.digest)];
  for (const c of children) tags.push(await pushCosignSignature(R.anon.host, repo, c.digest));
  const dst = imageRef(R.anon2, `${run}/signed-multi-copy:1`);
  const r = await runCli(['copy', '--json', '--referrers', imageRef(R.anon, `${repo}:1`), dst]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).targets[0].referrers, tags.length);
  for (const tag of tags) {
    const want = (await skopeoInspect(imageRef(R.anon, `${repo}:${tag}`), { raw: true })).digest;
    assert.equal((await skopeoInspect(imageRef(R.anon2, `${run}/signed-multi-copy:${tag}`), { raw: true })).digest, want, tag);
  }
  // --platform keeps one child: its signature comes along, the other children's stay behind, and
  // so does the source index's (the new index has another digest: it would sign nothing there).
  const kept = children.find((c) => c.platform!.architecture === 'arm64')!;
  const one = imageRef(R.anon2, `${run}/signed-arm:1`);
  const p = await runCli(['copy', '--json', '--referrers', '--platform', 'linux/arm64', imageRef(R.anon, `${repo}:1`), one]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(JSON.parse(p.stdout).targets[0].referrers, 1, 'the arm64 signature only');
  assert.match(p.stderr, /keeping only linux\/arm64 changes the image's digest: its 1 referrer \(signatures, attestations\) refers to the source digest and is not copied/);
  const indexSig = await fetch(`http://${R.anon2.host}/v2/${run}/signed-arm/manifests/${seeded.digest.replace(':', '-')}.sig`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(indexSig.status, 404, 'the source index\'s signature stays behind');
  for (const c of children) {
    // distribution answers 404 for an OCI manifest not named in Accept: ask for it.
    const res = await fetch(`http://${R.anon2.host}/v2/${run}/signed-arm/manifests/${c.digest.replace(':', '-')}.sig`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(res.status, c === kept ? 200 : 404, c.digest);
  }
});

test('--platform makes a new index with the listed children and says the digest changed', async () => {
  const src = imageRef(R.anon, 'base/multi:oci');
  const dst = imageRef(R.anon2, `${run}/arm-only:1`);
  const r = await runCli(['copy', '--json', '--platform', 'linux/arm64', src, dst]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.digestChanged, true);
  assert.notEqual(report.digest, state.images.anon['base/multi:oci'].digest);
  const raw = await skopeoInspect(dst, { raw: true });
  assert.equal(raw.digest, report.digest);
  assert.deepEqual(raw.json.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture), ['arm64']);
  const text = await runCli(['copy', '--platform', 'linux/arm64', src, dst]);
  assert.match(text.stderr, /digest .* differs from the source/);
});

test('--platform LIST records the source index and the list in the new index, which skopeo reads; an unchanged re-run reads the source index once and no child, and writes nothing; a Docker list gets no annotations', async () => {
  const src = imageRef(R.anon, 'base/multi:oci');
  const dst = imageRef(R.anon2, `${run}/subset:1`);
  const args = ['copy', '--json', '--platform', 'linux/amd64,linux/arm64', src, dst];
  const first = await runCli(args);
  assert.equal(first.code, 0, first.stderr);
  const report = JSON.parse(first.stdout);
  const raw = await skopeoInspect(dst, { raw: true });
  assert.equal(raw.digest, report.digest);
  assert.deepEqual(raw.json.annotations, { 'dev.regpush.subset.source': state.images.anon['base/multi:oci'].digest, 'dev.regpush.subset.platforms': 'linux/amd64,linux/arm64' });
  // skopeo resolves the index to a platform image and reads its config.
  const arm = await skopeoInspect(dst, { os: 'linux', arch: 'arm64' });
  assert.equal(arm.json.Architecture, 'arm64');
  const marks = { anon: await settledLogMark('anon'), anon2: await settledLogMark('anon2') };
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  const r2 = JSON.parse(again.stdout);
  assert.equal(r2.digest, report.digest);
  assert.deepEqual(r2.targets[0].tagsUnchanged, ['1']);
  const reads = (await registryLogSince('anon', marks.anon)).filter((q) => /\/(manifests|blobs)\//.test(q.uri));
  assert.deepEqual(reads.map((q) => `${q.method} ${q.uri}`), ['GET /v2/base/multi/manifests/oci'], 'the source index once (it counts no pulls: a GET instead of a HEAD), none of its children');
  assert.deepEqual((await registryLogSince('anon2', marks.anon2)).filter((q) => !['GET', 'HEAD'].includes(q.method)), [], 'nothing written');
  const list = imageRef(R.anon2, `${run}/subset-list:1`);
  assert.equal((await runCli(['copy', '--platform', 'linux/amd64', imageRef(R.anon, 'base/multi:v2s2'), list])).code, 0);
  assert.equal((await skopeoInspect(list, { raw: true })).json.annotations, undefined);
});

test('--all-tags copies every tag of a repository', async () => {
  const srcRepo = `${run}/alltags`;
  for (const t of ['a', 'b']) assert.equal((await runCli(['copy', imageRef(R.anon, 'base/busybox:oci'), imageRef(R.anon, `${srcRepo}:${t}`)])).code, 0);
  const r = await runCli(['copy', '--all-tags', imageRef(R.anon, srcRepo), imageRef(R.anon2, `${run}/alltags-copy`)]);
  assert.equal(r.code, 0, r.stderr);
  const tags = await (await fetch(`http://${R.anon2.host}/v2/${run}/alltags-copy/tags/list`)).json() as { tags: string[] };
  assert.deepEqual(tags.tags.sort(), ['a', 'b']);
});

test('--no-clobber refuses to move a tag that points elsewhere; without it the tag moves', async () => {
  const dst = imageRef(R.anon2, `${run}/clobber:1`);
  assert.equal((await runCli(['copy', imageRef(R.anon, 'base/busybox:v2s2'), dst])).code, 0);
  const r = await runCli(['copy', '--no-clobber', imageRef(R.anon, 'base/busybox:oci'), dst]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr.trim(), /already points at sha256:.*--no-clobber.*\[E_EXISTS\]$/);
  assert.equal((await skopeoInspect(dst, { raw: true })).digest, state.images.anon['base/busybox:v2s2'].digest, 'tag unchanged');
  // Same digest is fine with --no-clobber, and without it tags move.
  assert.equal((await runCli(['copy', '--no-clobber', imageRef(R.anon, 'base/busybox:v2s2'), dst])).code, 0);
  assert.equal((await runCli(['copy', imageRef(R.anon, 'base/busybox:oci'), dst])).code, 0);
  assert.equal((await skopeoInspect(dst, { raw: true })).digest, state.images.anon['base/busybox:oci'].digest);
});

test('unknown source → E_NOT_FOUND; denied target → E_DENIED and no manifest', async () => {
  const nf = await runCli(['copy', imageRef(R.anon, 'base/none:1'), imageRef(R.anon2, `${run}/x:1`)]);
  assert.equal(nf.code, 4);
  assert.match(nf.stderr.trim(), /\[E_NOT_FOUND\]$/);
  const denied = await runCli(['copy', imageRef(R.anon, 'base/busybox:oci'), imageRef(R.token, `readonly/${run}:1`), '--to-user', R.token.user!, '--to-password', R.token.password!]);
  assert.equal(denied.code, 3, denied.stderr);
  // The token service took alice's password and granted no push to readonly/*: a right refused (E_DENIED), not a login to fix (E_AUTH, the same exit code).
  assert.match(denied.stderr.trim(), /\[E_DENIED\]$/);
  assert.ok(!denied.stderr.includes(R.token.password!));
});

test('one good target and one denied target: exit 8, the good one printed and complete', async () => {
  const good = imageRef(R.anon2, `${run}/partial-ok:1`);
  const bad = imageRef(R.token, `readonly/${run}-p:1`);
  const r = await runCli(['copy', imageRef(R.anon, 'base/busybox:oci'), good, bad, '--to-user', R.token.user!, '--to-password', R.token.password!]);
  assert.equal(r.code, 8, r.stderr);
  assert.equal(r.stdout, `${good.replace(/:1$/, '')}@${state.images.anon['base/busybox:oci'].digest}\n`);
  assert.match(r.stderr.trim().split('\n').at(-1)!, /1 of 2 targets failed: .*readonly.*\[E_PARTIAL\]$/);
});

test('--referrers through the OCI referrers API: copied by digest and listed in the fallback tag index at a target without the API', async () => {
  const http = await import('node:http');
  const repo = `${run}/api-signed`;
  assert.equal((await runCli(['copy', imageRef(R.anon, 'base/busybox:oci'), imageRef(R.anon, `${repo}:1`)])).code, 0);
  const subject = state.images.anon['base/busybox:oci'].digest;
  // An SBOM-like artifact manifest with a subject, stored by digest only (no tag).
  const put = async (body: Buffer) => {
    const d = sha(body);
    const s = await fetch(`http://${R.anon.host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    const loc = new URL(s.headers.get('location')!, `http://${R.anon.host}`);
    loc.searchParams.set('digest', d);
    assert.equal((await fetch(loc, { method: 'PUT', body: new Uint8Array(body) })).status, 201);
    return { digest: d, size: body.length };
  };
  const empty = await put(Buffer.from('{}'));
  const sbom = await put(Buffer.from('{"spdxVersion":"SPDX-2.3"}'));
  const artifact = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/spdx+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
    layers: [{ mediaType: 'application/spdx+json', ...sbom }],
    subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: subject, size: 1 },
  }));
  const artifactDigest = sha(artifact);
  const stored = await fetch(`http://${R.anon.host}/v2/${repo}/manifests/${artifactDigest}`, { method: 'PUT', body: new Uint8Array(artifact), headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(stored.status, 201);
  // The source answers the referrers API (distribution 2.8 does not, so a front adds it).
  const front = http.createServer((req, res) => {
    if (req.url === `/v2/${repo}/referrers/${subject}`) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
      return res.end(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: artifactDigest, size: artifact.length, artifactType: 'application/spdx+json' }] }));
    }
    const up = http.request({ host: '127.0.0.1', port: R.anon.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  try {
    const port = (front.address() as { port: number }).port;
    const dst = imageRef(R.anon2, `${run}/api-signed-copy:1`);
    const r = await runCli(['copy', '--json', '--referrers', `127.0.0.1:${port}/${repo}:1`, dst]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).targets[0].referrers, 1);
    const byDigest = await fetch(`http://${R.anon2.host}/v2/${run}/api-signed-copy/manifests/${artifactDigest}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(byDigest.status, 200, 'referrer stored by digest');
    const fallback = await fetch(`http://${R.anon2.host}/v2/${run}/api-signed-copy/manifests/${subject.replace(':', '-')}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
    assert.equal(fallback.status, 200, 'fallback tag index written');
    const index = await fallback.json() as { manifests: { digest: string; artifactType?: string }[] };
    assert.deepEqual(index.manifests.map((m) => [m.digest, m.artifactType]), [[artifactDigest, 'application/spdx+json']]);
  } finally {
    front.close();
  }
});

test('an unchanged re-copy: the source\'s manifest read once (it counts no pulls), no blob read, nothing written at the targets', async () => {
  const src = imageRef(R.anon, 'base/multi:oci');
  const t1 = imageRef(R.anon2, `${run}/noop-a:1`);
  const t2 = imageRef(R.basic, `${run}/noop-b:1`);
  const first = await runCli(['copy', '--json', src, t1, t2, ...toBasic]);
  assert.equal(first.code, 0, first.stderr);
  const marks = { anon: await settledLogMark('anon'), anon2: await settledLogMark('anon2'), basic: await settledLogMark('basic') };
  const again = await runCli(['copy', '--json', src, t1, t2, ...toBasic]);
  assert.equal(again.code, 0, again.stderr);
  const report = JSON.parse(again.stdout);
  for (const t of report.targets) {
    assert.ok(t.ok);
    assert.deepEqual(t.tagsUnchanged, ['1']);
    assert.deepEqual(t.blobs, []);
  }
  assert.equal(report.digest, state.images.anon['base/multi:oci'].digest);
  const reads = (await registryLogSince('anon', marks.anon)).filter((q) => /\/(manifests|blobs)\//.test(q.uri));
  assert.deepEqual(
    reads.map((q) => `${q.method} ${q.uri}`),
    ['GET /v2/base/multi/manifests/oci'],
    'at the source, the tag\'s manifest once (a GET where pulls are not counted: the same round trip as a HEAD), and no child manifest or blob',
  );
  for (const name of ['anon2', 'basic'] as const) {
    const writes = (await registryLogSince(name, marks[name])).filter((q) => ['PUT', 'POST', 'PATCH', 'DELETE'].includes(q.method));
    assert.deepEqual(writes, [], `no write at ${name}`);
  }
  // One target changed (its tag moved elsewhere): only that one is written.
  const moved = await runCli(['copy', imageRef(R.anon, 'base/busybox:oci'), t1]);
  assert.equal(moved.code, 0, moved.stderr);
  const mark2 = await settledLogMark('basic');
  const third = await runCli(['copy', '--json', src, t1, t2, ...toBasic]);
  assert.equal(third.code, 0, third.stderr);
  const r3 = JSON.parse(third.stdout);
  assert.equal(r3.targets[0].tagsUnchanged, undefined);
  assert.deepEqual(r3.targets[1].tagsUnchanged, ['1']);
  assert.deepEqual((await registryLogSince('basic', mark2)).filter((q) => q.method !== 'HEAD' && q.method !== 'GET'), []);
  assert.equal((await skopeoInspect(t1, { raw: true })).digest, state.images.anon['base/multi:oci'].digest);
});
