// Resume of a large blob: a 1 GiB layer is put into the source registry with one streamed PUT
// (generated on the fly, never on disk), the copy's GET of it is cut at ~50 % by the proxy, and
// regpush must carry on with `Range: bytes=<offset>-` (the proxy sees it; the source registry's
// access log shows the 206) reading less than 1.6 GiB from the source in total.
// The 1 GiB run takes ~35 s here (the registry writing 2 GiB to disk dominates) and is the default,
// so that a layer of a realistic large size is what is tested; REGPUSH_TEST_LARGE_MIB=<n> picks
// another size for a quick local run and REGPUSH_TEST_LARGE=0 skips it.
import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { assertNoSessionLeft, requestsFor } from './fault-helpers.js';
import { loadState, logMark, registryLogSince, repoRoot, runCli, skopeoInspect, type RegistryInfo } from './harness.js';

const state = loadState();
const R = state.registries;
const MiB = 1024 * 1024;
const fileBytes = Number(process.env.REGPUSH_TEST_LARGE_MIB ?? 1024) * MiB;
const skip = process.env.REGPUSH_TEST_LARGE === '0' ? 'REGPUSH_TEST_LARGE=0' : false;
const repo = `resume-${process.pid}-${Date.now().toString(36)}/large`;
const cleanup: (() => void)[] = [];
let proxy: FaultProxy | undefined;
after(async () => {
  await proxy?.close();
  for (const c of cleanup.splice(0)) c();
});

/** The tar header writer the bench fixtures use too (mtime 0 here). */
const { ustarHeader } = (await import(pathToFileURL(join(repoRoot, 'scripts/lib/tar-header.mjs')).href)) as { ustarHeader: (name: string, size: number, mtime?: number) => Buffer };

/**
 * The layer as a stream: a tar holding one file of `size` pseudo-random bytes (AES-CTR keystream
 * of `key`, so the same key gives the same bytes and nothing compresses it), then the end blocks.
 */
function layerStream(key: Buffer, size: number): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    yield ustarHeader('big.bin', size);
    const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
    const zeros = Buffer.alloc(4 * MiB);
    for (let left = size; left > 0; left -= zeros.length) yield cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
    const pad = (512 - (size % 512)) % 512;
    yield Buffer.alloc(pad + 1024);
  }
  return Readable.from(gen(), { objectMode: false });
}

/** Sends `body` to the registry (anonymous) and returns the response status and headers. */
function request(reg: RegistryInfo, method: string, path: string, headers: Record<string, string>, body?: Readable | Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: reg.port, method, path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

/** Puts a blob with POST + one streamed monolithic PUT; returns its digest and size. */
async function putBlob(reg: RegistryInfo, name: string, open: () => Readable): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const c of open()) {
    hash.update(c as Buffer);
    size += (c as Buffer).length;
  }
  const digest = `sha256:${hash.digest('hex')}`;
  const post = await request(reg, 'POST', `/v2/${name}/blobs/uploads/`, { 'content-length': '0' });
  assert.equal(post.status, 202);
  const loc = new URL(String(post.headers.location), reg.url);
  loc.searchParams.set('digest', digest);
  const put = await request(reg, 'PUT', loc.pathname + loc.search, { 'content-type': 'application/octet-stream', 'content-length': String(size) }, open());
  assert.equal(put.status, 201, `PUT of the ${size}-byte blob`);
  return { digest, size };
}

/** Removes a blob's data from a registry's storage (frees the disk; only this test uses the digest). */
function dropBlobData(reg: RegistryInfo, digest: string): void {
  const hex = digest.slice('sha256:'.length);
  rmSync(join(reg.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex), { recursive: true, force: true });
}

test(`a ${fileBytes / MiB} MiB blob cut at ~50 % resumes with Range and reads under 1.6× its size from the source`, { skip, timeout: 240_000 }, async () => {
  const key = randomBytes(16);
  const layer = await putBlob(R.anon, repo, () => layerStream(key, fileBytes));
  cleanup.push(() => dropBlobData(R.anon, layer.digest), () => dropBlobData(R.anon2, layer.digest));
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layer.digest] },
    history: [{ created_by: 'regpush resume-large test' }],
  }));
  const cfg = await putBlob(R.anon, repo, () => Readable.from([config]));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg.digest, size: cfg.size },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }],
  }));
  const put = await request(R.anon, 'PUT', `/v2/${repo}/manifests/1`, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(manifest.length) }, manifest);
  assert.equal(put.status, 201);
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;

  proxy = await startFaultProxy(R.anon.url);
  const cut = Math.floor(layer.size / 2);
  proxy.rule({ method: 'GET', path: new RegExp(`/blobs/${layer.digest}`), nth: 1, fault: { kind: 'drop', afterBytes: cut }, name: 'cut' });
  const mark = logMark('anon');
  const t0 = Date.now();
  const r = await runCli(['copy', '--json', `${proxy.host}/${repo}:1`, `${R.anon2.host}/${repo}:1`], { timeoutMs: 180_000 });
  const took = Date.now() - t0;
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.digest, digest);
  const blob = report.targets[0].blobs.find((b: { digest: string }) => b.digest === layer.digest);
  assert.equal(blob.resumes, 1, 'one resume');
  assert.equal(blob.retries, 0, 'no whole-blob restart');

  const gets = requestsFor(proxy, 'GET', layer.digest);
  assert.equal(gets.length, 2, 'the cut GET and one ranged GET');
  assert.equal(gets[0]!.fault, 'cut');
  // The resume starts where the bytes regpush had taken in end. That is the cut itself, or a little
  // before it: bytes that reached the client's socket but were still in the response stream's
  // buffer when the connection closed are discarded with the stream (Node destroys a response
  // that ends early) and read again. On a loaded machine that has been tens of kB.
  const from = Number(/^bytes=(\d+)-$/.exec(String(gets[1]!.headers.range))?.[1]);
  assert.ok(from <= cut && from > cut - 4 * MiB, `resumed at ${from}, at or just before the cut at ${cut}`);
  assert.equal(gets[1]!.status, 206);
  const read = gets.reduce((a, g) => a + g.bytesOut, 0);
  assert.equal(read, layer.size + (cut - from), 'every byte read from the source once, but for those re-read before the cut');
  assert.ok(read < 1.6 * layer.size, `${read} bytes read from the source`);
  const logged = (await registryLogSince('anon', mark)).filter((q) => q.method === 'GET' && q.uri.includes(layer.digest));
  assert.deepEqual(logged.map((q) => q.status), [200, 206], 'the source registry served a 200 and then a 206');

  const raw = await skopeoInspect(`${R.anon2.host}/${repo}:1`, { raw: true });
  assert.equal(raw.digest, digest);
  const head = await request(R.anon2, 'HEAD', `/v2/${repo}/blobs/${layer.digest}`, {});
  assert.equal(head.status, 200);
  assert.equal(Number(head.headers['content-length']), layer.size);
  await assertNoSessionLeft(proxy, R.anon);
  process.stderr.write(`# resume-large: ${layer.size} bytes copied in ${took} ms with one resume at byte ${cut}\n`);
});
