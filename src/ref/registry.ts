/**
 * Registry names: the one place that decides how a registry host is spelled, which names are
 * Docker Hub and where its API lives. Which hosts never leave the machine, and which entry of a
 * host list names a registry, are host-address.ts's: references, the credential stores, the
 * endpoint choice, token realms and the proxy bypass all ask there, so a host cannot be loopback
 * for one of them and remote for another. Pure: no I/O, no globals.
 */
import { hostProblem } from './grammar.js';

/** The name Docker Hub goes by in references and credential lookups. */
export const DOCKER_HUB = 'docker.io';

/** The host that actually serves Docker Hub's Distribution API. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/**
 * Every spelling of Docker Hub. All of them normalise to "docker.io": Docker still stores Hub
 * logins under index.docker.io (a v1 leftover) and the API answers on registry-1.docker.io.
 */
const DOCKER_HUB_ALIASES: ReadonlySet<string> = new Set([DOCKER_HUB, 'index.docker.io', DOCKER_HUB_API_HOST]);

/** True for any of Docker Hub's names (docker.io, index.docker.io, registry-1.docker.io), any case. */
export function isDockerHub(registry: string): boolean {
  return DOCKER_HUB_ALIASES.has(registry.toLowerCase());
}

/**
 * The canonical spelling of a registry host[:port]: lower case (host names are case-insensitive,
 * and one spelling keeps credential and token caches from splitting), every Docker Hub alias as
 * "docker.io".
 */
export function canonicalRegistry(registry: string): string {
  const host = registry.toLowerCase();
  return DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}

/** The host to send API requests to: Docker Hub's names map to registry-1.docker.io, others are unchanged. */
export function apiHost(registry: string): string {
  return isDockerHub(registry) ? DOCKER_HUB_API_HOST : registry;
}

/**
 * Reduces what a user or a credential store names a registry by ("ghcr.io", "https://ghcr.io",
 * "http://Reg.Example.com:5000/v2/", "https://index.docker.io/v1/") to its canonical host[:port].
 * Undefined when the value is not a registry host: a key naming a namespace inside a registry
 * (Podman's "quay.io/org") must not stand for the registry as a whole. A `/v1/` or `/v2/` path is
 * the API's only in a URL: without a scheme "quay.io/v2" is the namespace "v2", as
 * containers/common's login and containers/image's auth-file keys read it.
 */
export function registryHostOf(value: string): string | undefined {
  const trimmed = value.trim();
  let s = trimmed.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  if (s !== trimmed) s = s.replace(/\/+(v1|v2)\/*$/i, '');
  s = s.replace(/\/+$/, '');
  if (hostProblem(s)) return undefined;
  return canonicalRegistry(s);
}
