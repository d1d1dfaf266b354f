import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { expandEnvValue } from '../../src/image/env-expand.js';

const ENV: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin', HOME: '/root', EMPTY: '' };
const lookup = (n: string): string | undefined => (Object.hasOwn(ENV, n) ? ENV[n] : undefined);

describe('expandEnvValue (Dockerfile ENV substitution)', () => {
  const CASES: Array<[string, string]> = [
    ['/app/bin:$PATH', '/app/bin:/usr/local/bin:/usr/bin'],
    ['${PATH}:/app/bin', '/usr/local/bin:/usr/bin:/app/bin'],
    ['$HOME/.cache', '/root/.cache'],
    ['${HOME}x', '/rootx'],
    ['$HOMEx', ''], // the name runs to the last name character, as in a shell
    ['$UNSET-x', '-x'],
    ['${UNSET:-/opt}', '/opt'],
    ['${EMPTY:-/opt}', '/opt'],
    ['${EMPTY-/opt}', ''],
    ['${UNSET-/opt}', '/opt'],
    ['${HOME:-/opt}', '/root'],
    ['${HOME:+set}', 'set'],
    ['${EMPTY:+set}', ''],
    ['${EMPTY+set}', 'set'],
    ['${UNSET:+set}', ''],
    ['${UNSET:-${HOME}/x}', '/root/x'],
    ['${UNSET:-a:$HOME}', 'a:/root'],
    ['price \\$5 and \\$PATH', 'price $5 and $PATH'],
    ['$5 $ end$', '$5 $ end$'],
    ['C:\\app\\bin', 'C:\\app\\bin'],
    ['no dollars', 'no dollars'],
    ['', ''],
  ];
  for (const [input, want] of CASES) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => assert.equal(expandEnvValue('K', input, lookup), want));
  }

  // The offset of each "$" whose name is unset and so became empty: what push warns about.
  const UNSET: Array<[string, number[]]> = [
    ['pa$sword', [2]],
    ['${A}/$HOME/${B}', [0, 11]],
    ['$PATH ${HOME} ${EMPTY}', []],
    ['${UNSET:-x} ${UNSET-x} ${UNSET:+x} ${UNSET+x}', []], // the forms that ask what to do when unset
    ['${UNSET:-$A${B}}', [9, 11]], // the default word is used: its names count
    ['${HOME:-$A} ${UNSET:+$B} ${HOME:+$C}', [33]], // words not used say nothing
    ['\\$A $ $5', []],
  ];
  for (const [input, want] of UNSET) {
    it(`reports ${JSON.stringify(want)} as unset in ${JSON.stringify(input)}`, () => {
      const got: number[] = [];
      expandEnvValue('K', input, lookup, undefined, (at) => got.push(at));
      assert.deepEqual(got, want);
    });
  }

  const BAD: Array<[string, RegExp]> = [
    ['${PATH', /closing "}"/],
    ['a${', /closing "}"/],
    ['${UNSET:-x', /closing "}"/],
    // Cut after the colon: unclosed, not an operator regpush lacks.
    ['${PATH:', /^(?!.*not supported).*closing "}"/],
    ['${}', /not followed by a variable name/],
    ['${1}', /not followed by a variable name/],
    ['${PATH:?x}', /not supported/],
    ['${PATH#*:}', /not supported/],
  ];
  for (const [input, re] of BAD) {
    it(`refuses ${JSON.stringify(input)} in one line naming the variable`, () => {
      assert.throws(
        () => expandEnvValue('K', input, lookup),
        (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && re.test(e.message) && e.message.startsWith('invalid --env K: ') && !e.message.includes('\n'),
      );
    });
  }

  // Env values carry tokens and CI logs are public: the message says which variable and where the
  // `${` stands, never the value's text (not the whole value quoted).
  it('names the variable and the offset of the unclosed "${", never the value', () => {
    assert.throws(
      () => expandEnvValue('TOKEN', 'abc${secret', lookup),
      (e: unknown) =>
        e instanceof UsageError &&
        e.code === 'E_USAGE' &&
        /^invalid --env TOKEN: the "\$\{" at offset 3 of its value has no closing "\}"/.test(e.message) &&
        !e.message.includes('abc') &&
        !e.message.includes('secret') &&
        e.details.offset === 3,
    );
  });
  for (const value of ['hunter2${}', 'hunter2${9x}', 'hunter2${pw:?hunter2}', 'hunter2${pw:-hunter2']) {
    it(`keeps ${JSON.stringify(value)} out of its refusal`, () => {
      assert.throws(
        () => expandEnvValue('PW', value, lookup),
        (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && e.message.startsWith('invalid --env PW: ') && !e.message.includes('hunter2') && !/\bpw\b/.test(e.message),
      );
    });
  }
});
