/**
 * One method per Distribution API endpoint for one registry. Small JSON is read with a cap; blob
 * bodies stay streams. Every non-success answer becomes a typed error keeping the registry's codes.
 */
import { PassThrough, type Readable } from 'node:stream';
import { authMiddleware, type AuthMemory, type AuthMiddleware, type AuthOptions } from '../auth/middleware.js';
import type { Credential, SecretSink } from '../auth/credentials.js';
import { repositoryScope, mergeScopes } from '../auth/scope.js';
import { AbortedError, ProtocolError, DigestMismatchError, RegpushError, TooManyRequestsError, UnsupportedError } from '../errors.js';
import { compose, type HttpRequest, type HttpResponse, type RequestBody, type Send } from '../http/types.js';
import { drain, errorFromResponse, readBody, readJson, MANIFEST_CAP } from '../http/response.js';
import type { Transport } from '../http/transport.js';
import { MANIFEST_ACCEPT, isSchema1MediaType } from '../image/mediatypes.js';
import { checkDescriptor, MAX_INDEX_CHILDREN } from '../image/manifest.js';
import type { Descriptor } from '../image/types.js';
import { sha256Digest, isValidDigest, digestMismatch } from '../image/digest.js';
import type { Logger } from '../log.js';
import { endpointFor, type Endpoint } from './endpoint.js';
import { isDockerHub, isLoopbackHost } from '../ref/registry.js';
import { UPLOAD_LOCATION, type FetchedManifest, type InterruptedSession, type ManifestHead, type MountResult, type ReferrerEntry, type RegistryClient, type UploadSession } from './registry-client.js';

/** How to reach and authenticate to one registry. */
export interface RegistryClientOptions {
  registry: string;
  transport: Transport;
  /** host[:port] entries that may be reached over plain http. */
  insecure?: readonly string[];
  /** host[:port] entries tried over TLS (verification off in the transport), then plain http (registries.conf's insecure = true). */
  insecureTls?: readonly string[];
  /**
   * The path the Distribution API is served under, when not the host's root: `repository/hub`
   * for `https://host/repository/hub/v2/` (a mirror configured with such a URL, as dockerd and
   * Artifactory's path-based access use them).
   */
  apiPath?: string;
  /** Scopes requested up front for the whole operation, e.g. ["repository:app:pull,push"]. */
  scopes?: string[];
  /** Lazily resolves the credential (flags, env, docker config…). */
  credential?: () => Promise<Credential | undefined>;
  /** Resolves it again after `refused` was refused (AuthOptions.renewCredential). */
  renewCredential?: (refused: Credential) => Promise<Credential | undefined>;
  /** Where `credential` looks, for the error when none fit (see credentialSources). */
  credentialSources?: string;
  signal?: AbortSignal;
  /** The run's secrets; bearer tokens this client receives are added. */
  secrets?: SecretSink;
  /** What the operation learned of each registry's auth, shared with its other clients. */
  authMemory?: AuthMemory;
  /** The challenge a registry is known to send before it sends one (AuthOptions.presume); tests only. */
  presume?: AuthOptions['presume'];
  /** Told of each upload session this client opens as the operation is interrupted and cancels on its own (see InterruptedSession). */
  onInterruptedSession?: (s: InterruptedSession) => void;
}

/** The RegistryClient of a real registry: HTTP through the operation's transport, with auth. */
export class HttpRegistryClient implements RegistryClient {
  readonly registry: string;
  readonly endpoint: Endpoint;
  /** `/` + RegistryClientOptions.apiPath, or '' for an API at the host's root. */
  private readonly apiBase: string;
  readonly logger: Logger;
  private readonly send: Send;
  private readonly auth: AuthMiddleware;
  private readonly signal?: AbortSignal;
  private readonly onInterruptedSession?: (s: InterruptedSession) => void;

  constructor(opts: RegistryClientOptions) {
    this.registry = opts.registry;
    this.onInterruptedSession = opts.onInterruptedSession;
    this.endpoint = endpointFor(opts.registry, opts.insecure ?? [], opts.insecureTls ?? []);
    this.apiBase = opts.apiPath ? `/${opts.apiPath}` : '';
    this.logger = opts.transport.logger;
    this.signal = opts.signal;
    this.probe = opts.transport.sendOnce;
    this.transport = opts.transport;
    this.baseUrls = opts.transport.baseUrls;
    this.auth = authMiddleware({
      registry: opts.registry,
      scheme: this.endpoint.scheme,
      scopes: mergeScopes(opts.scopes ?? []),
      credential: opts.credential ?? (async () => undefined),
      renewCredential: opts.renewCredential,
      lookedAt: opts.credentialSources,
      tokenSend: opts.transport.send,
      presumedTokenSend: opts.transport.sendOnce,
      logger: opts.transport.logger,
      userAgent: opts.transport.userAgent,
      secrets: opts.secrets,
      memory: opts.authMemory,
      presume: opts.presume,
      apiPath: opts.apiPath,
    });
    this.send = compose(opts.transport.send, this.auth);
  }

  private baseUrl?: Promise<string>;
  private readonly probe: Send;
  private readonly baseUrls: Map<string, Promise<string>>;
  private readonly transport: Transport;
  private readonly onAbsent: (() => void)[] = [];

  /**
   * Opens connections to this registry until `n` are open, once its base URL is known, sending
   * nothing on them (Transport.preconnect): the burst of requests that starts a transfer then
   * skips the handshakes. Never fails.
   */
  warm(n: number): void {
    this.base().then(
      (b) => this.transport.preconnect(b, n),
      () => undefined,
    );
  }

  /** Fetches the token this client's requests will need, where that is known ahead (AuthMiddleware.prefetch). Never fails. */
  prefetchAuth(): void {
    void this.auth.prefetch(this.signal);
  }

  /** Docker Hub by name (its limit counts manifest GETs), any other registry once it has sent rate-limit headers. */
  countsPulls(): boolean {
    return isDockerHub(this.registry) || this.transport.stats.sentLimits(this.endpoint.host);
  }

  /**
   * True once it is known whether a manifest GET here may count against a pull limit (countsPulls
   * tells which): Docker Hub by name, any registry that has sent rate-limit headers, and one that
   * has answered a manifest request (HEAD or GET) with a 2xx that carried none. Before that,
   * countsPulls says false only because nothing has been heard yet. An error answer is no
   * evidence (a front may answer a 404 or a 5xx without the headers its 200s carry).
   */
  pullsKnown(): boolean {
    return isDockerHub(this.registry) || this.transport.stats.shownLimits(this.endpoint.host);
  }

  /** Tells the run's stats that a manifest request was answered with a 2xx, for pullsKnown. */
  private manifestAnswered(res: HttpResponse): void {
    if (res.status >= 200 && res.status < 300) this.transport.stats.manifestAnswered(this.endpoint.host, res.headers);
  }

  /** Calls `fn` once, when this client first sees a tag absent in a repository with no tag seen present. */
  whenTagAbsent(fn: () => void): void {
    this.onAbsent.push(fn);
  }

  /** Settles once the client knows its base URL (a loopback registry's scheme probe; at once for others). */
  async ready(): Promise<void> {
    await this.base();
  }

  /**
   * The scheme of a host that is not loopback but may be reached either way (registries.conf's
   * `insecure = true`): there https and http are usually two ports (443 and 80), not one port
   * speaking one of them, so TLS (verification off in the transport) is asked first, as
   * containers/image does, and any failure of it but a cancel tries plain HTTP. When both fail,
   * the TLS failure is the one reported.
   */
  private async probeTlsFirst(host: string): Promise<string> {
    try {
      const res = await this.probe({ method: 'GET', url: `https://${host}${this.apiBase}/v2/`, signal: this.signal });
      await drain(res, PROBE_DRAIN_MS);
      return `https://${host}${this.apiBase}/v2/`;
    } catch (err) {
      if (this.signal?.aborted) throw err;
      this.logger.debug(`${host} did not answer over TLS (${(err as Error).message}); trying plain http (insecure)`);
      try {
        const res = await this.probe({ method: 'GET', url: `http://${host}${this.apiBase}/v2/`, signal: this.signal });
        await drain(res, PROBE_DRAIN_MS);
        this.logger.debug(`${host} answers plain HTTP; using http (insecure)`);
        return `http://${host}${this.apiBase}/v2/`;
      } catch {
        throw err;
      }
    }
  }

  /** The API base URL; probed once for a loopback or insecure-TLS registry (plain HTTP or TLS, whichever it speaks). */
  private base(): Promise<string> {
    const { scheme, host } = this.endpoint;
    if (scheme !== 'auto') return Promise.resolve(`${scheme}://${host}${this.apiBase}/v2/`);
    if (this.baseUrl) return this.baseUrl;
    const shared = this.baseUrls.get(host + this.apiBase);
    if (shared) return (this.baseUrl = shared);
    this.baseUrl = this.probeScheme(host);
    const mine = this.baseUrl;
    this.baseUrls.set(host + this.apiBase, mine);
    // A failed probe (aborted, refused) is not an answer for the next client.
    mine.catch(() => {
      if (this.baseUrls.get(host + this.apiBase) === mine) this.baseUrls.delete(host + this.apiBase);
    });
    return mine;
  }

  /**
   * Which protocol a loopback port speaks. A port speaks one of them, so the answer is the same as
   * Docker's "TLS first": asking in plain HTTP first (no credentials in it) spares the common case,
   * a local registry:2 in CI, the TLS machinery (measured: ~20 ms of a 0.35 s warm push). A TLS
   * server refuses a plain request (Go answers 400 "HTTP request to an HTTPS server", OpenSSL-based
   * servers hang up), and then the TLS probe decides as before.
   */
  private async probeScheme(host: string): Promise<string> {
    if (!isLoopbackHost(host)) return this.probeTlsFirst(host);
    // A 400 to the plain request may be a TLS server's answer (Go's) — or Nexus's 400 in place of a
    // 401 over plain HTTP. After it, a TLS attempt that is reset (transiently, or for a client
    // certificate) is a failure to report, not a sign of plain HTTP; an answer that is not TLS still is.
    let answered400 = false;
    try {
      const res = await this.probe({ method: 'GET', url: `http://${host}${this.apiBase}/v2/`, signal: this.signal });
      // The requests waiting for the scheme go out right after this: with the probe's body read to
      // its end first, its connection is back in the keep-alive pool and the first of them reuses
      // it instead of opening another (one handshake less where the round trip is long).
      await drain(res, PROBE_DRAIN_MS);
      if (res.status !== 400) {
        this.logger.debug(`${host} answers plain HTTP; using http (loopback)`);
        return `http://${host}${this.apiBase}/v2/`;
      }
      answered400 = true;
    } catch (err) {
      const errno = err instanceof RegpushError ? String(err.details.errno ?? '') : '';
      // Nothing listening, or the operation was cancelled: a TLS attempt cannot answer otherwise.
      if (errno === 'ECONNREFUSED' || this.signal?.aborted) throw err;
    }
    return this.probe({ method: 'GET', url: `https://${host}${this.apiBase}/v2/`, signal: this.signal }).then(
      async (res) => {
        await drain(res);
        return `https://${host}${this.apiBase}/v2/`;
      },
      (err: unknown) => {
        const errno = err instanceof RegpushError ? String(err.details.errno ?? '') : '';
        // A plain-HTTP server answers a TLS hello with bytes that are not TLS (EPROTO) or hangs up.
        if (errno === 'EPROTO' || errno === 'ERR_SSL_WRONG_VERSION_NUMBER' || (errno === 'ECONNRESET' && !answered400)) {
          this.logger.debug(`${host} does not speak TLS; using plain http (loopback)`);
          return `http://${host}${this.apiBase}/v2/`;
        }
        throw err;
      },
    );
  }

  private async url(path: string): Promise<string> {
    return (await this.base()) + path;
  }

  private request(req: Omit<HttpRequest, 'signal'>): Promise<HttpResponse> {
    return this.send({ ...req, signal: this.signal });
  }

  private async fail(res: HttpResponse, what: string): Promise<never> {
    throw await errorFromResponse(res, { what, registry: this.registry, names: this.transport.names });
  }

  /** GET /v2/: checks reachability and authenticates early. */
  async ping(): Promise<void> {
    const res = await this.request({ method: 'GET', url: await this.url(''), label: 'ping' });
    if (res.status === 200) return drain(res);
    if (res.status === 404) {
      void drain(res); // an error follows, not a request
      throw new ProtocolError(`${this.registry} does not speak the registry API (GET /v2/ answered 404)`, { details: { registry: this.registry } });
    }
    return this.fail(res, `ping ${this.registry}`);
  }

  /** `host/repo:tag` or `host/repo@sha256:…` (a tag never contains a colon, a digest always does). */
  private manifestName(repo: string, ref: string): string {
    return `${this.registry}/${repo}${ref.includes(':') ? '@' : ':'}${ref}`;
  }

  /**
   * What this client has seen of each repository's tags in this run: "absent" while every tag it
   * looked up there was missing, "present" once one existed or was written. The transfer engine
   * reads it to tell a first push or copy into a tag (its largest blob starts speculatively) from
   * an update (HEAD first).
   */
  private readonly tagsSeen = new Map<string, 'absent' | 'present'>();

  tagsState(repo: string): 'absent' | 'present' | undefined {
    return this.tagsSeen.get(repo);
  }

  private sawTag(repo: string, ref: string, present: boolean): void {
    if (ref.includes(':')) return; // a digest, not a tag
    if (present) this.tagsSeen.set(repo, 'present');
    else if (!this.tagsSeen.has(repo)) {
      this.tagsSeen.set(repo, 'absent');
      for (const fn of this.onAbsent.splice(0)) fn();
    }
  }

  /** HEAD a manifest; undefined when it does not exist. */
  async headManifest(repo: string, ref: string): Promise<ManifestHead | undefined> {
    const res = await this.request({ method: 'HEAD', url: await this.url(`${repo}/manifests/${ref}`), headers: { accept: MANIFEST_ACCEPT } });
    // Ended before the answer is used: its connection is back in the keep-alive pool when the
    // request that follows (copy's manifest GET right after this HEAD) goes out, instead of that
    // one opening a new connection (a handshake more where the round trip is long).
    await drain(res, PROBE_DRAIN_MS);
    this.manifestAnswered(res);
    if (res.status === 404) {
      this.sawTag(repo, ref, false);
      return undefined;
    }
    if (res.status !== 200) return this.fail(res, `HEAD manifest ${this.manifestName(repo, ref)}`);
    const size = Number(res.headers['content-length']);
    this.sawTag(repo, ref, true);
    return {
      digest: res.headers['docker-content-digest'],
      mediaType: res.headers['content-type']?.split(';')[0]?.trim(),
      size: Number.isFinite(size) ? size : undefined,
    };
  }

  /** GET a manifest's exact bytes; the digest is verified when `ref` is a digest or the registry states one. */
  async getManifest(repo: string, ref: string): Promise<FetchedManifest> {
    const what = `GET manifest ${this.manifestName(repo, ref)}`;
    // A pull limit used up (Docker Hub's 429 with ratelimit-remaining 0) comes back only over its
    // window: the GETs that operations already under way would still send (a sync's images, the
    // tags of copy --all-tags) are refused here, unsent, as the registry would refuse them.
    const spent = this.transport.stats.pullsSpent(this.endpoint.host);
    if (spent !== undefined) {
      throw new TooManyRequestsError(`${what}: not sent: the pull limit of ${this.registry} is used up (${spent}; a manifest GET of this run was refused so): log in (Docker Hub allows authenticated users more pulls), or run again later`, {
        details: { registry: this.registry, pullLimitSpent: true, pullLimit: spent },
      });
    }
    let res: HttpResponse;
    try {
      res = await this.request({ method: 'GET', url: await this.url(`${repo}/manifests/${ref}`), headers: { accept: MANIFEST_ACCEPT } });
      this.manifestAnswered(res);
      if (res.status === 404) this.sawTag(repo, ref, false);
      if (res.status !== 200) await this.fail(res, what);
    } catch (err) {
      // The transport raises the 429 itself (it is not retried); fail() would say the same.
      if (err instanceof RegpushError && err.details.pullLimitSpent === true) this.transport.stats.spendPulls(this.endpoint.host, String(err.details.pullLimit));
      throw err;
    }
    const bytes = await readBody(res, MANIFEST_CAP, `manifest ${this.manifestName(repo, ref)}`);
    const contentType = res.headers['content-type']?.split(';')[0]?.trim() ?? '';
    // Signed schema 1 is hashed without its signatures, so check the type before the digest.
    if (isSchema1MediaType(contentType)) {
      throw new UnsupportedError(`${this.manifestName(repo, ref)} is a Docker schema 1 manifest, which regpush does not support; re-push it as schema 2 or OCI (e.g. skopeo copy --format v2s2)`, {
        details: { registry: this.registry },
      });
    }
    // Each digest is checked with its own algorithm (sha256 or sha512); the digest returned is the
    // sha256 of the bytes, what regpush writes and compares everywhere else.
    const digest = sha256Digest(bytes);
    const wrong = isValidDigest(ref) ? digestMismatch(bytes, ref) : undefined;
    if (wrong) {
      throw new DigestMismatchError(`manifest ${this.registry}/${repo}@${ref} has digest ${wrong}`, { details: { registry: this.registry } });
    }
    const stated = res.headers['docker-content-digest'];
    const wrongStated = stated && isValidDigest(stated) ? digestMismatch(bytes, stated) : undefined;
    if (wrongStated) {
      throw new DigestMismatchError(`manifest ${this.manifestName(repo, ref)}: registry says ${stated} but the bytes hash to ${wrongStated}`, {
        details: { registry: this.registry },
      });
    }
    const mediaType = res.headers['content-type']?.split(';')[0]?.trim() ?? '';
    this.sawTag(repo, ref, true);
    return { bytes, mediaType, digest };
  }

  /** PUT a manifest under a tag or digest; returns the digest, checked against the registry's. */
  async putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<string> {
    const digest = sha256Digest(bytes);
    const res = await this.request({
      method: 'PUT',
      url: await this.url(`${repo}/manifests/${ref}`),
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) return this.fail(res, `PUT manifest ${this.manifestName(repo, ref)}`);
    await drain(res);
    const stated = res.headers['docker-content-digest'];
    const expected = stated && isValidDigest(stated) ? digestMismatch(bytes, stated) : undefined;
    if (expected) {
      throw new DigestMismatchError(`PUT manifest ${this.manifestName(repo, ref)}: registry stored ${stated}, expected ${expected}`, {
        details: { registry: this.registry },
      });
    }
    this.sawTag(repo, ref, true);
    return digest;
  }

  /**
   * DELETE a manifest by digest (the Distribution API deletes by digest only; every tag pointing at
   * it goes with it). A registry that does not allow deletes answers 405 with UNSUPPORTED
   * (distribution with `storage.delete.enabled: false`): that is E_UNSUPPORTED, not a registry failure.
   */
  async deleteManifest(repo: string, digest: string): Promise<void> {
    const what = `DELETE manifest ${this.registry}/${repo}@${digest}`;
    const res = await this.request({ method: 'DELETE', url: await this.url(`${repo}/manifests/${digest}`) });
    if (res.status === 202 || res.status === 200 || res.status === 204) return drain(res);
    const err = await errorFromResponse(res, { what, registry: this.registry, names: this.transport.names });
    if (res.status === 405 || err.details.registryCodes?.includes('UNSUPPORTED')) {
      throw new UnsupportedError(`${err.message} (this registry does not allow deleting manifests; on CNCF distribution an operator enables it with storage.delete.enabled)`, {
        details: err.details,
      });
    }
    throw err;
  }

  /** HEAD a blob; its size when present, undefined when not. */
  async headBlob(repo: string, digest: string): Promise<number | undefined> {
    const res = await this.request({ method: 'HEAD', url: await this.url(`${repo}/blobs/${digest}`) });
    await drain(res);
    if (res.status === 404) return undefined;
    if (res.status !== 200) return this.fail(res, `HEAD blob ${this.registry}/${repo}@${digest}`);
    const size = Number(res.headers['content-length']);
    return Number.isFinite(size) ? size : -1;
  }

  /**
   * GET a blob as a stream (redirects to storage followed without credentials). With `start`, asks
   * for the remaining bytes with Range; `partial` says whether the registry honoured it.
   */
  async getBlob(repo: string, digest: string, start = 0): Promise<{ body: Readable; size?: number; partial: boolean }> {
    const headers: Record<string, string> = {};
    if (start > 0) headers['range'] = `bytes=${start}-`;
    const res = await this.request({ method: 'GET', url: await this.url(`${repo}/blobs/${digest}`), headers, label: 'blob GET' });
    if (res.status !== 200 && res.status !== 206) return this.fail(res, `GET blob ${this.registry}/${repo}@${digest}`);
    if (res.status === 206 && start > 0) {
      // The bytes go on from `start` only if the answer says they start there: appended from
      // anywhere else they would make another blob, found out only when the target hashes it.
      // From byte 0 it is the whole blob, which the reader takes as a 200 (it skips what it has).
      const from = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(res.headers['content-range']?.trim() ?? '')?.[1];
      const len = Number(res.headers['content-length']);
      if (from === '0') return { body: res.body, size: Number.isFinite(len) ? len : undefined, partial: false };
      if (from === undefined || Number(from) !== start) {
        res.body.destroy();
        throw new ProtocolError(`GET blob ${this.registry}/${repo}@${digest}: asked for the bytes from ${start}, the registry answered 206 with Content-Range ${JSON.stringify(res.headers['content-range'] ?? '')}`, {
          details: { registry: this.registry },
        });
      }
    }
    const len = Number(res.headers['content-length']);
    return { body: res.body, size: Number.isFinite(len) ? len : undefined, partial: res.status === 206 };
  }

  /** GET a small blob (a config) whole, capped, digest verified. */
  async getBlobBytes(repo: string, digest: string, cap: number): Promise<Buffer> {
    const { body, size } = await this.getBlob(repo, digest);
    const bytes = await readBody({ status: 200, headers: size === undefined ? {} : { 'content-length': String(size) }, url: '', body }, cap, `blob ${digest}`);
    const wrong = isValidDigest(digest) ? digestMismatch(bytes, digest) : undefined;
    if (wrong) {
      throw new DigestMismatchError(`blob ${this.registry}/${repo}@${digest} does not match its digest (got ${wrong})`, {
        details: { registry: this.registry },
      });
    }
    return bytes;
  }

  /** Cross-repository mount: 201 = mounted; 202 = the registry opened an upload instead. */
  async mountBlob(repo: string, digest: string, fromRepo: string): Promise<MountResult> {
    const url = await this.url(`${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepo)}`);
    const what = `aborted: mount ${digest} into ${this.registry}/${repo}`;
    // Not cut by an interruption, as startUpload: a registry that cannot mount opens a session
    // (202), and one opened while the run was stopping is cancelled here, not left behind unknown.
    const own = this.ownCancel(repo);
    let res: HttpResponse;
    try {
      let interrupted: boolean;
      ({ res, interrupted } = await this.sendWithGrace({ method: 'POST', url, scopes: [repositoryScope(fromRepo, ['pull'])] }, what, own.interrupted));
      if (interrupted) {
        await drain(res);
        if (res.status === 202) own.cancelled(await this.cancelUpload(this.location(res, url)));
        throw new AbortedError(what, { details: { registry: this.registry } });
      }
    } finally {
      own.cancelled(true);
    }
    if (res.status === 201) {
      await drain(res);
      return { mounted: true, stated: res.headers['docker-content-digest'] === digest };
    }
    if (res.status === 202) {
      await drain(res);
      return { mounted: false, uploadUrl: this.location(res, url) };
    }
    return this.fail(res, `mount ${digest} from ${fromRepo} into ${this.registry}/${repo}`);
  }

  /** POST to open an upload session. */
  async startUpload(repo: string): Promise<UploadSession> {
    const url = await this.url(`${repo}/blobs/uploads/`);
    const op = this.signal;
    if (op?.aborted) throw new AbortedError(`aborted: POST ${url}`);
    // Not cut by the interruption: a POST cut after the registry opened the session would leave
    // that session behind with nobody knowing its URL. One it opened is cancelled here.
    const own = this.ownCancel(repo);
    try {
      const { res, interrupted } = await this.sendWithGrace({ method: 'POST', url }, `aborted: POST ${url}`, own.interrupted);
      if (res.status !== 202) {
        if (interrupted) {
          void drain(res); // the run is stopping: no request follows on this connection
          throw new AbortedError(`aborted: POST ${url}`);
        }
        return this.fail(res, `start upload to ${this.registry}/${repo}`);
      }
      await drain(res);
      const min = Number(res.headers['oci-chunk-min-length']);
      const session = { url: this.location(res, url), minChunk: Number.isFinite(min) && min > 0 ? min : undefined };
      if (interrupted) {
        own.cancelled(await this.cancelUpload(session.url));
        throw new AbortedError(`aborted: POST ${url}`);
      }
      return session;
    } finally {
      own.cancelled(true);
    }
  }

  /**
   * The report of a session a POST to `repo` may open while the operation is interrupted, which
   * the client then cancels itself (InterruptedSession): `interrupted` tells onInterruptedSession at
   * the interruption, `cancelled` settles it (the first call counts; a POST answered without a
   * session, or cut, settles true: no session is known to stay).
   */
  private ownCancel(repo: string): { interrupted: () => void; cancelled: (ok: boolean) => void } {
    let settle: ((ok: boolean) => void) | undefined;
    return {
      interrupted: () => {
        const cancelled = new Promise<boolean>((resolve) => (settle = resolve));
        this.onInterruptedSession?.({ registry: this.registry, repo, cancelled });
      },
      cancelled: (ok) => {
        settle?.(ok);
        settle = undefined;
      },
    };
  }

  /**
   * Sends an upload request that an interruption does not cut at once: the registry keeps the
   * state of a session in its URL (distribution signs the offset into `_state`), so a request cut
   * in the middle of its body leaves a session that no URL we hold can cancel any more (every
   * later request on it is answered 404 BLOB_UPLOAD_INVALID, "upload resumed at wrong offset").
   * Once the operation is interrupted the request gets CANCEL_TIMEOUT_MS to be answered, and
   * `onInterrupt` may end its body early; past that it is cut. Without an operation signal the
   * request is sent as any other.
   */
  private async sendWithGrace(req: Omit<HttpRequest, 'signal'>, abortMessage: string, onInterrupt?: () => void): Promise<{ res: HttpResponse; interrupted: boolean }> {
    const op = this.signal;
    if (!op) return { res: await this.request(req), interrupted: false };
    if (op.aborted) throw new AbortedError(abortMessage, { details: { registry: this.registry } });
    let interrupted = false;
    const bounded = new AbortController();
    let grace: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      interrupted = true;
      onInterrupt?.();
      grace = setTimeout(() => bounded.abort(), CANCEL_TIMEOUT_MS);
    };
    op.addEventListener('abort', onAbort, { once: true });
    try {
      return { res: await this.send({ ...req, signal: bounded.signal }), interrupted };
    } catch (err) {
      if (interrupted) throw new AbortedError(abortMessage, { cause: err, details: { registry: this.registry } });
      throw err;
    } finally {
      op.removeEventListener('abort', onAbort);
      clearTimeout(grace);
    }
  }

  /**
   * The end of an upload request that the interruption let finish: its answer's Location is the
   * session's state now, handed to the caller (uploadLocationOf) so that it cancels with it.
   */
  private interruptedUpload(res: HttpResponse, session: string, what: string): never {
    void drain(res); // the run is stopping: no request follows on this connection
    let next: string | undefined;
    if (res.status === 202 || res.status === 201 || res.status === 204) {
      try {
        next = this.location(res, session);
      } catch {
        /* no Location: the caller has only the URL it held */
      }
    }
    throw new AbortedError(`aborted: ${what} to ${this.registry}`, { details: { registry: this.registry, ...(next ? { [UPLOAD_LOCATION]: next } : {}) } });
  }

  /** Monolithic upload: one PUT with the whole body, its digest and length known. */
  async putUpload(session: string, digest: string, size: number, body: RequestBody, replayable: boolean): Promise<boolean> {
    const req: Omit<HttpRequest, 'signal'> = {
      method: 'PUT',
      url: withQuery(session, 'digest', digest),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
      replayable,
      label: 'blob PUT',
    };
    // A body in memory is let finish after an interruption (the blob is then stored, no session
    // stays). A streamed one is cut: its source stops with the same interruption, and a length
    // once announced cannot be ended early, so that session stays until the registry purges it.
    if (!Buffer.isBuffer(body)) return this.checkUploadDone(await this.request(req), digest);
    return this.closingAnswer(await this.sendWithGrace(req, `aborted: PUT upload to ${this.registry}`), digest);
  }

  /**
   * One PATCH: streamed (no length, chunked transfer encoding) or a chunk with `range`; returns the
   * next Location. Interrupted, a chunk held in memory is let finish and a streamed body is ended
   * where its source stopped (sendWithGrace); the AbortedError then carries the Location answered.
   */
  async patchUpload(session: string, body: RequestBody, replayable: boolean, range?: { start: number; end: number }): Promise<string> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (range) {
      headers['content-range'] = `${range.start}-${range.end}`;
      headers['content-length'] = String(range.end - range.start + 1);
    }
    const op = this.signal;
    if (!op) return this.patchDone(await this.request({ method: 'PATCH', url: session, headers, body, replayable, label: 'blob PATCH' }), session);
    if (op.aborted) throw new AbortedError(`aborted: PATCH upload to ${this.registry}`);
    let payload = body;
    if (typeof body === 'function' && !replayable && !range) {
      const made = body();
      if (!Buffer.isBuffer(made)) return this.streamedPatch(session, headers, made);
      payload = made;
    }
    // A body in memory (a chunk): let it finish, so that the session's state stays one we know.
    const { res, interrupted } = await this.sendWithGrace({ method: 'PATCH', url: session, headers, body: payload, replayable, label: 'blob PATCH' }, `aborted: PATCH upload to ${this.registry}`);
    if (interrupted) this.interruptedUpload(res, session, 'PATCH upload');
    return this.patchDone(res, session);
  }

  private async patchDone(res: HttpResponse, session: string): Promise<string> {
    // ECR answers 201 to a PATCH (aws/containers-roadmap#2831).
    if (res.status !== 202 && res.status !== 201 && res.status !== 204) return this.fail(res, `PATCH upload to ${this.registry}`);
    await drain(res);
    return this.location(res, session);
  }

  /**
   * A streamed PATCH (no length, chunked transfer encoding) that an interruption ends instead of
   * cutting: the request reads from a relay this method owns, so it can end the body where the
   * source stopped; the registry then answers 202 with the session's current Location (and Range),
   * which the caller cancels. Cut instead, the session could not be cancelled (sendWithGrace).
   */
  private async streamedPatch(session: string, headers: Record<string, string>, source: Readable): Promise<string> {
    const relay = new PassThrough({ highWaterMark: 64 * 1024 });
    let interrupted = false;
    // The source's own failure (a local input error) fails the request with it, unless the
    // interruption already ended the body (the source is then destroyed by the same abort).
    const onSourceError = (err: Error): void => {
      if (!interrupted) relay.destroy(err);
    };
    // A source that failed already (a local input error met while the session opened) is the answer.
    if (source.errored) throw source.errored;
    source.on('error', onSourceError);
    source.pipe(relay);
    const end = (): void => {
      interrupted = true;
      source.unpipe(relay);
      if (!relay.destroyed) relay.end();
    };
    try {
      const sent = await this.sendWithGrace({ method: 'PATCH', url: session, headers, body: () => relay, replayable: false, label: 'blob PATCH' }, `aborted: PATCH upload to ${this.registry}`, end);
      if (sent.interrupted) this.interruptedUpload(sent.res, session, 'PATCH upload');
      return await this.patchDone(sent.res, session);
    } finally {
      source.off('error', onSourceError);
    }
  }

  /** Closes a streamed upload with an empty `PUT ?digest=`; the registry verifies the digest. */
  async completeUpload(session: string, digest: string): Promise<boolean> {
    // Let finish after an interruption: it has no body to cut, and once answered no session stays.
    const sent = await this.sendWithGrace({ method: 'PUT', url: withQuery(session, 'digest', digest), headers: { 'content-length': '0' } }, `aborted: PUT upload to ${this.registry}`);
    return this.closingAnswer(sent, digest);
  }

  /** The answer to a closing PUT let finish by sendWithGrace: a stored blob is a success even after an interruption. */
  private async closingAnswer({ res, interrupted }: { res: HttpResponse; interrupted: boolean }, digest: string): Promise<boolean> {
    if (interrupted && res.status !== 201 && res.status !== 200 && res.status !== 204) {
      void drain(res); // the run is stopping: no request follows on this connection
      throw new AbortedError(`aborted: PUT upload to ${this.registry}`, { details: { registry: this.registry } });
    }
    return this.checkUploadDone(res, digest);
  }

  /**
   * Cancels an upload session; errors ignored (best effort cleanup). Not tied to the operation's
   * signal, so it still runs after Ctrl-C, but bounded in time so it cannot hold up the exit.
   * True when nothing of the session stays in the registry: the cancel confirmed, or a 404
   * BLOB_UPLOAD_UNKNOWN, distribution's answer for a session it does not have (its blob was stored
   * by a closing PUT whose answer an interruption cut off, or it was cancelled or purged already).
   * A 404 BLOB_UPLOAD_INVALID is a session it has, whose state the URL is behind: it stays.
   */
  async cancelUpload(session: string): Promise<boolean> {
    try {
      const res = await this.send({ method: 'DELETE', url: session, signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS), label: 'upload DELETE' });
      if (res.status === 404) {
        const err = await errorFromResponse(res, { what: 'upload DELETE', registry: this.registry, names: this.transport.names });
        return err.details.registryCodes?.includes('BLOB_UPLOAD_UNKNOWN') === true;
      }
      await drain(res);
      return res.status >= 200 && res.status < 300;
    } catch {
      return false; // best effort: the caller says so
    }
  }

  /**
   * Lists tags, following Link pagination (`pageSize` tags asked for per page, at most `maxPages`
   * pages). A registry whose Link leads back to a page already read, or whose next page brings no
   * tag not already listed (one that ignores `last`), would be followed to the page bound, every
   * page held: that is an error at once.
   */
  async listTags(repo: string, pageSize = 1000, maxPages = MAX_TAG_PAGES): Promise<string[]> {
    return this.pagedNames((n) => `${repo}/tags/list?n=${n}`, `tag list of ${this.registry}/${repo}`, `list tags of ${this.registry}/${repo}`, 'tags', pageSize, maxPages);
  }

  /**
   * The registry's catalog (`GET /v2/_catalog`): every repository name, paginated as tags are.
   * Not every registry offers it (Docker Hub, GHCR, ECR and GAR answer 404 or 401/403); the
   * caller says so.
   */
  async listRepositories(pageSize = 1000, maxPages = MAX_TAG_PAGES): Promise<string[]> {
    return this.pagedNames((n) => `_catalog?n=${n}`, `catalog of ${this.registry}`, `list the repositories of ${this.registry}`, 'repositories', pageSize, maxPages);
  }

  /** The names under `key` of a paginated list (tags/list, _catalog), every page followed (see listTags). */
  private async pagedNames(pathFor: (n: number) => string, what: string, failWhat: string, key: 'tags' | 'repositories', pageSize: number, maxPages: number): Promise<string[]> {
    const names: string[] = [];
    const seen = new Set<string>();
    const visited = new Set<string>();
    const repeated = (page: number) =>
      new ProtocolError(`${what}: page ${page + 1} repeats what earlier pages listed (the registry does not follow its own Link); the list cannot be read to its end`, {
        details: { registry: this.registry },
      });
    let url: string | undefined = await this.url(pathFor(pageSize));
    for (let page = 0; url && page < maxPages; page++) {
      if (visited.has(url)) throw repeated(page);
      visited.add(url);
      let res: HttpResponse = await this.request({ method: 'GET', url });
      if (res.status === 400 && page === 0 && pageSize > DISTRIBUTION_MAX_ENTRIES) {
        // distribution (2.8 and later) answers an `n` above its catalog.maxentries (default 1000)
        // with 400 PAGINATION_NUMBER_INVALID rather than capping it: asked once more with that
        // default, its Link then leads on page by page. Said in --debug only: the list is whole.
        const err = await errorFromResponse(res, { what: failWhat, registry: this.registry, names: this.transport.names });
        if (!err.details.registryCodes?.includes('PAGINATION_NUMBER_INVALID')) throw err;
        this.logger.debug(`${this.registry} refused n=${pageSize} (400 PAGINATION_NUMBER_INVALID); asking again with n=${DISTRIBUTION_MAX_ENTRIES}`);
        url = await this.url(pathFor(DISTRIBUTION_MAX_ENTRIES));
        visited.add(url);
        res = await this.request({ method: 'GET', url });
      }
      if (res.status !== 200) return this.fail(res, failWhat);
      const listed = namesOf(await readJson(res, TAG_LIST_CAP, what), key, page > 0 ? `${what}, page ${page + 1}` : what, this.registry);
      const fresh = listed.filter((t) => !seen.has(t));
      if (page > 0 && listed.length > 0 && fresh.length === 0) throw repeated(page);
      for (const t of fresh) seen.add(t);
      names.push(...fresh);
      url = this.sameOrigin(nextLink(res.headers['link'], url), url, what);
    }
    // A partial list passed off as the whole one would mislead (copy --all-tags, tags), so say it.
    if (url) {
      throw new ProtocolError(`${what} goes on past ${maxPages} pages of ${pageSize}; ask for bigger pages`, {
        details: { registry: this.registry },
      });
    }
    return names;
  }

  /**
   * OCI 1.1 referrers API; undefined when the registry does not offer it (404/405/400). The answer
   * may come in pages, each naming the next in a Link header as tags/list does (distribution-spec
   * "Listing Referrers"); every page is read, at most `maxPages` of them. The answer is checked as
   * a fallback index is: an entry that is no descriptor with a valid digest (a tag name, a `../`
   * path, which would be fetched as a referrer) is E_PROTOCOL for the whole answer, as a broken
   * index is. And it is bounded as a tag list is: a Link back to a page already read, a page that
   * names only what earlier pages named, or more than MAX_INDEX_CHILDREN referrers in all (the
   * bound of one index's children) is E_PROTOCOL at once, where following it would hold page after
   * page until the bound or the heap ran out. Each entry keeps what the walk uses (not its
   * annotations), so what is held stays small.
   */
  async referrers(repo: string, digest: string, maxPages = MAX_REFERRER_PAGES): Promise<{ manifests: ReferrerEntry[] } | undefined> {
    const what = `referrers of ${this.registry}/${repo}@${digest}`;
    const wrong = (why: string) => new ProtocolError(`${what}: ${why}`, { details: { registry: this.registry } });
    const manifests: ReferrerEntry[] = [];
    const seen = new Set<string>();
    const visited = new Set<string>();
    let url: string | undefined = await this.url(`${repo}/referrers/${digest}`);
    for (let page = 0; url && page < maxPages; page++) {
      if (visited.has(url)) throw wrong(`page ${page + 1} leads back to a page already read (the registry does not follow its own Link); the list cannot be read to its end`);
      visited.add(url);
      const res: HttpResponse = await this.request({ method: 'GET', url, headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
      // Harbor answers 401 without a challenge where it has no referrers API for the repository
      // (goharbor/harbor#18305, oras-project/oras#1892): that is "no API" (use the tag scheme), not
      // a login problem. A 401 with a challenge is one the auth layer could not satisfy: an error.
      // Only the first page can say "no API": a registry that sent one page has the API.
      const noApi = res.status === 404 || res.status === 405 || res.status === 400 || (res.status === 401 && !res.headers['www-authenticate']);
      if (noApi && page === 0) {
        await drain(res);
        return undefined;
      }
      if (res.status !== 200) return this.fail(res, what);
      const ct = res.headers['content-type'] ?? '';
      const buf = await readBody(res, MANIFEST_CAP, 'referrers index');
      let parsed: { manifests?: unknown };
      try {
        parsed = ct.includes('json') ? (JSON.parse(buf.toString('utf8')) as { manifests?: unknown }) : {};
      } catch {
        throw new ProtocolError(`referrers index of ${this.registry}/${repo}@${digest} is not valid JSON`);
      }
      if (!Array.isArray(parsed.manifests)) {
        // A first answer that is no index is a front that does not know the API (as before);
        // a later page that is none would leave the list cut short without a word.
        if (page === 0) return undefined;
        throw wrong(`page ${page + 1} is not an image index`);
      }
      const entries: unknown[] = parsed.manifests;
      const on = page > 0 ? `page ${page + 1}, ` : '';
      entries.forEach((d, i) => {
        try {
          checkDescriptor(d, `manifests[${i}]`);
        } catch (err) {
          throw wrong(`${on}${(err as Error).message.replace(/^manifest /, '')}`);
        }
      });
      const fresh = (entries as Descriptor[]).filter((d) => !seen.has(d.digest));
      if (page > 0 && entries.length > 0 && fresh.length === 0) throw wrong(`page ${page + 1} repeats what earlier pages listed (the registry does not follow its own Link); the list cannot be read to its end`);
      for (const d of fresh) {
        if (seen.has(d.digest)) continue; // named twice on one page
        seen.add(d.digest);
        manifests.push({ digest: d.digest, mediaType: d.mediaType, ...(typeof d.artifactType === 'string' ? { artifactType: d.artifactType } : {}) });
      }
      if (manifests.length > MAX_INDEX_CHILDREN) throw wrong(`names more than ${MAX_INDEX_CHILDREN} referrers; regpush follows at most ${MAX_INDEX_CHILDREN}, as for one index's children`);
      url = this.sameOrigin(nextLink(res.headers['link'], url), url, what);
    }
    // A partial list would copy some signatures and leave the rest behind without a word.
    if (url) throw new ProtocolError(`${what} go on past ${maxPages} pages`, { details: { registry: this.registry } });
    return { manifests };
  }

  /**
   * `next`, a list's next page, unless it is on another origin (scheme, host or port) than the
   * page that named it: E_PROTOCOL naming both. The registry's credentials would not be sent there
   * (the auth layer keeps them to the registry), so the page would be read anonymously from a host
   * nobody named, or refused with a 401 blamed on the registry; no registry pages to another host.
   */
  private sameOrigin(next: string | undefined, current: string, what: string): string | undefined {
    if (next === undefined) return undefined;
    const from = new URL(current);
    const to = new URL(next);
    if (to.origin === from.origin) return next;
    throw new ProtocolError(`${what}: the registry at ${from.host} sent a Link to its next page on another host (${to.protocol}//${to.host}); regpush reads a list's pages from the registry itself only`, {
      details: { registry: this.registry },
    });
  }

  /** Checks an upload's closing answer; true when it is a 201 naming exactly `digest`. */
  private async checkUploadDone(res: HttpResponse, digest: string): Promise<boolean> {
    if (res.status !== 201 && res.status !== 200 && res.status !== 204) return this.fail(res, `upload of ${digest} to ${this.registry}`);
    await drain(res);
    const stated = res.headers['docker-content-digest'];
    if (stated && stated.split(':')[0] === digest.split(':')[0] && stated !== digest) {
      throw new DigestMismatchError(`upload of ${digest} to ${this.registry}: registry stored ${stated}`, { details: { registry: this.registry } });
    }
    return res.status === 201 && stated === digest;
  }

  private location(res: HttpResponse, requestUrl: string): string {
    const loc = res.headers['location'];
    if (!loc) throw new ProtocolError(`${this.registry} opened an upload without a Location header`, { details: { registry: this.registry } });
    let url: URL;
    try {
      url = new URL(loc, requestUrl);
    } catch {
      throw new ProtocolError(`${this.registry} sent an invalid upload Location`, { details: { registry: this.registry } });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ProtocolError(`${this.registry} sent an upload Location with scheme ${url.protocol}`, { details: { registry: this.registry } });
    }
    if (new URL(requestUrl).protocol === 'https:' && url.protocol === 'http:') {
      throw new ProtocolError(`${this.registry} sent an upload Location that downgrades to http`, { details: { registry: this.registry } });
    }
    return url.toString();
  }
}

/** The most entries distribution answers on one tags/list or _catalog page (its catalog.maxentries default). */
const DISTRIBUTION_MAX_ENTRIES = 1000;

/** Most tag-list pages followed (a registry whose Link never ends would otherwise loop forever). */
export const MAX_TAG_PAGES = 10_000;

/**
 * Most bytes of one tag-list page. distribution before 2.8 ignores `n` and sends every tag in one
 * answer: 100,000 CI tags (`sha-<40 hex>`) are ~5 MB, past the manifest bound.
 */
export const TAG_LIST_CAP = 64 * 1024 * 1024;

/** Most referrers-API pages followed (as MAX_TAG_PAGES: a Link that never ends must not loop forever). */
export const MAX_REFERRER_PAGES = 1_000;

/** How long cancelling an upload session may take, and how long an interrupted upload request gets to be answered (ms). */
export const CANCEL_TIMEOUT_MS = 5_000;

/** Adds or replaces one query parameter, keeping the upload state parameters the registry put there. */
export function withQuery(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}

/** The next page from an RFC 5988 Link header (`<url>; rel="next"`), resolved against `current`. */
export function nextLink(link: string | undefined, current: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>\s*;(.*)/.exec(part.trim());
    if (m && /rel="?next"?/i.test(m[2] ?? '')) return new URL(m[1] ?? '', current).toString();
  }
  return undefined;
}

/**
 * The tags of one tag-list page. `tags` null or left out is an empty repository (distribution
 * answers `"tags": null` once every tag is deleted); any other shape is E_PROTOCOL, naming the
 * list: read as "no tags" it would empty `tags` and make `copy --all-tags` copy nothing without a
 * word, and a non-string entry would be listed as a tag ("[object Object]").
 */
export function tagsOf(parsed: unknown, what: string, registry: string): string[] {
  return namesOf(parsed, 'tags', what, registry);
}

/** The names under `key` of one page of a list (tags/list's `tags`, _catalog's `repositories`), checked as tagsOf says. */
function namesOf(parsed: unknown, key: 'tags' | 'repositories', what: string, registry: string): string[] {
  const wrong = (why: string) => new ProtocolError(`${what}: ${why}`, { details: { registry } });
  const shown = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw wrong(`the registry answered ${shown(parsed)}, not a JSON object with "${key}"`);
  const { [key]: names, errors } = parsed as Record<string, unknown>;
  if (names === undefined && errors !== undefined) {
    // A front that answers 200 with an OCI error body (a denial, say) in place of the list.
    const codes = Array.isArray(errors) ? errors.map((e) => String((e as { code?: unknown } | null)?.code ?? '')).filter(Boolean) : [];
    throw wrong(`the registry answered 200 with an error body${codes.length ? ` (${codes.join(', ')})` : ''} instead of the ${key === 'tags' ? 'tag' : 'repository'} list`);
  }
  if (names === undefined || names === null) return [];
  if (!Array.isArray(names)) throw wrong(`"${key}" is ${shown(names)}, not a list`);
  const bad = names.find((t) => typeof t !== 'string');
  if (bad !== undefined) throw wrong(`"${key}" holds ${shown(bad)} (${JSON.stringify(bad)?.slice(0, 40)}), not a ${key === 'tags' ? 'tag' : 'repository'} name`);
  return names as string[];
}

/** True when an error means "try the next strategy" rather than "stop the job". */
export function isFallbackable(err: unknown): boolean {
  if (!(err instanceof RegpushError)) return false;
  const s = err.details.status;
  return s === 400 || s === 401 || s === 403 || s === 404 || s === 405;
}

/** How long the scheme probe waits for the rest of its (tiny) body before going on without it. */
const PROBE_DRAIN_MS = 1000;

