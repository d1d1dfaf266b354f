/** Removes anything secret from text that may reach a log, an error message or --debug output. */
import { RegpushError } from './errors.js';

// `verify`: Docker Hub's blob redirects to production.cloudflare.docker.com carry
// `?verify=<expiry>-<signature>`, a grant to read the blob until it expires. `hdnts`, `hdnea` and
// `__token__`: Akamai's token authentication (`exp=…~acl=…~hmac=…`), the same kind of grant.
const QUERY_SECRET = /([?&](?:X-Amz-[A-Za-z-]+|X-Goog-[A-Za-z-]+|sig|signature|se|sp|sv|token|access_token|refresh_token|password|Expires|Policy|Key-Pair-Id|verify|hdnts|hdnea|__token__)=)[^&#\s]*/gi;

/** Redacts userinfo and signed query parameters from a URL (storage redirects carry signatures). */
export function redactUrl(url: string): string {
  // Up to the authority's last '@', as URL parsers read it: a proxy password typed with a bare '@'
  // (http://user:p@ss@proxy:3128) would otherwise keep its tail, and one with a space in it
  // (which the URL parser accepts, and so the proxy gets) would be printed whole.
  // A value without a scheme (`ci:PASSWORD@reg.example.com/app:1`) is no URL: one typed where a
  // reference, a registry or a mirror goes is redactTyped's.
  return url.replace(/^(\w+:\/\/)[^/?#]*@/, '$1***@').replace(QUERY_SECRET, '$1***');
}

/** What follows the '@' of a reference's digest (`app@sha256:…`): a known algorithm and its ':'. */
const DIGEST_AFTER_AT = /^(?:sha256|sha384|sha512|blake3):/i;

/**
 * Redacts userinfo from a value a user typed where a reference, a registry or a mirror goes
 * (`https://ci:PASSWORD@reg.example/app:1`, `ci:PASSWORD@reg.example/app:1`), for the message that
 * refuses it, and from a token realm a registry named that is no http(s) URL (auth/token.ts). Such a value is no URL a parser has vetted: a password may hold a bare '/', '?', '#'
 * or '@' (`ci:pa/ss@…`, `ci:p@ss@…`), which redactUrl, reading a URL's authority as up to its first
 * '/', would leave in place. Here everything up to the last '@' not followed by a digest
 * (`alpine:3@sha256:…` keeps its name) goes, with or without a scheme; without one, only where a ':'
 * before that '@' can have started a password (`:pw@…` too). redactUrl's rules apply to the rest.
 * @internal
 */
export function redactTyped(value: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(value)?.[0] ?? '';
  const body = value.slice(scheme.length);
  for (let at = body.lastIndexOf('@'); at >= 0; at = at > 0 ? body.lastIndexOf('@', at - 1) : -1) {
    if (DIGEST_AFTER_AT.test(body.slice(at + 1))) continue;
    if (scheme || body.slice(0, at).includes(':')) return redactUrl(`${scheme}***@${body.slice(at + 1)}`);
    break;
  }
  return redactUrl(value);
}

/** JSON members whose value is a secret whatever its source: a helper's reply, a token service's reply. */
const JSON_SECRET = /("(?:Secret|password|token|access_token|refresh_token|identitytoken|registrytoken|auth)"\s*:\s*")(?:[^"\\]|\\.)*"/gi;

/** A JSON Web Token (what most token services issue): never meant for a terminal, even one the run did not see issued. */
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/** Redacts every occurrence of the given secrets, any Authorization header value, JWT and secret JSON member in `text`. */
export function redactText(text: string, secrets: Iterable<string> = []): string {
  let out = text.replace(/(authorization\s*[:=]\s*)(basic|bearer)\s+[^\s,"']+/gi, '$1$2 ***');
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('***');
  }
  return out.replace(JSON_SECRET, '$1***"').replace(JWT, '***');
}

/**
 * The secrets one run knows, with the forms they travel in, so every line it prints can be scrubbed.
 * Run-scoped and passed along (never global): the CLI creates one per command and scrubs its output
 * (log lines, the error line, the JSON report) with it; the auth layer adds what it resolves or
 * receives (passwords, identity and registry tokens, bearer tokens from token services).
 * Scrubbing at the output boundary rather than where text is made catches relayed text whatever its
 * source: a registry's error body, a helper's output, an exception from a dependency.
 */
export class SecretSet {
  private readonly values = new Set<string>();

  /** Adds one secret and its derived forms (URL- and JSON-escaped). Values under 4 characters are too common to scrub. */
  add(value: string | undefined): void {
    if (!value || value.length < 4) return;
    for (const form of [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]) this.values.add(form);
  }

  /** Adds a credential's secrets and the base64 `user:secret` of its Basic header. */
  addCredential(cred: { username?: string; password?: string; identityToken?: string; registryToken?: string } | undefined): void {
    if (!cred) return;
    this.add(cred.password);
    this.add(cred.identityToken);
    this.add(cred.registryToken);
    for (const secret of [cred.password, cred.identityToken]) {
      if (!secret) continue;
      for (const user of [cred.username ?? '', '<token>']) this.add(Buffer.from(`${user}:${secret}`, 'utf8').toString('base64'));
    }
  }

  /** How many forms are known (for tests). */
  get size(): number {
    return this.values.size;
  }

  /** The text without any known secret, Authorization value, JWT or secret JSON member. */
  scrub(text: string): string {
    // Longest first: a secret that contains another must go whole.
    const known = [...this.values].sort((a, b) => b.length - a.length);
    return redactText(text, known);
  }
}

/** The options of an operation that take credentials and a secret sink (ConnectionOptions, LoginOptions). */
interface WithSecrets {
  secrets?: Sink;
  logger?: unknown;
  credentials?: { from?: Secretive; to?: Secretive; registries?: Readonly<Record<string, Secretive | undefined>> };
  /** login()'s. */
  username?: unknown;
  password?: unknown;
}

/** What SecretSet.addCredential reads of a credential (auth's Credential, by shape: this module is a leaf). */
type Secretive = Parameters<SecretSet['addCredential']>[0];

/** Where secrets are reported (auth's SecretSink, by shape). */
interface Sink {
  add(value: string | undefined): void;
  addCredential(cred: Secretive): void;
}

/**
 * The library's promise that an error's message holds no secret (README, "Errors"), kept whether
 * or not the caller passes `secrets`: a registry may echo what it was sent in an error body (the
 * Basic header's user:password, the password itself), and errorFromResponse's generic redaction
 * knows no run's password. Each public operation runs with a SecretSet of its own, given the
 * credentials in its options up front and fed what the auth layer resolves (stored logins,
 * helpers' replies, tokens).
 *
 * Runs `body` with `given` whose `secrets` also feeds the operation's own set (the caller's sink,
 * when given, gets every secret too), and rejects with its error scrubbed: message, stack and the
 * strings of `details` (a partial failure's report holds the targets' messages). The lines it
 * sends to the caller's `logger` are scrubbed with the same set. Options that are not an object, or
 * a `secrets` that is no sink, go to `body` as given: its option check refuses them.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export async function scrubbedRejections<O, T>(given: O, body: (opts: O) => Promise<T>): Promise<T> {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) return body(given);
  const opts = given as O & WithSecrets;
  const caller = opts.secrets;
  if (caller !== undefined && (caller === null || typeof caller.add !== 'function' || typeof caller.addCredential !== 'function')) return body(given);
  const own = new SecretSet();
  try {
    const creds = opts.credentials;
    if (creds && typeof creds === 'object') {
      for (const c of [creds.from, creds.to, ...Object.values(creds.registries && typeof creds.registries === 'object' ? creds.registries : {})]) {
        if (c && typeof c === 'object') own.addCredential(stringsOf(c));
      }
    }
    if (typeof opts.password === 'string') own.addCredential({ username: typeof opts.username === 'string' ? opts.username : undefined, password: opts.password });
  } catch {
    // An option of the wrong shape (a getter that throws): the option check reports it.
  }
  const sink: Sink = caller
    ? {
        add: (v) => {
          own.add(v);
          caller.add(v);
        },
        addCredential: (c) => {
          own.addCredential(c);
          caller.addCredential(c);
        },
      }
    : own;
  try {
    return await body({ ...given, secrets: sink, ...scrubbedLogger(opts.logger, own) });
  } catch (err) {
    throw scrubError(err, own, new Set());
  }
}

/**
 * `{ logger }`: the caller's logger behind one that scrubs every line with the operation's secrets
 * first. A line may relay what a registry answered (a retried upload's error body echoing the Basic
 * header) or a helper said, and the caller's logger knows no secret of the run. None when there is
 * no logger, and the given value as it is when it is no logger: the option check refuses it.
 */
function scrubbedLogger(given: unknown, secrets: SecretSet): { logger?: unknown } {
  if (given === undefined) return {};
  if (given === null || typeof given !== 'object') return { logger: given };
  const caller = given as Record<'debug' | 'info' | 'warn', unknown>;
  if (typeof caller.debug !== 'function' || typeof caller.info !== 'function' || typeof caller.warn !== 'function') return { logger: given };
  const log = given as { debug(m: string): void; info(m: string): void; warn(m: string): void };
  const clean = (m: unknown) => (typeof m === 'string' ? secrets.scrub(m) : m) as string;
  return {
    logger: {
      debug: (m: string) => log.debug(clean(m)),
      info: (m: string) => log.info(clean(m)),
      warn: (m: string) => log.warn(clean(m)),
    },
  };
}

/** A given credential's string fields only: one of another type is the option check's to refuse, not a secret. */
function stringsOf(c: NonNullable<Secretive>): NonNullable<Secretive> {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { username: str(c.username), password: str(c.password), identityToken: str(c.identityToken), registryToken: str(c.registryToken) };
}

/**
 * `err`, a RegpushError, with every secret of `secrets` scrubbed from its message, stack and
 * details' strings (in place). Any other error is the caller's own (a callback's throw, which the
 * operation rejects with as it is) and is left alone.
 */
function scrubError(err: unknown, secrets: SecretSet, seen: Set<object>): unknown {
  if (!(err instanceof RegpushError) || seen.has(err)) return err;
  // One `seen` for the whole walk: an error among another's details whose own details lead back
  // to it (a result naming the failure that carries it) is scrubbed once, not until the stack overflows.
  seen.add(err);
  err.message = secrets.scrub(err.message);
  if (typeof err.stack === 'string') err.stack = secrets.scrub(err.stack);
  // `operation` is a name regpush wrote, never a secret: a password such as "copy" must not turn
  // it into *** (failureResult reads it).
  const operation = err.details.operation;
  scrubStrings(err.details, secrets, seen);
  if (operation !== undefined) err.details.operation = operation;
  // A cause that is regpush's own error (a copy's first target's, kept under the copy made of it)
  // is printed with the error by Node's inspect: scrubbed alike.
  if (err.cause instanceof RegpushError) scrubError(err.cause, secrets, seen);
  return err;
}

/** Scrubs the strings of plain objects and arrays under `value`, in place (each object once). */
function scrubStrings(value: unknown, secrets: SecretSet, seen: Set<object>): void {
  if (value === null || typeof value !== 'object') return;
  if (value instanceof Error) {
    scrubError(value, secrets, seen);
    return;
  }
  if (seen.has(value)) return;
  seen.add(value);
  const proto = Object.getPrototypeOf(value) as unknown;
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const v = record[key];
    if (typeof v === 'string') {
      const clean = secrets.scrub(v);
      if (clean !== v) record[key] = clean;
    } else scrubStrings(v, secrets, seen);
  }
}
