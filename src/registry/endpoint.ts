/** Where a registry's API lives: scheme and host. Plain HTTP only for loopback or hosts named insecure. */
import { apiHost, isLoopbackHost } from '../ref/reference.js';

/** Scheme and base URL of one registry's Distribution API. */
export interface Endpoint {
  /** Canonical registry name as in references ("docker.io", "127.0.0.1:5000"). */
  registry: string;
  scheme: 'http' | 'https';
  /** e.g. "https://registry-1.docker.io/v2/". */
  base: string;
}

/** Parses REGPUSH_INSECURE_REGISTRIES-style lists ("a:5000, b") into host[:port] entries. */
export function parseInsecureList(value: string | undefined): string[] {
  return (value ?? '')
    .split(/[,\s]+/)
    .map((s) => s.trim().replace(/^https?:\/\//, '').replace(/\/+$/, ''))
    .filter(Boolean);
}

/** Resolves a registry name to its endpoint; `insecure` lists host[:port] entries allowed over http. */
export function endpointFor(registry: string, insecure: readonly string[] = []): Endpoint {
  const host = apiHost(registry);
  const hostOnly = host.replace(/:\d+$/, '');
  const plain = isLoopbackHost(host) || insecure.includes(host) || insecure.includes(registry) || insecure.includes(hostOnly);
  const scheme = plain ? 'http' : 'https';
  return { registry, scheme, base: `${scheme}://${host}/v2/` };
}
