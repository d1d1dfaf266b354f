/**
 * Registry names as credential stores spell them. Docker keys its config by
 * `https://index.docker.io/v1/` for Docker Hub and by host (sometimes with a scheme and a
 * `/v1/` or `/v2/` path) for everything else; Podman keys by host or `host/namespace`. What a
 * host is, and which names are Docker Hub, is decided in src/ref/registry.ts.
 */
import { DOCKER_HUB, registryHostOf } from '../ref/registry.js';

/** The key Docker (config.json and credential helpers) uses for Docker Hub. */
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

/** The server URL/key to use for `registry` in Docker's config and credential helpers. */
export function dockerConfigKey(registry: string): string {
  const host = registryHostOf(registry) ?? registry;
  return host === DOCKER_HUB ? DOCKER_HUB_CONFIG_KEY : host;
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
