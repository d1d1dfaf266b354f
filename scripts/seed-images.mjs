#!/usr/bin/env node
// Builds the e2e test images without docker (GNU tar + umoci + busybox-static), then pushes
// them with skopeo into the running test registries and records their digests in state.json.
//
//   node scripts/seed-images.mjs [--rebuild]      (registries must be running: registries.mjs start)
//
// Images (same bytes in every registry: anon, basic, token, anon2):
//   base/busybox:v2s2   Docker v2 schema 2, 3 layers (busybox + applet symlinks | /etc files |
//                       /usr/share/seed/*.txt), Env PATH=/bin, Cmd ["/bin/sh"], label org.regpush.test.seed=busybox
//   base/busybox:oci    the same image with OCI media types
//   base/multi:oci      OCI index: linux/arm64/v8 (listed FIRST; config says arm64, Env ARCH_MARKER=arm64),
//                       linux/amd64 (Env ARCH_MARKER=amd64), and a buildkit-style attestation manifest
//                       (platform unknown/unknown, annotation vnd.docker.reference.type=attestation-manifest)
//   base/multi:v2s2     Docker manifest list: arm64 + amd64 (no attestation)
//   base/schema1:1      signed schema 1 manifest (skopeo --format v2s1; for the "unsupported" error)
//
// The layout is deterministic (fixed mtimes, owners, timestamps) and cached under
// <state>/seed/layout, so digests are the same on every run and in every registry (schema1's
// recorded digest is the registry's Docker-Content-Digest: its raw bytes are re-signed per GET).

import { createHash } from 'node:crypto';
import { cpSync, existsSync, lutimesSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureTools, readState, run, staticBusybox, testEnv, writeState } from './lib/test-env.mjs';

const SEED_VERSION = 3; // bump when the images change
const EPOCH = 1700000000; // 2023-11-14T22:13:20Z
const CREATED = new Date(EPOCH * 1000).toISOString().replace('.000Z', 'Z');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const APPLETS = ['sh', 'echo', 'cat', 'env', 'ls', 'pwd', 'id', 'printenv', 'test', 'sleep', 'true', 'false', 'stat', 'head', 'wc', 'sha256sum'];

/** Repository:tag → layout tag and skopeo flags. */
export const SEED_IMAGES = {
  'base/busybox:v2s2': { src: 'busybox', flags: ['--format', 'v2s2'] },
  'base/busybox:oci': { src: 'busybox', flags: [] },
  'base/multi:oci': { src: 'multi', flags: ['--all'] },
  'base/multi:v2s2': { src: 'multi-list', flags: ['--all', '--format', 'v2s2'] },
  'base/schema1:1': { src: 'busybox', flags: ['--format', 'v2s1'] },
};

/** Registries that receive the seed images. */
export const SEEDED_REGISTRIES = ['anon', 'basic', 'token', 'anon2'];

const sha256 = (buf) => `sha256:${createHash('sha256').update(buf).digest('hex')}`;

function putBlob(layout, data) {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(typeof data === 'string' ? data : JSON.stringify(data));
  const digest = sha256(buf);
  writeFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)), buf);
  return { digest, size: buf.length };
}
const readBlob = (layout, digest) => readFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)));
const readJson = (layout, digest) => JSON.parse(readBlob(layout, digest).toString('utf8'));

async function makeLayerTars(work, busybox) {
  const l1 = join(work, 'l1'); const l2 = join(work, 'l2'); const l3 = join(work, 'l3');
  mkdirSync(join(l1, 'bin'), { recursive: true });
  cpSync(busybox, join(l1, 'bin', 'busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(l1, 'bin', a));
  mkdirSync(join(l2, 'etc'), { recursive: true });
  writeFileSync(join(l2, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(l2, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(l2, 'etc', 'hostname'), 'regpush-seed\n');
  writeFileSync(join(l2, 'etc', 'os-release'), 'NAME="regpush seed"\nID=regpush-seed\nVERSION_ID=1\n');
  mkdirSync(join(l3, 'usr', 'share', 'seed'), { recursive: true });
  for (const n of ['one', 'two', 'three']) writeFileSync(join(l3, 'usr', 'share', 'seed', `${n}.txt`), `seed file ${n}\n`);
  const tars = [];
  for (const [dir, top] of [[l1, 'bin'], [l2, 'etc'], [l3, 'usr']]) {
    const walk = (p) => { for (const e of readdirSync(p, { withFileTypes: true })) { const q = join(p, e.name); if (e.isDirectory()) walk(q); lutimesSync(q, EPOCH, EPOCH); } };
    walk(dir);
    const tarFile = `${dir}.tar`;
    await run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${EPOCH}`, '--format=ustar',
      '-C', dir, '-cf', tarFile, top]);
    tars.push(tarFile);
  }
  return tars;
}

/** Builds the OCI layout with tags busybox, multi, multi-list. */
export async function buildLayout(layoutDir) {
  const busybox = staticBusybox();
  if (!busybox) throw new Error('a statically linked busybox is needed (apt-get install busybox-static)');
  const work = mkdtempSync('/tmp/regpush-seed-');
  try {
    const [t1, t2, t3] = await makeLayerTars(work, busybox);
    const L = join(work, 'layout');
    const img = `${L}:busybox`;
    await run('umoci', ['init', '--layout', L]);
    await run('umoci', ['new', '--image', img]);
    await run('umoci', ['config', '--image', img, '--no-history', '--created', CREATED, '--architecture', 'amd64', '--os', 'linux']);
    for (const [tar, what] of [[t1, 'busybox + applet symlinks in /bin'], [t2, '/etc files'], [t3, '/usr/share/seed/*.txt']]) {
      await run('umoci', ['raw', 'add-layer', '--image', img, '--history.created', CREATED, '--history.created_by', `seed: ${what}`, tar]);
    }
    await run('umoci', ['config', '--image', img, '--created', CREATED, '--history.created', CREATED,
      '--history.created_by', 'seed: config', '--config.env', 'PATH=/bin', '--config.cmd', '/bin/sh',
      '--config.label', 'org.regpush.test.seed=busybox']);

    // Rewrite manifests with an explicit mediaType, derive the per-platform images and indexes.
    const index0 = JSON.parse(readFileSync(join(L, 'index.json'), 'utf8'));
    const m0 = readJson(L, index0.manifests[0].digest);
    const config = readJson(L, m0.config.digest);
    const manifestFor = (cfg, layers = m0.layers, extra = {}) => {
      const c = putBlob(L, cfg);
      const m = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c }, layers, ...extra };
      return { mediaType: OCI_MANIFEST, ...putBlob(L, m) };
    };
    const busyboxDesc = manifestFor(config);
    const withEnv = (cfg, kv) => ({ ...cfg, config: { ...cfg.config, Env: [...(cfg.config.Env ?? []), kv] } });
    const amd64 = manifestFor(withEnv({ ...config, architecture: 'amd64', os: 'linux' }, 'ARCH_MARKER=amd64'));
    const arm64 = manifestFor(withEnv({ ...config, architecture: 'arm64', os: 'linux', variant: 'v8' }, 'ARCH_MARKER=arm64'));

    // Buildkit-style attestation manifest: an in-toto statement as its only layer.
    const statement = {
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://spdx.dev/Document',
      subject: [{ name: 'pkg:docker/base/multi@oci?platform=linux%2Famd64', digest: { sha256: amd64.digest.slice(7) } }],
      predicate: { spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'regpush-seed-sbom', dataLicense: 'CC0-1.0', packages: [] },
    };
    const stLayer = putBlob(L, statement);
    const attestation = manifestFor(
      { architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [stLayer.digest] } },
      [{ mediaType: 'application/vnd.in-toto+json', ...stLayer, annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' } }],
    );
    const children = [
      { ...arm64, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      { ...amd64, platform: { architecture: 'amd64', os: 'linux' } },
    ];
    const multi = { mediaType: OCI_INDEX, ...putBlob(L, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...children,
      { ...attestation, annotations: { 'vnd.docker.reference.digest': amd64.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
        platform: { architecture: 'unknown', os: 'unknown' } }] }) };
    const multiList = { mediaType: OCI_INDEX, ...putBlob(L, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: children }) };
    const tag = (d, name) => ({ ...d, annotations: { 'org.opencontainers.image.ref.name': name } });
    writeFileSync(join(L, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX,
      manifests: [tag(busyboxDesc, 'busybox'), tag(multi, 'multi'), tag(multiList, 'multi-list')] }));
    await run('umoci', ['gc', '--layout', L]);
    writeFileSync(join(L, 'regpush-seed.json'), JSON.stringify({ version: SEED_VERSION }));
    rmSync(layoutDir, { recursive: true, force: true });
    mkdirSync(join(layoutDir, '..'), { recursive: true });
    renameSync(L, layoutDir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function layoutIsCurrent(layoutDir) {
  try {
    return JSON.parse(readFileSync(join(layoutDir, 'regpush-seed.json'), 'utf8')).version === SEED_VERSION;
  } catch { return false; }
}

const credsArgs = (flag, reg) => (reg.user ? [flag, `${reg.user}:${reg.password}`] : []);

const ACCEPT = [OCI_INDEX, OCI_MANIFEST, 'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws'].join(', ');

/** Authorization header value for a pull of `repo` on `reg` (Basic, or a Bearer token from the realm). */
async function authFor(reg, repo) {
  if (!reg.user) return undefined;
  const basic = `Basic ${Buffer.from(`${reg.user}:${reg.password}`).toString('base64')}`;
  if (reg.auth !== 'token') return basic;
  const u = new URL(reg.realm);
  u.searchParams.set('service', reg.service);
  u.searchParams.set('scope', `repository:${repo}:pull`);
  const res = await fetch(u, { headers: { authorization: basic } });
  if (!res.ok) throw new Error(`token for ${repo} at ${reg.realm}: HTTP ${res.status}`);
  return `Bearer ${(await res.json()).token}`;
}

/**
 * Describes one pushed manifest: digest = the registry's Docker-Content-Digest, which for every
 * schema 2 / OCI manifest is checked to equal sha256 of the raw bytes (what
 * `skopeo inspect --raw | sha256sum` prints). Schema 1 manifests are re-signed by the registry on
 * every GET, so their raw bytes change; their stable digest is the header (signatures stripped).
 */
async function describe(reg, repoTag) {
  const [repo, tag] = repoTag.split(':');
  const authorization = await authFor(reg, repo);
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, { headers: { accept: ACCEPT, ...(authorization ? { authorization } : {}) } });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`GET ${reg.url}/v2/${repo}/manifests/${tag}: HTTP ${res.status} ${body.toString('utf8').slice(0, 300)}`);
  const header = res.headers.get('docker-content-digest');
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0];
  const m = JSON.parse(body.toString('utf8'));
  if (m.schemaVersion === 1) return { digest: header, mediaType };
  if (sha256(body) !== header) throw new Error(`${reg.host}/${repoTag}: Docker-Content-Digest ${header} != sha256 of the body ${sha256(body)}`);
  const info = { digest: header, mediaType, size: body.length };
  if (Array.isArray(m.manifests)) {
    info.manifests = m.manifests.map((d) => ({ digest: d.digest, mediaType: d.mediaType, platform: d.platform,
      ...(d.annotations ? { annotations: d.annotations } : {}) }));
  } else {
    info.config = m.config.digest;
    info.layers = m.layers.map((l) => l.digest);
  }
  return info;
}

/** Cross-checks one digest with `skopeo inspect --raw | sha256sum`. */
async function skopeoCheck(reg, repoTag, want) {
  const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', ...credsArgs('--creds', reg), `docker://${reg.host}/${repoTag}`]);
  if (sha256(stdout) !== want) throw new Error(`${reg.host}/${repoTag}: skopeo inspect --raw gives ${sha256(stdout)}, registry says ${want}`);
}

/** Pushes every seed image into one registry; returns {repo:tag → description}. */
async function seedRegistry(layoutDir, reg) {
  const out = {};
  for (const [repoTag, { src, flags }] of Object.entries(SEED_IMAGES)) {
    await run('skopeo', ['copy', '-q', '--retry-times', '2', '--dest-tls-verify=false', ...credsArgs('--dest-creds', reg), ...flags,
      `oci:${layoutDir}:${src}`, `docker://${reg.host}/${repoTag}`]);
  }
  for (const repoTag of Object.keys(SEED_IMAGES)) out[repoTag] = await describe(reg, repoTag);
  if (reg.name === 'anon') await skopeoCheck(reg, 'base/busybox:v2s2', out['base/busybox:v2s2'].digest);
  return out;
}

/**
 * Builds (or reuses) the layout and pushes the images into every seeded registry of `state`.
 * Returns `state` with `images` and `seed` filled in (the caller writes it).
 */
export async function seed(state, { rebuild = false, log = (m) => process.stderr.write(m + '\n') } = {}) {
  ensureTools(['skopeo', 'umoci', 'tar', 'busybox']);
  const t0 = Date.now();
  const layoutDir = join(state.stateDir, 'seed', 'layout');
  if (rebuild || !existsSync(join(layoutDir, 'index.json')) || !layoutIsCurrent(layoutDir)) {
    log('seed: building images');
    await buildLayout(layoutDir);
  }
  const names = SEEDED_REGISTRIES.filter((n) => state.registries[n]);
  const results = await Promise.all(names.map((n) => seedRegistry(layoutDir, state.registries[n])));
  state.images = Object.fromEntries(names.map((n, i) => [n, results[i]]));
  state.seed = { layoutDir, version: SEED_VERSION, seededAt: new Date().toISOString(), durationMs: Date.now() - t0 };
  log(`seed: pushed ${Object.keys(SEED_IMAGES).length} images into ${names.join(', ')} in ${Date.now() - t0} ms`);
  return state;
}

async function main() {
  const { stateFile } = testEnv();
  const state = readState(stateFile);
  if (!state || state.status !== 'running') {
    throw new Error(`registries are not running (no running ${stateFile}); run: node scripts/registries.mjs start`);
  }
  await seed(state, { rebuild: process.argv.includes('--rebuild') });
  writeState(stateFile, state);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => { process.stderr.write(`seed-images: ${e.message}\n`); process.exit(1); });
}
