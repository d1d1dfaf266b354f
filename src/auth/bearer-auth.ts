/**
 * Bearer tokens from a token service (the Docker token spec): one per registry, credential, realm
 * and scope set, from the operation's cache or fetched (one fetch shared by every request that
 * needs it), sent up front once the challenge is known or presumed, and the decision on a 401 to
 * one: a stored token gone stale (fetch again), wider scopes asked for (fetch with them), or a
 * fresh token refused (final: E_AUTH or E_DENIED). The token exchange itself is token.ts.
 */
import type { AuthError } from '../errors.js';
import { untilAborted } from '../abort.js';
import type { HttpRequest, Send } from '../http/types.js';
import type { Logger } from '../log.js';
import type { Attempt, SentBearer } from './attempt.js';
import type { AuthMemory } from './auth-memory.js';
import type { Challenge } from './challenge.js';
import { who } from './credential-id.js';
import type { CredentialSource } from './credential-source.js';
import type { Credential, SecretSink } from './credential-types.js';
import { neededScopes, realmHostOf, type RefusalErrors } from './refusal-errors.js';
import { anonymousRefusal, refusalOf, type RefusalRecord } from './refusals.js';
import type { SchemeState } from './scheme-state.js';
import { mergeScopes, scopeKey, scopesCover } from './scope.js';
import type { TokenCache } from './token-cache.js';
import { fetchToken, grantedActions } from './token.js';

export interface BearerAuthOptions {
  registry: string;
  /** The registry's host, as token cache keys name it. */
  registryHost: string;
  /** AuthOptions.scheme: how the registry is reached, which decides the token realms it may name. */
  scheme: 'http' | 'https' | 'auto';
  cache: TokenCache;
  now: () => number;
  log: Logger;
  /** AuthOptions.tokenSend and presumedTokenSend. */
  tokenSend: Send;
  presumedTokenSend?: Send;
  userAgent?: string;
  secrets?: SecretSink;
  memory?: AuthMemory;
  /** Credentials (by `who`) accepted in this operation (AuthMemory.acceptedCredentials). */
  accepted: Set<string>;
  state: SchemeState;
  credentials: CredentialSource;
  refusals: RefusalRecord;
  errors: RefusalErrors;
}

export class BearerAuth {
  /** Set once the registry has answered a request over https (registryAnsweredOverTls). */
  private answeredOverTls = false;

  constructor(private readonly opts: BearerAuthOptions) {}

  // The realm and service are part of the key: a token from a presumed realm that turns out not to
  // be the registry's must not be handed to a request that already knows the registry's own.
  private key(cred: Credential | undefined, scopes: string[], challenge: Challenge): string {
    return `${this.opts.registryHost}|${challenge.params.realm ?? ''}|${challenge.params.service ?? ''}|${who(cred)}|${scopeKey(scopes)}`;
  }

  /**
   * A probed registry ('auto') that answered over TLS is an https registry from now on: a
   * plain-http realm on another host must then be refused as for any https registry (a remote
   * registry behind a port-forward on localhost would otherwise send the credentials in clear
   * text). Told to the operation too, whose later clients fetch before their first answer.
   */
  registryAnsweredOverTls(): void {
    this.answeredOverTls = true;
    this.opts.memory?.answeredOverTls.add(this.opts.registryHost);
  }

  /** Drops a token the registry refused from the cache (unless a newer one replaced it there). */
  invalidate(sent: SentBearer): void {
    this.opts.cache.invalidate(sent.key, sent.token);
  }

  /**
   * The Bearer value for `scopes`, from the cache or a fetch. `refused`: the token of this key the
   * registry has just refused this request. A different one in the cache was stored after it, by a
   * request that had it refused too and fetched again (many requests share a token): it counts as
   * fetched for this request, as a token of its own fetch would. Counted as stale instead, each
   * replay could meet yet another newer token and run out of rounds, handing the caller the
   * registry's bare 401 instead of the refusal.
   */
  private async token(cred: Credential | undefined, scopes: string[], challenge: Challenge, attempt: Attempt, signal: AbortSignal | undefined, refused?: string): Promise<string> {
    const { cache, now, log, refusals } = this.opts;
    // Decided before waiting: a concurrent 401 may drop the presumption while the token is fetched.
    const fromPresumed = challenge === this.opts.state.presumed ? challenge : undefined;
    const key = this.key(cred, scopes, challenge);
    refusals.throwRefused(refusals.refusedAt(cred, challenge, scopes));
    // The fetch is shared by every request that needs this token, so it is not cancelled with
    // this one; but this request stops waiting for it when its own signal fires (Ctrl-C).
    const got = await untilAborted(signal, cache.getOrFetch(key, now, () => {
      log.debug(`auth: fetching a token for ${this.opts.registry} scopes=${scopes.join(' ') || '-'}`);
      const { scheme, memory } = this.opts;
      return fetchToken(fromPresumed ? (this.opts.presumedTokenSend ?? this.opts.tokenSend) : this.opts.tokenSend, challenge, scopes, cred, {
        registry: this.opts.registry,
        scheme: scheme === 'auto' ? (this.answeredOverTls || memory?.answeredOverTls.has(this.opts.registryHost) ? 'https' : 'http') : scheme,
        logger: log,
        userAgent: this.opts.userAgent,
        now,
        advice: this.opts.errors.advice,
      }).then(
        (t) => {
          this.opts.accepted.add(who(cred));
          return t;
        },
        (err: unknown) => {
          const refused = cred && refusalOf(err);
          if (refused) refusals.set(refusals.key(cred, challenge, refused === 'scope' ? scopes : undefined), err as AuthError);
          else if (!cred && anonymousRefusal(err)) refusals.set(refusals.key(undefined, challenge, scopes), err as AuthError);
          throw err;
        },
      );
    }));
    this.opts.secrets?.add(got.token);
    const fresh = got.fresh || (refused !== undefined && got.token !== refused);
    if (fresh) attempt.tokenFetches++;
    attempt.sent = { kind: 'bearer', key, scopes, token: got.token, fresh, presumed: fromPresumed };
    return `Bearer ${got.token}`;
  }

  /**
   * token(), and when the token service refuses the credential (now, or earlier in the run):
   * once more with the credential looked up again, if that gives another one.
   */
  async header(cred: Credential | undefined, scopes: string[], challenge: Challenge, attempt: Attempt, signal: AbortSignal | undefined, refused?: string): Promise<string> {
    try {
      return await this.token(cred, scopes, challenge, attempt, signal, refused);
    } catch (err) {
      if (!cred || !refusalOf(err) || signal?.aborted) throw err;
      const next = await this.opts.credentials.renew(cred, attempt);
      if (!next || this.opts.refusals.refusedAt(next, challenge, scopes)) throw err;
      this.opts.log.debug(`auth: asking ${challenge.params.realm ?? 'the token service'} again with the credentials looked up anew`);
      return this.token(next, scopes, challenge, attempt, signal);
    }
  }

  /** The Bearer value to send before any challenge for this request, when the registry's challenge is known or presumed. */
  async upFront(cred: Credential | undefined, scopes: string[], attempt: Attempt, signal: AbortSignal | undefined): Promise<string | undefined> {
    const state = this.opts.state;
    if (state.mode !== 'bearer' || !state.learned) return undefined;
    const challenge = state.learned;
    const wasPresumed = challenge === state.presumed;
    try {
      return await this.header(cred, scopes, challenge, attempt, signal);
    } catch (err) {
      // A presumption is a head start, not a requirement: the request goes out without a token
      // and the registry's 401 names the realm to use (an error there is the one reported).
      if (!wasPresumed || signal?.aborted) throw err;
      state.forgetPresumed(`no token from the presumed realm ${challenge.params.realm} (${(err as Error).message})`);
      attempt.sent = undefined;
      return undefined;
    }
  }

  /**
   * What the token a request with `scopes` sends up front grants on the repository `repo`
   * (grantedActions: undefined where the token does not say), and the token service that issued it;
   * undefined where no token would be sent up front (no Bearer challenge known). The token is the
   * one such a request takes: the cache's, or fetched as for that request (a failure is that
   * request's, and thrown as such).
   */
  async granted(cred: Credential | undefined, scopes: string[], repo: string, signal: AbortSignal | undefined): Promise<{ actions: string[] | undefined; realmHost: string } | undefined> {
    const attempt: Attempt = { tokenFetches: 0 };
    const header = await this.upFront(cred, scopes, attempt, signal);
    const sent = attempt.sent;
    const challenge = this.opts.state.learned;
    if (header === undefined || sent?.kind !== 'bearer' || !challenge) return undefined;
    return { actions: grantedActions(sent.token, 'repository', repo), realmHost: realmHostOf(challenge) };
  }

  /**
   * The Authorization to replay a request with after a Bearer challenge, undefined to hand the 401
   * to the caller. `extra`: the scopes this very answer's challenge asks for (`fromThisResponse`:
   * the challenge came with it, not reused from an earlier answer).
   */
  async answer(cred: Credential | undefined, scopes: string[], extra: string[], challenge: Challenge, fromThisResponse: boolean, attempt: Attempt, req: HttpRequest): Promise<string | undefined> {
    const { state, errors, cache, now, log } = this.opts;
    state.settle('bearer', challenge);
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
          if (fromThisResponse) throw errors.refusedToken(cred, want, challenge, req);
          const denied = cred && errors.deniedWrite(cred, neededScopes(undefined, want, req), realmHostOf(challenge));
          if (denied) throw denied;
          return undefined;
        }
        this.invalidate(sent);
        refused = sent.token;
      } else {
        if (attempt.tokenFetches >= 2) throw errors.refusedToken(cred, want, challenge, req);
        log.debug(`auth: ${this.opts.registry} needs wider scopes (${challenge.params.error ?? 'no error given'}); asking again`);
      }
    } else if (sent && !fromThisResponse) {
      // Basic credentials answered with a bare 401, where the registry has named this token
      // challenge before (challenge-answer.ts chose it): no verdict on them yet. The token flow is
      // followed once; what its token then meets is judged as any token's (the branch above).
      if (sent.kind !== 'basic' || attempt.bareAfterBasic) throw errors.rejected(cred, undefined);
      attempt.bareAfterBasic = true;
      log.debug(`auth: ${this.opts.registry} answers ${req.method} ${req.label ?? 'request'} with a bare 401 where Basic was sent; asking the token service it named before`);
    } else if (sent) {
      // Credentials sent another way (Basic, which another path of the registry asked for), and
      // this path names a token service: no verdict on them. A registry may mix schemes by path
      // (Harbor behind a proxy that answers some paths itself, a Nexus with a connector per
      // repository format); the challenge is followed, and a token it refuses is then E_AUTH as
      // any (the Bearer branch above). The same scheme refused stays final (basic-auth.ts).
      const sentAs = sent.kind === 'basic' ? 'Basic' : 'a registry token';
      log.debug(`auth: ${this.opts.registry} answers ${req.method} ${req.label ?? 'request'} with a token challenge where ${sentAs} was sent; following it`);
    }
    for (const s of extra) state.learnedScopes.add(s);
    return this.header(cred, want, challenge, attempt, req.signal, refused);
  }
}
