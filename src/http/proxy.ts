/**
 * The agents that reach a registry through a proxy: HTTPS with CONNECT (https-proxy-agent), plain
 * HTTP with absolute-URI requests (http-proxy-agent). Which URL goes through which proxy is
 * proxy-choice.ts's answer.
 */
import type { Agent, ClientRequest } from 'node:http';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { UsageError } from '../errors.js';
import { proxyFor, proxyVariable, redactProxyUrl, type ProxySettings } from './proxy-choice.js';
import { tlsConnectOptions, type TlsSettings } from './tls.js';

/** The proxy a request goes through, and the variable it was read from (`HTTPS_PROXY`, or `https_proxy` when that is the one set). */
export interface ProxyUse {
  url: string;
  variable: string;
}

/**
 * Set on an error of the connection to the proxy itself (reaching it, its TLS, its answer to
 * CONNECT), as opposed to one of the TLS session with the registry inside the tunnel: a TLS
 * failure there is the proxy's, and the registry's settings cannot fix it.
 */
export const PROXY_LEG = Symbol('regpush.proxyLeg');

/**
 * The request option that carries a request's abort signal to the tunnel agent (Node passes a
 * request's options on to its agent, all but `signal`). The transport aborts it when the
 * request is interrupted or its idle clock runs out.
 */
export const TUNNEL_SIGNAL = Symbol('regpush.tunnelSignal');

/**
 * A CONNECT agent whose TLS session inside the tunnel carries the registry host's settings.
 * https-proxy-agent upgrades the tunnel with the request's own options only (what it is constructed
 * with goes to the connection to the proxy itself), so they are added to each connect here.
 */
class TunnelAgent extends HttpsProxyAgent<string> {
  /** One per CONNECT still waiting for the proxy's answer: aborting it destroys the socket to the proxy. */
  private readonly pending = new Set<AbortController>();

  constructor(
    proxy: string,
    private readonly tls: ReturnType<typeof tlsConnectOptions>,
    proxyTls: ReturnType<typeof tlsConnectOptions>,
  ) {
    // What it is constructed with is for the connection to the proxy: its TLS, for an https:// one.
    super(proxy, { keepAlive: true, noDelay: true, ...proxyTls });
  }

  override async connect(req: ClientRequest, opts: Parameters<HttpsProxyAgent<string>['connect']>[1]): ReturnType<HttpsProxyAgent<string>['connect']> {
    // Until the proxy answers CONNECT, the socket to it is https-proxy-agent's alone: the request
    // has none, so destroying the request (an interruption, the transport's idle clock) leaves it
    // open, waiting on a proxy that may never answer, and the process cannot exit. A signal in
    // the options it connects with (net.connect and tls.connect honour one) is the handle on it:
    // set for this call only, which creates the socket before its first await.
    const signal = (opts as { [TUNNEL_SIGNAL]?: AbortSignal })[TUNNEL_SIGNAL];
    signal?.throwIfAborted();
    const pending = new AbortController();
    const stop = () => pending.abort(signal?.reason);
    signal?.addEventListener('abort', stop, { once: true });
    this.pending.add(pending);
    const base = this.connectOpts;
    this.connectOpts = { ...base, signal: pending.signal };
    // https-proxy-agent starts the TLS session inside the tunnel without `host`, and with a
    // `servername` for a DNS name only (SNI carries no IP address), so for a registry named by
    // its IP address Node checked the certificate against "localhost" (its fallback name):
    // a registry's certificate for its address failed, one for localhost passed. The check is
    // made here against the registry's host, whichever it is, as a direct connection makes it.
    const host = String(opts.host).replace(/^\[|\]$/g, '');
    const identity = (_name: string, cert: PeerCertificate) => checkServerIdentity(host, cert);
    try {
      const tunnel = super.connect(req, { ...opts, ...this.tls, checkServerIdentity: identity } as typeof opts);
      this.connectOpts = base;
      try {
        return await tunnel;
      } catch (err) {
        // Until the tunnel is there, every failure is the proxy connection's (the registry's TLS
        // session starts only after the proxy's 200, and fails later, on the socket returned).
        if (err && typeof err === 'object') (err as { [PROXY_LEG]?: boolean })[PROXY_LEG] = true;
        throw err;
      }
    } finally {
      this.connectOpts = base;
      signal?.removeEventListener('abort', stop);
      this.pending.delete(pending);
    }
  }

  /** Closes idle tunnels, and the connections to the proxy of CONNECTs it has not answered yet. */
  override destroy(): void {
    for (const p of this.pending) p.abort();
    this.pending.clear();
    super.destroy();
  }
}

/**
 * Caches one keep-alive proxy agent per proxy URL, scheme and TLS settings: a CONNECT tunnel's
 * TLS session is with the registry, so it uses the registry host's CA, client certificate and
 * verification; the connection to an https:// proxy uses the proxy's own (TlsResolver.proxySettings).
 */
export class ProxyAgents {
  private readonly agents = new Map<string, Agent>();
  constructor(private readonly settings: ProxySettings) {}

  /**
   * The agent for `url` and the proxy it goes through, or undefined when it goes direct. `tls`:
   * the registry host's settings; `proxyTls`: those of the connection to an https:// proxy.
   */
  agentFor(url: URL, tls?: TlsSettings, proxyTls?: TlsSettings): { agent: Agent; proxy: ProxyUse } | undefined {
    const proxy = proxyFor(url, this.settings);
    if (!proxy) return undefined;
    // Only HTTP proxies are spoken here. A SOCKS proxy (socks5://, which Go's tools accept) would
    // otherwise get an HTTP CONNECT and end with a connection error that does not say why.
    // A scheme is what comes before '://'. A value read without one (`user:pw@proxy:3128`) has
    // http:// by now (proxySettingsFromEnv); only settings built by hand arrive here without one.
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(proxy)?.[1]?.toLowerCase();
    const variable = proxyVariable(url, this.settings);
    if (scheme !== 'http' && scheme !== 'https') {
      throw new UsageError(`${variable}: the proxy ${redactProxyUrl(proxy)} is not an HTTP proxy (${scheme ?? 'no'} scheme); regpush speaks to HTTP proxies only (http:// or https://)`);
    }
    const unencoded = unencodedUserinfo(proxy);
    if (unencoded) {
      throw new UsageError(
        `${variable}: the ${unencoded} in ${redactProxyUrl(proxy)} must be percent-encoded: ` +
          "a '/', '?', '#', '\\' or '%' in it is read as part of the URL (write them %2F, %3F, %23, %5C, %25)",
      );
    }
    // The agents parse it and would throw a bare "Invalid URL" (a port over 65535, a space in the
    // host), an internal error naming neither the variable nor the value.
    if (!URL.canParse(proxy)) {
      throw new UsageError(`${variable}: ${redactProxyUrl(proxy)} is not a valid proxy URL; give it as http://[USER:PASSWORD@]HOST:PORT`);
    }
    const key = `${url.protocol}${proxy}${tls ? `|${tls.id}` : ''}${proxyTls ? `|${proxyTls.id}` : ''}`;
    let agent = this.agents.get(key);
    if (!agent) {
      // noDelay: the connection to the proxy is made by these agents, not by Node's (which default
      // to it); with Nagle's algorithm a request body's last small segment waits for the
      // acknowledgement of everything in flight, a round trip to the proxy and beyond.
      const toProxy = tlsConnectOptions(proxyTls);
      agent = url.protocol === 'https:' ? new TunnelAgent(proxy, tlsConnectOptions(tls), toProxy) : new HttpProxyAgent(proxy, { keepAlive: true, noDelay: true, ...toProxy });
      this.agents.set(key, agent);
    }
    return { agent, proxy: { url: proxy, variable } };
  }

  /** Closes idle proxy sockets. */
  destroy(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
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
