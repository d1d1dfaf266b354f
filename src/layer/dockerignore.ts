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
import { posix } from 'node:path';
import { InputError } from '../errors.js';

/** How one pattern is tested; the first three are moby's fast paths and differ from the regexp in corners (`**.log`). */
type MatchKind = 'exact' | 'prefix' | 'suffix' | 'regexp';

interface Rule {
  exclusion: boolean;
  /** Cleaned pattern without the `!`, as written after cleaning; kept for error messages and pruning. */
  pattern: string;
  segments: string[];
  test: (path: string) => boolean;
  /** Per-segment matchers, compiled on first use by mayReincludeBelow. */
  segmentTests?: ((name: string) => boolean)[];
}

const BOM = '\uFEFF';

/** Go's filepath.Clean for slash paths: no trailing slash, no `.`, `..` resolved lexically, `""` → `.`. */
function cleanPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** Lines of a .dockerignore → patterns (`!` kept as prefix), exactly as moby's ReadAll returns them. */
export function parseDockerignore(text: string): string[] {
  const out: string[] = [];
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
  }
  return out;
}

/** Escapes a literal outside a character class (the `u` flag rejects escapes of non-syntax characters such as `-`). */
function escapeRegexChar(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

/** Escapes a literal inside a character class. */
function escapeClassChar(ch: string): string {
  return /[\\^\]\[-]/.test(ch) ? `\\${ch}` : ch;
}

/**
 * Compiles one cleaned pattern (without `!`) the way moby's Pattern.compile classifies it.
 * Throws InputError for a pattern Go's filepath.Match would reject (unclosed `[`, trailing `\` in a class).
 */
function compilePattern(pattern: string): (path: string) => boolean {
  const chars = Array.from(pattern); // code points, so `?` matches one character, not half a surrogate pair
  let re = '';
  let kind: MatchKind = 'exact';
  let literal = ''; // the unescaped literal text for the exact/prefix/suffix fast paths
  let k = 0;
  const bad = (why: string): never => {
    throw new InputError(`.dockerignore: bad pattern "${pattern}": ${why}`);
  };
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
            re += '.*';
            kind = 'regexp';
          }
        } else {
          re += '(?:.*/)?';
          kind = 'regexp';
        }
        // A leading `**` followed only by literal text is moby's suffix match: `**/foo`, `**.log`.
        if (iter === 0) {
          kind = 'suffix';
          literal = ateSlash ? '/' : '';
        }
      } else {
        re += '[^/]*';
        kind = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      kind = 'regexp';
    } else if (ch === '\\') {
      if (k < chars.length) {
        const next = chars[k++];
        re += escapeRegexChar(next);
        literal += next;
        kind = 'regexp';
      } else {
        re += '\\\\';
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
      re += `${cls}]`;
    } else if (ch === ']') {
      // Literal, as in filepath.Match; moby still switches to its regexp for it.
      re += '\\]';
      literal += ']';
      kind = 'regexp';
    } else {
      re += escapeRegexChar(ch);
      literal += ch;
    }
  }

  switch (kind) {
    case 'exact':
      return (path) => path === literal;
    case 'prefix':
      return (path) => path.startsWith(literal);
    case 'suffix':
      return (path) => path.endsWith(literal) || (literal.startsWith('/') && path === literal.slice(1));
    case 'regexp': {
      let rx: RegExp;
      try {
        rx = new RegExp(`^${re}$`, 'u');
      } catch (err) {
        return bad((err as Error).message);
      }
      return (path) => rx.test(path);
    }
  }
}

/** Matcher of one segment of a rule; a segment that does not compile alone (`[/]` split in two) matches anything, to stay conservative. */
function segmentTest(rule: Rule, i: number): (name: string) => boolean {
  rule.segmentTests ??= rule.segments.map((seg) => {
    try {
      return compilePattern(seg);
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

  /** Compiles patterns as returned by parseDockerignore; InputError on a malformed one. */
  constructor(patterns: string[]) {
    this.rules = [];
    for (const raw of patterns) {
      let p = raw.trim();
      if (p === '') continue;
      let exclusion = false;
      if (p[0] === '!') {
        if (p.length === 1) throw new InputError('.dockerignore: illegal exclusion pattern "!"');
        exclusion = true;
        p = p.slice(1);
      }
      p = cleanPath(p);
      this.rules.push({ exclusion, pattern: p, segments: p.split('/'), test: compilePattern(p) });
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
    const parts = path.split('/');
    const parents: string[] = [];
    for (let i = 1; i < parts.length; i++) parents.push(parts.slice(0, i).join('/'));
    let matched = false;
    for (const rule of this.rules) {
      // An inclusion cannot change an already-excluded path, nor an exception an included one.
      if (rule.exclusion !== matched) continue;
      let hit = rule.test(path);
      if (!hit) {
        for (const parent of parents) {
          if (rule.test(parent)) {
            hit = true;
            break;
          }
        }
      }
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
    if (this.exclusions.length === 0) return false;
    const dirSegs = dir.split('/');
    return this.exclusions.some((rule) => {
      for (let i = 0; i < dirSegs.length; i++) {
        if (i >= rule.segments.length) return false;
        const seg = rule.segments[i];
        if (seg.includes('**')) return true;
        if (!segmentTest(rule, i)(dirSegs[i])) return false;
      }
      return rule.segments.length > dirSegs.length;
    });
  }
}
