/**
 * The transport's vocabulary. Every request regpush makes goes through one `Send` built of
 * middlewares (auth → retry → redirect → axios); see src/http/transport.ts (the auth middleware
 * is composed over the transport's send per registry, in registry/http-registry-client.ts).
 */
import type { Readable } from 'node:stream';

/** A request body. A function is a factory: calling it again re-produces the same bytes (replayable). */
export type RequestBody = Buffer | (() => Readable | Buffer);

/** One HTTP request. */
export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Absolute URL. */
  url: string;
  /** Header names in lower case. */
  headers?: Record<string, string>;
  /** Buffer or factory: replayable. A bare stream is not allowed, so retries always know. */
  body?: RequestBody;
  /**
   * False when the request must not be sent again by the transport's retries: a body factory that
   * cannot be called twice (it wraps a stream read once), or upload bytes to a session URL, even
   * in a Buffer. A registry that took part of such a body before the connection broke (or before
   * a proxy answered 502/504) has moved the session past the offset its URL names, and answers the
   * same request again 404 BLOB_UPLOAD_INVALID (distribution's `_state`); the upload starts again
   * on a new session instead (src/transfer/upload.ts). The auth layer still sends a Buffer again
   * after a 401, which a registry answers before it takes any of the body.
   */
  replayable?: boolean;
  /** Cancels the request and the response stream. */
  signal?: AbortSignal;
  /**
   * Cancels the request only while nothing of it has gone out: before the socket layer, waiting
   * in the agent for a pooled socket, or on a socket still connecting. A request on the wire by
   * then goes on, under `signal` alone, and no attempt is sent after it (a retry, a redirect's
   * next hop). An interrupted upload request (registry/upload-grace.ts) is let finish this way.
   */
  unsentSignal?: AbortSignal;
  /**
   * Told when an attempt of the request may start going out: the agent has given it a socket that
   * is connected. Until then it waits in the agent's queue (or on a socket still connecting) and
   * has reached no server: a write cut off before this was told, on every attempt, did not take
   * effect at the registry (an interrupted manifest PUT: registry/manifests.ts).
   */
  onSent?: () => void;
  /**
   * Told of each answer as its status and headers arrive, before any layer reads its body (the
   * body-wait middleware reads a 429's): what the headers alone say can be acted on while the
   * connection is still the answer's, before a request queued for it goes out.
   */
  onHeaders?: (res: HttpResponse) => void;
  /**
   * Told of each answer once the body-wait middleware has read what it reads of it (a 429's body,
   * for a wait named there: waitInBody), before the retries decide on it: what onHeaders could not
   * tell yet, with the connection already handed on.
   */
  onAnswer?: (res: HttpResponse) => void;
  /**
   * Told of each attempt that ends without an answer (a socket error, a timeout, a cancellation),
   * as it fails, before any retry: with onHeaders, the end of every attempt, whatever comes after.
   */
  onAttemptError?: (err: unknown) => void;
  /** Repository scopes this request needs beyond the operation's (e.g. pull on a mount source). */
  scopes?: string[];
  /** Free-form label for logs and progress ("manifest GET", "blob PUT"). */
  label?: string;
  /**
   * A redirect to storage (a 307 or 308 to another host, not down to http: isStorageRedirect in
   * redirect.ts) is the answer itself, not followed: a blob HEAD's (registry/blob-reads.ts). Any
   * other redirect is followed.
   */
  answerAtStorageRedirect?: boolean;
}

/** One HTTP response; the body is always a stream, consumed or destroyed by the caller. */
export interface HttpResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with ", " except set-cookie. */
  headers: Record<string, string>;
  /** The URL that produced this response (after redirects). */
  url: string;
  body: Readable;
  /**
   * True when the transport owned the retries of this request (its body was replayable): a final
   * failing answer has had every retry the policy allows, and no level above may retry it again.
   */
  retriedByTransport?: boolean;
  /**
   * True when the auth layer handed back a 401 to a request whose body it could not replay, after
   * dropping the stale token that was sent (or learning the scheme nothing was sent for): the same
   * request made again, with its body opened again, authenticates with what is now known.
   */
  authRenewed?: boolean;
  /**
   * Set by the redirect middleware on an answer that came after redirects: the host the request
   * was sent to first, the first other host the redirects led to (none when every hop stayed on
   * `from`), and whether its Authorization was dropped on the way (a hop to another origin; never
   * sent again).
   */
  redirected?: { from: string; away?: string; authorizationDropped: boolean };
  /**
   * Set by the stats middleware on a 429 that carries no rate-limit header: the count its host
   * sent last in the operation, as sent (`ratelimit-remaining` and `ratelimit-limit`), which the
   * retry and the error read in its place (countOf in stats.ts).
   */
  countBefore?: { remaining: string; limit?: string };
  /**
   * Set by the body-wait middleware on a 429 without Retry-After whose error body names the wait
   * (GHCR's `retry-after: 1.16676ms`; waitInBody in retry.ts), in ms: the retry and the error read
   * it as a Retry-After. Its body has then been read, and is handed on as those bytes.
   */
  waitInBody?: number;
}

/** Sends one request and resolves with the response (any status). Rejects only on transport failure. */
export type Send = (req: HttpRequest) => Promise<HttpResponse>;

/** Wraps a Send with one concern (auth, retry, redirect, logging). */
export type Middleware = (next: Send) => Send;

/** Composes middlewares; the first one listed is the outermost. */
export function compose(base: Send, ...middlewares: Middleware[]): Send {
  return middlewares.reduceRight<Send>((next, mw) => mw(next), base);
}
