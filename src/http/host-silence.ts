/**
 * Tells a host that has gone silent from one answer that is slow. A registry that accepts
 * connections and never answers (a stopped or deadlocked process; a load balancer whose backends
 * are gone but which still accepts) costs every attempt sent there the whole idle timeout, and
 * each request made its retries one after another: with the default 5 retries, six idle timeouts
 * and ~15 s of backoff per request. A sync of 200 images whose target hung so took ~30 idle
 * timeouts (92 s at 3 s; ~18 min at the default 60 s) to stop, where a target that refuses
 * connections stopped it in a second.
 *
 * A host is silent once attempts of SILENT_REQUESTS different requests have timed out there
 * without an answer and it has answered nothing since the first of them was sent. An attempt there
 * that times out then is not retried, nor is one whose retry was waiting (retry.ts): each request
 * costs one idle timeout, the requests in flight there time out together, and a sync's outage
 * breaker (sync/outage.ts) counts their images as fast as the idle timeout allows.
 *
 * What it leaves alone: one request alone keeps its retries (a single stalled answer, a connection
 * a NAT dropped); a host that answers anything meanwhile is not silent, so one slow answer among
 * others is retried as before; and a new request to a silent host is still sent (once): one answer
 * from the host, to any request, ends its silence, so a registry that recovers is used as before.
 * An answer is its headers or any bytes of its body (told by the socket layer: Transport), so a
 * host still streaming a blob is answering, whatever new requests there wait: a registry whose
 * workers are all busy sending large blobs is slow, not gone.
 */
import { RegpushError } from '../errors.js';
import { safeHost } from './send-errors.js';
import type { Middleware } from './types.js';

/** Different requests that must have timed out at a host, with no answer from it since, for it to be silent. */
export const SILENT_REQUESTS = 2;

/** What one transport knows of its hosts' silences, keyed by URL host (host[:port]). */
export class HostSilence {
  private readonly hosts = new Map<string, { answers: number; stalled: Set<string> }>();

  private of(host: string): { answers: number; stalled: Set<string> } {
    let h = this.hosts.get(host);
    if (!h) this.hosts.set(host, (h = { answers: 0, stalled: new Set() }));
    return h;
  }

  /** An attempt goes to `host`: the mark stalled() is given if it times out (the host's answers so far). */
  sent(host: string): number {
    return this.of(host).answers;
  }

  /** `host` answered (an answer's headers came, or bytes of its body): it is not silent, whatever timed out before. */
  answered(host: string): void {
    const h = this.of(host);
    h.answers++;
    h.stalled.clear();
  }

  /** An attempt of `request` (method and URL) sent to `host` at `mark` timed out without an answer. */
  stalled(host: string, request: string, mark: number): void {
    const h = this.of(host);
    if (h.answers === mark) h.stalled.add(request);
  }

  /** How many requests timed out at `host` with no answer from it since, where that makes it silent; undefined while it is not. */
  silent(host: string): number | undefined {
    const n = this.hosts.get(host)?.stalled.size ?? 0;
    return n >= SILENT_REQUESTS ? n : undefined;
  }
}

/** True for an attempt that ended without an answer within the idle timeout (axios-send.ts), or a connect the system timed out. */
export function isStall(err: unknown): err is RegpushError {
  return err instanceof RegpushError && err.code === 'E_NETWORK' && err.details.errno === 'ETIMEDOUT';
}

/**
 * The host whose silence `err` met, and how many requests timed out there: an attempt that timed
 * out at a host that is silent (now: a retry that waited is asked again). Undefined otherwise.
 */
export function silenceMet(silence: HostSilence | undefined, err: unknown): { host: string; requests: number } | undefined {
  if (!silence || !isStall(err)) return undefined;
  const host = String(err.details.registry ?? '');
  const requests = silence.silent(host);
  return requests === undefined ? undefined : { host, requests };
}

/**
 * Keeps `silence` told of every attempt as it leaves the socket layer: each answer, and each
 * timeout before one, at the host the attempt went to (a redirect's hop included). An attempt
 * that timed out at a host silent by then carries `hostSilent` (the requests timed out there), so
 * that no level above starts it again (retry.ts: restartOutcome).
 */
export function silenceMiddleware(silence: HostSilence): Middleware {
  return (next) => async (req) => {
    const host = safeHost(req.url);
    const mark = silence.sent(host);
    try {
      const res = await next(req);
      silence.answered(host);
      return res;
    } catch (err) {
      if (isStall(err)) {
        silence.stalled(host, `${req.method} ${req.url}`, mark);
        const met = silenceMet(silence, err);
        if (met) err.details.hostSilent = met.requests;
      }
      throw err;
    }
  };
}
