/**
 * The auth middleware: outermost in the stack (auth → retry → redirect → transport). It reacts to
 * 401 challenges, caches what it learns for the rest of the operation, and attaches
 * Authorization up front once the scheme is known, so later requests (and non-replayable
 * upload bodies) do not pay for a 401 round trip. This file is the request's path through it (the
 * origin check, Authorization up front, at most three rounds of challenge and replay) and the
 * wiring of the parts it is made of: what it knows of the registry (scheme-state.ts), the
 * credential it sends (credential-source.ts), each scheme (bearer-auth.ts, basic-auth.ts,
 * registry-token-auth.ts), the answer to a challenge (challenge-answer.ts), refused credentials
 * and their errors (refusals.ts, refusal-errors.ts), and the operation's memory (auth-memory.ts).
 */
import { who } from './credential-id.js';
import { silentLogger, type Logger } from '../log.js';
import { settleSmallBody } from '../http/response.js';
import type { HttpRequest, HttpResponse, Middleware, Send } from '../http/types.js';
import { apiHost, canonicalRegistry, registryHostOf } from '../ref/registry.js';
import type { Attempt } from './attempt.js';
import type { AuthMemory } from './auth-memory.js';
import { BasicAuth } from './basic-auth.js';
import { BearerAuth } from './bearer-auth.js';
import { ChallengeAnswer } from './challenge-answer.js';
import { answerableChallenge, parseChallenges, type Challenge } from './challenge.js';
import { CredentialSource } from './credential-source.js';
import type { Credential, SecretSink } from './credential-types.js';
import { presumedChallenge } from './presumed-challenge.js';
import { RefusalErrors } from './refusal-errors.js';
import { RefusalRecord } from './refusals.js';
import { RegistryTokenAuth } from './registry-token-auth.js';
import { SchemeState } from './scheme-state.js';
import { mergeScopes } from './scope.js';
import { TokenCache } from './token-cache.js';
import { discard } from './token.js';

/** Options of authMiddleware; one middleware per registry per operation. */
export interface AuthOptions {
  /** Registry host, e.g. "ghcr.io", "docker.io", "127.0.0.1:5000". */
  registry: string;
  /**
   * How the registry is reached; an https registry never gets an http token realm (loopback aside).
   * 'auto': a loopback registry whose scheme is probed, plain HTTP first, then TLS if the port
   * refuses plain HTTP (probeScheme in registry/scheme-probe.ts).
   */
  scheme: 'http' | 'https' | 'auto';
  /** Scopes for the whole operation, e.g. repository:<target>:pull,push and repository:<source>:pull. */
  scopes: string[];
  /** Resolves the credential; called at most once, on the first challenge. */
  credential: () => Promise<Credential | undefined>;
  /**
   * Resolves the credential again after `refused` was refused (a token service's 401 or 403, a
   * Basic registry's 401, a registry token the registry refused), reading the stored logins anew:
   * a credential helper's token (gcloud's lasts 1 h, ECR's 12 h, ACR's 3 h) or a rewritten config
   * file may have replaced it. Called at most once per refused credential; absent, a refusal is
   * final.
   */
  renewCredential?: (refused: Credential) => Promise<Credential | undefined>;
  /** Send used for token requests (the realm is often another host); not wrapped by this middleware. */
  tokenSend: Send;
  /**
   * Send for a token asked from a presumed realm (see `presume`), default tokenSend. Without
   * retries where the caller has one: a failure there only means asking the registry instead,
   * so it should cost one attempt, not a retry budget before the registry's own retries.
   */
  presumedTokenSend?: Send;
  logger?: Logger;
  userAgent?: string;
  /** Clock in ms; injectable for tests. */
  now?: () => number;
  /**
   * Where credentials were looked for, in the order tried (e.g. ["REGPUSH_TO_USER/REGPUSH_TO_PASSWORD",
   * "Docker config.json"]; a string is one source), named when none fit or the ones found are refused.
   */
  lookedAt?: string | readonly string[];
  /**
   * What to do when the registry or its token service refuses the credentials or finds none,
   * appended to that error: the transport's ConnectionNames.refused for this registry (the
   * library's options, or the CLI's `regpush login`); none where the operation takes no credentials.
   */
  refusalAdvice?: string;
  /** `refusalAdvice` names where the credentials came from, so a refusal does not name `lookedAt` again. */
  adviceNamesOrigin?: boolean;
  /** Shared token cache; default the memory's, else one per middleware. Keys include registry and user, so sharing is safe. */
  cache?: TokenCache;
  /** What the operation has learned of each registry's auth, shared by its clients (see AuthMemory). */
  memory?: AuthMemory;
  /** The run's secrets: the credential and every bearer token received are added. */
  secrets?: SecretSink;
  /**
   * The challenge a registry is known to send before it has sent one (presumed-challenge.ts), so
   * the first request carries a token; default presumedChallenge. Injectable for tests.
   */
  presume?: (registry: string) => Challenge | undefined;
  /**
   * The path the API is served under at the host (RegistryClientOptions.apiPath): such an API is a
   * registry of its own for what the operation learns (Artifactory gives each repository path its
   * own token realm), so it is remembered apart from the host's root.
   */
  apiPath?: string;
}

/** The auth middleware of one registry, and the token fetch ahead of its first request. */
export interface AuthMiddleware extends Middleware {
  /**
   * Fetches, into the operation's token cache, the token a request with the client's scopes would
   * need, when that is known before any request: the registry's token challenge has been seen (or
   * is presumed) in this operation. Otherwise, or on any failure, it does nothing: the request
   * itself then fetches and reports as always. A sync calls it for the images about to start, so
   * that each one's token round trip is off its path.
   */
  prefetch(signal?: AbortSignal): Promise<void>;
  /**
   * Hears the answer to a request this middleware did not send: the scheme probe's GET /v2/
   * (registry/scheme-probe.ts), sent without credentials. Its 401 names the registry's challenge,
   * which is then answered up front by every request, of this client and of every other client of
   * the operation (AuthMemory), instead of each paying a 401 of its own; its answer over TLS makes
   * the registry an https one before any token is asked for. Never throws: a challenge it cannot
   * read is left for a request's own 401 to report.
   */
  heard(res: HttpResponse): void;
  /**
   * The identity (credential-id.ts `who`) of the credential this client's requests go with:
   * whose pulls a registry that counts them per account charges (registry/manifests.ts). A lookup
   * that fails is the request's to report: then `anonymous`, as the request would go if it went.
   */
  whose(): Promise<string>;
}

/** Builds the auth middleware for one registry. */
export function authMiddleware(opts: AuthOptions): AuthMiddleware {
  const log = opts.logger ?? silentLogger;
  const now = opts.now ?? Date.now;
  const cache = opts.cache ?? opts.memory?.tokens ?? new TokenCache();
  const schemes = opts.scheme === 'auto' ? ['https', 'http'] : [opts.scheme];
  const registryHost = registryHostOf(opts.registry) ?? canonicalRegistry(opts.registry);
  const origins = new Set([registryHost, apiHost(registryHost)].flatMap((h) => schemes.map((s) => originOf(`${s}://${h}/`))));
  // What the operation remembers of this registry (AuthMemory) is keyed by host and API path.
  const memoryKey = opts.apiPath ? `${registryHost}/${opts.apiPath}` : registryHost;
  const known = opts.memory?.known(memoryKey);
  const state = new SchemeState({
    registry: opts.registry,
    known,
    // What the registry has not said yet may be known anyway (presumed-challenge.ts).
    presumed: known ? undefined : (opts.presume ?? presumedChallenge)(registryHost),
    memory: opts.memory,
    memoryKey,
    log,
  });
  const accepted = opts.memory?.acceptedCredentials ?? new Set<string>();
  const refusals = new RefusalRecord({ registry: opts.registry, registryHost, memoryKey, refusals: opts.memory?.refusals ?? new Map(), log });
  const errors = new RefusalErrors(opts.registry, opts.lookedAt, opts.refusalAdvice, opts.adviceNamesOrigin);
  const credentials = new CredentialSource({
    registry: opts.registry,
    credential: opts.credential,
    renewCredential: opts.renewCredential,
    secrets: opts.secrets,
    log,
    accepted,
    renewed: opts.memory?.renewedCredentials ?? new Set<string>(),
  });
  const parts = { state, credentials, refusals, errors };
  const bearer = new BearerAuth({
    ...parts,
    registry: opts.registry,
    registryHost,
    scheme: opts.scheme,
    cache,
    now,
    log,
    tokenSend: opts.tokenSend,
    presumedTokenSend: opts.presumedTokenSend,
    userAgent: opts.userAgent,
    secrets: opts.secrets,
    memory: opts.memory,
    accepted,
  });
  const basic = new BasicAuth(parts);
  const registryToken = new RegistryTokenAuth({ ...parts, accepted });
  const challenges = new ChallengeAnswer({ ...parts, registry: opts.registry, log, bearer, basic, registryToken });

  /** The Authorization value to send before any challenge for this request, if the scheme is known. */
  const proactive = async (scopes: string[], attempt: Attempt, signal: AbortSignal | undefined): Promise<string | undefined> => {
    // Another client of the operation, or the scheme probe, may have heard the challenge since.
    state.recall();
    if (state.mode === 'unknown') return undefined;
    let cred = await credentials.get();
    if (cred?.registryToken) {
      cred = await registryToken.unrefused(cred, attempt);
      if (cred?.registryToken) return registryToken.header(cred, attempt);
    }
    if (state.mode === 'basic' && cred?.username && cred.password) return basic.upFront(cred, attempt);
    return bearer.upFront(cred, scopes, attempt, signal);
  };

  // What a first request with the client's scopes would send, worked out now (the token lands in
  // the cache); nothing when the scheme is not known yet.
  const prefetch = async (signal?: AbortSignal): Promise<void> => {
    try {
      await proactive(mergeScopes([...opts.scopes, ...state.learnedScopes]), { tokenFetches: 0 }, signal);
    } catch {
      // The request fetches again and reports what goes wrong.
    }
  };

  const heard = (res: HttpResponse): void => {
    if (!origins.has(originOf(res.url))) return;
    if (res.url.startsWith('https:')) bearer.registryAnsweredOverTls();
    const header = res.headers['www-authenticate'];
    if (res.status !== 401 || !header?.trim()) return;
    let challenge: Challenge | undefined;
    try {
      challenge = answerableChallenge(parseChallenges(header));
    } catch {
      return; // a malformed challenge: the first request's own 401 reports it
    }
    if (!challenge) return;
    log.debug(`auth: ${opts.registry} named its challenge (${challenge.scheme}) to the scheme probe; requests answer it up front`);
    state.hear(challenge);
  };

  const middleware = (next: Send): Send =>
    async (req: HttpRequest): Promise<HttpResponse> => {
      // Never attach credentials for another origin (storage redirects, absolute Locations) or
      // override an Authorization header the caller chose itself.
      if (!origins.has(originOf(req.url)) || hasAuthorization(req)) return next(req);
      const attempt: Attempt = { tokenFetches: 0 };
      const scopes = mergeScopes([...opts.scopes, ...(req.scopes ?? []), ...state.learnedScopes]);
      let res = await next(withAuthorization(req, await proactive(scopes, attempt, req.signal)));
      if ((attempt.sent?.kind === 'basic' || attempt.sent?.kind === 'registry-token') && !isChallenge(res)) accepted.add(attempt.sent.who);
      // A probed registry ('auto') that answered over TLS is an https registry from now on
      // (BearerAuth.registryAnsweredOverTls).
      if (req.url.startsWith('https:')) bearer.registryAnsweredOverTls();
      // At most: stale token → fresh token → widened scopes. Only the registry's own answers
      // count: a 401 from where a redirect led (blob storage, a CDN) is handed back as it is, so
      // a challenge there can never draw the registry's credentials to another realm; so is the
      // registry's own 401 to a request a redirect brought back without its Authorization (it was
      // not sent the credentials: no verdict on them, and they are not sent after such a hop).
      for (let round = 0; round < 3 && isChallenge(res) && origins.has(originOf(res.url)) && !res.redirected?.authorizationDropped; round++) {
        // The challenge's body is read first, so that its connection is free for the token GET
        // (a realm on the registry's host) or the replay, rather than one opened beside it.
        res = await settleSmallBody(res);
        let authorization: string | undefined;
        try {
          authorization = await challenges.answer(res, req, scopes, attempt);
        } catch (err) {
          discard(res.body); // free the connection before reporting
          throw err;
        }
        if (authorization === undefined) return res;
        discard(res.body);
        res = await next(withAuthorization(req, authorization));
        if ((attempt.sent?.kind === 'basic' || attempt.sent?.kind === 'registry-token') && !isChallenge(res)) accepted.add(attempt.sent.who);
      }
      return res;
    };
  // Asked on every Docker Hub manifest answer (registry/manifests.ts) and every answer carrying a
  // count (registry-http.ts): the identity hashes the credential, so it is kept for the credential
  // it was computed from, and computed again only when the credential changes (a renewal).
  let identified: { cred: Credential | undefined; id: string } | undefined;
  const identity = (cred: Credential | undefined): string => {
    if (identified === undefined || identified.cred !== cred) identified = { cred, id: who(cred) };
    return identified.id;
  };
  const whose = (): Promise<string> => credentials.get().then(identity, () => identity(undefined));
  return Object.assign(middleware, { prefetch, heard, whose });
}

/**
 * A 401, or a 400 that carries a challenge: Nexus answers 400 where a 401 is due
 * (GoogleContainerTools/jib#2898; see registry/quirks.ts). A 400 without a challenge is a real 400.
 */
function isChallenge(res: HttpResponse): boolean {
  return res.status === 401 || (res.status === 400 && !!res.headers['www-authenticate']?.trim());
}

function hasAuthorization(req: HttpRequest): boolean {
  return Object.keys(req.headers ?? {}).some((k) => k.toLowerCase() === 'authorization');
}

function withAuthorization(req: HttpRequest, authorization: string | undefined): HttpRequest {
  if (authorization === undefined) return req;
  return { ...req, headers: { ...(req.headers ?? {}), authorization } };
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}
