/**
 * Registry names as credential stores spell them. Docker keys its config by
 * `https://index.docker.io/v1/` for Docker Hub and by host (sometimes with a scheme and a
 * `/v1/` or `/v2/` path) for everything else; Podman keys by host or `host/namespace`. What a
 * host is, and which names are Docker Hub, is decided in src/ref/registry.ts.
 */
import { PATH_COMPONENT } from '../ref/grammar.js';
import { DOCKER_HUB, registryHostOf } from '../ref/registry.js';

/** The key Docker (config.json and credential helpers) uses for Docker Hub. */
const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

/** The server URL/key to use for `registry` in Docker's config and credential helpers. */
export function dockerConfigKey(registry: string): string {
  const host = registryHostOf(registry) ?? registry;
  return host === DOCKER_HUB ? DOCKER_HUB_CONFIG_KEY : host;
}

/**
 * The keys a credential helper may hold `registry`'s login under, in the order to ask: the key of
 * the `auths` entry that names it (`entryKey`), else Docker's key. For Docker Hub, Docker's key
 * first whatever `auths` spells: Docker asks its helper for https://index.docker.io/v1/ only and
 * never reads an alias (`docker.io`), so a login stored under the alias would be one Docker and
 * regpush do not share; the alias is asked after it, for a login another tool stored so (Podman
 * keys Docker Hub as docker.io).
 */
export function helperKeys(registry: string, entryKey: string | undefined): string[] {
  const key = entryKey ?? dockerConfigKey(registry);
  if (registryHostOf(registry) !== DOCKER_HUB || key === DOCKER_HUB_CONFIG_KEY) return [key];
  return [DOCKER_HUB_CONFIG_KEY, key];
}

/** Finds the entry of `map` whose key names the same registry host (exact key preferred). */
export function findByRegistry<T>(map: Record<string, T> | undefined, registry: string): [string, T] | undefined {
  if (!map) return undefined;
  const want = registryHostOf(registry);
  if (!want) return undefined;
  const exact = dockerConfigKey(registry);
  if (Object.prototype.hasOwnProperty.call(map, exact)) return [exact, map[exact] as T];
  for (const [k, v] of Object.entries(map)) if (registryHostOf(k) === want) return [k, v];
  return undefined;
}

/**
 * The `auths` keys that name `repository` or a namespace above it, most specific first, as
 * containers/image matches them (containers-auth.json(5)): for "quay.io" and "org/team/app",
 * `quay.io/org/team/app`, `quay.io/org/team`, `quay.io/org`. Whole path components only, so
 * `quay.io/org` never serves `quay.io/organisation/app`; Docker Hub's are spelled `docker.io/…`,
 * as Podman writes them. The registry's own key is not among them: findByRegistry looks that up,
 * in all its spellings.
 */
export function namespaceKeys(registry: string, repository: string | undefined): string[] {
  const host = registryHostOf(registry);
  if (!host || !repository) return [];
  const parts = repository.split('/');
  return parts.map((_, i) => `${host}/${parts.slice(0, parts.length - i).join('/')}`);
}

/**
 * Splits a login argument or `auths` key into its registry host and the namespace or repository
 * under it, as Podman's login takes them: "quay.io/org/app" → quay.io and "org/app"; "ghcr.io" or
 * "https://index.docker.io/v1/" → the host alone. Undefined when it is neither: a bad host, a first
 * component that is no host by Docker's rule (a ".", a ":", "[" or "localhost", so "library/alpine" is not
 * read as a registry "library"), or a path component no repository name could have (a tag, a digest).
 */
export function splitAuthKey(value: string): { host: string; namespace?: string } | undefined {
  const host = registryHostOf(value);
  if (host) return { host };
  const s = value.trim().replace(/^https?:\/\//i, '').replace(/\/+$/, '');
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const first = s.slice(0, slash);
  const namespace = s.slice(slash + 1);
  const firstHost = registryHostOf(first);
  if (!firstHost || !(first.includes('.') || first.includes(':') || first.startsWith('[') || first.toLowerCase() === 'localhost')) return undefined;
  if (!namespace.split('/').every((c) => PATH_COMPONENT.test(c))) return undefined;
  return { host: firstHost, namespace };
}
