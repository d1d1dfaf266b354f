import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidReferenceError } from '../../src/errors.js';
import {
  checkTag,
  formatReference,
  manifestRef,
  parseReference,
  repositoryName,
  type ImageReference,
} from '../../src/ref/reference.js';
import { apiHost, canonicalRegistry, DOCKER_HUB, DOCKER_HUB_API_HOST, isDockerHub, registryHostOf } from '../../src/ref/registry.js';
import { inCidr, isLoopbackHost, withoutPort } from '../../src/ref/host-address.js';
import { knownTokenHost } from '../../src/auth/presumed-challenge.js';
import { endpointFor, parseInsecureList } from '../../src/registry/endpoint.js';
import { bypassesProxy } from '../../src/http/proxy-choice.js';

const D256 = `sha256:${'a'.repeat(64)}`;
const D512 = `sha512:${'0123456789abcdef'.repeat(8)}`;

/** [input, expected parse result, expected formatReference output]. */
const VALID: Array<[string, ImageReference, string]> = [
  ['aspnet:2.2', { registry: 'docker.io', repository: 'library/aspnet', tag: '2.2' }, 'docker.io/library/aspnet:2.2'],
  ['nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }, 'docker.io/library/nginx:latest'],
  ['library/nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }, 'docker.io/library/nginx:latest'],
  ['bitnami/redis:7', { registry: 'docker.io', repository: 'bitnami/redis', tag: '7' }, 'docker.io/bitnami/redis:7'],
  ['docker.io/nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }, 'docker.io/library/nginx:latest'],
  ['docker.io/library/nginx:1', { registry: 'docker.io', repository: 'library/nginx', tag: '1' }, 'docker.io/library/nginx:1'],
  ['index.docker.io/nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }, 'docker.io/library/nginx:latest'],
  ['index.docker.io/foo/bar:x', { registry: 'docker.io', repository: 'foo/bar', tag: 'x' }, 'docker.io/foo/bar:x'],
  ['registry-1.docker.io/alpine:3', { registry: 'docker.io', repository: 'library/alpine', tag: '3' }, 'docker.io/library/alpine:3'],
  ['Docker.IO/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }, 'docker.io/library/alpine:latest'],
  ['mcr.microsoft.com/dotnet/core/aspnet:2.2', { registry: 'mcr.microsoft.com', repository: 'dotnet/core/aspnet', tag: '2.2' }, 'mcr.microsoft.com/dotnet/core/aspnet:2.2'],
  ['ghcr.io/o/r', { registry: 'ghcr.io', repository: 'o/r', tag: 'latest' }, 'ghcr.io/o/r:latest'],
  ['quay.io/single', { registry: 'quay.io', repository: 'single', tag: 'latest' }, 'quay.io/single:latest'],
  ['Registry.Example.COM/app:1.0', { registry: 'registry.example.com', repository: 'app', tag: '1.0' }, 'registry.example.com/app:1.0'],
  ['localhost/app', { registry: 'localhost', repository: 'app', tag: 'latest' }, 'localhost/app:latest'],
  // Not all lower case makes the first component a host (distribution/reference); localhost in
  // any case stays localhost, and its lower-case spelling reads back the same.
  ['LOCALHOST/app', { registry: 'localhost', repository: 'app', tag: 'latest' }, 'localhost/app:latest'],
  ['LocalHost/team/app:1', { registry: 'localhost', repository: 'team/app', tag: '1' }, 'localhost/team/app:1'],
  ['localhost:5000/app:dev', { registry: 'localhost:5000', repository: 'app', tag: 'dev' }, 'localhost:5000/app:dev'],
  ['localhost:5000/a/b/c', { registry: 'localhost:5000', repository: 'a/b/c', tag: 'latest' }, 'localhost:5000/a/b/c:latest'],
  ['myhost:5000/app', { registry: 'myhost:5000', repository: 'app', tag: 'latest' }, 'myhost:5000/app:latest'],
  ['127.0.0.1:5000/app:1', { registry: '127.0.0.1:5000', repository: 'app', tag: '1' }, '127.0.0.1:5000/app:1'],
  ['10.1.2.3/team/app', { registry: '10.1.2.3', repository: 'team/app', tag: 'latest' }, '10.1.2.3/team/app:latest'],
  ['[::1]:5000/app', { registry: '[::1]:5000', repository: 'app', tag: 'latest' }, '[::1]:5000/app:latest'],
  ['[2001:DB8::1]/app:v', { registry: '[2001:db8::1]', repository: 'app', tag: 'v' }, '[2001:db8::1]/app:v'],
  [`nginx@${D256}`, { registry: 'docker.io', repository: 'library/nginx', digest: D256 }, `docker.io/library/nginx@${D256}`],
  [`nginx:1.25@${D256}`, { registry: 'docker.io', repository: 'library/nginx', tag: '1.25', digest: D256 }, `docker.io/library/nginx:1.25@${D256}`],
  [`localhost:5000/app@${D512}`, { registry: 'localhost:5000', repository: 'app', digest: D512 }, `localhost:5000/app@${D512}`],
  ['a/b_c/d__e/f-g/h--i/j.k:T_a.g-1', { registry: 'docker.io', repository: 'a/b_c/d__e/f-g/h--i/j.k', tag: 'T_a.g-1' }, 'docker.io/a/b_c/d__e/f-g/h--i/j.k:T_a.g-1'],
  ['app:_under', { registry: 'docker.io', repository: 'library/app', tag: '_under' }, 'docker.io/library/app:_under'],
  [`app:${'t'.repeat(128)}`, { registry: 'docker.io', repository: 'library/app', tag: 't'.repeat(128) }, `docker.io/library/app:${'t'.repeat(128)}`],
  // Docker does the same: without a "/", "localhost:5000" is the name "localhost" with tag "5000".
  ['localhost:5000', { registry: 'docker.io', repository: 'library/localhost', tag: '5000' }, 'docker.io/library/localhost:5000'],
  // Docker reads a lone dotted name as a Docker Hub repository, not a host.
  ['registry.example.com', { registry: 'docker.io', repository: 'library/registry.example.com', tag: 'latest' }, 'docker.io/library/registry.example.com:latest'],
  ['0/app', { registry: 'docker.io', repository: '0/app', tag: 'latest' }, 'docker.io/0/app:latest'],
];

/** [input, a fragment the error message must contain]. */
const INVALID: Array<[string, string]> = [
  ['', 'empty'],
  [' nginx', 'whitespace'],
  ['nginx ', 'whitespace'],
  ['ngi nx', 'whitespace'],
  ['https://registry.example.com/app', 'scheme'],
  ['docker://nginx', 'scheme'],
  // http:// alone dropped, a non-loopback registry would be asked over HTTPS: the setting for plain
  // HTTP is named (the library's option here; the CLI's flag: reference-scheme-names.test.ts).
  ['http://reg.example:5000/app:1', 'a reference has no scheme; drop "http://" and add insecureRegistries: ["reg.example:5000"] for plain HTTP: "reg.example:5000/app:1"'],
  ['HTTP://10.0.0.5/team/app', 'drop "HTTP://" and add insecureRegistries: ["10.0.0.5"] for plain HTTP'],
  ['http://localhost:5000/app:1', 'drop "http://" ("localhost:5000/app:1"): a loopback registry is asked in plain HTTP already'],
  ['http://127.0.0.1:5000/app', 'a loopback registry is asked in plain HTTP already'],
  ['http://nginx:1', 'a reference has no scheme; drop "http://" (e.g. "registry.example.com/app:1.0")'],
  // Without the scheme, a one-label host is a Docker Hub namespace: no reference is offered that would push there.
  ['http://myregistry/app:1', 'without "http://" this one would not name the registry myregistry: write the registry with its port or a full name'],
  // What is left is no reference either: the scheme is named, and what else is wrong.
  ['http://reg.example:5000/App:1', 'drop "http://" (what is left is not a reference either: repository name must be lowercase ("App"))'],
  ['Nginx', 'lowercase'],
  ['docker.io/Library/nginx', 'lowercase'],
  // A host to Docker (not all lower case), but "myorg/app" would be a Docker Hub repository: refused, saying so.
  ['MyOrg/app', '"MyOrg" is not lower case, so Docker reads it as a registry host'],
  ['MyHost/app:1', '"myhost/app" is a Docker Hub repository: give the host a port or domain (e.g. myhost:5000/app)'],
  ['MYHOST/a/b', 'registry host'],
  ['nginx:', 'tag is empty'],
  ['nginx:-dash', 'tag'],
  ['nginx:.dot', 'tag'],
  ['nginx:a/b', 'invalid registry host'],
  [`nginx:${'t'.repeat(129)}`, 'longer than 128'],
  ['nginx@', 'empty'],
  ['nginx@sha256:abc', '64 hex'],
  [`nginx@sha256:${'A'.repeat(64)}`, 'lower-case'],
  [`nginx@sha256:${'g'.repeat(64)}`, 'hex'],
  [`nginx@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
  [`nginx@sha512:${'a'.repeat(64)}`, '128 hex'],
  [`nginx@${'a'.repeat(64)}`, 'sha256:'],
  [`nginx@${D256}@${D256}`, 'more than one "@"'],
  [`@${D256}`, 'empty'],
  ['/nginx', 'empty path component'],
  ['nginx/', 'empty path component'],
  ['a//b', 'empty path component'],
  ['registry.example.com/', 'empty path component'],
  ['-app', 'invalid repository path component'],
  ['app-', 'invalid repository path component'],
  ['a..b', 'invalid repository path component'],
  ['a___b', 'invalid repository path component'],
  ['a_-b', 'invalid repository path component'],
  ['localhost:port/app', 'invalid registry host'],
  ['localhost:99999/app', 'out of range'],
  ['localhost:0/app', 'out of range'],
  // HOST's grammar lets these through; the URL parser refuses them (a last label that is a number
  // is read as an IPv4 address), and they ended as an internal "Invalid URL" (exit 1).
  ['300.1.1.1:5000/app', 'invalid registry host "300.1.1.1:5000"'],
  ['10.0.0.256/app', 'invalid registry host'],
  ['reg.123/app', 'invalid registry host'],
  ['[1:2]:5000/app', 'invalid registry host'],
  ['-bad.host/app', 'invalid registry host'],
  ['::1/app', 'invalid registry host'],
  [':5000/app', 'invalid registry host'],
  ['[::1/app', 'invalid registry host'],
  [`example.com/${'a'.repeat(250)}`, 'longer than 255'],
  [`${'a'.repeat(250)}`, 'longer than 255'],
];

describe('parseReference: valid references', () => {
  for (const [input, want, formatted] of VALID) {
    it(`${input.length > 80 ? input.slice(0, 77) + '...' : input}`, () => {
      const got = parseReference(input);
      assert.deepEqual(got, want);
      assert.equal(formatReference(got), formatted);
      // Formatting is canonical: parsing the formatted form gives the same reference back.
      assert.deepEqual(parseReference(formatted), want);
    });
  }
});

describe('parseReference: invalid references', () => {
  for (const [input, fragment] of INVALID) {
    it(`${JSON.stringify(input.length > 80 ? input.slice(0, 77) + '...' : input)} -> ${fragment}`, () => {
      assert.throws(
        () => parseReference(input),
        (err: unknown) => {
          assert.ok(err instanceof InvalidReferenceError, `wrong error type: ${String(err)}`);
          assert.equal(err.code, 'E_REFERENCE');
          assert.ok(err.message.includes(JSON.stringify(input)), `message does not quote the input: ${err.message}`);
          assert.ok(err.message.includes(fragment), `message lacks "${fragment}": ${err.message}`);
          return true;
        },
      );
    });
  }
});

describe('reference helpers', () => {
  it('repositoryName drops tag and digest', () => {
    assert.equal(repositoryName(parseReference(`nginx:1@${D256}`)), 'docker.io/library/nginx');
    assert.equal(repositoryName(parseReference('[::1]:5000/a/b:c')), '[::1]:5000/a/b');
  });

  it('manifestRef prefers the digest, then the tag', () => {
    assert.equal(manifestRef(parseReference(`nginx:1@${D256}`)), D256);
    assert.equal(manifestRef(parseReference('nginx:1')), '1');
    assert.equal(manifestRef(parseReference('nginx')), 'latest');
    assert.equal(manifestRef({ registry: 'r.io', repository: 'x' }), 'latest');
  });

  const HOSTS: Array<[string, boolean, string]> = [
    ['docker.io', true, 'registry-1.docker.io'],
    ['index.docker.io', true, 'registry-1.docker.io'],
    ['registry-1.docker.io', true, 'registry-1.docker.io'],
    ['ghcr.io', false, 'ghcr.io'],
    ['localhost:5000', false, 'localhost:5000'],
    ['docker.io.evil.com', false, 'docker.io.evil.com'],
  ];
  for (const [host, hub, api] of HOSTS) {
    it(`isDockerHub/apiHost ${host}`, () => {
      assert.equal(isDockerHub(host), hub);
      assert.equal(apiHost(host), api);
    });
  }

  it('knownTokenHost: Docker Hub and Aliyun regional API hosts only', () => {
    const cases: Array<[string, string | undefined]> = [
      ['registry-1.docker.io', 'auth.docker.io'],
      ['docker.io', undefined], // a reference name, not the API host the requests go to
      ['registry.cn-hangzhou.aliyuncs.com', 'dockerauth.cn-hangzhou.aliyuncs.com'],
      ['Registry.AP-Southeast-1.aliyuncs.com', 'dockerauth.ap-southeast-1.aliyuncs.com'],
      ['registry-vpc.cn-hangzhou.aliyuncs.com', undefined],
      ['registry.aliyuncs.com.evil.com', undefined],
      ['registry..aliyuncs.com', undefined],
      ['ghcr.io', undefined],
    ];
    for (const [host, want] of cases) assert.equal(knownTokenHost(host), want, host);
  });

  const LOOPBACK: Array<[string, boolean]> = [
    ['localhost', true],
    ['localhost:5000', true],
    ['LOCALHOST:5000', true],
    ['127.0.0.1', true],
    ['127.0.0.1:5000', true],
    ['127.255.10.1:443', true],
    ['[::1]:5000', true],
    ['[::1]', true],
    ['::1', true],
    ['[0:0:0:0:0:0:0:1]:5000', true],
    ['128.0.0.1:5000', false],
    ['127.0.0.256', false],
    ['10.0.0.1', false],
    ['[::2]:5000', false],
    ['[::]:5000', false],
    ['localhost.example.com', false],
    ['127.0.0.1.nip.io', false],
    ['registry.example.com:5000', false],
    // RFC 6761 §6.3: every name under .localhost is loopback, in every caller alike.
    ['app.localhost', true],
    ['app.localhost:5000', true],
    ['a.b.LOCALHOST:443', true],
    ['notlocalhost', false],
    ['notlocalhost:5000', false],
    ['localhost.', false],
    ['127.0.0.1:5000', true],
    ['0.0.0.0:5000', false],
    ['::ffff:127.0.0.1', true],
    ['[::ffff:127.0.0.1]:5000', true],
    ['[::ffff:7f00:1]:5000', true],
    ['[::ffff:10.0.0.1]:5000', false],
    ['[0:0:0:0:0:0:0:0:1]', false],
    ['[::1::]', false],
    ['[1::1]', false],
    ['[fe80::1]:5000', false],
  ];
  for (const [host, want] of LOOPBACK) {
    it(`isLoopbackHost ${host} -> ${want}`, () => assert.equal(isLoopbackHost(host), want));
  }

  it('the endpoint, the proxy bypass and the name model agree on every loopback case', () => {
    for (const [host, want] of LOOPBACK) {
      const url = tryUrl(`https://${host}/v2/`);
      // Hosts a URL can carry: the proxy must bypass exactly the loopback ones.
      if (url) assert.equal(bypassesProxy(url, undefined), want, `proxy bypass ${host}`);
      if (/^\[.*\](:\d+)?$|^[^:]+(:\d+)?$/.test(host)) {
        // Loopback registries may fall back to plain http ('auto'); others are https unless named insecure.
        assert.equal(endpointFor(host).scheme, want ? 'auto' : 'https', `endpoint ${host}`);
      }
    }
  });

  it('parsed loopback registries are recognised', () => {
    assert.equal(isLoopbackHost(parseReference('[::1]:5000/app').registry), true);
    assert.equal(isLoopbackHost(parseReference('127.0.0.1:5000/app').registry), true);
    assert.equal(isLoopbackHost(parseReference('app').registry), false);
  });

  it('a parsed .localhost registry is a host, not a Docker Hub namespace, and is loopback', () => {
    const ref = parseReference('App.Localhost:5000/team/app:1');
    assert.deepEqual(ref, { registry: 'app.localhost:5000', repository: 'team/app', tag: '1' });
    assert.equal(isLoopbackHost(ref.registry), true);
  });
});

function tryUrl(s: string): URL | undefined {
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}

describe('registry names', () => {
  it('Docker Hub constants', () => {
    assert.equal(DOCKER_HUB, 'docker.io');
    assert.equal(DOCKER_HUB_API_HOST, 'registry-1.docker.io');
  });

  const CANONICAL: Array<[string, string]> = [
    ['docker.io', 'docker.io'],
    ['Docker.IO', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['REGISTRY-1.DOCKER.IO', 'docker.io'],
    ['GHCR.io', 'ghcr.io'],
    ['Reg.Example.com:5000', 'reg.example.com:5000'],
    ['docker.io:443', 'docker.io:443'],
    ['hub.docker.io', 'hub.docker.io'],
  ];
  for (const [input, want] of CANONICAL) {
    it(`canonicalRegistry ${input} -> ${want}`, () => assert.equal(canonicalRegistry(input), want));
  }

  it('every Docker Hub alias, in any spelling, parses to the same registry and API host', () => {
    for (const alias of ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'Index.Docker.IO']) {
      const ref = parseReference(`${alias}/nginx:1`);
      assert.deepEqual(ref, { registry: 'docker.io', repository: 'library/nginx', tag: '1' }, alias);
      assert.equal(apiHost(ref.registry), 'registry-1.docker.io');
      assert.equal(registryHostOf(alias), 'docker.io');
      assert.equal(isDockerHub(alias), true);
      assert.equal(endpointFor(ref.registry).host, 'registry-1.docker.io');
    }
  });

  const HOST_OF: Array<[string, string | undefined]> = [
    ['ghcr.io', 'ghcr.io'],
    ['https://ghcr.io', 'ghcr.io'],
    ['https://ghcr.io/', 'ghcr.io'],
    ['http://Registry.Example.com:5000/v2/', 'registry.example.com:5000'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['  docker.io  ', 'docker.io'],
    ['[::1]:5000', '[::1]:5000'],
    ['app.localhost:5000', 'app.localhost:5000'],
    ['quay.io/org', undefined],
    // Without a scheme /v2 is a namespace (podman login quay.io/v2); with one it is the API path.
    ['quay.io/v2', undefined],
    ['quay.io/v1/', undefined],
    ['https://quay.io/v2', 'quay.io'],
    ['https://quay.io/org/', undefined],
    ['user@ghcr.io', undefined],
    ['', undefined],
    ['https://', undefined],
    ['reg example.com', undefined],
    ['-bad.example.com', undefined],
    ['ghcr.io:port', undefined],
    // Hosts no URL can hold (catalog, login, logout, --ca-cert and mirror keys read hosts through here).
    ['127.0.0.1:99999', undefined],
    ['127.0.0.1:0', undefined],
    ['300.1.1.1:5000', undefined],
    ['[1:2]', undefined],
    ['10.0.0.255:5000', '10.0.0.255:5000'],
  ];
  for (const [input, want] of HOST_OF) {
    it(`registryHostOf ${JSON.stringify(input)} -> ${want}`, () => assert.equal(registryHostOf(input), want));
  }

  const WITHOUT_PORT: Array<[string, string]> = [
    ['Reg.Example.com:5000', 'reg.example.com'],
    ['ghcr.io', 'ghcr.io'],
    ['[::1]:5000', '[::1]'],
    ['[::1]', '[::1]'],
    ['::1', '::1'],
    ['127.0.0.1:5000', '127.0.0.1'],
  ];
  for (const [input, want] of WITHOUT_PORT) {
    it(`withoutPort ${input} -> ${want}`, () => assert.equal(withoutPort(input), want));
  }

  it('insecure entries match in any spelling of the registry', () => {
    assert.equal(endpointFor('reg.example.com:5000', ['Reg.Example.COM:5000']).scheme, 'http');
    assert.equal(endpointFor('reg.example.com:5000', ['reg.example.com']).scheme, 'http');
    assert.equal(endpointFor('reg.example.com:5000', ['reg.example.com:6000']).scheme, 'https');
    assert.equal(endpointFor('docker.io', ['index.docker.io']).scheme, 'http');
    assert.equal(endpointFor('ghcr.io', []).scheme, 'https');
    assert.equal(endpointFor('[::1]:5000', ['[::1]']).scheme, 'http');
  });

  it('an insecure entry written as a bare IPv6 address (no brackets) names that address in brackets, any port', () => {
    for (const entry of ['fd00::2', 'FD00::2', 'http://fd00::2', '[fd00::2]']) {
      assert.equal(endpointFor('[fd00::2]:5000', parseInsecureList(entry)).scheme, 'http', entry);
      assert.equal(endpointFor('[fd00::2]', parseInsecureList(entry)).scheme, 'http', entry);
      assert.equal(endpointFor('[fd00::3]:5000', parseInsecureList(entry)).scheme, 'https', entry);
    }
    // The whole text is the address: its last group is no port.
    assert.equal(endpointFor('[fd00::1]:5000', ['fd00::1:5000']).scheme, 'https');
    assert.equal(endpointFor('[fd00::1:5000]', ['fd00::1:5000']).scheme, 'http');
  });

  it('an insecure entry may be a range, as in Docker\'s insecure-registries: it covers registries named by an address in it, any port', () => {
    assert.equal(endpointFor('10.1.2.3:5000', ['10.0.0.0/8']).scheme, 'http');
    assert.equal(endpointFor('10.1.2.3', parseInsecureList('192.168.0.0/16, 10.0.0.0/8')).scheme, 'http');
    assert.equal(endpointFor('11.1.2.3:5000', ['10.0.0.0/8']).scheme, 'https');
    assert.equal(endpointFor('192.168.1.7:5000', ['192.168.1.0/24']).scheme, 'http');
    assert.equal(endpointFor('192.168.2.7:5000', ['192.168.1.0/24']).scheme, 'https');
    assert.equal(endpointFor('[fd00::5]:5000', ['fd00::/8']).scheme, 'http');
    assert.equal(endpointFor('[fe80::5]:5000', ['fd00::/8']).scheme, 'https');
    // A name is not resolved: only an address matches a range.
    assert.equal(endpointFor('reg.internal:5000', ['10.0.0.0/8']).scheme, 'https');
    // Malformed ranges match nothing.
    for (const bad of ['10.0.0.0/33', '10.0.0.0/x', '10.0.0/8', 'reg.internal/8']) assert.equal(endpointFor('10.1.2.3:5000', [bad]).scheme, 'https', bad);
    assert.equal(inCidr('0.0.0.0/0', '8.8.8.8'), true);
    assert.equal(inCidr('10.0.0.0/8', 'fd00::1'), false);
  });
});

describe('checkTag', () => {
  for (const tag of ['latest', 'v1.2.3', '_x', 'A-b_c.d', 'x'.repeat(128)]) {
    it(`accepts ${tag.slice(0, 20)}`, () => assert.equal(checkTag(tag), tag));
  }
  const BAD: Array<[string, RegExp]> = [
    ['', /tag is empty/],
    ['.hidden', /may only contain/],
    ['-dash', /may only contain/],
    ['bad!tag', /"bad!tag"/],
    ['a/b', /may only contain/],
    ['x'.repeat(129), /longer than 128/],
    ['tag with space', /may only contain/],
  ];
  for (const [tag, why] of BAD) {
    it(`rejects ${JSON.stringify(tag.slice(0, 20))}`, () =>
      assert.throws(() => checkTag(tag), (e: unknown) => e instanceof InvalidReferenceError && e.code === 'E_REFERENCE' && why.test(e.message)));
  }
});
