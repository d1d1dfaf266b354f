/**
 * The credentials regpush takes from env variables: REGPUSH_<ROLE>_USER/_PASSWORD, _TOKEN and
 * _IDENTITY_TOKEN per role, the names a role reads in order, and which of them a credential came
 * from (for messages). One step of the lookup in credential-lookup.ts, in a module of its own because
 * connect() also names these variables without running a lookup (which ones a credential came
 * from, which ones a mirror's lookup leaves out).
 */
import { InputError } from '../errors.js';
import { clean, userNameProblem, type CredentialRole } from './credential-rules.js';
import type { Credential } from './credential-types.js';

/** Env var names for a role, e.g. REGPUSH_TO_USER (`read` gives the plain REGPUSH_USER set); also used by connect() to keep the source's set from a mirror's lookup. */
export function credentialEnvVars(role: CredentialRole): {
  user: string;
  password: string;
  token: string;
  identityToken: string;
} {
  const p = role === 'read' ? 'REGPUSH_' : `REGPUSH_${role.toUpperCase()}_`;
  return { user: `${p}USER`, password: `${p}PASSWORD`, token: `${p}TOKEN`, identityToken: `${p}IDENTITY_TOKEN` };
}

/**
 * The env var sets a role reads, in order. A read-only command talks to one registry, which is
 * usually the one just pushed to or pulled from, so besides its own REGPUSH_USER/REGPUSH_PASSWORD
 * it takes the REGPUSH_TO_* set, then the REGPUSH_FROM_* set (the first set that is present wins;
 * the env vars name no registry, so regpush cannot match them by host).
 */
export function credentialEnvRoles(role: CredentialRole): ('from' | 'to' | 'read')[] {
  return role === 'read' ? ['read', 'to', 'from'] : [role];
}

/**
 * The REGPUSH_* variables findCredential takes `role`'s credential from in `env`, as a message
 * names them (`REGPUSH_TO_USER/REGPUSH_TO_PASSWORD`, `REGPUSH_TOKEN`); undefined when none are set.
 * Half a pair, or a user name that cannot be sent, throws (InputError). Read by the same pick as the
 * credential itself (envCredential), so the two cannot disagree on which variables won.
 */
export function credentialEnvOrigin(role: CredentialRole, env: Record<string, string | undefined>): string | undefined {
  for (const r of credentialEnvRoles(role)) {
    let found: { credential: Credential; vars: string } | undefined;
    try {
      found = envCredential(r, env);
    } catch (err) {
      // A user name that cannot be sent, or half a pair, is refused here, as connect() asks this
      // before any request (an InputError): found only when a registry asked for credentials, a
      // typo in one name passed every run against a registry that asks for none.
      if (err instanceof InputError) throw err;
      return undefined;
    }
    if (found) return found.vars;
  }
  return undefined;
}

export function credentialFromEnv(role: CredentialRole, env: Record<string, string | undefined>): Credential | undefined {
  return envCredential(role, env)?.credential;
}

/**
 * REGPUSH_<ROLE>_USER + REGPUSH_<ROLE>_PASSWORD → Basic/token-exchange credentials;
 * REGPUSH_<ROLE>_TOKEN → a registry (Bearer) token sent as is;
 * REGPUSH_<ROLE>_IDENTITY_TOKEN → an OAuth2 refresh token exchanged at the realm.
 * Half a pair is bad input (InputError, exit 2: the environment's, naming both variables): silently
 * falling through to another source would be confusing. So is a user name that cannot be sent
 * (userNameProblem), where it is taken.
 * `vars` names the variables the credential came from.
 */
function envCredential(role: CredentialRole, env: Record<string, string | undefined>): { credential: Credential; vars: string } | undefined {
  const names = credentialEnvVars(role);
  const username = env[names.user] || undefined;
  const password = env[names.password] || undefined;
  const registryToken = env[names.token] || undefined;
  const identityToken = env[names.identityToken] || undefined;
  if (registryToken) return { credential: { registryToken }, vars: names.token };
  const userProblem = username && userNameProblem(username);
  if (userProblem) throw new InputError(`${names.user} ${userProblem} (${names.password})`, { details: { variable: names.user } });
  if (identityToken) return { credential: clean({ username, identityToken }), vars: username ? `${names.user}/${names.identityToken}` : names.identityToken };
  if (username && password) return { credential: { username, password }, vars: `${names.user}/${names.password}` };
  if (username) throw new InputError(`${names.user} is set but ${names.password} is not`, { details: { variable: names.password } });
  if (password) throw new InputError(`${names.password} is set but ${names.user} is not`, { details: { variable: names.user } });
  return undefined;
}
