/** Public surface of src/auth: challenge parsing, scopes, credentials, token exchange, the auth middleware. */
export { parseChallenges, findChallenge, type Challenge } from './challenge.js';
export { repositoryScope, parseScope, mergeScopes, scopeKey, scopesCover, type ScopeAction, type ParsedScope } from './scope.js';
export {
  resolveCredential,
  storeCredential,
  eraseCredential,
  credentialEnvVars,
  dockerConfigPath,
  containersAuthFiles,
  type Credential,
  type CredentialOptions,
  type CredentialStoreOptions,
} from './credentials.js';
export { fetchToken, TOKEN_REPLY_CAP, DEFAULT_TOKEN_LIFETIME_S, OAUTH_CLIENT_ID, type FetchTokenOptions, type FetchedToken } from './token.js';
export { authMiddleware, type AuthOptions } from './middleware.js';
export { TokenCache, TOKEN_EXPIRY_MARGIN_MS, type CachedToken } from './token-cache.js';
export { DOCKER_HUB_CONFIG_KEY, dockerConfigKey } from './registry-host.js';
