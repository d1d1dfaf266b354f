import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../../src/errors.js';
import {
  MANIFEST_ACCEPT,
  MediaType,
  baseMediaType,
  configMediaTypeFor,
  indexMediaTypeFor,
  isForeignLayer,
  isImageManifestMediaType,
  isIndexMediaType,
  isSchema1MediaType,
  layerMediaTypeFor,
  manifestMediaTypeFor,
  mediaFamily,
} from '../../src/image/mediatypes.js';
import {
  assertDigest,
  digestAlgorithm,
  isValidDigest,
  sha256Digest,
} from '../../src/image/digest.js';

describe('media types', () => {
  it('MANIFEST_ACCEPT lists exactly the four manifest types and the OCI 1.1-rc artifact manifest', () => {
    const types = MANIFEST_ACCEPT.split(',').map((s) => s.trim());
    assert.deepEqual(new Set(types), new Set([MediaType.OCI_INDEX, MediaType.OCI_MANIFEST, MediaType.DOCKER_LIST, MediaType.DOCKER_MANIFEST, MediaType.OCI_ARTIFACT_MANIFEST]));
    assert.equal(types.length, 5);
  });

  const KINDS: Array<[string, boolean, boolean, boolean, 'oci' | 'docker']> = [
    // [type, index?, image manifest?, schema1?, family]
    [MediaType.OCI_INDEX, true, false, false, 'oci'],
    [MediaType.DOCKER_LIST, true, false, false, 'docker'],
    [MediaType.OCI_MANIFEST, false, true, false, 'oci'],
    [MediaType.DOCKER_MANIFEST, false, true, false, 'docker'],
    [`${MediaType.DOCKER_MANIFEST}; charset=utf-8`, false, true, false, 'docker'],
    [MediaType.DOCKER_SCHEMA1, false, false, true, 'docker'],
    [MediaType.DOCKER_SCHEMA1_SIGNED, false, false, true, 'docker'],
    [MediaType.OCI_CONFIG, false, false, false, 'oci'],
    [MediaType.DOCKER_LAYER_GZIP, false, false, false, 'docker'],
    [MediaType.OCI_EMPTY, false, false, false, 'oci'],
  ];
  for (const [mt, index, image, s1, family] of KINDS) {
    it(`classifies ${mt}`, () => {
      assert.equal(isIndexMediaType(mt), index);
      assert.equal(isImageManifestMediaType(mt), image);
      assert.equal(isSchema1MediaType(mt), s1);
      assert.equal(mediaFamily(mt), family);
    });
  }

  it('undefined is neither index nor manifest', () => {
    assert.equal(isIndexMediaType(undefined), false);
    assert.equal(isImageManifestMediaType(undefined), false);
  });

  it('baseMediaType strips parameters and case', () => {
    assert.equal(baseMediaType('Application/JSON ; charset=utf-8'), 'application/json');
  });

  it('mediaFamily rejects foreign families', () => {
    assert.throws(() => mediaFamily('application/json'), { name: 'UnsupportedError', code: 'E_UNSUPPORTED', message: /^media type "application\/json" is neither OCI nor Docker$/ });
  });

  it('family helpers never mix families', () => {
    assert.equal(layerMediaTypeFor('oci'), MediaType.OCI_LAYER_GZIP);
    assert.equal(layerMediaTypeFor('docker'), MediaType.DOCKER_LAYER_GZIP);
    assert.equal(configMediaTypeFor('oci'), MediaType.OCI_CONFIG);
    assert.equal(configMediaTypeFor('docker'), MediaType.DOCKER_CONFIG);
    assert.equal(manifestMediaTypeFor('oci'), MediaType.OCI_MANIFEST);
    assert.equal(manifestMediaTypeFor('docker'), MediaType.DOCKER_MANIFEST);
    assert.equal(indexMediaTypeFor('oci'), MediaType.OCI_INDEX);
    assert.equal(indexMediaTypeFor('docker'), MediaType.DOCKER_LIST);
  });

  const FOREIGN: Array<[string, { mediaType: string; urls?: string[] }, boolean]> = [
    ['docker foreign', { mediaType: MediaType.DOCKER_FOREIGN_LAYER }, true],
    ['oci nondist', { mediaType: MediaType.OCI_LAYER_NONDIST }, true],
    ['oci nondist gzip', { mediaType: MediaType.OCI_LAYER_NONDIST_GZIP }, true],
    ['oci nondist zstd', { mediaType: MediaType.OCI_LAYER_NONDIST_ZSTD }, true],
    ['gzip layer with urls', { mediaType: MediaType.OCI_LAYER_GZIP, urls: ['https://example.com/l'] }, true],
    ['gzip layer with empty urls', { mediaType: MediaType.OCI_LAYER_GZIP, urls: [] }, false],
    ['docker gzip layer', { mediaType: MediaType.DOCKER_LAYER_GZIP }, false],
    ['oci zstd layer', { mediaType: MediaType.OCI_LAYER_ZSTD }, false],
  ];
  for (const [name, desc, want] of FOREIGN) {
    it(`isForeignLayer: ${name} -> ${want}`, () => assert.equal(isForeignLayer(desc), want));
  }
});

describe('digests', () => {
  const HELLO = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';

  it('sha256Digest of a string and a buffer', () => {
    assert.equal(sha256Digest('hello'), HELLO);
    assert.equal(sha256Digest(Buffer.from('hello')), HELLO);
    assert.equal(sha256Digest(''), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  const DIGESTS: Array<[unknown, boolean]> = [
    [HELLO, true],
    [`sha512:${'a'.repeat(128)}`, true],
    [`sha256:${'a'.repeat(63)}`, false],
    [`sha256:${'A'.repeat(64)}`, false],
    [`sha512:${'a'.repeat(64)}`, false],
    [`sha384:${'a'.repeat(96)}`, false],
    [`SHA256:${'a'.repeat(64)}`, false],
    ['a'.repeat(64), false],
    ['', false],
    [undefined, false],
    [42, false],
  ];
  for (const [d, want] of DIGESTS) {
    it(`isValidDigest(${JSON.stringify(d)?.slice(0, 20)}…) -> ${want}`, () => assert.equal(isValidDigest(d), want));
  }

  it('assertDigest names what was checked', () => {
    assert.doesNotThrow(() => assertDigest(HELLO, 'x'));
    assert.throws(() => assertDigest('sha256:zz', 'layer 3'), (e: unknown) => e instanceof ProtocolError && e.code === 'E_PROTOCOL' && e.message.includes('layer 3'));
  });

  it('digestAlgorithm', () => {
    assert.equal(digestAlgorithm(HELLO), 'sha256');
    assert.equal(digestAlgorithm(`sha512:${'a'.repeat(128)}`), 'sha512');
  });
});

