/**
 * The agents that reach a registry through a proxy: HTTPS with CONNECT (https-proxy-agent), plain
 * HTTP with absolute-URI requests (http-proxy-agent). Which URL goes through which proxy is
 * proxy-choice.ts's answer.
 */
import type { Agent, ClientRequest } from 'node:http';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { InputError } from '../errors.js';
import { proxyFor, proxyOrigin, proxySettingNames, proxyUrlFault, type ProxySettings } from './proxy-choice.js';
import { tlsConnectOptions, type TlsSettings } from './tls.js';

/** The proxy a request goes through, and where it is set, for its failures to name. */
export interface ProxyUse {
  url: string;
  /** The variable it was read from (`HTTPS_PROXY`, or `https_proxy` when that is the one set), or its daemon.json key (proxyOrigin). */
  from: string;
  /** The settings a failure advises checking: the proxy's and its NO_PROXY list (proxySettingNames). */
  settings: string;
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
    const from = proxyOrigin(url, this.settings);
    // Checked here, at first use, for a variable (one no request goes through does not stop a run,
    // as Go's http.ProxyFromEnvironment reads it only for a request); a daemon.json's proxies were
    // checked as the file was read. The environment's value, so E_INPUT (README "Exit codes").
    const fault = proxyUrlFault(proxy);
    if (fault) throw new InputError(`${from}: ${fault}`);
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
    return { agent, proxy: { url: proxy, from, settings: proxySettingNames(url, this.settings) } };
  }

  /** Closes idle proxy sockets. */
  destroy(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}
