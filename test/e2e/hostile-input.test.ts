// Hostile input, second round: indexes with more children than regpush follows (served by a
// scripted registry), a label key that is not one line, and a local input error met while the app
// layer streams into an open upload, and an interruption in the middle of the layer's PATCH.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startHostileRegistry, type HostileRegistry, type HostileReply } from '../fixtures/hostile-registry.js';
import { startFaultProxy } from '../fixtures/fault-proxy.js';
import { assertNoSessionLeft, assertOneErrorLine, requestsFor, sessionsOpened, startCli, waitFor } from './fault-helpers.js';
import { imageRef, loadState, runCli, tempDir } from './harness.js';

const state = loadState();
const R = state.registries;
const run = `hi${process.pid}${Date.now().toString(36)}`;
const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

function appDir(): string {
  const dir = tempDir('regpush-app-');
  writeFileSync(join(dir, 'hello.txt'), 'hello\n');
  return dir;
}

/** `n` distinct small image manifests (all sharing one config), by digest. */
function images(n: number): { config: Buffer; manifests: Map<string, Buffer> } {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } }));
  const manifests = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const m = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [],
      annotations: { n: String(i) },
    }));
    manifests.set(sha(m), m);
  }
  return { config, manifests };
}

function indexOf(children: Map<string, Buffer>, mediaType = OCI_MANIFEST): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [...children].map(([digest, b], i) => ({ mediaType, digest, size: b.length, platform: { os: 'linux', architecture: `arch${i}` } })),
  }));
}

/** Serves `top` as repo:1 and every manifest / config it is given by digest; counts manifest GETs. */
async function serve(top: Buffer, manifests: Map<string, Buffer>, blobs: Map<string, Buffer>): Promise<HostileRegistry & { manifestGets: () => number }> {
  const h = await startHostileRegistry((req): HostileReply | undefined => {
    if (req.url === '/v2/') return { status: 200, body: {} };
    const m = /^\/v2\/big\/manifests\/([^/?]+)$/.exec(req.url);
    if (m) {
      const b = m[1] === '1' ? top : manifests.get(decodeURIComponent(m[1]!));
      if (!b) return undefined;
      return { status: 200, headers: { 'content-type': JSON.parse(b.toString()).mediaType, 'docker-content-digest': sha(b) }, body: b };
    }
    const bl = /^\/v2\/big\/blobs\/([^/?]+)$/.exec(req.url);
    if (bl && blobs.has(bl[1]!)) return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: blobs.get(bl[1]!)! };
    return undefined;
  });
  closers.push(h.close);
  return Object.assign(h, { manifestGets: () => h.requests.filter((r) => r.method === 'GET' && r.url.includes('/manifests/')).length });
}

test('an index with more than 1000 children: push and copy refuse it with E_UNSUPPORTED before fetching any child', async () => {
  const { config, manifests } = images(1500);
  const top = indexOf(manifests);
  const h = await serve(top, manifests, new Map([[sha(config), config]]));
  const push = await runCli(['push', '--from', `${h.host}/big:1`, '--to', `${R.anon2.host}/${run}/big:1`, '--platform', 'all', '--app', appDir()]);
  assertOneErrorLine(push, 6, 'E_UNSUPPORTED', new RegExp(`index ${h.host}/big@sha256:[0-9a-f]{64} lists 1500 manifests; regpush follows at most 1000 per index`));
  assert.equal(h.manifestGets(), 1, 'only the index itself was fetched');

  const before = h.manifestGets();
  const copy = await runCli(['copy', `${h.host}/big:1`, `${R.anon2.host}/${run}/big:1`]);
  assertOneErrorLine(copy, 6, 'E_UNSUPPORTED', /lists 1500 manifests; regpush follows at most 1000 per index/);
  assert.equal(h.manifestGets() - before, 1);
});

test('nested indexes: the 1000-manifest limit counts every level of one graph (copy)', async () => {
  const { manifests } = images(1100);
  const entries = [...manifests];
  const nested = new Map<string, Buffer>();
  for (const part of [entries.slice(0, 550), entries.slice(550)]) {
    const idx = indexOf(new Map(part));
    nested.set(sha(idx), idx);
  }
  const top = indexOf(nested, OCI_INDEX);
  const h = await serve(top, new Map([...manifests, ...nested]), new Map());
  const copy = await runCli(['copy', `${h.host}/big:1`, `${R.anon2.host}/${run}/nested:1`]);
  assertOneErrorLine(copy, 6, 'E_UNSUPPORTED', /has more than 1000 manifests in all \(nested indexes included\)/);
  assert.ok(h.manifestGets() <= 1 + 1002, `${h.manifestGets()} manifest GETs`);
});

test('an index of exactly 1000 children is within the limit (push --dry-run resolves every child)', async () => {
  const { config, manifests } = images(1000);
  const h = await serve(indexOf(manifests), manifests, new Map([[sha(config), config]]));
  const r = await runCli(['push', '--dry-run', '--from', `${h.host}/big:1`, '--to', `${R.anon2.host}/${run}/ok:1`, '--platform', 'all', '--app', appDir()], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  assert.equal(h.manifestGets(), 1001);
});

test('a label key with a line break → E_USAGE from --label, E_INPUT from regpush.json', async () => {
  const src = imageRef(R.anon, 'base/busybox:v2s2');
  const dst = `${R.anon2.host}/${run}/label:1`;
  const flag = await runCli(['push', '--dry-run', '--from', src, '--to', dst, '--app', appDir(), '--label', 'a\nb=1']);
  assertOneErrorLine(flag, 2, 'E_USAGE', /invalid --label key "a\\nb": a key must be one line/);
  const cwd = tempDir('regpush-proj-');
  mkdirSync(join(cwd, 'app'));
  writeFileSync(join(cwd, 'regpush.json'), JSON.stringify({ from: src, to: dst, app: 'app', labels: { 'x\r\ny': 'v' } }));
  const file = await runCli(['push', '--dry-run'], { cwd });
  assertOneErrorLine(file, 2, 'E_INPUT', /a key must be one line/);
});

test('a file name that is not UTF-8, met while the app layer is under way: E_INPUT at once, not retried, no session left open', async () => {
  const app = tempDir('regpush-app-');
  // A large file first, so the bad name is met mid-stream on one run and right away on the other.
  writeFileSync(join(app, 'a-large.bin'), Buffer.alloc(8 * 1024 * 1024, 7));
  mkdirSync(join(app, 'sub'));
  writeFileSync(Buffer.concat([Buffer.from(join(app, 'sub', 'bad')), Buffer.from([0xff]), Buffer.from('.txt')]), 'x');
  const small = tempDir('regpush-app-');
  writeFileSync(Buffer.concat([Buffer.from(join(small, 'bad')), Buffer.from([0xfe])]), 'x');
  const proxy = await startFaultProxy(R.anon2.url);
  closers.push(() => proxy.close());
  // The base is there already, so the app layer is the only upload: what is checked is its session.
  const seeded = await runCli(['copy', imageRef(R.anon, 'base/busybox:v2s2'), `${proxy.host}/${run}/utf8:base`]);
  assert.equal(seeded.code, 0, seeded.stderr);
  let runsOpened = 0;
  for (const dir of [app, small]) {
    for (const method of [[], ['--layer-upload', 'chunked']]) {
      const sessionsBefore = sessionsOpened(proxy).length;
      const r = await runCli(['push', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', `${proxy.host}/${run}/utf8:1`, '--app', dir, ...method], {
        // Before the fix the upload waited for the idle timeout (and was then retried as a network
        // failure). Ten minutes here, past runCli's limit (120 s): a run that waited is killed, no E_INPUT line.
        env: { REGPUSH_IDLE_TIMEOUT_MS: '600000' },
      });
      assertOneErrorLine(r, 2, 'E_INPUT', /file name is not valid UTF-8/);
      assert.doesNotMatch(r.stderr, /retrying/);
      // With the large file first, the push is under way when the walk meets the bad name: the
      // layer's session is opened, and cancelled, or, where its POST had not reached the wire yet,
      // never sent (an interrupted run sends no request still waiting for a socket); so is the
      // config's, which the push opens as soon as it knows it will write (on a loaded machine the
      // walk meets the name after both went out). No retry opens another (no "retrying" above).
      // An app of the bad name alone is refused by the check before any request.
      const opened = sessionsOpened(proxy).length - sessionsBefore;
      runsOpened += opened;
      if (dir === app) assert.ok(opened <= 2, `at most the app layer's session and the config's were opened (${method.join(' ') || 'default'}): ${opened}`);
      else assert.equal(opened, 0, 'refused before any request');
    }
  }
  // Every session the pushes opened was cancelled (the seeding copy's were completed).
  const { cancelled } = await assertNoSessionLeft(proxy, R.anon2);
  assert.equal(cancelled, runsOpened);
});

test('SIGINT in the middle of the app layer\'s streamed PATCH: the session is cancelled with its current state, its bytes leave the registry', async () => {
  const app = tempDir('regpush-app-');
  writeFileSync(join(app, 'big.bin'), randomBytes(96 * 1024 * 1024)); // incompressible: the PATCH lasts a while
  const proxy = await startFaultProxy(R.anon2.url);
  closers.push(() => proxy.close());
  const repo = `${run}/sigint`;
  // The base is there already, so the app layer's PATCH is the upload in flight.
  const seeded = await runCli(['copy', imageRef(R.anon, 'base/busybox:v2s2'), `${proxy.host}/${repo}:base`]);
  assert.equal(seeded.code, 0, seeded.stderr);
  const cli = startCli(['push', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', `${proxy.host}/${repo}:1`, '--app', app]);
  await waitFor('the PATCH to be streaming', () => requestsFor(proxy, 'PATCH', `/v2/${repo}/blobs/uploads/`).some((r) => r.bytesIn > 512 * 1024), 60_000);
  cli.signal('SIGINT');
  const r = await cli.result;
  assert.equal(r.code, 130, r.stderr);
  const patch = requestsFor(proxy, 'PATCH', `/v2/${repo}/blobs/uploads/`)[0]!;
  const uuid = new URL(patch.url, 'http://x').pathname.split('/').pop()!;
  // Ended rather than cut, the PATCH was answered; the DELETE that followed used the state it returned.
  assert.equal(patch.status, 202);
  assert.ok(requestsFor(proxy, 'DELETE', uuid).some((d) => d.status === 204), 'a DELETE of the session answered 204');
  // distribution removes the data (a few hundred bytes of hash state stay, as with any client's DELETE).
  const dir = join(R.anon2.storageDir, 'docker/registry/v2/repositories', repo, '_uploads', uuid);
  assert.equal(existsSync(join(dir, 'data')), false, `${dir}/data is still there`);
});
