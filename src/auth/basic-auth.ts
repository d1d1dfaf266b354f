/**
 * HTTP Basic authentication (RFC 7617) to a registry that asks for it: the username and password
 * sent with every request once the registry's challenge has named Basic, and the answer to a
 * Basic challenge: a password refused is remembered for the run (never sent again, so a lockout
 * counts one failed login) and the credential looked up anew once.
 */
import type { Attempt } from './attempt.js';
import type { Challenge } from './challenge.js';
import { who } from './credential-id.js';
import type { CredentialSource } from './credential-source.js';
import type { Credential } from './credential-types.js';
import type { RefusalErrors } from './refusal-errors.js';
import type { RefusalRecord } from './refusals.js';
import type { SchemeState } from './scheme-state.js';

export interface BasicAuthOptions {
  state: SchemeState;
  credentials: CredentialSource;
  refusals: RefusalRecord;
  errors: RefusalErrors;
}

export class BasicAuth {
  constructor(private readonly opts: BasicAuthOptions) {}

  /** The Authorization to send before any challenge, once the registry is known to take Basic; undefined when `cred` was refused. */
  upFront(cred: Credential, attempt: Attempt): string | undefined {
    // Refused before: the request goes without them. A registry that lets anyone read (nginx's
    // limit_except) still answers it; one that wants them answers 401, and that fails at once.
    if (this.opts.refusals.has(this.opts.refusals.key(cred, 'basic'))) return undefined;
    attempt.sent = { kind: 'basic', who: who(cred) };
    return basicHeader(cred);
  }

  /** The Authorization to replay a request with after a Basic challenge; throws when there is none to send. */
  async answer(cred: Credential | undefined, challenge: Challenge, attempt: Attempt): Promise<string> {
    const { refusals, errors } = this.opts;
    if (!cred?.username || !cred.password) throw errors.basicNeeded();
    const refusal = refusals.key(cred, 'basic');
    if (attempt.sent?.kind === 'basic' && attempt.sent.who === who(cred)) refusals.set(refusal, errors.rejected(cred, undefined, 'basic'));
    if (refusals.has(refusal)) {
      // Refused (now or earlier in the run): once more with the credential looked up anew.
      const next = await this.opts.credentials.renew(cred, attempt);
      if (!next?.username || !next.password || refusals.has(refusals.key(next, 'basic'))) refusals.throwRefused(refusal);
      else cred = next;
    }
    this.opts.state.settle('basic', challenge);
    attempt.sent = { kind: 'basic', who: who(cred) };
    return basicHeader(cred);
  }
}

function basicHeader(cred: Credential): string {
  return `Basic ${Buffer.from(`${cred.username}:${cred.password}`, 'utf8').toString('base64')}`;
}
