/**
 * Proxy choice from the usual variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, lower-case too), read
 * from the env the caller passes — never from process.env — or, for the CLI, from a daemon.json's
 * `proxies` when they give a proxy (runProxySettings). Loopback hosts are never proxied, as
 * Go's net/http (and so docker, skopeo and crane) does for localhost and loopback addresses; what
 * counts as loopback (names under .localhost too) is src/ref/host-address.ts's one answer, the same
 * one the endpoint and token-realm checks use. Pure, and apart from the proxy agents (proxy.ts),
 * so that the CLI's launcher can ask it before anything else has loaded (early-connect.ts). A
 * proxy URL's userinfo is read here too: what of the URL may be printed (redactProxyUrl) and the
 * password the run's SecretSet must hide (proxyPasswords).
 */
import { BlockList, isIP } from 'node:net';
import { isLoopbackHost } from '../ref/host-address.js';
import { InputError } from '../errors.js';
import { redactTyped } from '../redact.js';

/**
 * Proxy settings, as read from an environment (proxySettingsFromEnv) or from a daemon.json's
 * `proxies` (proxySettingsFromDaemonJson): each proxy with its scheme, and the NO_PROXY list read
 * from the same place, never from the other (runProxySettings).
 */
export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
  /** The variable httpProxy was read from, for errors to name (`http_proxy`); HTTP_PROXY when absent. */
  httpProxyVariable?: string;
  /** The variable httpsProxy was read from (`https_proxy`); HTTPS_PROXY when absent. */
  httpsProxyVariable?: string;
  /** The daemon.json all three were read from (its `proxies` object), for errors to name instead of the variables. */
  file?: string;
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

/** The keys of daemon.json's `proxies` object (Docker 23 and later), as dockerd reads them. */
const DAEMON_JSON_PROXY_KEYS = { httpProxy: 'http-proxy', httpsProxy: 'https-proxy', noProxy: 'no-proxy' } as const;

/**
 * The proxy settings of a daemon.json's `proxies` object (`http-proxy`, `https-proxy`,
 * `no-proxy`), undefined when it sets none (an empty value is not set, as dockerd skips one).
 * A proxy without a scheme is http://, as dockerd's Go reads the variable it sets from it
 * (withScheme). A value dockerd would not start with (not a string, `proxies` not an object) or
 * regpush cannot use (not an http:// or https:// URL) is E_INPUT naming the file and the key,
 * never the value's credentials.
 */
export function proxySettingsFromDaemonJson(daemonJson: Readonly<Record<string, unknown>>, file: string): ProxySettings | undefined {
  const p = daemonJson.proxies;
  if (p === undefined || p === null) return undefined; // JSON null: not set, as Go's decoder leaves it
  if (typeof p !== 'object' || Array.isArray(p)) throw new InputError(`${file}: "proxies" must be an object (http-proxy, https-proxy, no-proxy)`, { details: { file } });
  const out: ProxySettings = {};
  for (const [field, key] of Object.entries(DAEMON_JSON_PROXY_KEYS) as [keyof typeof DAEMON_JSON_PROXY_KEYS, string][]) {
    const v = (p as Record<string, unknown>)[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw new InputError(`proxies.${key} in ${file}: must be a string`, { details: { file } });
    if (v.trim() === '') continue;
    if (field === 'noProxy') {
      out.noProxy = v;
      continue;
    }
    const proxy = withScheme(v.trim())!;
    const fault = proxyUrlFault(proxy);
    if (fault) throw new InputError(`proxies.${key} in ${file}: ${fault}`, { details: { file } });
    out[field] = proxy;
  }
  return Object.keys(out).length ? { ...out, file } : undefined;
}

/**
 * The run's proxy settings: daemon.json's when its `proxies` give a proxy, else the environment's.
 * dockerd lets its configuration win over the variables it starts with ("Configuring the daemon
 * directly takes precedence over environment variables", docs.docker.com/engine/daemon/proxy/),
 * one variable at a time (moby's cmd/dockerd configureProxyEnv), which can pair the file's proxy
 * with the environment's NO_PROXY. Here the winner's settings are taken whole: a NO_PROXY list is
 * only ever used with the proxies written beside it, so the file's `no-proxy` never exempts hosts
 * from the environment's proxy, nor the reverse. A file that gives `no-proxy` alone gives no
 * proxy: the environment's settings stand, its NO_PROXY with them.
 */
export function runProxySettings(env: Record<string, string | undefined>, daemonJson: ProxySettings | undefined): ProxySettings {
  if (daemonJson && (daemonJson.httpProxy !== undefined || daemonJson.httpsProxy !== undefined)) return daemonJson;
  return proxySettingsFromEnv(env);
}

/** Where the proxy for `url`'s scheme is set, for errors to name: its variable as it was set (`https_proxy` when only that one is), or its daemon.json key. */
export function proxyOrigin(url: URL | string, s: ProxySettings): string {
  const https = (typeof url === 'string' ? url : url.protocol).startsWith('https:');
  if (s.file !== undefined) return `proxies.${https ? 'https-proxy' : 'http-proxy'} in ${s.file}`;
  return (https ? s.httpsProxyVariable : s.httpProxyVariable) ?? (https ? 'HTTPS_PROXY' : 'HTTP_PROXY');
}

/** The settings a failure through the proxy for `url` advises checking: the proxy's and the NO_PROXY list read with it. */
export function proxySettingNames(url: URL | string, s: ProxySettings): string {
  return s.file !== undefined ? `"proxies" in ${s.file}` : `${proxyOrigin(url, s)}, NO_PROXY`;
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

/**
 * What is wrong with a proxy URL, worded to follow where it is set (`HTTPS_PROXY: …`); undefined
 * when the agents can use it. Only HTTP proxies are spoken (proxy.ts): a SOCKS proxy (socks5://,
 * which Go's tools accept) would otherwise get an HTTP CONNECT and end with a connection error that
 * does not say why. A scheme is what comes before '://'; a value read without one has http:// by
 * now (withScheme), and only settings built by hand arrive without one. The agents parse the URL
 * and would throw a bare "Invalid URL" (a port over 65535, a space in the host), naming neither
 * the setting nor the value. Never shows the credentials in it (redactProxyUrl).
 */
export function proxyUrlFault(proxy: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(proxy)?.[1]?.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') {
    return `the proxy ${redactProxyUrl(proxy)} is not an HTTP proxy (${scheme ?? 'no'} scheme); regpush speaks to HTTP proxies only (http:// or https://)`;
  }
  const unencoded = unencodedUserinfo(proxy);
  if (unencoded) {
    return (
      `the ${unencoded} in ${redactProxyUrl(proxy)} must be percent-encoded: ` +
      "a '/', '?', '#', '\\' or '%' in it is read as part of the URL (write them %2F, %3F, %23, %5C, %25)"
    );
  }
  if (!URL.canParse(proxy)) return `${redactProxyUrl(proxy)} is not a valid proxy URL; give it as http://[USER:PASSWORD@]HOST:PORT`;
  return undefined;
}

/** Characters that may stand in a URL's userinfo as they are; ':' separates the user from the password. */
const USERINFO_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:]/;

/**
 * 'password' or 'user name' when `proxy` has userinfo that does not read as typed: a '/', '?',
 * '#' or backslash in it ends the host part early (`http://u:pa/ss@proxy:3128` is the host "u" with
 * port "pa", which does not parse; `http://u:px p@ss/word@proxy:3128` the host "ss"), and a '%'
 * not starting an escape makes the agents' decoding of the credentials throw. The proxy the URL
 * names is then not the one meant, or there is none; what is printed must not show the secret,
 * so the error says which part needs encoding rather than what it reads as. Undefined when the
 * URL reads as meant, or has another fault (a bad port), which the URL check then reports.
 */
function unencodedUserinfo(proxy: string): 'password' | 'user name' | undefined {
  // Up to the last '@', as redactProxyUrl reads it: a bare '@' in a password is not the problem
  // (URL parsers take the last '@' of the host part).
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)@([^@]*)$/is.exec(proxy);
  if (!m) return undefined;
  const [, scheme, userinfo, rest] = m as unknown as [string, string, string, string];
  const badEscape = /%(?![0-9A-Fa-f]{2})/;
  let meant: string;
  try {
    const encoded = [...userinfo].map((c) => (USERINFO_SAFE.test(c) || c === '%' ? c : encodeURIComponent(c))).join('');
    meant = `${scheme}${encoded.replace(/%(?![0-9A-Fa-f]{2})/g, '%25')}@${rest}`;
  } catch {
    return undefined; // a lone surrogate: not a URL anyone meant
  }
  if (!URL.canParse(meant)) return undefined;
  if (!badEscape.test(userinfo) && URL.canParse(proxy) && new URL(proxy).host === new URL(meant).host) return undefined;
  const colon = userinfo.indexOf(':');
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
  return /[/?#\\]/.test(user) || badEscape.test(user) ? 'user name' : 'password';
}
