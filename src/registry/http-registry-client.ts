/**
 * HttpRegistryClient, the RegistryClient of a real registry: one method per Distribution API call,
 * each handed to the module that holds its area of the API (manifests.ts, blob-reads.ts,
 * blob-uploads.ts, name-lists.ts, referrers-api.ts), all sending through one RegistryHttp (base
 * URL, the auth middleware over the operation's transport, typed errors). This file wires them
 * from the client's options and answers what the client knows as a whole: its scheme and
 * connections, whether the registry counts pulls, the tags it has seen. Small JSON is read with a
 * cap; blob bodies stay streams; every non-success answer becomes a typed error keeping the
 * registry's codes.
 */
import type { Readable } from 'node:stream';
import type { AuthMemory } from '../auth/auth-memory.js';
import type { Credential, SecretSink } from '../auth/credential-types.js';
import { authMiddleware, type AuthMiddleware, type AuthOptions, type WriteAccess } from '../auth/middleware.js';
import { mergeScopes } from '../auth/scope.js';
import { ProtocolError } from '../errors.js';
import { drain } from '../http/response.js';
import type { Transport } from '../http/transport.js';
import { compose, type HttpResponse, type RequestBody } from '../http/types.js';
import type { Logger } from '../log.js';
import { isDockerHub } from '../ref/registry.js';
import { hostEntryFor } from '../ref/host-address.js';
import { BlobReads } from './blob-reads.js';
import { BlobUploads } from './blob-uploads.js';
import { endpointFor, type Endpoint } from './endpoint.js';
import { Manifests } from './manifests.js';
import { NameLists } from './name-lists.js';
import { ReferrersApi } from './referrers-api.js';
import type { FetchedManifest, InterruptedSession, ManifestHead, MountResult, PullsReader, ReferrerEntry, RegistryClient, UploadSession } from './registry-client.js';
import { RegistryHttp } from './registry-http.js';
import { PROBE_DRAIN_MS } from './scheme-probe.js';
import { TagsSeen } from './tags-seen.js';

/** How to reach and authenticate to one registry. */
export interface RegistryClientOptions {
  registry: string;
  transport: Transport;
  /** host[:port] entries that may be reached over plain http. */
  insecure?: readonly string[];
  /** host[:port] entries tried over TLS (verification off in the transport), then plain http (registries.conf's insecure = true). */
  insecureTls?: readonly string[];
  /**
   * The setting that put each insecureTls entry there, as its warning quotes it (`insecure = true
   * in FILE`, `[registries.insecure] in FILE`): the scheme probe warns of a host it finds on plain
   * HTTP (scheme-probe.ts); one on TLS is warned of by the transport's TLS resolver.
   */
  insecureTlsBy?: Readonly<Record<string, string>>;
  /**
   * What named this registry insecure, where that was not the transport's insecure setting
   * (Transport.names.insecureSetting: `--insecure-registry`, `insecureRegistries`): the
   * REGPUSH_INSECURE_REGISTRIES variable. A hint that advises against the setting names this one.
   */
  insecureSetting?: string;
  /**
   * A mirror reached over plain HTTP because it was configured with `http://`: a TLS server's 400
   * to it says to change the mirror's scheme, not the insecure setting.
   */
  plainHttpMirror?: boolean;
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
  /**
   * Where the credential comes from when that is a setting that wins over the stored logins (the
   * caller's explicit credentials, REGPUSH_* variables): a refusal then says to check it rather
   * than the transport's names.refused advice (a login, which could not change the outcome).
   */
  credentialOrigin?: string;
  /** Where `credential` looks, in order, for the error when none fit or they are refused (see credentialSourceList; a string is one source). */
  credentialSources?: string | readonly string[];
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
  readonly logger: Logger;
  private readonly http: RegistryHttp;
  private readonly auth: AuthMiddleware;
  private readonly signal?: AbortSignal;
  private readonly transport: Transport;
  private readonly tags = new TagsSeen();
  private readonly manifests: Manifests;
  private readonly blobs: BlobReads;
  private readonly uploads: BlobUploads;
  private readonly lists: NameLists;
  private readonly referrersApi: ReferrersApi;

  constructor(opts: RegistryClientOptions) {
    this.registry = opts.registry;
    this.endpoint = endpointFor(opts.registry, opts.insecure ?? [], opts.insecureTls ?? []);
    this.logger = opts.transport.logger;
    this.signal = opts.signal;
    this.transport = opts.transport;
    this.auth = authMiddleware({
      registry: opts.registry,
      scheme: this.endpoint.scheme,
      scopes: mergeScopes(opts.scopes ?? []),
      credential: opts.credential ?? (async () => undefined),
      renewCredential: opts.renewCredential,
      lookedAt: opts.credentialSources,
      // Worded for the caller: the library's options, or the CLI's login command (Transport.names).
      refusalAdvice:
        opts.transport.names.refused && opts.credentialOrigin
          ? `check ${opts.credentialOrigin}: credentials given there are used instead of any stored login, so logging in would not change this`
          : opts.transport.names.refused?.(opts.registry),
      adviceNamesOrigin: Boolean(opts.transport.names.refused && opts.credentialOrigin),
      tokenSend: opts.transport.send,
      presumedTokenSend: opts.transport.sendOnce,
      logger: opts.transport.logger,
      userAgent: opts.transport.userAgent,
      secrets: opts.secrets,
      memory: opts.authMemory,
      // For the requests that wait for the first one's answer (AuthMemory.firstAnswer).
      preconnect: (n) => this.warm(n),
      presume: opts.presume,
      apiPath: opts.apiPath,
    });
    const tlsEntry = this.endpoint.scheme === 'auto' ? [this.endpoint.host, opts.registry].map((h) => hostEntryFor(opts.insecureTls ?? [], h)).find((e) => e !== undefined) : undefined;
    this.http = new RegistryHttp({
      registry: opts.registry,
      endpoint: this.endpoint,
      apiPath: opts.apiPath,
      insecureSetting: opts.insecureSetting,
      plainHttpMirror: opts.plainHttpMirror,
      insecureTlsSetting: tlsEntry === undefined ? undefined : (opts.insecureTlsBy?.[tlsEntry] ?? 'insecure = true'),
      transport: opts.transport,
      send: compose(opts.transport.send, this.auth),
      signal: opts.signal,
      // The probe's 401 names the challenge: every request of the run then answers it up front.
      heardProbe: (res) => this.auth.heard(res),
      whose: () => this.auth.whose(),
    });
    this.manifests = new Manifests(this.http, this.tags);
    this.blobs = new BlobReads(this.http);
    this.uploads = new BlobUploads(this.http, opts.onInterruptedSession);
    this.lists = new NameLists(this.http);
    this.referrersApi = new ReferrersApi(this.http);
  }

  /**
   * Opens connections to this registry until `n` are open, once its base URL is known, sending
   * nothing on them (Transport.preconnect): the burst of requests that starts a transfer then
   * skips the handshakes. Never fails.
   */
  warm(n: number): void {
    this.http.base().then(
      (b) => this.transport.preconnect(b, n),
      () => undefined,
    );
  }

  /**
   * Fetches the token this client's requests will need, where that is known ahead
   * (AuthMiddleware.prefetch), once the base URL is known: a loopback registry's scheme probe,
   * which the first requests to it send anyway, names the challenge (AuthMiddleware.heard). A sync
   * asks for the next images' tokens as its first images start, before any answer has come; asked
   * then, nothing was known and those images fetched their tokens on their own paths. With
   * `askChallenge` (a mirror's client: MirroredClient.prefetchAuth), a registry whose challenge
   * nothing will name before that image starts is asked it first (AuthMiddleware.prefetch's
   * `ask`: one `GET /v2/` without credentials per registry and run). Never fails.
   */
  prefetchAuth(o: { askChallenge?: boolean } = {}): void {
    this.http.base().then(
      () => this.auth.prefetch(this.signal, o.askChallenge ? () => this.askChallenge() : undefined),
      () => undefined,
    );
  }

  /**
   * `GET /v2/` without credentials or retries (a failure only leaves the challenge to the image's
   * own requests), its small body read so that its connection is free for the next request.
   */
  private async askChallenge(): Promise<HttpResponse> {
    const res = await this.transport.sendOnce({ method: 'GET', url: await this.http.url(''), signal: this.signal, label: 'challenge' });
    await drain(res, PROBE_DRAIN_MS);
    return res;
  }

  /** Docker Hub by name (its limit counts manifest GETs), any other registry once it has sent rate-limit headers. */
  countsPulls(): boolean {
    return isDockerHub(this.registry) || this.transport.stats.sentLimits(this.http.statsHost());
  }

  /**
   * True once it is known whether a manifest GET here may count against a pull limit (countsPulls
   * tells which): Docker Hub by name, any registry that has sent rate-limit headers, and one that
   * has answered a manifest request (HEAD or GET) with a 2xx that carried none. Before that,
   * countsPulls says false only because nothing has been heard yet. An error answer is no
   * evidence (a front may answer a 404 or a 5xx without the headers its 200s carry).
   */
  pullsKnown(): boolean {
    return isDockerHub(this.registry) || this.transport.stats.shownLimits(this.http.statsHost());
  }

  /** Who reads here (RegistryClient.pullsReader). */
  async pullsReader(): Promise<PullsReader> {
    return { host: this.transport.stats.hostKey(await this.http.settledStatsHost()), who: await this.http.whose() };
  }

  /** Whose pulls this client's manifest GETs spend (RegistryClient.pullsOwner). */
  pullsOwner(): Promise<string> {
    return this.manifests.pullsOwner();
  }

  /** Whether the credentials may push to `repo`, as far as the token sent says (RegistryClient.writeAccess). */
  writeAccess(repo: string): Promise<WriteAccess> {
    return this.auth.writeAccess(repo, this.signal);
  }

  /** Calls `fn` once, when this client first sees a tag absent in a repository with no tag seen present. */
  whenTagAbsent(fn: () => void): void {
    this.tags.whenAbsent(fn);
  }

  /**
   * What this client has seen of each repository's tags in this run: "absent" while every tag it
   * looked up there was missing, "present" once one existed or was written. The transfer engine
   * reads it to tell a first push or copy into a tag (its largest blob starts speculatively) from
   * an update (HEAD first).
   */
  tagsState(repo: string): 'absent' | 'present' | undefined {
    return this.tags.state(repo);
  }

  /** Settles once the client knows its base URL (a loopback registry's scheme probe; at once for others). */
  async ready(): Promise<void> {
    await this.http.base();
  }

  /** GET /v2/: checks reachability and authenticates early. */
  async ping(): Promise<void> {
    const http = this.http;
    const res = await http.request({ method: 'GET', url: await http.url(''), label: 'ping' });
    if (res.status === 200) return drain(res);
    if (res.status === 404) {
      void drain(res); // an error follows, not a request
      throw new ProtocolError(`${this.registry} does not speak the registry API (GET /v2/ answered 404)`, { details: { registry: this.registry } });
    }
    return http.fail(res, `ping ${this.registry}`);
  }

  headManifest(repo: string, ref: string): Promise<ManifestHead | undefined> {
    return this.manifests.head(repo, ref);
  }

  getManifest(repo: string, ref: string): Promise<FetchedManifest> {
    return this.manifests.get(repo, ref);
  }

  putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<string> {
    return this.manifests.put(repo, ref, bytes, mediaType);
  }

  deleteManifest(repo: string, digest: string): Promise<void> {
    return this.manifests.delete(repo, digest);
  }

  deleteTag(repo: string, tag: string): Promise<void> {
    return this.manifests.deleteTag(repo, tag);
  }

  headBlob(repo: string, digest: string): Promise<number | undefined> {
    return this.blobs.head(repo, digest);
  }

  getBlob(repo: string, digest: string, start = 0): Promise<{ body: Readable; size?: number; partial: boolean }> {
    return this.blobs.get(repo, digest, start);
  }

  getBlobBytes(repo: string, digest: string, cap: number): Promise<Buffer> {
    return this.blobs.getBytes(repo, digest, cap);
  }

  mountBlob(repo: string, digest: string, fromRepo: string): Promise<MountResult> {
    return this.uploads.mount(repo, digest, fromRepo);
  }

  startUpload(repo: string): Promise<UploadSession> {
    return this.uploads.start(repo);
  }

  putUpload(session: string, digest: string, size: number, body: RequestBody): Promise<boolean> {
    return this.uploads.put(session, digest, size, body);
  }

  patchUpload(session: string, body: RequestBody, range?: { start: number; end: number }): Promise<string> {
    return this.uploads.patch(session, body, range);
  }

  completeUpload(session: string, digest: string): Promise<boolean> {
    return this.uploads.complete(session, digest);
  }

  cancelUpload(session: string): Promise<boolean> {
    return this.uploads.cancel(session);
  }

  /** See NameLists.tags: `maxPages` bounds the pages followed. */
  listTags(repo: string, pageSize?: number, maxPages?: number): Promise<string[]> {
    return this.lists.tags(repo, pageSize, maxPages);
  }

  /** See NameLists.repositories. */
  listRepositories(pageSize?: number, maxPages?: number): Promise<string[]> {
    return this.lists.repositories(pageSize, maxPages);
  }

  referrers(repo: string, digest: string, maxPages?: number): Promise<{ manifests: ReferrerEntry[] } | undefined> {
    return this.referrersApi.list(repo, digest, maxPages);
  }
}
