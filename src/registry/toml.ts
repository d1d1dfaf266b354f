/**
 * The TOML subset registries.conf files use: tables ([a.b]), arrays of tables ([[a.b]]), key =
 * value with bare or quoted keys (dotted keys too), basic and literal strings, booleans, integers,
 * arrays of those (over several lines, trailing commas allowed), inline tables, comments.
 * Multi-line strings, floats and dates (which registries.conf does not use) are refused with a
 * clear message instead of being misread. Pure: text in, a table out. A module of its own, apart
 * from what mirror-config.ts makes of the tables, because a parser is read and tested as one.
 */
import { MirrorConfigError } from '../errors.js';

export type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

/** Parses the TOML subset above; throws MirrorConfigError naming `source` and the line. */
export function parseToml(text: string, source: string): TomlTable {
  const root: TomlTable = {};
  let current = root;
  const p = { s: text, i: 0, line: 1 };
  const fail = (msg: string): never => {
    throw new MirrorConfigError(`${source}:${p.line}: ${msg}`);
  };
  const skipSpace = (newlines: boolean): void => {
    while (p.i < p.s.length) {
      const c = p.s[p.i]!;
      if (c === ' ' || c === '\t' || c === '\r') p.i++;
      else if (c === '#') while (p.i < p.s.length && p.s[p.i] !== '\n') p.i++;
      else if (c === '\n' && newlines) {
        p.line++;
        p.i++;
      } else break;
    }
  };
  const endOfLine = (): void => {
    skipSpace(false);
    if (p.i < p.s.length && p.s[p.i] !== '\n') fail(`unexpected "${p.s[p.i]}"`);
  };
  const key = (): string[] => {
    const parts: string[] = [];
    for (;;) {
      skipSpace(false);
      const c = p.s[p.i];
      if (c === '"' || c === "'") parts.push(str());
      else {
        const m = /^[A-Za-z0-9_-]+/.exec(p.s.slice(p.i));
        if (!m) fail('expected a key');
        parts.push(m![0]);
        p.i += m![0].length;
      }
      skipSpace(false);
      if (p.s[p.i] !== '.') return parts;
      p.i++;
    }
  };
  const str = (): string => {
    const q = p.s[p.i]!;
    if (p.s.startsWith(q.repeat(3), p.i)) fail('multi-line strings are not supported here');
    p.i++;
    let out = '';
    for (;;) {
      const c = p.s[p.i];
      if (c === undefined || c === '\n') fail('unterminated string');
      p.i++;
      if (c === q) return out;
      if (q === '"' && c === '\\') {
        const e = p.s[p.i++];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && simple[e] !== undefined) out += simple[e];
        else if (e === 'u' || e === 'U') {
          const len = e === 'u' ? 4 : 8;
          const hex = p.s.slice(p.i, p.i + len);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) fail('bad unicode escape');
          out += String.fromCodePoint(parseInt(hex, 16));
          p.i += len;
        } else fail(`bad escape \\${e ?? ''}`);
      } else out += c;
    }
  };
  const value = (): TomlValue => {
    skipSpace(false);
    const c = p.s[p.i];
    if (c === '"' || c === "'") return str();
    if (c === '[') {
      p.i++;
      const arr: TomlValue[] = [];
      for (;;) {
        skipSpace(true);
        if (p.s[p.i] === ']') {
          p.i++;
          return arr;
        }
        arr.push(value());
        skipSpace(true);
        if (p.s[p.i] === ',') p.i++;
        else if (p.s[p.i] !== ']') fail('expected , or ] in an array');
      }
    }
    if (c === '{') {
      // An inline table (`mirror = [{ location = "m.example" }]`): TOML 1.0 keeps it on one line;
      // one over several lines (TOML 1.1) is read too.
      p.i++;
      const t: TomlTable = {};
      skipSpace(true);
      if (p.s[p.i] === '}') {
        p.i++;
        return t;
      }
      for (;;) {
        const path = key();
        if (p.s[p.i] !== '=') fail('expected = in an inline table');
        p.i++;
        const v = value();
        const inner = walk(path.slice(0, -1), t);
        const last = path[path.length - 1]!;
        if (inner[last] !== undefined) fail(`${path.join('.')} is defined twice`);
        inner[last] = v;
        skipSpace(true);
        if (p.s[p.i] === ',') {
          p.i++;
          skipSpace(true);
          continue;
        }
        if (p.s[p.i] === '}') {
          p.i++;
          return t;
        }
        fail('expected , or } in an inline table');
      }
    }
    const m = /^(true|false|[+-]?\d[\d_]*)(?=[\s,\]}#]|$)/.exec(p.s.slice(p.i));
    if (!m) fail('expected a value (string, boolean, integer or array)');
    p.i += m![0].length;
    return m![1] === 'true' ? true : m![1] === 'false' ? false : Number(m![1]!.replace(/_/g, ''));
  };
  /** Walks `path` from the root, through the last table of arrays of tables. */
  const walk = (path: string[], from: TomlTable): TomlTable => {
    let t = from;
    for (const k of path) {
      let next = t[k];
      if (next === undefined) next = t[k] = {};
      if (Array.isArray(next)) next = next[next.length - 1]!;
      if (typeof next !== 'object' || next === null || Array.isArray(next)) fail(`${k} is not a table`);
      t = next as TomlTable;
    }
    return t;
  };
  for (;;) {
    skipSpace(true);
    if (p.i >= p.s.length) return root;
    if (p.s[p.i] === '[') {
      const arrayOfTables = p.s[p.i + 1] === '[';
      p.i += arrayOfTables ? 2 : 1;
      const path = key();
      if (p.s[p.i] !== ']' || (arrayOfTables && p.s[p.i + 1] !== ']')) fail(`expected ${arrayOfTables ? ']]' : ']'}`);
      p.i += arrayOfTables ? 2 : 1;
      endOfLine();
      const parent = walk(path.slice(0, -1), root);
      const last = path[path.length - 1]!;
      if (arrayOfTables) {
        const existing = parent[last];
        if (existing !== undefined && !Array.isArray(existing)) fail(`${path.join('.')} is already a table`);
        const arr = (existing as TomlValue[] | undefined) ?? (parent[last] = []);
        const t: TomlTable = {};
        (arr as TomlValue[]).push(t);
        current = t;
      } else {
        const existing = parent[last];
        if (existing !== undefined && (typeof existing !== 'object' || Array.isArray(existing))) fail(`${path.join('.')} is already defined`);
        current = (existing as TomlTable | undefined) ?? (parent[last] = {});
      }
      continue;
    }
    const path = key();
    if (p.s[p.i] !== '=') fail('expected =');
    p.i++;
    const v = value();
    endOfLine();
    const t = walk(path.slice(0, -1), current);
    const last = path[path.length - 1]!;
    if (t[last] !== undefined) fail(`${path.join('.')} is defined twice`);
    t[last] = v;
  }
}
