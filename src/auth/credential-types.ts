/**
 * The credentials a caller gives (ConnectionOptions.credentials) and the sink the auth layer
 * reports secrets to (ConnectionOptions.secrets): types only, part of the library's published
 * declarations; where credentials are looked up is credential-lookup.ts.
 */

/** What regpush may authenticate with. `identityToken` is an OAuth2 refresh token; `registryToken` a ready Bearer token. */
export interface Credential {
  username?: string | undefined;
  password?: string | undefined;
  identityToken?: string | undefined;
  registryToken?: string | undefined;
}

/**
 * Credentials given per registry, or per namespace or repository of one (the library's
 * `credentials.registries`): keys are written as `auths` keys are, `ghcr.io`, `quay.io/org`,
 * `reg.example:5000/team/app`, and matched as containers/image matches those (registryCredentialFor).
 */
export type RegistryCredentials = Readonly<Record<string, Credential | undefined>>;

/** Where the auth layer reports secrets it learns (a SecretSet of src/redact.ts). */
export interface SecretSink {
  add(value: string | undefined): void;
  addCredential(cred: Credential | undefined): void;
}
