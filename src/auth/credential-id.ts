/**
 * A credential's identity without its secret: what the token cache, the refusal record and the
 * run's memory of accepted and renewed credentials are keyed by. One function, in a module of its
 * own because every part of the auth middleware and AuthMemory keys by it.
 */
import { createHash } from 'node:crypto';
import type { Credential } from './credential-types.js';

/**
 * Whose token, for the cache key. Two repositories of one registry can have different logins in
 * one run (an `auths` key per namespace), under the same user name (`_json_key`, `AWS`, `<token>`
 * for every identity token): so the key holds a digest of the secret too, never the secret itself.
 */
export function who(cred: Credential | undefined): string {
  if (!cred) return 'anonymous';
  const fingerprint = createHash('sha256').update(JSON.stringify([cred.password, cred.identityToken, cred.registryToken])).digest('hex').slice(0, 32);
  if (cred.registryToken) return `<registry-token>:${fingerprint}`;
  if (cred.username) return `user:${cred.username}:${fingerprint}`;
  return `<identity-token>:${fingerprint}`;
}
