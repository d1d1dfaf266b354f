/**
 * Proxy choice from the usual variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, lower-case too), read
 * from the env the caller passes — never from process.env. Loopback hosts are never proxied, as
 * Go's net/http (and so docker, skopeo and crane) does for localhost and loopback addresses; what
 * counts as loopback (names under .localhost too) is src/ref/registry.ts's one answer, the same
 * one the endpoint and token-realm checks use. Pure, and apart from the proxy agents (proxy.ts),
 * so that the CLI's launcher can ask it before anything else has loaded (early-connect.ts).
 */
import { isLoopbackHost } from '../ref/registry.js';

/** Proxy settings, as read from an environment. */
export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
}

/** Reads proxy settings from `env` (upper-case wins over lower-case). */
export function proxySettingsFromEnv(env: Record<string, string | undefined>): ProxySettings {
  const pick = (name: string) => env[name] || env[name.toLowerCase()] || undefined;
  return { httpProxy: pick('HTTP_PROXY'), httpsProxy: pick('HTTPS_PROXY'), noProxy: pick('NO_PROXY') };
}

/** True when NO_PROXY (or loopback) says `url` goes direct. */
export function bypassesProxy(url: URL, noProxy: string | undefined): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (isLoopbackHost(host)) return true;
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const raw of (noProxy ?? '').split(/[,\s]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    const m = /^(.*?)(?::(\d+))?$/.exec(entry.replace(/^\[|\]$/g, ''))!;
    const name = m[1]!.replace(/^\*?\./, '.');
    if (m[2] && m[2] !== port) continue;
    if (host === name.replace(/^\./, '') || (name.startsWith('.') ? host.endsWith(name) : host.endsWith('.' + name))) return true;
  }
  return false;
}

/** The proxy URL for `url`, or undefined to go direct. */
export function proxyFor(url: URL, s: ProxySettings): string | undefined {
  const proxy = url.protocol === 'https:' ? s.httpsProxy : s.httpProxy;
  if (!proxy || bypassesProxy(url, s.noProxy)) return undefined;
  return proxy;
}
