import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IgnoreMatcher, parseDockerignoreLines } from '../../src/layer/dockerignore.js';

/** The patterns of a .dockerignore's text. */
function patternsOf(text: string): string[] {
  return parseDockerignoreLines(text).patterns;
}

function matcher(text: string): IgnoreMatcher {
  return new IgnoreMatcher(patternsOf(text));
}

/** Asserts which paths the .dockerignore text excludes and which it keeps. */
function check(text: string, excluded: string[], kept: string[]): void {
  const m = matcher(text);
  for (const p of excluded) assert.equal(m.isExcluded(p), true, `${JSON.stringify(text)} should exclude ${p}`);
  for (const p of kept) assert.equal(m.isExcluded(p), false, `${JSON.stringify(text)} should keep ${p}`);
}

describe('parseDockerignoreLines (moby ignorefile.ReadAll)', () => {
  it('drops comments, blank lines and a leading slash; cleans paths; keeps ! exceptions', () => {
    const text = 'test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ';
    assert.deepEqual(parseDockerignoreLines(text), { patterns: ['test1', 'test2', 'a/file/here', 'lastfile', '!inverted/abs/path', '!', '!'], lines: [1, 2, 3, 5, 7, 8, 9] });
  });

  it('treats # as a comment only in the first column', () => {
    assert.deepEqual(patternsOf('#c\n  # not a comment\n'), ['# not a comment']);
  });

  it('strips a UTF-8 BOM, CRLF line ends and surrounding spaces', () => {
    assert.deepEqual(patternsOf('\uFEFF*.log\r\n  build/  \r\n'), ['*.log', 'build']);
  });

  it('cleans . and .. and repeated slashes like Go filepath.Clean', () => {
    assert.deepEqual(patternsOf('./a/../b//c/\n/\n.\n'), ['b/c', '/', '.']);
  });
});

describe('IgnoreMatcher (moby patternmatcher semantics)', () => {
  it('*.log matches only at the root (Docker is not gitignore)', () => {
    check('*.log', ['a.log', 'x.log'], ['sub/a.log', 'a.log.txt', 'alog']);
  });

  it('** matches every character but a newline, as Go\'s . in Docker\'s matcher: a \\r, U+2028 and U+2029 included', () => {
    check('build*/**', ['build1/Icon\r', 'build1/a\u2028b', 'build2/x\u2029'], ['src/Icon\r']);
  });

  it('**/*.log matches at any depth, including the root', () => {
    check('**/*.log', ['a.log', 'sub/a.log', 'a/b/c.log'], ['a.txt', 'sub/a.txt']);
  });

  it('!keep.log re-includes after *.log; the later line wins', () => {
    check('*.log\n!keep.log', ['a.log'], ['keep.log']);
    check('!keep.log\n*.log', ['a.log', 'keep.log'], []);
  });

  it('**/node_modules excludes the directory wherever it is, and everything inside', () => {
    check('**/node_modules', ['node_modules', 'node_modules/x/i.js', 'a/node_modules', 'a/b/node_modules/c'], ['node_modules_x', 'a/nodemodules']);
  });

  it('/build is anchored at the context root and excludes the tree below', () => {
    check('/build', ['build', 'build/out/x.o'], ['src/build', 'builds']);
    check('build/', ['build', 'build/x'], ['src/build']);
  });

  it('a directory pattern with an exception inside re-includes just that path', () => {
    const m = matcher('docs\n!docs/README.md');
    assert.equal(m.isExcluded('docs'), true);
    assert.equal(m.isExcluded('docs/other.md'), true);
    assert.equal(m.isExcluded('docs/README.md'), false);
    assert.equal(m.mayReincludeBelow('docs'), true);
    assert.equal(m.mayReincludeBelow('docs/sub'), false);
    assert.equal(m.mayReincludeBelow('other'), false);
  });

  it('an exception naming a directory re-includes its whole tree (allow-list style)', () => {
    check('*\n!src', ['.dockerignore', 'README.md', 'build', 'build/x'], ['src', 'src/a/b.ts']);
    const m = matcher('*\n!src');
    assert.equal(m.mayReincludeBelow('build'), false);
  });

  it('a later pattern can exclude again inside a re-included directory', () => {
    check('*\n!src\nsrc/**/*.test.ts', ['src/a/b.test.ts', 'x'], ['src/a/b.ts']);
  });

  it('**-led exceptions force a walk of every excluded directory', () => {
    const m = matcher('vendor\n!**/LICENSE');
    assert.equal(m.isExcluded('vendor/lib/LICENSE'), false);
    assert.equal(m.isExcluded('vendor/lib/code.go'), true);
    assert.equal(m.mayReincludeBelow('vendor'), true);
    assert.equal(m.mayReincludeBelow('vendor/lib'), true);
  });

  it('* and ? never cross a slash', () => {
    check('a?c', ['abc', 'a.c'], ['a/c', 'ac', 'abbc']);
    check('a/*/c', ['a/b/c', 'a/b/c/d'], ['a/c', 'a/b/x/c']);
    check('?', ['a', 'é', 'a/b'], ['ab']);
  });

  it('a/**/b matches zero or more directories in between', () => {
    check('a/**/b', ['a/b', 'a/x/b', 'a/x/y/b', 'a/x/b/c'], ['a/xb', 'b', 'x/a/b']);
  });

  it('a trailing ** matches below the directory (not the directory itself); ** alone matches all', () => {
    check('foo/**', ['foo/x', 'foo/x/y'], ['foo', 'foobar']);
    check('**', ['a', 'a/b', '.dockerignore'], []);
  });

  it('a leading ** with a literal rest is a suffix match, like moby (**.log)', () => {
    check('**.log', ['a.log', 'dir/b.log', 'x/y/z.log'], ['a.txt', 'log']);
    check('**/foo', ['foo', 'a/foo', 'a/b/foo'], ['afoo', 'foox']);
  });

  it('character classes and ranges, with ^ negation', () => {
    check('[abc].txt', ['a.txt', 'c.txt'], ['d.txt', 'ab.txt']);
    check('file[0-9]', ['file0', 'file7'], ['filex', 'file10']);
    check('[^a].md', ['b.md'], ['a.md']);
  });

  it('regexp metacharacters in names are literal', () => {
    check('a+b(c).txt', ['a+b(c).txt'], ['aab(c).txt', 'abc.txt']);
    check('x.y', ['x.y'], ['xzy']);
    check('my-file{1}|$', ['my-file{1}|$'], ['my-file1']);
  });

  it('a lone ] is literal', () => {
    check('a]b', ['a]b'], ['ab']);
  });

  it('a backslash escapes the next character', () => {
    check('\\*.txt', ['*.txt'], ['a.txt']);
    check('a\\?', ['a?'], ['ab']);
  });

  it('.dockerignore and Dockerfile are ordinary names: kept unless a pattern matches them', () => {
    check('*.log', [], ['.dockerignore', 'Dockerfile']);
    check('.dockerignore\nDockerfile', ['.dockerignore', 'Dockerfile'], ['a']);
  });

  it('an empty file excludes nothing', () => {
    const m = matcher('# nothing here\n\n');
    assert.equal(m.empty, true);
    assert.equal(m.isExcluded('anything'), false);
  });

  it('rejects malformed patterns with InputError', () => {
    // Each names the pattern and what is wrong with it.
    assert.throws(() => matcher('[abc'), { name: 'InputError', code: 'E_INPUT', message: /^\.dockerignore: bad pattern "\[abc": unclosed "\["$/ });
    assert.throws(() => matcher('[-a]'), { name: 'InputError', code: 'E_INPUT', message: /^\.dockerignore: bad pattern "\[-a\]": "-" at the edge of a character class$/ });
    assert.throws(() => matcher('[]'), { name: 'InputError', code: 'E_INPUT', message: /^\.dockerignore: bad pattern "\[\]": empty character class$/ });
    assert.throws(() => matcher('!'), { name: 'InputError', code: 'E_INPUT', message: /^\.dockerignore: illegal exclusion pattern "!"$/ });
    assert.throws(() => matcher('[z-a]'), { name: 'InputError', code: 'E_INPUT', message: /^\.dockerignore: bad pattern "\[z-a\]": a range out of order in a character class$/ });
  });
});

describe('IgnoreMatcher work is linear in the path length', () => {
  // A 40-deep path of long names: the regexp this matcher replaced backtracked over every way of
  // splitting the path among the four `**` and the letters among the `*`, for minutes on such a path.
  // (That regexp takes about 0.4 s on a 20-deep path with an 160-character `abab…` name, growing with the cube of each.)
  const longName = 'ab'.repeat(120);
  const deep = (depth: number, leaf: string): string => Array.from({ length: depth }, (_, i) => `dir${i}-${'y'.repeat(50)}`).concat(leaf).join('/');

  for (const pattern of ['**/**/**/**/*a*b*c*', '**/**/**/**/*a*b*c*/**', 'dir0*/**/**/*a*b*c*', '!**/**/*a*b*c*']) {
    it(`${pattern}: at most states × characters automaton steps on a 40-deep path`, () => {
      const m = matcher(pattern.startsWith('!') ? `**\n${pattern}` : pattern);
      const path = deep(40, longName);
      const before = m.counter.steps;
      const excluded = m.isExcluded(path);
      const steps = m.counter.steps - before;
      // The path has no `c` after its `b`, so nothing matches (or, with `**` first, the exception does not re-include).
      assert.equal(excluded, pattern.startsWith('!'));
      // Each character visits each automaton state at most twice (once added, once stepped); 40 states is generous.
      const bound = 2 * 40 * (path.length + 1);
      assert.ok(steps <= bound, `${steps} steps for a ${path.length}-character path (bound ${bound})`);
      // And it grows linearly: a path twice as deep costs at most about twice as much.
      const before2 = m.counter.steps;
      m.isExcluded(deep(80, longName + longName));
      const steps2 = m.counter.steps - before2;
      assert.ok(steps2 <= 2.5 * steps + 100, `${steps2} steps at twice the length vs ${steps}`);
    });
  }

  it('still matches such a pattern where it should (self and parent directory)', () => {
    const hit = 'x'.repeat(100) + 'a' + 'x'.repeat(100) + 'b' + 'c';
    check('**/**/**/**/*a*b*c*', [deep(40, hit), `${deep(10, hit)}/child/leaf`], [deep(40, 'abx')]);
  });
});
