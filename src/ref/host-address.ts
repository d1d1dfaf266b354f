/**
 * Host addresses, pure: which hosts never leave the machine (isLoopbackHost), which entry of a
 * host list names a registry (hostEntryFor, with Docker's CIDR ranges), and the IPv4/IPv6 literal
 * parsing those need. Registry names themselves (spelling, Docker Hub) are registry.ts's.
 */
import { canonicalRegistry } from './registry.js';

/**
 * True for hosts that never leave the machine, with or without a port: "localhost" and any name
 * under it ("app.localhost", which RFC 6761 §6.3 reserves for loopback), 127.0.0.0/8, and ::1 in
 * any spelling (also as the IPv4-mapped ::ffff:127.x.y.z). These are the hosts where plain HTTP is
 * allowed without being named insecure, an http token realm is no downgrade, and a proxy is never
 * used. Accepts "host", "host:port", "[v6]", "[v6]:port" and a bare IPv6 literal.
 */
export function isLoopbackHost(registry: string): boolean {
  const host = hostWithoutPort(registry.toLowerCase());
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const v4 = ipv4Octets(host);
  if (v4) return v4[0] === 127;
  const v6 = ipv6Groups(host);
  if (!v6) return false;
  if (v6.slice(0, 7).every((g) => g === 0) && v6[7] === 1) return true;
  // IPv4-mapped (::ffff:a.b.c.d): loopback when the mapped address is.
  return v6.slice(0, 5).every((g) => g === 0) && v6[5] === 0xffff && v6[6]! >> 8 === 127;
}

/**
 * The entry of `entries` (registry hosts as users write them, host[:port]) that names `host`: the
 * same host and port, else the host written without a port, which covers every port of it. The
 * one rule for every list naming registries by host: --insecure-registry and
 * REGPUSH_INSECURE_REGISTRIES, registries.conf's `insecure = true` hosts (containers/image's prefix
 * match lets `example.com` cover `example.com:5000`, sysregistriesv2 refMatchingPrefix) and
 * --tls-verify HOST=false; so the scheme choice and the TLS verification of a host never disagree.
 * Names are compared in canonical spelling ("Reg.Example.com:5000", "index.docker.io"); an entry
 * that is a bare IPv6 address ("fd00::2") is that address in brackets (bracketBareIpv6).
 */
export function hostEntryFor(entries: readonly string[], host: string): string | undefined {
  const want = canonicalRegistry(bracketBareIpv6(host));
  const bare = withoutPort(want);
  const key = (e: string) => canonicalRegistry(bracketBareIpv6(e));
  return (
    entries.find((e) => key(e) === want) ??
    (bare === want ? undefined : entries.find((e) => key(e) === bare)) ??
    entries.find((e) => e.includes('/') && inCidr(e, hostWithoutPort(want)))
  );
}

/**
 * A bare IPv6 address ("fd00::2", as a user may write it in --insecure-registry, --tls-verify or
 * --ca-cert) in the brackets a registry name gives it ("[fd00::2]"); anything else unchanged. A
 * registry name holds an IPv6 address only in brackets, so unbracketed it matched nothing. The
 * whole text is read as the address: "fd00::1:5000" is the address fd00::1:5000 (a port goes after
 * the brackets: "[fd00::1]:5000"), as every colon-separated group of an IPv6 literal may be one.
 */
export function bracketBareIpv6(value: string): string {
  return ipv6Groups(value.toLowerCase()) ? `[${value}]` : value;
}

/**
 * Whether the IP address `host` lies in the range `cidr` ("10.0.0.0/8", "fd00::/8"), as Docker's
 * `insecure-registries` takes ranges (a daemon.json copied over keeps working). Only a registry
 * named by its address matches: Docker also resolves a name and checks its addresses, which a
 * synchronous match cannot do, and a name that happens to resolve there would not be the one the
 * user wrote.
 */
export function inCidr(cidr: string, host: string): boolean {
  const slash = cidr.indexOf('/');
  const prefix = Number(cidr.slice(slash + 1));
  const net = addressBits(cidr.slice(0, slash).toLowerCase());
  const ip = addressBits(host.toLowerCase());
  if (!net || !ip || net.length !== ip.length || !Number.isInteger(prefix) || prefix < 0 || prefix > net.length) return false;
  return net.slice(0, prefix) === ip.slice(0, prefix);
}

/** An IPv4 (32) or IPv6 (128) address as a string of bits, or undefined. */
function addressBits(host: string): string | undefined {
  const groups = ipv4Octets(host)?.map((o) => o.toString(2).padStart(8, '0')) ?? ipv6Groups(host)?.map((g) => g.toString(2).padStart(16, '0'));
  return groups?.join('');
}

/**
 * The host part of a registry name, lower case, without its ":port": "Reg.Example.com:5000" →
 * "reg.example.com", "[::1]:5000" → "[::1]" (brackets kept, so it is still a valid host); a bare
 * IPv6 literal (several ":" and no brackets) is returned whole.
 */
export function withoutPort(registry: string): string {
  const host = registry.toLowerCase();
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    return close < 0 ? host : host.slice(0, close + 1);
  }
  return host.split(':').length === 2 ? host.slice(0, host.indexOf(':')) : host;
}

/**
 * Drops a ":port" suffix and IPv6 brackets; a bare IPv6 literal (several ":") is returned whole.
 * Not withoutPort: this one gives the address itself ("[::1]:5000" → "::1"), what ipv4Octets,
 * ipv6Groups and inCidr parse, where withoutPort keeps the brackets ("[::1]") to give a registry
 * name that entries are compared with (hostEntryFor uses both); and this one leaves case alone,
 * its callers having lower-cased the name already.
 */
function hostWithoutPort(registry: string): string {
  if (registry.startsWith('[')) {
    const close = registry.indexOf(']');
    return close < 0 ? registry : registry.slice(1, close);
  }
  const colons = registry.split(':').length - 1;
  return colons === 1 ? registry.slice(0, registry.indexOf(':')) : registry;
}

/** The four octets of a dotted-quad IPv4 address, or undefined when `host` is not one. */
function ipv4Octets(host: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  return octets.every((o) => o <= 255) ? octets : undefined;
}

/** The eight 16-bit groups of an IPv6 literal ("::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"), or undefined. */
function ipv6Groups(host: string): number[] | undefined {
  if (!host.includes(':') || !/^[0-9a-f:.]+$/.test(host)) return undefined;
  let text = host;
  let tail: number[] = [];
  // A dotted IPv4 address may stand for the last two groups.
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = ipv4Octets(last);
    if (!v4) return undefined;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const split = (s: string) => (s === '' ? [] : s.split(':'));
  const head = split(halves[0]!);
  const rest = halves.length === 2 ? split(halves[1]!) : [];
  if ([...head, ...rest].some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  const explicit = head.length + rest.length + tail.length;
  // "::" stands for at least one zero group; without it all eight must be written.
  const fill = halves.length === 2 ? 8 - explicit : 0;
  if (halves.length === 2 ? fill < 1 : explicit !== 8) return undefined;
  return [...head, ...Array<string>(fill).fill('0'), ...rest].map((g) => parseInt(g, 16)).concat(tail);
}
