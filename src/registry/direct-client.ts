/**
 * The client of one registry itself, mirrors aside: the credential it sends (which one, and how a
 * refusal of it is worded), its scopes, and the registry's insecure settings.
 */
import { credentialSourceList, registryCredentialFor, resolveCredential } from '../auth/credential-lookup.js';
import type { CredentialRole } from '../auth/credential-rules.js';
import type { Credential } from '../auth/credential-types.js';
import { credentialEnvOrigin } from '../auth/credential-env.js';
import { storedLoginSources } from '../auth/credential-paths.js';
import { repositoryScope, type ScopeAction } from '../auth/scope.js';
import type { AuthMemory } from '../auth/auth-memory.js';
import type { Transport } from '../http/transport.js';
import { HttpRegistryClient } from './http-registry-client.js';
import type { InterruptedSession, RegistryClient } from './registry-client.js';
import { insecureFromEnvOnly, insecureList, insecureTlsBy, insecureTlsHosts } from './insecure-settings.js';
import type { ConnectionOptions } from './connection-options.js';

/** The client of one registry itself. */
export function connectOne(
  transport: Transport,
  registry: string,
  role: CredentialRole,
  scopes: { repo: string; actions: ScopeAction[] }[],
  opts: ConnectionOptions,
  memory?: AuthMemory,
  onInterruptedSession?: (s: InterruptedSession) => void,
  mirror?: { apiPath?: string; plainHttp?: boolean },
): RegistryClient {
  const apiPath = mirror?.apiPath;
  let cached: Promise<Credential | undefined> | undefined;
  const explicit = role === 'to' ? opts.credentials?.to : opts.credentials?.from;
  // The client's own repository comes first in its scopes (see connect): a login may be for it
  // or a namespace above it, so two repositories of one registry may need two credentials.
  const repository = scopes[0]?.repo;
  const registries = opts.credentials?.registries;
  const given = registries && registryCredentialFor(registries, registry, repository);
  const resolve = () =>
    resolveCredential(registry, {
      role,
      registries,
      explicit,
      repository,
      helperReplies: memory?.helperReplies,
      failedStores: memory?.failedStores,
      fileReads: memory?.fileReads,
      env: opts.env ?? {},
      homeDir: opts.homeDir ?? opts.env?.HOME,
      logger: transport.logger,
      helperTimeoutMs: opts.credentialHelperTimeoutMs,
      helperProcessGroup: opts.credentialHelperProcessGroup,
      secrets: opts.secrets,
    });
  return new HttpRegistryClient({
    registry,
    transport,
    apiPath,
    authMemory: memory,
    onInterruptedSession,
    // Credentials given in flags, options or REGPUSH_* variables win over any stored login: a
    // refusal of them says to check those, not to log in (RegistryClientOptions.credentialOrigin).
    // An entry of credentials.registries (library callers only) wins over all of them.
    credentialOrigin: given ? `credentials.registries[${JSON.stringify(given.key)}]` : hasExplicit(explicit) ? transport.names.givenCredentials?.(role) : credentialEnvOrigin(role, opts.env ?? {}),
    insecure: insecureList(opts),
    insecureSetting: insecureFromEnvOnly(registry, opts) ? 'REGPUSH_INSECURE_REGISTRIES' : undefined,
    plainHttpMirror: mirror?.plainHttp,
    insecureTls: insecureTlsHosts(opts),
    insecureTlsBy: insecureTlsBy(opts),
    signal: opts.signal,
    scopes: scopes.map((s) => repositoryScope(s.repo, s.actions)),
    secrets: opts.secrets,
    // A mirror is looked up in the stored logins only (and credentials.registries, where it names
    // the mirror): the source's own credentials (flags, REGPUSH_FROM_*) are never sent there, so
    // the message does not name them.
    credentialSources: given
      ? `the credentials given for it (credentials.registries[${JSON.stringify(given.key)}])`
      : mirror
        ? `the stored logins only (${storedLoginSources(opts.env, opts.homeDir ?? opts.env?.HOME)}; a mirror never gets the source's credentials)`
        : hasExplicit(explicit)
          ? 'the credentials given explicitly (flags or options)'
          : credentialSourceList(role, undefined, opts.env, opts.homeDir ?? opts.env?.HOME),
    // With the operation's memory, one credential lookup per repository and role (and one run of
    // each helper per registry: AuthMemory.helperReplies).
    credential: () => (cached ??= memory ? memory.credential(`${role} ${registry}/${repository ?? ''}`, resolve) : resolve()),
    // Refused: looked up once more (a credential helper's token may have expired; AuthMemory.renewCredential).
    renewCredential: (refused) => (cached = memory ? memory.renewCredential(`${role} ${registry}/${repository ?? ''}`, refused, resolve) : resolve()),
  });
}

function hasExplicit(c: Credential | undefined): boolean {
  return Boolean(c && (c.username || c.password || c.identityToken || c.registryToken));
}
