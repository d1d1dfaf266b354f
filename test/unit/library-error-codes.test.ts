// Each exported error class narrows `code` to its own: inside `err instanceof NotFoundError` a
// script reads `err.code` as 'E_NOT_FOUND', not as any ErrorCode. Half of this file is checked by
// the compiler (`npm run build` compiles it): each `const c: 'E_…' = err.code` below fails to
// compile if a class's `code` were widened back to ErrorCode. The other half checks at run time
// that each class carries the code it declares, and that errorForCode and asRegpushError still
// make the class of each code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AbortedError,
  AuthError,
  DeniedError,
  DigestMismatchError,
  ExistsError,
  InputError,
  InternalError,
  InvalidReferenceError,
  MirrorConfigError,
  NetworkError,
  NotFoundError,
  PartialFailureError,
  ProtocolError,
  RegistryError,
  RegpushError,
  TlsError,
  TooManyRequestsError,
  UnsupportedError,
  UsageError,
  EXIT_CODES,
  type ErrorCode,
} from '../../src/index.js';
import { asRegpushError, errorForCode } from '../../src/errors.js';

/** The code each class declares, read from its type: a widened `code` makes this ErrorCode, and the table below stops compiling. */
type CodeOf<C extends abstract new (...args: never[]) => RegpushError> = InstanceType<C>['code'];

/** Every class against the code its type declares; `satisfies` refuses a row whose declared code is wider or another. */
const DECLARED = {
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
} satisfies { [C in ErrorCode]: new (message: string) => RegpushError & { readonly code: C } };

// ErrorCode is exactly the narrowed codes, not a wider string: each side assignable to the other.
const narrowed: CodeOf<(typeof DECLARED)[ErrorCode]> = 'E_USAGE' as ErrorCode;
const wide: ErrorCode = narrowed;

/** What a deploy script writes: a switch on the class, each branch reading a narrowed code. */
function codeByBranch(err: unknown): string {
  if (err instanceof NotFoundError) {
    const c: 'E_NOT_FOUND' = err.code;
    return c;
  }
  if (err instanceof MirrorConfigError) {
    // A subclass of InputError keeps InputError's code.
    const c: 'E_INPUT' = err.code;
    return `mirror ${c}`;
  }
  if (err instanceof PartialFailureError) {
    const c: 'E_PARTIAL' = err.code;
    return c;
  }
  if (err instanceof AuthError) {
    const c: 'E_AUTH' = err.code;
    return c;
  }
  if (err instanceof AbortedError) {
    const c: 'E_ABORTED' = err.code;
    return c;
  }
  // The base class still reads any code.
  if (err instanceof RegpushError) {
    const c: ErrorCode = err.code;
    return `other ${c}`;
  }
  return 'not regpush';
}

test('each class carries at run time the code its type declares, and errorForCode makes that class', () => {
  assert.equal(wide, 'E_USAGE');
  const codes = Object.keys(EXIT_CODES) as ErrorCode[];
  assert.deepEqual(Object.keys(DECLARED).sort(), [...codes].sort(), 'every code has its class in the table');
  for (const code of codes) {
    const Class = DECLARED[code];
    const made = new Class('m');
    assert.equal(made.code, code, `${Class.name}'s code`);
    const fromCode = errorForCode(code, 'm');
    assert.ok(fromCode instanceof Class, `errorForCode('${code}') is a ${Class.name}`);
    assert.equal(fromCode.code, code);
    assert.equal(asRegpushError(made), made, 'asRegpushError leaves a RegpushError as it is');
  }
  const mirror = new MirrorConfigError('bad mirror');
  assert.equal(mirror.code, 'E_INPUT');
  assert.ok(mirror instanceof InputError);
  assert.equal(asRegpushError(new TypeError('bug')).code, 'E_INTERNAL');
});

test('an instanceof branch reads its narrowed code (the branches above compile only if it is narrowed)', () => {
  assert.equal(codeByBranch(new NotFoundError('gone')), 'E_NOT_FOUND');
  assert.equal(codeByBranch(new MirrorConfigError('bad')), 'mirror E_INPUT');
  assert.equal(codeByBranch(new PartialFailureError('some')), 'E_PARTIAL');
  assert.equal(codeByBranch(errorForCode('E_AUTH', 'refused')), 'E_AUTH');
  assert.equal(codeByBranch(new AbortedError()), 'E_ABORTED');
  assert.equal(codeByBranch(new TlsError('x')), 'other E_TLS');
  assert.equal(codeByBranch(new Error('x')), 'not regpush');
});
