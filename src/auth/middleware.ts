/**
 * The auth middleware: outermost in the stack (auth → retry → redirect → transport). It reacts to
 * 401 challenges, caches what it learns for the rest of the operation, and attaches
 * Authorization up front once the scheme is known, so later requests (and non-replayable
 * upload bodies) do not pay for a 401 round trip.
 */
import { createHash } from 'node:crypto';
import { AuthError, DeniedError, type RegpushError } from '../errors.js';
import { settleSmallBody } from '../http/response.js';
import { untilAborted } from '../http/retry.js';
import type { HttpRequest, HttpResponse, Middleware, Send } from '../http/types.js';
import { silentLogger, type Logger } from '../log.js';
import { findChallenge, parseChallenges, type Challenge } from './challenge.js';
import type { CredentialFile } from './config-file.js';
import { helperReplyHolds, type Credential, type SecretSink } from './credentials.js';
import { presumedChallenge, sameTokenService } from './presumed-challenge.js';
import { apiHost, canonicalRegistry, registryHostOf } from '../ref/registry.js';
import { mergeScopes, parseScope, scopeKey, scopesCover } from './scope.js';
import { TokenCache } from './token-cache.js';
import { discard, fetchToken } from './token.js';

/** Re-exported so tests and pipelines can share a cache between middlewares. */
export { TokenCache } from './token-cache.js';

/** Options of authMiddleware; one middleware per registry per operation. */
export interface AuthOptions {
  /** Registry host, e.g. "ghcr.io", "docker.io", "127.0.0.1:5000". */
  registry: string;
  /**
   * How the registry is reached; an https registry never gets an http token realm (loopback aside).
   * 'auto': a loopback registry whose scheme is probed, plain HTTP first, then TLS if the port
   * refuses plain HTTP (RegistryClient.probeScheme).
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
  /** Where credentials were looked for (e.g. "REGPUSH_TO_USER/REGPUSH_TO_PASSWORD, Docker config.json"), named when none fit. */
  lookedAt?: string;
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

type Mode = 'unknown' | 'bearer' | 'basic' | 'registry-token';

/**
 * What one operation has learned about each registry's authentication (its scheme and challenge)
 * and the tokens it holds, shared by every client the operation makes. A sync of many images makes
 * a client per image and repository; without this each one would start with a request that the
 * registry answers 401, and only then fetch its token: one round trip per image and registry for
 * nothing. With it, a client of a known registry fetches the token for its own scopes first.
 * Token cache keys hold the registry, the user and the scopes, so sharing is safe across roles.
 */
export class AuthMemory {
  readonly tokens = new TokenCache();
  private readonly schemes = new Map<string, { mode: 'bearer' | 'basic'; challenge: Challenge }>();
  /**
   * Registries reached by probing ('auto') that have answered over TLS: https registries for every
   * client of the operation, so none sends credentials to a plain-http realm. Kept here, not per
   * client: a later client fetches its first token (from the learned challenge) before its own
   * first answer.
   */
  readonly answeredOverTls = new Set<string>();

  /** What is known of `registry`'s scheme, if anything. */
  known(registry: string): { mode: 'bearer' | 'basic'; challenge: Challenge } | undefined {
    return this.schemes.get(registry);
  }

  private readonly credentials = new Map<string, Promise<Credential | undefined>>();

  /**
   * Credential helpers' `get` replies, by helper and server URL. Credentials are looked up per
   * repository (an `auths` key may name a namespace), while a helper answers per registry: this
   * keeps a sync of many repositories at one helper run per registry, and one more each time the
   * registry refuses what it gave (renewCredential drops that reply).
   */
  readonly helperReplies = new Map<string, Promise<string>>();

  /** `credsStore` lookups that failed in this operation: warned about once and not run again (a failed reply is not kept in helperReplies, since a credHelpers failure may be transient). */
  readonly failedStores = new Set<string>();

  /** Credential files read in this operation, by path: looked up per repository, each is read once. */
  readonly fileReads = new Map<string, Promise<CredentialFile | undefined>>();

  /** The credential for `key` ("<role> <registry>/<repository>"), looked up once per operation. */
  credential(key: string, lookup: () => Promise<Credential | undefined>): Promise<Credential | undefined> {
    let c = this.credentials.get(key);
    if (!c) this.credentials.set(key, (c = lookup()));
    return c;
  }

  /** Renewals by credential key and the refused credential's identity (renewCredential). */
  private readonly renewals = new Map<string, Promise<Credential | undefined>>();
  /** Stored logins forgotten after a credential was refused, by its identity (forgetStoredLogins). */
  private readonly forgotten = new Map<string, Promise<void>>();

  /**
   * The credential for `key` looked up again after `refused` was refused, in place of the one
   * credential() keeps. A credential helper's reply is kept for the whole operation (one run per
   * registry), but its token may not last as long: docker-credential-gcloud's OAuth token lasts
   * 1 h, ECR's password 12 h, ACR's token 3 h, and a sync can run longer; a config file may have
   * been rewritten by another `docker login` meanwhile. So the helper replies holding the refused
   * secret, and the files read, are forgotten once per refused credential and the lookup runs
   * again (one more helper run, whatever the number of repositories refused with it). Explicit
   * and env credentials come back the same, and the caller then keeps the refusal.
   */
  renewCredential(key: string, refused: Credential, lookup: () => Promise<Credential | undefined>): Promise<Credential | undefined> {
    const id = who(refused);
    const k = `${key}\n${id}`;
    let renewed = this.renewals.get(k);
    if (!renewed) {
      let forgotten = this.forgotten.get(id);
      if (!forgotten) this.forgotten.set(id, (forgotten = this.forgetStoredLogins(refused)));
      renewed = forgotten.then(lookup);
      this.renewals.set(k, renewed);
      this.credentials.set(key, renewed);
    }
    return renewed;
  }

  /** Drops the helper replies that hold `refused`'s secret, and every file read, so that the next lookup reads them anew. */
  private async forgetStoredLogins(refused: Credential): Promise<void> {
    this.fileReads.clear();
    const secret = refused.password ?? refused.identityToken;
    if (!secret) return;
    await Promise.all(
      [...this.helperReplies].map(async ([k, reply]) => {
        const out = await reply.catch(() => undefined);
        // Unless another renewal has replaced it meanwhile.
        if (out !== undefined && helperReplyHolds(out, secret) && this.helperReplies.get(k) === reply) this.helperReplies.delete(k);
      }),
    );
  }

  /**
   * Credentials refused in this operation, with the refusal: by registry, token realm and service
   * (a token service's 401), the same and the scopes asked for (a token service's 403), or by
   * registry alone (a Basic 401, a registry token refused), and the credential's identity (see
   * `who`). A token service's 401 does not depend on the scope asked for (missing rights give a
   * token with fewer actions, not a 401), so the same password would be refused for every image:
   * a sync of 2,000 images with a wrong one would send 2,000 failed logins, enough for an LDAP
   * or AD backend (Harbor, Quay, Artifactory) to lock the account, or Docker Hub to throttle.
   * A 403 may concern one repository only (refusalOf), so it stays with the scopes refused.
   * Remembered, a refused credential is sent once per run (per scope set, after a 403); every later
   * request that would send it fails at once with the same error.
   */
  readonly refusals = new Map<string, AuthError>();

  /**
   * Credentials (by `who`) a token service or a registry (Basic, a registry token) has accepted in
   * this operation, and those a renewal (renewCredential) gave. A refused credential is looked up
   * again if it was accepted before (it has expired) or came from the first lookup; one a renewal
   * gave that was refused without ever being accepted is final. So a helper that mints a new token
   * on each run, none of them accepted, costs one more failed login per run, not one per image.
   */
  readonly acceptedCredentials = new Set<string>();
  readonly renewedCredentials = new Set<string>();

  /** Records `registry`'s scheme and challenge (first seen wins: a registry has one). */
  learn(registry: string, mode: 'bearer' | 'basic', challenge: Challenge): void {
    if (!this.schemes.has(registry)) this.schemes.set(registry, { mode, challenge });
  }
}

/** Per-request bookkeeping of what was sent, so a second 401 can be told apart from a stale token. */
interface Attempt {
  /** The credential was looked up again after a refusal in this request: never twice. */
  renewed?: boolean;
  sent?: { kind: 'bearer'; key: string; scopes: string[]; token: string; fresh: boolean; presumed?: Challenge } | { kind: 'basic'; who: string } | { kind: 'registry-token'; who: string };
  tokenFetches: number;
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
  // What the registry has not said yet may be known anyway; until it speaks, `presumed` is set.
  let presumed: Challenge | undefined = known ? undefined : (opts.presume ?? presumedChallenge)(registryHost);
  let mode: Mode = known?.mode ?? (presumed ? 'bearer' : 'unknown');
  let learned: Challenge | undefined = known?.challenge ?? presumed;
  const learnedScopes = new Set<string>();
  let credPromise: Promise<Credential | undefined> | undefined;
  const refusals = opts.memory?.refusals ?? new Map<string, AuthError>();
  const accepted = opts.memory?.acceptedCredentials ?? new Set<string>();
  const renewedIds = opts.memory?.renewedCredentials ?? new Set<string>();
  const lookedAt = opts.lookedAt ? ` (looked at ${opts.lookedAt})` : '';
  const takenFrom = opts.lookedAt ? ` (taken from the first of: ${opts.lookedAt})` : '';

  const getCredential = (): Promise<Credential | undefined> => {
    if (!credPromise) {
      credPromise = opts.credential().then((cred) => {
        opts.secrets?.addCredential(cred);
        return cred;
      }, (err: unknown) => {
        credPromise = undefined; // let a later request try again (e.g. a helper that timed out)
        throw err;
      });
    }
    return credPromise;
  };

  // The realm and service are part of the key: a token from a presumed realm that turns out not to
  // be the registry's must not be handed to a request that already knows the registry's own.
  const tokenKey = (cred: Credential | undefined, scopes: string[], challenge: Challenge): string =>
    `${registryHost}|${challenge.params.realm ?? ''}|${challenge.params.service ?? ''}|${who(cred)}|${scopeKey(scopes)}`;

  /**
   * The Bearer value for `scopes`, from the cache or a fetch. `refused`: the token of this key the
   * registry has just refused this request. A different one in the cache was stored after it, by a
   * request that had it refused too and fetched again (many requests share a token): it counts as
   * fetched for this request, as a token of its own fetch would. Counted as stale instead, each
   * replay could meet yet another newer token and run out of rounds, handing the caller the
   * registry's bare 401 instead of the refusal.
   */
  /** Set once the registry has answered a request over https (see the middleware below). */
  let answeredOverTls = false;
  const bearer = async (cred: Credential | undefined, scopes: string[], challenge: Challenge, attempt: Attempt, signal: AbortSignal | undefined, refused?: string): Promise<string> => {
    // Decided before waiting: a concurrent 401 may drop the presumption while the token is fetched.
    const fromPresumed = challenge === presumed ? challenge : undefined;
    const key = tokenKey(cred, scopes, challenge);
    if (cred) throwRefused(refusedAt(cred, challenge, scopes));
    // The fetch is shared by every request that needs this token, so it is not cancelled with
    // this one; but this request stops waiting for it when its own signal fires (Ctrl-C).
    const got = await untilAborted(signal, cache.getOrFetch(key, now, () => {
      log.debug(`auth: fetching a token for ${opts.registry} scopes=${scopes.join(' ') || '-'}`);
      return fetchToken(fromPresumed ? (opts.presumedTokenSend ?? opts.tokenSend) : opts.tokenSend, challenge, scopes, cred, {
        registry: opts.registry,
        scheme: opts.scheme === 'auto' ? (answeredOverTls || opts.memory?.answeredOverTls.has(registryHost) ? 'https' : 'http') : opts.scheme,
        logger: log,
        userAgent: opts.userAgent,
        now,
      }).then(
        (t) => {
          accepted.add(who(cred));
          return t;
        },
        (err: unknown) => {
          const refused = cred && refusalOf(err);
          if (refused) refusals.set(refusalKey(cred, challenge, refused === 'scope' ? scopes : undefined), err as AuthError);
          throw err;
        },
      );
    }));
    opts.secrets?.add(got.token);
    const fresh = got.fresh || (refused !== undefined && got.token !== refused);
    if (fresh) attempt.tokenFetches++;
    attempt.sent = { kind: 'bearer', key, scopes, token: got.token, fresh, presumed: fromPresumed };
    return `Bearer ${got.token}`;
  };

  /**
   * Where a refusal of `cred` is remembered (AuthMemory.refusals): at a token service, its realm
   * and service (a presumed realm that is the registry's own is the same one, so wrong credentials
   * are refused there once, not again when the registry names it), and for its 403 the scopes
   * asked for too (refusalOf); for Basic and a registry token, the registry.
   */
  const refusalKey = (cred: Credential, at: Challenge | 'basic' | 'registry-token', scopes?: string[]): string =>
    typeof at === 'string'
      ? `${memoryKey}|${at}|${who(cred)}`
      : `${registryHost}|${at.params.realm ?? ''}|${at.params.service ?? ''}|${who(cred)}${scopes ? `|${scopeKey(scopes)}` : ''}`;

  /** The key of the refusal of `cred` at `challenge`'s token service that applies to `scopes`, if any. */
  const refusedAt = (cred: Credential, challenge: Challenge, scopes: string[]): string | undefined =>
    [refusalKey(cred, challenge), refusalKey(cred, challenge, scopes)].find((k) => refusals.has(k));

  /** Fails with the refusal remembered at `key`, if any: a refused credential is not sent again. */
  const throwRefused = (key: string | undefined): void => {
    const err = key === undefined ? undefined : refusals.get(key);
    if (!err) return;
    log.debug(`auth: these credentials for ${opts.registry} were refused earlier in this run; not sending them again`);
    throw new AuthError(err.message, { details: err.details });
  };

  /** Renewals this middleware started or joined, by the refused credential's identity. */
  const renewals = new Map<string, Promise<Credential | undefined>>();

  /**
   * The credential looked up again after `refused` was refused, for this request once
   * (attempt.renewed): `refused` itself when there is no other (no renewCredential, or the
   * stores hold the same). The new one serves this client's later requests too.
   */
  const renew = async (refused: Credential, attempt: Attempt): Promise<Credential | undefined> => {
    const id = who(refused);
    if (!opts.renewCredential || attempt.renewed || (renewedIds.has(id) && !accepted.has(id))) return refused;
    attempt.renewed = true;
    let renewed = renewals.get(id);
    if (!renewed) {
      log.debug(`auth: ${opts.registry} refused the credentials; looking them up again (a credential helper's token may have expired)`);
      renewed = opts.renewCredential(refused).then((cred) => {
        opts.secrets?.addCredential(cred);
        if (cred) renewedIds.add(who(cred));
        return cred;
      });
      renewals.set(id, renewed);
      credPromise = renewed;
    }
    return renewed;
  };

  /**
   * `bearer`, and when the token service refuses the credential (now, or earlier in the run):
   * once more with the credential looked up again, if that gives another one.
   */
  const bearerFor = async (cred: Credential | undefined, scopes: string[], challenge: Challenge, attempt: Attempt, signal: AbortSignal | undefined, refused?: string): Promise<string> => {
    try {
      return await bearer(cred, scopes, challenge, attempt, signal, refused);
    } catch (err) {
      if (!cred || !refusalOf(err) || signal?.aborted) throw err;
      const next = await renew(cred, attempt);
      if (!next || refusedAt(next, challenge, scopes)) throw err;
      log.debug(`auth: asking ${challenge.params.realm ?? 'the token service'} again with the credentials looked up anew`);
      return bearer(next, scopes, challenge, attempt, signal);
    }
  };

  /** Drops the presumed challenge: the registry's own 401 decides from now on. */
  const forgetPresumed = (why: string): void => {
    if (!presumed) return;
    log.debug(`auth: ${why}; asking ${opts.registry} for its challenge`);
    if (learned === presumed) {
      learned = undefined;
      mode = 'unknown';
    }
    presumed = undefined;
  };

  /**
   * `cred` (a registry token), unless the registry refused it earlier in the run: then the
   * credential looked up anew (once, see renew), or, when that gives no other, the refusal again.
   * A ready-made token is no login a lockout counts, but sent again it is refused again, one
   * round trip per request and image.
   */
  const unrefusedRegistryToken = async (cred: Credential, attempt: Attempt): Promise<Credential | undefined> => {
    const refusal = refusalKey(cred, 'registry-token');
    if (!refusals.has(refusal)) return cred;
    const next = await renew(cred, attempt);
    if (!next || who(next) === who(cred) || (next.registryToken && refusals.has(refusalKey(next, 'registry-token')))) throwRefused(refusal);
    return next;
  };

  /** The Authorization value for a registry token, sent as it is. */
  const sendRegistryToken = (cred: Credential, attempt: Attempt): string => {
    mode = 'registry-token';
    attempt.sent = { kind: 'registry-token', who: who(cred) };
    return `Bearer ${cred.registryToken}`;
  };

  /** The Authorization value to send before any challenge for this request, if the scheme is known. */
  const proactive = async (scopes: string[], attempt: Attempt, signal: AbortSignal | undefined): Promise<string | undefined> => {
    if (mode === 'unknown') return undefined;
    let cred = await getCredential();
    if (cred?.registryToken) {
      cred = await unrefusedRegistryToken(cred, attempt);
      if (cred?.registryToken) return sendRegistryToken(cred, attempt);
    }
    if (mode === 'basic' && cred?.username && cred.password) {
      // Refused before: the request goes without them. A registry that lets anyone read (nginx's
      // limit_except) still answers it; one that wants them answers 401, and that fails at once.
      if (refusals.has(refusalKey(cred, 'basic'))) return undefined;
      attempt.sent = { kind: 'basic', who: who(cred) };
      return basicHeader(cred);
    }
    if (mode !== 'bearer' || !learned) return undefined;
    const challenge = learned;
    const wasPresumed = challenge === presumed;
    try {
      return await bearerFor(cred, scopes, challenge, attempt, signal);
    } catch (err) {
      // A presumption is a head start, not a requirement: the request goes out without a token
      // and the registry's 401 names the realm to use (an error there is the one reported).
      if (!wasPresumed || signal?.aborted) throw err;
      forgetPresumed(`no token from the presumed realm ${challenge.params.realm} (${(err as Error).message})`);
      attempt.sent = undefined;
      return undefined;
    }
  };

  /** Decides the Authorization for a replay after a 401; undefined = give the 401 to the caller. */
  const answer401 = async (res: HttpResponse, req: HttpRequest, scopes: string[], attempt: Attempt): Promise<string | undefined> => {
    const header = res.headers['www-authenticate'];
    const sentFirst = attempt.sent;
    let challenge: Challenge | undefined;
    let fromThisResponse = false;
    if (header && header.trim()) {
      const list = parseChallenges(header);
      challenge = findChallenge(list, 'bearer') ?? findChallenge(list, 'basic');
      if (!challenge) {
        log.debug(`auth: ${opts.registry} offers no supported auth scheme (${list.map((c) => c.scheme).join(', ')})`);
        return undefined;
      }
      fromThisResponse = true;
      learned = challenge;
    } else {
      // gcr.io and Harbor answer some requests with a bare 401: reuse the challenge from the ping.
      challenge = learned;
      if (!challenge) return undefined;
      log.debug(`auth: ${opts.registry} sent 401 without a challenge; reusing the one seen earlier`);
    }
    if (fromThisResponse) {
      // The registry has named its challenge: it replaces a presumed one. A token from a presumed
      // realm that is not this challenge's was never the registry's to refuse, so its 401 says
      // nothing about the credentials: ask again at the named realm.
      if (presumed && !sameTokenService(challenge, presumed)) log.debug(`auth: ${opts.registry} names the realm ${challenge.params.realm}, not the presumed ${presumed.params.realm}`);
      presumed = undefined;
      const sent = attempt.sent;
      if (sent?.kind === 'bearer' && sent.presumed && !sameTokenService(challenge, sent.presumed)) {
        cache.invalidate(sent.key, sent.token);
        attempt.sent = undefined;
        attempt.tokenFetches = 0;
      }
    }
    const extra = fromThisResponse && challenge.params.scope ? mergeScopes([challenge.params.scope]) : [];
    if (!canReplay(req)) {
      // Learn what we can so the caller's retry of the whole transfer authenticates up front:
      // the scheme, the scopes asked for, and that a stored token went stale.
      const learnedScheme = mode === 'unknown';
      if (learnedScheme) mode = challenge.scheme === 'basic' ? 'basic' : 'bearer';
      for (const s of extra) learnedScopes.add(s);
      const sent = attempt.sent;
      const stale = sent?.kind === 'bearer' && !sent.fresh;
      if (stale) cache.invalidate(sent.key, sent.token);
      // Basic credentials or a registry token refused on a body sent once (a streamed PATCH:
      // ECR's 12-hour password ran out during a long push): a new attempt is worth making with
      // others looked up anew. Not a registry token short of a right (insufficient_scope).
      let renewedCred = false;
      const insufficient = fromThisResponse && challenge.params.error === 'insufficient_scope';
      const refusedKind = sent?.kind === 'basic' && challenge.scheme === 'basic' ? 'basic' : sent?.kind === 'registry-token' && !insufficient ? 'registry-token' : undefined;
      const cred = refusedKind ? await getCredential() : undefined;
      if (refusedKind && cred && sent && sent.kind !== 'bearer' && sent.who === who(cred)) {
        refusals.set(refusalKey(cred, refusedKind), rejected(cred, undefined, refusedKind));
        const next = await renew(cred, attempt);
        const other = refusedKind === 'basic' ? !!next?.username && !!next.password : !!next && who(next) !== who(cred);
        renewedCred = other && !refusals.has(refusalKey(next!, next!.registryToken ? 'registry-token' : 'basic'));
      }
      // One more attempt of the whole transfer is worth making only when this 401 taught something:
      // a stored token went stale, a presumed realm was not the registry's (dropped above), or the
      // scheme was unknown, or other credentials were found. A token fetched for this very request,
      // or the same Basic credentials or registry token, would only be refused again.
      const presumedDropped = sentFirst?.kind === 'bearer' && sent === undefined;
      if (stale || presumedDropped || learnedScheme || renewedCred) res.authRenewed = true;
      log.debug(`auth: 401 on ${req.method} ${req.label ?? 'request'} with a body that cannot be replayed; returning it${res.authRenewed ? ' (a new attempt authenticates afresh)' : ''}`);
      return undefined;
    }
    let cred = await getCredential();

    if (cred?.registryToken) {
      const sent = attempt.sent;
      if (sent?.kind === 'registry-token' && sent.who === who(cred)) {
        // A right missing for this request, which says nothing of the token's other requests (a
        // pull-only token's reads): the registry took the token and says so (insufficient_scope),
        // or took it earlier in the run and refuses a write now, without calling it invalid.
        const said = fromThisResponse ? challenge : undefined;
        const error = said?.params.error;
        if (error === 'insufficient_scope' || (error !== 'invalid_token' && accepted.has(sent.who) && !isRead(req))) {
          const needed = neededScopes(said, mergeScopes([...scopes, ...extra]), req);
          throw deniedWrite(cred, needed) ?? rejected(cred, needed);
        }
        refusals.set(refusalKey(cred, 'registry-token'), rejected(cred, undefined, 'registry-token'));
      }
      cred = await unrefusedRegistryToken(cred, attempt);
      if (cred?.registryToken) return sendRegistryToken(cred, attempt);
      // The stored logins gave credentials of another kind now: the challenge decides.
      attempt.sent = undefined;
    }

    if (challenge.scheme === 'basic') {
      if (!cred?.username || !cred.password) {
        throw new AuthError(`authentication to ${opts.registry} failed: it requires a username and password and none were found${lookedAt}`, {
          details: { registry: opts.registry, status: 401, scheme: 'basic', anonymous: true },
        });
      }
      const refusal = refusalKey(cred, 'basic');
      if (attempt.sent?.kind === 'basic' && attempt.sent.who === who(cred)) refusals.set(refusal, rejected(cred, undefined, 'basic'));
      if (refusals.has(refusal)) {
        // Refused (now or earlier in the run): once more with the credential looked up anew.
        const next = await renew(cred, attempt);
        if (!next?.username || !next.password || refusals.has(refusalKey(next, 'basic'))) throwRefused(refusal);
        else cred = next;
      }
      mode = 'basic';
      opts.memory?.learn(memoryKey, 'basic', challenge);
      attempt.sent = { kind: 'basic', who: who(cred) };
      return basicHeader(cred);
    }

    mode = 'bearer';
    opts.memory?.learn(memoryKey, 'bearer', challenge);
    const want = mergeScopes([...scopes, ...extra]);
    const sent = attempt.sent;
    let refused: string | undefined;
    if (sent?.kind === 'bearer') {
      const widened = !scopesCover(sent.scopes, want);
      if (!widened) {
        // Same scopes: a stored token may simply have gone stale; a fresh one being refused is
        // final. Refused without a challenge, a read is the caller's to read: Harbor answers a
        // bare 401 where a repository has no referrers API (goharbor/harbor#18305), which is no
        // login problem; a write so refused to credentials is a right missing (refusedToken).
        // A fresh token that has since expired went stale too: the transport's retries of one
        // request (Retry-After, an idle timeout) can outlast a 5-minute token, and the 401 at the
        // end is then no verdict on the credentials (one more fetch, within the two).
        const expired = sent.fresh && cache.get(sent.key, now()) === undefined;
        if ((sent.fresh && !expired) || attempt.tokenFetches >= 2) {
          if (fromThisResponse) throw refusedToken(cred, want, challenge, req);
          const denied = cred && deniedWrite(cred, neededScopes(undefined, want, req), hostOf(challenge.params.realm) ?? 'the token service');
          if (denied) throw denied;
          return undefined;
        }
        cache.invalidate(sent.key, sent.token);
        refused = sent.token;
      } else {
        if (attempt.tokenFetches >= 2) throw refusedToken(cred, want, challenge, req);
        log.debug(`auth: ${opts.registry} needs wider scopes (${challenge.params.error ?? 'no error given'}); asking again`);
      }
    } else if (sent) {
      throw rejected(cred, undefined);
    }
    for (const s of extra) learnedScopes.add(s);
    return bearerFor(cred, want, challenge, attempt, req.signal, refused);
  };

  /**
   * The registry's refusal, with a challenge, of a token its token service has just issued in this
   * request (so the token service accepted the credentials). A write so refused is a right the
   * user lacks (deniedWrite); a read refused with `insufficient_scope` stays E_AUTH: Docker Hub
   * answers it too for a repository that does not exist. `invalid_token` is the registry not
   * taking its own token service's token (a registry that does not trust that issuer, or clocks
   * apart): nothing a new password would mend, and no right either.
   */
  const refusedToken = (cred: Credential | undefined, want: string[], challenge: Challenge, req: HttpRequest): AuthError | DeniedError => {
    const realmHost = hostOf(challenge.params.realm) ?? 'the token service';
    const error = challenge.params.error;
    const denied = cred && error !== 'invalid_token' ? deniedWrite(cred, neededScopes(challenge, want, req), realmHost) : undefined;
    if (denied) return denied;
    if (error === 'invalid_token') {
      const subject = cred?.username ? `user ${cred.username}` : cred?.identityToken ? 'the identity token' : 'anonymous access';
      // `tokenRefused`: the CLI adds no "check the credentials" hint, and no write refusal is read into it.
      return new AuthError(
        `authentication to ${opts.registry} failed: the registry refused the token ${realmHost} had just issued for ${subject} (invalid_token), so the credentials are not the problem; check that the registry trusts that token service (issuer, certificate, service name) and that their clocks agree`,
        { details: { registry: opts.registry, status: 401, realm: realmHost, tokenRefused: true, ...(cred ? {} : { anonymous: true }) } },
      );
    }
    return rejected(cred, error === 'insufficient_scope' ? want : undefined);
  };

  /**
   * What a refused request needed: what the registry's challenge names with `insufficient_scope`
   * (`said`: a challenge from this very answer), else for a write what was asked for, else nothing.
   */
  const neededScopes = (said: Challenge | undefined, want: string[], req: HttpRequest): string[] =>
    said?.params.error === 'insufficient_scope' && said.params.scope ? mergeScopes([said.params.scope]) : isRead(req) ? [] : want;

  /**
   * The one place a write refused to good credentials becomes E_DENIED: a token the token service
   * `realmHost` has just issued for them, or a registry token the registry has taken (`realmHost`
   * undefined), refused for what `scopes` write. That is a right the user lacks, not a password to
   * check (a token service grants only the actions a user may have, and the registry answers 401
   * rather than 403), as push, copy, sync, tag and delete report it alike. Basic credentials never
   * get here: a registry that lets anyone read (nginx's limit_except, Nexus) never checked the
   * password on the read. Undefined when `scopes` name no write.
   */
  const deniedWrite = (cred: Credential, scopes: string[], realmHost?: string): DeniedError | undefined => {
    const writes = scopes.flatMap((s) => {
      const p = parseScope(s);
      const actions = p?.type === 'repository' ? p.actions.filter((a) => a !== 'pull') : [];
      return p && actions.length ? [{ repo: p.name, actions }] : [];
    });
    if (!writes.length) return undefined;
    const actions = [...new Set(writes.flatMap((w) => w.actions))];
    const verbs = [...new Set(actions.map((a) => (a === 'push' ? 'writing' : a === 'delete' ? 'deleting' : `'${a}'`)))].join(' or ');
    const subject = cred.username ? `the credentials for user ${cred.username} were` : cred.registryToken ? 'the registry token was' : 'the identity token was';
    const by = realmHost ? `the token service ${realmHost}` : 'the registry';
    return new DeniedError(`access to ${writes.map((w) => w.repo).join(', ')} at ${opts.registry} denied: ${subject} accepted by ${by}, but not for ${verbs} (${actions.join(',')}); check your rights on the repository`, {
      details: { registry: opts.registry, status: 401, ...(realmHost ? { realm: realmHost } : {}), scopes },
    });
  };

  const rejected = (cred: Credential | undefined, scopes: string[] | undefined, scheme: 'basic' | 'bearer' | 'registry-token' = 'bearer'): AuthError => {
    const subject = cred?.username
      ? `the credentials for user ${cred.username}`
      : cred?.identityToken
        ? 'the identity token'
        : cred?.registryToken
          ? 'the registry token'
          : 'anonymous access (no credentials were found)';
    const scopeNote = scopes?.length ? ` for ${scopes.join(' ')} (the repository may not exist, or access is not granted)` : '';
    // `anonymous` lets a caller tell "no credentials" from "credentials without this right";
    // `scheme`, a Basic password or a registry token refused as such from a token without a
    // right; `scopes`, the repositories a refused token was short of (refusalReach).
    return new AuthError(`authentication to ${opts.registry} failed: the registry rejected ${subject}${scopeNote}${cred ? takenFrom : lookedAt}`, {
      details: { registry: opts.registry, status: 401, scheme, ...(scopes?.length ? { scopes } : {}), ...(cred ? {} : { anonymous: true }) },
    });
  };

  // What a first request with the client's scopes would send, worked out now (the token lands in
  // the cache); nothing when the scheme is not known yet.
  const prefetch = async (signal?: AbortSignal): Promise<void> => {
    try {
      await proactive(mergeScopes([...opts.scopes, ...learnedScopes]), { tokenFetches: 0 }, signal);
    } catch {
      // The request fetches again and reports what goes wrong.
    }
  };

  const middleware = (next: Send): Send =>
    async (req: HttpRequest): Promise<HttpResponse> => {
      // Never attach credentials for another origin (storage redirects, absolute Locations) or
      // override an Authorization header the caller chose itself.
      if (!origins.has(originOf(req.url)) || hasAuthorization(req)) return next(req);
      const attempt: Attempt = { tokenFetches: 0 };
      const scopes = mergeScopes([...opts.scopes, ...(req.scopes ?? []), ...learnedScopes]);
      let res = await next(withAuthorization(req, await proactive(scopes, attempt, req.signal)));
      if ((attempt.sent?.kind === 'basic' || attempt.sent?.kind === 'registry-token') && !isChallenge(res)) accepted.add(attempt.sent.who);
      // A probed registry ('auto') that answered over TLS is an https registry from now on: a
      // plain-http realm on another host must then be refused as for any https registry (a
      // remote registry behind a port-forward on localhost would otherwise send the credentials
      // in clear text).
      if (req.url.startsWith('https:')) {
        answeredOverTls = true;
        opts.memory?.answeredOverTls.add(registryHost);
      }
      // At most: stale token → fresh token → widened scopes. Only the registry's own answers
      // count: a 401 from where a redirect led (blob storage, a CDN) is handed back as it is, so
      // a challenge there can never draw the registry's credentials to another realm.
      for (let round = 0; round < 3 && isChallenge(res) && origins.has(originOf(res.url)); round++) {
        // The challenge's body is read first, so that its connection is free for the token GET
        // (a realm on the registry's host) or the replay, rather than one opened beside it.
        res = await settleSmallBody(res);
        let authorization: string | undefined;
        try {
          authorization = await answer401(res, req, scopes, attempt);
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
  return Object.assign(middleware, { prefetch });
}

/**
 * A 401, or a 400 that carries a challenge: Nexus answers 400 where a 401 is due
 * (GoogleContainerTools/jib#2898; see registry/quirks.ts). A 400 without a challenge is a real 400.
 */
function isChallenge(res: HttpResponse): boolean {
  return res.status === 401 || (res.status === 400 && !!res.headers['www-authenticate']?.trim());
}

/**
 * What a token service's refusal of credentials is a refusal of. A 401: of the credentials,
 * whatever the scope (the distribution token spec answers failed authentication with 401, and
 * missing rights with a token of fewer actions). A 403: of the scopes asked for, as far as anything is known:
 * GHCR answers it for one package the user may not read (dragonflydb/dragonfly#4997), which says
 * nothing of the next repository, and also to a personal access token that has expired
 * (akuity/kargo#777), so it is remembered with the scopes, and looked up anew like a 401.
 * Anonymous access is no refusal of credentials: nothing is sent that a lockout could count.
 */
function refusalOf(err: unknown): 'credential' | 'scope' | undefined {
  if (!(err instanceof AuthError) || err.details.realm === undefined || err.details.anonymous === true) return undefined;
  return err.details.status === 401 ? 'credential' : err.details.status === 403 ? 'scope' : undefined;
}

/**
 * How far an E_AUTH refusal reaches, for a caller that has somewhere else to go (a registry
 * mirror, registry/mirrors.ts): 'registry' where every request to that registry would be refused
 * the same way whatever repository it names, 'repository' where the refusal may concern the
 * repositories asked for only. Registry-wide, and only these: a token service's 401 (the
 * credentials, or anonymous access, refused whatever the scope: see refusalOf) or any other
 * failed answer of it (5xx, 404: the service itself fails); the registry refusing the tokens its
 * own token service issues (invalid_token); a Basic registry's 401 (the password, or its absence:
 * Basic has no scopes); a registry token refused as such; and a refusal that came with no answer
 * of the registry at all (a credential helper or file that failed, a proxy's 407). Everything else
 * is taken as concerning the repository: a token service's 403 (GHCR answers it for one package,
 * dragonflydb/dragonfly#4997), a token refused for a read with `insufficient_scope` (Docker Hub
 * answers it for a private or missing repository), a bare 401 handed back for one request
 * (Harbor's for a repository without the referrers API, goharbor/harbor#18305).
 */
export function refusalReach(err: RegpushError): 'registry' | 'repository' {
  const d = err.details;
  if (d.status === undefined) return 'registry';
  if (d.realm !== undefined) return d.status === 403 ? 'repository' : 'registry';
  if (d.tokenRefused === true || d.scheme === 'basic' || d.scheme === 'registry-token') return 'registry';
  return 'repository';
}

/**
 * Whose token, for the cache key. Two repositories of one registry can have different logins in
 * one run (an `auths` key per namespace), under the same user name (`_json_key`, `AWS`, `<token>`
 * for every identity token): so the key holds a digest of the secret too, never the secret itself.
 */
function who(cred: Credential | undefined): string {
  if (!cred) return 'anonymous';
  const fingerprint = createHash('sha256').update(JSON.stringify([cred.password, cred.identityToken, cred.registryToken])).digest('hex').slice(0, 32);
  if (cred.registryToken) return `<registry-token>:${fingerprint}`;
  if (cred.username) return `user:${cred.username}:${fingerprint}`;
  return `<identity-token>:${fingerprint}`;
}

/** A read (GET, HEAD): refused to good credentials, it is no missing right to write (deniedWrite). */
function isRead(req: HttpRequest): boolean {
  return req.method === 'GET' || req.method === 'HEAD';
}

function basicHeader(cred: Credential): string {
  return `Basic ${Buffer.from(`${cred.username}:${cred.password}`, 'utf8').toString('base64')}`;
}

function canReplay(req: HttpRequest): boolean {
  if (req.body === undefined || Buffer.isBuffer(req.body)) return true;
  return req.replayable !== false;
}

function hasAuthorization(req: HttpRequest): boolean {
  return Object.keys(req.headers ?? {}).some((k) => k.toLowerCase() === 'authorization');
}

function withAuthorization(req: HttpRequest, authorization: string | undefined): HttpRequest {
  if (authorization === undefined) return req;
  return { ...req, headers: { ...(req.headers ?? {}), authorization } };
}

/** The host of a URL (a token realm), undefined when it is none. */
function hostOf(url: string | undefined): string | undefined {
  try {
    return url ? new URL(url).host || undefined : undefined;
  } catch {
    return undefined;
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}
