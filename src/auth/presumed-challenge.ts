/**
 * Challenges known before a registry sends one. Docker Hub and GHCR always want a bearer token,
 * even for anonymous pulls, and name the same realm and service in every 401; so does each Azure
 * Container Registry, after its own name. Asking that realm for a token before the first request
 * saves the round trip of a request the registry is sure to refuse: 0.1 s per push or copy from a
 * registry 100 ms away, cold or warm.
 *
 * A presumption is only a head start, never trusted over the registry (scheme-state.ts,
 * bearer-auth.ts, challenge-answer.ts): a 401 that names another realm or service replaces it, and
 * a token service that fails is forgotten and the registry's own challenge asked for. Only registries with a public record of their challenge are
 * listed; a wrong entry costs one token request, not a failure.
 */
import type { Challenge } from './challenge.js';
import { apiHost, canonicalRegistry } from '../ref/registry.js';

const PRESUMED: ReadonlyMap<string, Challenge> = new Map([
  // Docker's token authentication specification walks through this very challenge from
  // registry-1.docker.io (distribution/distribution, docs/spec/auth/token.md).
  ['docker.io', bearer('https://auth.docker.io/token', 'registry.docker.io')],
  // GHCR serves its realm on its own host: the exchange is logged in github/dependabot-action#131
  // (401 from ghcr.io, then GET https://ghcr.io/token?service=ghcr.io&scope=…).
  ['ghcr.io', bearer('https://ghcr.io/token', 'ghcr.io')],
]);

/**
 * Azure Container Registry serves each registry's realm on the registry itself, named after it:
 * `https://<name>.azurecr.io/oauth2/token`, service `<name>.azurecr.io` (Azure/acr,
 * docs/Token-BasicAuth.md, shows the 401 and the token GET). Anonymous pull is off unless a
 * registry's owner turns it on; there the presumed token costs the round trip it saves elsewhere.
 */
const ACR = /^[a-z0-9]+(?:-[a-z0-9]+)*\.azurecr\.io$/;

function bearer(realm: string, service: string): Challenge {
  return { scheme: 'bearer', params: { realm, service } };
}

/** The challenge `registry` is known to send, or undefined when it has to be asked. */
export function presumedChallenge(registry: string): Challenge | undefined {
  const host = canonicalRegistry(registry);
  const c = PRESUMED.get(host);
  if (c) return { scheme: c.scheme, params: { ...c.params } };
  if (ACR.test(host)) return bearer(`https://${host}/oauth2/token`, host);
  return undefined;
}

/** True when two challenges send a token request to the same place: same scheme, realm and service. */
export function sameTokenService(a: Challenge, b: Challenge): boolean {
  return a.scheme === b.scheme && a.params.realm === b.params.realm && (a.params.service ?? '') === (b.params.service ?? '');
}

/**
 * Aliyun Container Registry's regional API hosts, `registry.<region>.aliyuncs.com`: their 401s name
 * a realm on another host, `https://dockerauth.<region>.aliyuncs.com/auth` (a crane trace against
 * registry.cn-hangzhou.aliyuncs.com in kubernetes/minikube#13782 shows it).
 */
const ALIYUN_REGIONAL_API = /^registry\.([a-z0-9]+(?:-[a-z0-9]+)*)\.aliyuncs\.com$/;

/**
 * The token service's host for an API host whose realm is known in advance to live on another
 * host, else undefined. Only hosts with a public record of their challenge are listed: a realm on
 * the registry's own host (GHCR, ACR, Artifact Registry, Quay, Harbor) needs no entry, and a wrong
 * entry would only cost an unused connection, since the 401's realm is what tokens are asked from.
 * A presumed challenge's realm counts (Docker Hub's `https://auth.docker.io/token`, another host
 * than the API's registry-1.docker.io, so its first token costs a connection of its own); only the
 * host requests go to is asked about: "docker.io" is a reference's name for Docker Hub, not a host
 * regpush connects to.
 */
export function knownTokenHost(apiHostName: string): string | undefined {
  const host = apiHostName.toLowerCase();
  if (host !== apiHost(host)) return undefined;
  const realm = presumedChallenge(host)?.params.realm;
  if (realm !== undefined) {
    const realmHost = new URL(realm).host;
    return realmHost === host ? undefined : realmHost;
  }
  const aliyun = ALIYUN_REGIONAL_API.exec(host);
  if (aliyun) return `dockerauth.${aliyun[1]}.aliyuncs.com`;
  return undefined;
}
