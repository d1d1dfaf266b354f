/**
 * A registry token (Docker config.json's `registrytoken`): a bearer token ready-made by whoever
 * stored it, sent as it is with no token service asked. What is particular to it: a refusal of it
 * is remembered for the run and the stored logins are looked up anew once (another `docker
 * login` may have replaced it), while a refusal for a missing right is no reason to distrust it.
 */
import type { HttpRequest } from '../http/types.js';
import type { Attempt } from './attempt.js';
import type { Challenge } from './challenge.js';
import { who } from './credential-id.js';
import type { CredentialSource } from './credential-source.js';
import type { Credential } from './credential-types.js';
import { isRead, neededScopes, type RefusalErrors } from './refusal-errors.js';
import type { RefusalRecord } from './refusals.js';
import type { SchemeState } from './scheme-state.js';
import { mergeScopes } from './scope.js';

export interface RegistryTokenAuthOptions {
  state: SchemeState;
  credentials: CredentialSource;
  refusals: RefusalRecord;
  errors: RefusalErrors;
  /** Credentials (by `who`) accepted in this operation (AuthMemory.acceptedCredentials). */
  accepted: Set<string>;
}

export class RegistryTokenAuth {
  constructor(private readonly opts: RegistryTokenAuthOptions) {}

  /**
   * `cred` (a registry token), unless the registry refused it earlier in the run: then the
   * credential looked up anew (once, see CredentialSource.renew), or, when that gives no other, the
   * refusal again. A ready-made token is no login a lockout counts, but sent again it is refused
   * again, one round trip per request and image.
   */
  async unrefused(cred: Credential, attempt: Attempt): Promise<Credential | undefined> {
    const refusals = this.opts.refusals;
    const refusal = refusals.key(cred, 'registry-token');
    if (!refusals.has(refusal)) return cred;
    const next = await this.opts.credentials.renew(cred, attempt);
    if (!next || who(next) === who(cred) || (next.registryToken && refusals.has(refusals.key(next, 'registry-token')))) refusals.throwRefused(refusal);
    return next;
  }

  /** The Authorization value for a registry token, sent as it is. */
  header(cred: Credential, attempt: Attempt): string {
    this.opts.state.mode = 'registry-token';
    attempt.sent = { kind: 'registry-token', who: who(cred) };
    return `Bearer ${cred.registryToken}`;
  }

  /**
   * A 401 to `cred`, a registry token: when this request sent it, either a right missing for this
   * request (thrown: E_DENIED for a write, else E_AUTH naming what was needed) or a refusal of the
   * token, remembered for the run. `said`: the challenge of this very answer, if it came with one;
   * `scopes` and `extra`: what the request asked for and what the challenge adds.
   */
  refused(cred: Credential, attempt: Attempt, said: Challenge | undefined, scopes: string[], extra: string[], req: HttpRequest): void {
    const { refusals, errors } = this.opts;
    const sent = attempt.sent;
    if (sent?.kind !== 'registry-token' || sent.who !== who(cred)) return;
    // A right missing for this request, which says nothing of the token's other requests (a
    // pull-only token's reads): the registry took the token and says so (insufficient_scope),
    // or took it earlier in the run and refuses a write now, without calling it invalid.
    const error = said?.params.error;
    if (error === 'insufficient_scope' || (error !== 'invalid_token' && this.opts.accepted.has(sent.who) && !isRead(req))) {
      const needed = neededScopes(said, mergeScopes([...scopes, ...extra]), req);
      throw errors.deniedWrite(cred, needed) ?? errors.rejected(cred, needed);
    }
    refusals.set(refusals.key(cred, 'registry-token'), errors.rejected(cred, undefined, 'registry-token'));
  }
}
