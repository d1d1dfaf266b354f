/**
 * Where a registry's API lives: scheme and host. Plain HTTP only for hosts named insecure, loopback
 * hosts that do not speak TLS, and hosts named insecure-TLS (registries.conf's insecure = true) that
 * do not speak TLS.
 */
import { apiHost } from '../ref/registry.js';
import { HOST } from '../ref/grammar.js';
import { bracketBareIpv6, hostEntryFor, inCidr, isLoopbackHost } from '../ref/host-address.js';

/** Scheme and base URL of one registry's Distribution API. */
export interface Endpoint {
  /** Canonical registry name as in references ("docker.io", "127.0.0.1:5000"). */
  registry: string;
  /**
   * 'auto' for loopback hosts and insecure-TLS hosts: https when the server speaks TLS, else http
   * (as Docker does for loopback, and containers/image for `insecure = true`).
   */
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

/** What an insecure entry may be, as the messages refusing another word it. */
export const INSECURE_ENTRY_FORM = 'a registry (host[:port]) or address range (10.0.0.0/8)';

/**
 * Whether one entry of an insecure list (parseInsecureList's, or daemon.json's `insecure-registries`
 * with its scheme dropped) can name a registry: a host[:port], a bare IPv6 address, or an address
 * range. Anything else (`reg:5000/library`: a registry has no path) never matches one, and the
 * failure it leads to would advise adding the very entry.
 */
export function isInsecureEntry(entry: string): boolean {
  const slash = entry.indexOf('/');
  return slash >= 0 ? inCidr(entry, entry.slice(0, slash)) : entry !== '' && HOST.test(bracketBareIpv6(entry));
}

/**
 * The first entry of one insecure-list value, read as parseInsecureList reads it (a comma list,
 * `http://` dropped), that can name no registry (isInsecureEntry), or the value itself where it
 * holds no entry at all (`""`, `","`); undefined when every entry can. The one check of
 * --insecure-registry's values and of the library's insecureRegistries (connection-shape.ts).
 */
export function unusableInsecureEntry(value: string): string | undefined {
  const entries = parseInsecureList(value);
  return (entries.length ? entries : [value]).find((entry) => !isInsecureEntry(entry));
}

/**
 * Resolves a registry name to its endpoint; `insecure` lists host[:port] entries allowed over http
 * only, `insecureTls` those tried over TLS (verification off, set in the TLS options) then http.
 */
export function endpointFor(registry: string, insecure: readonly string[] = [], insecureTls: readonly string[] = []): Endpoint {
  const host = apiHost(registry);
  // One matching rule with the TLS side (tls.ts): an entry without a port covers every port of its host.
  const named = (list: readonly string[]) => [host, registry].some((h) => hostEntryFor(list, h) !== undefined);
  const scheme = named(insecure) ? 'http' : isLoopbackHost(host) || named(insecureTls) ? 'auto' : 'https';
  return { registry, scheme, host };
}
