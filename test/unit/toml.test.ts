// The TOML subset registries.conf files are read with (src/registry/toml.ts): what it reads, and
// that what it does not read is refused with the file and line rather than misread. What
// mirror-config.ts makes of the tables is tested in mirrors.test.ts.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MirrorConfigError } from '../../src/errors.js';
import { parseToml } from '../../src/registry/toml.js';

const bad = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof MirrorConfigError && e.code === 'E_INPUT' && re.test(e.message));

it('the TOML reader refuses what it does not read instead of misreading it', () => {
  bad(() => parseToml('a = {b = 1 c = 2}\n', 'r.conf'), /^r\.conf:1: expected , or \} in an inline table/);
  bad(() => parseToml('a = 1.5\n', 'r.conf'), /^r\.conf:1: expected a value/);
  bad(() => parseToml('\n\na = """x"""\n', 'r.conf'), /^r\.conf:3: multi-line strings/);
  bad(() => parseToml('a = "x\n', 'r.conf'), /unterminated string/);
  bad(() => parseToml('a = 1\na = 2\n', 'r.conf'), /^r\.conf:2: a is defined twice/);
  bad(() => parseToml('a = 1 b\n', 'r.conf'), /unexpected "b"/);
  bad(() => parseToml('[a\n', 'r.conf'), /expected \]/);
  bad(() => parseToml('a = [1 2]\n', 'r.conf'), /expected , or \]/);
  bad(() => parseToml('a = "\\q"\n', 'r.conf'), /bad escape/);
  bad(() => parseToml('a = 1\n[a]\n', 'r.conf'), /already defined/);
  bad(() => parseToml('= 1\n', 'r.conf'), /expected a key/);
  bad(() => parseToml('a = nope\n', 'r.conf'), /expected a value/);
  assert.deepEqual(parseToml("a.b = 'lit\\eral'\n\"q k\" = -1_000\nt = true\n[x.y]\nz = [[1], []]\n", 'r.conf'), {
    a: { b: 'lit\\eral' }, 'q k': -1000, t: true, x: { y: { z: [[1], []] } },
  });
  // Inline tables, as registries.conf files often write their mirrors.
  assert.deepEqual(parseToml('m = [ { location = "a.example", insecure = true }, {}, { x.y = "z" } ]\nn = {a = 1}\no = {b = true}\n', 'r.conf'), { m: [{ location: 'a.example', insecure: true }, {}, { x: { y: 'z' } }], n: { a: 1 }, o: { b: true } });
});
