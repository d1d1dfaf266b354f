/**
 * What a failed send becomes: the typed error (NetworkError, TlsError, AuthError, AbortedError)
 * naming the host, and the proxy when the request went through one, with what to check next. A
 * module of its own, apart from the axios adapter (axios-send.ts) that calls it, because its
 * hints are a catalogue that grows with every failure seen in the field, while the send path does not.
 */
import type { Socket } from 'node:net';
import { AuthError, NetworkError, TlsError, AbortedError, InputError, InternalError, RegpushError } from '../errors.js';
import { connectionOptionNames, type ConnectionNames } from '../option-names.js';
import { redactUrl } from '../redact.js';
import { redactProxyUrl } from './proxy-choice.js';
import type { HttpRequest } from './types.js';
import { PROXY_LEG, type ProxyUse } from './proxy.js';
import type { TlsFailureKind, TlsResolver } from './tls.js';

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

const TLS_CODES: ReadonlySet<string> = new Set([
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
 * What a ClientHello answered with something that is no TLS record (a plain-HTTP server's
 * "HTTP/1.1 400" read as a record header) is called in an error line: what happened and OpenSSL's
 * reason, not its text (`write EPROTO 80AC…:error:0A00010B:SSL routines:ssl3_get_record:wrong
 * version number:../deps/openssl/…`), which says nothing more to the user.
 */
function plainHttpAnswer(errno: string, message: string): string {
  const reason = /packet length too long/i.test(message) ? 'packet length too long' : 'wrong version number';
  return `it answered in plain HTTP, not TLS (${reason}, ${errno})`;
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
    hostname: `the proxy's certificate is not made out for ${safeHostname(proxy.url)}${carried?.length ? ` (it names ${carried.join(', ')})` : ''}: check the proxy's name in ${proxy.from}`,
    'client-certificate': tls ? `the proxy wants a client certificate: ${tls.hint(proxyHost, 'client-certificate')}` : 'the proxy wants a client certificate',
  };
  const fix =
    fixes[kind] ?? (wrongScheme ? `the proxy does not speak TLS there: for a plain-HTTP proxy, write http:// in ${proxy.from}` : `check the proxy URL in ${proxy.from}`);
  // The registry's own line words a plain-HTTP answer so (transportError): here too.
  const plain = errno === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(message);
  const text = kind === 'client-certificate' ? `the proxy refused the handshake without a client certificate (${errno})` : plain ? plainHttpAnswer(errno, message) : `${message} (${errno})`;
  return new TlsError(`TLS failure talking to proxy ${named} (${proxy.from}) for ${host}: ${text}; ${fix}`, {
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
function certificateNames(err: unknown, message: string): string[] | undefined {
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
 * The error of a request cut off by its signal, before or while it was sent or its body read: its
 * method and redacted URL in the message and as `details.request`, which the operation's
 * interruption (withAbortReason, abort.ts) names as the request cut off.
 */
export function abortedRequest(req: Pick<HttpRequest, 'method' | 'url'>): AbortedError {
  const request = `${req.method} ${redactUrl(req.url)}`;
  return new AbortedError(`aborted: ${request}`, { details: { request } });
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
  // The fields of an AxiosError read here, spelt out so that axios stays imported in axios-send.ts alone.
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? 'UNKNOWN';
  const host = safeHost(req.url);
  const request = `${req.method} ${redactUrl(req.url)}`;
  if (code === 'ERR_CANCELED' || e.name === 'CanceledError' || e.name === 'AbortError') return abortedRequest(req);
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
      return new TlsError(`TLS failure talking to ${host}: ${plainHttpAnswer(errno, message)}; if ${host} serves plain HTTP, add ${names.insecure(host)}`, {
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
    const hint = `${PROXY_HINT[errno] ?? 'check the network and the proxy'} (${proxy.settings})`;
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
export function proxyRefusal(status: number, socket: Socket | null | undefined, req: HttpRequest, proxy: ProxyUse): RegpushError | undefined {
  const refusedConnect = req.url.startsWith('https:') && (socket as { encrypted?: boolean } | null | undefined)?.encrypted !== true;
  if (status !== 407 && !refusedConnect) return undefined;
  const host = safeHost(req.url);
  const request = `${req.method} ${redactUrl(req.url)}`;
  const named = redactProxyUrl(proxy.url);
  const from = proxy.from;
  if (status === 407) {
    const fix = hasUserinfo(proxy.url)
      ? `the user and password in ${from} were not accepted`
      : `give them in ${from} as http://USER:PASSWORD@HOST:PORT`;
    return new AuthError(`proxy ${named} requires authentication (407) for ${host}: ${fix}`, { details: { registry: host, request, proxyStatus: status, proxy: named } });
  }
  // Not `status`, which says what the registry answered (a 403 there means other things); the
  // retry middleware retries a proxy's 502/503/504 as it would a registry's.
  return new NetworkError(`cannot reach ${host} through proxy ${named}: the proxy answered ${status} to CONNECT; check the proxy settings (${proxy.settings})`, {
    details: { registry: host, request, proxyStatus: status, proxy: named },
  });
}

/**
 * The error a request fails with when its body stream failed: the body's own typed error (never
 * retried as a network failure unless it is one). A body whose failure is untyped failed here, in
 * what was being sent (a layer's file read, a stream of ours), not at the registry: it was told as
 * `cannot reach HOST: … check the network and proxy settings`, and as a network failure the blob
 * was sent again. A system error (one with a code: EIO, EACCES) is the local input's, E_INPUT; one
 * without is a bug, E_INTERNAL. A body read from a registry (a copy's blob GET) fails typed
 * already (transfer/resumable-read.ts), as its connection's failure.
 */
export function bodyFailure(err: unknown, req: HttpRequest): RegpushError {
  if (err instanceof RegpushError) return err;
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause instanceof RegpushError) return cause;
  const host = safeHost(req.url);
  const request = `${req.method} ${redactUrl(req.url)}`;
  const code = (err as { code?: unknown } | undefined)?.code;
  const text = `${req.label ?? req.method} to ${host}: reading the data it sends failed: ${(err as Error | undefined)?.message ?? String(err)}`;
  return typeof code === 'string'
    ? new InputError(text, { cause: err, details: { registry: host, request, errno: code } })
    : new InternalError(text, { cause: err, details: { registry: host, request } });
}

/** The host name of `url` (no port, no brackets), or '' when it does not parse. */
function safeHostname(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return '';
  }
}

export function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
