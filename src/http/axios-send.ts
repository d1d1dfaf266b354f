/**
 * The bottom of the transport stack and the only importer of axios. Streams both ways, never
 * follows redirects (axios' follower keeps a copy of each request body, so memory grows with the
 * blob; docs/performance.md, "HTTP client for blobs"),
 * never decompresses, and turns socket failures into typed errors.
 */
import http, { type Agent } from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import axios, { AxiosError } from 'axios';
import { AuthError, NetworkError, TlsError, AbortedError, RegpushError } from '../errors.js';
import { connectionOptionNames, type ConnectionNames } from '../options-check.js';
import { redactProxyUrl, redactUrl } from '../redact.js';
import type { HttpRequest, HttpResponse, Send } from './types.js';
import type { EarlySockets } from './early-sockets.js';
import { watchIdle } from './idle.js';
import { WaitingSockets } from './waiting-sockets.js';
import { PROXY_LEG, ProxyAgents, TUNNEL_SIGNAL, type ProxyUse } from './proxy.js';
import { proxyFor, type ProxySettings } from './proxy-choice.js';
import { tlsConnectOptions, type TlsFailureKind, type TlsResolver } from './tls.js';

/** Options of the socket-level client. */
export interface AxiosSendOptions {
  /** Sent as User-Agent on every request. */
  userAgent: string;
  /** A socket with no traffic for this long fails the request (ms). */
  idleTimeoutMs?: number;
  /** Parallel sockets per origin. */
  maxSockets?: number;
  /** Proxy settings (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) from the caller's environment. */
  proxy?: ProxySettings;
  /** Per-host TLS trust, client certificates and verification (certs.d, --ca-cert, …); default trust when absent. */
  tls?: TlsResolver;
  /** Connections the CLI opened before loading (src/http/early-sockets.ts); taken where the agents would connect, closed with the rest. */
  early?: EarlySockets;
  /** What a TLS failure's hint calls the settings that fix it (Transport.names); default the library's options. */
  names?: ConnectionNames;
}

/**
 * Whether a failure is TLS's: by its code first (OpenSSL's and Node's TLS codes); a system error
 * (ECONNRESET, ENOTFOUND, EAI_AGAIN…) is the network's whatever its message says, since the
 * message names the host (`getaddrinfo ENOTFOUND tls-registry.corp`) and a reset in the middle
 * of a handshake says "TLS". Only a failure without either kind of code is judged by its words,
 * with the host names taken out of them first.
 */
function isTlsFailure(errno: string, message: string, hostnames: string[]): boolean {
  if (TLS_CODES.has(errno) || /^ERR_(SSL|TLS)_/.test(errno)) return true;
  if (/^E[A-Z0-9_]+$/.test(errno) && !errno.startsWith('ERR_')) return false;
  let words = message;
  for (const h of hostnames) if (h) words = words.split(h).join('');
  return /certificate|SSL|TLS/i.test(words);
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

const CODE_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'timed out',
  ECONNABORTED: 'timed out',
  EPIPE: 'connection closed while sending',
  ERR_SOCKET_CONNECTION_TIMEOUT: 'connect timed out',
};

/** What to check next, per socket error. */
const NETWORK_HINT: Record<string, string> = {
  ECONNREFUSED: 'check the host and port, and that the registry is running',
  ENOTFOUND: 'check the registry name for typos, and DNS',
  EAI_AGAIN: 'check DNS and the network connection',
  ETIMEDOUT: 'check the network, firewall and proxy settings (HTTPS_PROXY, NO_PROXY)',
  ECONNABORTED: 'check the network, firewall and proxy settings (HTTPS_PROXY, NO_PROXY)',
  ERR_SOCKET_CONNECTION_TIMEOUT: 'check the network, firewall and proxy settings (HTTPS_PROXY, NO_PROXY)',
};

/** Which handshake failure an error code stands for, to say what would fix it. */
export function tlsFailureKind(errno: string, message: string): TlsFailureKind {
  if (errno === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'hostname';
  // A server that requires a client certificate ends the handshake with an alert: "bad
  // certificate" (TLS 1.2) or "certificate required" (TLS 1.3), or "handshake failure"; one that
  // does not trust the certificate sent ends it with "unknown ca" (OpenSSL's servers: an alert a
  // client receives is the server's verdict on the client's certificate, never on the server's).
  // Likewise "certificate expired", "certificate revoked", "certificate unknown", "unsupported
  // certificate": alerts about the client's certificate (OpenSSL servers, Go from 1.21 on).
  if (
    /ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|UNKNOWN_CA|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE)/.test(errno) ||
    /alert (bad certificate|certificate required|unknown ca|certificate expired|certificate revoked|certificate unknown|unsupported certificate)/i.test(message)
  )
    return 'client-certificate';
  // The server's certificate outside its dates: the chain verified, so no CA is to blame.
  if (errno === 'CERT_HAS_EXPIRED' || errno === 'CERT_NOT_YET_VALID') return 'validity';
  if (TLS_CODES.has(errno) && errno !== 'EPROTO' && errno !== 'ERR_SSL_WRONG_VERSION_NUMBER') return 'untrusted';
  return 'other';
}

/** What to check next, per socket error, when the request went through a proxy: the connection that failed was the one to the proxy. */
const PROXY_HINT: Record<string, string> = {
  ECONNREFUSED: 'check the proxy address and port, and that the proxy is running',
  ENOTFOUND: 'check the proxy host name for typos, and DNS',
};

function hasUserinfo(url: string): boolean {
  try {
    return new URL(url).username !== '';
  } catch {
    return false;
  }
}

/**
 * Whether a TLS failure of a request through `proxy` was the connection to the proxy's (an
 * https:// proxy): always for a plain-http registry, which has no TLS of its own; for an https
 * one, when it came before the tunnel was up (the tunnel agent marks those).
 */
function isProxyTls(err: unknown, req: HttpRequest, proxy: ProxyUse): boolean {
  if (!/^https:/i.test(proxy.url)) return false;
  if (req.url.startsWith('http:')) return true;
  const marked = (x: unknown) => !!x && typeof x === 'object' && (x as { [PROXY_LEG]?: boolean })[PROXY_LEG] === true;
  return marked(err) || marked((err as { cause?: unknown } | undefined)?.cause);
}

/**
 * A TLS failure of the connection to an https:// proxy, naming the proxy and what fixes it there:
 * the registry's own settings (certs.d, a per-registry CA or client certificate, verification
 * off) apply to the TLS session inside the tunnel and never reach the proxy's, so the hint the
 * registry's failure gets would not help.
 */
function proxyTlsError(err: unknown, req: HttpRequest, proxy: ProxyUse, errno: string, kind: TlsFailureKind, message: string, tls?: TlsResolver): TlsError {
  const host = safeHost(req.url);
  const named = redactProxyUrl(proxy.url);
  const wrongScheme = errno === 'ERR_SSL_WRONG_VERSION_NUMBER' || errno === 'EPROTO' || /wrong version number|packet length too long/i.test(message);
  // The connection to the proxy has its own host's settings (TlsResolver.proxySettings: a CA given
  // for the proxy's host[:port], NODE_EXTRA_CA_CERTS), never a registry's: the resolver's hint for
  // that host names them, and the registry's settings are said not to reach it.
  const proxyHost = new URL(proxy.url).host;
  const carried = certificateNames(err, message);
  const notRegistry = `; a registry's own CA settings apply inside the tunnel, not to the proxy`;
  const fixes: Partial<Record<TlsFailureKind, string>> = {
    untrusted: tls
      ? `the proxy's certificate is not trusted: ${tls.hint(proxyHost, 'untrusted')}${notRegistry}`
      : `the proxy's certificate is not trusted: name its CA in NODE_EXTRA_CA_CERTS=PATH in regpush's environment${notRegistry}`,
    validity: `the proxy's certificate is outside its validity dates (expired, or not valid yet): its operator renews it, or this machine's clock is wrong`,
    hostname: `the proxy's certificate is not made out for ${safeHostname(proxy.url)}${carried?.length ? ` (it names ${carried.join(', ')})` : ''}: check the proxy's name in ${proxy.variable}`,
    'client-certificate': tls ? `the proxy wants a client certificate: ${tls.hint(proxyHost, 'client-certificate')}` : 'the proxy wants a client certificate',
  };
  const fix =
    fixes[kind] ?? (wrongScheme ? `the proxy does not speak TLS there: for a plain-HTTP proxy, write http:// in ${proxy.variable}` : `check the proxy URL in ${proxy.variable}`);
  const text = kind === 'client-certificate' ? 'the proxy refused the handshake without a client certificate' : message;
  return new TlsError(`TLS failure talking to proxy ${named} (${proxy.variable}) for ${host}: ${text} (${errno}); ${fix}`, {
    details: { registry: host, request: `${req.method} ${redactUrl(req.url)}`, errno, tlsFailure: kind, proxy: named },
  });
}

/**
 * The names a certificate carries, for a hostname mismatch: its subjectAltName, from the
 * certificate Node's error holds (tls.checkServerIdentity's `cert`), else from the message ("… is
 * not in the cert's altnames: DNS:a, IP Address:10.0.0.5", "… is not cert's CN: a"); the message
 * alone lists only the addresses of a host named by one ("… is not in the cert's list: "). Without
 * their DNS: / IP Address: labels; undefined when neither gives any.
 */
export function certificateNames(err: unknown, message: string): string[] | undefined {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const cert = [err, cause].map((x) => (x as { cert?: { subjectaltname?: unknown } } | undefined)?.cert).find((c) => c && typeof c === 'object');
  const san = typeof cert?.subjectaltname === 'string' ? cert.subjectaltname : undefined;
  const text = san ?? /(?:cert's altnames|cert's list|cert's CN): ?(.*)$/.exec(message)?.[1];
  if (text === undefined) return undefined;
  const entries = text.split(/,\s*/).map((n) => n.trim()).filter(Boolean);
  // Of a subjectAltName, the names a host is checked against (not email: or URI: entries).
  return (san === undefined ? entries : entries.filter((n) => /^(DNS|IP Address):/.test(n))).map((n) => n.replace(/^(DNS|IP Address):/, ''));
}

/**
 * Maps a socket/axios failure to a NetworkError or TlsError naming the host (and the proxy, with
 * its credentials redacted, when the request went through one). `tls` (the transport's resolver)
 * words the fix for a TLS failure: the setting and the certs.d path for that host; `names` the
 * settings named without one (the caller's options, or the CLI's flags).
 */
export function transportError(err: unknown, req: HttpRequest, tls?: TlsResolver, proxy?: ProxyUse, names: ConnectionNames = connectionOptionNames): RegpushError {
  if (err instanceof RegpushError) return err;
  // A body stream that failed with our own error (digest mismatch, abort) surfaces as the cause.
  if ((err as { cause?: unknown })?.cause instanceof RegpushError) return (err as { cause: RegpushError }).cause;
  const e = err as AxiosError & { cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? 'UNKNOWN';
  const host = safeHost(req.url);
  const request = `${req.method} ${redactUrl(req.url)}`;
  if (code === 'ERR_CANCELED' || e.name === 'CanceledError' || e.name === 'AbortError') {
    return new AbortedError(`aborted: ${request}`, { details: { request } });
  }
  const errno = (e.cause as { code?: string } | undefined)?.code ?? code;
  // A network failure gets no certificate hint, and is retried as one.
  if (isTlsFailure(errno, e.message ?? '', [safeHostname(req.url), proxy ? safeHostname(proxy.url) : ''])) {
    const message = (e.message ?? '').split('\n')[0]!;
    const kind = tlsFailureKind(errno, e.message ?? '');
    if (proxy && isProxyTls(err, req, proxy)) return proxyTlsError(err, req, proxy, errno, kind, message, tls);
    // The server answered the ClientHello with something that is no TLS record: a plain-HTTP
    // server's "HTTP/1.1 400" read as a record header. No CA or certificate is involved, so the
    // line says that and gives the one fix, not OpenSSL's text (`write EPROTO 80AC…:error:0A00010B:
    // SSL routines:ssl3_get_record:wrong version number:../deps/openssl/…`).
    if (errno === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long|http request/i.test(message)) {
      const reason = /packet length too long/i.test(message) ? 'packet length too long' : 'wrong version number';
      return new TlsError(`TLS failure talking to ${host}: it answered in plain HTTP, not TLS (${reason}, ${errno}); if ${host} serves plain HTTP, add ${names.insecure(host)}`, {
        details: { registry: host, request, errno, tlsFailure: kind },
      });
    }
    const plain = errno === 'EPROTO' ? `; if ${host} serves plain HTTP, add ${names.insecure(host)}` : '';
    const fix = tls ? tls.hint(host, kind, kind === 'hostname' ? certificateNames(err, message) : undefined) : `for a private CA add ${names.caCert(host)}`;
    const text = kind === 'client-certificate' ? 'the server refused the handshake without a client certificate it accepts' : message;
    // The resolver's hint says it, or says that the caller's NODE_EXTRA_CA_CERTS is trusted already.
    const everywhere = kind === 'untrusted' && !tls ? '; NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry' : '';
    return new TlsError(`TLS failure talking to ${host}: ${text} (${errno}); ${fix}${everywhere}${plain}`, {
      details: { registry: host, request, errno, tlsFailure: kind },
    });
  }
  const text = CODE_TEXT[errno] ?? e.message ?? String(err);
  if (proxy) {
    const hint = `${PROXY_HINT[errno] ?? 'check the network and the proxy'} (${proxy.variable}, NO_PROXY)`;
    return new NetworkError(`cannot reach ${host} through proxy ${redactProxyUrl(proxy.url)}: ${text} (${errno}); ${hint}`, { details: { registry: host, request, errno } });
  }
  const hint = NETWORK_HINT[errno] ?? 'check the network and proxy settings (HTTPS_PROXY, NO_PROXY)';
  return new NetworkError(`cannot reach ${host}: ${text} (${errno}); ${hint}`, { details: { registry: host, request, errno } });
}

/**
 * The error for an answer the proxy gave instead of the registry, or undefined when `res` is the
 * registry's. 407 can only come from a proxy (RFC 9110, 15.5.8). For HTTPS the registry answers
 * inside the TLS session of the CONNECT tunnel, so an answer on a socket without TLS is the
 * proxy's refusal of the CONNECT itself (https-proxy-agent hands it to the request as a response).
 */
function proxyRefusal(status: number, socket: Socket | null | undefined, req: HttpRequest, proxy: ProxyUse): RegpushError | undefined {
  const refusedConnect = req.url.startsWith('https:') && (socket as { encrypted?: boolean } | null | undefined)?.encrypted !== true;
  if (status !== 407 && !refusedConnect) return undefined;
  const host = safeHost(req.url);
  const request = `${req.method} ${redactUrl(req.url)}`;
  const named = redactProxyUrl(proxy.url);
  const variable = proxy.variable;
  if (status === 407) {
    const fix = hasUserinfo(proxy.url)
      ? `the user and password in ${variable} were not accepted`
      : `give them in ${variable} as http://USER:PASSWORD@HOST:PORT`;
    return new AuthError(`proxy ${named} requires authentication (407) for ${host}: ${fix}`, { details: { registry: host, request, proxyStatus: status, proxy: named } });
  }
  // Not `status`, which says what the registry answered (a 403 there means other things); the
  // retry middleware retries a proxy's 502/503/504 as it would a registry's.
  return new NetworkError(`cannot reach ${host} through proxy ${named}: the proxy answered ${status} to CONNECT; check the proxy settings (${variable}, NO_PROXY)`, {
    details: { registry: host, request, proxyStatus: status, proxy: named },
  });
}

/** The error a request fails with when its body stream failed: the body's own typed error (never retried as a network failure unless it is one). */
function bodyFailure(err: unknown, req: HttpRequest, names?: ConnectionNames): RegpushError {
  return err instanceof RegpushError ? err : transportError(err, req, undefined, undefined, names);
}

/** The host name of `url` (no port, no brackets), or '' when it does not parse. */
function safeHostname(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return '';
  }
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** What an agent passes createConnection (Node sets `_agentKey` to the pool name it files the socket under). */
type ConnectOptions = Record<string, unknown> & { _agentKey?: string };

/**
 * Connections opened before any request needs them, per agent pool name: the agent hands one out
 * where it would otherwise connect (createConnection, the documented hook for custom agents). The
 * name is the agent's own getName() of the options it would build for a request to that origin
 * (host, port, and for TLS the agent's trust and client-certificate settings), so a spare is only
 * ever used where the agent would have made the same connection itself; if the names ever
 * differed, the spare would just go unused and close after WAITING_IDLE_MS (waiting-sockets.ts).
 */
class Spares {
  private readonly waiting = new WaitingSockets();

  constructor(
    private readonly agent: Agent,
    private readonly connect: (o: ConnectOptions) => Socket,
  ) {}

  /** Opens connections to `url`'s origin until the pool there (busy, idle and spare) has `n`. */
  open(url: URL, n: number): void {
    const tls = url.protocol === 'https:';
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const options: ConnectOptions = {
      ...(this.agent as unknown as { options: Record<string, unknown> }).options,
      host,
      port: Number(url.port || (tls ? 443 : 80)),
      // As the agent names a request's socket: SNI from the host name, none for an IP address.
      ...(tls ? { servername: isIP(host) ? '' : host } : {}),
    };
    delete options.keepAlive;
    delete options.maxSockets;
    delete options.scheduling;
    const key = this.agent.getName(options as unknown as http.AgentOptions & { host: string; port: number });
    const pooled = (this.agent.sockets[key]?.length ?? 0) + (this.agent.freeSockets[key]?.length ?? 0);
    for (let have = pooled + this.waiting.count(key); have < n; have++) this.waiting.add(key, this.connect({ ...options, _agentKey: key }));
  }

  /** A spare for the pool `key`, still open; undefined when there is none. */
  take(key: string | undefined): Socket | undefined {
    return this.waiting.take(key);
  }

  destroy(): void {
    this.waiting.destroy();
  }
}

/**
 * A keep-alive agent that can open connections ahead of its requests (see Spares). Where it would
 * connect, it takes a spare, else a connection the launcher opened early to that host and port
 * (TLS agents put their TLS on top of it), else connects.
 */
function withSpares<A extends Agent>(agent: A, early: EarlySockets | undefined, tls: boolean): A & { spares: Spares } {
  const own = agent.createConnection.bind(agent) as unknown as (o: ConnectOptions, cb?: unknown) => Socket;
  const fromEarly = (o: ConnectOptions): Socket | undefined => {
    const raw = early?.take(String(o.host), Number(o.port));
    if (!raw) return undefined;
    // As the agent's own connections are (Node's agents default to noDelay): with Nagle's
    // algorithm on, the last small segment of a request (a body's tail, a chunked upload's end)
    // waits until all data in flight is acknowledged, a round trip on a remote registry.
    raw.setNoDelay(true);
    return tls ? own({ ...o, socket: raw }) : raw;
  };
  const spares = new Spares(agent, (o) => fromEarly(o) ?? own(o));
  (agent as unknown as { createConnection: (o: ConnectOptions, cb?: unknown) => Socket }).createConnection = (o, cb) => spares.take(o._agentKey) ?? fromEarly(o) ?? own(o, cb);
  return Object.assign(agent, { spares });
}

/** Bytes per write of an in-memory body: views of it (subarray), never copies. */
const BODY_SLICE = 64 * 1024;

/** An in-memory body as a stream of its slices. */
function slices(buf: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < buf.length; at += BODY_SLICE) yield buf.subarray(at, at + BODY_SLICE);
    })(),
  );
}

/**
 * What a kernel may still hold of a request body once it has taken the last byte: Linux's
 * default maximum TCP send buffer (net.ipv4.tcp_wmem). Node cannot see how much of it is still
 * unsent (no TIOCOUTQ), so this is the most it may be.
 */
const KERNEL_SEND_BUFFER = 4 * 1024 * 1024;

/**
 * The bytes of a request body the socket has taken, and how fast: to tell how long the kernel
 * may still need to send its buffer once the body is all handed over. Bytes go in at memory speed
 * until that buffer is full, then at the pace the network takes them, so the pace is measured
 * from the point a buffer's worth has gone in.
 */
class Handover {
  private sent = 0;
  private fullAt?: number;

  add(n: number): void {
    this.sent += n;
    if (this.fullAt === undefined && this.sent >= KERNEL_SEND_BUFFER) this.fullAt = Date.now();
  }

  /** The time a full send buffer takes at the measured pace; 0 when the body was too small to measure one (its answer then gets the idle timeout alone). */
  drainMs(): number {
    const after = this.sent - KERNEL_SEND_BUFFER;
    if (this.fullAt === undefined || after < KERNEL_SEND_BUFFER / 4) return 0;
    return Math.ceil((KERNEL_SEND_BUFFER * (Date.now() - this.fullAt)) / after);
  }
}

/** Creates the axios-backed Send with keep-alive agents shared by every request of this transport. */
export function createAxiosSend(opts: AxiosSendOptions): Send & { close(): void; preconnect(url: string, n: number): Promise<void> } {
  const idle = opts.idleTimeoutMs ?? 60_000;
  const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets ?? 16, scheduling: 'lifo' as const };
  const httpAgent = withSpares(new http.Agent(agentOpts), opts.early, false);
  const httpsAgent = withSpares(new https.Agent(agentOpts), opts.early, true);
  const proxies = new ProxyAgents(opts.proxy ?? {});
  // One keep-alive agent per distinct TLS settings (hosts with their own CA, client certificate
  // or verification off); every other HTTPS host shares httpsAgent.
  const tlsAgents = new Map<string, https.Agent & { spares: Spares }>();
  /** The agents for `url`: through a proxy, with the host's own TLS settings, or the shared ones. */
  const agentsFor = async (url: string): Promise<{ httpAgent?: Agent; httpsAgent?: Agent; proxy?: ProxyUse }> => {
    const u = new URL(url);
    const settings = u.protocol === 'https:' && opts.tls ? await opts.tls.settingsFor(u.host) : undefined;
    // An https:// proxy's own TLS: its host's settings (a --ca-cert for it, NODE_EXTRA_CA_CERTS: a corporate proxy's CA).
    const proxyUrl = opts.tls ? proxyFor(u, opts.proxy ?? {}) : undefined;
    const proxyTls = proxyUrl && /^https:/i.test(proxyUrl) ? await opts.tls!.proxySettings(new URL(proxyUrl).host) : undefined;
    const viaProxy = proxies.agentFor(u, settings, proxyTls);
    if (viaProxy) return u.protocol === 'https:' ? { httpsAgent: viaProxy.agent, proxy: viaProxy.proxy } : { httpAgent: viaProxy.agent, proxy: viaProxy.proxy };
    if (!settings) return {};
    let agent = tlsAgents.get(settings.id);
    if (!agent) {
      agent = withSpares(new https.Agent({ ...agentOpts, ...tlsConnectOptions(settings) }), opts.early, true);
      tlsAgents.set(settings.id, agent);
    }
    return { httpsAgent: agent };
  };
  const client = axios.create({
    maxRedirects: 0,
    decompress: false,
    responseType: 'stream',
    validateStatus: () => true,
    // -1 = unlimited without axios' byte-counting Transform in the body path.
    maxBodyLength: -1,
    maxContentLength: -1,
    transformRequest: [(data: unknown) => data],
    transformResponse: [(data: unknown) => data],
    httpAgent,
    httpsAgent,
    // axios would read proxy variables from process.env itself; proxies come from ProxyAgents.
    proxy: false,
  });

  const send = async (req: HttpRequest): Promise<HttpResponse> => {
    if (req.signal?.aborted) throw new AbortedError(`aborted: ${req.method} ${redactUrl(req.url)}`);
    // Before the body is produced (a factory): a certificate file that cannot be read fails here.
    const { proxy, ...agents } = await agentsFor(req.url);
    // Reading the host's TLS files may have let an interruption through.
    if (req.signal?.aborted) throw new AbortedError(`aborted: ${req.method} ${redactUrl(req.url)}`);
    // axios advertises gzip, deflate and br unless told otherwise, but bodies are never decompressed
    // here (a blob's digest is of its bytes as stored): a server or CDN that took up the offer would
    // hand manifests, token replies and error bodies over compressed, read as if they were not.
    const headers: Record<string, string> = { 'user-agent': opts.userAgent, 'accept-encoding': 'identity', ...(req.headers ?? {}) };
    let data: Buffer | Readable | undefined;
    if (req.body !== undefined) data = typeof req.body === 'function' ? req.body() : req.body;
    // Our own idle watchdog: axios' `timeout` is a wall clock until the response headers, which
    // would kill a long upload. Here any byte sent resets the clock.
    const ctl = new AbortController();
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    // True while a streamed body is still being produced and nothing waits for the socket: the
    // source is slow (a stalled blob GET being resumed), not the server; its own watchdog handles it.
    let waitingOnBody = (): boolean => false;
    // Set once the answer is in (or the request failed): body bytes still counted after that must not start a clock.
    let settled = false;
    const handover = new Handover();
    /** Restarts the clock, `extra` ms longer than the idle timeout. */
    const arm = (extra = 0) => {
      if (timer) clearTimeout(timer);
      if (settled) return;
      timer = setTimeout(() => {
        if (waitingOnBody()) return arm();
        timedOut = true;
        ctl.abort();
      }, idle + extra);
    };
    /** Counts each chunk of a body stream the request takes as progress; from when axios pipes it (pipe() resumes it): a 'data' listener added earlier would start the flow before the request is there to receive it. */
    const countChunks = (src: Readable) =>
      src.once('resume', () =>
        src.on('data', (chunk: Buffer) => {
          handover.add(chunk.length);
          arm(handover.drainMs());
        }),
      );
    const onAbort = () => ctl.abort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    // The clock starts once the request has a socket: one queued in the agent behind --jobs busy
    // transfers to that host is waiting its turn, not stalled (they have their own clocks).
    // Through a proxy it starts at once: a tunnelling agent hands the request its socket only when
    // the proxy has answered CONNECT, so a proxy that takes the connection and never answers would
    // never be timed out; and the proxy agents queue nothing (they have no socket limit).
    let hasSocket = false;
    const transport = {
      request: (options: http.RequestOptions, callback?: (res: http.IncomingMessage) => void): http.ClientRequest => {
        // The tunnel agent destroys its pending connection to the proxy when this aborts.
        const r = (options.protocol === 'https:' ? https : http).request({ ...options, [TUNNEL_SIGNAL]: ctl.signal } as http.RequestOptions, callback);
        if (proxy) arm();
        r.once('socket', () => {
          hasSocket = true;
          arm();
        });
        // The whole body is with the kernel, which may still be sending what its send buffer
        // holds: no clock runs out before that could have gone at the pace the body went.
        r.once('finish', () => arm(handover.drainMs()));
        return r;
      },
    };
    let bodyError: Error | undefined;
    if (data && !Buffer.isBuffer(data)) {
      // A body that has already failed (a local input error met while the upload session was being
      // opened: a file name that is not UTF-8, an unreadable directory) emits no further event, so
      // axios, which listens for the body's 'error', would wait on it until the idle timeout and
      // report a network failure that then gets retried. Its own error is the answer, at once.
      if (data.errored) {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        throw bodyFailure(data.errored, req, opts.names);
      }
      // A listener, not a Transform in the body's path: one stream hop less for every uploaded
      // byte. axios pipes the body into the request and fails the request on a body error; the
      // error is kept so the body's own (typed) error is what the request fails with.
      data.once('error', (e: Error) => (bodyError = e));
      const src = data;
      let bodyEnded = false;
      countChunks(src);
      src.once('end', () => (bodyEnded = true));
      waitingOnBody = () => !bodyEnded && !src.destroyed && src.readableLength === 0 && !src.isPaused();
    }
    if (Buffer.isBuffer(data) && headers['content-length'] === undefined) headers['content-length'] = String(data.length);
    // An in-memory body (a chunk PATCH, a config or small layer PUT) written in one go gives the
    // clock nothing to see until the answer: over a slow uplink, a chunk that takes longer than
    // the idle timeout to send failed as "no progress" with its bytes flowing. In slices, each
    // one the socket takes is progress, as a streamed body's chunks are.
    const upload = Buffer.isBuffer(data) && data.length > BODY_SLICE ? slices(data) : data;
    if (upload !== data) countChunks(upload as Readable);
    if (data === undefined && (req.method === 'PUT' || req.method === 'POST' || req.method === 'PATCH')) {
      headers['content-length'] ??= '0';
    }
    let res;
    try {
      res = await client.request({
        method: req.method,
        url: req.url,
        headers,
        data: upload,
        signal: ctl.signal,
        transport,
        ...agents,
      });
    } catch (err) {
      if (upload && !Buffer.isBuffer(upload)) upload.destroy();
      if (data && !Buffer.isBuffer(data)) data.destroy();
      if (bodyError) throw bodyFailure(bodyError, req, opts.names);
      if (timedOut && proxy && !hasSocket) {
        const host = safeHost(req.url);
        const named = redactProxyUrl(proxy.url);
        throw new NetworkError(`cannot reach ${host} through proxy ${named}: the proxy did not answer within ${idle} ms (ETIMEDOUT); check that the proxy is running and reachable (${proxy.variable}, NO_PROXY)`, {
          details: { registry: host, request: `${req.method} ${redactUrl(req.url)}`, errno: 'ETIMEDOUT', proxy: named },
        });
      }
      if (timedOut) {
        throw new NetworkError(`cannot reach ${safeHost(req.url)}: no progress for ${idle} ms (ETIMEDOUT)`, {
          details: { registry: safeHost(req.url), request: `${req.method} ${redactUrl(req.url)}`, errno: 'ETIMEDOUT' },
        });
      }
      throw transportError(err, req, opts.tls, proxy, opts.names);
    } finally {
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
    }
    // Answered over TLS: a host whose verification is off is warned of now, the first time.
    if (opts.tls && req.url.startsWith('https:')) opts.tls.answered(safeHost(req.url));
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers ?? {})) {
      if (v === undefined || v === null) continue;
      out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
    }
    const body = res.data as Readable;
    const refusal = proxy ? proxyRefusal(res.status, (res.request as { socket?: Socket | null } | undefined)?.socket, req, proxy) : undefined;
    if (refusal) {
      body.destroy();
      throw refusal;
    }
    if (req.signal) {
      const signal = req.signal;
      const onCancel = () => body.destroy(new AbortedError(`aborted: ${req.method} ${redactUrl(req.url)}`));
      signal.addEventListener('abort', onCancel, { once: true });
      body.once('close', () => signal.removeEventListener('abort', onCancel));
    }
    watchIdle(body, idle, () => new NetworkError(`cannot reach ${safeHost(req.url)}: response stalled for ${idle} ms (ETIMEDOUT)`, {
      details: { registry: safeHost(req.url), request: `${req.method} ${redactUrl(req.url)}`, errno: 'ETIMEDOUT' },
    }));
    return { status: res.status, headers: out, url: req.url, body };
  };
  let closed = false;
  const preconnect = async (url: string, n: number): Promise<void> => {
    try {
      const u = new URL(url);
      const agents = await agentsFor(url);
      // Closed while the TLS settings were read: opening now would outlive the transport.
      if (closed) return;
      // A proxy's agent has no spares: nothing is opened through a proxy.
      const agent = u.protocol === 'https:' ? (agents.httpsAgent ?? httpsAgent) : (agents.httpAgent ?? httpAgent);
      const spares = (agent as Partial<{ spares: Spares }>).spares;
      spares?.open(u, n);
    } catch {
      /* best effort */
    }
  };
  // The launcher's connections to https origins get their TLS now, through the agent (and so the
  // trust and client certificate) each origin's requests will use, and wait as that agent's
  // spares: the first request on each, however late, skips both handshakes.
  for (const o of opts.early?.tlsOrigins ?? []) void preconnect(`https://${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}/`, o.connections);
  return Object.assign(send, {
    /**
     * Opens connections to `url`'s origin until `n` are open there, without sending anything: the
     * requests that follow skip the TCP (and TLS) handshake. Not through a proxy (the proxy agent
     * connects on its own). Never rejects; a failed connection is just not there.
     */
    preconnect,
    close() {
      closed = true;
      opts.early?.close();
      httpAgent.spares.destroy();
      httpsAgent.spares.destroy();
      for (const a of tlsAgents.values()) a.spares.destroy();
      httpAgent.destroy();
      httpsAgent.destroy();
      for (const a of tlsAgents.values()) a.destroy();
      tlsAgents.clear();
      proxies.destroy();
    },
  });
}
