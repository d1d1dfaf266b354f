/**
 * Proxy choice from the usual variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, lower-case too), read
 * from the env the caller passes — never from process.env. Loopback hosts are never proxied, as
 * Go's net/http (and so docker, skopeo and crane) does for localhost and loopback addresses; what
 * counts as loopback (names under .localhost too) is src/ref/host-address.ts's one answer, the same
 * one the endpoint and token-realm checks use. Pure, and apart from the proxy agents (proxy.ts),
 * so that the CLI's launcher can ask it before anything else has loaded (early-connect.ts). A
 * proxy URL's userinfo is read here too: what of the URL may be printed (redactProxyUrl) and the
 * password the run's SecretSet must hide (proxyPasswords).
 */
import { BlockList, isIP } from 'node:net';
import { isLoopbackHost } from '../ref/host-address.js';
import { redactTyped } from '../redact.js';

/** Proxy settings, as read from an environment (proxySettingsFromEnv): each proxy with its scheme. */
export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
  /** The variable httpProxy was read from, for errors to name (`http_proxy`); HTTP_PROXY when absent. */
  httpProxyVariable?: string;
  /** The variable httpsProxy was read from (`https_proxy`); HTTPS_PROXY when absent. */
  httpsProxyVariable?: string;
}

/** Reads proxy settings from `env` (upper-case wins over lower-case), noting which variable each proxy came from. */
export function proxySettingsFromEnv(env: Record<string, string | undefined>): ProxySettings {
  const from = (name: string) => (env[name] ? name : env[name.toLowerCase()] ? name.toLowerCase() : undefined);
  const pick = (name: string) => {
    const v = from(name);
    return v === undefined ? undefined : env[v];
  };
  const proxy = (name: string) => withScheme(pick(name));
  return {
    httpProxy: proxy('HTTP_PROXY'),
    httpsProxy: proxy('HTTPS_PROXY'),
    noProxy: pick('NO_PROXY'),
    ...(from('HTTP_PROXY') ? { httpProxyVariable: from('HTTP_PROXY') } : {}),
    ...(from('HTTPS_PROXY') ? { httpsProxyVariable: from('HTTPS_PROXY') } : {}),
  };
}

/**
 * The proxy keys set in a daemon.json's `proxies` object (Docker 23 and later: `http-proxy`,
 * `https-proxy`, `no-proxy`), which regpush does not apply: they set up dockerd's own connections,
 * and regpush's proxies come from its environment alone (proxySettingsFromEnv), the setting made
 * for the run. What a warning names, never their values (a proxy URL may hold a password).
 */
export function daemonJsonProxyKeys(daemonJson: Readonly<Record<string, unknown>>): string[] {
  const p = daemonJson.proxies;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return [];
  return ['http-proxy', 'https-proxy', 'no-proxy'].filter((k) => typeof (p as Record<string, unknown>)[k] === 'string' && ((p as Record<string, string>)[k] ?? '').trim() !== '');
}

/** The variable the proxy for `url`'s scheme is read from, as it was set (`https_proxy` when only that one is). */
export function proxyVariable(url: URL | string, s: ProxySettings): string {
  const https = (typeof url === 'string' ? url : url.protocol).startsWith('https:');
  return (https ? s.httpsProxyVariable : s.httpProxyVariable) ?? (https ? 'HTTPS_PROXY' : 'HTTP_PROXY');
}

/**
 * A value without a scheme (`proxy.corp:3128`, `user:pw@proxy.corp:3128`) is an http:// proxy, as
 * Go reads HTTP_PROXY/HTTPS_PROXY (golang.org/x/net/http/httpproxy: a "host[:port]" is taken as
 * http, by parsing "http://" + the value; so Docker, skopeo, crane) and as curl does (http is its
 * default proxy scheme); corporate machines set them so. Done here, where the settings are read,
 * and nowhere else: proxyFor, proxyPasswords, the agents, the error lines and --debug all see the
 * value with its scheme. A value that has one (`socks5://`) keeps it, for the agents to refuse.
 */
function withScheme(v: string | undefined): string | undefined {
  return v === undefined || /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `http://${v}`;
}

/** One NO_PROXY entry: a name with an optional port, or addresses (one IP with an optional port, or a range). */
type NoProxyEntry = { kind: 'name'; name: string; port?: string } | { kind: 'ip'; list: BlockList; port?: string };

/** 'ipv4' or 'ipv6' for an address, undefined for a name. */
function ipFamily(s: string): 'ipv4' | 'ipv6' | undefined {
  const f = isIP(s);
  return f === 4 ? 'ipv4' : f === 6 ? 'ipv6' : undefined;
}

function parseNoProxyEntry(entry: string): NoProxyEntry | undefined {
  const slash = entry.indexOf('/');
  if (slash >= 0) {
    // A CIDR range (10.0.0.0/8, fd00::/8), as Go's httpproxy honours them.
    const addr = entry.slice(0, slash);
    const bits = Number(entry.slice(slash + 1));
    const family = ipFamily(addr);
    if (!family || !Number.isInteger(bits) || bits < 0 || bits > (family === 'ipv4' ? 32 : 128)) return undefined;
    const list = new BlockList();
    list.addSubnet(addr, bits, family);
    return { kind: 'ip', list };
  }
  // [v6]:port, a bare IPv6 address (no port), or name-or-IPv4 with an optional :port.
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? (ipFamily(entry) === 'ipv6' ? [entry, entry] : /^(.*?)(?::(\d+))?$/.exec(entry)!);
  const name = m[1]!;
  const port = m[2];
  const family = ipFamily(name);
  if (!family) return { kind: 'name', name, port };
  // An address matches the same address only, however it is spelled (::1 and 0:0:0:0:0:0:0:1 are one).
  const list = new BlockList();
  list.addAddress(name, family);
  return { kind: 'ip', list, port };
}

/** True when NO_PROXY (or loopback) says `url` goes direct. */
export function bypassesProxy(url: URL, noProxy: string | undefined): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (isLoopbackHost(host)) return true;
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const hostFamily = ipFamily(host);
  for (const raw of (noProxy ?? '').split(/[,\s]+/)) {
    const text = raw.trim().toLowerCase();
    if (!text) continue;
    if (text === '*') return true;
    const entry = parseNoProxyEntry(text);
    if (!entry || (entry.port && entry.port !== port)) continue;
    if (entry.kind === 'ip') {
      if (hostFamily && entry.list.check(host, hostFamily)) return true;
      continue;
    }
    if (hostFamily) continue; // a name never matches an address
    // Go's rule (golang.org/x/net/http/httpproxy): `y.com` matches y.com and its subdomains,
    // `.y.com` and `*.y.com` its subdomains only (curl would match y.com too).
    const name = entry.name.replace(/^\*?\./, '.');
    if (name.startsWith('.') ? host.endsWith(name) : host === name || host.endsWith('.' + name)) return true;
  }
  return false;
}

/** The proxy URL for `url`, or undefined to go direct. */
export function proxyFor(url: URL, s: ProxySettings): string | undefined {
  const proxy = url.protocol === 'https:' ? s.httpsProxy : s.httpProxy;
  if (!proxy || bypassesProxy(url, s.noProxy)) return undefined;
  return proxy;
}

/**
 * A proxy URL's userinfo (what its password is read from). A proxy URL has no path worth showing, so its last
 * '@' anywhere ends the userinfo: a password typed with a bare '/', '?' or '#'
 * (http://bob:12/3@proxy:3128) would pass redactUrl, which takes the first '/' for the end of the
 * authority, and the URL parser would not see it as a password at all.
 */
function proxyUserinfo(proxy: string): string | undefined {
  return /^\w+:\/\/(.*)@/s.exec(proxy)?.[1];
}

/**
 * A proxy URL (HTTPS_PROXY, HTTP_PROXY) as it may be printed: everything up to its last '@' goes,
 * as for any value typed where a URL goes (redactTyped), a scheme-less `user:pw@proxy:3128` too.
 */
export function redactProxyUrl(proxy: string): string {
  return redactTyped(proxy);
}

/** The password of a proxy URL, as typed and as decoded (what the proxy gets), for the run's SecretSet; none without one. */
export function proxyPasswords(proxy: string | undefined): string[] {
  const userinfo = proxy ? proxyUserinfo(proxy) : undefined;
  const colon = userinfo?.indexOf(':') ?? -1;
  if (!userinfo || colon < 0) return [];
  const raw = userinfo.slice(colon + 1);
  try {
    return [raw, decodeURIComponent(raw)];
  } catch {
    return [raw];
  }
}
