/**
 * Refused credentials: what a refusal is a refusal of (the credential, or the scopes asked for),
 * how far it reaches for a caller that has somewhere else to go (a mirror), and the record that
 * keeps a refused credential from being sent again in the run (AuthMemory.refusals). Kept together
 * because the three answer one question, "may these credentials be sent here", and apart from
 * the wording of the errors (refusal-errors.ts).
 */
import { AuthError, type RegpushError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Challenge } from './challenge.js';
import { who } from './credential-id.js';
import type { Credential } from './credential-types.js';
import { scopeKey } from './scope.js';

/**
 * What a token service's refusal of credentials is a refusal of. A 401: of the credentials,
 * whatever the scope (the distribution token spec answers failed authentication with 401, and
 * missing rights with a token of fewer actions). A 403: of the scopes asked for, as far as anything is known:
 * GHCR answers it for one package the user may not read (dragonflydb/dragonfly#4997), which says
 * nothing of the next repository, and also to a personal access token that has expired
 * (akuity/kargo#777), so it is remembered with the scopes, and looked up anew like a 401.
 * Anonymous access is no refusal of credentials: nothing is sent that a lockout could count.
 */
export function refusalOf(err: unknown): 'credential' | 'scope' | undefined {
  if (!(err instanceof AuthError) || err.details.realm === undefined || err.details.anonymous === true) return undefined;
  return err.details.status === 401 ? 'credential' : err.details.status === 403 ? 'scope' : undefined;
}

/**
 * A token service's refusal of an anonymous token (its 401 or 403): the answer to those scopes
 * for the rest of the run, since nothing about the request can change (no credential is looked up
 * again for anonymous access). Kept with the scopes (RefusalRecord.refusedAt), so that a read
 * already on its way when the refusal came, whose own 401 arrives after it, fails with it instead
 * of asking the token service again: a mirror's token service refusing one repository
 * (registry/mirrors.ts) is then asked once per run, however many reads of it were in flight.
 */
export function anonymousRefusal(err: unknown): boolean {
  return err instanceof AuthError && err.details.realm !== undefined && err.details.anonymous === true && (err.details.status === 401 || err.details.status === 403);
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

export interface RefusalRecordOptions {
  registry: string;
  /** The registry's host, as token cache keys name it. */
  registryHost: string;
  /** The registry's key in AuthMemory: its host, and the API path where there is one. */
  memoryKey: string;
  /** The refusals kept: the operation's (AuthMemory.refusals), or the middleware's own. */
  refusals: Map<string, AuthError>;
  log: Logger;
}

/** One middleware's view of the refusals of the run: where each is kept, and the refusal of a credential about to be sent. */
export class RefusalRecord {
  constructor(private readonly opts: RefusalRecordOptions) {}

  /**
   * Where a refusal of `cred` is remembered (AuthMemory.refusals): at a token service, its realm
   * and service (a presumed realm that is the registry's own is the same one, so wrong credentials
   * are refused there once, not again when the registry names it), and for its 403 the scopes
   * asked for too (refusalOf); for Basic and a registry token, the registry.
   */
  key(cred: Credential | undefined, at: Challenge | 'basic' | 'registry-token', scopes?: string[]): string {
    return typeof at === 'string'
      ? `${this.opts.memoryKey}|${at}|${who(cred)}`
      : `${this.opts.registryHost}|${at.params.realm ?? ''}|${at.params.service ?? ''}|${who(cred)}${scopes ? `|${scopeKey(scopes)}` : ''}`;
  }

  has(key: string): boolean {
    return this.opts.refusals.has(key);
  }

  set(key: string, err: AuthError): void {
    this.opts.refusals.set(key, err);
  }

  /**
   * The key of the refusal of `cred` at `challenge`'s token service that applies to `scopes`, if
   * any; for anonymous access (`cred` undefined), the refusal of those very scopes only (anonymousRefusal).
   */
  refusedAt(cred: Credential | undefined, challenge: Challenge, scopes: string[]): string | undefined {
    return (cred ? [this.key(cred, challenge), this.key(cred, challenge, scopes)] : [this.key(undefined, challenge, scopes)]).find((k) => this.opts.refusals.has(k));
  }

  /** Fails with the refusal remembered at `key`, if any: a refused credential is not sent again, refused anonymous scopes not asked again. */
  throwRefused(key: string | undefined): void {
    const err = key === undefined ? undefined : this.opts.refusals.get(key);
    if (!err) return;
    this.opts.log.debug(
      err.details.anonymous === true
        ? `auth: an anonymous token for these scopes at ${this.opts.registry} was refused earlier in this run; not asking again`
        : `auth: these credentials for ${this.opts.registry} were refused earlier in this run; not sending them again`,
    );
    throw new AuthError(err.message, { details: err.details });
  }
}
