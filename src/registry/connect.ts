/**
 * A role's client for a registry, as an operation asks for it (connect): the registry itself, its
 * mirrors in front of it for reads, or the refusal of a blocked repository. Every operation comes
 * through here, so there is one way in.
 */
import type { CredentialRole } from '../auth/credential-rules.js';
import { credentialEnvVars } from '../auth/credential-env.js';
import type { ScopeAction } from '../auth/scope.js';
import type { Transport } from '../http/transport.js';
import { DeniedError, UsageError } from '../errors.js';
import type { RegistryClient } from './registry-client.js';
import { blockedBy, checkMirrorMap, mirrorsFor, MirrorConfigError, type MirrorMap } from './mirror-config.js';
import { BlockedClient, MirroredClient, MirrorHealth, mirrorSendProfile, type MirrorRoute } from './mirrors.js';
import type { ClientMemory } from './client-memory.js';
import { connectOne } from './direct-client.js';
import type { ConnectionOptions } from './connection-options.js';

/**
 * A client for `registry` with credentials for `role` and the operation's scopes, the client's own
 * repository first (its credential is looked up for that one). `read` is for
 * read-only commands (inspect): explicit `credentials.from`, then REGPUSH_*, REGPUSH_TO_*,
 * REGPUSH_FROM_* env vars (see credentialEnvRoles). `memory`: the operation's ClientMemory, so its
 * clients share schemes, tokens, credential lookups and what they learnt of mirrors.
 */
export function connect(
  transport: Transport,
  registry: string,
  role: CredentialRole,
  scopes: { repo: string; actions: ScopeAction[] }[],
  opts: ConnectionOptions,
  memory?: ClientMemory,
): RegistryClient {
  if (role !== 'to') for (const s of scopes) opts.onRead?.(registry, s.repo);
  // A target is checked on the repositories it writes; a source on every one it reads.
  const checked = role === 'to' ? scopes.filter((s) => s.actions.some((a) => a !== 'pull')) : scopes;
  const blocked = checked.flatMap((s) => {
    const by = blockedBy(opts.blocked, registry, s.repo);
    return by ? [blockedError(registry, s.repo, role, by)] : [];
  });
  const mirrorMap = role !== 'to' && opts.mirrors && Object.keys(opts.mirrors).length > 0 ? checkedMirrors(opts.mirrors) : undefined;
  const unmirrored = blocked.find((e) => !mirrorMap || mirrorsFor(mirrorMap, registry, String(e.details.repo)).length === 0);
  if (unmirrored) throw unmirrored;
  // A blocked source with mirrors: the mirrors are read, and where they fail the refusal is the answer.
  const upstream = blocked[0] ? new BlockedClient(registry, transport.logger, blocked[0]) : connectOne(transport, registry, role, scopes, opts, memory?.auth, memory?.onInterruptedSession);
  // Writes never go to a mirror: a target is always the registry itself. Reads (a source, or
  // inspect's `read`) try the mirrors first.
  if (role === 'to' || !opts.mirrors || Object.keys(opts.mirrors).length === 0) return upstream;
  const map = checkedMirrors(opts.mirrors);
  const clients = new Map<string, RegistryClient>();
  // Mirror requests give up sooner than the run's own (mirrorSendProfile): a mirror that hangs
  // or fails falls through to the next one or the upstream in seconds, not after every retry.
  let mirrorTransport: Transport | undefined;
  const mirrorClient = (registryHost: string, plainHttp: boolean, apiPath = ''): RegistryClient => {
    const key = `${plainHttp ? 'http' : 'https'}://${registryHost}/${apiPath}`;
    let c = clients.get(key);
    if (!c) {
      // Pull scope on the repositories the operation reads, as they are named at the mirror.
      const mirrorScopes = scopes.flatMap((s) =>
        mirrorsFor(map, registry, s.repo)
          .filter((m) => m.registry === registryHost && (m.apiPath ?? '') === apiPath)
          .map((m) => ({ repo: m.repo, actions: ['pull' as const] })),
      );
      // The source's credentials (--from-user, REGPUSH_FROM_*) are for the source registry: a
      // mirror gets its own from the stores (docker config, helpers, auth.json), never those.
      const env = { ...(opts.env ?? {}) };
      for (const name of Object.values(credentialEnvVars('from'))) delete env[name];
      const mirrorOpts: ConnectionOptions = {
        ...opts,
        env,
        // Those given for a registry by name are the mirror's where they name it.
        credentials: opts.credentials?.registries ? { registries: opts.credentials.registries } : {},
        insecureRegistries: plainHttp ? [...(opts.insecureRegistries ?? []), registryHost] : opts.insecureRegistries,
      };
      mirrorTransport ??= transport.withProfile(mirrorSendProfile(transport));
      c = connectOne(mirrorTransport, registryHost, 'from', mirrorScopes, mirrorOpts, memory?.auth, undefined, { apiPath: apiPath || undefined, plainHttp });
      clients.set(key, c);
    }
    return c;
  };
  const routes = (repo: string): MirrorRoute[] => mirrorsFor(map, registry, repo).map((m) => ({ ...m, client: mirrorClient(m.registry, m.plainHttp, m.apiPath) }));
  if (scopes.every((s) => mirrorsFor(map, registry, s.repo).length === 0) && !Object.keys(map).some((k) => k.split('/')[0] === registry)) return upstream;
  return new MirroredClient(upstream, routes, memory?.mirrors ?? new MirrorHealth(), scopes.map((s) => s.repo));
}

/** The one line for a repository under a blocked prefix (E_DENIED: configuration forbids it, as a registry's 403 would). */
function blockedError(registry: string, repo: string, role: CredentialRole, by: { prefix: string; source: string }): DeniedError {
  const verb = role === 'to' ? 'writing to' : 'reading from';
  return new DeniedError(`${verb} ${registry}/${repo} is blocked: prefix ${by.prefix} has blocked = true in ${by.source}`, {
    details: { registry, repo, prefix: by.prefix, file: by.source },
  });
}

/** The mirrors option checked, canonical keys (a bad one is a usage error of the caller). */
function checkedMirrors(mirrors: Readonly<Record<string, readonly string[]>>): MirrorMap {
  try {
    return checkMirrorMap(mirrors);
  } catch (err) {
    if (err instanceof MirrorConfigError) throw new UsageError(err.message);
    throw err;
  }
}
