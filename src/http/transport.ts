/**
 * One transport per operation: keep-alive sockets, retry policy and debug logging shared by every
 * registry the operation talks to. Authentication is added per registry on top (src/registry/),
 * so the layering is auth → retry → redirect → debug → axios.
 */
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { USER_AGENT } from '../version.js';
import { connectionOptionNames, type ConnectionNames } from '../option-names.js';
import { answerDeadlineMiddleware } from './answer-deadline.js';
import { bodyWaitMiddleware } from './body-wait.js';
import { createAxiosSend } from './axios-send.js';
import { debugMiddleware } from './debug.js';
import type { EarlySockets } from './early-sockets.js';
import type { ProxySettings } from './proxy-choice.js';
import { redirectMiddleware } from './redirect.js';
import { HostSilence, silenceMiddleware } from './host-silence.js';
import { DEFAULT_RETRY_POLICY, retryMiddleware, type RetryListener, type RetryPolicy } from './retry.js';
import { statsMiddleware, TransportStats } from './stats.js';
import type { TlsResolver } from './tls.js';
import { compose, type Middleware, type Send } from './types.js';

/** Options of a transport. */
export interface TransportOptions {
  logger?: Logger;
  /** Overrides of the retry policy (e.g. `{ retries: 2 }` from --retries). */
  retry?: Partial<RetryPolicy>;
  /** A socket silent this long fails (ms, default 60 000). */
  idleTimeoutMs?: number;
  /** Sockets per origin. */
  maxSockets?: number;
  /** Called before each retry. */
  onRetry?: RetryListener;
  /** Extra middlewares placed just above the socket (tests, fault injection, metrics). */
  inner?: Middleware[];
  userAgent?: string;
  /** Proxy settings; see proxySettingsFromEnv. */
  proxy?: ProxySettings;
  /** TLS per host (certs.d, extra CAs, client certificates, verification off); see tlsResolver. */
  tls?: TlsResolver;
  /** Connections opened before the operation started, taken where the agents would connect (early-sockets.ts). */
  early?: EarlySockets;
  /**
   * What the hints of a failed connection call the settings that fix it: the library's options
   * (the default) or the CLI's flags (the `connectionNames` connection option; see transportFor).
   */
  names?: ConnectionNames;
}

/**
 * How the clients of one kind of host send through a shared transport: their own retry policy and
 * a deadline (ms) for each answer to start and for each silence of its body once it has started
 * (answer-deadline.ts). The sockets, TLS settings, proxies and stats stay
 * the transport's. One retry level still: the profile replaces the transport's retries for those
 * requests, it does not wrap them.
 */
export interface SendProfile {
  retry?: Partial<RetryPolicy>;
  answerTimeoutMs?: number;
}

/** The shared HTTP machinery of one operation. */
export class Transport {
  /** Send without authentication: retry → redirect → debug → axios. */
  readonly send: Send;
  /** Send without authentication or retries (for probes whose failure is an answer). */
  readonly sendOnce: Send;
  /** The retry policy in force. */
  readonly retryPolicy: RetryPolicy;
  readonly logger: Logger;
  readonly userAgent: string;
  /** What this operation's hints call the settings that fix a failure (TransportOptions.names); the clients word their errors with it. */
  readonly names: ConnectionNames;
  /** A socket silent this long fails (ms), as given to the socket layer. */
  readonly idleTimeoutMs: number;
  /** Requests, retries and rate-limit headers seen (for the JSON report). */
  readonly stats = new TransportStats();
  /** Hosts that have gone silent (accept, never answer): their timed-out attempts are not retried (host-silence.ts). */
  readonly silence = new HostSilence();
  /** API base URL per loopback host, as probed once for every client of this transport (push's source and target may share a registry). */
  readonly baseUrls = new Map<string, Promise<string>>();
  /** The scheme each of those probes settled on, once it has: what its hosts' stats are keyed by (RegistryHttp.statsHost), known to a client made after the probe without awaiting it. */
  readonly probedSchemes = new Map<string, 'http' | 'https'>();
  private readonly closeBase: () => void;
  private readonly preconnectBase: (url: string, n: number) => Promise<void>;
  private readonly stack: (retry: RetryPolicy | undefined, answerTimeoutMs: number | undefined) => Send;

  constructor(opts: TransportOptions = {}) {
    this.logger = opts.logger ?? silentLogger;
    this.userAgent = opts.userAgent ?? USER_AGENT;
    this.names = opts.names ?? connectionOptionNames;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
    const base = createAxiosSend({
      userAgent: this.userAgent,
      idleTimeoutMs: opts.idleTimeoutMs,
      maxSockets: opts.maxSockets,
      proxy: opts.proxy,
      tls: opts.tls,
      early: opts.early,
      names: this.names,
      // A body still arriving from a host is the host answering: it is not silent, whatever new requests there wait.
      onBodyData: (host) => this.silence.answered(host),
    });
    this.closeBase = () => base.close();
    this.preconnectBase = (url, n) => base.preconnect(url, n);
    this.retryPolicy = { ...DEFAULT_RETRY_POLICY, ...(opts.retry ?? {}) };
    const inner = [
      redirectMiddleware(),
      debugMiddleware(this.logger),
      statsMiddleware(this.stats),
      silenceMiddleware(this.silence),
      told('onAnswer'),
      bodyWaitMiddleware(),
      told('onHeaders'),
      ...(opts.inner ?? []),
    ];
    const onRetry: RetryListener = (info) => {
      this.stats.retried();
      opts.onRetry?.(info);
    };
    // The deadline sits inside the retries: each attempt gets its own.
    this.stack = (retry, answerTimeoutMs) =>
      compose(base, ...(retry ? [retryMiddleware(retry, onRetry, this.silence)] : []), ...(answerTimeoutMs ? [answerDeadlineMiddleware(answerTimeoutMs)] : []), ...inner);
    this.send = this.stack(this.retryPolicy, undefined);
    this.sendOnce = this.stack(undefined, undefined);
  }

  /**
   * This transport, for the clients of hosts that get another profile (mirrors): `send` and
   * `sendOnce` follow `profile`; everything else (sockets, stats, scheme probes, close) is shared.
   */
  withProfile(profile: SendProfile): Transport {
    const retryPolicy = { ...this.retryPolicy, ...(profile.retry ?? {}) };
    const view = Object.create(this) as Transport;
    Object.defineProperties(view, {
      retryPolicy: { value: retryPolicy },
      send: { value: this.stack(retryPolicy, profile.answerTimeoutMs) },
      sendOnce: { value: this.stack(undefined, profile.answerTimeoutMs) },
    });
    return view;
  }

  /**
   * Opens connections to `url`'s origin until `n` are open there (busy, idle or spare), sending
   * nothing: requests that follow skip the handshake. A spare nobody uses closes after
   * WAITING_IDLE_MS (waiting-sockets.ts), or at close(). Never rejects.
   */
  preconnect(url: string, n: number): Promise<void> {
    return this.preconnectBase(url, n);
  }

  /** Closes idle keep-alive sockets so the process can exit. */
  close(): void {
    this.closeBase();
  }
}

/**
 * Tells a request's `hook` of each answer where this sits: onHeaders as it comes from the socket
 * layer, below every middleware that reads a body; onAnswer above the body-wait middleware. The
 * socket-layer one also tells onAttemptError of each attempt that fails without an answer.
 */
function told(hook: 'onHeaders' | 'onAnswer'): Middleware {
  return (next) => async (req) => {
    let res;
    try {
      res = await next(req);
    } catch (err) {
      if (hook === 'onHeaders') req.onAttemptError?.(err);
      throw err;
    }
    req[hook]?.(res);
    return res;
  };
}
