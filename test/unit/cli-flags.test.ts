import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configChangesFromFlags, execForm, many, parseChown } from '../../src/cli/flags.js';
import { single } from '../../src/cli/flag-table.js';
import { closest } from '../../src/did-you-mean.js';
import { withSuggestion } from '../../src/cli/suggest.js';
import { UsageError } from '../../src/errors.js';

test('repeatable flags: one value or many; exec form "" clears', () => {
  assert.equal(many(undefined), undefined);
  assert.deepEqual(many('a'), ['a']);
  assert.deepEqual(many(['a', 'b']), ['a', 'b']);
  assert.deepEqual(execForm(['dotnet', 'App.dll']), ['dotnet', 'App.dll']);
  assert.deepEqual(execForm(''), []);
  assert.deepEqual(execForm(['', 'x']), ['', 'x']);
});

test('config flags become ConfigChanges, normalised', () => {
  const c = configChangesFromFlags({
    entrypoint: ['dotnet', 'App.dll'], cmd: '', env: ['A=1', 'B=x=y'], port: ['80', '53/udp'], workdir: '/app',
    volume: '/data', label: ['team=core', 'empty='], user: 'app:app',
  });
  assert.deepEqual(c, {
    entrypoint: ['dotnet', 'App.dll'], cmd: [], env: ['A=1', 'B=x=y'], ports: ['80/tcp', '53/udp'], workdir: '/app',
    volumes: ['/data'], labels: { team: 'core', empty: '' }, user: 'app:app',
  });
  assert.deepEqual(configChangesFromFlags({}), {});
});

test('bad config flags are E_USAGE naming the value (an --env value excepted: it may be a token)', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ env: '=1' }, /^invalid --env: the variable name is empty/], [{ env: 'NOEQ' }, /^invalid --env: expected KEY=VALUE(?!.*NOEQ)/], [{ port: '0' }, /0/], [{ port: '70000' }, /70000/], [{ port: 'http' }, /http/],
    [{ label: 'x' }, /x/], [{ workdir: 'rel' }, /workdir/], [{ volume: 'rel' }, /volume/], [{ user: 'a b' }, /user/], [{ user: 'a:b:c' }, /user/],
  ];
  for (const [flags, msg] of bad) assert.throws(() => configChangesFromFlags(flags), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && msg.test((e as Error).message), JSON.stringify(flags));
});

test('--chown and single-valued flags', () => {
  assert.deepEqual(parseChown('1000:1001'), { uid: 1000, gid: 1001 });
  assert.equal(parseChown(undefined), undefined);
  for (const v of ['root', '1:', ':1', '-1:0', '1:2:3']) assert.throws(() => parseChown(v), { name: 'UsageError', code: 'E_USAGE', message: `--chown must be UID:GID in numbers (got "${v}")` }, v);
  assert.doesNotThrow(() => single({ from: 'a' }, ['from']));
  assert.throws(() => single({ from: ['a', 'b'] }, ['from']), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && /--from was given 2 times/.test((e as Error).message));
});

test('suggestions for typos, none for unrelated words', () => {
  assert.equal(closest('entrypiont', ['entrypoint', 'env', 'cmd']), 'entrypoint');
  assert.equal(closest('form', ['from', 'to']), 'from');
  assert.equal(closest('zzzzzzzz', ['from', 'to']), undefined);
  const known = { commands: ['push', 'copy', 'inspect'], flags: ['from', 'to', 'entrypoint'] };
  assert.match(withSuggestion('Unknown argument: entrypiont', ['push', '--entrypiont', 'x'], known), /did you mean --entrypoint/);
  assert.match(withSuggestion('Missing required argument: from', ['push', '--form', 'x'], known), /unknown flag --form: did you mean --from\?/);
  assert.match(withSuggestion('Missing required argument: from', ['push', '--qqqqqq'], known), /unknown flag --qqqqqq/);
});
