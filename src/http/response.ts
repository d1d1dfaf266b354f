/**
 * Reading small bodies safely and turning failed responses into typed errors that keep the
 * registry's OCI error codes. Blob bodies are never read here: they stay streams.
 */
import { Readable } from 'node:stream';
import {
  AuthError,
  DeniedError,
  DigestMismatchError,
  NetworkError,
  NotFoundError,
  ProtocolError,
  RegistryError,
  RegpushError,
  TooManyRequestsError,
  type ErrorDetails,
} from '../errors.js';
import { connectionOptionNames, type ConnectionNames } from '../option-names.js';
import { redactText } from '../redact.js';
import type { HttpResponse } from './types.js';
import { DEFAULT_RETRY_POLICY, parseRetryAfter, quotaSpent } from './retry.js';
import { countOf, parseRateLimitHeader, type CountSent } from './stats.js';

/** Cap for manifests and configs (distribution itself refuses manifests over 4 MiB). */
export const MANIFEST_CAP = 4 * 1024 * 1024;
/** Cap for configs, which can carry long histories. */
export const CONFIG_CAP = 8 * 1024 * 1024;
/** Cap for error bodies and token replies. */
const SMALL_CAP = 64 * 1024;

/** Reads a whole body up to `cap` bytes; beyond that it destroys the stream and throws ProtocolError. */
export async function readBody(res: HttpResponse, cap: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > cap) {
    res.body.destroy();
    throw new ProtocolError(`${what} is too large: ${declared} bytes (limit ${cap})`, { details: { size: declared, cap } });
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      total += b.length;
      if (total > cap) {
        res.body.destroy();
        throw new ProtocolError(`${what} is too large: more than ${cap} bytes`, { details: { cap } });
      }
      chunks.push(b);
    }
  } catch (err) {
    if (err instanceof RegpushError) throw err;
    throw cutShort(err, res, what, total, declared);
  }
  return Buffer.concat(chunks, total);
}

/**
 * The error for a body whose connection failed before its end (fewer bytes than its Content-Length,
 * a chunked body without its last chunk): Node's bare "aborted" would reach the user as an
 * internal error. Typed with the socket's errno, so that a level that retries can.
 */
function cutShort(err: unknown, res: HttpResponse, what: string, got: number, declared: number): NetworkError {
  const errno = String((err as { code?: unknown } | undefined)?.code ?? 'ECONNRESET');
  let registry: string | undefined;
  try {
    registry = new URL(res.url).host;
  } catch {
    registry = undefined;
  }
  const of = Number.isFinite(declared) ? ` of ${declared}` : '';
  const from = registry ? ` from ${registry}` : '';
  return new NetworkError(`${what}: connection lost after ${got}${of} bytes${from} (${errno}); check the network and proxy settings, then retry`, {
    cause: err,
    details: { ...(registry ? { registry } : {}), errno },
  });
}

/** Reads and parses a JSON body (capped); malformed JSON is a ProtocolError naming `what`. */
export async function readJson<T = unknown>(res: HttpResponse, cap: number, what: string): Promise<T> {
  const buf = await readBody(res, cap, what);
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch {
    throw new ProtocolError(`${what} is not valid JSON`);
  }
}

/**
 * Reads a small body (an error or challenge answer) to its end and returns the response with those
 * bytes as its body, so that its connection goes back to the keep-alive pool now while the caller
 * can still read what the server said. The auth middleware does this with a 401 before it asks for
 * a token: a realm on the registry's own host (GHCR, ACR, Harbor…) then gets the connection the
 * 401 came on instead of a new one. A body declared larger than `cap` is left as it is; one that
 * turns out larger, or fails, is replaced by an empty one (its connection is closed then).
 */
export async function settleSmallBody(res: HttpResponse, cap = SMALL_CAP): Promise<HttpResponse> {
  return (await settledBody(res, cap)).res;
}

/** As settleSmallBody, with the bytes read (none where the body was left as it is, or failed). */
export async function settledBody(res: HttpResponse, cap = SMALL_CAP): Promise<{ res: HttpResponse; bytes: Buffer }> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > cap) return { res, bytes: Buffer.alloc(0) };
  let bytes: Buffer;
  try {
    bytes = await readBody(res, cap, 'response body');
  } catch {
    bytes = Buffer.alloc(0);
  }
  return { res: { ...res, body: Readable.from(bytes.length ? [bytes] : [], { objectMode: false }) }, bytes };
}

/**
 * Discards a body we do not need, so that its connection goes back to the keep-alive pool, and
 * resolves once the body has ended — or, with `waitMs` 0, after this turn of the event loop when it
 * has not (its bytes are still on their way: the caller does not wait for them). An empty body (a
 * HEAD, a 201/202 without one) ends within the turn, and Node hands the connection back to the
 * agent in the tick after 'end', before the caller's next request is made: that request reuses it
 * instead of opening another, a handshake less where the round trip is long.
 */
export function drain(res: HttpResponse, waitMs = 0): Promise<void> {
  res.body.on('error', () => {});
  if (res.body.readableEnded || res.body.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let stopWaiting = (): void => {};
    const done = (): void => {
      stopWaiting();
      resolve();
    };
    if (waitMs > 0) {
      const timer = setTimeout(done, waitMs).unref();
      stopWaiting = () => clearTimeout(timer);
    } else {
      const turn = setImmediate(done);
      stopWaiting = () => clearImmediate(turn);
    }
    res.body.once('end', done).once('close', done).once('error', done);
    res.body.resume();
  });
}

interface OciErrorBody {
  errors?: { code?: string; message?: string; detail?: unknown }[];
}

/** Context of a failed response, for the error message. */
export interface FailureContext {
  /** What we were doing, e.g. "GET manifest 127.0.0.1:5000/app:1". */
  what: string;
  /** Registry host. */
  registry: string;
  /** What the hints call the settings that fix a failure (the transport's: Transport.names); default the library's options. */
  names?: ConnectionNames;
  /** What named the registry insecure, when not `names.insecureSetting` (the REGPUSH_INSECURE_REGISTRIES variable). */
  insecureSetting?: string;
  /** The registry is a mirror configured with http://: that scheme, not an insecure setting, is what sent plain HTTP. */
  plainHttpMirror?: boolean;
}

/** "a", "a, or b", "a, b, or c": advice in the order given. */
function either(choices: string[]): string {
  return choices.length < 2 ? choices.join('') : `${choices.slice(0, -1).join(', ')}, or ${choices.at(-1)}`;
}

/**
 * A 404's advice: check the name, and the call that shows what there is (`names.inspect`, else
 * `names.tags`: transportFor keeps the one the operation should advise, neither for a tag list). Also worded by the
 * registry commands for a 404 without an error body (a HEAD's).
 */
export function notFoundAdvice(names: ConnectionNames): string {
  if (names.inspect) return `check the repository name and tag or digest; ${names.inspect} shows what a reference resolves to`;
  if (names.tags) return `check the repository name and tag or digest; ${names.tags} lists the tags it has`;
  // A tag list's 404 is its repository's: the calls above would fail the same way.
  return 'check the repository name';
}

/**
 * What to do next, appended to the errors users meet most; `names` words the settings the caller
 * would change, and has only those the operation at hand offers (no `jobs` for inspect, no
 * `credentials` for login: transportFor's HintedSettings).
 */
const HINT = {
  auth: (registry: string, names: ConnectionNames) => `check the credentials for ${registry}${names.credentials ? `: ${names.credentials(registry)}` : ''}`,
  denied: 'access denied: the credentials were accepted but lack permission on this repository; check its name and your pull/push rights',
  notFound: notFoundAdvice,
  tooLarge: (registry: string) =>
    `the request body is larger than ${registry} or a proxy in front of it accepts; its operator can raise the limit (nginx client_max_body_size, ingress-nginx proxy-body-size)`,
  rateLimited: (names: ConnectionNames) =>
    either(['wait and retry', ...(names.jobs ? [`lower ${names.jobs}`] : []), ...(names.credentials ? ['log in (Docker Hub allows authenticated users more pulls)'] : [])]),
  /** After "as it comes back only over its window: ". */
  pullLimitSpent: (names: ConnectionNames) => either([...(names.credentials ? ['log in (Docker Hub allows authenticated users more pulls)'] : []), 'run again later']),
  blobLinkRace:
    'the registry could not read its record of a blob the manifest names, as happens while other writers store the same blob in this repository; nothing was corrupt: run again once they are done',
};

/**
 * The used-up pull limit a 429 says ("ratelimit-remaining 0 of 100 per 6 h"; countBefore: the
 * count its host sent last, for a 429 that carries none), or undefined: what its error will say
 * (errorFromResponse), told before. At its headers, before its body is read, a wait the body names
 * (waitInBody, which makes it an ordinary 429) is not known yet: the answer is only a candidate then.
 */
export function pullLimitSpentBy(res: Pick<HttpResponse, 'status' | 'headers' | 'countBefore' | 'waitInBody'>): string | undefined {
  if (res.status !== 429) return undefined;
  const count = countOf(res);
  return quotaSpent({ status: 429, retryAfter: res.headers['retry-after'], rateLimitRemaining: count.remaining, waitMs: res.waitInBody }) ? pullLimitText(count) : undefined;
}

/** "ratelimit-remaining 0 of 100 per 6 h", from a registry's count (countOf). */
function pullLimitText(count: Partial<CountSent>): string {
  const left = parseRateLimitHeader(count.remaining);
  const limit = parseRateLimitHeader(count.limit);
  const w = limit?.window ?? left?.window;
  const per = w === undefined ? '' : ` per ${w % 3600 === 0 ? `${w / 3600} h` : w % 60 === 0 ? `${w / 60} min` : `${w} s`}`;
  return `ratelimit-remaining ${left?.value ?? 0}${limit ? ` of ${limit.value}` : ''}${per}`;
}

/** Builds the typed error for a failed response, reading its OCI error body (capped). */
export async function errorFromResponse(res: HttpResponse, ctx: FailureContext): Promise<RegpushError> {
  const names = ctx.names ?? connectionOptionNames;
  let codes: string[] = [];
  let messages: string[] = [];
  let text = '';
  try {
    const buf = await readBody(res, SMALL_CAP, 'error body');
    text = buf.toString('utf8');
    const parsed = JSON.parse(text) as OciErrorBody;
    if (Array.isArray(parsed.errors)) {
      codes = parsed.errors.map((e) => String(e.code ?? '')).filter(Boolean);
      messages = parsed.errors.map((e) => String(e.message ?? '')).filter(Boolean);
    }
  } catch {
    res.body.destroy();
  }
  const details: ErrorDetails = { registry: ctx.registry, status: res.status, registryCodes: codes };
  // The registry's own words, apart from the codes: a refusal they explain is not taken for another (registry-http.ts, failWrite).
  if (messages.length) details.registryMessages = messages;
  // Kept so a retry above the request level (a whole blob transfer) can still honour it.
  if (res.headers['retry-after']) details.retryAfter = res.headers['retry-after'];
  else if (res.waitInBody !== undefined) details.waitInBody = res.waitInBody;
  // And the count a 429 came with (or stands for: countOf): one that says the pull limit is spent is not retried at either level.
  const count = countOf(res);
  if (count.remaining) details.rateLimitRemaining = count.remaining;
  if (res.retriedByTransport) details.transportRetried = true;
  if (res.authRenewed) details.authRenewed = true;
  const said = codes.length ? ` ${codes.join(', ')}${messages.length ? `: ${messages.join('; ')}` : ''}` : '';
  const base = redactText(`${ctx.what}: ${ctx.registry} answered ${res.status}${said}`);
  // Both at once is CNCF distribution failing to read a blob link of the repository while checking
  // a manifest's blobs: the link read as no digest (DIGEST_INVALID), so the blob counted as unknown
  // (MANIFEST_BLOB_UNKNOWN). Its filesystem driver rewrote a link in place, empty for a moment, when
  // another writer stored the same blob there (fixed by writing through a temporary file:
  // distribution/distribution#4624). Nothing sent was corrupt: the registry's answer, not a
  // mismatch (exit 7 tells of bytes that do not match their digest).
  if (isBlobLinkRace(codes)) {
    return new RegistryError(`${base} (${HINT.blobLinkRace})`, { details });
  }
  if (codes.includes('DIGEST_INVALID') || codes.includes('SIZE_INVALID')) return new DigestMismatchError(base, { details });
  // Go's TLS servers (distribution, Harbor, Zot) answer a plain-HTTP request so: the registry
  // speaks TLS, and was named insecure (plain HTTP) where its certificate is what is not trusted.
  // They write that answer raw, without a single header (net/http server.go), so a HEAD's (the
  // first request of copy, digest and push), read without its body, is told by that: an HTTP
  // server's own answer always carries headers (Date, Content-Length or Connection).
  const goTlsAnswer = /HTTP request to an HTTPS server/i.test(text) || (text === '' && Object.keys(res.headers).length === 0);
  if (res.status === 400 && res.url.startsWith('http:') && goTlsAnswer && ctx.plainHttpMirror) {
    // The mirror's http:// is the setting to change; its certificate may need trusting as well.
    return new RegistryError(
      `${base} (it speaks TLS, and was asked in plain HTTP because the mirror ${ctx.registry} is given with http://: ` +
        `give it with https:// (or no scheme) in ${names.mirrors ?? connectionOptionNames.mirrors}; ` +
        `for a certificate this machine does not trust, add ${names.caCert(ctx.registry)} too)`,
      { details },
    );
  }
  if (res.status === 400 && res.url.startsWith('http:') && goTlsAnswer) {
    return new RegistryError(
      `${base} (it speaks TLS, and was asked in plain HTTP: for a certificate this machine does not trust, ` +
        `use ${names.caCert(ctx.registry)} or ${names.verifyOff(ctx.registry)} instead of ${ctx.insecureSetting ?? names.insecureSetting})`,
      { details },
    );
  }
  const redirected = res.redirected;
  const at = redirected && URL.canParse(res.url) ? new URL(res.url).host : res.url;
  // Not the registry's refusal of the credentials (another host, which is sent none; or the
  // registry reached again without the Authorization a hop dropped): said as what happened,
  // E_REGISTRY. A redirect within the registry's host keeps the Authorization: its 401 or 403 is
  // the registry's verdict on the credentials, as without a redirect.
  if (redirected && (res.status === 401 || res.status === 403) && (at !== redirected.from || redirected.authorizationDropped)) {
    const away = redirected.away ?? at;
    const why =
      at === redirected.from
        ? `${ctx.registry} redirected the request to ${away}, which sent it back to ${at}; ` +
          `that answered ${res.status}${said} to the request without the credentials, which regpush does not send again ` +
          "once a redirect has left the registry's host (a storage or CDN set-up that redirects back to the registry)"
        : `${ctx.registry} redirected the request to ${at}, which answered ${res.status}${said}: the storage host refused it, not the registry ` +
          '(regpush sends it no credentials; a signed URL that expired or does not match, or a storage or CDN fault)';
    return new RegistryError(redactText(`${ctx.what}: ${why}`), { details });
  }
  switch (res.status) {
    case 401:
      return new AuthError(`${base} (${HINT.auth(ctx.registry, names)})`, { details });
    case 403:
      return new DeniedError(`${base} (${HINT.denied})`, { details });
    case 404:
      return new NotFoundError(`${base} (${HINT.notFound(names)})`, { details });
    case 413:
      // A body size limit, most often a proxy's in front of the registry (nginx client_max_body_size,
      // 1 MiB unless set; goharbor/harbor#3270, pulp/pulp-operator#330): not retried, as the same
      // body meets the same limit; its operator raises the limit.
      return new RegistryError(`${base} (${HINT.tooLarge(ctx.registry)})`, { details });
    case 429: {
      // Docker Hub's pull limit used up: not retried (quotaSpent); the message names the limit, and
      // the detail lets a sync stop that registry's other images at once.
      const spent = pullLimitSpentBy(res);
      if (spent !== undefined) {
        details.pullLimitSpent = true;
        details.pullLimit = spent;
        // Whose count it was, where the registry names it (Docker Hub: an address or an account id): the used-up mark is that one's (registry/manifests.ts).
        const source = res.headers['docker-ratelimit-source'];
        if (source) details.rateLimitSource = source;
        return new TooManyRequestsError(`${base} (the pull limit is used up: ${details.pullLimit}; not retried, as it comes back only over its window: ${HINT.pullLimitSpent(names)})`, { details });
      }
      // A wait longer than regpush's cap (DEFAULT_RETRY_POLICY.maxRetryAfterMs) is not retried at all:
      // say what the registry asked for, not that retries ran out.
      const header = parseRetryAfter(res.headers['retry-after'], Date.now());
      const wait = header ?? res.waitInBody;
      const where = header !== undefined ? 'Retry-After' : 'in its error body';
      const maxWait = DEFAULT_RETRY_POLICY.maxRetryAfterMs;
      const asked =
        wait !== undefined && wait > maxWait
          ? `the registry asks to wait ${Math.ceil(wait / 1000)} s (${where}), longer than regpush waits (${maxWait / 1000} s)`
          : 'retries exhausted';
      return new TooManyRequestsError(`${base} (rate limited; ${asked}: ${HINT.rateLimited(names)})`, { details });
    }
    default:
      if (codes.includes('DENIED')) return new DeniedError(`${base} (${HINT.denied})`, { details });
      if (codes.includes('UNAUTHORIZED')) return new AuthError(`${base} (${HINT.auth(ctx.registry, names)})`, { details });
      if (codes.some((c) => c.endsWith('_UNKNOWN')) && res.status < 500) return new NotFoundError(`${base} (${HINT.notFound(names)})`, { details });
      return new RegistryError(res.status >= 500 ? `${base} (the registry failed; retry later or check its status page)` : base, { details });
  }
}

/**
 * Whether a registry's error codes are CNCF distribution's answer to its blob-link race (both
 * DIGEST_INVALID and MANIFEST_BLOB_UNKNOWN: see errorFromResponse): an error of the registry's, not
 * a mismatch, and the one manifest refusal sent again more than once (transfer/manifest-commit.ts).
 */
export function isBlobLinkRace(codes: readonly string[]): boolean {
  return codes.includes('DIGEST_INVALID') && codes.includes('MANIFEST_BLOB_UNKNOWN');
}
