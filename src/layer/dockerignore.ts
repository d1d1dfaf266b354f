/**
 * `.dockerignore` with Docker's semantics, so a directory excludes the same files here as in a
 * `docker build` context. Mirrors moby's ignorefile.ReadAll (line parsing) and
 * patternmatcher.MatchesOrParentMatches (matching), re-implemented from their documented behaviour:
 *
 * - patterns are relative to the context root; a leading `/` is dropped, `.`/`..`/`//` are cleaned;
 * - `#` starts a comment only in the first column; blank lines are skipped; a UTF-8 BOM is dropped;
 * - `*` and `?` never cross `/`; `**` crosses any number of directories (also zero);
 * - `!pattern` re-includes; the last matching line wins;
 * - a pattern that matches a directory excludes everything below it (the parent check), yet an
 *   exception may re-include something inside, so such a directory is still walked.
 *
 * Deliberate differences from moby, all in corners no real file uses: a backslash escape is always
 * the literal next character (Go's regexp would read `\d` as a digit class), and `^` outside a
 * character class is literal (in Go it is an anchor that can never match).
 */
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { InputError } from '../errors.js';
import { fsInputError } from './sources.js';

/** How one pattern is tested; the first three are moby's fast paths and differ from the regexp in corners (`**.log`). */
type MatchKind = 'exact' | 'prefix' | 'suffix' | 'regexp';

/** A compiled pattern: tests a path itself, or the path and each of its parent directories in one pass. */
interface Compiled {
  test: (path: string) => boolean;
  /** True when the path or one of its parents (`a` and `a/b` for `a/b/c`) matches. */
  testSelfOrParent: (path: string) => boolean;
}

/** Counts the state visits of the automaton matcher, so a test can bound the work without timing it. */
export interface MatchCounter {
  steps: number;
}

interface Rule {
  exclusion: boolean;
  /** Cleaned pattern without the `!`, as written after cleaning; kept for error messages and pruning. */
  pattern: string;
  segments: string[];
  compiled: Compiled;
  /** Per-segment matchers, compiled on first use by mayReincludeBelow. */
  segmentTests?: ((name: string) => boolean)[];
}

const BOM = '\uFEFF';
/** The largest .dockerignore read: a real one is a few hundred bytes, and this bounds a mistaken one (a log, an archive) read whole. */
const MAX_DOCKERIGNORE = 1024 * 1024;

/** Go's filepath.Clean for slash paths: no trailing slash, no `.`, `..` resolved lexically, `""` → `.`. */
function cleanPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * Lines of a .dockerignore → patterns (`!` kept as prefix), exactly as moby's ReadAll returns them,
 * with the line (from 1) each was read from, for messages.
 */
export function parseDockerignoreLines(text: string): { patterns: string[]; lines: number[] } {
  const out: string[] = [];
  const at: number[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (i === 0 && line.startsWith(BOM)) line = line.slice(1);
    // Docker tests for a comment before trimming: "  # x" is a pattern, not a comment.
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const invert = pattern[0] === '!';
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern[0] === '/') pattern = pattern.slice(1);
    }
    out.push(invert ? `!${pattern}` : pattern);
    at.push(i + 1);
  }
  return { patterns: out, lines: at };
}

/** Escapes a literal inside a character class. */
function escapeClassChar(ch: string): string {
  return /[\\^\]\[-]/.test(ch) ? `\\${ch}` : ch;
}

/**
 * One state of the pattern automaton. The pattern is a chain of states; state `i` either consumes one
 * character (`one`), loops on characters (`loop`), or is the entry of `**` + `/` (`split`: skip it,
 * or go to the loop state that may leave on a `/`). The last state (`accept`) is the match.
 */
type State =
  | { kind: 'one'; test: (ch: string) => boolean }
  | { kind: 'loop'; test: (ch: string) => boolean; exitOnSlash: boolean }
  | { kind: 'split' }
  | { kind: 'accept' };

/**
 * What `**` matches: Docker compiles it to `.*` in a Go regexp (moby/patternmatcher), and Go's `.`
 * excludes only `\n` — a `\r` (macOS's `Icon\r` folder-icon file), U+2028 or U+2029 is matched.
 */
const notNewline = (ch: string): boolean => ch !== '\n';
const notSlash = (ch: string): boolean => ch !== '/';

/**
 * Runs the automaton over the path by simulating every state at once (Thompson's construction):
 * each character costs at most one visit per state, so matching is linear in the path length
 * whatever the pattern (`**` + `/` + `**` + `/` + `*a*b*c*` backtracks super-linearly in a regexp engine).
 * With `atSlash`, also reports a match of any prefix that ends just before a `/`: the parent directories.
 */
function runAutomaton(states: State[], path: string, atSlash: boolean, counter: MatchCounter): boolean {
  const n = states.length;
  const mark = new Int32Array(n).fill(-1);
  let gen = 0;
  let current: number[] = [];
  let next: number[] = [];
  // Adds a state and those it reaches without consuming: a `*` loop may be left, a `**` + `/` skipped or entered.
  const add = (list: number[], i: number): void => {
    if (i >= n || mark[i] === gen) return;
    mark[i] = gen;
    list.push(i);
    counter.steps++;
    const st = states[i];
    if (st.kind === 'split') {
      add(list, i + 2); // skip: the loop state is i + 1, what follows the `/` is i + 2
      add(list, i + 1); // enter the loop, which is left only by consuming a `/`
    } else if (st.kind === 'loop' && !st.exitOnSlash) {
      add(list, i + 1);
    }
  };
  add(current, 0);
  const accept = n - 1;
  for (const ch of path) {
    if (atSlash && ch === '/' && mark[accept] === gen) return true;
    if (current.length === 0) return false;
    gen++;
    next.length = 0;
    for (const i of current) {
      counter.steps++;
      const st = states[i];
      if (st.kind === 'one') {
        if (st.test(ch)) add(next, i + 1);
      } else if (st.kind === 'loop') {
        if (st.test(ch)) add(next, i);
        if (st.exitOnSlash && ch === '/') add(next, i + 1);
      }
    }
    [current, next] = [next, current];
  }
  return mark[accept] === gen;
}

/**
 * Compiles one cleaned pattern (without `!`) the way moby's Pattern.compile classifies it.
 * Throws InputError for a pattern Go's filepath.Match would reject (unclosed `[`, trailing `\` in a class).
 */
function compilePattern(pattern: string, counter: MatchCounter): Compiled {
  const chars = Array.from(pattern); // code points, so `?` matches one character, not half a surrogate pair
  const states: State[] = [];
  let kind: MatchKind = 'exact';
  let literal = ''; // the unescaped literal text for the exact/prefix/suffix fast paths
  let k = 0;
  // `why` never holds the pattern's text: a caller may have to leave that out (loadIgnore, below).
  const bad = (why: string): never => {
    throw new InputError(`.dockerignore: bad pattern "${pattern}": ${why}`, { details: { why } });
  };
  const literalState = (c: string): State => ({ kind: 'one', test: (ch) => ch === c });
  for (let iter = 0; k < chars.length; iter++) {
    const ch = chars[k++];
    if (ch === '*') {
      if (chars[k] === '*') {
        k++;
        let ateSlash = false;
        if (chars[k] === '/') {
          k++;
          ateSlash = true;
        }
        if (k >= chars.length) {
          if (kind === 'exact') kind = 'prefix';
          else {
            states.push({ kind: 'loop', test: notNewline, exitOnSlash: false });
            kind = 'regexp';
          }
        } else {
          // `(?:.*/)?`: skip, or any run of characters that ends with a `/`.
          states.push({ kind: 'split' }, { kind: 'loop', test: notNewline, exitOnSlash: true });
          kind = 'regexp';
        }
        // A leading `**` followed only by literal text is moby's suffix match: `**/foo`, `**.log`.
        if (iter === 0) {
          kind = 'suffix';
          literal = ateSlash ? '/' : '';
        }
      } else {
        states.push({ kind: 'loop', test: notSlash, exitOnSlash: false });
        kind = 'regexp';
      }
    } else if (ch === '?') {
      states.push({ kind: 'one', test: notSlash });
      kind = 'regexp';
    } else if (ch === '\\') {
      if (k < chars.length) {
        const next = chars[k++];
        states.push(literalState(next));
        literal += next;
        kind = 'regexp';
      } else {
        states.push(literalState('\\'));
        literal += '\\';
      }
    } else if (ch === '[') {
      kind = 'regexp';
      let cls = '[';
      if (chars[k] === '^') {
        cls += '^';
        k++;
      }
      let items = 0;
      for (;;) {
        if (k >= chars.length) bad('unclosed "["');
        const c = chars[k++];
        if (c === ']') {
          if (items === 0) bad('empty character class');
          break;
        }
        if (c === '\\') {
          if (k >= chars.length) bad('trailing "\\" in a character class');
          cls += escapeClassChar(chars[k++]);
        } else if (c === '-') {
          // filepath.Match rejects a class that starts or ends with '-'.
          if (items === 0 || chars[k] === ']') bad('"-" at the edge of a character class');
          cls += '-';
        } else {
          cls += escapeClassChar(c);
        }
        items++;
      }
      // A single-character class is a constant-time regexp; building it also rejects a reversed range.
      let rx: RegExp;
      try {
        rx = new RegExp(`^${cls}]$`, 'u');
      } catch (err) {
        // V8's message quotes the whole expression; say what is wrong without it.
        return bad(/out of order/i.test((err as Error).message) ? 'a range out of order in a character class' : 'an invalid character class');
      }
      states.push({ kind: 'one', test: (c) => rx.test(c) });
    } else if (ch === ']') {
      // Literal, as in filepath.Match; moby still switches to its regexp for it.
      states.push(literalState(']'));
      literal += ']';
      kind = 'regexp';
    } else {
      states.push(literalState(ch));
      literal += ch;
    }
  }
  states.push({ kind: 'accept' });

  // Offsets just past each parent directory of a path: the indexes of its `/`.
  const slashes = (path: string): number[] => {
    const out: number[] = [];
    for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) out.push(i);
    return out;
  };
  switch (kind) {
    case 'exact':
      return {
        test: (path) => path === literal,
        testSelfOrParent: (path) => path === literal || (path.startsWith(literal) && path[literal.length] === '/'),
      };
    case 'prefix':
      return {
        test: (path) => path.startsWith(literal),
        // A parent that starts with the literal is a prefix of the path, so the path starts with it too.
        testSelfOrParent: (path) => path.startsWith(literal),
      };
    case 'suffix': {
      const test = (path: string): boolean => path.endsWith(literal) || (literal.startsWith('/') && path === literal.slice(1));
      return {
        test,
        testSelfOrParent: (path) =>
          test(path) ||
          slashes(path).some(
            (j) =>
              (j >= literal.length && path.startsWith(literal, j - literal.length)) ||
              (literal.startsWith('/') && j === literal.length - 1 && path.startsWith(literal.slice(1))),
          ),
      };
    }
    case 'regexp':
      return {
        test: (path) => runAutomaton(states, path, false, counter),
        testSelfOrParent: (path) => runAutomaton(states, path, true, counter),
      };
  }
}

/** Matcher of one segment of a rule; a segment that does not compile alone (`[/]` split in two) matches anything, to stay conservative. */
function segmentTest(rule: Rule, i: number, counter: MatchCounter): (name: string) => boolean {
  rule.segmentTests ??= rule.segments.map((seg) => {
    try {
      return compilePattern(seg, counter).test;
    } catch {
      return () => true;
    }
  });
  return rule.segmentTests[i];
}

/** Compiled .dockerignore rules for one context root; paths are slash-separated and relative to it. */
export class IgnoreMatcher {
  private readonly rules: Rule[];
  private readonly exclusions: Rule[];
  /** Automaton state visits so far, for a test that bounds matching work by counting instead of timing. */
  readonly counter: MatchCounter = { steps: 0 };

  /**
   * Compiles patterns as returned by parseDockerignoreLines; InputError on a malformed one, whose
   * details say why (`why`, without the pattern's text) and which pattern (`index` in `patterns`).
   */
  constructor(patterns: string[]) {
    this.rules = [];
    for (let index = 0; index < patterns.length; index++) {
      let p = patterns[index]!.trim();
      if (p === '') continue;
      let exclusion = false;
      if (p[0] === '!') {
        if (p.length === 1) throw new InputError('.dockerignore: illegal exclusion pattern "!"', { details: { why: 'an exclusion "!" with no pattern', index } });
        exclusion = true;
        p = p.slice(1);
      }
      p = cleanPath(p);
      let compiled: Compiled;
      try {
        compiled = compilePattern(p, this.counter);
      } catch (err) {
        if (err instanceof InputError) throw new InputError(err.message, { details: { ...err.details, index } });
        throw err;
      }
      this.rules.push({ exclusion, pattern: p, segments: p.split('/'), compiled });
    }
    this.exclusions = this.rules.filter((r) => r.exclusion);
  }

  /** True when there is nothing to match, so the walk can skip all checks. */
  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** Docker's MatchesOrParentMatches: true when the path, or one of its parent directories, is ignored. */
  isExcluded(path: string): boolean {
    if (this.rules.length === 0) return false;
    let matched = false;
    for (const rule of this.rules) {
      // An inclusion cannot change an already-excluded path, nor an exception an included one.
      if (rule.exclusion !== matched) continue;
      const hit = rule.compiled.testSelfOrParent(path);
      if (hit) matched = !rule.exclusion;
    }
    return matched;
  }

  /**
   * Whether some `!` exception could re-include a path below this (excluded) directory, so the walk
   * must enter it. Conservative: any `**` in the exception's leading segments answers yes.
   * (Docker's classic builder only compares string prefixes and misses a `**`-led exception such as `!**` + `/keep`; BuildKit gets it right.)
   */
  mayReincludeBelow(dir: string): boolean {
    return this.mayMatchBelow(this.exclusions, dir);
  }

  /**
   * Whether these patterns could leave out anything at or below `dir` (a folder the walk has not
   * listed): it, or a parent, is excluded, or a pattern could reach inside it. Conservative as
   * mayReincludeBelow. For a warning that a context's .dockerignore would have filtered a source
   * folder it does not apply to: `bin/` at the root reaches nothing in `publish/`, a `.env` pattern led by `**` does.
   */
  mayExcludeAtOrBelow(dir: string): boolean {
    if (this.isExcluded(dir)) return true;
    return this.mayMatchBelow(this.rules.filter((r) => !r.exclusion), dir);
  }

  /** Whether one of `rules` could match a path strictly below `dir`, segment by segment. */
  private mayMatchBelow(rules: readonly Rule[], dir: string): boolean {
    if (rules.length === 0) return false;
    const dirSegs = dir.split('/');
    return rules.some((rule) => {
      for (let i = 0; i < dirSegs.length; i++) {
        if (i >= rule.segments.length) return false;
        const seg = rule.segments[i];
        if (seg.includes('**')) return true;
        if (!segmentTest(rule, i, this.counter)(dirSegs[i])) return false;
      }
      return rule.segments.length > dirSegs.length;
    });
  }
}

/**
 * The `.dockerignore` of the source directory `dir`, compiled (an empty matcher when it has none).
 * One that exists but cannot be read as a file — a symlink to nothing, a directory, a fifo — is
 * E_INPUT naming it: taken as "no file" it would silently leave in everything it was written to
 * keep out (`.env`, `.git`), and a fifo's read would never end.
 */
export function loadIgnore(dir: string): IgnoreMatcher {
  const file = join(dir, '.dockerignore');
  let text: string;
  let linked = false;
  try {
    let st;
    try {
      st = lstatSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new IgnoreMatcher([]);
      throw err;
    }
    if (st.isSymbolicLink()) {
      linked = true;
      try {
        st = statSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        throw new InputError(`${file}: a symlink to nothing (its target does not exist); fix or remove it: as it is, nothing it lists would be excluded`, { cause: err, details: { path: file } });
      }
    }
    if (!st.isFile()) {
      const what = st.isDirectory() ? 'a directory' : 'not a regular file';
      throw new InputError(`${file}: ${what}; a .dockerignore must be a file (or absent): as it is, nothing would be excluded`, { details: { path: file } });
    }
    if (st.size > MAX_DOCKERIGNORE) throw new InputError(`${file}: larger than ${MAX_DOCKERIGNORE} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw fsInputError(file, err);
  }
  const { patterns, lines } = parseDockerignoreLines(text);
  try {
    return new IgnoreMatcher(patterns);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    // Named by file and line. The pattern is quoted only from a file of the source's own: a
    // .dockerignore that is a symlink may lead to any file of the host (a key, a token), and an
    // error line ends up in a CI log.
    const { why, index } = err.details as { why?: string; index?: number };
    const line = index === undefined ? '' : `:${lines[index]}`;
    const text = linked ? `bad pattern (not quoted: this .dockerignore is a symlink): ${why}` : err.message.replace(/^\.dockerignore: /, '');
    throw new InputError(`${file}${line}: ${text}`, { details: { path: file, ...(index === undefined ? {} : { line: lines[index] }) } });
  }
}
