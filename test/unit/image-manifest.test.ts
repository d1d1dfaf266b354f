import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError, UnsupportedError, type RegpushError } from '../../src/errors.js';
import { parseManifest } from '../../src/image/manifest.js';
import { MediaType } from '../../src/image/mediatypes.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const desc = (mediaType: string, c: string, extra: object = {}) => ({ mediaType, digest: D(c), size: 10, ...extra });
const buf = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));

const dockerManifest = {
  schemaVersion: 2,
  mediaType: MediaType.DOCKER_MANIFEST,
  config: desc(MediaType.DOCKER_CONFIG, 'a'),
  layers: [desc(MediaType.DOCKER_LAYER_GZIP, 'b'), desc(MediaType.DOCKER_FOREIGN_LAYER, 'c', { urls: ['https://x/y'] })],
};
const ociManifestNoType = {
  schemaVersion: 2,
  config: desc(MediaType.OCI_CONFIG, 'a'),
  layers: [desc(MediaType.OCI_LAYER_GZIP, 'b')],
  annotations: { k: 'v' },
  'x-unknown': { kept: true },
};
const ociIndexNoType = {
  schemaVersion: 2,
  manifests: [desc(MediaType.OCI_MANIFEST, 'd', { platform: { os: 'linux', architecture: 'amd64' } })],
};
const dockerList = { ...ociIndexNoType, mediaType: MediaType.DOCKER_LIST };

describe('parseManifest: accepted', () => {
  const CASES: Array<[string, unknown, string | undefined, 'index' | 'image', string]> = [
    ['Docker v2 manifest', dockerManifest, undefined, 'image', MediaType.DOCKER_MANIFEST],
    ['Docker list', dockerList, MediaType.DOCKER_LIST, 'index', MediaType.DOCKER_LIST],
    ['OCI manifest without mediaType, typed by header', ociManifestNoType, `${MediaType.OCI_MANIFEST}; charset=utf-8`, 'image', MediaType.OCI_MANIFEST],
    ['OCI manifest without mediaType or header, typed by shape', ociManifestNoType, undefined, 'image', MediaType.OCI_MANIFEST],
    ['OCI manifest with application/json header, typed by shape', ociManifestNoType, 'application/json', 'image', MediaType.OCI_MANIFEST],
    ['OCI index without mediaType, typed by shape', ociIndexNoType, undefined, 'index', MediaType.OCI_INDEX],
    ['OCI index without mediaType, typed by header', ociIndexNoType, MediaType.OCI_INDEX, 'index', MediaType.OCI_INDEX],
    ['body mediaType wins over a different header', dockerManifest, MediaType.OCI_MANIFEST, 'image', MediaType.DOCKER_MANIFEST],
    ['manifest with zero layers', { ...ociManifestNoType, layers: [] }, undefined, 'image', MediaType.OCI_MANIFEST],
    ['index with zero children', { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] }, undefined, 'index', MediaType.OCI_INDEX],
  ];
  for (const [name, doc, ct, kind, mt] of CASES) {
    it(name, () => {
      const parsed = parseManifest(buf(doc), ct);
      assert.equal(parsed.kind, kind);
      assert.equal(parsed.mediaType, mt);
      assert.deepEqual(parsed.kind === 'index' ? parsed.index : parsed.manifest, doc);
    });
  }

  it('keeps unknown fields', () => {
    const parsed = parseManifest(buf(ociManifestNoType));
    assert.ok(parsed.kind === 'image');
    assert.deepEqual(parsed.manifest['x-unknown'], { kept: true });
  });
});

describe('parseManifest: rejected', () => {
  const CASES: Array<[string, unknown, string | undefined, new (...a: never[]) => Error, RegExp]> = [
    ['schemaVersion 1', { schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }, undefined, UnsupportedError, /^schema 1 manifests are not supported \(schemaVersion 1\)/],
    ['schema1 signed Content-Type', { foo: 1 }, MediaType.DOCKER_SCHEMA1_SIGNED, UnsupportedError, /schema 1 manifests are not supported \(Content-Type/],
    ['schema1 mediaType in body', { schemaVersion: 2, mediaType: MediaType.DOCKER_SCHEMA1 }, undefined, UnsupportedError, /schema 1 manifests are not supported \(media type/],
    ['not JSON', '<html>nope</html>', undefined, ProtocolError, /not valid JSON/],
    ['truncated JSON', '{"schemaVersion":2,', undefined, ProtocolError, /not valid JSON/],
    ['JSON array', [], undefined, ProtocolError, /not a JSON object/],
    ['JSON null', 'null', undefined, ProtocolError, /not a JSON object/],
    ['no way to tell the type', { schemaVersion: 2 }, undefined, ProtocolError, /cannot tell the manifest media type/],
    ['unknown media type', { schemaVersion: 2, mediaType: 'application/vnd.oci.artifact.manifest.v1+json' }, undefined, UnsupportedError, /unsupported manifest media type/],
    ['non-string mediaType', { ...dockerManifest, mediaType: 5 }, undefined, ProtocolError, /mediaType is not a string/],
    ['schemaVersion 3', { ...dockerManifest, schemaVersion: 3 }, undefined, ProtocolError, /schemaVersion is 3/],
    ['missing schemaVersion', { ...ociManifestNoType, schemaVersion: undefined }, undefined, ProtocolError, /schemaVersion/],
    ['manifest without config', { schemaVersion: 2, mediaType: MediaType.DOCKER_MANIFEST, layers: [] }, undefined, ProtocolError, /no "config"/],
    ['manifest without layers', { ...dockerManifest, layers: undefined }, undefined, ProtocolError, /no "layers"/],
    ['index without manifests', { schemaVersion: 2, mediaType: MediaType.OCI_INDEX }, undefined, ProtocolError, /no "manifests"/],
    ['layer without digest', { ...dockerManifest, layers: [{ mediaType: MediaType.DOCKER_LAYER_GZIP, size: 1 }] }, undefined, ProtocolError, /layers\[0\]\.digest is missing/],
    ['layer with bad digest', { ...dockerManifest, layers: [desc(MediaType.DOCKER_LAYER_GZIP, 'b'), { ...desc(MediaType.DOCKER_LAYER_GZIP, 'b'), digest: 'sha256:xyz' }] }, undefined, ProtocolError, /layers\[1\]\.digest "sha256:xyz" is not a valid digest/],
    ['config with negative size', { ...dockerManifest, config: { ...desc(MediaType.DOCKER_CONFIG, 'a'), size: -1 } }, undefined, ProtocolError, /config\.size -1/],
    ['config with string size', { ...dockerManifest, config: { ...desc(MediaType.DOCKER_CONFIG, 'a'), size: '10' } }, undefined, ProtocolError, /config\.size "10"/],
    ['config without mediaType', { ...dockerManifest, config: { digest: D('a'), size: 1 } }, undefined, ProtocolError, /config\.mediaType is missing/],
    ['child is not an object', { ...dockerList, manifests: ['x'] }, undefined, ProtocolError, /manifests\[0\] is not an object/],
    ['child platform without architecture', { ...dockerList, manifests: [desc(MediaType.DOCKER_MANIFEST, 'd', { platform: { os: 'linux' } })] }, undefined, ProtocolError, /manifests\[0\]\.platform/],
    ['urls not strings', { ...dockerManifest, layers: [desc(MediaType.DOCKER_FOREIGN_LAYER, 'c', { urls: [1] })] }, undefined, ProtocolError, /urls/],
  ];
  for (const [name, doc, ct, type, message] of CASES) {
    it(name, () => {
      assert.throws(() => parseManifest(buf(doc), ct), (e: unknown) => {
        assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
        // The stable code, as a caller tells errors apart (the class implies it; the code is what is promised).
        assert.equal((e as RegpushError).code, type === UnsupportedError ? 'E_UNSUPPORTED' : 'E_PROTOCOL');
        assert.match((e as Error).message, message);
        return true;
      });
    });
  }
});
