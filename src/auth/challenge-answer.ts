/**
 * The answer to a registry's challenge (a 401, or Nexus's 400 with one): which challenge counts
 * (this answer's, else the one seen earlier; a presumed one gives way), what a 401 on a body that
 * cannot be sent again teaches the caller's next attempt, and which scheme's module answers it
 * (registry-token-auth.ts, basic-auth.ts, bearer-auth.ts). The middleware replays the request
 * with the Authorization decided here, or hands the 401 back.
 */
import type { HttpRequest, HttpResponse } from '../http/types.js';
import type { Logger } from '../log.js';
import type { Attempt } from './attempt.js';
import type { BasicAuth } from './basic-auth.js';
import type { BearerAuth } from './bearer-auth.js';
import { answerableChallenge, parseChallenges, type Challenge } from './challenge.js';
import { who } from './credential-id.js';
import type { CredentialSource } from './credential-source.js';
import { sameTokenService } from './presumed-challenge.js';
import type { RefusalErrors } from './refusal-errors.js';
import type { RefusalRecord } from './refusals.js';
import type { RegistryTokenAuth } from './registry-token-auth.js';
import type { SchemeState } from './scheme-state.js';
import { mergeScopes } from './scope.js';

export interface ChallengeAnswerOptions {
  registry: string;
  log: Logger;
  state: SchemeState;
  credentials: CredentialSource;
  refusals: RefusalRecord;
  errors: RefusalErrors;
  bearer: BearerAuth;
  basic: BasicAuth;
  registryToken: RegistryTokenAuth;
}

export class ChallengeAnswer {
  constructor(private readonly opts: ChallengeAnswerOptions) {}

  /** Decides the Authorization for a replay after a 401; undefined = give the 401 to the caller. */
  async answer(res: HttpResponse, req: HttpRequest, scopes: string[], attempt: Attempt): Promise<string | undefined> {
    const { state, log, registry } = this.opts;
    const header = res.headers['www-authenticate'];
    const sentFirst = attempt.sent;
    let challenge: Challenge | undefined;
    let fromThisResponse = false;
    if (header && header.trim()) {
      const list = parseChallenges(header);
      challenge = answerableChallenge(list);
      if (!challenge) {
        log.debug(`auth: ${registry} offers no supported auth scheme (${list.map((c) => c.scheme).join(', ')})`);
        return undefined;
      }
      fromThisResponse = true;
      state.named(challenge);
    } else {
      // gcr.io and Harbor answer some requests with a bare 401: reuse the challenge from the ping.
      // Basic credentials so answered where the registry has named a Bearer challenge before, even
      // if a Basic one came since: a registry mixing schemes by path, whose token paths may answer
      // a bare 401 to anything but their token. That says nothing of the password: the token flow
      // the registry named is followed, once (bearer-auth.ts), before any verdict on it.
      const backToBearer = attempt.sent?.kind === 'basic' && !attempt.bareAfterBasic ? state.namedBearer() : undefined;
      challenge = backToBearer ?? state.learned;
      if (!challenge) return undefined;
      log.debug(`auth: ${registry} sent 401 without a challenge; reusing the ${backToBearer ? 'Bearer challenge it named before' : 'one seen earlier'}`);
    }
    if (fromThisResponse) {
      // The registry has named its challenge: it replaces a presumed one. A token from a presumed
      // realm that is not this challenge's was never the registry's to refuse, so its 401 says
      // nothing about the credentials: ask again at the named realm.
      const presumed = state.presumed;
      if (presumed?.scheme === 'bearer' && !sameTokenService(challenge, presumed)) log.debug(`auth: ${registry} names the realm ${challenge.params.realm}, not the presumed ${presumed.params.realm}`);
      state.presumed = undefined;
      const sent = attempt.sent;
      if (sent?.kind === 'bearer' && sent.presumed && !sameTokenService(challenge, sent.presumed)) {
        this.opts.bearer.invalidate(sent);
        attempt.sent = undefined;
        attempt.tokenFetches = 0;
      }
    }
    const extra = fromThisResponse && challenge.params.scope ? mergeScopes([challenge.params.scope]) : [];
    if (!canReplay(req)) return this.unreplayable(res, req, challenge, fromThisResponse, extra, attempt, sentFirst);
    let cred = await this.opts.credentials.get();

    if (cred?.registryToken) {
      const registryToken = this.opts.registryToken;
      registryToken.refused(cred, attempt, fromThisResponse ? challenge : undefined, scopes, extra, req);
      cred = await registryToken.unrefused(cred, attempt);
      if (cred?.registryToken) return registryToken.header(cred, attempt);
      // The stored logins gave credentials of another kind now: the challenge decides.
      attempt.sent = undefined;
    }

    if (challenge.scheme === 'basic') return this.opts.basic.answer(cred, challenge, attempt);
    return this.opts.bearer.answer(cred, scopes, extra, challenge, fromThisResponse, attempt, req);
  }

  /**
   * A 401 on a body that cannot be sent again (a streamed PATCH): handed back, having learned what
   * it can so that the caller's retry of the whole transfer authenticates up front: the scheme, the
   * scopes asked for, and that a stored token went stale. `res.authRenewed` tells the caller
   * whether that retry is worth making. `sentFirst`: what the request sent before this answer.
   */
  private async unreplayable(res: HttpResponse, req: HttpRequest, challenge: Challenge, fromThisResponse: boolean, extra: string[], attempt: Attempt, sentFirst: Attempt['sent']): Promise<undefined> {
    const { state, refusals, errors, credentials, log } = this.opts;
    const learnedScheme = state.mode === 'unknown';
    if (learnedScheme) state.mode = challenge.scheme === 'basic' ? 'basic' : 'bearer';
    for (const s of extra) state.learnedScopes.add(s);
    const sent = attempt.sent;
    const stale = sent?.kind === 'bearer' && !sent.fresh;
    if (stale) this.opts.bearer.invalidate(sent);
    // Basic credentials met with a bare 401 where the registry's Bearer challenge is the one to
    // answer (answer() chose it): no verdict on them; the transfer's next attempt asks the token
    // service, as a replay would have (bearer-auth.ts).
    const backToBearer = !fromThisResponse && sent?.kind === 'basic' && challenge.scheme === 'bearer';
    if (backToBearer) state.settle('bearer', challenge);
    // Basic credentials or a registry token refused on a body sent once (a streamed PATCH:
    // ECR's 12-hour password ran out during a long push): a new attempt is worth making with
    // others looked up anew. Not a registry token short of a right (insufficient_scope).
    let renewedCred = false;
    const insufficient = fromThisResponse && challenge.params.error === 'insufficient_scope';
    const refusedKind = sent?.kind === 'basic' && challenge.scheme === 'basic' ? 'basic' : sent?.kind === 'registry-token' && !insufficient ? 'registry-token' : undefined;
    const cred = refusedKind ? await credentials.get() : undefined;
    if (refusedKind && cred && sent && sent.kind !== 'bearer' && sent.who === who(cred)) {
      refusals.set(refusals.key(cred, refusedKind), errors.rejected(cred, undefined, refusedKind));
      const next = await credentials.renew(cred, attempt);
      const other = refusedKind === 'basic' ? !!next?.username && !!next.password : !!next && who(next) !== who(cred);
      renewedCred = other && !refusals.has(refusals.key(next!, next!.registryToken ? 'registry-token' : 'basic'));
    }
    // One more attempt of the whole transfer is worth making only when this 401 taught something:
    // a stored token went stale, a presumed realm was not the registry's (dropped above), or the
    // scheme was unknown, or other credentials were found, or the Basic sent goes back to a token.
    // A token fetched for this very request, or the same Basic credentials or registry token,
    // would only be refused again.
    const presumedDropped = sentFirst?.kind === 'bearer' && sent === undefined;
    if (stale || presumedDropped || learnedScheme || renewedCred || backToBearer) res.authRenewed = true;
    log.debug(`auth: 401 on ${req.method} ${req.label ?? 'request'} with a body that cannot be replayed; returning it${res.authRenewed ? ' (a new attempt authenticates afresh)' : ''}`);
    return undefined;
  }
}

/**
 * Whether a request's body can be sent again after a 401 (none, a buffer, or a body factory not
 * marked one-shot). A Buffer marked `replayable: false` (upload bytes to a session) is: a 401 is
 * the registry refusing the request before it took any of the body, so the session is as it was.
 */
function canReplay(req: HttpRequest): boolean {
  if (req.body === undefined || Buffer.isBuffer(req.body)) return true;
  return req.replayable !== false;
}
