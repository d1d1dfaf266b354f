/**
 * Which protocol a registry reached by probing speaks (an 'auto' endpoint: a loopback host, or a
 * host named insecure-TLS in registries.conf), told by a `GET /v2/` sent only for that. A module of
 * its own because it is connection-level guesswork with rules of its own (which failure means "not
 * TLS" and which "nothing there"), apart from the API's requests; registry-http.ts asks once per
 * host and run and shares the answer.
 */
import { NetworkError, RegpushError } from '../errors.js';
import { drain } from '../http/response.js';
import type { HttpResponse, Send } from '../http/types.js';
import type { Logger } from '../log.js';
import { isLoopbackHost } from '../ref/host-address.js';

/** How long the scheme probe waits for the rest of its (tiny) body before going on without it. */
export const PROBE_DRAIN_MS = 1000;

/** The errno a probe attempt failed with ('' for an error that is not regpush's). */
function errnoOf(err: unknown): string {
  return err instanceof RegpushError ? String(err.details.errno ?? '') : '';
}

/**
 * A failure that says the port answered, but not in TLS: a plain-HTTP server read as a TLS record
 * (EPROTO, or OpenSSL's "wrong version number").
 */
function notTls(errno: string): boolean {
  return errno === 'EPROTO' || errno === 'ERR_SSL_WRONG_VERSION_NUMBER';
}

/**
 * No answer within the idle timeout (the transport's, or a mirror's answer deadline): the port
 * accepted the connection and then said nothing. The other protocol on the same port is not
 * asked: a TLS server answers a plain request at once (Go's 400, or a hang-up), and a plain one a
 * TLS hello (its 400), so the second attempt would only wait as long again.
 */
function noAnswer(errno: string): boolean {
  return errno === 'ETIMEDOUT';
}

/** What a probe needs: the send without auth or retries (Transport.sendOnce), and where to ask. */
export interface SchemeProbe {
  probe: Send;
  host: string;
  /** `/` + the API path, or '' for an API at the host's root. */
  apiBase: string;
  signal?: AbortSignal;
  logger: Logger;
  /**
   * The setting that named the host insecure-TLS (`insecure = true in FILE`), where one did: a host
   * that ends up on plain HTTP is warned of here, once the protocol is known. Its TLS warning
   * ("verification is off") is the TLS resolver's, given when a host answers over TLS (whatever
   * its role: a token service or a redirect target is probed by nobody): given before the TLS
   * attempt, it said "encrypted" of a host then spoken to in plain HTTP.
   */
  insecureTlsSetting?: string;
  /**
   * Told of the answer that decided the scheme, before the probe settles: a 401 there names the
   * registry's challenge, which the requests waiting for the probe then answer up front
   * (AuthMiddleware.heard) instead of each being refused once first.
   */
  heard?: (res: HttpResponse) => void;
}

/** The warning for an insecure-TLS host (SchemeProbe.insecureTlsSetting) spoken to in plain HTTP. */
function warnInsecureTls({ host, logger, insecureTlsSetting }: SchemeProbe, url: string): string {
  // A loopback host in plain HTTP is spoken to so whatever the setting: nothing to warn of.
  if (insecureTlsSetting !== undefined && url.startsWith('http:') && !isLoopbackHost(host)) {
    logger.warn(`${host} is spoken to in plain HTTP (${insecureTlsSetting}; it did not answer over TLS): the connection is neither encrypted nor authenticated`);
  }
  return url;
}

/**
 * The API base URL of `p.host`, `http://…/v2/` or `https://…/v2/`. Which protocol a loopback port
 * speaks: a port speaks one of them, so the answer is the same as Docker's "TLS first": asking in
 * plain HTTP first (no credentials in it) spares the common case, a local registry:2 in CI, the TLS
 * machinery (measured: ~20 ms of a 0.35 s warm push). A TLS server refuses a plain request (Go
 * answers 400 "HTTP request to an HTTPS server", OpenSSL-based servers hang up), and then the TLS
 * probe decides. A host that is not loopback is asked over TLS first (probeTlsFirst).
 */
export async function probeScheme(p: SchemeProbe): Promise<string> {
  return warnInsecureTls(p, await probeSchemeOf(p));
}

async function probeSchemeOf(p: SchemeProbe): Promise<string> {
  const { probe, host, apiBase, signal, logger } = p;
  if (!isLoopbackHost(host)) return probeTlsFirst(p);
  // A 400 to the plain request may be a TLS server's answer (Go's) — or Nexus's 400 in place of a
  // 401 over plain HTTP. After it, a TLS attempt that is reset (transiently, or for a client
  // certificate) is a failure to report, not a sign of plain HTTP; an answer that is not TLS still is.
  let answered400 = false;
  try {
    const res = await probe({ method: 'GET', url: `http://${host}${apiBase}/v2/`, signal });
    // The requests waiting for the scheme go out right after this: with the probe's body read to
    // its end first, its connection is back in the keep-alive pool and the first of them reuses
    // it instead of opening another (one handshake less where the round trip is long).
    await drain(res, PROBE_DRAIN_MS);
    if (res.status !== 400) {
      p.heard?.(res);
      logger.debug(`${host} answers plain HTTP; using http (loopback)`);
      return `http://${host}${apiBase}/v2/`;
    }
    answered400 = true;
  } catch (err) {
    const errno = errnoOf(err);
    // Nothing listening, no answer, or the operation was cancelled: a TLS attempt cannot answer otherwise.
    if (errno === 'ECONNREFUSED' || noAnswer(errno) || signal?.aborted) throw err;
  }
  return probe({ method: 'GET', url: `https://${host}${apiBase}/v2/`, signal }).then(
    async (res) => {
      await drain(res);
      p.heard?.(res);
      return `https://${host}${apiBase}/v2/`;
    },
    (err: unknown) => {
      const errno = errnoOf(err);
      // A plain-HTTP server answers a TLS hello with bytes that are not TLS (EPROTO) or hangs up.
      if (notTls(errno) || (errno === 'ECONNRESET' && !answered400)) {
        logger.debug(`${host} does not speak TLS; using plain http (loopback)`);
        return `http://${host}${apiBase}/v2/`;
      }
      throw err;
    },
  );
}

/**
 * The scheme of a host that is not loopback but may be reached either way (registries.conf's
 * `insecure = true`, daemon.json's `insecure-registries`): there https and http are usually two
 * ports (443 and 80), not one port speaking one of them, so TLS (verification off in the
 * transport) is asked first, as containers/image and dockerd do, and any failure of it but a
 * cancel tries plain HTTP. When both fail, the TLS failure is the one reported, unless it said the
 * host answered but not in TLS: then the plain-HTTP attempt's failure is what went wrong (the TLS
 * one would advise the plain-HTTP setting that is already there); where either got no answer,
 * the line names both (bothFailed). A host:port that gave no answer over TLS is not asked again
 * in plain HTTP (noAnswer). A host without a port is asked at 80 alongside 443, not after it:
 * a 443 that takes the connection and says nothing (a load balancer or firewall holding it)
 * costs one idle timeout, not one per port, and plain HTTP still serves when it is on 80, as
 * dockerd falls back to it. The TLS answer is still the one used whenever there is one.
 */
async function probeTlsFirst({ probe, host, apiBase, signal, logger, heard, insecureTlsSetting }: SchemeProbe): Promise<string> {
  const tlsUrl = `https://${host}${apiBase}/v2/`;
  const plainUrl = `http://${host}${apiBase}/v2/`;
  const portless = !/:\d+$/.test(host);
  const alongside = portless ? sideAttempt(probe, plainUrl, signal) : undefined;
  try {
    const res = await probe({ method: 'GET', url: tlsUrl, signal });
    if (alongside) {
      // Said before the cancel, whose own debug line ("aborted") would otherwise stand unexplained.
      logger.debug(`${host} answers over TLS; using https, the plain http attempt at port 80 is dropped (insecure)`);
      alongside.cancel();
    }
    await drain(res, PROBE_DRAIN_MS);
    heard?.(res);
    return tlsUrl;
  } catch (err) {
    if (signal?.aborted || (noAnswer(errnoOf(err)) && !portless)) {
      alongside?.cancel();
      throw err;
    }
    logger.debug(`${host} did not answer over TLS (${(err as Error).message}); ${alongside ? 'using the plain http attempt at port 80' : 'trying plain http'} (insecure)`);
    try {
      const res = await (alongside?.answer ?? probe({ method: 'GET', url: plainUrl, signal }));
      await drain(res, PROBE_DRAIN_MS);
      heard?.(res);
      logger.debug(`${host} answers plain HTTP; using http (insecure)`);
      return plainUrl;
    } catch (plainErr) {
      if (signal?.aborted) throw err;
      if (isNetworkFailure(err) && isNetworkFailure(plainErr) && (noAnswer(errnoOf(err)) || noAnswer(errnoOf(plainErr)))) {
        throw bothFailed(host, [tlsUrl, err], [plainUrl, plainErr], portless, insecureTlsSetting);
      }
      throw notTls(errnoOf(err)) ? plainErr : err;
    }
  }
}

/**
 * A probe sent beside another: its answer (rejections are also kept for whoever awaits it), and
 * a cancel for when the other one decided, which ends the request and any answer it brought.
 */
function sideAttempt(probe: Send, url: string, signal: AbortSignal | undefined): { answer: Promise<HttpResponse>; cancel: () => void } {
  const own = new AbortController();
  const answer = probe({ method: 'GET', url, signal: signal ? AbortSignal.any([signal, own.signal]) : own.signal });
  answer.catch(() => {});
  return {
    answer,
    cancel: () => {
      own.abort();
      answer.then((res) => res.body.destroy(), () => {});
    },
  };
}

/** A failure to reach the host (E_NETWORK: refused, reset, no answer), not a TLS or HTTP one. */
function isNetworkFailure(err: unknown): err is RegpushError {
  return err instanceof RegpushError && err.code === 'E_NETWORK';
}

/**
 * The one line for a host asked both ways where neither answered and one of them said nothing
 * at all: which protocol went to which port and what each met, and what to check. Alone, the
 * TLS attempt's line ("no progress for 60000 ms") named no port and did not say plain HTTP had
 * been tried too.
 */
function bothFailed(host: string, [tlsUrl, tlsErr]: [string, RegpushError], [plainUrl, plainErr]: [string, RegpushError], portless: boolean, setting: string | undefined): NetworkError {
  // The transport's line without its "cannot reach HOST: " and its hint, which spoke of one attempt.
  const met = (err: RegpushError): string => err.message.replace(`cannot reach ${host}: `, '').split('; ')[0]!;
  const portOf = (url: string): string => new URL(url).port || (url.startsWith('https:') ? '443' : '80');
  const why = setting ? ` (${setting})` : '';
  const message = portless
    ? `cannot reach ${host}, asked over TLS at port ${portOf(tlsUrl)} and in plain HTTP at port ${portOf(plainUrl)}${why}: ` +
      `port ${portOf(tlsUrl)}: ${met(tlsErr)}; port ${portOf(plainUrl)}: ${met(plainErr)}; ` +
      `check that the registry is running and which port it listens on (one on another port is named with it: ${host}:PORT)`
    : `cannot reach ${host}, asked over TLS and then in plain HTTP${why}: over TLS: ${met(tlsErr)}; in plain HTTP: ${met(plainErr)}; ` +
      `check that the registry is running and listens at ${host}`;
  return new NetworkError(message, {
    cause: tlsErr,
    details: { registry: host, request: tlsErr.details.request, errno: noAnswer(errnoOf(tlsErr)) ? errnoOf(tlsErr) : errnoOf(plainErr), plainRequest: plainErr.details.request },
  });
}
