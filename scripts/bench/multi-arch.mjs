// The WAN bench's multi-platform source (`copy-multi` row): an OCI index of 8 platform images,
// each with an attestation manifest beside it, as `docker buildx build --push` stores an image on
// Docker Hub: 16 child manifests under one index. The blobs are small (one 128 kB layer and a
// config per image), so the row measures what a multi-platform copy adds in round trips —
// reading and writing 16 manifests — rather than bytes. Layer bytes are pseudo-random, never
// unpacked: a copy moves them as they are.

import { createHash } from 'node:crypto';
import { pseudoRandom } from './fixtures.mjs';

export const MULTI_REPO = 'bench/multi';
export const MULTI_TAG = '1';

const OCI = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  inToto: 'application/vnd.in-toto+json',
};

const PLATFORMS = [
  ['linux', 'amd64'], ['linux', 'arm64', 'v8'], ['linux', 'arm', 'v7'], ['linux', 'arm', 'v6'],
  ['linux', '386'], ['linux', 'ppc64le'], ['linux', 's390x'], ['linux', 'riscv64'],
];

const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const json = (o) => Buffer.from(JSON.stringify(o));
const LAYER_BYTES = 128 * 1024;

function randomBlob(seed) {
  return Buffer.concat([...pseudoRandom(`multi-arch ${seed}`, LAYER_BYTES)]);
}

/** One image (or attestation) manifest with one layer and a config; its blobs pushed to `reg`. */
async function pushOne(reg, layerType, config, seed) {
  const layer = randomBlob(seed);
  const cfg = json(config);
  await reg.putBlob(MULTI_REPO, sha(layer), layer.length, layer);
  await reg.putBlob(MULTI_REPO, sha(cfg), cfg.length, cfg);
  const m = json({
    schemaVersion: 2,
    mediaType: OCI.manifest,
    config: { mediaType: OCI.config, digest: sha(cfg), size: cfg.length },
    layers: [{ mediaType: layerType, digest: sha(layer), size: layer.length }],
  });
  await reg.putManifest(MULTI_REPO, sha(m), m, OCI.manifest);
  return { digest: sha(m), size: m.length, bytes: layer.length + cfg.length };
}

/** Pushes the index and its 16 children to `reg` (a bench/http.mjs Registry); resolves { digest, children, blobBytes }. */
export async function seedMultiArch(reg) {
  const entries = [];
  let blobBytes = 0;
  for (const [i, [os, architecture, variant]] of PLATFORMS.entries()) {
    const platform = { architecture, os, ...(variant ? { variant } : {}) };
    const img = await pushOne(reg, OCI.layer, { ...platform, config: {}, rootfs: { type: 'layers', diff_ids: [sha(Buffer.from(`diff ${i}`))] } }, 1000 + i);
    const att = await pushOne(reg, OCI.inToto, { architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [sha(Buffer.from(`att ${i}`))] } }, 2000 + i);
    blobBytes += img.bytes + att.bytes;
    entries.push({ mediaType: OCI.manifest, digest: img.digest, size: img.size, platform });
    entries.push({
      mediaType: OCI.manifest, digest: att.digest, size: att.size, platform: { architecture: 'unknown', os: 'unknown' },
      annotations: { 'vnd.docker.reference.digest': img.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
    });
  }
  const index = json({ schemaVersion: 2, mediaType: OCI.index, manifests: entries });
  await reg.putManifest(MULTI_REPO, MULTI_TAG, index, OCI.index);
  return { digest: sha(index), children: entries.length, blobBytes };
}

/** The `copy-multi` row: a cold copy of the index (every blob streamed, 16 children and the index written). */
export function multiArchScenario(ctx, regpushEnv) {
  return {
    id: 'copy-multi', group: 'regpush', cold: true,
    needs: () => ctx.copyBroken ?? (ctx.multiArch ? undefined : 'no multi-platform source'),
    label: 'regpush copy, cold, 8 platforms + 8 attestations (16 manifests, 2 MB)',
    cmd: (c, round) => ({ cmd: process.execPath, args: [c.cli, 'copy', `${c.src.host}/${MULTI_REPO}:${MULTI_TAG}`, `${c.cold.host}/bench/copy-multi-${round}:1`, '--json', '--quiet'], env: regpushEnv(c) }),
    check: (r) => {
      let rep;
      try { rep = JSON.parse(r.stdout); } catch { return 'no JSON report on stdout'; }
      const t = rep?.targets?.[0];
      if (!t?.ok) return 'copy report has no successful target';
      if (rep.digest !== ctx.multiArch.digest) return `copied ${rep.digest}, not the index ${ctx.multiArch.digest}`;
      const bad = (t.blobs ?? []).filter((b) => b.action !== 'streamed' && b.action !== 'uploaded');
      return bad.length ? `expected every blob streamed, got ${bad.map((b) => b.action).join('/')}` : undefined;
    },
  };
}
