import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError, NotFoundError } from '../../src/errors.js';
import { MediaType } from '../../src/image/mediatypes.js';
import {
  formatPlatform,
  imagePlatforms,
  isAttestation,
  osVersionChoice,
  parsePlatform,
  platformMatches,
  selectPlatform,
} from '../../src/image/platform.js';
import type { Descriptor, ImageIndex, Platform } from '../../src/image/types.js';

describe('parsePlatform / formatPlatform', () => {
  const VALID: Array<[string, Platform, string]> = [
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }, 'linux/amd64'],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'linux/arm64/v8'],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }, 'linux/arm/v7'],
    ['windows/amd64', { os: 'windows', architecture: 'amd64' }, 'windows/amd64'],
    ['Linux/AMD64', { os: 'linux', architecture: 'amd64' }, 'linux/amd64'],
    ['linux/x86_64', { os: 'linux', architecture: 'amd64' }, 'linux/amd64'],
    ['linux/aarch64', { os: 'linux', architecture: 'arm64' }, 'linux/arm64'],
    ['linux/ppc64le', { os: 'linux', architecture: 'ppc64le' }, 'linux/ppc64le'],
    // Debian's and uname -m's 32-bit ARM names imply the variant (containerd's normalizeArch).
    ['linux/armhf', { os: 'linux', architecture: 'arm', variant: 'v7' }, 'linux/arm/v7'],
    ['linux/armv7l', { os: 'linux', architecture: 'arm', variant: 'v7' }, 'linux/arm/v7'],
    ['linux/armel', { os: 'linux', architecture: 'arm', variant: 'v6' }, 'linux/arm/v6'],
    ['linux/ARMv6l', { os: 'linux', architecture: 'arm', variant: 'v6' }, 'linux/arm/v6'],
    ['linux/armhf/v6', { os: 'linux', architecture: 'arm', variant: 'v6' }, 'linux/arm/v6'],
    ['linux/aarch64/v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'linux/arm64/v8'],
  ];
  for (const [input, want, formatted] of VALID) {
    it(`parses ${input}`, () => {
      assert.deepEqual(parsePlatform(input), want);
      assert.equal(formatPlatform(parsePlatform(input)), formatted);
    });
  }

  const INVALID = ['', 'linux', 'linux/', '/amd64', 'linux/amd64/', 'linux/arm/v7/extra', 'linux amd64', 'linux/am d64', 'all'];
  for (const input of INVALID) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      assert.throws(() => parsePlatform(input), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && e.message.includes(JSON.stringify(input)));
    });
  }
});

describe('platformMatches', () => {
  const p = (s: string): Platform => {
    const [os, architecture, variant] = s.split('/') as [string, string, string | undefined];
    return variant ? { os, architecture, variant } : { os, architecture };
  };
  const CASES: Array<[string, string, boolean]> = [
    // [want, have, match]
    ['linux/amd64', 'linux/amd64', true],
    ['linux/amd64', 'linux/arm64', false],
    ['linux/amd64', 'windows/amd64', false],
    ['linux/amd64', 'linux/amd64/v2', true],
    ['linux/amd64/v1', 'linux/amd64', true],
    ['linux/amd64/v2', 'linux/amd64', false],
    ['linux/arm64', 'linux/arm64/v8', true],
    ['linux/arm64', 'linux/arm64', true],
    ['linux/arm64/v8', 'linux/arm64', true],
    ['linux/arm64/v8', 'linux/arm64/v8', true],
    ['linux/arm64/8', 'linux/arm64/v8', true],
    ['linux/arm64/v9', 'linux/arm64', false],
    ['linux/arm/v7', 'linux/arm', true],
    ['linux/arm/v6', 'linux/arm/v7', false],
    ['linux/arm', 'linux/arm/v6', true],
    ['linux/x86_64', 'linux/amd64', true],
    ['linux/aarch64', 'linux/arm64/v8', true],
    // A Platform not made by parsePlatform (a library caller's) gets the implied variant too.
    ['linux/armhf', 'linux/arm/v7', true],
    ['linux/armhf', 'linux/arm', true],
    ['linux/armhf', 'linux/arm/v6', false],
    ['linux/armel', 'linux/arm/v6', true],
    ['linux/armv6l', 'linux/arm/v7', false],
    ['linux/armv7l', 'linux/armhf', true],
    ['linux/arm/v6', 'linux/armel', true],
  ];
  for (const [want, have, match] of CASES) {
    it(`${want} vs ${have} -> ${match}`, () => assert.equal(platformMatches(p(want), p(have)), match));
  }
});

const child = (c: string, platform: Platform, annotations?: Record<string, string>): Descriptor => ({
  mediaType: MediaType.OCI_MANIFEST,
  digest: `sha256:${c.repeat(64)}`,
  size: 100,
  platform,
  ...(annotations ? { annotations } : {}),
});

const amd64 = child('1', { os: 'linux', architecture: 'amd64' });
const arm64 = child('2', { os: 'linux', architecture: 'arm64', variant: 'v8' });
const armv6 = child('3', { os: 'linux', architecture: 'arm', variant: 'v6' });
const armv7 = child('4', { os: 'linux', architecture: 'arm', variant: 'v7' });
const attestUnknown = child('5', { os: 'unknown', architecture: 'unknown' }, {
  'vnd.docker.reference.digest': amd64.digest,
  'vnd.docker.reference.type': 'attestation-manifest',
});
const attestAnnotated = child('6', { os: 'linux', architecture: 'amd64' }, { 'vnd.docker.reference.type': 'attestation-manifest' });
const unknownOnly = child('7', { os: 'unknown', architecture: 'unknown' });
const index: ImageIndex = {
  schemaVersion: 2,
  mediaType: MediaType.OCI_INDEX,
  manifests: [attestAnnotated, amd64, armv6, armv7, arm64, attestUnknown, unknownOnly],
};

describe('attestations', () => {
  it('isAttestation', () => {
    assert.equal(isAttestation(attestUnknown), true);
    assert.equal(isAttestation(attestAnnotated), true);
    assert.equal(isAttestation(unknownOnly), true);
    assert.equal(isAttestation(amd64), false);
    assert.equal(isAttestation({ mediaType: MediaType.OCI_MANIFEST, digest: amd64.digest, size: 1 }), false);
  });

  it('imagePlatforms keeps image children in order', () => {
    assert.deepEqual(imagePlatforms(index), [amd64, armv6, armv7, arm64]);
  });
});

describe('selectPlatform', () => {
  const CASES: Array<[string, Descriptor]> = [
    ['linux/amd64', amd64],
    ['linux/arm64', arm64],
    ['linux/arm64/v8', arm64],
    ['linux/arm/v6', armv6],
    ['linux/arm/v7', armv7],
    // No variant asked: the architecture's default variant (v7 for arm) wins over index order.
    ['linux/arm', armv7],
    ['linux/armhf', armv7],
    ['linux/armv7l', armv7],
    ['linux/armel', armv6],
    ['linux/armv6l', armv6],
    ['linux/aarch64', arm64],
    ['linux/aarch64/v8', arm64],
  ];
  for (const [want, expected] of CASES) {
    it(`${want} -> ${expected.digest.slice(7, 8)}`, () => assert.equal(selectPlatform(index, parsePlatform(want)), expected));
  }

  it('never picks an attestation that claims a real platform', () => {
    const onlyAttest: ImageIndex = { schemaVersion: 2, manifests: [attestAnnotated] };
    assert.throws(() => selectPlatform(onlyAttest, parsePlatform('linux/amd64')), { name: 'NotFoundError', code: 'E_NOT_FOUND', message: /available: none/ });
  });

  it('lists the available platforms when nothing matches', () => {
    assert.throws(
      () => selectPlatform(index, parsePlatform('linux/s390x')),
      (e: unknown) => {
        assert.ok(e instanceof NotFoundError);
        assert.equal(e.code, 'E_NOT_FOUND');
        assert.equal(e.message, 'platform linux/s390x is not in the index; available: linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8');
        return true;
      },
    );
  });

  it('an alias implies its variant even in a Platform given as it is (library callers): armel is never arm/v7', () => {
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'armel' }), armv6);
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'armhf' }), armv7);
    assert.throws(() => selectPlatform({ schemaVersion: 2, manifests: [amd64, armv7] }, { os: 'linux', architecture: 'armel' }), { name: 'NotFoundError', code: 'E_NOT_FOUND', message: /^platform linux\/armel is not in the index; available: linux\/amd64, linux\/arm\/v7$/ });
  });

  it('matches a variant-less child when v8 is asked for', () => {
    const plain = child('8', { os: 'linux', architecture: 'arm64' });
    assert.equal(selectPlatform({ schemaVersion: 2, manifests: [amd64, plain] }, parsePlatform('linux/arm64/v8')), plain);
  });
});

describe('os version: os(osversion)/arch[/variant], containerd\'s spelling', () => {
  it('parses and formats it back; the version is kept as written', () => {
    const p = parsePlatform('Windows(10.0.20348.1)/AMD64');
    assert.deepEqual(p, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1' });
    assert.equal(formatPlatform(p), 'windows(10.0.20348.1)/amd64');
    assert.deepEqual(parsePlatform('linux(5.15-rc1)/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8', 'os.version': '5.15-rc1' });
  });

  const BAD: Array<[string, RegExp]> = [
    ['windows(10.0.20348.1/amd64', /unbalanced parentheses in "windows\(10\.0\.20348\.1"/],
    ['windows10.0.20348.1)/amd64', /unbalanced parentheses/],
    ['windows((10.0))/amd64', /unbalanced parentheses/],
    ['windows(10.0)x/amd64', /unbalanced parentheses/],
    ['windows()/amd64', /empty os version in "windows\(\)"/],
    ['windows(10 0)/amd64', /os version "10 0" has characters other than/],
    ['(10.0.20348.1)/amd64', /expected os\/arch\[\/variant\] or os\(osversion\)\/arch\[\/variant\]/],
    ['windows(10.0.20348.1)', /expected os\/arch/],
    ['windows/amd64(10.0)', /an os version goes in parentheses right after the os/],
  ];
  for (const [input, why] of BAD) {
    it(`rejects ${JSON.stringify(input)} in one line`, () => {
      assert.throws(() => parsePlatform(input), (e: unknown) => {
        assert.ok(e instanceof UsageError && e.code === 'E_USAGE');
        assert.ok(e.message.startsWith(`invalid platform ${JSON.stringify(input)}: `), e.message);
        assert.match(e.message, why);
        assert.ok(!e.message.includes('\n'));
        assert.match(e.message, /e\.g\. .*windows\(10\.0\.20348\.1\)\/amd64$/);
        return true;
      });
    });
  }

  const ltsc2019 = child('a', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.5329' });
  const ltsc2022 = child('b', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2227' });
  const windows: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [ltsc2019, ltsc2022, amd64] };

  it('matches the version exactly, only when asked for', () => {
    const have = ltsc2022.platform!;
    assert.equal(platformMatches(parsePlatform('windows(10.0.20348.2227)/amd64'), have), true);
    assert.equal(platformMatches(parsePlatform('windows(10.0.20348)/amd64'), have), false, 'a prefix is not the version');
    assert.equal(platformMatches(parsePlatform('windows(10.0.20348.2228)/amd64'), have), false);
    assert.equal(platformMatches(parsePlatform('windows(10.0.20348.2227)/amd64'), { os: 'windows', architecture: 'amd64' }), false, 'an entry without a version');
    assert.equal(platformMatches(parsePlatform('windows/amd64'), have), true, 'no version asked: any');
  });

  it('selectPlatform picks the child of that version; without one, the first; a missing one lists the versions there are', () => {
    assert.equal(selectPlatform(windows, parsePlatform('windows(10.0.20348.2227)/amd64')), ltsc2022);
    assert.equal(selectPlatform(windows, parsePlatform('windows(10.0.17763.5329)/amd64')), ltsc2019);
    assert.equal(selectPlatform(windows, parsePlatform('windows/amd64')), ltsc2019);
    assert.throws(
      () => selectPlatform(windows, parsePlatform('windows(10.0.26100.1)/amd64')),
      (e: unknown) => e instanceof NotFoundError && e.code === 'E_NOT_FOUND' && e.message === 'platform windows(10.0.26100.1)/amd64 is not in the index; available: windows(10.0.17763.5329)/amd64, windows(10.0.20348.2227)/amd64, linux/amd64',
    );
  });

  it('osVersionChoice: a platform without a version that matches images of several OS versions is said, with the first taken and how to name one', () => {
    assert.equal(
      osVersionChoice(windows, parsePlatform('windows/amd64')),
      'windows/amd64 matches images of 2 OS versions (10.0.17763.5329, 10.0.20348.2227); taking the first, 10.0.17763.5329. A host runs only images of its own OS version: name one with windows(VERSION)/amd64, e.g. windows(10.0.20348.2227)/amd64',
    );
    assert.equal(osVersionChoice(windows, parsePlatform('windows(10.0.20348.2227)/amd64')), undefined, 'named: nothing to say');
    assert.equal(osVersionChoice(windows, parsePlatform('linux/amd64')), undefined, 'one match');
  });
});
