/**
 * Registry names as credential stores spell them. Docker keys its config by
 * `https://index.docker.io/v1/` for Docker Hub and by host (sometimes with a scheme and a
 * `/v1/` or `/v2/` path) for everything else; Podman keys by host or `host/namespace`.
 */

/** The key Docker (config.json and credential helpers) uses for Docker Hub. */
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

/** The host regpush calls Docker Hub's API on. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** True for any of Docker Hub's names. */
export function isDockerHub(host: string): boolean {
  return HUB_ALIASES.has(host.toLowerCase());
}

/**
 * Reduces a registry name or config key to a lower-case `host[:port]` ('docker.io' for every
 * Hub alias); undefined when the key names a namespace inside a registry (`quay.io/org`),
 * which must not be used for the registry as a whole.
 */
export function registryHostOf(key: string): string | undefined {
  let s = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  s = s.replace(/\/+(v1|v2)\/*$/i, '').replace(/\/+$/, '');
  if (!s || s.includes('/') || s.includes('@')) return undefined;
  s = s.toLowerCase();
  return isDockerHub(s) ? 'docker.io' : s;
}

/** The server URL/key to use for `registry` in Docker's config and credential helpers. */
export function dockerConfigKey(registry: string): string {
  const host = registryHostOf(registry) ?? registry;
  return host === 'docker.io' ? DOCKER_HUB_CONFIG_KEY : host;
}

/** The host to send API requests to: Docker Hub's aliases go to registry-1.docker.io. */
export function apiHostOf(registry: string): string {
  const host = registryHostOf(registry) ?? registry.toLowerCase();
  return host === 'docker.io' ? DOCKER_HUB_API_HOST : host;
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
