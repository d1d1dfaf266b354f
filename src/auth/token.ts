/**
 * Bearer token exchange (distribution "token" and "oauth" specs). The realm named in a
 * challenge is untrusted input: it must be http(s), must not downgrade an https registry to
 * http (loopback excepted, for local test registries), and its reply is size-capped.
 */
import type { Readable } from 'node:stream';
import { AuthError, ProtocolError, type RegpushError } from '../errors.js';
import type { HttpResponse, Send } from '../http/types.js';
import { silentLogger, type Logger } from '../log.js';
import { isLoopbackHost } from '../ref/host-address.js';
import { redactTyped, redactUrl } from '../redact.js';
import type { Challenge } from './challenge.js';
import type { Credential } from './credential-types.js';
import { IDENTITY_TOKEN_USERNAME } from './helper.js';
import { mergeScopes } from './scope.js';

/** Largest token reply regpush reads (JWTs are a few KiB; anything bigger is hostile or broken). */
const TOKEN_REPLY_CAP = 64 * 1024;

/** Lifetime assumed when the reply has no `expires_in` (the token spec's default). */
const DEFAULT_TOKEN_LIFETIME_S = 60;

/** OAuth2 client_id regpush identifies itself with (required by the oauth spec). */
const OAUTH_CLIENT_ID = 'regpush';

/** Options of fetchToken. */
export interface FetchTokenOptions {
  /** Registry host the token is for (used in messages). */
  registry: string;
  /** How the registry itself was reached; an http realm for an https registry is a downgrade. Default 'https'. */
  scheme?: 'http' | 'https';
  logger?: Logger;
  signal?: AbortSignal;
  userAgent?: string;
  /** Clock in ms; injectable for tests. */
  now?: () => number;
  /** What to do when the token service refuses the credentials (or anonymous access), after "; " (RefusalErrors.advice); default nothing. */
  advice?: string;
}

/** A token and the time (ms since epoch) it stops being valid. */
export interface FetchedToken {
  token: string;
  expiresAt: number;
}

/** Exchanges credentials (or nothing: anonymous) for a Bearer token at the challenge's realm. */
export async function fetchToken(
  send: Send,
  challenge: Challenge,
  scopes: string[],
  cred: Credential | undefined,
  opts: FetchTokenOptions,
): Promise<FetchedToken> {
  const log = opts.logger ?? silentLogger;
  const realm = checkRealm(challenge, opts);
  const service = challenge.params.service;
  const merged = mergeScopes(scopes);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.userAgent) headers['user-agent'] = opts.userAgent;

  let basicUser: string | undefined;
  let basicSecret: string | undefined;
  if (cred?.identityToken) {
    const form = new URLSearchParams();
    form.set('grant_type', 'refresh_token');
    form.set('refresh_token', cred.identityToken);
    if (service) form.set('service', service);
    if (merged.length) form.set('scope', merged.join(' '));
    form.set('client_id', OAUTH_CLIENT_ID);
    log.debug(`auth: POST ${redactUrl(realm.href)} (oauth2 refresh_token) scopes=${merged.join(' ') || '-'}`);
    const res = await send({
      method: 'POST',
      url: realm.href,
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(form.toString()),
      signal: opts.signal,
      label: 'token POST',
    });
    // Not every token server speaks oauth2; the spec says to use GET when POST is a 404.
    if (res.status !== 404 && res.status !== 405) return readReply(res, realm, cred, merged, opts);
    discard(res.body);
    log.debug(`auth: ${realm.host} answered ${res.status} to the oauth2 POST; falling back to GET`);
    basicUser = cred.username ?? IDENTITY_TOKEN_USERNAME;
    basicSecret = cred.identityToken;
  } else if (cred?.username && cred.password) {
    basicUser = cred.username;
    basicSecret = cred.password;
  }

  const url = new URL(realm.href);
  if (service) url.searchParams.set('service', service);
  for (const s of merged) url.searchParams.append('scope', s);
  if (basicUser && basicUser !== IDENTITY_TOKEN_USERNAME) url.searchParams.set('account', basicUser);
  if (basicUser !== undefined && basicSecret !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${basicUser}:${basicSecret}`, 'utf8').toString('base64')}`;
  }
  log.debug(`auth: GET ${redactUrl(url.href)}${basicUser ? ` as ${basicUser}` : ' (anonymous)'}`);
  const res = await send({ method: 'GET', url: url.href, headers, signal: opts.signal, label: 'token GET' });
  return readReply(res, realm, cred, merged, opts);
}

function checkRealm(challenge: Challenge, opts: FetchTokenOptions): URL {
  const raw = challenge.params.realm;
  if (!raw) throw new ProtocolError(`Bearer challenge from ${opts.registry} has no realm`, { details: { registry: opts.registry } });
  let realm: URL;
  try {
    realm = new URL(raw);
  } catch {
    throw new ProtocolError(`token realm from ${opts.registry} is not a URL: ${redactTyped(raw).slice(0, 200)}`, {
      details: { registry: opts.registry },
    });
  }
  if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
    throw new ProtocolError(`refusing token realm ${redactTyped(realm.href)} from ${opts.registry}: only http(s) realms are allowed`, {
      details: { registry: opts.registry },
    });
  }
  if (realm.username || realm.password) {
    throw new ProtocolError(`refusing token realm from ${opts.registry}: it carries user information`, {
      details: { registry: opts.registry },
    });
  }
  if (realm.protocol === 'http:' && (opts.scheme ?? 'https') === 'https' && !isLoopbackHost(realm.hostname)) {
    throw new ProtocolError(
      `refusing token realm ${redactUrl(realm.href)}: ${opts.registry} is reached over https and credentials must not be sent over plain http`,
      { details: { registry: opts.registry } },
    );
  }
  return realm;
}

async function readReply(res: HttpResponse, realm: URL, cred: Credential | undefined, scopes: string[], opts: FetchTokenOptions): Promise<FetchedToken> {
  // transportRetried: the token GET has had its retries; a blob transfer that fails on it must not
  // start over and ask again (one retry level, see http/retry.ts). `anonymous`: no credentials sent.
  const details = { registry: opts.registry, status: res.status, realm: realm.host, ...(res.retriedByTransport ? { transportRetried: true } : {}), ...(cred ? {} : { anonymous: true }) };
  if (res.status === 401) {
    discard(res.body);
    const who = cred?.username ? `for user ${cred.username}` : cred ? 'for the given token' : 'for anonymous access';
    throw new AuthError(`authentication to ${opts.registry} failed: ${realm.host} rejected the credentials ${who}${opts.advice ?? ''}`, { details });
  }
  if (res.status === 403) {
    // A refusal of the scopes asked for, not only of the credentials: GHCR answers 403 for a
    // package the caller may not read (dragonflydb/dragonfly#4997), and to a personal access
    // token that has expired (akuity/kargo#777). The message names the scopes for that reason.
    discard(res.body);
    const asked = scopes.join(' ') || 'no scope';
    const why = cred
      ? `a token for ${asked} to ${cred.username ? `user ${cred.username}` : 'the given token'} (HTTP 403): access not granted, or the credentials have expired`
      : `an anonymous token for ${asked} (HTTP 403): access not granted without credentials`;
    throw new AuthError(`authentication to ${opts.registry} failed: ${realm.host} refused ${why}${opts.advice ?? ''}`, { details });
  }
  if (res.status < 200 || res.status > 299) {
    discard(res.body);
    // A 5xx is the token service failing, not a refusal of the credentials: the transport has
    // retried it as any 5xx (one retry level: `transportRetried`), and the advice is the registry's
    // own 5xx's, for the library's caller and the CLI alike (the CLI adds no login advice to it).
    const failed = res.status >= 500 ? ' (the token service failed; retry later or check its status page)' : '';
    throw new AuthError(`authentication to ${opts.registry} failed: token service ${realm.host} answered HTTP ${res.status}${failed}`, { details });
  }
  const bytes = await readCapped(res.body, TOKEN_REPLY_CAP);
  if (!bytes) throw new ProtocolError(`token reply from ${realm.host} is larger than ${TOKEN_REPLY_CAP / 1024} KiB`, { details });
  let reply: unknown;
  try {
    reply = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ProtocolError(`token service ${realm.host} returned a reply that is not JSON`, { details });
  }
  const r = (typeof reply === 'object' && reply !== null ? reply : {}) as Record<string, unknown>;
  const token = typeof r.token === 'string' && r.token ? r.token : typeof r.access_token === 'string' ? r.access_token : '';
  if (!token) throw new ProtocolError(`token service ${realm.host} returned no token`, { details });
  const lifetime = typeof r.expires_in === 'number' && r.expires_in > 0 ? r.expires_in : DEFAULT_TOKEN_LIFETIME_S;
  // The lifetime counts from when the reply arrived here, by this machine's clock. `issued_at` is
  // the token service's clock: compared with ours, a client running 5 minutes fast (a drifting VM,
  // WSL2 or CI clock) would find every 300 s Docker Hub or distribution token expired as it came
  // in, and fetch a new one for each request. `expires_in` is relative, and the registry checks the
  // token against its own clock, so `issued_at` says nothing about when to ask again; the cache
  // stops handing a token out a margin before this time (token-cache.ts) for the time in flight.
  return { token, expiresAt: (opts.now ?? Date.now)() + lifetime * 1000 };
}

/**
 * True for a token service that failed (its 5xx after the transport's retries): E_AUTH, as every
 * failure to authenticate is, but no refusal of the credentials: the registry is unusable until
 * the service is back, as with the registry's own 5xx (the CLI gives no login advice for it, and
 * a sync counts it toward a registry's outage).
 */
export function tokenServiceFailed(err: RegpushError): boolean {
  const status = err.details.status;
  return err.code === 'E_AUTH' && err.details.realm !== undefined && typeof status === 'number' && status >= 500;
}

/** Reads a stream up to `cap` bytes; undefined (stream destroyed) when it is longer. */
async function readCapped(body: Readable, cap: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > cap) {
      body.destroy();
      return undefined;
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Lets a response body go without leaving the connection stuck or an error unhandled. */
export function discard(body: Readable): void {
  body.on('error', () => {});
  body.resume();
}

/**
 * The actions a token grants on `type`:`name`, as its own `access` claim lists them: the token
 * service's answer to the scopes asked for, which may grant fewer than asked (distribution's token
 * spec: a token is issued all the same, with only what the account may do). Read, never verified:
 * the registry verifies the token; this client only reads what it was told. The spec calls the
 * token opaque to clients, so what is not read here is never taken for a refusal: undefined
 * wherever the token does not say in a form read here: not a JWS in compact form (an opaque token: GHCR's, a
 * cloud's OAuth token), no `access` claim, an entry not of the spec's shape, or a resource named by
 * a pattern (`*` in its name) that cannot be matched against `name`, and where no entry names
 * `name` at all: the token was asked for it, so a claim without it names resources otherwise than
 * the scope did (the registry's reads with this token have gone through) or says nothing of them.
 * An entry naming `name` with no actions is a claim read: nothing granted.
 */
export function grantedActions(token: string, type: string, name: string): string[] | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const access = typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>).access : undefined;
  if (!Array.isArray(access)) return undefined;
  let granted: Set<string> | undefined;
  for (const entry of access as unknown[]) {
    if (typeof entry !== 'object' || entry === null) return undefined;
    const e = entry as Record<string, unknown>;
    if (typeof e.type !== 'string' || typeof e.name !== 'string' || !Array.isArray(e.actions) || !e.actions.every((a) => typeof a === 'string')) return undefined;
    if (e.type !== type) continue;
    if (e.name !== name && e.name.includes('*')) return undefined;
    if (e.name !== name) continue;
    granted ??= new Set();
    for (const a of e.actions as string[]) granted.add(a);
  }
  return granted && [...granted];
}
