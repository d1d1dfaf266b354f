/**
 * Proxy choice from the usual variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, lower-case too), read
 * from the env the caller passes — never from process.env. Loopback hosts are never proxied, as
 * Go's net/http (and so docker, skopeo and crane) does for localhost and loopback addresses; what
 * counts as loopback (names under .localhost too) is src/ref/registry.ts's one answer, the same
 * one the endpoint and token-realm checks use. HTTPS goes through the proxy with
 * CONNECT (https-proxy-agent), plain HTTP with absolute-URI requests (http-proxy-agent).
 */
import type { Agent, ClientRequest } from 'node:http';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { isLoopbackHost } from '../ref/registry.js';
import { tlsConnectOptions, type TlsSettings } from './tls.js';

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

/**
 * A CONNECT agent whose TLS session inside the tunnel carries the registry host's settings.
 * https-proxy-agent upgrades the tunnel with the request's own options only (what it is constructed
 * with goes to the connection to the proxy itself), so they are added to each connect here.
 */
class TunnelAgent extends HttpsProxyAgent<string> {
  constructor(
    proxy: string,
    private readonly tls: ReturnType<typeof tlsConnectOptions>,
  ) {
    super(proxy, { keepAlive: true });
  }

  override connect(req: ClientRequest, opts: Parameters<HttpsProxyAgent<string>['connect']>[1]): ReturnType<HttpsProxyAgent<string>['connect']> {
    return super.connect(req, { ...opts, ...this.tls });
  }
}

/**
 * Caches one keep-alive proxy agent per proxy URL, scheme and TLS settings: a CONNECT tunnel's
 * TLS session is with the registry, so it uses the registry host's CA, client certificate and
 * verification.
 */
export class ProxyAgents {
  private readonly agents = new Map<string, Agent>();
  constructor(private readonly settings: ProxySettings) {}

  /** The agent for `url`, or undefined when it goes direct. */
  agentFor(url: URL, tls?: TlsSettings): Agent | undefined {
    const proxy = proxyFor(url, this.settings);
    if (!proxy) return undefined;
    const key = `${url.protocol}${proxy}${tls ? `|${tls.id}` : ''}`;
    let agent = this.agents.get(key);
    if (!agent) {
      agent = url.protocol === 'https:' ? new TunnelAgent(proxy, tlsConnectOptions(tls)) : new HttpProxyAgent(proxy, { keepAlive: true });
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** Closes idle proxy sockets. */
  destroy(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}

