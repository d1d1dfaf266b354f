/**
 * Follows redirects by hand (axios runs with maxRedirects: 0). Registries send blob GETs to S3/CDN
 * storage; the Authorization header must never follow to another origin (ECR, ACR and Docker Hub
 * storage reject it — Azure/acr#217), and https must never be downgraded to http.
 */
import { ProtocolError } from '../errors.js';
import { redactUrl } from '../redact.js';
import type { HttpRequest, Middleware } from './types.js';

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Hops after which we give up (a loop or a misconfigured CDN). */
const MAX_REDIRECTS = 5;

/** Middleware following redirects of body-less requests; strips credentials across origins. */
export function redirectMiddleware(): Middleware {
  return (next) => async (req) => {
    let current: HttpRequest = req;
    const from = new URL(req.url).host;
    // The first host the redirects led to other than `from`: all that a message says of the way
    // (errorFromResponse), where a list of every hop would be kept for nothing.
    let away: string | undefined;
    for (let hop = 0; ; hop++) {
      const res = await next(current);
      // What answered after a redirect is said (HttpResponse.redirected): a refusal from storage,
      // or from the registry reached again without the Authorization a hop dropped, is not the
      // registry's verdict on the credentials.
      const end = (): typeof res => {
        if (hop > 0) res.redirected = { from, away, authorizationDropped: hasAuthorization(req) && !hasAuthorization(current) };
        return res;
      };
      if (!REDIRECTS.has(res.status) || (current.method !== 'GET' && current.method !== 'HEAD')) return end();
      const location = res.headers['location'];
      if (!location) return end();
      // A registry that redirects a blob HEAD to storage found the blob before it redirected; the
      // storage URL may be signed for GET only (HttpRequest.answerAtStorageRedirect).
      if (req.answerAtStorageRedirect && isStorageRedirect(res.status, req.url, current.url, location)) return end();
      res.body.resume();
      if (hop >= MAX_REDIRECTS) {
        throw new ProtocolError(`too many redirects (more than ${MAX_REDIRECTS}) starting at ${redactUrl(req.url)}`);
      }
      current = nextHop(current, location);
      const host = new URL(current.url).host;
      if (away === undefined && host !== from) away = host;
    }
  };
}

/**
 * True for a redirect to storage, as distribution sends one: a 307 or 308 (its only redirects) to
 * another host (host and port), by the same scheme or from http up to https (a plain-http registry
 * on S3 storage). Not a 301/302/303 (an SSO front sending to its login page), nor a move to the
 * same host by another scheme or back down to http (an http-to-https front): those are followed,
 * their answer read, as any redirect. False for a Location that does not parse (nextHop refuses it).
 */
function isStorageRedirect(status: number, first: string, at: string, location: string): boolean {
  if ((status !== 307 && status !== 308) || !URL.canParse(location, at)) return false;
  const [to, from] = [new URL(location, at), new URL(first)];
  const scheme = to.protocol === from.protocol || (from.protocol === 'http:' && to.protocol === 'https:');
  return scheme && to.host !== from.host;
}

function hasAuthorization(req: HttpRequest): boolean {
  return Object.keys(req.headers ?? {}).some((k) => k.toLowerCase() === 'authorization');
}

/** Builds the request for the next hop: resolves relative Locations, drops auth across origins. */
export function nextHop(req: HttpRequest, location: string): HttpRequest {
  let target: URL;
  try {
    target = new URL(location, req.url);
  } catch {
    throw new ProtocolError(`invalid redirect Location from ${redactUrl(req.url)}`);
  }
  const from = new URL(req.url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new ProtocolError(`refusing redirect to a ${target.protocol} URL from ${from.host}`);
  }
  if (from.protocol === 'https:' && target.protocol === 'http:') {
    throw new ProtocolError(`refusing redirect from https to plain http (${from.host} → ${target.host})`);
  }
  const headers = { ...(req.headers ?? {}) };
  if (target.origin !== from.origin) delete headers['authorization'];
  return { ...req, url: target.toString(), headers };
}
