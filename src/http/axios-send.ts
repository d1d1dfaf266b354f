/**
 * The bottom of the transport stack and the only importer of axios. Streams both ways, never
 * follows redirects (axios' follower keeps a copy of each request body, so memory grows with the
 * blob; docs/performance.md, "HTTP client for blobs"),
 * never decompresses, and turns socket failures into typed errors (worded in send-errors.ts).
 * Its keep-alive agents open connections ahead of requests through spare-sockets.ts.
 */
import http, { type Agent } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { Readable } from 'node:stream';
import axios from 'axios';
import { NetworkError } from '../errors.js';
import type { ConnectionNames } from '../option-names.js';
import { redactUrl } from '../redact.js';
import type { HttpRequest, HttpResponse, Send } from './types.js';
import type { EarlySockets } from './early-sockets.js';
import { watchIdle } from './idle.js';
import { ProxyAgents, TUNNEL_SIGNAL, type ProxyUse } from './proxy.js';
import { proxyFor, redactProxyUrl, type ProxySettings } from './proxy-choice.js';
import { heldWriteError, holdWriteFailures } from './answer-while-sending.js';
import { abortedRequest, bodyFailure, proxyRefusal, safeHost, transportError } from './send-errors.js';
import { withSpares, type Spares } from './spare-sockets.js';
import { tlsConnectOptions, type TlsResolver } from './tls.js';

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
  /**
   * Told of each chunk of an answer's body read, with the host (host[:port]) it came from: bytes
   * arriving from a host are an answer from it (host-silence.ts), however long the body takes.
   * Not where no idle timeout is set (nothing then times out for want of an answer).
   */
  onBodyData?: (host: string) => void;
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
    if (req.signal?.aborted || req.unsentSignal?.aborted) throw abortedRequest(req);
    // Before the body is produced (a factory): a certificate file that cannot be read fails here.
    const { proxy, ...agents } = await agentsFor(req.url);
    // Reading the host's TLS files may have let an interruption through.
    if (req.signal?.aborted || req.unsentSignal?.aborted) throw abortedRequest(req);
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
    // When the clock runs out (performance.now()), and when its timer fires: a chunk sent moves
    // only the deadline, and the timer, when it fires early, waits out the rest. An upload's body
    // restarts the clock at every chunk (~1,800 per 113 MB), where a new Timeout each time cost
    // an object and a timer-list insert per chunk; it fires at the same moment all the same.
    let deadline = 0;
    let firesAt = 0;
    const fire = (): void => {
      timer = undefined;
      const left = deadline - performance.now();
      if (left > 0) return schedule(left);
      if (waitingOnBody()) return arm();
      timedOut = true;
      ctl.abort();
    };
    const schedule = (ms: number): void => {
      firesAt = performance.now() + ms;
      timer = setTimeout(fire, ms);
    };
    /** Restarts the clock, `extra` ms longer than the idle timeout. */
    const arm = (extra = 0) => {
      if (settled) {
        if (timer) clearTimeout(timer);
        timer = undefined;
        return;
      }
      deadline = performance.now() + idle + extra;
      // A timer that fires by the new deadline serves it; one set for later (a shorter `extra`
      // than the last chunk's) is replaced, so the clock never runs longer than it was set to.
      if (timer && firesAt <= deadline) return;
      if (timer) clearTimeout(timer);
      schedule(idle + extra);
    };
    /**
     * Counts each chunk of a body stream the request takes as progress; from when axios pipes it (pipe() resumes it): a 'data'
     * listener added earlier would start the flow before the request is there to receive it.
     */
    const countChunks = (src: Readable) =>
      src.once('resume', () =>
        src.on('data', (chunk: Buffer) => {
          handover.add(chunk.length);
          arm(handover.drainMs());
        }),
      );
    const onAbort = () => ctl.abort();
    // From the start, also while the request waits in the agent for a socket (a sync of many
    // images queues hundreds behind maxSockets, each listening): a queued request is cut at once.
    // Followed only from its socket, the queued requests were cut one by one as the agent gave
    // them sockets, and an interrupted sync took ~0.5 s longer to end.
    req.signal?.addEventListener('abort', onAbort, { once: true });
    // `unsentSignal`: cut only a request that nothing of has gone out. Node sets a request's
    // socket where it writes the request to it, so one without a socket is still in the agent's
    // queue (or not yet made), and one on a socket still connecting (or, for https, still in its
    // handshake) has reached no server. Through a proxy the socket comes once the tunnel is up (the
    // tunnel's own connect is cut with it).
    // Set once the request may be going out: its socket connected (for https, its handshake done).
    let wentOut = false;
    const onUnsentAbort = (): void => {
      if (!wentOut) ctl.abort();
    };
    req.unsentSignal?.addEventListener('abort', onUnsentAbort, { once: true });
    // The clock starts once the request has a socket: one queued in the agent behind --jobs busy
    // transfers to that host is waiting its turn, not stalled (they have their own clocks).
    // Through a proxy it starts at once: a tunnelling agent hands the request its socket only when
    // the proxy has answered CONNECT, so a proxy that takes the connection and never answers would
    // never be timed out; and the proxy agents queue nothing (they have no socket limit).
    let hasSocket = false;
    let socket: Socket | undefined;
    const transport = {
      request: (options: http.RequestOptions, callback?: (res: http.IncomingMessage) => void): http.ClientRequest => {
        // The tunnel agent destroys its pending connection to the proxy when this aborts.
        const r = (options.protocol === 'https:' ? https : http).request({ ...options, [TUNNEL_SIGNAL]: ctl.signal } as http.RequestOptions, callback);
        if (proxy) arm();
        r.once('socket', (s: Socket) => {
          hasSocket = true;
          socket = s;
          // From here the request may be written out: at once on a connected socket, once
          // connected on a new one; on a new TLS socket once its handshake is done, Node holding
          // what is written before that (a request cut in the handshake reached no registry).
          const out = (): void => {
            wentOut = true;
            req.onSent?.();
          };
          if (s.connecting) s.once(s instanceof TLSSocket ? 'secureConnect' : 'connect', out);
          else out();
          // An answer sent before the body was all read (a proxy's 413) is read, not lost to the failed write.
          if (data !== undefined) holdWriteFailures(s);
          arm();
        });
        // The whole body is with the kernel, which may still be sending what its send buffer
        // holds: no clock runs out before that could have gone at the pace the body went.
        r.once('finish', () => arm(handover.drainMs()));
        // A request that stops taking its body before the end (failed, timed out, cut) is
        // unpiped from it, and the pipe's cleanup resumes a body that still has a 'data'
        // listener (countChunks'): it would then be read on to its end, unsent (a blob GET
        // feeding the upload, downloaded for nothing), until the caller's catch destroyed it (a
        // body that is quick to produce was read whole by then). Destroyed here, it is read no further.
        r.on('unpipe', (body: Readable) => {
          if (!body.readableEnded) body.destroy();
        });
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
        req.unsentSignal?.removeEventListener('abort', onUnsentAbort);
        throw bodyFailure(data.errored, req);
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
      if (bodyError) throw bodyFailure(bodyError, req);
      if (timedOut && proxy && !hasSocket) {
        const host = safeHost(req.url);
        const named = redactProxyUrl(proxy.url);
        throw new NetworkError(
          `cannot reach ${host} through proxy ${named}: the proxy did not answer within ${idle} ms (ETIMEDOUT); ` +
            `check that the proxy is running and reachable (${proxy.settings})`,
          {
            details: { registry: host, request: `${req.method} ${redactUrl(req.url)}`, errno: 'ETIMEDOUT', proxy: named },
          },
        );
      }
      if (timedOut) {
        throw new NetworkError(`cannot reach ${safeHost(req.url)}: no progress for ${idle} ms (ETIMEDOUT)`, {
          details: { registry: safeHost(req.url), request: `${req.method} ${redactUrl(req.url)}`, errno: 'ETIMEDOUT' },
        });
      }
      // No answer after a write the peer refused: the connection's end is named as the write failed.
      // Not for a request we cut (an interrupt): that is E_ABORTED whatever the write met.
      const held = ctl.signal.aborted ? undefined : heldWriteError(socket);
      throw transportError(held ?? err, req, opts.tls, proxy, opts.names);
    } finally {
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      req.unsentSignal?.removeEventListener('abort', onUnsentAbort);
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
      const onCancel = () => body.destroy(abortedRequest(req));
      signal.addEventListener('abort', onCancel, { once: true });
      body.once('close', () => signal.removeEventListener('abort', onCancel));
    }
    const host = safeHost(req.url);
    const onBodyData = opts.onBodyData;
    watchIdle(
      body,
      idle,
      () => new NetworkError(`cannot reach ${host}: response stalled for ${idle} ms (ETIMEDOUT)`, {
        details: { registry: host, request: `${req.method} ${redactUrl(req.url)}`, errno: 'ETIMEDOUT' },
      }),
      onBodyData && (() => onBodyData(host)),
    );
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
