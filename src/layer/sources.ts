/**
 * Parsing and checking `--app SRC[:DEST]` before anything is built, so a bad path fails in one
 * clear line before any network traffic instead of halfway through an upload.
 */
import { constants } from 'node:fs';
import { accessSync, opendirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, posix, relative, resolve, sep } from 'node:path';
import { InputError, UsageError, type RegpushError } from '../errors.js';
import type { LayerSource } from './types.js';
import { isWindowsStylePath } from './windows-layer.js';

/**
 * `./publish` → {src, dest: defaultDest + "/"}; `SRC:DEST` → both. An empty value or a relative DEST
 * is the error `bad` makes: a flag's value is E_USAGE (the default), a project file's entry E_INPUT
 * (src/errors.ts). The default destination is a directory (the work directory, or /app), so a file
 * given without DEST goes into it, as `WORKDIR /app` + `COPY server.js .` puts it: without the
 * slash `--app ./server.js` would become the file /app itself, and a second source's tree at /app
 * (`--app ./dist --app ./package.json`) would be replaced by it. A DEST given is taken as written:
 * without a trailing slash a file lands at that path. A DEST written the Windows way (`./publish:C:\app`, `…:\app`) is taken as it is:
 * push checks it against the image's OS and turns it into the layer's `/app` (windows-layer.ts).
 *
 * A whole value that starts with a drive (`C:\publish`) is a source path, not SRC:DEST: with a
 * backslash on any host, with a forward slash (`C:/publish`) only on a Windows host (`host`). Elsewhere
 * `x:/srv` is the one-letter directory `x` copied to /srv, as every POSIX path is read: no path there
 * starts with a drive, and the answer must not depend on which directories exist.
 */
export function parseAppFlag(value: string, defaultDest: string, flag = '--app', host: NodeJS.Platform = process.platform, bad: BadValue = badFlag): LayerSource {
  if (value.trim() === '') throw bad(`${flag}: empty value; expected DIR or DIR:/absolute/dest`);
  const split = splitAppValue(value, host);
  const src = split.src;
  let dest = /[\\/]$/.test(defaultDest) ? defaultDest : defaultDest + (isWindowsStylePath(defaultDest) ? '\\' : '/');
  if (split.dest !== undefined) {
    dest = split.dest;
    if (dest === '') throw bad(`${flag} ${value}: empty destination after ":"`);
  }
  if (src === '') throw bad(`${flag} ${value}: empty source before ":"`);
  if (!isWindowsStylePath(dest)) checkDest(dest, `${flag} ${value}`, bad);
  return { src, dest };
}

/**
 * The error for a malformed source or destination, `message` naming it: a flag's value or a
 * library option's is how regpush was called (E_USAGE), a project file's entry is what it read
 * (E_INPUT), as src/errors.ts splits them.
 */
export type BadValue = (message: string) => RegpushError;
/** BadValue for a flag's value or a library option's: E_USAGE. */
export const badFlag: BadValue = (message) => new UsageError(message);
/** BadValue for an entry of a file regpush read (regpush.json): E_INPUT. */
export const badFileEntry: BadValue = (message) => new InputError(message);

/**
 * SRC[:DEST] as `--app` reads it: which colon, if any, splits the value (dest undefined: none
 * does). regpush.json's `app` entries are split the same way before their source is made absolute.
 */
export function splitAppValue(value: string, host: NodeJS.Platform = process.platform): { src: string; dest?: string } {
  // A destination with a drive letter (C:\app, C:/app, D:\x): its own colon does not split
  // SRC:DEST. With a forward slash only C: counts, so `a:b:/c` stays the source `a:b` at /c.
  const drive = /^(.+):((?:[A-Za-z]:\\|[Cc]:\/)[^:]*)$/.exec(value);
  // A lone Windows drive prefix (C:\publish; C:/publish on Windows) is a path, not SRC:DEST.
  const loneDrive = host === 'win32' ? /^[A-Za-z]:[\\/][^:]*$/ : /^[A-Za-z]:\\[^:]*$/;
  const colon = drive ? drive[1]!.length : loneDrive.test(value) ? -1 : value.lastIndexOf(':');
  return colon >= 0 ? { src: value.slice(0, colon), dest: value.slice(colon + 1) } : { src: value };
}

/** `bad`'s error unless dest is an absolute image path. */
function checkDest(dest: string, what: string, bad: BadValue): void {
  if (!dest.startsWith('/')) throw bad(`${what}: destination "${dest}" must be an absolute path inside the image`);
  if (dest.includes('\0')) throw bad(`${what}: destination contains a NUL byte`);
}

/**
 * The image path as a tar name without the leading `/` ('' for the root); a trailing slash kept as
 * a flag — and a last segment `.` or `..` too, which names a directory as much as a slash does
 * (`COPY server.js /app/.` writes /app/server.js; normalised away first, it would write a file /app).
 */
export function normaliseDest(dest: string): { name: string; intoDir: boolean } {
  const intoDir = /(^|\/)\.{0,2}$/.test(dest);
  const n = posix.normalize(dest); // absolute, so `..` cannot climb above `/`
  return { name: n.replace(/^\/+/, '').replace(/\/+$/, ''), intoDir };
}

/** `path` relative to the directory `root` ('' for `root` itself) when it lies inside it, else undefined; both absolute and resolved alike. */
export function pathBelow(root: string, path: string): string | undefined {
  const rel = relative(root, path);
  return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? undefined : rel;
}

/**
 * The real path (symlinks resolved) of the source `src`, relative to `cwd`, when it lies outside
 * the real path of the directory `root`; undefined when it lies inside, or cannot be resolved (a
 * missing source: validateSources names it, and nothing of it can be taken).
 */
export function realPathOutside(src: string, cwd: string, root: string): string | undefined {
  let real: string;
  let rootReal: string;
  try {
    real = realpathSync(resolve(cwd, src));
  } catch {
    return undefined;
  }
  try {
    rootReal = realpathSync(root);
  } catch {
    rootReal = resolve(root);
  }
  return pathBelow(rootReal, real) === undefined ? real : undefined;
}

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return 'not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOTDIR') return 'a path component is not a directory';
  if (code === 'ELOOP') return 'too many levels of symbolic links (a symlink loop, or a chain of links too long to follow)';
  // A name over NAME_MAX (255 bytes on Linux) or a path over PATH_MAX (4,096): the bare code read as an internal error.
  if (code === 'ENAMETOOLONG') return 'name too long (the path, or one name in it, is longer than this system allows)';
  return code ?? (err as Error)?.message ?? String(err);
}

/** One-line InputError for a filesystem failure on `path`, keeping the original error as cause. */
export function fsInputError(path: string, err: unknown, what = 'cannot read'): InputError {
  return new InputError(`${what} ${path}: ${describe(err)}`, { cause: err, details: { path } });
}

/**
 * For a path the walk listed and then could not open or read: ENOENT means it was deleted since
 * (a build step cleaning its output while the layer was built), which "not found" would hide
 * behind what reads as a wrong path. Any other failure is fsInputError's.
 */
export function goneOrUnreadable(path: string, err: unknown): InputError {
  if ((err as NodeJS.ErrnoException)?.code !== 'ENOENT') return fsInputError(path, err);
  return new InputError(`${path} disappeared while the layer was being built (deleted after the walk listed it)`, { cause: err, details: { path } });
}

/**
 * InputError naming the path (as given) when a src is missing, not a directory or regular file, or
 * unreadable. The sources themselves are the caller's options: none, an empty path or a dest that
 * is not absolute is E_USAGE. A relative src is looked up in `cwd` (absolute).
 */
export async function validateSources(sources: LayerSource[], cwd: string): Promise<void> {
  if (sources.length === 0) throw new UsageError('no app source given');
  for (const s of sources) {
    if (typeof s.src !== 'string' || s.src === '') throw new UsageError('app source: empty path');
    checkDest(s.dest, `app source ${s.src}`, badFlag);
    const abs = resolve(cwd, s.src);
    let st;
    // Synchronous: a few metadata calls per source, each a thread-pool round trip when async.
    try {
      st = statSync(abs); // follows a symlinked root on purpose: the user named it
    } catch (err) {
      throw fsInputError(s.src, err, 'app source');
    }
    if (st.isDirectory()) {
      try {
        accessSync(abs, constants.R_OK | constants.X_OK);
        opendirSync(abs).closeSync();
      } catch (err) {
        throw fsInputError(s.src, err, 'app directory');
      }
    } else if (st.isFile()) {
      try {
        accessSync(abs, constants.R_OK);
      } catch (err) {
        throw fsInputError(s.src, err, 'app file');
      }
    } else {
      throw new InputError(`app source ${s.src}: not a directory or regular file`, { details: { path: s.src } });
    }
  }
}
