/**
 * A credential: what regpush may authenticate with, whose it is (the role), and when one is whole.
 * Apart from the lookup (credential-lookup.ts) because every source of one shares these: the env
 * variables (credential-env.ts), the files and helpers, the library's options. The Credential type
 * itself is in credential-types.ts, with the other types the library's declarations publish.
 */

import type { Credential } from './credential-types.js';

/** Whose credentials: a source, a target, or the one registry of a read-only command. */
export type CredentialRole = 'from' | 'to' | 'read';

/**
 * What is wrong with a user name regpush was given to send, as the rest of a message that names
 * where it came from (`--user contains a colon, …`); undefined when it is fine. HTTP Basic joins
 * user and password with the first colon (RFC 7617 §2), so a user name holding one would reach the
 * registry as another user with another password: refused as input, before any request, instead
 * of a refusal by the registry that names the wrong user. Often a `user:password` given as the
 * user, so the message never repeats the value. Only names given to regpush are checked: a Docker
 * config's `auth` field is user:password itself, split at its first colon (decodeEntry).
 */
export function userNameProblem(username: string): string | undefined {
  return username.includes(':') ? 'contains a colon, which no HTTP Basic user name may (RFC 7617); the password goes in a setting of its own' : undefined;
}

export function isUsable(c: Credential): boolean {
  return Boolean((c.username && c.password) || c.identityToken || c.registryToken);
}

export function clean(c: Credential): Credential {
  // Empty strings count as absent: an unset flag often arrives as "".
  const out: Credential = {};
  if (c.username) out.username = c.username;
  if (c.password) out.password = c.password;
  if (c.identityToken) out.identityToken = c.identityToken;
  if (c.registryToken) out.registryToken = c.registryToken;
  return out;
}
