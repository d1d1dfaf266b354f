/**
 * Building authenticated registry clients for an operation: which credential, which scopes, which
 * scheme. Push, copy and inspect all come through here, so there is one way in.
 */
import os from 'node:os';
import { credentialSources, resolveCredential, type Credential, type CredentialRole, type SecretSink } from '../auth/credentials.js';
import { repositoryScope, type ScopeAction } from '../auth/scope.js';
import { Transport } from '../http/transport.js';
import { proxySettingsFromEnv } from '../http/proxy.js';
import { tlsResolver, type RegistryTlsOptions } from '../http/tls.js';
import { silentLogger, type Logger } from '../log.js';
import type { AuthMemory } from '../auth/middleware.js';
import { HttpRegistryClient } from './client.js';
import type { RegistryClient } from './registry-client.js';
import { parseInsecureList } from './endpoint.js';

/** Options every command shares, as the library receives them (the CLI fills them from flags and env). */
export interface ConnectionOptions {
  /** Environment to read credentials and settings from; the library never reads process.env itself. */
  env?: Record<string, string | undefined>;
  /** Home directory for ~/.docker/config.json and containers auth files. */
  homeDir?: string;
  /** host[:port] entries reachable over plain http (also REGPUSH_INSECURE_REGISTRIES in env). */
  insecureRegistries?: string[];
  /** Explicit credentials for the source (from) and target (to) registries. */
  credentials?: { from?: Credential; to?: Credential };
  signal?: AbortSignal;
  /** A connection silent this long fails and is retried (ms; default 60 000). The CLI reads REGPUSH_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number;
  /** Bytes per PATCH when a registry needs chunked uploads (default per registry, see registry/quirks.ts). */
  chunkSize?: number;
  /**
   * TLS per registry: certs.d directories (default /etc/containers/certs.d, /etc/docker/certs.d),
   * extra CAs, client certificates, verification off. NODE_EXTRA_CA_CERTS is taken from `env`.
   */
  tls?: RegistryTlsOptions;
  /** Milliseconds a credential helper may take (default 30 s). The CLI reads REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS. */
  credentialHelperTimeoutMs?: number;
  /**
   * The run's secrets (a SecretSet of src/redact.ts): the credentials and tokens this operation
   * resolves or receives are added, so the caller can scrub them from whatever it prints.
   */
  secrets?: SecretSink;
}

/** Transport tunables an operation takes from its options. */
export interface TransportChoices extends ConnectionOptions {
  logger?: Logger;
  retries?: number;
  idleTimeoutMs?: number;
}

/** The one way an operation builds its transport: logger, retries, idle timeout, proxies from env, TLS per registry. */
export function transportFor(opts: TransportChoices): Transport {
  const logger = opts.logger ?? silentLogger;
  return new Transport({
    logger,
    idleTimeoutMs: opts.idleTimeoutMs,
    retry: opts.retries === undefined ? undefined : { retries: opts.retries },
    proxy: proxySettingsFromEnv(opts.env ?? {}),
    tls: tlsResolver({ nodeExtraCaCerts: opts.env?.NODE_EXTRA_CA_CERTS || undefined, ...(opts.tls ?? {}) }, logger),
  });
}

/** The insecure list from options and env together. */
export function insecureList(opts: ConnectionOptions): string[] {
  return [...(opts.insecureRegistries ?? []), ...parseInsecureList(opts.env?.REGPUSH_INSECURE_REGISTRIES)];
}

/**
 * A client for `registry` with credentials for `role` and the operation's scopes. `read` is for
 * read-only commands (inspect): explicit `credentials.from`, then REGPUSH_*, REGPUSH_TO_*,
 * REGPUSH_FROM_* env vars (see credentialEnvRoles).
 */
export function connect(
  transport: Transport,
  registry: string,
  role: CredentialRole,
  scopes: { repo: string; actions: ScopeAction[] }[],
  opts: ConnectionOptions,
  memory?: AuthMemory,
): RegistryClient {
  let cached: Promise<Credential | undefined> | undefined;
  const explicit = role === 'to' ? opts.credentials?.to : opts.credentials?.from;
  const resolve = () =>
    resolveCredential(registry, {
      role,
      explicit,
      env: opts.env ?? {},
      homeDir: opts.homeDir ?? opts.env?.HOME ?? os.homedir(),
      logger: transport.logger,
      helperTimeoutMs: opts.credentialHelperTimeoutMs,
      secrets: opts.secrets,
    });
  return new HttpRegistryClient({
    registry,
    transport,
    authMemory: memory,
    insecure: insecureList(opts),
    signal: opts.signal,
    scopes: scopes.map((s) => repositoryScope(s.repo, s.actions)),
    secrets: opts.secrets,
    credentialSources: hasExplicit(explicit) ? 'the credentials given explicitly (flags or options)' : credentialSources(role),
    // With the operation's memory, one credential lookup (helper runs included) per registry and role.
    credential: () => (cached ??= memory ? memory.credential(`${role} ${registry}`, resolve) : resolve()),
  });
}

function hasExplicit(c: Credential | undefined): boolean {
  return Boolean(c && (c.username || c.password || c.identityToken || c.registryToken));
}
