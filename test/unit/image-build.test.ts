import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InternalError, RegpushError } from '../../src/errors.js';
import { appendLayerToManifest, buildIndex, scratchManifest, serializeManifest } from '../../src/image/build.js';
import { parseManifest } from '../../src/image/manifest.js';
import { MediaType, configMediaTypeFor, layerMediaTypeFor } from '../../src/image/mediatypes.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../../src/image/types.js';

const d = (mediaType: string, c: string, size = 10): Descriptor => ({ mediaType, digest: `sha256:${c.repeat(64)}`, size });

const dockerBase: ImageManifest = {
  schemaVersion: 2,
  mediaType: MediaType.DOCKER_MANIFEST,
  config: d(MediaType.DOCKER_CONFIG, 'a'),
  layers: [d(MediaType.DOCKER_LAYER_GZIP, 'b'), { ...d(MediaType.DOCKER_FOREIGN_LAYER, 'c'), urls: ['https://x/l'] }],
};
const ociBase: ImageManifest = {
  schemaVersion: 2,
  config: d(MediaType.OCI_CONFIG, 'a'),
  layers: [d(MediaType.OCI_LAYER_GZIP, 'b')],
  annotations: { 'org.example.keep': 'yes' },
  'x-unknown': { kept: true },
};

describe('appendLayerToManifest', () => {
  it('Docker v2: replaces config, appends layer, ignores annotations, keeps foreign layers', () => {
    const config = d(configMediaTypeFor('docker'), 'e');
    const layer = d(layerMediaTypeFor('docker'), 'f', 99);
    const before = structuredClone(dockerBase);
    const out = appendLayerToManifest(dockerBase, { config, layer, annotations: { 'org.opencontainers.image.base.name': 'x' } });
    assert.deepEqual(dockerBase, before, 'input not mutated');
    assert.equal(out.mediaType, MediaType.DOCKER_MANIFEST);
    assert.deepEqual(out.config, config);
    assert.deepEqual(out.layers, [...dockerBase.layers, layer]);
    assert.equal(out.annotations, undefined);
  });

  it('OCI without mediaType: writes it, merges annotations, keeps unknown fields', () => {
    const config = d(MediaType.OCI_CONFIG, 'e');
    const layer = d(MediaType.OCI_LAYER_GZIP, 'f');
    const out = appendLayerToManifest(ociBase, { config, layer, annotations: { 'org.opencontainers.image.base.digest': 'sha256:x' } });
    assert.equal(out.mediaType, MediaType.OCI_MANIFEST);
    assert.equal(out.schemaVersion, 2);
    assert.deepEqual(out['x-unknown'], { kept: true });
    assert.deepEqual(out.annotations, { 'org.example.keep': 'yes', 'org.opencontainers.image.base.digest': 'sha256:x' });
    assert.equal(out.layers.length, 2);
    assert.equal(ociBase.annotations!['org.opencontainers.image.base.digest'], undefined, 'input not mutated');
  });

  it('refuses to mix families', () => {
    assert.throws(
      () => appendLayerToManifest(dockerBase, { config: d(MediaType.DOCKER_CONFIG, 'e'), layer: d(MediaType.OCI_LAYER_GZIP, 'f') }),
      (e: unknown) => e instanceof InternalError && e instanceof RegpushError && e.code === 'E_INTERNAL' && e.exitCode === 1,
    );
    assert.throws(() => appendLayerToManifest(ociBase, { config: d(MediaType.DOCKER_CONFIG, 'e'), layer: d(MediaType.OCI_LAYER_GZIP, 'f') }), { code: 'E_INTERNAL', message: /config media type application\/vnd\.docker\.container\.image\.v1\+json does not belong in a oci manifest/ });
  });

  it('round-trips through serializeManifest and parseManifest', () => {
    const out = appendLayerToManifest(ociBase, { config: d(MediaType.OCI_CONFIG, 'e'), layer: d(MediaType.OCI_LAYER_GZIP, 'f') });
    const bytes = serializeManifest(out);
    assert.ok(!bytes.toString().includes(' '), 'compact JSON');
    const parsed = parseManifest(bytes);
    assert.equal(parsed.kind, 'image');
    assert.equal(parsed.mediaType, MediaType.OCI_MANIFEST);
    assert.deepEqual(parsed.kind === 'image' && parsed.manifest, out);
  });
});

describe('buildIndex', () => {
  const plat = (desc: Descriptor, os: string, architecture: string, annotations?: Record<string, string>): Descriptor => ({
    ...desc,
    platform: { os, architecture },
    ...(annotations ? { annotations } : {}),
  });

  it('same family, attestations dropped, unknown fields kept', () => {
    const base: ImageIndex = {
      schemaVersion: 2,
      mediaType: MediaType.OCI_INDEX,
      manifests: [plat(d(MediaType.OCI_MANIFEST, '1'), 'linux', 'amd64')],
      annotations: { a: 'b' },
      'x-unknown': 1,
    };
    const amd = plat(d(MediaType.OCI_MANIFEST, '2'), 'linux', 'amd64');
    const arm = plat(d(MediaType.OCI_MANIFEST, '3'), 'linux', 'arm64');
    const att = plat(d(MediaType.OCI_MANIFEST, '4'), 'unknown', 'unknown', { 'vnd.docker.reference.type': 'attestation-manifest' });
    const out = buildIndex(base, [amd, att, arm]);
    assert.deepEqual(out.manifests, [amd, arm]);
    assert.equal(out.mediaType, MediaType.OCI_INDEX);
    assert.deepEqual(out.annotations, { a: 'b' });
    assert.equal(out['x-unknown'], 1);
    assert.equal(base.manifests.length, 1, 'input not mutated');
  });

  it('Docker list stays a Docker list; OCI index without mediaType gets one', () => {
    const list: ImageIndex = { schemaVersion: 2, mediaType: MediaType.DOCKER_LIST, manifests: [] };
    const child = plat(d(MediaType.DOCKER_MANIFEST, '2'), 'linux', 'amd64');
    assert.equal(buildIndex(list, [child]).mediaType, MediaType.DOCKER_LIST);
    const oci = buildIndex({ schemaVersion: 2, manifests: [] }, [plat(d(MediaType.OCI_MANIFEST, '2'), 'linux', 'amd64')]);
    assert.equal(oci.mediaType, MediaType.OCI_INDEX);
    assert.equal(parseManifest(serializeManifest(oci)).kind, 'index');
  });

  it('refuses children of the other family', () => {
    const list: ImageIndex = { schemaVersion: 2, mediaType: MediaType.DOCKER_LIST, manifests: [] };
    assert.throws(() => buildIndex(list, [plat(d(MediaType.OCI_MANIFEST, '2'), 'linux', 'amd64')]), { code: 'E_INTERNAL', message: /^index child \S+ media type application\/vnd\.oci\.image\.manifest\.v1\+json does not belong in a docker manifest$/ });
  });
});

describe('scratchManifest', () => {
  for (const family of ['oci', 'docker'] as const) {
    it(`${family} scratch manifest`, () => {
      const config = d(configMediaTypeFor(family), 'a');
      const layer = d(layerMediaTypeFor(family), 'b');
      const m = scratchManifest(family, config, [layer]);
      assert.deepEqual(m, {
        schemaVersion: 2,
        mediaType: family === 'oci' ? MediaType.OCI_MANIFEST : MediaType.DOCKER_MANIFEST,
        config,
        layers: [layer],
      });
      const parsed = parseManifest(serializeManifest(m));
      assert.equal(parsed.kind, 'image');
    });
  }
});
