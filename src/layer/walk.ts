/**
 * The deterministic walk: every source in the order given, each directory's names sorted by their
 * bytes, directories before their contents, `.dockerignore` applied, symlinks reported as links
 * (never followed), and only names that readdir returned (so nothing outside a source can appear).
 */
// Synchronous calls on purpose: an app directory is many small entries and each async call is a
// thread-pool round trip (measured: the walk of a 167-file app spent ~30 ms idle waiting on them).
import { lstatSync, readdirSync, readlinkSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import { AbortedError, InputError } from '../errors.js';
import { sayOnce, type Logger } from '../log.js';
import { loadIgnore, type IgnoreMatcher } from './dockerignore.js';
import { fsInputError, goneOrUnreadable, normaliseDest } from './sources.js';
import type { LayerSource } from './types.js';

/** One thing to put in the tar; `name` is relative, directories end with `/`. */
export type WalkEntry =
  | { kind: 'directory'; name: string; mode: number; /** false for parents of a destination: they keep root ownership */ owned: boolean }
  /** Its size and mode are read from the open file when it is written (tar.ts), not here. */
  | { kind: 'file'; name: string; path: string }
  | { kind: 'symlink'; name: string; target: string };

/** What the walk needs besides the sources. */
export interface WalkContext {
  /** Absolute directory a relative source `src` resolves against (the caller's, never looked up here). */
  cwd: string;
  signal?: AbortSignal;
  logger: Logger;
  /**
   * Lines this operation has logged already (LayerOptions.said): a push walks a layer's sources up
   * to three times (its checks, layer/content.ts scanSources; the diffID pass; the build), and a
   * skipped fifo is said once, not on each walk. Without it, each walk says its own.
   */
  said?: Set<string>;
  /**
   * Which directories the layer writes besides those inside its sources: 'all' gives every
   * destination and its parents an entry (a Windows layer, where hcsshim's import expects them),
   * 'destinations' only each source's destination directory (a Linux layer with --chown: the
   * owner asked for), 'none' neither (a Linux layer without --chown). Default 'all' for walks
   * that only look (layer/content.ts), which skip those entries anyway.
   */
  dirs?: 'all' | 'destinations' | 'none';
}

const DIR_MODE = 0o755;
const FILE_MODE = 0o644;
const EXEC_MODE = 0o755;
/**
 * A directory entry in a layer replaces the base image's directory, owner and mode, when the
 * layer is applied. So a Linux layer writes no entry for the parents of a destination (nor for the
 * destination itself without --chown): as with Docker's COPY, a directory the base has keeps its
 * owner and mode (`--app ./dist:/home/node/app --chown 1000:1000` must not hand /home/node to
 * root: GoogleContainerTools/jib#1270, which Jib's parent entries cause), and one it lacks is made
 * by the runtime, 0755 root (Docker's and containerd's extractors; containers/storage since
 * containers/storage#1289, before which it was 0600). Where an entry is written anyway (a Windows
 * layer's parents, a destination or a directory inside a source), the directories whose mode
 * every Linux base agrees on keep it: the two world-writable sticky ones (a `/tmp` reset to 0755
 * breaks any non-root process in the image) and root's home, private (Debian, Ubuntu, Alpine and
 * distroless have 0700).
 */
const WELL_KNOWN_DIR_MODES: Record<string, number> = { 'root/': 0o700, 'tmp/': 0o1777, 'var/tmp/': 0o1777 };
/**
 * Names starting with this are whiteouts (OCI image spec, layer.md "Whiteouts"): unpacking the
 * image deletes the named sibling from the layers below (`.wh..wh..opq` empties the directory) and
 * never creates the entry itself. A user's file of that name cannot be represented in an image.
 */
const WHITEOUT_PREFIX = '.wh.';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-16 order, which is the byte order of the UTF-8 names unless one has a surrogate pair. */
const byString = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const byUtf8 = (a: Dirent, b: Dirent): number => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
const SURROGATE = /[\uD800-\uDFFF]/;

/** What a directory entry is, as far as the walk cares. */
const enum Kind {
  Other = 0,
  File = 1,
  Directory = 2,
  Symlink = 3,
}

/**
 * A directory's names sorted by their bytes, in one string separated by `/` (which no name
 * contains), and their kinds. Kept this compact because it lives while the whole directory is
 * walked, and every scavenge meanwhile copies it: V8 grows the young generation by what survives
 * its scavenges, and a Dirent and a Buffer per name (~250 bytes; 250 KB for a directory of 1,000
 * files) made it grow to 16 MB, while this is ~10 KB.
 */
interface Listing {
  names: string;
  kinds: Uint8Array;
  /** Names whose bytes are not UTF-8, as Node decoded them (with U+FFFD), each with its bytes: refused only where the layer would take it. */
  undecodable?: Map<string, Buffer>;
}

/**
 * Lists `absDir` with the entries' types: no lstat per entry (Node itself lstats the few a
 * filesystem reports as of unknown type; a Stats object per file was ~1 KB of garbage, and the
 * layer takes a file's size and mode from the open file anyway). Node decodes bytes that are not
 * UTF-8 to U+FFFD, so only a directory with that character is listed again as bytes, to find a
 * name that is not valid UTF-8 (or keep a genuine U+FFFD). Such a name is refused where the layer
 * would take it, not where `.dockerignore` leaves it out (Docker matches those bytes too).
 */
function listDir(absDir: string): Listing {
  let dirents: Dirent[];
  try {
    dirents = readdirSync(absDir, { withFileTypes: true });
  } catch (err) {
    throw goneOrUnreadable(absDir, err); // each directory was listed by its parent, or stat'd as a source, just before
  }
  let plain = true;
  let replaced = false;
  for (let i = 0; i < dirents.length; i++) {
    const name = dirents[i]!.name;
    if (name.includes('\uFFFD')) replaced = true;
    if (plain && SURROGATE.test(name)) plain = false;
  }
  let undecodable: Map<string, Buffer> | undefined;
  if (replaced) {
    let raw: Buffer[];
    try {
      raw = readdirSync(absDir, { encoding: 'buffer' });
    } catch (err) {
      throw fsInputError(absDir, err);
    }
    for (const r of raw.sort(Buffer.compare)) {
      const decoded = r.toString('utf8');
      if (!Buffer.from(decoded, 'utf8').equals(r) && !undecodable?.has(decoded)) (undecodable ??= new Map()).set(decoded, r);
    }
  }
  dirents.sort(plain ? byString : byUtf8);
  const kinds = new Uint8Array(dirents.length);
  for (let i = 0; i < dirents.length; i++) {
    const d = dirents[i]!;
    kinds[i] = d.isFile() ? Kind.File : d.isDirectory() ? Kind.Directory : d.isSymbolicLink() ? Kind.Symlink : Kind.Other;
  }
  return { names: dirents.map((d) => d.name).join('/'), kinds, ...(undecodable ? { undecodable } : {}) };
}

/**
 * InputError when the last component of the layer name `name` ("app/.wh.x", "app/.wh.d/") is a
 * whiteout: the layer would silently delete base files instead of adding this one.
 */
function checkNotWhiteout(name: string, source: LayerSource): void {
  if (!name.includes(WHITEOUT_PREFIX)) return; // the common case, without slicing
  const end = name.endsWith('/') ? name.length - 1 : name.length;
  const base = name.slice(name.lastIndexOf('/', end - 1) + 1, end);
  if (!base.startsWith(WHITEOUT_PREFIX)) return;
  const hidden = base.slice(WHITEOUT_PREFIX.length);
  const effect = hidden.startsWith(WHITEOUT_PREFIX) ? 'hides everything the layers below have in its directory' : `deletes "${hidden}" from the layers below`;
  throw new InputError(
    `app source ${source.src}: cannot put /${name} into a layer: a name starting with "${WHITEOUT_PREFIX}" is a whiteout (OCI image spec) that ${effect}; rename it or exclude it in .dockerignore`,
    { details: { path: `/${name}` } },
  );
}

/** Throws AbortedError when the signal has fired (the walk checks between entries). */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError('layer build aborted', { cause: signal.reason });
}

/** The error for a name in `dir` that is not UTF-8 (the tar stores names as UTF-8: tar-header.ts). */
function undecodableName(dir: string, raw: Buffer): InputError {
  return new InputError(`${dir}: file name is not valid UTF-8 (hex ${raw.toString('hex')}); leave it out with .dockerignore, or rename it`, { details: { path: dir } });
}

/** A symlink's target as the tar stores it (UTF-8); other bytes could not be stored faithfully. */
function decodeTarget(raw: Buffer, link: string): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw new InputError(`${link}: symlink target is not valid UTF-8 (hex ${raw.toString('hex')}); leave the link out with .dockerignore, or point it elsewhere`, { details: { path: link } });
  }
}

/** Mode bits of a regular file in the layer: 0755 if any execute bit is set, else 0644. */
export function fileMode(mode: number): number {
  return mode & 0o111 ? EXEC_MODE : FILE_MODE;
}

/**
 * Which directory source, if any, copies the layer directory `name` ("app/bin/"): as its
 * destination, or as a directory inside it that exists in the source tree. Read from the sources
 * themselves, so that the answer does not depend on which source the walk reaches first. A source
 * that cannot be read is left to the walk to report.
 */
function copiedDirectories(sources: readonly LayerSource[], cwd: string): (name: string) => 'destination' | 'inside' | undefined {
  const dirs: { abs: string; prefix: string }[] = [];
  for (const s of sources) {
    try {
      const abs = resolve(cwd, s.src);
      if (!statSync(abs).isDirectory()) continue;
      const { name } = normaliseDest(s.dest);
      dirs.push({ abs, prefix: name === '' ? '' : `${name}/` });
    } catch {
      /* reported by the walk */
    }
  }
  return (name) => {
    let found: 'destination' | 'inside' | undefined;
    for (const { abs, prefix } of dirs) {
      if (prefix !== '' && name === prefix) return 'destination';
      if (found || !name.startsWith(prefix)) continue;
      try {
        if (lstatSync(join(abs, name.slice(prefix.length))).isDirectory()) found = 'inside';
      } catch {
        /* not in this source */
      }
    }
    return found;
  };
}

/** What one source puts at a layer path, as far as replacing an earlier source's entry goes. */
type Claim = 'directory' | 'other' | undefined;

/** One source as the overlap check sees it: a directory copied to `dest` ('' for the root), or a file landing at `name`. */
type SourceView = { kind: 'directory'; abs: string; dest: string; ignore?: IgnoreMatcher } | { kind: 'file'; name: string };

/** The layer name of a file source: into the destination directory when it ends with `/` (or is the root), else the destination itself. */
function fileName(abs: string, destName: string, intoDir: boolean): string {
  if (destName === '') return basename(abs);
  return intoDir ? `${destName}/${basename(abs)}` : destName;
}

function viewOf(s: LayerSource, cwd: string): SourceView | undefined {
  try {
    const abs = resolve(cwd, s.src);
    const st = statSync(abs);
    const { name, intoDir } = normaliseDest(s.dest);
    if (st.isDirectory()) return { kind: 'directory', abs, dest: name };
    if (st.isFile()) return { kind: 'file', name: fileName(abs, name, intoDir) };
  } catch {
    /* reported by the walk */
  }
  return undefined;
}

/** Whether layer path `a` is `b` or lies inside it (or the other way round). */
function overlaps(a: string, b: string): boolean {
  return a === '' || b === '' || a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

/** What source `v` puts at layer path `path` (no trailing slash): its destination, a parent of it, or something in its tree that its .dockerignore keeps. */
function claimOf(v: SourceView, path: string): Claim {
  if (v.kind === 'file') return path === v.name ? 'other' : v.name.startsWith(`${path}/`) ? 'directory' : undefined;
  if (v.dest !== '' && (path === v.dest || v.dest.startsWith(`${path}/`))) return 'directory';
  if (v.dest !== '' && !path.startsWith(`${v.dest}/`)) return undefined;
  const rel = v.dest === '' ? path : path.slice(v.dest.length + 1);
  const ignore = (v.ignore ??= loadIgnore(v.abs));
  let st;
  try {
    st = lstatSync(join(v.abs, rel));
  } catch {
    return undefined;
  }
  if (!ignore.empty && ignore.isExcluded(rel)) {
    // Left out, unless a `!` exception brings something below it back: the walk then writes the
    // directory for it, so it claims the path as one.
    return st.isDirectory() && ignore.mayReincludeBelow(rel) && keepsSomethingBelow(v.abs, rel, ignore) ? 'directory' : undefined;
  }
  return st.isDirectory() ? 'directory' : st.isFile() || st.isSymbolicLink() ? 'other' : undefined;
}

/** Whether `.dockerignore` keeps any entry below the directory `rel` of `abs` (walked only where an exception may apply). */
export function keepsSomethingBelow(abs: string, rel: string, ignore: IgnoreMatcher): boolean {
  const kept = firstBelow(join(abs, rel), rel, { hit: (child) => !ignore.isExcluded(child), enter: (child) => ignore.mayReincludeBelow(child), unreadable: 'skip' });
  return typeof kept === 'string';
}

/** What firstBelow looks for, where it looks, and for how long. */
export interface BelowSearch {
  /** Whether the entry `rel` is the one sought. */
  hit: (rel: string, isDir: boolean) => boolean;
  /** Whether to search below the directory `rel` (one that is not a hit). */
  enter: (rel: string) => boolean;
  /** Entries looked at before the answer is "cannot tell" (undefined); no bound when absent. */
  limit?: number;
  /** A directory that cannot be listed: passed over ('skip'), or the answer is "cannot tell" ('unknown'). */
  unreadable: 'skip' | 'unknown';
}

/**
 * The first entry below the directory `dir`, named as `rel` + `/` + its path below `dir`, that
 * `look.hit` picks: in name order, a directory's entries before what lies below them, so the first
 * is the shallowest (a directory found ends with `/`). null where there is none, undefined where
 * the search could not tell (look.limit, look.unreadable). Symlinks are not followed, as the walk
 * does not follow them. The one search below a directory for the `.dockerignore` checks that look
 * before the walk: whether an exception keeps anything (keepsSomethingBelow), and what a folder's
 * `.dockerignore` would have left out of a source (content.ts unappliedIgnoreWarning).
 */
export function firstBelow(dir: string, rel: string, look: BelowSearch): string | null | undefined {
  const stack: [string, string][] = [[dir, rel]];
  let looked = 0;
  while (stack.length > 0) {
    const [abs, absRel] = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = readdirSync(abs, { withFileTypes: true }).sort(byString);
    } catch {
      if (look.unreadable === 'unknown') return undefined;
      continue;
    }
    const below: [string, string][] = [];
    for (const e of entries) {
      if (look.limit !== undefined && ++looked > look.limit) return undefined;
      const entryRel = `${absRel}/${e.name}`;
      const isDir = e.isDirectory();
      if (look.hit(entryRel, isDir)) return isDir ? `${entryRel}/` : entryRel;
      if (isDir && look.enter(entryRel)) below.push([join(abs, e.name), entryRel]);
    }
    for (let i = below.length - 1; i >= 0; i--) stack.push(below[i]!);
  }
  return null;
}

/**
 * For source `i`, whether a later source replaces its entry at layer name `name` ("app/x",
 * "app/d/"), or undefined when no later source can: the image spec allows a layer no duplicate
 * paths, so of two sources that put something at one path only the later one's goes in, as when
 * they are unpacked one after the other (a later file replaces an earlier one, a later directory
 * an earlier file or symlink, a later file or symlink an earlier directory and all below it;
 * two directories merge). Only sources whose destinations overlap are asked, so the usual layer
 * of sources apart costs nothing.
 */
function laterReplacements(sources: readonly LayerSource[], cwd: string): (i: number) => ((name: string) => boolean) | undefined {
  if (sources.length < 2) return () => undefined;
  const views = sources.map((s) => viewOf(s, cwd));
  const place = (v: SourceView): string => (v.kind === 'file' ? v.name : v.dest);
  return (i) => {
    const mine = views[i];
    if (!mine) return undefined;
    const later = views.slice(i + 1).filter((v): v is SourceView => v !== undefined && overlaps(place(mine), place(v)));
    if (later.length === 0) return undefined;
    return (name) => {
      const isDir = name.endsWith('/');
      const path = isDir ? name.slice(0, -1) : name;
      for (const v of later) {
        const c = claimOf(v, path);
        if (c === 'other' || (c === 'directory' && !isDir)) return true;
      }
      return false;
    };
  };
}

/**
 * Walks every source and calls `visit` for each entry in layer order, awaiting what it returns
 * (back-pressure). A visit that has nothing to wait for may return nothing: no promise per entry.
 */
export async function walkSources(sources: LayerSource[], ctx: WalkContext, visitEntry: (e: WalkEntry) => Promise<void> | void): Promise<void> {
  const seenDirs = new Set<string>();
  let source: LayerSource | undefined;
  // Every entry passes here: the names inside a source, its destination and that destination's parents alike.
  const visit = (e: WalkEntry): Promise<void> | void => {
    checkNotWhiteout(e.name, source!);
    return visitEntry(e);
  };
  const copied = copiedDirectories(sources, ctx.cwd);
  const replacementsFor = laterReplacements(sources, ctx.cwd);
  /** The real path of the directory source being walked: every directory walked must lie in it (stillInside). */
  let root = '';
  /** For the source being walked: whether a later source replaces the entry (see laterReplacements). */
  let replaced: ((name: string) => boolean) | undefined;

  /** Writes a directory entry unless a later source replaces it; false then (its tree is left out too). */
  const emitDir = async (name: string, owned: boolean): Promise<boolean> => {
    if (seenDirs.has(name)) return true; // several sources may share parents (/app and /app/config)
    if (replaced?.(name)) return false;
    seenDirs.add(name);
    // A directory is written once, by whichever source reaches it first: one that another source
    // copies (its destination, or a directory inside it) is that source's, owner and mode, even
    // when an earlier source reached it first as a parent (--app ./tool:/app/bin/tool --app ./publish:/app).
    if (!owned) {
      const by = copied(name);
      if (by === 'destination') owned = true;
      else if (by === 'inside') owned = true;
    }
    // The well-known modes hold whoever writes the entry: a parent, a destination, or a directory
    // inside a source (`--app ./overlay:/` with its own tmp/) would otherwise reset /tmp to 0755.
    await visit({ kind: 'directory', name, mode: WELL_KNOWN_DIR_MODES[name] ?? DIR_MODE, owned });
    return true;
  };
  const dirs = ctx.dirs ?? 'all';
  /** The parents of `name` (entries only with dirs 'all'); false when a later source replaces one of them (with a file or symlink), and so all of this source. */
  const emitAncestors = async (name: string): Promise<boolean> => {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = `${parts.slice(0, i).join('/')}/`;
      if (dirs === 'all') {
        if (!(await emitDir(parent, false))) return false;
        continue;
      }
      // No entry, but the path is still the layer's: a whiteout name in it is refused all the same.
      checkNotWhiteout(parent, source!);
      if (replaced?.(parent)) return false;
    }
    return true;
  };
  /** A source's destination directory: an entry unless dirs is 'none'; false as emitDir. */
  const emitDestination = (name: string): Promise<boolean> | boolean => {
    if (dirs !== 'none') return emitDir(name, true);
    checkNotWhiteout(name, source!);
    return !replaced?.(name);
  };

  for (let index = 0; index < sources.length; index++) {
    source = sources[index]!;
    replaced = replacementsFor(index);
    checkAborted(ctx.signal);
    const abs = resolve(ctx.cwd, source.src);
    let st;
    try {
      st = statSync(abs);
    } catch (err) {
      throw fsInputError(source.src, err, 'app source');
    }
    const { name: destName, intoDir } = normaliseDest(source.dest);
    if (st.isDirectory()) {
      if (destName !== '' && !((await emitAncestors(destName)) && (await emitDestination(`${destName}/`)))) continue;
      try {
        root = realpathSync.native(abs);
      } catch (err) {
        throw fsInputError(source.src, err, 'app source');
      }
      const matcher = loadIgnore(abs);
      await walkDir(abs, '', destName === '' ? '' : `${destName}/`, matcher, []);
    } else if (st.isFile()) {
      const name = fileName(abs, destName, intoDir);
      if (!(await emitAncestors(name)) || replaced?.(name)) continue;
      // The user named this path, so a symlink here is followed (the reader refuses symlinks).
      let real: string;
      try {
        real = realpathSync(abs);
      } catch (err) {
        throw fsInputError(source.src, err, 'app source');
      }
      await visit({ kind: 'file', name, path: real });
    } else {
      throw new InputError(`app source ${source.src}: not a directory or regular file`, { details: { path: source.src } });
    }
  }

  /**
   * `pending`: excluded directories entered only because an exception may re-include something
   * below (`excluded` for such a directory itself).
   */
  async function walkDir(absDir: string, rel: string, tarPrefix: string, matcher: IgnoreMatcher, pending: string[], excluded = false): Promise<void> {
    let listing: Listing;
    try {
      listing = listDir(absDir);
    } catch (err) {
      // An excluded directory is read only in case an exception re-includes something in it: one
      // this user may not read (a database's 0700 data directory) holds nothing to take, as
      // BuildKit's walker has it (fsutil skips permission errors on excluded paths).
      const errno = err instanceof InputError ? (err.cause as NodeJS.ErrnoException | undefined)?.code : undefined;
      if (excluded && (errno === 'EACCES' || errno === 'EPERM' || errno === 'ENOENT' || errno === 'ENOTDIR')) return;
      throw err;
    }
    stillInside(absDir);
    const { names, kinds, undecodable } = listing;
    const prefix = absDir.endsWith(sep) ? absDir : absDir + sep;
    const flushPending = async (): Promise<void> => {
      // Emit the skipped parents first so every re-included file has its directory entries.
      for (const d of pending) await emitDir(d, true);
      pending.length = 0;
    };
    for (let i = 0, start = 0; i < kinds.length; i++) {
      checkAborted(ctx.signal);
      const end = i === kinds.length - 1 ? names.length : names.indexOf('/', start);
      const name = names.slice(start, end);
      start = end + 1;
      const kind = kinds[i];
      const childAbs = prefix + name;
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const childExcluded = !matcher.empty && matcher.isExcluded(childRel);
      // A name that is not UTF-8 cannot be stored faithfully: refused once the layer would take
      // it (or might take something below it), with its bytes named.
      // An excluded directory an exception may reach into is refused too: the walk could not
      // list it under its decoded name (the path would not exist), and what is below it would be
      // left out without a word.
      const raw = undecodable?.get(name);
      if (raw && (!childExcluded || (kind === Kind.Directory && matcher.mayReincludeBelow(childRel)))) throw undecodableName(absDir, raw);
      if (kind === Kind.Directory) {
        const tarDir = `${tarPrefix}${childRel}/`;
        if (!childExcluded) {
          if (pending.length > 0) await flushPending();
          if (await emitDir(tarDir, true)) await walkDir(childAbs, childRel, tarPrefix, matcher, pending);
        } else if (matcher.mayReincludeBelow(childRel) && !replaced?.(tarDir)) {
          pending.push(tarDir);
          await walkDir(childAbs, childRel, tarPrefix, matcher, pending, true);
          if (pending[pending.length - 1] === tarDir) pending.pop();
        }
        continue;
      }
      if (childExcluded || replaced?.(tarPrefix + childRel)) continue;
      if (kind === Kind.File) {
        if (pending.length > 0) await flushPending();
        const wait = visit({ kind: 'file', name: tarPrefix + childRel, path: childAbs });
        if (wait) await wait;
      } else if (kind === Kind.Symlink) {
        let target: Buffer;
        try {
          target = readlinkSync(childAbs, { encoding: 'buffer' });
        } catch (err) {
          throw goneOrUnreadable(childAbs, err);
        }
        if (pending.length > 0) await flushPending();
        const wait = visit({ kind: 'symlink', name: tarPrefix + childRel, target: decodeTarget(target, childAbs) });
        if (wait) await wait;
      } else {
        sayOnce(ctx.said, (l) => ctx.logger.warn(l), `layer: skipping ${childAbs}: not a regular file, directory or symlink`);
      }
    }
    // Again once its entries are in: a swap while they were read (their paths run through this one)
    // is caught too. Not skipped after a subfolder's own end check (~8% of the walk on the tree
    // measured below): that one only says where the subfolder resolves, and an outside tree whose
    // last folder links back into the source would pass it.
    stillInside(absDir);
  }

  /**
   * InputError unless the directory `absDir` of the source being walked still lies in that
   * source (real paths). readdir and open follow a folder on the path that was replaced by a
   * symlink after its parent listed it (a build step, or someone racing the deploy job) — the
   * tar's O_NOFOLLOW guards only a path's last name — and would take in a tree outside the
   * source. Checked when a directory is listed and when its entries are done: a swap before the
   * listing, or one still in place when the directory is done, is refused. Not covered: a swap made
   * and undone between the two checks, while the directory's files were opened. A check per file
   * (the open file's name in /proc/self/fd) would close that, and cost ~16% of a layer build's CPU
   * (5,000 small files, measured). The check per directory is not free either: realpath resolves
   * every name on the path (~6 µs a directory at depth 8; a stat of the same path, ~2.5 µs). On a
   * node_modules-shaped tree of 5,000 folders × 3 files the walk alone takes ~53 ms of CPU without
   * it, ~119 ms with both checks; a whole diffID pass (hashLayer) ~358 ms without, ~426 ms or more with (medians of 9
   * runs each): ~16%, where the tree has about as many folders as files in threes.
   */
  function stillInside(absDir: string): void {
    let real: string;
    try {
      real = realpathSync.native(absDir);
    } catch (err) {
      throw goneOrUnreadable(absDir, err);
    }
    if (real === root || (real.startsWith(root) && (root.endsWith(sep) || real[root.length] === sep))) return;
    throw new InputError(
      `${absDir} moved outside the source while being read (it is now ${real}, outside ${root}: a folder on its path was replaced by a symlink); ` +
        'push again once nothing changes the sources',
      { details: { path: absDir } },
    );
  }
}
