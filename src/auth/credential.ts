/**
 * A credential: what regpush may authenticate with, whose it is (the role), and when one is whole.
 * Apart from the lookup (credentials.ts) because every source of one shares these: the env
 * variables (credential-env.ts), the files and helpers, the library's options. The Credential type
 * itself is in credential-types.ts, with the other types the library's declarations publish.
 */

import type { Credential } from './credential-types.js';

/** Whose credentials: a source, a target, or the one registry of a read-only command. */
export type CredentialRole = 'from' | 'to' | 'read';

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
