/** Where a registry's API lives: scheme and host. Plain HTTP only for hosts named insecure, or loopback hosts that do not speak TLS. */
import { apiHost, canonicalRegistry, isLoopbackHost, withoutPort } from '../ref/registry.js';

/** Scheme and base URL of one registry's Distribution API. */
export interface Endpoint {
  /** Canonical registry name as in references ("docker.io", "127.0.0.1:5000"). */
  registry: string;
  /** 'auto' for loopback hosts: https when the server speaks TLS, else http (as Docker does). */
  scheme: 'http' | 'https' | 'auto';
  /** API host[:port], e.g. "registry-1.docker.io". */
  host: string;
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
  const hostOnly = withoutPort(host);
  // Entries are compared in canonical spelling, so "Reg.Example.com:5000" or "index.docker.io" match too.
  const listed = new Set(insecure.map(canonicalRegistry));
  const named = [host, registry, hostOnly].some((h) => listed.has(canonicalRegistry(h)));
  const scheme = named ? 'http' : isLoopbackHost(host) ? 'auto' : 'https';
  return { registry, scheme, host };
}
