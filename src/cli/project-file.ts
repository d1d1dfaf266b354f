/**
 * Where a project's push defaults are and what they say, before any checking: the part of
 * project-config.ts the launcher needs too (early-connect.ts reads the file's mirrors), kept free
 * of the flag parsers so the launcher stays small.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { jsonMistake } from '../json-check.js';
import { isObject } from '../json-object.js';
import { redactTyped } from '../redact.js';
import { MirrorConfigError, parseMirrorFlag } from '../registry/mirror-config.js';

/** The name looked for in the working directory. */
const CONFIG_FILE_NAME = 'regpush.json';

/** A project file found and parsed, not yet checked. */
export interface ProjectFile {
  /** Absolute path of the file. */
  file: string;
  /** "regpush.json", "package.json#regpush" or the --config-file path, for messages. */
  source: string;
  /** Relative app paths are relative to this directory. */
  baseDir: string;
  /** The settings object as parsed (package.json: its "regpush" value). */
  data: unknown;
}

/**
 * Finds and parses the project file: `explicit` (from --config-file) must exist; otherwise
 * regpush.json, then package.json's `regpush` key, in `cwd`. Undefined when there is none.
 * Synchronous: a small local file, and the launcher reads it before the event loop runs.
 */
export function findProjectFile(cwd: string, explicit?: string): ProjectFile | undefined {
  if (explicit !== undefined) {
    const file = path.resolve(cwd, explicit);
    return { file, source: explicit, baseDir: path.dirname(file), data: parse(readText(file, true)!, explicit, true) };
  }
  const own = path.join(cwd, CONFIG_FILE_NAME);
  const text = readText(own, false);
  if (text !== undefined) return { file: own, source: CONFIG_FILE_NAME, baseDir: cwd, data: parse(text, CONFIG_FILE_NAME, true) };
  const pkgFile = path.join(cwd, 'package.json');
  const pkgText = readText(pkgFile, false);
  if (pkgText === undefined) return undefined;
  const pkg = parse(pkgText, 'package.json', false);
  if (!isObject(pkg) || pkg.regpush === undefined) return undefined;
  return { file: pkgFile, source: 'package.json ("regpush" key)', baseDir: cwd, data: pkg.regpush };
}

/** A successful read of the project file: where it was looked for, and what was found (undefined: no file). */
export interface ProjectFileRead {
  cwd: string;
  explicit: string | undefined;
  found: ProjectFile | undefined;
}

/**
 * findProjectFile, unless `earlier` looked in the same place: then what it found. The launcher
 * reads the file for a push's early connections (its "mirrors", early-connect.ts) and hands that
 * read to main, so the command uses the very contents the connections followed and the file is
 * read once. Only plain data crosses over: the launcher and main are two bundles, each with its own
 * error classes, so a failed read is not handed over (main reads again and reports it itself).
 */
export function findProjectFileOnce(cwd: string, explicit: string | undefined, earlier: ProjectFileRead | undefined): ProjectFile | undefined {
  if (earlier && earlier.cwd === cwd && earlier.explicit === explicit) return earlier.found;
  return findProjectFile(cwd, explicit);
}

/**
 * The `mirrors` value ({"REGISTRY": ["MIRROR", …]}) as --registry-mirror REGISTRY=MIRROR values;
 * `bad(why)` is the error for a malformed one.
 */
export function mirrorsAsFlags(value: unknown, bad: (why: string) => Error): string[] {
  const shape = 'must be an object {"REGISTRY": ["MIRROR", …]}, e.g. {"docker.io": ["mirror.example.com"]}';
  if (!isObject(value)) throw bad(shape);
  const flags: string[] = [];
  for (const [reg, list] of Object.entries(value)) {
    const mirrors = typeof list === 'string' ? [list] : list;
    if (!Array.isArray(mirrors) || !mirrors.every((m) => typeof m === 'string')) throw bad(shape);
    for (const m of mirrors as string[]) {
      try {
        parseMirrorFlag(`${reg}=${m}`);
      } catch (err) {
        if (err instanceof MirrorConfigError) throw bad(`has "${redactTyped(reg)}": "${redactTyped(m)}", which is not a registry and a mirror host[:port][/path]`);
        throw err;
      }
      flags.push(`${reg}=${m}`);
    }
  }
  return flags;
}

function readText(file: string, mustExist: boolean): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!mustExist && (code === 'ENOENT' || code === 'ENOTDIR')) return undefined;
    throw new InputError(`cannot read config file ${file}: ${code === 'ENOENT' ? 'no such file' : code ?? 'read error'}`, { details: { file } });
  }
}

/**
 * `strict` (regpush.json, a --config-file): a key written twice is refused, as in a sync file —
 * JSON.parse keeps the last one without a word, so `"format": "bogus", "format": "oci"` pushed
 * as oci and the mistake went unseen. package.json is read as npm reads it (JSON.parse, the last
 * of two equal keys wins): refusing it for a repeat in its scripts would stop a push npm runs.
 */
function parse(text: string, source: string, strict: boolean): unknown {
  // Editors on Windows (Notepad, PowerShell's Out-File) save UTF-8 with a byte order mark, which
  // npm and Node's own package.json reader skip; JSON.parse does not, and every push from that
  // directory failed on "not valid JSON".
  const body = text.replace(/^\uFEFF/, '');
  const mistake = strict ? jsonMistake(body) : undefined;
  if (mistake) throw new InputError(`${source}: not valid JSON${mistake}`, { details: { file: source } });
  try {
    return JSON.parse(body);
  } catch {
    throw new InputError(`${source}: not valid JSON${jsonMistake(body) ?? ''}`, { details: { file: source } });
  }
}
