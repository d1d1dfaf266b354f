// A minimal registry client for the bench's own setup work (seeding images, tokens, probes).
// node: builtins only; plain HTTP on loopback. Never used inside a measured run.

import { request } from 'node:http';
import { Readable } from 'node:stream';

/** One HTTP request; resolves { status, headers, body } (body as a Buffer). `body` may be a Buffer or a Readable. */
export function http(method, url, { headers = {}, body, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ method, host: u.hostname, port: u.port, path: u.pathname + u.search, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body instanceof Readable) {
      body.on('error', (e) => req.destroy(e));
      body.pipe(req);
    } else {
      req.end(body);
    }
  });
}

/** A bearer token from the test token service (Basic credentials), for `scopes` like "repository:x:pull,push". */
export async function fetchToken(o) {
  return (await fetchTokenInfo(o)).token;
}

/** fetchToken's token with its lifetime: { token, expiresIn } (seconds; undefined when not given). */
export async function fetchTokenInfo({ realm, service, user, password, scopes }) {
  const u = new URL(realm);
  u.searchParams.set('service', service);
  for (const s of scopes) u.searchParams.append('scope', s);
  const res = await http('GET', u.href, { headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
  if (res.status !== 200) throw new Error(`token service answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
  const j = JSON.parse(res.body.toString('utf8'));
  return { token: j.token ?? j.access_token, expiresIn: Number.isFinite(j.expires_in) && j.expires_in > 0 ? j.expires_in : undefined };
}

/**
 * An Authorization header source for Registry: a bearer token from `get()` (→ { token,
 * expiresIn }), fetched again once half its lifetime has passed (after 60 s when the service
 * gives no lifetime). The bench's set-up spans minutes — the 1 GiB inputs are made after every round — and the
 * test token service's tokens live 300 s: a token fetched once at the start had expired by then.
 */
export function bearerSource(get, now = Date.now) {
  let cur;
  return async () => {
    if (!cur || now() >= cur.renewAt) {
      const t0 = now();
      const { token, expiresIn } = await get();
      cur = { header: `Bearer ${token}`, renewAt: t0 + (1000 * (expiresIn ?? 120)) / 2 };
    }
    return cur.header;
  };
}

/**
 * Talks to one registry (`http://127.0.0.1:port`), with an optional Authorization header: a fixed
 * string, or an async function asked before every request (bearerSource).
 */
export class Registry {
  constructor(url, authorization) {
    this.url = url.replace(/\/$/, '');
    this.authorization = authorization;
  }

  /** The Authorization header for the next request ({} without one). */
  async authHeader() {
    const a = typeof this.authorization === 'function' ? await this.authorization() : this.authorization;
    return a ? { authorization: a } : {};
  }

  async headBlob(repo, digest) {
    const r = await http('HEAD', `${this.url}/v2/${repo}/blobs/${digest}`, { headers: await this.authHeader() });
    return r.status === 200;
  }

  async startUpload(repo) {
    const r = await http('POST', `${this.url}/v2/${repo}/blobs/uploads/`, { headers: { ...(await this.authHeader()), 'content-length': '0' } });
    if (r.status !== 202) throw new Error(`POST upload to ${repo}: ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
    return new URL(r.headers.location, this.url).href;
  }

  /** Monolithic PUT of a blob whose digest and size are known (body: Buffer or Readable). */
  async putBlob(repo, digest, size, body) {
    if (await this.headBlob(repo, digest)) return;
    const loc = new URL(await this.startUpload(repo));
    loc.searchParams.set('digest', digest);
    const r = await http('PUT', loc.href, { headers: { ...(await this.authHeader()), 'content-type': 'application/octet-stream', 'content-length': String(size) }, body });
    if (r.status !== 201) throw new Error(`PUT blob ${digest} to ${repo}: ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
  }

  /**
   * Streams a blob of unknown digest: one chunked PATCH, then `PUT ?digest=` with the digest that
   * `finish()` returns once the body has ended (how the bench seeds a 1 GiB layer without disk).
   */
  async streamBlob(repo, makeBody, finish) {
    const loc = await this.startUpload(repo);
    // The header first: makeBody()'s stream flows from the moment it is made, into the request only.
    const auth = await this.authHeader();
    const body = makeBody();
    const p = await http('PATCH', loc, { headers: { ...auth, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }, body, timeoutMs: 600_000 });
    if (p.status !== 202) throw new Error(`PATCH blob to ${repo}: ${p.status} ${p.body.toString('utf8').slice(0, 300)}`);
    const { digest } = finish();
    const put = new URL(p.headers.location, this.url);
    put.searchParams.set('digest', digest);
    const r = await http('PUT', put.href, { headers: { ...(await this.authHeader()), 'content-length': '0' }, timeoutMs: 600_000 });
    if (r.status !== 201) throw new Error(`PUT ?digest=${digest} to ${repo}: ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
    return digest;
  }

  async putManifest(repo, ref, bytes, mediaType) {
    const r = await http('PUT', `${this.url}/v2/${repo}/manifests/${ref}`, { headers: { ...(await this.authHeader()), 'content-type': mediaType, 'content-length': String(bytes.length) }, body: bytes });
    if (r.status !== 201) throw new Error(`PUT manifest ${repo}:${ref}: ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
    return r.headers['docker-content-digest'];
  }

  /** The manifest's bytes and media type, or undefined when the tag does not exist. */
  async getManifest(repo, ref, accept) {
    const r = await http('GET', `${this.url}/v2/${repo}/manifests/${ref}`, { headers: { ...(await this.authHeader()), accept } });
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET manifest ${repo}:${ref}: ${r.status}`);
    return { bytes: r.body, mediaType: r.headers['content-type'], digest: r.headers['docker-content-digest'] };
  }
}
