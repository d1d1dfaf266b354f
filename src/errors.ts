/**
 * The one error catalogue. Every failure regpush reports is a RegpushError with a stable `code`;
 * the CLI maps the code to one line on stderr and an exit code (see EXIT_CODES and the README).
 */

/**
 * Stable error codes. Never rename one: deploy scripts match on them.
 *
 * E_USAGE or E_INPUT (both exit 2): how regpush was called — a command, its flags and arguments, a
 * library call's options — is E_USAGE when wrong: an unknown or missing flag, flags that clash, a
 * value that does not parse or is out of range, whatever the value sets (--jobs, --format, --port,
 * --stop-signal, config.env alike). What regpush reads by itself from the machine — a file or
 * folder (an app or layer source, .dockerignore, a sync file, regpush.json, a certificate,
 * registries.conf) or an environment variable (SOURCE_DATE_EPOCH, REGPUSH_*) — is E_INPUT when
 * wrong, a value in a file included (a bad "ports" in regpush.json is the file's mistake). A
 * library caller that passes its own user's data as options can tell the two apart only by this.
 */
export type ErrorCode =
  | 'E_USAGE' // how regpush was called: a flag, argument or option, or its value, is wrong
  | 'E_REFERENCE' // malformed image reference
  | 'E_INPUT' // what regpush reads locally is wrong: a file or folder (app, sync file, regpush.json), an environment variable
  | 'E_AUTH' // credentials missing or refused, token service failure
  | 'E_DENIED' // authenticated but not allowed (push denied)
  | 'E_NOT_FOUND' // repository, tag, manifest or blob unknown
  | 'E_NETWORK' // DNS, connection refused/reset, timeouts
  | 'E_TLS' // certificate or TLS handshake failure
  | 'E_REGISTRY' // the registry answered something we cannot use (5xx after retries, odd status)
  | 'E_PROTOCOL' // malformed answer: bad JSON, bad challenge, bad Location, oversized body
  | 'E_UNSUPPORTED' // content regpush does not handle (schema 1, an artifact as a base), or a registry that refuses the operation itself (no deletes, no pushes)
  | 'E_DIGEST_MISMATCH' // bytes do not match their digest or size
  | 'E_TOO_MANY_REQUESTS' // 429 after all retries
  | 'E_EXISTS' // target tag exists and --no-clobber was given
  | 'E_PARTIAL' // some targets of a multi-target operation failed
  | 'E_ABORTED' // cancelled (SIGINT/SIGTERM or AbortSignal)
  | 'E_INTERNAL'; // a bug

/** Exit code for each error code; 0 is success, 1 an unexpected crash. */
export const EXIT_CODES: Record<ErrorCode, number> = {
  E_USAGE: 2,
  E_REFERENCE: 2,
  E_INPUT: 2,
  E_EXISTS: 2,
  E_AUTH: 3,
  E_DENIED: 3,
  E_NOT_FOUND: 4,
  E_NETWORK: 5,
  E_TLS: 5,
  E_REGISTRY: 5,
  E_PROTOCOL: 5,
  E_TOO_MANY_REQUESTS: 5,
  E_UNSUPPORTED: 6,
  E_DIGEST_MISMATCH: 7,
  E_PARTIAL: 8,
  E_ABORTED: 130,
  E_INTERNAL: 1,
};

/** Extra facts attached to an error; never contains secrets. */
export interface ErrorDetails {
  /** Registry host the error concerns, e.g. "ghcr.io" or "127.0.0.1:5000". */
  registry?: string;
  /** HTTP status, when the error comes from a response. */
  status?: number;
  /** Error codes from an OCI error body, e.g. ["MANIFEST_UNKNOWN"]. */
  registryCodes?: string[];
  /** Method and redacted URL of the request that failed. */
  request?: string;
  [key: string]: unknown;
}

/** Base class of every error regpush throws. */
export class RegpushError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }
  /** Exit code the CLI uses for this error. */
  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

/** How regpush was called is wrong: a flag, argument or option, or its value (see ErrorCode). */
export class UsageError extends RegpushError {
  declare readonly code: 'E_USAGE';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_USAGE', message, options);
  }
}
/** Malformed image reference. */
export class InvalidReferenceError extends RegpushError {
  declare readonly code: 'E_REFERENCE';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_REFERENCE', message, options);
  }
}
/** What regpush reads locally is wrong: a file or folder, a value in one, an environment variable (see ErrorCode). */
export class InputError extends RegpushError {
  declare readonly code: 'E_INPUT';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_INPUT', message, options);
  }
}
/** Authentication failed or no usable credentials. */
export class AuthError extends RegpushError {
  declare readonly code: 'E_AUTH';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_AUTH', message, options);
  }
}
/** Authenticated, but the registry refuses the operation. */
export class DeniedError extends RegpushError {
  declare readonly code: 'E_DENIED';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_DENIED', message, options);
  }
}
/** Repository, tag, manifest or blob not found. */
export class NotFoundError extends RegpushError {
  declare readonly code: 'E_NOT_FOUND';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_NOT_FOUND', message, options);
  }
}
/** Connection-level failure. */
export class NetworkError extends RegpushError {
  declare readonly code: 'E_NETWORK';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_NETWORK', message, options);
  }
}
/** TLS failure (unknown CA, bad certificate, handshake). */
export class TlsError extends RegpushError {
  declare readonly code: 'E_TLS';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_TLS', message, options);
  }
}
/** The registry answered with a status or error regpush cannot continue from. */
export class RegistryError extends RegpushError {
  declare readonly code: 'E_REGISTRY';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_REGISTRY', message, options);
  }
}
/** A malformed or oversized answer (JSON, challenge, Location header). */
export class ProtocolError extends RegpushError {
  declare readonly code: 'E_PROTOCOL';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_PROTOCOL', message, options);
  }
}
/**
 * Something that cannot be done, whoever asks: content regpush does not handle (a schema 1
 * manifest, an artifact given as a base, what `--format docker` cannot carry), or an operation
 * the registry does not offer (deletes, pushes to a pull-through cache or read-only registry,
 * every upload method refused).
 */
export class UnsupportedError extends RegpushError {
  declare readonly code: 'E_UNSUPPORTED';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_UNSUPPORTED', message, options);
  }
}
/** Bytes that do not match their digest or declared size. */
export class DigestMismatchError extends RegpushError {
  declare readonly code: 'E_DIGEST_MISMATCH';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_DIGEST_MISMATCH', message, options);
  }
}
/** Still rate-limited (429) after every retry. */
export class TooManyRequestsError extends RegpushError {
  declare readonly code: 'E_TOO_MANY_REQUESTS';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_TOO_MANY_REQUESTS', message, options);
  }
}
/** The target tag exists and the caller asked not to overwrite it. */
export class ExistsError extends RegpushError {
  declare readonly code: 'E_EXISTS';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_EXISTS', message, options);
  }
}
/** The operations whose failure may carry their result (`details.result`), as `details.operation` names them. */
export type ResultOperation = 'push' | 'copy' | 'sync' | 'tagImage';

/** What an E_PARTIAL carries: what was done, and what failed. */
export interface PartialFailureDetails extends ErrorDetails {
  /**
   * The operation's result, as it would have returned it, with each target's (or image's, or
   * tag's) own outcome: push()'s `PushResult` (per target: `result.targets`), copy()'s
   * `CopyResult` (`result.targets`), sync()'s `SyncResult` (`result.units`, each with its
   * `targets`), tagImage()'s `TagImageResult` (`result.tagsFailed`). `failureResult(err,
   * 'push')` reads it typed as the operation's, without a cast.
   */
  result?: unknown;
  /** The operation `result` is of; set wherever `result` is (on an error of any class). */
  operation?: ResultOperation;
  /** The targets (references), images (sync: source references) or tags (tagImage) that failed. */
  failed?: string[];
}

/** Some targets of a multi-target operation failed; `details.result` says what each did, `details.failed` lists those that failed. */
export class PartialFailureError extends RegpushError {
  declare readonly code: 'E_PARTIAL';
  declare readonly details: PartialFailureDetails;
  constructor(message: string, options?: { cause?: unknown; details?: PartialFailureDetails }) {
    super('E_PARTIAL', message, options);
  }
}
/** A bad mirror setting (E_INPUT): the message says what and where; the CLI makes a bad flag E_USAGE. */
export class MirrorConfigError extends InputError {}

/** A bug in regpush: a state its own code should never reach (exit code 1, like an unexpected crash). */
export class InternalError extends RegpushError {
  declare readonly code: 'E_INTERNAL';
  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_INTERNAL', message, options);
  }
}
/** The operation was cancelled. */
export class AbortedError extends RegpushError {
  declare readonly code: 'E_ABORTED';
  constructor(message = 'aborted', options?: { cause?: unknown; details?: ErrorDetails }) {
    super('E_ABORTED', message, options);
  }
}

/** The exported class of each code. */
// Each entry's class declares its own code (`code: 'E_NOT_FOUND'`): one whose declaration named another code would not compile here.
const CLASS_OF_CODE: { [C in ErrorCode]: new (message: string, options?: { cause?: unknown; details?: ErrorDetails }) => RegpushError & { readonly code: C } } = {
  E_USAGE: UsageError,
  E_REFERENCE: InvalidReferenceError,
  E_INPUT: InputError,
  E_AUTH: AuthError,
  E_DENIED: DeniedError,
  E_NOT_FOUND: NotFoundError,
  E_NETWORK: NetworkError,
  E_TLS: TlsError,
  E_REGISTRY: RegistryError,
  E_PROTOCOL: ProtocolError,
  E_UNSUPPORTED: UnsupportedError,
  E_DIGEST_MISMATCH: DigestMismatchError,
  E_TOO_MANY_REQUESTS: TooManyRequestsError,
  E_EXISTS: ExistsError,
  E_PARTIAL: PartialFailureError,
  E_ABORTED: AbortedError,
  E_INTERNAL: InternalError,
};

/** Any error as a RegpushError (a bug's error keeps its message, code E_INTERNAL). */
export function asRegpushError(err: unknown): RegpushError {
  return err instanceof RegpushError ? err : new InternalError(String((err as Error)?.message ?? err), { cause: err });
}

/**
 * What `body` resolves to; a rejection that is not a RegpushError (a bug's TypeError, a throw from
 * an object the caller passed in, such as `secrets` or `logger`) rejects as one: E_INTERNAL, the
 * original as its `cause`. Each library operation's entry point runs its body through it (push,
 * copy and sync through CallerCallbacks.around, which lets a progress callback's throw through).
 */
export async function rejectsTyped<T>(body: () => Promise<T>, operation?: ResultOperation): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw markResult(asRegpushError(err), operation);
  }
}

/**
 * `err`, its `details.result` (where it has one) marked as `operation`'s: so failureResult() can
 * give it the operation's type, checked at run time rather than cast. Called by each operation
 * that attaches a result, on its way out, so the places that build the result need not know
 * whose it is (the target set is push's and copy's alike).
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export function markResult(err: RegpushError, operation: ResultOperation | undefined): RegpushError {
  if (operation !== undefined && err.details.result !== undefined) err.details.operation ??= operation;
  return err;
}

/**
 * A new error of the class `code` has (`errorForCode('E_NOT_FOUND', …) instanceof NotFoundError`):
 * for an error made anew from another's code — a sync report's line, an outage's last failure —
 * which a caller must still be able to tell by `instanceof`.
 */
export function errorForCode(code: ErrorCode, message: string, options?: { cause?: unknown; details?: ErrorDetails }): RegpushError {
  const Class = CLASS_OF_CODE[code] as (typeof CLASS_OF_CODE)[ErrorCode] | undefined;
  return Class ? new Class(message, options) : new RegpushError(code, message, options);
}
