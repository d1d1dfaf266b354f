/**
 * What every request of one HttpRegistryClient goes through: the API's base URL (its scheme probed
 * once per host and run where it is not known), the authenticated send with the operation's
 * signal, and the typed error of a failed answer. Kept apart from the API's calls so that each of
 * manifests.ts, blob-reads.ts, blob-uploads.ts, name-lists.ts and referrers-api.ts holds one area
 * of the Distribution API and none holds connection plumbing.
 */
import { AbortedError, NotFoundError, ProtocolError, UnsupportedError, type RegpushError } from '../errors.js';
import { READ_ONLY_REGISTRY } from './quirks.js';
import { errorFromResponse, notFoundAdvice } from '../http/response.js';
import { parseRateLimitHeader, type StatsHost } from '../http/stats.js';
import type { Transport } from '../http/transport.js';
import type { HttpRequest, HttpResponse, Send } from '../http/types.js';
import type { Logger } from '../log.js';
import { digestProblem, repositoryProblem, tagProblem } from '../ref/grammar.js';
import type { ConnectionNames } from '../option-names.js';
import type { Endpoint } from './endpoint.js';
import { probeScheme } from './scheme-probe.js';

/**
 * What a registry that takes no pushes says with its 405: distribution's "The operation is
 * unsupported." (proxy mode) or a bare "Method not allowed" (read-only mode); any other text
 * is a reason of its own.
 */
const GENERIC_REFUSAL = /^(?:the operation is unsupported\.?|method not allowed\.?|unsupported\.?|)$/i;

export interface RegistryHttpOptions {
  registry: string;
  endpoint: Endpoint;
  /** The path the API is served under at the host (RegistryClientOptions.apiPath), if any. */
  apiPath?: string;
  /** What named the registry insecure, for the hints, when not the transport's setting (RegistryClientOptions.insecureSetting). */
  insecureSetting?: string;
  /** A mirror configured with http:// (RegistryClientOptions.plainHttpMirror). */
  plainHttpMirror?: boolean;
  /** The setting that named the host insecure-TLS, for the scheme probe's warning of one on plain HTTP (RegistryClientOptions.insecureTlsBy). */
  insecureTlsSetting?: string;
  transport: Transport;
  /** The authenticated send: the registry's auth middleware over the transport's send. */
  send: Send;
  /** The operation's signal, given to every request made with request(). */
  signal?: AbortSignal;
  /** Told of the scheme probe's answer, which was sent without auth (SchemeProbe.heard: the auth middleware's `heard`). */
  heardProbe?: (res: HttpResponse) => void;
  /** The identity of the credential the requests go with (AuthMiddleware.whose); `anonymous` without one. */
  whose?: () => Promise<string>;
}

/** The advice of failWrite's E_NOT_FOUND for a write to a repository that is not there. */
const CREATE_REPOSITORY = 'some registries, such as Amazon ECR, do not create one on push: create it first, or check the name';

/**
 * failWrite's E_NOT_FOUND for a repository that is not there (marked `createRepository` where it
 * is made, not told by its words: a registry's own message may end the same), with `advice` for
 * its "create it first": a write that follows others to the same repository (a referrer's
 * manifest PUT, after the image it refers to was written there) meets a repository deleted
 * meanwhile, or a registry that words a refusal so, and creating it is not what to do. Undefined
 * for any other error, a reworded one included (its advice is no longer "create it first").
 */
export function rewordMissingRepository(err: unknown, advice: string): NotFoundError | undefined {
  if (!(err instanceof NotFoundError) || err.details.createRepository !== true) return undefined;
  const { createRepository: _advised, ...details } = err.details;
  return new NotFoundError(`${err.message.slice(0, -CREATE_REPOSITORY.length - 1)}${advice})`, { cause: err.cause, details });
}

/**
 * Runs `requests`, which hands `onSent` to each request it makes (HttpRequest.onSent). Interrupted
 * before any attempt of any of them had a connected socket (queued behind the connections per
 * host, its token or the scheme still being asked), the AbortedError says so (`details.unsent`):
 * nothing of it reached the registry, so the caller can say that nothing was done there (a
 * manifest PUT whose tag did not move, a listing that was never begun).
 */
export async function unsentWhenCut<T>(requests: (onSent: () => void) => Promise<T>): Promise<T> {
  let sent = false;
  try {
    return await requests(() => (sent = true));
  } catch (err) {
    if (sent || !(err instanceof AbortedError) || err.details.unsent === true) throw err;
    throw new AbortedError(err.message, { cause: err.cause, details: { ...err.details, unsent: true } });
  }
}

/**
 * The host a registry's answers are counted under in the run's stats (TransportStats.hostKey
 * keys it): `endpoint`'s host with the scheme its requests go by, for a loopback or insecure-TLS
 * registry (`auto`) the one the run's scheme probe settled on (Transport.probedSchemes, keyed by
 * host and `apiBase`, the path the API is served under), `auto` until it has. One answer for a
 * client's own requests (RegistryHttp.statsHost) and for a caller that has only the registry's
 * name and the run's settings (sync's pull-limit gate: endpointOf gives the endpoint every client
 * of the run reaches it by).
 */
export function statsHostOf(transport: Pick<Transport, 'probedSchemes'>, endpoint: Pick<Endpoint, 'host' | 'scheme'>, apiBase = ''): StatsHost {
  const { host, scheme } = endpoint;
  return { host, scheme: scheme === 'auto' ? (transport.probedSchemes.get(host + apiBase) ?? 'auto') : scheme };
}

/** One registry's API over HTTP, as the API's calls use it. */
export class RegistryHttp {
  readonly registry: string;
  readonly endpoint: Endpoint;
  readonly transport: Transport;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  /** The authenticated send, for a request that carries a signal of its own (request() adds the operation's). */
  readonly send: Send;
  /** `/` + RegistryClientOptions.apiPath, or '' for an API at the host's root. */
  private readonly apiBase: string;
  private baseUrl?: Promise<string>;
  private readonly insecureSetting?: string;
  private readonly plainHttpMirror?: boolean;
  private readonly insecureTlsSetting?: string;
  private readonly heardProbe?: (res: HttpResponse) => void;
  /** The identity of the credential the requests go with (RegistryHttpOptions.whose). */
  readonly whose: () => Promise<string>;

  constructor(opts: RegistryHttpOptions) {
    this.registry = opts.registry;
    this.endpoint = opts.endpoint;
    this.whose = opts.whose ?? (async () => 'anonymous');
    this.apiBase = opts.apiPath ? `/${opts.apiPath}` : '';
    this.transport = opts.transport;
    this.logger = opts.transport.logger;
    this.signal = opts.signal;
    // Every answer carrying a count is noted as its reader's (TransportStats.readerCount): the
    // count is the account's or address's the credential reads as, not the host's.
    this.send = async (req) => {
      const res = await opts.send(req);
      const remaining = parseRateLimitHeader(res.headers['ratelimit-remaining']);
      if (remaining) this.transport.stats.readerCount(this.statsHost(), await this.whose(), remaining.value);
      return res;
    };
    this.insecureSetting = opts.insecureSetting;
    this.plainHttpMirror = opts.plainHttpMirror;
    this.insecureTlsSetting = opts.insecureTlsSetting;
    this.heardProbe = opts.heardProbe;
  }

  /** The API base URL; probed once for a loopback or insecure-TLS registry (plain HTTP or TLS, whichever it speaks). */
  base(): Promise<string> {
    const { scheme, host } = this.endpoint;
    if (scheme !== 'auto') return Promise.resolve(`${scheme}://${host}${this.apiBase}/v2/`);
    if (this.baseUrl) return this.baseUrl;
    const baseUrls = this.transport.baseUrls;
    const key = host + this.apiBase;
    const shared = baseUrls.get(key);
    if (shared) return (this.baseUrl = shared);
    // The scheme is noted before any caller of base() goes on: whoever awaits it then keys the stats by it (statsHost).
    const mine = probeScheme({
      probe: this.transport.sendOnce,
      host,
      apiBase: this.apiBase,
      signal: this.signal,
      logger: this.logger,
      insecureTlsSetting: this.insecureTlsSetting,
      heard: this.heardProbe,
    }).then((url) => {
      this.transport.probedSchemes.set(key, url.startsWith('http:') ? 'http' : 'https');
      return url;
    });
    this.baseUrl = mine;
    baseUrls.set(key, mine);
    // A failed probe (aborted, refused) is not an answer for the next client.
    mine.catch(() => {
      if (baseUrls.get(key) === mine) baseUrls.delete(key);
    });
    return mine;
  }

  /**
   * This registry's host as the run's stats keep it (TransportStats.hostKey): with the scheme its
   * requests go by, the probed one once the probe has settled. Keyed `auto` (either default port
   * left out), `127.0.0.1:443` spoken to in plain HTTP would be `127.0.0.1`, while the counts its
   * answers bring are kept under `127.0.0.1:443` (the URL's host keeps a port not its scheme's
   * default): its rate-limit headers, pull owner and used-up mark would never be found.
   */
  statsHost(): StatsHost {
    return statsHostOf(this.transport, this.endpoint, this.apiBase);
  }

  /** statsHost() once the scheme is known: the probe awaited (a failed one leaves it `auto`: no request went out to be counted). */
  async settledStatsHost(): Promise<StatsHost> {
    if (this.endpoint.scheme === 'auto') await this.base().catch(() => undefined);
    return this.statsHost();
  }

  async url(path: string): Promise<string> {
    return (await this.base()) + path;
  }

  /**
   * The URL of `/v2/<repo>/<area>/<ref>`: a manifest's by tag or digest, a blob's or a referrers
   * list's by digest. Tags and digests also come from registries (a tag list, an index, a referrers
   * answer): one outside the grammar is refused here, unsent (E_PROTOCOL, naming `method` and the
   * name quoted), whatever checked it before. Put into the path as it is, a listed tag such as
   * `sha256-<hex>.sig/../../../prod/manifests/latest` is resolved by URL handling into another
   * repository's manifest, and a PUT there overwrites that repository's tag. The repository name
   * is checked the same way (a caller's, parsed, never fails here).
   */
  async refUrl(method: string, repo: string, area: 'manifests' | 'blobs' | 'referrers', ref: string): Promise<string> {
    const tagOrDigest = area === 'manifests' && !ref.includes(':');
    const wrong =
      repositoryProblem(repo) !== undefined
        ? `repository name ${JSON.stringify(repo)} is not one`
        : (tagOrDigest ? tagProblem(ref) : digestProblem(ref)) !== undefined
          ? `${JSON.stringify(ref)} is not a ${area === 'manifests' ? 'tag or digest' : 'digest'}`
          : undefined;
    if (wrong) {
      throw new ProtocolError(
        `${method} ${area === 'referrers' ? 'referrers' : area.slice(0, -1)} of ${this.registry}: not sent: ${wrong}; ` +
          'a name outside the reference grammar could address another repository',
        {
          details: { registry: this.registry },
        },
      );
    }
    return this.url(`${repo}/${area}/${ref}`);
  }

  /** Sends `req` with the operation's signal. */
  request(req: Omit<HttpRequest, 'signal'>): Promise<HttpResponse> {
    return this.send({ ...req, signal: this.signal });
  }

  /**
   * The typed error of a failed answer, keeping the registry's codes (`what`: the request, for the
   * message; `names`: what its hints call the settings, the transport's unless the request words them its own way).
   */
  error(res: HttpResponse, what: string, names: ConnectionNames = this.transport.names): Promise<RegpushError> {
    return errorFromResponse(res, { what, registry: this.registry, names, insecureSetting: this.insecureSetting, plainHttpMirror: this.plainHttpMirror });
  }

  async fail(res: HttpResponse, what: string, names?: ConnectionNames): Promise<never> {
    throw await this.error(res, what, names);
  }

  /**
   * A write to `repo` (the upload's POST, a manifest PUT: `request`) that failed: as fail(), but a
   * 405 or an UNSUPPORTED code says the registry takes no pushes there at all — CNCF distribution
   * in proxy mode (a pull-through cache) refuses every blob upload and manifest PUT with 405
   * UNSUPPORTED, as a registry in read-only mode does — which is E_UNSUPPORTED (exit 6) in one
   * line, not a registry failure to retry or report. A manifest PUT says so by a bare 405 only
   * (`codeSaysReadOnly` false): a 405 with a reason of the registry's own, a 415, or a 400
   * MANIFEST_INVALID refuses that manifest (its media type, its artifact type), after every blob
   * was taken, and keeps the registry's own words.
   */
  async failWrite(res: HttpResponse, what: string, repo: string, request: string, codeSaysReadOnly = true): Promise<never> {
    const err = await this.error(res, what);
    const codes = err.details.registryCodes ?? [];
    if (codes.includes('NAME_UNKNOWN') || (res.status === 404 && codes.length === 0)) {
      // A write to a repository that is not there: Amazon ECR creates none on push and answers
      // the target's POST and PUT 404 NAME_UNKNOWN (plexsystems/sinker#55, regclient/regclient#869).
      // Advice to check a reference that inspect() could show is for a read; here the target's
      // repository is missing, and is created first.
      const advice = ` (${notFoundAdvice(this.transport.names)})`;
      const answer = err.message.endsWith(advice) ? err.message.slice(0, -advice.length) : err.message;
      throw new NotFoundError(`${answer} (the repository ${repo} does not exist at ${this.registry}; ${CREATE_REPOSITORY})`, { cause: err, details: { ...err.details, createRepository: true } });
    }
    if (!codeSaysReadOnly) {
      // A manifest PUT refused for the manifest itself: ECR answers one it will not take 405
      // UNSUPPORTED with its reason ("Invalid parameter at 'ImageManifest' failed to satisfy
      // constraint: 'Invalid JSON syntax'": falcosecurity/falcoctl#302, opcr-io/policy#149), others
      // 400 MANIFEST_INVALID or 415. A 400 naming no code is not one: a proxy's own page ("400
      // Request Header Or Cookie Too Large") says nothing of the manifest. That is no read-only registry: the registry's words are the
      // error, marked for the transfer layer to add what the caller can change (`manifestRefused`).
      const explained = (err.details.registryMessages as string[] | undefined)?.some((m) => !GENERIC_REFUSAL.test(m.trim())) ?? false;
      if ((res.status === 405 && explained) || res.status === 415 || (res.status === 400 && codes.length > 0 && codes.every((c) => c === 'MANIFEST_INVALID' || c === 'UNSUPPORTED'))) {
        err.details.manifestRefused = true;
        if (res.status === 400) throw err;
        throw new UnsupportedError(err.message, { cause: err, details: err.details });
      }
    }
    if (res.status !== 405 && !(codeSaysReadOnly && codes.includes('UNSUPPORTED'))) throw err;
    const answer = [res.status, ...codes].join(' ');
    throw new UnsupportedError(`${this.registry} does not accept pushes to ${repo} (${request} answered ${answer}, as ${READ_ONLY_REGISTRY} does)`, { cause: err, details: err.details });
  }
}
