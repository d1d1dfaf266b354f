/**
 * The errors a refusal becomes, worded for the user: E_AUTH naming whose credentials were
 * rejected (and where they were looked for), E_DENIED naming the right a good login lacks. One
 * place for them, so that push, copy, sync, tag, untag and delete report a refusal alike; when a refusal
 * is made is the schemes' and challenge-answer.ts's business.
 */
import { AuthError, DeniedError } from '../errors.js';
import type { HttpRequest } from '../http/types.js';
import type { Challenge } from './challenge.js';
import type { Credential } from './credential-types.js';
import { mergeScopes, parseScope } from './scope.js';

export class RefusalErrors {
  /** Where the credentials were looked for, for an error about none found. */
  private readonly lookedAt: string;
  /** The same, for an error about the credentials found. */
  private readonly takenFrom: string;

  /** What to do about a refusal of the credentials, after "; " (AuthOptions.refusalAdvice), or ''. */
  readonly advice: string;

  /**
   * `lookedAt`: AuthOptions.lookedAt; `advice`: AuthOptions.refusalAdvice; `adviceNamesOrigin`:
   * AuthOptions.adviceNamesOrigin.
   */
  constructor(
    private readonly registry: string,
    lookedAt: string | readonly string[] | undefined,
    advice?: string,
    adviceNamesOrigin?: boolean,
  ) {
    const sources = typeof lookedAt === 'string' ? [lookedAt] : (lookedAt ?? []);
    this.lookedAt = sources.length ? ` (looked at ${sources.join(', ')})` : '';
    // "The first of" only for a list to pick from; nothing where the advice already names where
    // the refused credentials came from ("check --user/--password: …").
    this.takenFrom = adviceNamesOrigin || !sources.length ? '' : sources.length > 1 ? ` (taken from the first of: ${sources.join(', ')})` : ` (taken from ${sources[0]})`;
    this.advice = advice ? `; ${advice}` : '';
  }

  /** A Basic challenge with no username and password to answer it. */
  basicNeeded(): AuthError {
    return new AuthError(`authentication to ${this.registry} failed: it requires a username and password and none were found${this.lookedAt}${this.advice}`, {
      details: { registry: this.registry, status: 401, scheme: 'basic', anonymous: true },
    });
  }

  /**
   * The registry's refusal, with a challenge, of a token its token service has just issued in this
   * request (so the token service accepted the credentials). A write so refused is a right the
   * user lacks (deniedWrite); a read refused with `insufficient_scope` stays E_AUTH: Docker Hub
   * answers it too for a repository that does not exist. `invalid_token` is the registry not
   * taking its own token service's token (a registry that does not trust that issuer, or clocks
   * apart): nothing a new password would mend, and no right either.
   */
  refusedToken(cred: Credential | undefined, want: string[], challenge: Challenge, req: HttpRequest): AuthError | DeniedError {
    const realmHost = realmHostOf(challenge);
    const error = challenge.params.error;
    const denied = cred && error !== 'invalid_token' ? this.deniedWrite(cred, neededScopes(challenge, want, req), realmHost) : undefined;
    if (denied) return denied;
    if (error === 'invalid_token') {
      const subject = cred?.username ? `user ${cred.username}` : cred?.identityToken ? 'the identity token' : 'anonymous access';
      // `tokenRefused`: the CLI adds no "check the credentials" hint, and no write refusal is read into it.
      return new AuthError(
        `authentication to ${this.registry} failed: the registry refused the token ${realmHost} had just issued for ${subject} (invalid_token), ` +
          'so the credentials are not the problem; check that the registry trusts that token service (issuer, certificate, service name) ' +
          'and that their clocks agree',
        { details: { registry: this.registry, status: 401, realm: realmHost, tokenRefused: true, ...(cred ? {} : { anonymous: true }) } },
      );
    }
    return this.rejected(cred, error === 'insufficient_scope' ? want : undefined);
  }

  /**
   * The one place a write refused to good credentials becomes E_DENIED: a token the token service
   * `realmHost` has just issued for them, or a registry token the registry has taken (`realmHost`
   * undefined), refused for what `scopes` write. That is a right the user lacks, not a password to
   * check (a token service grants only the actions a user may have, and the registry answers 401
   * rather than 403), as push, copy, sync, tag, untag and delete report it alike. Basic credentials never
   * get here: a registry that lets anyone read (nginx's limit_except, Nexus) never checked the
   * password on the read. Undefined when `scopes` name no write.
   */
  deniedWrite(cred: Credential, scopes: string[], realmHost?: string): DeniedError | undefined {
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
    return new DeniedError(
      `access to ${writes.map((w) => w.repo).join(', ')} at ${this.registry} denied: ${subject} accepted by ${by}, ` +
        `but not for ${verbs} (${actions.join(',')}); check your rights on the repository`,
      {
        details: { registry: this.registry, status: 401, ...(realmHost ? { realm: realmHost } : {}), scopes },
      },
    );
  }

  /**
   * What a write needing `scopes` meets where the token service `realmHost` has issued a token
   * without that right: the error the registry's refusal of that write becomes (refusedToken, for
   * its `insufficient_scope`), told before the write is sent (a dry run).
   */
  notGranted(cred: Credential | undefined, scopes: string[], realmHost: string): DeniedError | AuthError {
    return (cred && this.deniedWrite(cred, scopes, realmHost)) || this.rejected(cred, scopes);
  }

  rejected(cred: Credential | undefined, scopes: string[] | undefined, scheme: 'basic' | 'bearer' | 'registry-token' = 'bearer'): AuthError {
    const subject = cred?.username
      ? `the credentials for user ${cred.username}`
      : cred?.identityToken
        ? 'the identity token'
        : cred?.registryToken
          ? 'the registry token'
          : 'anonymous access (no credentials were found)';
    // A repository that does not exist is refused as one not granted (distribution, Docker Hub);
    // the catalog's registry:catalog:* names no repository, so only the grant is in doubt there.
    const maybeMissing = scopes?.some((s) => s.startsWith('repository:')) ? 'the repository may not exist, or ' : '';
    const scopeNote = scopes?.length ? ` for ${scopes.join(' ')} (${maybeMissing}access is not granted)` : '';
    // `anonymous` lets a caller tell "no credentials" from "credentials without this right";
    // `scheme`, a Basic password or a registry token refused as such from a token without a
    // right; `scopes`, the repositories a refused token was short of (refusalReach).
    return new AuthError(`authentication to ${this.registry} failed: the registry rejected ${subject}${scopeNote}${cred ? this.takenFrom : this.lookedAt}${this.advice}`, {
      details: { registry: this.registry, status: 401, scheme, ...(scopes?.length ? { scopes } : {}), ...(cred ? {} : { anonymous: true }) },
    });
  }
}

/**
 * What a refused request needed: what the registry's challenge names with `insufficient_scope`
 * (`said`: a challenge from this very answer), else for a write what was asked for, else nothing.
 */
export function neededScopes(said: Challenge | undefined, want: string[], req: HttpRequest): string[] {
  return said?.params.error === 'insufficient_scope' && said.params.scope ? mergeScopes([said.params.scope]) : isRead(req) ? [] : want;
}

/** A read (GET, HEAD): refused to good credentials, it is no missing right to write (deniedWrite). */
export function isRead(req: HttpRequest): boolean {
  return req.method === 'GET' || req.method === 'HEAD';
}

/** The host of a challenge's token realm, as errors name the token service. */
export function realmHostOf(challenge: Challenge): string {
  return hostOf(challenge.params.realm) ?? 'the token service';
}

/** The host of a URL (a token realm), undefined when it is none. */
function hostOf(url: string | undefined): string | undefined {
  try {
    return url ? new URL(url).host || undefined : undefined;
  } catch {
    return undefined;
  }
}
