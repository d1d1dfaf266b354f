// RegistryClient against scripted in-process servers: the exchanges real registries vary on.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Transport } from '../../src/http/transport.js';
import { CONNECTION_FLAG_NAMES } from '../../src/cli/connection-flags.js';
import { HttpRegistryClient } from '../../src/registry/http-registry-client.js';
import { withQuery } from '../../src/registry/blob-uploads.js';
import { MAX_TAG_PAGES } from '../../src/registry/name-lists.js';
import { nextLink } from '../../src/registry/pagination.js';
import { MAX_REFERRER_PAGES } from '../../src/registry/referrers-api.js';
import { endpointFor, parseInsecureList } from '../../src/registry/endpoint.js';
import { uploadLocationOf } from '../../src/registry/registry-client.js';
import { MAX_INDEX_CHILDREN } from '../../src/image/manifest.js';
import { AbortedError, DeniedError, DigestMismatchError, NotFoundError, ProtocolError, RegistryError, RegpushError, UnsupportedError } from '../../src/errors.js';
import { restartOutcome } from '../../src/http/retry.js';
import { errorLine } from '../../src/cli/main.js';

type Handler = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void;
const servers: http.Server[] = [];
after(() => servers.forEach((s) => s.close()));
const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
/** An AbortedError (E_ABORTED) whose message names what was interrupted (`message`, the whole of it). */
const abortedAt = (message: RegExp) => (e: unknown): boolean => e instanceof Error && e.name === 'AbortedError' && (e as RegpushError).code === 'E_ABORTED' && message.test(e.message);

/**
 * Starts `start` (a request that the agent must queue: its sockets all busy) and resolves, with
 * what `start` returned (`started`: a promise, not awaited), once the agent has queued that
 * request: told by the agent itself, where it queues it.
 */
async function queuedInAgent<T>(start: () => T): Promise<{ started: T }> {
  const agentProto = http.Agent.prototype as unknown as { addRequest: (...args: unknown[]) => unknown };
  const addRequest = agentProto.addRequest;
  const queued = new Promise<void>((resolve) => {
    agentProto.addRequest = function (this: http.Agent, ...args: unknown[]) {
      const out = addRequest.apply(this, args);
      agentProto.addRequest = addRequest;
      resolve();
      return out;
    };
  });
  const started = start();
  try {
    await queued;
  } finally {
    agentProto.addRequest = addRequest;
  }
  return { started };
}

async function registry(handler: Handler): Promise<{ host: string; client: HttpRegistryClient; transport: Transport; log: string[]; server: http.Server }> {
  const log: string[] = [];
  const s = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      log.push(`${req.method} ${req.url}`);
      handler(req, Buffer.concat(chunks), res);
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(s.address() as AddressInfo).port}`;
  const transport = new Transport({ retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 2 } });
  // Named insecure: no TLS probe, so the scripted exchange is exactly what the test lists.
  return { host, client: new HttpRegistryClient({ registry: host, transport, insecure: [host] }), transport, log, server: s };
}

test('uploads follow relative and absolute Location headers and keep the state query', async () => {
  const blob = Buffer.from('hello blob');
  const d = sha(blob);
  for (const style of ['relative', 'absolute'] as const) {
    let host = '';
    const r = await registry((req, body, res) => {
      const u = new URL(req.url!, 'http://x');
      if (req.method === 'POST') {
        const loc = `/v2/app/blobs/uploads/abc?_state=s1`;
        res.writeHead(202, { location: style === 'relative' ? loc : `http://${host}${loc}` });
        return res.end();
      }
      if (req.method === 'PUT') {
        assert.equal(u.searchParams.get('_state'), 's1');
        assert.equal(u.searchParams.get('digest'), d);
        assert.deepEqual(body, blob);
        assert.equal(req.headers['content-type'], 'application/octet-stream');
        res.writeHead(201, { 'docker-content-digest': d });
        return res.end();
      }
      res.writeHead(500).end();
    });
    host = r.host;
    const session = await r.client.startUpload('app');
    await r.client.putUpload(session.url, d, blob.length, blob);
    assert.deepEqual(r.log.map((l) => l.split('?')[0]), ['POST /v2/app/blobs/uploads/', 'PUT /v2/app/blobs/uploads/abc']);
    r.transport.close();
  }
});

test('streamed upload: PATCH then empty PUT ?digest=, each Location carrying the new state', async () => {
  const r = await registry((req, body, res) => {
    if (req.method === 'POST') return res.writeHead(202, { location: '/v2/app/blobs/uploads/u?_state=1' }).end();
    if (req.method === 'PATCH') {
      assert.equal(req.headers['transfer-encoding'], 'chunked');
      assert.equal(body.toString(), 'abcdef');
      return res.writeHead(202, { location: '/v2/app/blobs/uploads/u?_state=2', range: '0-5' }).end();
    }
    if (req.method === 'PUT') {
      assert.match(req.url!, /_state=2/);
      assert.equal(body.length, 0);
      return res.writeHead(201).end();
    }
  });
  const s = await r.client.startUpload('app');
  const next = await r.client.patchUpload(s.url, () => Readable.from([Buffer.from('abc'), Buffer.from('def')]));
  await r.client.completeUpload(next, sha('abcdef'));
  r.transport.close();
});

test('mount: 201 mounted; 202 gives the upload URL to use instead', async () => {
  let mode = 201;
  const r = await registry((req, _b, res) => {
    assert.match(req.url!, /mount=sha256%3A|mount=sha256:/);
    assert.match(req.url!, /from=base%2Fimg|from=base\/img/);
    res.writeHead(mode, mode === 202 ? { location: '/v2/app/blobs/uploads/x' } : named ? { 'docker-content-digest': named } : {}).end();
  });
  let named: string | undefined;
  // A 201 that names the digest confirms the mount; without the header (or naming another) it does not.
  assert.deepEqual(await r.client.mountBlob('app', sha('x'), 'base/img'), { mounted: true, stated: false });
  named = sha('x');
  assert.deepEqual(await r.client.mountBlob('app', sha('x'), 'base/img'), { mounted: true, stated: true });
  named = sha('y');
  assert.deepEqual(await r.client.mountBlob('app', sha('x'), 'base/img'), { mounted: true, stated: false });
  mode = 202;
  const res = await r.client.mountBlob('app', sha('x'), 'base/img');
  assert.equal(res.mounted, false);
  assert.equal(!res.mounted && new URL(res.uploadUrl).pathname, '/v2/app/blobs/uploads/x');
  r.transport.close();
});

test('manifests: digest checked against the bytes and Docker-Content-Digest; schema 1 refused', async () => {
  const m = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:' + 'a'.repeat(64) + '","size":1},"layers":[]}');
  let header = sha(m);
  let type = 'application/vnd.oci.image.manifest.v1+json';
  const r = await registry((req, _b, res) => {
    assert.match(String(req.headers.accept), /oci\.image\.index.*oci\.image\.manifest.*manifest\.list.*manifest\.v2/);
    res.writeHead(200, { 'content-type': type, 'docker-content-digest': header }).end(m);
  });
  const got = await r.client.getManifest('app', 'v1');
  assert.equal(got.digest, sha(m));
  await assert.rejects(r.client.getManifest('app', 'sha256:' + 'b'.repeat(64)), { name: 'DigestMismatchError', code: 'E_DIGEST_MISMATCH', message: new RegExp(`^manifest \\S+/app@sha256:b{64} has digest ${sha(m)}$`) });
  header = 'sha256:' + 'c'.repeat(64);
  await assert.rejects(r.client.getManifest('app', 'v1'), { name: 'DigestMismatchError', code: 'E_DIGEST_MISMATCH', message: new RegExp(`^manifest \\S+/app:v1: registry says sha256:c{64} but the bytes hash to ${sha(m)}$`) });
  type = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
  await assert.rejects(r.client.getManifest('app', 'v1'), { name: 'UnsupportedError', code: 'E_UNSUPPORTED', message: /\/app:v1 is a Docker schema 1 manifest, which regpush does not support; re-push it as schema 2 or OCI/ });
  r.transport.close();
});

test('a sha512 reference is checked as sha512: manifests, Docker-Content-Digest and configs (E_DIGEST_MISMATCH when wrong)', async () => {
  const sha512 = (b: Buffer | string) => 'sha512:' + createHash('sha512').update(b).digest('hex');
  const m = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:' + 'a'.repeat(64) + '","size":1},"layers":[]}');
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  let body = m;
  let header: string | undefined;
  const r = await registry((req, _b, res) => {
    if (req.url!.includes('/blobs/')) return res.writeHead(200, { 'content-length': String(body.length) }).end(body);
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', ...(header ? { 'docker-content-digest': header } : {}) }).end(body);
  });
  // The right bytes pass; the digest handed back is the sha256 of the same bytes.
  const got = await r.client.getManifest('app', sha512(m));
  assert.equal(got.digest, sha(m));
  // One byte changed: same length, another sha512.
  body = Buffer.from(m.toString().replace('"layers":[]', '"layers":[ ]').slice(0, m.length));
  await assert.rejects(r.client.getManifest('app', sha512(m)), (e: Error) => e instanceof DigestMismatchError && e.code === 'E_DIGEST_MISMATCH' && e.message.includes(`has digest ${sha512(body)}`));
  // A stated sha512 that the bytes do not match, on a tag read.
  body = m;
  header = sha512('something else');
  await assert.rejects(r.client.getManifest('app', 'v1'), (e: Error) => e instanceof DigestMismatchError && e.code === 'E_DIGEST_MISMATCH' && e.message.includes(`registry says ${header}`));
  header = sha512(m);
  assert.equal((await r.client.getManifest('app', 'v1')).digest, sha(m));
  // A config named by a sha512 digest.
  body = config;
  assert.deepEqual(await r.client.getBlobBytes('app', sha512(config), 1024), config);
  await assert.rejects(r.client.getBlobBytes('app', sha512('another config'), 1024), (e: Error) => e instanceof DigestMismatchError && e.code === 'E_DIGEST_MISMATCH' && e.message.includes(`got ${sha512(config)}`));
  r.transport.close();
});

test('OCI error bodies become typed errors keeping the registry codes', async () => {
  const r = await registry((_req, _b, res) => {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] }));
  });
  await assert.rejects(r.client.getBlob('app', sha('x')), (e: unknown) => e instanceof NotFoundError && e.code === 'E_NOT_FOUND' && e.details.registryCodes?.[0] === 'BLOB_UNKNOWN');
  await assert.rejects(r.client.getBlob('app', sha('x')), { name: 'NotFoundError', code: 'E_NOT_FOUND', message: new RegExp(`^GET blob \\S+/app@${sha('x')}: \\S+ answered 404 BLOB_UNKNOWN: blob unknown to registry`) });
  assert.equal(await r.client.headBlob('app', sha('x')), undefined);
  r.transport.close();
});

test('an upload without Location, or with a non-http Location, is a ProtocolError', async () => {
  let loc: string | undefined;
  const r = await registry((_req, _b, res) => res.writeHead(202, loc ? { location: loc } : {}).end());
  await assert.rejects(r.client.startUpload('app'), { name: 'ProtocolError', code: 'E_PROTOCOL', message: /opened an upload without a Location header$/ });
  loc = 'ftp://elsewhere/upload';
  await assert.rejects(r.client.startUpload('app'), { name: 'ProtocolError', code: 'E_PROTOCOL', message: /sent an upload Location with scheme ftp: "ftp:\/\/elsewhere\/upload" \(only http and https are followed\)$/ });
  r.transport.close();
});

test('a refused upload Location is quoted whole in its one error line, redacted as other URLs are', async () => {
  // Was: "sent an upload Location with scheme ftp:", which did not say what was sent, nor so
  // show whether the registry or a proxy in front of it wrote it.
  let loc = '';
  const r = await registry((_req, _b, res) => res.writeHead(202, { location: loc }).end());
  const refusal = async (): Promise<string> => {
    const err = await r.client.startUpload('app').then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ProtocolError, String(err));
    assert.equal(err.code, 'E_PROTOCOL');
    assert.doesNotMatch(err.message, /\n/);
    return err.message;
  };
  loc = 'ftp://ci:hunter22@files.example.com/uploads/u1?_state=abc&X-Amz-Signature=deadbeef';
  let message = await refusal();
  assert.match(message, /scheme ftp: "ftp:\/\/\*\*\*@files\.example\.com\/uploads\/u1\?_state=abc&X-Amz-Signature=\*\*\*" \(only http and https are followed\)$/);
  assert.doesNotMatch(message, /hunter22|deadbeef/);
  loc = `gopher://elsewhere/${'x'.repeat(400)}`;
  message = await refusal();
  assert.match(message, /scheme gopher: "gopher:\/\/elsewhere\/x+…" /);
  assert.ok(message.length < 400, message);
  loc = 'http://[::1';
  assert.match(await refusal(), /sent an invalid upload Location "http:\/\/\[::1"$/);
  r.transport.close();
});

test('tag list follows Link pagination', async () => {
  const r = await registry((req, _b, res) => {
    if (!req.url!.includes('last=')) {
      return res.writeHead(200, { link: '</v2/app/tags/list?n=2&last=b>; rel="next"', 'content-type': 'application/json' }).end('{"tags":["a","b"]}');
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"tags":["c"]}');
  });
  assert.deepEqual(await r.client.listTags('app', 2), ['a', 'b', 'c']);
  r.transport.close();
});

test('a tag list whose Link never ends fails with E_PROTOCOL instead of looping or returning a partial list', async () => {
  let n = 0;
  const r = await registry((_req, _b, res) => {
    n++;
    res.writeHead(200, { link: `</v2/app/tags/list?n=1&last=t${n}>; rel="next"`, 'content-type': 'application/json' }).end(`{"tags":["t${n}"]}`);
  });
  await assert.rejects(r.client.listTags('app', 1, 25), (err: unknown) => err instanceof ProtocolError && err.code === 'E_PROTOCOL' && /past 25 pages of 1/.test(err.message));
  assert.equal(n, 25);
  assert.equal(MAX_TAG_PAGES, 10_000);
  r.transport.close();
});

test('a registry that repeats a tag-list page (its Link leads back, or it ignores last=) fails at the first repeat, not at the page bound', async () => {
  for (const link of ['</v2/app/tags/list?n=2&last=b>; rel="next"', (n: number) => `</v2/app/tags/list?n=2&last=b&page=${n}>; rel="next"`]) {
    let n = 0;
    const r = await registry((_req, _b, res) => {
      n++;
      res.writeHead(200, { link: typeof link === 'string' ? link : link(n), 'content-type': 'application/json' }).end('{"tags":["a","b"]}');
    });
    await assert.rejects(r.client.listTags('app', 2), (err: unknown) => err instanceof ProtocolError && err.code === 'E_PROTOCOL' && err.message === `tag list of ${r.client.registry}/app: page 2 repeats what earlier pages listed (the registry does not follow its own Link); the list cannot be read to its end`);
    assert.equal(n, 2, 'pages asked');
    r.transport.close();
  }
});

test('a tag list that is not {"tags": [strings]} is one E_PROTOCOL naming the list; "tags": null and no "tags" are an empty repository', async () => {
  let body = '';
  const r = await registry((_req, _b, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  const what = `tag list of ${r.client.registry}/app`;
  const wrong: [string, string][] = [
    ['null', 'the registry answered null, not a JSON object with "tags"'],
    ['["a"]', 'the registry answered a list, not a JSON object with "tags"'],
    ['"a"', 'the registry answered a string, not a JSON object with "tags"'],
    ['{"tags":"abc"}', '"tags" is a string, not a list'],
    ['{"tags":{"a":1}}', '"tags" is an object, not a list'],
    ['{"errors":[{"code":"DENIED","message":"denied"}]}', 'the registry answered 200 with an error body (DENIED) instead of the tag list'],
    ['{"tags":["a",1]}', '"tags" holds a number (1), not a tag name'],
    ['{"tags":["a",null]}', '"tags" holds null (null), not a tag name'],
    ['{"tags":[{"a":1}]}', '"tags" holds an object ({"a":1}), not a tag name'],
  ];
  for (const [b, why] of wrong) {
    body = b;
    await assert.rejects(r.client.listTags('app'), (err: unknown) => err instanceof ProtocolError && err.code === 'E_PROTOCOL' && err.message === `${what}: ${why}` && err.details.registry === r.client.registry, b);
  }
  for (const b of ['{"name":"app","tags":null}', '{"name":"app"}', '{"name":"app","tags":[]}']) {
    body = b;
    assert.deepEqual(await r.client.listTags('app'), [], b);
  }
  r.transport.close();
});

test('a tag list of one page larger than a manifest may be (distribution before 2.8 ignores n=) is read whole', async () => {
  const tags = Array.from({ length: 110_000 }, (_, i) => `sha-${createHash('sha1').update(String(i)).digest('hex')}`);
  const body = JSON.stringify({ name: 'app', tags });
  assert.ok(body.length > 4 * 1024 * 1024);
  const r = await registry((_req, _b, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  assert.deepEqual(await r.client.listTags('app'), tags);
  r.transport.close();
});

test('deleteManifest: 202 is done; 405 (deletes disabled) is E_UNSUPPORTED; 404 E_NOT_FOUND; 403 E_DENIED', async () => {
  const d = sha('m');
  const answers: [number, string][] = [];
  const r = await registry((req, _b, res) => {
    assert.equal(req.method, 'DELETE');
    assert.equal(req.url, `/v2/app/manifests/${d}`);
    const [status, body] = answers.shift()!;
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  const oci = (code: string) => JSON.stringify({ errors: [{ code, message: code.toLowerCase() }] });
  answers.push([202, '']);
  await r.client.deleteManifest('app', d);
  answers.push([405, oci('UNSUPPORTED')]);
  await assert.rejects(r.client.deleteManifest('app', d), (e: unknown) => e instanceof UnsupportedError && e.code === 'E_UNSUPPORTED' && /405 UNSUPPORTED.*does not allow deleting/.test(e.message));
  answers.push([405, '']);
  await assert.rejects(r.client.deleteManifest('app', d), { name: 'UnsupportedError', code: 'E_UNSUPPORTED', message: new RegExp(`^DELETE manifest \\S+/app@${d}: \\S+ answered 405 \\(this registry does not allow deleting manifests`) });
  answers.push([404, oci('MANIFEST_UNKNOWN')]);
  await assert.rejects(r.client.deleteManifest('app', d), { name: 'NotFoundError', code: 'E_NOT_FOUND', message: new RegExp(`^DELETE manifest \\S+/app@${d}: \\S+ answered 404 MANIFEST_UNKNOWN`) });
  answers.push([403, oci('DENIED')]);
  await assert.rejects(r.client.deleteManifest('app', d), { name: 'DeniedError', code: 'E_DENIED', message: new RegExp(`^DELETE manifest \\S+/app@${d}: \\S+ answered 403 DENIED`) });
  r.transport.close();
});

test('deleteTag: DELETE of /manifests/<tag>; 202, 200 and 204 are done; 405 and 400 (the spec\'s refusals of tag deletion) are E_UNSUPPORTED; 404 E_NOT_FOUND; 403 E_DENIED', async () => {
  const answers: [number, string][] = [];
  const r = await registry((req, _b, res) => {
    assert.equal(req.method, 'DELETE');
    assert.equal(req.url, '/v2/app/manifests/old');
    const [status, body] = answers.shift()!;
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  const oci = (code: string) => JSON.stringify({ errors: [{ code, message: code.toLowerCase() }] });
  for (const ok of [202, 200, 204]) {
    answers.push([ok, '']);
    await r.client.deleteTag('app', 'old');
  }
  for (const [status, body] of [[405, oci('UNSUPPORTED')], [400, oci('DIGEST_INVALID')], [405, '']] as const) {
    answers.push([status, body]);
    await assert.rejects(r.client.deleteTag('app', 'old'), (e: unknown) => e instanceof UnsupportedError && e.code === 'E_UNSUPPORTED' && e.details.status === status && /DELETE tag \S+:old/.test(e.message), `${status} ${body}`);
  }
  answers.push([404, oci('MANIFEST_UNKNOWN')]);
  await assert.rejects(r.client.deleteTag('app', 'old'), { name: 'NotFoundError', code: 'E_NOT_FOUND', message: /^DELETE tag \S+\/app:old: \S+ answered 404 MANIFEST_UNKNOWN/ });
  answers.push([403, oci('DENIED')]);
  await assert.rejects(r.client.deleteTag('app', 'old'), { name: 'DeniedError', code: 'E_DENIED', message: /^DELETE tag \S+\/app:old: \S+ answered 403 DENIED/ });
  assert.equal(answers.length, 0);
  r.transport.close();
});

test('helpers: withQuery keeps state, nextLink resolves, insecure lists and endpoints', () => {
  assert.equal(withQuery('http://h/v2/u?_state=x', 'digest', 'sha256:1'), 'http://h/v2/u?_state=x&digest=sha256%3A1');
  assert.equal(nextLink('</v2/a/tags/list?n=1&last=x>; rel="next"', 'https://r.io/v2/a/tags/list'), 'https://r.io/v2/a/tags/list?n=1&last=x');
  assert.equal(nextLink(undefined, 'x'), undefined);
  assert.deepEqual(parseInsecureList(' a:5000, http://b/ ,,c '), ['a:5000', 'b', 'c']);
  assert.equal(endpointFor('reg.corp:5000', ['reg.corp:5000']).scheme, 'http');
  assert.equal(endpointFor('reg.corp:5000', ['reg.corp']).scheme, 'http');
  assert.equal(endpointFor('reg.corp:5000', []).scheme, 'https');
  assert.equal(endpointFor('localhost:5000', []).scheme, 'auto');
  // registries.conf's insecure = true: TLS (unverified) or plain HTTP, probed; plain-HTTP-only naming wins.
  assert.equal(endpointFor('reg.corp:5000', [], ['reg.corp:5000']).scheme, 'auto');
  assert.equal(endpointFor('reg.corp:5000', ['reg.corp:5000'], ['reg.corp:5000']).scheme, 'http');
  assert.equal(endpointFor('other.corp', [], ['reg.corp:5000']).scheme, 'https');
  assert.equal(endpointFor('docker.io', []).host, 'registry-1.docker.io');
});

test('referrers: 404/405/400 and a 401 without a challenge (Harbor) mean "no API"; a 401 with a challenge is an auth error', async () => {
  const d = sha('subject');
  for (const status of [404, 405, 400, 401]) {
    const { client } = await registry((_req, _body, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"unauthorized"}]}');
    });
    assert.equal(await client.referrers('app', d), undefined, String(status));
  }
  const { client } = await registry((_req, _body, res) => {
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="x"' });
    res.end('{"errors":[{"code":"UNAUTHORIZED","message":"unauthorized"}]}');
  });
  await assert.rejects(client.referrers('app', d), (e: { code?: string }) => e.code === 'E_AUTH');
});

test('referrers: every page the Link header names is read, in order', async () => {
  const d = sha('subject');
  const entry = (n: number) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(`referrer ${n}`), size: 10, artifactType: 'application/example' });
  const pages: Record<string, { manifests: ReturnType<typeof entry>[]; next?: string }> = {
    [`/v2/app/referrers/${d}`]: { manifests: [entry(1), entry(2)], next: `/v2/app/referrers/${d}?next=2` },
    [`/v2/app/referrers/${d}?next=2`]: { manifests: [entry(3)], next: `/v2/app/referrers/${d}?next=3` },
    [`/v2/app/referrers/${d}?next=3`]: { manifests: [entry(4)] },
  };
  let host = '';
  const r = await registry((req, _body, res) => {
    const page = pages[req.url!];
    if (!page) return res.writeHead(404).end();
    // One relative Link and one absolute: both are resolved against the request.
    const headers: Record<string, string> = { 'content-type': 'application/vnd.oci.image.index.v1+json' };
    if (page.next) headers.link = `<${page.next.endsWith('3') ? `http://${host}${page.next}` : page.next}>; rel="next"`;
    res.writeHead(200, headers).end(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: page.manifests }));
  });
  host = r.host;
  const got = await r.client.referrers('app', d);
  assert.deepEqual(got?.manifests.map((m) => m.digest), [1, 2, 3, 4].map((n) => sha(`referrer ${n}`)));
  assert.deepEqual(r.log, Object.keys(pages).map((u) => `GET ${u}`));
});

test('a list whose Link names another origin (tags, catalog, referrers) is E_PROTOCOL naming both hosts; the other host is never asked', async () => {
  const other = await registry((_req, _b, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"tags":["z"],"repositories":["z"],"manifests":[]}'));
  const d = sha('subject');
  const r = await registry((req, _b, res) => {
    const link = `<http://${other.host}${req.url!.split('?')[0]}?page=2>; rel="next"`;
    if (req.url!.includes('/referrers/')) return res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', link }).end(JSON.stringify({ schemaVersion: 2, manifests: [] }));
    res.writeHead(200, { 'content-type': 'application/json', link }).end('{"tags":["a"],"repositories":["a"]}');
  });
  const cross = (err: unknown) => err instanceof ProtocolError && err.code === 'E_PROTOCOL' && err.message.includes(`the registry at ${r.host} sent a Link to its next page on another host (http://${other.host})`);
  await assert.rejects(r.client.listTags('app', 1), cross);
  await assert.rejects(r.client.listRepositories(1), cross);
  await assert.rejects(r.client.referrers('app', d), cross);
  assert.deepEqual(other.log, []);
  r.transport.close();
  other.transport.close();
});

test('referrers: a Link that never ends is E_PROTOCOL at the bound; a later page that fails or is no index is an error, not a short list', async () => {
  const d = sha('subject');
  const index = JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha('x'), size: 1 }] });
  const endless = await registry((req, _body, res) => {
    const n = Number(new URL(req.url!, 'http://x').searchParams.get('p') ?? '0');
    // A new referrer on each page: pages that only repeat earlier ones are refused sooner (below).
    const page = JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(`x${n}`), size: 1 }] });
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', link: `</v2/app/referrers/${d}?p=${n + 1}>; rel="next"` }).end(page);
  });
  await assert.rejects(endless.client.referrers('app', d, 5), (e: unknown) => e instanceof ProtocolError && e.code === 'E_PROTOCOL' && /referrers of .*app@sha256:.* go on past 5 pages/.test(e.message));
  assert.equal(endless.log.length, 5);
  assert.ok(MAX_REFERRER_PAGES >= 100, 'the default bound leaves room for real registries');

  for (const [status, ct, body, Class, code, want] of [
    [404, 'application/json', '{"errors":[{"code":"NAME_UNKNOWN","message":"gone"}]}', NotFoundError, 'E_NOT_FOUND', /answered 404|not found|NAME_UNKNOWN|gone/i],
    [200, 'text/html', '<html>login</html>', ProtocolError, 'E_PROTOCOL', /page 2 is not an image index/],
    [200, 'application/json', '{"manifests":', ProtocolError, 'E_PROTOCOL', /not valid JSON/],
  ] as const) {
    const r = await registry((req, _body, res) => {
      if (req.url!.includes('?')) return res.writeHead(status, { 'content-type': ct }).end(body);
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', link: `</v2/app/referrers/${d}?p=2>; rel="next"` }).end(index);
    });
    await assert.rejects(r.client.referrers('app', d), (e: unknown) => e instanceof Class && e.code === code && want.test(e.message), `${status} ${ct}: ${code}`);
  }
});

test('referrers: a Link back to a page already read, a page naming only what earlier pages named, and more than MAX_INDEX_CHILDREN referrers in all are E_PROTOCOL at once, not followed to the page bound', async () => {
  const d = sha('subject');
  const entry = (n: number) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(`referrer ${n}`), size: 10, annotations: { pad: 'x'.repeat(100) } });
  const answer = (res: http.ServerResponse, manifests: unknown[], next?: string) =>
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', ...(next ? { link: `<${next}>; rel="next"` } : {}) }).end(JSON.stringify({ schemaVersion: 2, manifests }));
  // Self-linking: the page names itself as the next one (the audit's hostile answer).
  const self = await registry((req, _body, res) => answer(res, [entry(1)], req.url!));
  await assert.rejects(self.client.referrers('app', d), (e: unknown) => e instanceof ProtocolError && e.code === 'E_PROTOCOL' && /referrers of .*app@sha256:.*: page 2 leads back to a page already read/.test(e.message));
  assert.equal(self.log.length, 1, 'the repeated URL is not asked for again');
  // A new URL each time, the same referrers on every page (a registry that ignores its own cursor).
  const same = await registry((_req, _body, res) => answer(res, [entry(1), entry(2)], `/v2/app/referrers/${d}?p=${same.log.length}`));
  await assert.rejects(same.client.referrers('app', d), (e: unknown) => e instanceof ProtocolError && e.code === 'E_PROTOCOL' && /page 2 repeats what earlier pages listed/.test(e.message));
  assert.equal(same.log.length, 2);
  // New referrers on every page, past the bound of one index's children: refused once past it.
  const many = await registry((req, _body, res) => {
    const n = Number(new URL(req.url!, 'http://x').searchParams.get('p') ?? '0');
    answer(res, Array.from({ length: 100 }, (_, i) => entry(n * 100 + i)), `/v2/app/referrers/${d}?p=${n + 1}`);
  });
  await assert.rejects(many.client.referrers('app', d), (e: unknown) => e instanceof ProtocolError && e.code === 'E_PROTOCOL' && new RegExp(`names more than ${MAX_INDEX_CHILDREN} referrers`).test(e.message));
  assert.equal(many.log.length, MAX_INDEX_CHILDREN / 100 + 1, 'read no further than the page that passed the bound');
  // Within the bounds: each referrer once, and no annotations held.
  const ok = await registry((req, _body, res) => (req.url!.includes('?') ? answer(res, [entry(2), entry(3)]) : answer(res, [entry(1), entry(2), entry(1)], `/v2/app/referrers/${d}?p=2`)));
  assert.deepEqual(await ok.client.referrers('app', d), { manifests: [1, 2, 3].map((n) => ({ mediaType: entry(n).mediaType, digest: entry(n).digest })) });
});

test('referrers: an entry that is not a descriptor with a valid digest (a tag name, a path) makes the answer E_PROTOCOL, and nothing it names is fetched', async () => {
  const d = sha('subject');
  const good = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha('referrer'), size: 10 };
  for (const [bad, want] of [
    [{ ...good, digest: 'secret-unrelated' }, /manifests\[1\]\.digest "secret-unrelated" is not a valid digest/],
    [{ ...good, digest: '../../other/manifests/latest' }, /manifests\[1\]\.digest "\.\.\/\.\.\/other\/manifests\/latest" is not a valid digest/],
    [{ ...good, digest: undefined }, /manifests\[1\]\.digest is missing/],
    [{ ...good, mediaType: undefined }, /manifests\[1\]\.mediaType is missing/],
    ['sha256:abc', /manifests\[1\] is not an object/],
  ] as const) {
    const r = await registry((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' }).end(JSON.stringify({ schemaVersion: 2, manifests: [good, bad] }));
    });
    await assert.rejects(r.client.referrers('app', d), (e: unknown) => e instanceof ProtocolError && e.code === 'E_PROTOCOL' && /^referrers of .*app@sha256:[0-9a-f]{64}: /.test(e.message) && want.test(e.message), JSON.stringify(bad));
    assert.deepEqual(r.log, [`GET /v2/app/referrers/${d}`]);
  }
});

test('a manifest named by digest is written host/repo@sha256:… in errors (never repo:sha256:…)', async () => {
  const bytes = Buffer.from('{"schemaVersion":2}');
  const d = sha(bytes);
  const r = await registry((req, _body, res) => {
    if (req.method === 'PUT') {
      res.writeHead(400, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: 'no' }] }));
    }
    if (req.method === 'HEAD') return res.writeHead(403).end();
    // GET: a schema 1 manifest, refused by type
    res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' });
    res.end('{"schemaVersion":1}');
  });
  const named = (e: Error) => e.message.includes(`${r.host}/app@${d}`) && !e.message.includes(`app:${d}`);
  await assert.rejects(r.client.putManifest('app', d, bytes, 'application/vnd.oci.image.manifest.v1+json'), (e: Error) => (e as RegpushError).code === 'E_REGISTRY' && named(e) && /PUT manifest/.test(e.message));
  await assert.rejects(r.client.headManifest('app', d), (e: Error) => (e as RegpushError).code === 'E_DENIED' && named(e) && /HEAD manifest/.test(e.message));
  await assert.rejects(r.client.getManifest('app', d), (e: Error) => e instanceof UnsupportedError && e.code === 'E_UNSUPPORTED' && named(e) && /is a Docker schema 1 manifest, which regpush does not support; re-push it as schema 2 or OCI/.test(e.message));
  // A tag keeps the colon.
  await assert.rejects(r.client.headManifest('app', 'v1'), (e: Error) => (e as RegpushError).code === 'E_DENIED' && e.message.includes(`${r.host}/app:v1`));
  r.transport.close();
});

test('an upload or mount POST interrupted while the registry opens a session: the session it opened is cancelled, then AbortedError', async () => {
  const starts: [string, (c: HttpRegistryClient) => Promise<unknown>][] = [
    ['upload', (c) => c.startUpload('app')],
    // A registry that does not mount opens a session instead (202): the same must hold.
    ['mount', (c) => c.mountBlob('app', sha('layer'), 'base')],
  ];
  /** What the interruption names: the upload's POST, or the mount. */
  const interrupted = (what: string, host: string) => abortedAt(what === 'upload' ? new RegExp(`^aborted: POST http://${host}/v2/app/blobs/uploads/$`) : new RegExp(`^aborted: mount ${sha('layer')} into ${host}/app$`));
  for (const [what, start] of starts) {
    const deleted: string[] = [];
    const op = new AbortController();
    const r = await registry((req, _body, res) => {
      if (req.method === 'POST') {
        // The registry has opened the session; the operation is interrupted while its answer is on
        // the way (ordered by the POST's arrival, not by timers racing it).
        op.abort();
        setTimeout(() => res.writeHead(202, { location: '/v2/app/blobs/uploads/u1?_state=s0', 'content-length': '0' }).end(), 100);
        return;
      }
      if (req.method === 'DELETE') {
        deleted.push(req.url!);
        return res.writeHead(204).end();
      }
      res.writeHead(500).end();
    });
    const client = new HttpRegistryClient({ registry: r.host, transport: r.transport, insecure: [r.host], signal: op.signal });
    const started = start(client);
    await assert.rejects(started, interrupted(what, r.host), what);
    assert.deepEqual(deleted, ['/v2/app/blobs/uploads/u1?_state=s0'], what);
    // Already interrupted: no POST at all.
    const before = r.log.length;
    await assert.rejects(start(client), interrupted(what, r.host), what);
    assert.equal(r.log.length, before, what);
    r.transport.close();
  }
});

test('a session a POST opened as the operation was interrupted is told of at the interruption, and whether its cancel was confirmed (false: the registry keeps it)', async () => {
  const starts: [string, (c: HttpRegistryClient) => Promise<unknown>][] = [
    ['upload', (c) => c.startUpload('app')],
    ['mount', (c) => c.mountBlob('app', sha('layer'), 'base')],
  ];
  const interrupted = (what: string, host: string) => abortedAt(what === 'upload' ? new RegExp(`^aborted: POST http://${host}/v2/app/blobs/uploads/$`) : new RegExp(`^aborted: mount ${sha('layer')} into ${host}/app$`));
  for (const [what, start] of starts) {
    for (const deleteStatus of [404, 204]) {
      const op = new AbortController();
      const told: { registry: string; repo: string; cancelled: Promise<boolean> }[] = [];
      let toldBeforeAnswer = false;
      const r = await registry((req, _body, res) => {
        if (req.method === 'POST') {
          op.abort();
          // Told at the interruption, before the POST's answer.
          toldBeforeAnswer = told.length === 1;
          return res.writeHead(202, { location: '/v2/app/blobs/uploads/u1?_state=s0', 'content-length': '0' }).end();
        }
        // distribution's answer to a DELETE on a session whose state it lost, or a confirmed cancel.
        if (req.method === 'DELETE') return res.writeHead(deleteStatus, { 'content-type': 'application/json' }).end(deleteStatus === 404 ? '{"errors":[{"code":"BLOB_UPLOAD_INVALID"}]}' : '');
        res.writeHead(500).end();
      });
      const client = new HttpRegistryClient({ registry: r.host, transport: r.transport, insecure: [r.host], signal: op.signal, onInterruptedSession: (s) => told.push(s) });
      await assert.rejects(start(client), interrupted(what, r.host), what);
      assert.ok(toldBeforeAnswer, what);
      assert.deepEqual(told.map((t) => [t.registry, t.repo]), [[r.host, 'app']], what);
      assert.equal(await told[0]!.cancelled, deleteStatus === 204, `${what}, DELETE answered ${deleteStatus}`);
      assert.deepEqual(r.log.filter((l) => l.startsWith('DELETE')), ['DELETE /v2/app/blobs/uploads/u1?_state=s0'], what);
      r.transport.close();
    }
  }
  // A mount the registry performs (201) as the operation is interrupted opens no session: told, and settled true, no DELETE.
  const op = new AbortController();
  const told: Promise<boolean>[] = [];
  const r = await registry((req, _body, res) => {
    op.abort();
    res.writeHead(req.method === 'POST' ? 201 : 500, { 'content-length': '0' }).end();
  });
  const client = new HttpRegistryClient({ registry: r.host, transport: r.transport, insecure: [r.host], signal: op.signal, onInterruptedSession: (s) => told.push(s.cancelled) });
  await assert.rejects(client.mountBlob('app', sha('layer'), 'base'), abortedAt(new RegExp(`^aborted: mount ${sha('layer')} into ${r.host}/app$`)));
  assert.equal(told.length, 1);
  assert.equal(await told[0], true);
  assert.deepEqual(r.log, [`POST /v2/app/blobs/uploads/?mount=${encodeURIComponent(sha('layer'))}&from=base`]);
  r.transport.close();
});

test('a streamed PATCH interrupted mid-body is ended, not cut: the AbortedError carries the state the registry answered, to cancel with', async () => {
  const deleted: string[] = [];
  let received = 0;
  const r = await registry((req, body, res) => {
    if (req.method === 'PATCH') {
      received = body.length;
      return res.writeHead(202, { location: `/v2/app/blobs/uploads/u1?_state=offset-${body.length}`, 'content-length': '0' }).end();
    }
    if (req.method === 'DELETE') {
      deleted.push(req.url!);
      return res.writeHead(204).end();
    }
    res.writeHead(500).end();
  });
  const op = new AbortController();
  const client = new HttpRegistryClient({ registry: r.host, transport: r.transport, insecure: [r.host], signal: op.signal });
  // A source that sends 3 chunks and then waits, as a layer still being built does; the interruption comes then.
  let sent = 0;
  const source = new Readable({
    read() {
      if (sent < 3) {
        sent++;
        this.push(Buffer.alloc(1000, sent));
        if (sent === 3) setTimeout(() => op.abort(), 50);
      }
    },
  });
  // The pipeline destroys its source on the same abort (as the layer stream does).
  op.signal.addEventListener('abort', () => source.destroy(new Error('layer build aborted')), { once: true });
  await assert.rejects(
    client.patchUpload('http://' + r.host + '/v2/app/blobs/uploads/u1?_state=offset-0', () => source),
    (e: Error) => abortedAt(new RegExp(`^aborted: PATCH upload to ${r.host}$`))(e) && uploadLocationOf(e) === `http://${r.host}/v2/app/blobs/uploads/u1?_state=offset-3000`,
  );
  assert.equal(received, 3000);
  // The client leaves the cancel to the upload's owner (transfer/upload.ts), which tracks the session.
  assert.deepEqual(deleted, []);
  r.transport.close();
});

test('a chunk PATCH interrupted mid-body is let finish: the AbortedError carries the state answered after the whole chunk', async () => {
  let received = -1;
  const r = await registry((req, body, res) => {
    if (req.method === 'PATCH') {
      received = body.length;
      return res.writeHead(202, { location: `/v2/app/blobs/uploads/u1?_state=offset-${body.length}`, range: `0-${body.length - 1}`, 'content-length': '0' }).end();
    }
    res.writeHead(500).end();
  });
  const op = new AbortController();
  const client = new HttpRegistryClient({ registry: r.host, transport: r.transport, insecure: [r.host], signal: op.signal });
  const chunk = Buffer.alloc(256 * 1024, 7);
  // The interruption comes when the request is at the registry (its headers in, its body on the way).
  r.server.once('request', () => op.abort());
  const patched = client.patchUpload(`http://${r.host}/v2/app/blobs/uploads/u1?_state=offset-0`, () => chunk, { start: 0, end: chunk.length - 1 });
  await assert.rejects(patched, (e: Error) => abortedAt(new RegExp(`^aborted: PATCH upload to ${r.host}$`))(e) && uploadLocationOf(e) === `http://${r.host}/v2/app/blobs/uploads/u1?_state=offset-${chunk.length}`);
  assert.equal(received, chunk.length);
  // Interrupted before it starts: no request at all.
  const before = r.log.length;
  await assert.rejects(client.patchUpload(`http://${r.host}/v2/app/blobs/uploads/u1?_state=x`, () => chunk, { start: 0, end: chunk.length - 1 }), abortedAt(new RegExp(`^aborted: PATCH upload to ${r.host}$`)));
  assert.equal(r.log.length, before);
  r.transport.close();
});

test('an interrupted monolithic PUT: a body in memory is let finish (the blob is stored), a streamed one is cut', async () => {
  const blob = Buffer.alloc(128 * 1024, 3);
  const d = sha(blob);
  const received: number[] = [];
  const r = await registry((req, body, res) => {
    received.push(body.length);
    if (req.method === 'PUT') return res.writeHead(201, { 'docker-content-digest': d, location: `/v2/app/blobs/${d}`, 'content-length': '0' }).end();
    res.writeHead(500).end();
  });
  const op = new AbortController();
  const client = new HttpRegistryClient({ registry: r.host, transport: r.transport, insecure: [r.host], signal: op.signal });
  r.server.once('request', () => op.abort()); // the PUT is at the registry, its body on the way
  const put = client.putUpload(`http://${r.host}/v2/app/blobs/uploads/u1?_state=s0`, d, blob.length, blob);
  assert.equal(await put, true);
  assert.deepEqual(received, [blob.length]);

  // A stream (a layer being built): cut with the interruption, never answered.
  const op2 = new AbortController();
  const client2 = new HttpRegistryClient({ registry: r.host, transport: r.transport, insecure: [r.host], signal: op2.signal });
  let pushed = 0;
  const source = new Readable({
    read() {
      // Two pieces, then the layer is still being built when the interruption comes.
      pushed++;
      if (pushed <= 2) this.push(Buffer.alloc(1000));
      else if (pushed === 3) setTimeout(() => op2.abort(), 20);
    },
  });
  // As the layer stream does (src/layer/index.ts): its AbortedError is what the cut PUT rejects with.
  op2.signal.addEventListener('abort', () => source.destroy(new AbortedError('layer build aborted')), { once: true });
  const t0 = Date.now();
  await assert.rejects(client2.putUpload(`http://${r.host}/v2/app/blobs/uploads/u2?_state=s0`, d, blob.length, () => source), (e: RegpushError) => e.code === 'E_ABORTED' && /layer build aborted/.test(e.message));
  assert.equal(pushed, 3);
  // A cut that waited would end on the transport's idle timeout (60 s): half of it cannot be reached by a loaded machine's delays.
  assert.ok(Date.now() - t0 < 30_000, 'cut at once, not after the idle timeout');
  assert.equal(received.length, 1, 'the cut PUT was never complete at the registry');
  r.transport.close();
});

test('a request right after a bodiless answer (HEAD, 201, 202) goes out on that answer’s connection, not a new one', async () => {
  let connections = 0;
  const r = await registry((req, _body, res) => {
    if (req.method === 'HEAD') return res.writeHead(404, { 'content-length': '0' }).end();
    if (req.method === 'POST' && req.url!.includes('mount=')) return res.writeHead(201, { 'docker-content-digest': sha('x'), location: '/v2/app/blobs/' + sha('x'), 'content-length': '0' }).end();
    if (req.method === 'POST') return res.writeHead(202, { location: '/v2/app/blobs/uploads/u1?_state=s', 'content-length': '0' }).end();
    res.writeHead(500).end();
  });
  const srv = servers.at(-1)!;
  srv.on('connection', () => connections++);
  // Each call's continuation sends the next request at once: the connection must already be back in the pool.
  assert.equal(await r.client.headBlob('app', sha('x')), undefined);
  assert.deepEqual(await r.client.mountBlob('app', sha('x'), 'base'), { mounted: true, stated: true });
  await r.client.startUpload('app');
  assert.equal(await r.client.headBlob('app', sha('y')), undefined);
  assert.deepEqual(r.log.map((l) => l.split(' ')[0]), ['HEAD', 'POST', 'POST', 'HEAD']);
  assert.equal(connections, 1, 'one connection for the four requests');
  r.transport.close();
});

test('a 401 whose realm is on the registry\'s own host: the token GET and the replay go out on the 401\'s connection', async () => {
  let connections = 0;
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha('{}'), size: 2 }, layers: [] }));
  let host = '';
  const r = await registry((req, _body, res) => {
    if (req.url!.startsWith('/token')) return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 't1' }));
    if (req.headers.authorization !== 'Bearer t1') {
      // A body on the 401, as registries send: it must be read before the connection is free.
      return res
        .writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="reg",scope="repository:app:pull"`, 'content-type': 'application/json' })
        .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': sha(manifest) }).end(manifest);
  });
  host = r.host;
  servers.at(-1)!.on('connection', () => connections++);
  const got = await r.client.getManifest('app', '1');
  assert.equal(got.digest, sha(manifest));
  assert.deepEqual(r.log.map((l) => l.split('?')[0]), ['GET /v2/app/manifests/1', 'GET /token', 'GET /v2/app/manifests/1']);
  assert.equal(connections, 1, 'one connection for the 401, the token and the replay');
  r.transport.close();
});

test('a presumed realm that fails is asked once, without the retries the registry\'s own realm gets', async () => {
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha('{}'), size: 2 }, layers: [] }));
  let host = '';
  let realmAnswers = 0;
  const r = await registry((req, _body, res) => {
    if (req.url!.startsWith('/presumed-token')) return res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
    if (req.url!.startsWith('/token')) {
      // The registry's own realm fails once too: that one is retried.
      if (realmAnswers++ === 0) return res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 't1' }));
    }
    if (req.headers.authorization !== 'Bearer t1') {
      return res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="reg"`, 'content-type': 'application/json' }).end('{}');
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': sha(manifest) }).end(manifest);
  });
  host = r.host;
  const client = new HttpRegistryClient({ registry: host, transport: r.transport, insecure: [host], presume: () => ({ scheme: 'bearer', params: { realm: `http://${host}/presumed-token`, service: 'reg' } }) });
  const got = await client.getManifest('app', '1');
  assert.equal(got.digest, sha(manifest));
  assert.deepEqual(r.log.map((l) => l.split('?')[0]), ['GET /presumed-token', 'GET /v2/app/manifests/1', 'GET /token', 'GET /token', 'GET /v2/app/manifests/1']);
  r.transport.close();
});

/** A registry behind a token service on another host, which answers each token request with the status `tokenStatus` gives. */
async function behindTokenService(tokenStatus: (n: number) => number) {
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha('{}'), size: 2 }, layers: [] }));
  let asked = 0;
  const tokens = await registry((_req, _body, res) => {
    const status = tokenStatus(++asked);
    if (status !== 200) return res.writeHead(status, { 'content-type': 'text/plain' }).end('busy');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 't1' }));
  });
  tokens.transport.close();
  const r = await registry((req, _body, res) => {
    if (req.headers.authorization !== 'Bearer t1') {
      return res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${tokens.host}/token",service="reg"`, 'content-type': 'application/json' }).end('{}');
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': sha(manifest) }).end(manifest);
  });
  return { ...r, tokens, manifest };
}

test('a token service answering 503 once is retried as a registry\'s 503 is: the next answer\'s token is used', async () => {
  const r = await behindTokenService((n) => (n === 1 ? 503 : 200));
  const got = await r.client.getManifest('app', '1');
  assert.equal(got.digest, sha(r.manifest));
  assert.deepEqual(r.tokens.log.map((l) => l.split('?')[0]), ['GET /token', 'GET /token']);
  assert.deepEqual(r.log.map((l) => l.split('?')[0]), ['GET /v2/app/manifests/1', 'GET /v2/app/manifests/1']);
  r.transport.close();
});

test('Harbor: a bare 401 on referrers after the client has authenticated is "no referrers API", not a login failure', async () => {
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha('{}'), size: 2 }, layers: [] }));
  let host = '';
  let tokens = 0;
  const r = await registry((req, _body, res) => {
    if (req.url!.startsWith('/token')) return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `t${++tokens}` }));
    // goharbor/harbor#18305: no referrers API for the repository → 401 without a challenge, token or not.
    if (req.url!.includes('/referrers/')) return res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"unauthorized"}]}');
    if (!req.headers.authorization?.startsWith('Bearer t')) {
      return res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="harbor"`, 'content-type': 'application/json' }).end('{}');
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': sha(manifest) }).end(manifest);
  });
  host = r.host;
  await r.client.getManifest('app', '1'); // learns the challenge, holds a token
  assert.equal(await r.client.referrers('app', sha(manifest)), undefined);
  // The stored token is tried, then one fresh token; then the 401 is the answer (no third token, no E_AUTH).
  assert.deepEqual(r.log.filter((l) => l.includes('/referrers/')).length, 2);
  assert.equal(tokens, 2);
  r.transport.close();
});

test('a token service that keeps failing (503): E_AUTH naming its host and status with what to do, no login advice from the CLI; its GET has the transport\'s retries and no blob restart asks again', async () => {
  const r = await behindTokenService(() => 503);
  const err = await r.client.getManifest('app', '1').then(() => assert.fail('no token'), (e: RegpushError) => e);
  assert.equal(err.code, 'E_AUTH');
  assert.equal(err.message, `authentication to ${r.host} failed: token service ${r.tokens.host} answered HTTP 503 (the token service failed; retry later or check its status page)`);
  assert.equal(err.details.status, 503);
  assert.equal(r.tokens.log.length, 2, 'the first try and the transport\'s one retry, as for the registry\'s own 503');
  assert.deepEqual(r.log.map((l) => l.split('?')[0]), ['GET /v2/app/manifests/1'], 'the request it was for is not sent again');
  assert.equal(err.details.transportRetried, true);
  assert.equal(restartOutcome(err), undefined, 'a whole-transfer restart would only multiply the retries');
  // The CLI prints the same message: a login would not mend a token service that fails.
  assert.equal(errorLine(err), `regpush: error: ${err.message} [E_AUTH]`);
  r.transport.close();
});

test('a 401 with a challenge from where a redirect led (storage, a CDN) is handed back: no credentials go to its realm', async () => {
  const blob = Buffer.from('blob bytes');
  const d = sha(blob);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha('{}'), size: 2 }, layers: [] }));
  const stolen: string[] = [];
  const storage = http.createServer((req, res) => {
    if (req.url!.startsWith('/evil-token')) {
      stolen.push(req.headers.authorization ?? '(none)');
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'evil' }));
    }
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${(storage.address() as AddressInfo).port}/evil-token",service="cdn"`, 'content-type': 'text/plain' }).end('no');
  });
  servers.push(storage);
  await new Promise<void>((ok) => storage.listen(0, '127.0.0.1', ok));
  const storageBase = `http://127.0.0.1:${(storage.address() as AddressInfo).port}`;
  let host = '';
  const r = await registry((req, _body, res) => {
    if (req.url!.startsWith('/token')) return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'good' }));
    if (req.headers.authorization !== 'Bearer good') {
      return res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="reg"`, 'content-type': 'application/json' }).end('{}');
    }
    if (req.url!.includes('/manifests/')) return res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': sha(manifest) }).end(manifest);
    res.writeHead(307, { location: `${storageBase}/blobs/${d}` }).end();
  });
  host = r.host;
  const client = new HttpRegistryClient({ registry: host, transport: r.transport, insecure: [host], credential: async () => ({ username: 'alice', password: 'secret' }) });
  // A stored token (not a fresh one) is what the blob GET carries: a refusal of a stored token
  // would otherwise be answered by fetching a new one, at whatever realm the 401 names.
  await client.getManifest('app', '1');
  const err = await client.getBlob('app', d).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof RegistryError, String(err));
  assert.equal(err.code, 'E_REGISTRY', 'the storage host\'s refusal, not a refusal of the credentials (E_AUTH)');
  assert.deepEqual(stolen, [], 'the storage host\'s realm was never asked for a token');
  r.transport.close();
});

test('a blob redirect refused by the storage host (403), or sent back to the registry, which then answers 401 without the credentials: E_REGISTRY saying so; the credentials are not called refused nor sent again', async () => {
  const blob = Buffer.from('blob bytes');
  const d = sha(blob);
  let mode: '403' | 'loop' = '403';
  let host = '';
  const storageSaw: string[] = [];
  const storage = http.createServer((req, res) => {
    storageSaw.push(req.headers.authorization ?? '(none)');
    if (mode === 'loop') return res.writeHead(302, { location: `http://${host}/v2/app/blobs/${d}?back=1` }).end();
    res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error><Code>SignatureDoesNotMatch</Code></Error>');
  });
  servers.push(storage);
  await new Promise<void>((ok) => storage.listen(0, '127.0.0.1', ok));
  const storageHost = `127.0.0.1:${(storage.address() as AddressInfo).port}`;
  const basic = 'Basic ' + Buffer.from('alice:secret-pw').toString('base64');
  const registrySaw: string[] = [];
  const r = await registry((req, _body, res) => {
    registrySaw.push(`${req.url} ${req.headers.authorization === basic ? 'auth' : req.headers.authorization ?? '(none)'}`);
    if (req.headers.authorization !== basic) return res.writeHead(401, { 'www-authenticate': 'Basic realm="reg"' }).end();
    res.writeHead(307, { location: `http://${storageHost}/bucket/blob?X-Amz-Signature=SIG` }).end();
  });
  host = r.host;
  let asked = 0;
  const client = new HttpRegistryClient({ registry: host, transport: r.transport, insecure: [host], credential: async () => (asked++, { username: 'alice', password: 'secret-pw' }) });
  await assert.rejects(client.getBlob('app', d), (e: unknown) => {
    assert.ok(e instanceof RegistryError && e.code === 'E_REGISTRY', String(e));
    assert.equal(e.message, `GET blob ${host}/app@${d}: ${host} redirected the request to ${storageHost}, which answered 403: the storage host refused it, not the registry (regpush sends it no credentials; a signed URL that expired or does not match, or a storage or CDN fault)`);
    return true;
  });
  mode = 'loop';
  registrySaw.length = 0;
  await assert.rejects(client.getBlob('app', d), (e: unknown) => {
    assert.ok(e instanceof RegistryError && e.code === 'E_REGISTRY', String(e));
    assert.equal(e.message, `GET blob ${host}/app@${d}: ${host} redirected the request to ${storageHost}, which sent it back to ${host}; that answered 401 to the request without the credentials, which regpush does not send again once a redirect has left the registry's host (a storage or CDN set-up that redirects back to the registry)`);
    return true;
  });
  assert.deepEqual(registrySaw, [`/v2/app/blobs/${d} auth`, `/v2/app/blobs/${d}?back=1 (none)`], 'the Authorization a hop dropped is not sent again');
  assert.ok(storageSaw.every((a) => a === '(none)'), storageSaw.join());
  // Not marked refused: the next request still sends them, and they are still taken.
  mode = '403';
  await assert.rejects(client.getBlob('app', d), { name: 'RegistryError', code: 'E_REGISTRY', message: `GET blob ${host}/app@${d}: ${host} redirected the request to ${storageHost}, which answered 403: the storage host refused it, not the registry (regpush sends it no credentials; a signed URL that expired or does not match, or a storage or CDN fault)` });
  assert.equal(asked, 1);
  r.transport.close();
});

test('a blob HEAD the registry redirects to storage (distribution with `redirect` on) is "present", size unknown, without a request to storage, whose URL may be signed for GET only; a redirect within the registry is followed', async () => {
  const d = sha('stored blob');
  const storageSaw: string[] = [];
  const storage = http.createServer((req, res) => {
    storageSaw.push(`${req.method} ${req.url}`);
    res.writeHead(req.method === 'HEAD' ? 403 : 200).end();
  });
  servers.push(storage);
  await new Promise<void>((ok) => storage.listen(0, '127.0.0.1', ok));
  const storageHost = `127.0.0.1:${(storage.address() as AddressInfo).port}`;
  const r = await registry((req, _body, res) => {
    if (req.url === `/v2/app/blobs/${d}`) return res.writeHead(307, { location: `http://${storageHost}/bucket/blob?X-Amz-Signature=SIG` }).end();
    if (req.url === `/v2/moved/blobs/${d}`) return res.writeHead(307, { location: `/v2/app/blobs/${d}?at=1` }).end();
    if (req.url === `/v2/app/blobs/${d}?at=1`) return res.writeHead(200, { 'content-length': '11' }).end();
    // An SSO front's 302 to its login page, and an http-to-https front's move to the same host: not storage.
    if (req.url === `/v2/sso/blobs/${d}`) return res.writeHead(302, { location: `http://${storageHost}/login?next=x` }).end();
    if (req.url === `/v2/tls/blobs/${d}`) return res.writeHead(308, { location: `https://${r.host}/v2/app/blobs/${d}?at=1` }).end();
    res.writeHead(404).end();
  });
  const client = new HttpRegistryClient({ registry: r.host, transport: r.transport, insecure: [r.host] });
  assert.equal(await client.headBlob('app', d), -1);
  assert.deepEqual(storageSaw, [], 'storage was not asked');
  assert.equal(await client.headBlob('moved', d), 11, 'a redirect within the registry is followed, its answer read');
  assert.equal(await client.headBlob('gone', d), undefined);
  // Was: any redirect leaving the origin counted "present", so every blob looked present behind such a front.
  await assert.rejects(client.headBlob('sso', d), { code: 'E_REGISTRY', message: /redirected the request to 127\.0\.0\.1:\d+, which answered 403/ }, 'a 302 is followed: the login page\'s answer is read');
  assert.deepEqual(storageSaw, ['HEAD /login?next=x']);
  await assert.rejects(client.headBlob('tls', d), { code: 'E_TLS', message: /it answered in plain HTTP, not TLS/ }, 'the same host by https is followed (here no TLS answers)');
  r.transport.close();
});

test("a redirect within the registry's host keeps the Authorization: its 403 is the registry's refusal of the credentials (E_DENIED), not a storage host's (E_REGISTRY)", async () => {
  const d = sha('moved blob');
  const basic = 'Basic ' + Buffer.from('alice:secret-pw').toString('base64');
  const saw: string[] = [];
  const r = await registry((req, _body, res) => {
    saw.push(`${req.url} ${req.headers.authorization === basic ? 'auth' : req.headers.authorization ?? '(none)'}`);
    if (req.headers.authorization !== basic) return res.writeHead(401, { 'www-authenticate': 'Basic realm="reg"' }).end();
    if (!req.url!.includes('moved=1')) return res.writeHead(307, { location: `/v2/app/blobs/${d}?moved=1` }).end();
    res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'no pull for you' }] }));
  });
  const client = new HttpRegistryClient({ registry: r.host, transport: r.transport, insecure: [r.host], credential: async () => ({ username: 'alice', password: 'secret-pw' }) });
  await assert.rejects(client.getBlob('app', d), (e: unknown) => {
    assert.ok(e instanceof DeniedError && e.code === 'E_DENIED', String(e));
    assert.doesNotMatch(e.message, /storage host|without the credentials/);
    return true;
  });
  assert.equal(saw.at(-1), `/v2/app/blobs/${d}?moved=1 auth`, 'the Authorization went along: same origin');
  r.transport.close();
});

test('a Range GET answered 206 from another offset (or without Content-Range) is E_PROTOCOL; from the asked offset a partial body; from 0 the whole blob', async () => {
  const blob = Buffer.from('0123456789abcdef');
  const d = sha(blob);
  let answerFrom = 4;
  let withRange = true;
  const r = await registry((_req, _body, res) => {
    const headers: Record<string, string> = { 'content-length': String(blob.length - answerFrom) };
    if (withRange) headers['content-range'] = `bytes ${answerFrom}-${blob.length - 1}/${blob.length}`;
    res.writeHead(206, headers).end(blob.subarray(answerFrom));
  });
  const ok = await r.client.getBlob('app', d, 4);
  assert.equal(ok.partial, true);
  const chunks: Buffer[] = [];
  for await (const c of ok.body) chunks.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), blob.subarray(4));
  answerFrom = 2;
  await assert.rejects(r.client.getBlob('app', d, 4), (e: RegpushError) => e instanceof ProtocolError && e.code === 'E_PROTOCOL' && /asked for the bytes from 4.*Content-Range "bytes 2-15\/16"/.test(e.message));
  // From byte 0: the whole blob, taken as a 200 would be (the reader skips what it has).
  answerFrom = 0;
  const whole = await r.client.getBlob('app', d, 4);
  assert.equal(whole.partial, false);
  whole.body.resume();
  answerFrom = 4;
  withRange = false;
  await assert.rejects(r.client.getBlob('app', d, 4), (e: RegpushError) => e instanceof ProtocolError && e.code === 'E_PROTOCOL' && /Content-Range ""/.test(e.message));
});

test('cancelUpload: 2xx is cancelled; 404 BLOB_UPLOAD_UNKNOWN (no such session: its blob was stored, or it is gone) leaves nothing; 404 BLOB_UPLOAD_INVALID (a stale state) and other answers leave the session', async () => {
  const answers: [number, string | undefined, boolean][] = [
    [204, undefined, true],
    [202, undefined, true],
    [404, 'BLOB_UPLOAD_UNKNOWN', true],
    [404, 'BLOB_UPLOAD_INVALID', false],
    [404, undefined, false], // no OCI error body: not known to be gone
    [500, 'UNKNOWN', false],
    [405, 'UNSUPPORTED', false],
  ];
  for (const [status, code, gone] of answers) {
    const r = await registry((req, _body, res) => {
      assert.equal(req.method, 'DELETE');
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(code ? JSON.stringify({ errors: [{ code, message: 'm' }] }) : '');
    });
    assert.equal(await r.client.cancelUpload(`http://${r.host}/v2/app/blobs/uploads/u1?_state=s`), gone, `${status} ${code ?? '(no body)'}`);
  }
});

test('cancelUpload at a host gone silent: the DELETE is not sent (it would wait out its bound for nothing) and the session is not reported gone; once the host answers again, it is sent', async () => {
  const held: http.ServerResponse[] = [];
  after(() => held.forEach((res) => res.destroy()));
  const r = await registry((req, _body, res) => {
    if (req.method === 'POST') {
      res.writeHead(202, { location: '/v2/app/blobs/uploads/u1?_state=s' });
      return res.end();
    }
    if (req.url?.startsWith('/v2/app/manifests/')) return void held.push(res); // accepted, never answered
    res.writeHead(req.method === 'DELETE' ? 204 : 200);
    res.end();
  });
  const transport = new Transport({ retry: { retries: 0 }, idleTimeoutMs: 200 });
  after(() => transport.close());
  const client = new HttpRegistryClient({ registry: r.host, transport, insecure: [r.host] });
  const session = await client.startUpload('app');
  // Two requests time out there with no answer since: the host is silent (http/host-silence.ts).
  for (const settled of await Promise.allSettled(['a', 'b'].map((tag) => transport.send({ method: 'GET', url: `http://${r.host}/v2/app/manifests/${tag}` })))) {
    assert.equal(settled.status, 'rejected');
  }
  assert.equal(await client.cancelUpload(session.url), false);
  assert.equal(r.log.filter((l) => l.startsWith('DELETE')).length, 0, r.log.join('\n'));
  // One answer ends the silence: the next cancel goes out.
  (await transport.send({ method: 'GET', url: `http://${r.host}/v2/` })).body.resume();
  assert.equal(await client.cancelUpload(session.url), true);
  assert.equal(r.log.filter((l) => l.startsWith('DELETE')).length, 1);
});

test('a registry named insecure (plain HTTP) that speaks TLS, asked with a HEAD (copy, digest, push go first so): Go\'s bare answer has no body there, and the hint is still given', async (t) => {
  const net = await import('node:net');
  // Go's net/http writes this raw, without a header, to plain HTTP on a TLS port (server.go); a HEAD's answer is read without the body.
  const s = net.createServer((sock) => sock.once('data', () => sock.end('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n')));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => s.close(() => r())));
  const host = `127.0.0.1:${(s.address() as AddressInfo).port}`;
  // The CLI's transport names its flags; a library caller's (no names given) its options.
  const cli = new Transport({ retry: { retries: 0 }, names: CONNECTION_FLAG_NAMES });
  const library = new Transport({ retry: { retries: 0 } });
  const escaped = host.replace(/\./g, '\\.');
  const hints = [
    [cli, `use --ca-cert ${escaped}=PATH or --tls-verify ${escaped}=false instead of --insecure-registry`],
    [library, `use tls\\.caCerts: \\{ "${escaped}": \\[PATH\\] \\} or tls\\.verifyOff: \\["${escaped}"\\] instead of insecureRegistries`],
  ] as const;
  for (const [transport, hint] of hints) {
    const client = new HttpRegistryClient({ registry: host, transport, insecure: [host] });
    for (const ask of [() => client.headManifest('app', '1'), () => client.getManifest('app', '1')]) {
      await assert.rejects(ask(), (e: unknown) => {
        assert.ok(e instanceof RegpushError && e.code === 'E_REGISTRY', String(e));
        assert.match(e.message, new RegExp(`answered 400 \\(it speaks TLS, and was asked in plain HTTP: for a certificate this machine does not trust, ${hint}\\)$`));
        return true;
      });
    }
    transport.close();
  }
  // A plain-HTTP registry's own 400 to a HEAD (headers, no body) gets no such hint.
  const plain = await registry((_req, _b, res) => res.writeHead(400, { 'content-type': 'application/json' }).end());
  await assert.rejects(plain.client.headManifest('app', '1'), (e: unknown) => e instanceof RegpushError && e.code === 'E_REGISTRY' && !/speaks TLS/.test(e.message));
  plain.transport.close();
});

test('a registry named insecure (plain HTTP) that speaks TLS: its 400 "HTTP request to an HTTPS server" says so and names the settings for an untrusted certificate (a library transport\'s: its options)', async () => {
  // What Go's TLS server writes to a plain-HTTP request on its port.
  const r = await registry((_req, _b, res) => res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('Client sent an HTTP request to an HTTPS server.\n'));
  await assert.rejects(r.client.getManifest('app', '1'), (e: unknown) => {
    assert.ok(e instanceof RegpushError && e.code === 'E_REGISTRY', String(e));
    assert.match(e.message, new RegExp(`answered 400 \\(it speaks TLS, and was asked in plain HTTP: for a certificate this machine does not trust, use tls\\.caCerts: \\{ "${r.client.registry.replace(/\./g, '\\.')}": \\[PATH\\] \\} or tls\\.verifyOff: \\["${r.client.registry.replace(/\./g, '\\.')}"\\] instead of insecureRegistries\\)$`));
    return true;
  });
  r.transport.close();
});

test("a manifest HEAD's Docker-Content-Digest that is no digest is E_PROTOCOL naming it (it would be reported, compared, and put into later URLs); an empty one is none", async () => {
  let stated = 'sha256:../../../prod/manifests/latest';
  const { client, log } = await registry((_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': stated, 'content-length': '2' });
    res.end();
  });
  await assert.rejects(client.headManifest('app', '1'), (e: unknown) => {
    assert.ok(e instanceof ProtocolError && e.code === 'E_PROTOCOL', String(e));
    assert.match(e.message, /^HEAD manifest 127\.0\.0\.1:\d+\/app:1: the registry's Docker-Content-Digest "sha256:\.\.\/\.\.\/\.\.\/prod\/manifests\/latest" is not a digest \(sha256:<64 hex> or sha512:<128 hex>\)$/);
    return true;
  });
  stated = 'SHA256:' + 'A'.repeat(64);
  await assert.rejects(client.headManifest('app', '1'), { name: 'ProtocolError', code: 'E_PROTOCOL', message: /^HEAD manifest 127\.0\.0\.1:\d+\/app:1: the registry's Docker-Content-Digest "SHA256:A{64}" is not a digest \(sha256:<64 hex> or sha512:<128 hex>\)$/ });
  stated = '';
  assert.equal((await client.headManifest('app', '1'))?.digest, undefined);
  stated = sha('x');
  assert.equal((await client.headManifest('app', '1'))?.digest, sha('x'));
  assert.deepEqual(log, ['HEAD /v2/app/manifests/1', 'HEAD /v2/app/manifests/1', 'HEAD /v2/app/manifests/1', 'HEAD /v2/app/manifests/1']);
});

test('an upload request still queued for a pooled socket when the operation is interrupted is never sent; the one on the wire is let finish', async () => {
  // Was: the grace an interrupted upload request gets (upload-grace.ts) also covered a request
  // waiting in the agent for a socket (--jobs transfers over fewer sockets): the POST below went
  // out once the PATCH's socket was free, after the interruption, opening a session then cancelled.
  let patchArrived!: () => void;
  const patchIn = new Promise<void>((resolve) => (patchArrived = resolve));
  let answerPatch!: () => void;
  const r = await registry((req, body, res) => {
    if (req.method === 'PATCH') {
      answerPatch = () => res.writeHead(202, { location: `/v2/app/blobs/uploads/u1?_state=offset-${body.length}`, range: `0-${body.length - 1}`, 'content-length': '0' }).end();
      return patchArrived();
    }
    if (req.method === 'POST') return res.writeHead(202, { location: '/v2/app/blobs/uploads/u2?_state=s0', 'content-length': '0' }).end();
    res.writeHead(204).end();
  });
  r.transport.close();
  const transport = new Transport({ maxSockets: 1, retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 2 } });
  const op = new AbortController();
  const client = new HttpRegistryClient({ registry: r.host, transport, insecure: [r.host], signal: op.signal });
  const chunk = Buffer.alloc(1000, 7);
  const patched = client.patchUpload(`http://${r.host}/v2/app/blobs/uploads/u1?_state=offset-0`, () => chunk, { start: 0, end: chunk.length - 1 });
  await patchIn; // the one socket is busy with the PATCH, whose answer waits
  // The POST waits in the agent for that socket; settled (not awaited) at once: it fails before the PATCH's answer is in.
  const { started } = await queuedInAgent(() => client.startUpload('app').then(() => undefined, (e: unknown) => e));
  op.abort();
  answerPatch();
  await assert.rejects(patched, (e: Error) => abortedAt(new RegExp(`^aborted: PATCH upload to ${r.host}$`))(e) && uploadLocationOf(e) === `http://${r.host}/v2/app/blobs/uploads/u1?_state=offset-${chunk.length}`);
  const refused = await started;
  assert.ok(abortedAt(new RegExp(`^aborted: POST http://${r.host}/v2/app/blobs/uploads/$`))(refused), String(refused));
  // The PATCH's socket is free again: a POST sent on it would have been read by now, before this DELETE.
  await transport.send({ method: 'DELETE', url: `http://${r.host}/v2/app/blobs/uploads/u1?_state=offset-${chunk.length}` }).then((res) => res.body.resume());
  assert.deepEqual(r.log.map((l) => l.split(' ')[0]), ['PATCH', 'DELETE'], 'no POST reached the registry');
  transport.close();
});

test('a streamed PUT or PATCH whose body fails with a plain error (a local read, not the network) reports that failure (E_INPUT; E_INTERNAL without an errno), not "cannot reach" the registry', async () => {
  const r = await registry((req, _body, res) => {
    if (req.method === 'PUT') return res.writeHead(201, { location: '/v2/app/blobs/x', 'content-length': '0' }).end();
    if (req.method === 'PATCH') return res.writeHead(202, { location: '/v2/app/blobs/uploads/u1?_state=s1', 'content-length': '0' }).end();
    res.writeHead(500).end();
  });
  const d = sha('whatever');
  /** A body that sends a piece, then fails as a file read does. */
  const failing = (): Readable => {
    let pushed = 0;
    return new Readable({
      read() {
        if (++pushed === 1) this.push(Buffer.alloc(1000));
        else this.destroy(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }));
      },
    });
  };
  for (const signal of [undefined, new AbortController().signal]) {
    const client = new HttpRegistryClient({ registry: r.host, transport: r.transport, insecure: [r.host], ...(signal ? { signal } : {}) });
    const errors: RegpushError[] = [];
    await client.putUpload(`http://${r.host}/v2/app/blobs/uploads/u1?_state=s0`, d, 5000, failing).catch((e: RegpushError) => errors.push(e));
    await client.patchUpload(`http://${r.host}/v2/app/blobs/uploads/u1?_state=s0`, failing).catch((e: RegpushError) => errors.push(e));
    assert.equal(errors.length, 2, `both failed (signal: ${signal !== undefined})`);
    assert.deepEqual(
      errors.map((e) => [e.code, e.message]),
      [
        ['E_INPUT', `blob PUT to ${r.host}: reading the data it sends failed: EIO: i/o error, read`],
        ['E_INPUT', `blob PATCH to ${r.host}: reading the data it sends failed: EIO: i/o error, read`],
      ],
    );
  }
  // One without a code (a TypeError in a stream of ours) is a bug, not the network either.
  const bug = (): Readable => new Readable({ read() { this.destroy(new TypeError('x is not a function')); } });
  await assert.rejects(r.client.putUpload(`http://${r.host}/v2/app/blobs/uploads/u1?_state=s0`, d, 5000, bug), (e: RegpushError) => e.code === 'E_INTERNAL' && e.message === `blob PUT to ${r.host}: reading the data it sends failed: x is not a function`);
  r.transport.close();
});

test('a tag listing interrupted while queued for a connection says it was never sent (details.unsent); one on the wire does not', async () => {
  let listingIn!: () => void;
  const listing = new Promise<void>((resolve) => (listingIn = resolve));
  const r = await registry((req) => {
    // Held unanswered: the one socket stays busy with it.
    if (req.url?.startsWith('/v2/a/tags/list')) listingIn();
  });
  r.transport.close();
  const transport = new Transport({ maxSockets: 1, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 2 } });
  const op = new AbortController();
  const client = new HttpRegistryClient({ registry: r.host, transport, insecure: [r.host], signal: op.signal });
  const onWire = client.listTags('a').then(() => assert.fail('the listing was interrupted'), (e: unknown) => e);
  await listing;
  // The second waits in the agent for that socket.
  const { started: waiting } = await queuedInAgent(() => client.listTags('b').then(() => assert.fail('the listing was interrupted'), (e: unknown) => e));
  op.abort();
  const [sent, unsent] = [await onWire, await waiting];
  assert.ok(abortedAt(/^aborted: GET .*\/v2\/a\/tags\/list/)(sent), String(sent));
  assert.equal((sent as RegpushError).details.unsent, undefined, 'the first was on the wire');
  assert.ok(abortedAt(/^aborted: GET .*\/v2\/b\/tags\/list/)(unsent), String(unsent));
  assert.equal((unsent as RegpushError).details.unsent, true);
  assert.deepEqual(r.log, ['GET /v2/a/tags/list?n=1000'], 'the second never reached the registry');
  transport.close();
});
