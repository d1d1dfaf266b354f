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
import type { RegpushError } from '../errors.js';
import { who } from './credential-id.js';
import { untilAborted } from '../abort.js';
import { silentLogger, type Logger } from '../log.js';
import { settleSmallBody } from '../http/response.js';
import type { HttpRequest, HttpResponse, Middleware, Send } from '../http/types.js';
import { apiHost, canonicalRegistry, registryHostOf } from '../ref/registry.js';
import type { Attempt } from './attempt.js';
import type { AuthMemory, FirstLead } from './auth-memory.js';
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
import { mergeScopes, repositoryScope } from './scope.js';
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
  /**
   * Opens connections to the registry until `n` are open (RegistryClient.warm): asked by the
   * requests that wait for the first one's answer (AuthMemory.firstAnswer), so that each finds a
   * connection made meanwhile, as the request it did not send would have made one.
   */
  preconnect?: (n: number) => void;
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
   * that each one's token round trip is off its path. `ask` (a `GET /v2/` sent without
   * credentials: HttpRegistryClient.askChallenge) first learns the challenge where nothing else
   * would name it before the requests the token is for go out (askAhead): a mirror no image has
   * read through yet knows no token service to fetch from.
   */
  prefetch(signal?: AbortSignal, ask?: () => Promise<HttpResponse>): Promise<void>;
  /**
   * Hears the answer to a request this middleware did not send: the scheme probe's GET /v2/
   * (registry/scheme-probe.ts), or the one a prefetch sends (its `ask`), without credentials. Its
   * 401 names the registry's challenge, which is then answered up front by every request, of this
   * client and of every other client of the operation (AuthMemory), instead of each paying a 401
   * of its own; its answer over TLS makes the registry an https one before any token is asked for.
   * Never throws: a challenge it cannot read is left for a request's own 401 to report.
   */
  heard(res: HttpResponse): void;
  /**
   * The identity (credential-id.ts `who`) of the credential this client's requests go with:
   * whose pulls a registry that counts them per account charges (registry/manifests.ts). A lookup
   * that fails is the request's to report: then `anonymous`, as the request would go if it went.
   */
  whose(): Promise<string>;
  /**
   * Whether the credentials may push to `repo`, as far as this client can tell without writing
   * (a dry run's plan): where the token its requests send lists what it grants (a JWT's `access`
   * claim), `granted`, or `denied` with the error the write would meet; everywhere else `unchecked`
   * and why. Asked after the client's reads: what the registry's answers to them taught (its
   * scheme, its challenge) is what this goes by. Throws only what a request would (a credential
   * lookup that fails, the token fetch a request would make).
   */
  writeAccess(repo: string, signal?: AbortSignal): Promise<WriteAccess>;
}

/** AuthMiddleware.writeAccess's answer. */
export type WriteAccess = { kind: 'granted' } | { kind: 'denied'; error: RegpushError } | { kind: 'unchecked'; why: string };

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
    if (state.mode === 'basic' && cred?.username && cred.password) {
      await basicVerdict(cred, signal);
      return basic.upFront(cred, attempt);
    }
    return bearer.upFront(cred, scopes, attempt, signal);
  };

  /**
   * Waits, where the registry has yet to judge the password the run's first request sent after
   * its Basic challenge (AuthMemory.basicLogin), for that verdict: a password it refuses is then
   * not sent again (BasicAuth.upFront), where every request that had waited for the first answer
   * sent it together, up to `--images` failed logins at once. Not for a password already accepted.
   */
  const basicVerdict = async (cred: Credential, signal: AbortSignal | undefined): Promise<void> => {
    const login = opts.memory?.basicLogin(memoryKey);
    if (!login || accepted.has(who(cred))) return;
    log.debug(`auth: waiting for ${opts.registry}'s verdict on the password the first request sent before sending it too`);
    // A cancellation ends the wait: the request then fails as any cancelled one.
    await untilAborted(signal, login).catch(() => undefined);
  };

  // What a first request with the client's scopes would send, worked out now (the token lands in
  // the cache); nothing when the scheme is not known yet.
  const prefetch = async (signal?: AbortSignal, ask?: () => Promise<HttpResponse>): Promise<void> => {
    try {
      if (ask && !(await askAhead(ask))) return;
      await proactive(mergeScopes([...opts.scopes, ...state.learnedScopes]), { tokenFetches: 0 }, signal);
    } catch {
      // The request fetches again and reports what goes wrong.
    }
  };

  /**
   * Learns the registry's challenge for a prefetch (`ask`), where nothing else will name it before
   * the requests the token is for go out: nothing heard, remembered or presumed in the operation,
   * and no scheme probe (an 'auto' registry's names it). Where a request of the run has led its
   * first answer (AuthMemory.firstAnswerLed), that answer's Bearer challenge is presumed, as a
   * request waiting for it presumes it, and nothing is sent; otherwise `ask` goes, once per
   * registry and run (AuthMemory.askedAhead), and a Bearer challenge in its answer is heard as the
   * scheme probe's is (a Basic one is left for the requests' first answer to name).
   * False where the prefetch is not to fetch the token: a challenge learnt here may be learnt
   * beside an image reading there for the first time, whose token request would carry the same
   * login, and a login not yet accepted in the run goes out once only, from a request (a wrong
   * password, sent twice at once, counts twice towards an account lockout): the image then fetches
   * its token on its path, but meets no 401. Anonymous tokens, and a login accepted already, are
   * fetched ahead.
   */
  const askAhead = async (ask: () => Promise<HttpResponse>): Promise<boolean> => {
    state.recall();
    const memory = opts.memory;
    if (!memory || opts.scheme === 'auto' || state.mode !== 'unknown') return true;
    const led = memory.firstAnswerLed(memoryKey);
    if (led) {
      const challenge = await led.answer;
      if (challenge?.scheme === 'bearer') state.presume(challenge);
    } else {
      let asked = memory.askedAhead.get(memoryKey);
      if (!asked) {
        log.debug(`auth: nothing names ${opts.registry}'s challenge yet; asking it with GET /v2/ ahead of the requests of the image it is for`);
        // Only a Bearer challenge is kept: a Basic one gives the prefetch no token to fetch, and a
        // registry recorded Basic has each request send its password up front, where the first
        // answer's lead has a login not yet accepted go out once (a wrong one counted once
        // towards a lockout, not once per image starting together).
        asked = ask().then((res) => heard(res, 'bearer'), () => undefined);
        memory.askedAhead.set(memoryKey, asked);
      }
      await asked;
    }
    const cred = await credentials.get();
    return cred === undefined || accepted.has(who(cred));
  };

  const heard = (res: HttpResponse, only?: Challenge['scheme']): void => {
    if (!origins.has(originOf(res.url))) return;
    if (res.url.startsWith('https:')) bearer.registryAnsweredOverTls();
    const challenge = res.status === 401 ? challengeOf(res) : undefined;
    if (!challenge || (only !== undefined && challenge.scheme !== only)) return;
    log.debug(`auth: ${opts.registry} named its challenge (${challenge.scheme}) to a GET /v2/ sent without credentials (the scheme probe, or one sent ahead); requests answer it up front`);
    state.hear(challenge);
  };

  /**
   * The turn of a request sent while the registry's scheme is unknown and no probe will name it
   * (https: AuthMemory.firstAnswer). The first such request of the run goes, and its lead is
   * returned. One sent before that request's first attempt is answered, with credentials to send,
   * waits for that attempt's headers only (any status, error or cancellation ends the wait; never
   * the retries after it, nor past AuthMemory.firstAnswerWaitMs: a first attempt left silent goes
   * on alone), with a connection opened meanwhile; then, where they were a 401 naming
   * a Bearer challenge, presumes it and fetches its own token up front; where they named Basic and
   * the request has a username and password, presumes that and sends them up front: one 401 for
   * the run where each met its own (the first `--images` images of a sync, a push's first
   * requests). The wait costs no round trip where the registry challenges: its own 401 would have
   * come as late. A request without credentials does not wait: a registry that asks for none would
   * make it wait a round trip for nothing.
   */
  const turn = async (req: HttpRequest): Promise<FirstLead | undefined> => {
    state.recall();
    if (opts.scheme !== 'https' || !opts.memory || state.mode !== 'unknown') return undefined;
    const first = opts.memory.firstAnswer(memoryKey);
    if ('lead' in first) return first.lead;
    const { wait } = first;
    if (wait.settled && !wait.challenge) return undefined;
    // A lookup that fails is the request's to report, after its own 401, as before.
    const credential = credentials.get().catch(() => undefined);
    if (!wait.settled) {
      void credential.then((cred) => {
        if (!cred || wait.settled) return;
        opts.preconnect?.(wait.waiting + 1);
        log.debug(`auth: ${opts.registry}'s scheme is not known yet; waiting for the first answer to the request sent first`);
      });
    }
    // Whichever says first: no credentials to send, or an answer without a challenge they answer:
    // go at once. A cancellation ends the wait too: the request then goes and fails as any
    // cancelled one. Basic takes a username and password: other credentials (a registry token, an
    // identity token) go as they would have gone without the wait.
    const answers = (c: Challenge | undefined, cred: Credential | undefined): Challenge | undefined =>
      cred && (c?.scheme === 'bearer' || (c?.scheme === 'basic' && cred.username && cred.password)) ? c : undefined;
    const signals = [req.signal, req.unsentSignal].filter((s): s is AbortSignal => s !== undefined);
    const presumed = await untilAborted(
      signals.length > 1 ? AbortSignal.any(signals) : signals[0],
      Promise.race([
        credential.then((cred) => (cred ? wait.answer.then((c) => answers(c, cred)) : undefined)),
        wait.answer.then((c) => (c ? credential.then((cred) => answers(c, cred)) : undefined)),
      ]),
    ).catch(() => undefined);
    if (presumed) {
      state.presume(presumed);
      const named = presumed.scheme === 'basic' ? 'Basic' : `realm ${presumed.params.realm}`;
      log.debug(`auth: presuming ${opts.registry}'s challenge (${named}) from the first answer to the request sent first`);
    } else if (wait.stalled) {
      log.debug(`auth: the request sent first to ${opts.registry} has had no answer for ${opts.memory.firstAnswerWaitMs} ms; going on without it`);
    }
    return undefined;
  };

  /** `req` as the request that leads sends it: the first answer its first attempt gets (or its failure) is told to the ones waiting. */
  const leading = (req: HttpRequest, lead: FirstLead): HttpRequest => ({
    ...req,
    onHeaders: (res) => {
      const challenge = isChallenge(res) ? challengeOf(res) : undefined;
      // A 5xx or a 429 says nothing of the registry's auth: the next request leads again.
      if (!origins.has(originOf(res.url)) || (!challenge && (res.status >= 500 || res.status === 429))) lead.unanswered();
      else lead.answered(challenge);
      req.onHeaders?.(res);
    },
    onAttemptError: (err) => {
      lead.unanswered();
      req.onAttemptError?.(err);
    },
  });

  const middleware = (next: Send): Send =>
    async (req: HttpRequest): Promise<HttpResponse> => {
      // Never attach credentials for another origin (storage redirects, absolute Locations) or
      // override an Authorization header the caller chose itself.
      if (!origins.has(originOf(req.url)) || hasAuthorization(req)) return next(req);
      const lead = await turn(req);
      try {
        return await authenticated(next, req, lead);
      } finally {
        // Its password, sent after the first answer's Basic challenge, judged (or none sent):
        // the requests holding theirs go on (AuthMemory.basicLogin).
        lead?.loginSettled();
      }
    };

  /** `req` through the challenges: Authorization up front where the scheme is known, at most three rounds of challenge and replay. */
  const authenticated = async (next: Send, req: HttpRequest, lead: FirstLead | undefined): Promise<HttpResponse> => {
    const attempt: Attempt = { tokenFetches: 0 };
    const scopes = mergeScopes([...opts.scopes, ...(req.scopes ?? []), ...state.learnedScopes]);
    let res: HttpResponse;
    try {
      res = await next(withAuthorization(lead ? leading(req, lead) : req, await proactive(scopes, attempt, req.signal)));
    } finally {
      // Whatever happened before its first attempt was answered (a cancellation before it went out).
      lead?.unanswered();
    }
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
  const writeAccess = async (repo: string, signal?: AbortSignal): Promise<WriteAccess> => {
    state.recall();
    const cred = await credentials.get();
    // Only a token service's own token lists rights: a registry token is the user's, sent as it is;
    // Basic credentials, and a registry that asked for none, are judged by the registry on the write.
    if (cred?.registryToken) return { kind: 'unchecked', why: 'a registry token lists no rights this client can read' };
    if (state.mode === 'basic') return { kind: 'unchecked', why: 'the registry takes Basic credentials, which say nothing of rights before a write' };
    if (state.mode !== 'bearer') return { kind: 'unchecked', why: 'the registry asked for no credentials on the reads, and says whether it takes a write only when one is sent' };
    const scope = repositoryScope(repo, ['pull', 'push']);
    const got = await bearer.granted(cred, mergeScopes([...opts.scopes, ...state.learnedScopes, scope]), repo, signal);
    if (!got?.actions) return { kind: 'unchecked', why: 'the token from the token service does not list what it grants on this repository (not a JWT whose access claim names it)' };
    if (got.actions.includes('push') || got.actions.includes('*')) return { kind: 'granted' };
    return { kind: 'denied', error: errors.notGranted(cred, [scope], got.realmHost) };
  };
  return Object.assign(middleware, { prefetch, heard: (res: HttpResponse) => heard(res), whose, writeAccess });
}

/** The challenge `res` names that regpush can answer; undefined for none, a malformed one (the request's own 401 reports it) or none supported. */
function challengeOf(res: HttpResponse): Challenge | undefined {
  const header = res.headers['www-authenticate'];
  if (!header?.trim()) return undefined;
  try {
    return answerableChallenge(parseChallenges(header));
  } catch {
    return undefined;
  }
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
