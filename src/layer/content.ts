/**
 * Whether a layer's sources hold anything once `.dockerignore` has been applied, whether the
 * layer can read them, and (for a Windows layer) whether they hold a symlink, all from one walk
 * (scanSources). A `--layer` that ends up empty is almost always a wrong path or an over-broad
 * ignore pattern, and an empty layer would be pushed and kept for ever, so push refuses it before
 * any request. A file the build cannot open is refused before any blob is written: found by the
 * build, it ended a first push after the base blobs and the config had been committed at the target.
 */
import { accessSync, constants, lstatSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { InputError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { fsInputError, normaliseDest, pathBelow } from './sources.js';
import type { LayerSource } from './types.js';
import { loadIgnore, type IgnoreMatcher } from './dockerignore.js';
import { firstBelow, keepsSomethingBelow, walkSources, type WalkEntry } from './walk.js';
import { windowsSymlinkRefused, WindowsNames } from './windows-layer.js';

/** Ends the walk once it has answered everything asked of it. */
class Answered extends Error {}

/**
 * What one walk of a layer's sources tells before the build (scanSources). Each answer settles as
 * soon as the walk knows it, and rejects with the walk's own error (a directory it may not list, a
 * whiteout name…) met before the answer was known. Awaiting one is optional: none is left unhandled.
 */
export interface SourcesScan {
  /**
   * True at the first entry of the layer's own (a file, symlink or directory found in a source;
   * not a destination or its parents, not a source's own `.dockerignore`), false once the walk has
   * ended without one. Push awaits it before any request: it stops at the first entry (~3 ms).
   */
  content: Promise<boolean>;
  /**
   * Resolves once every regular file of the layer is known to open for reading (access(2)), or
   * rejects with the first that does not (or the walk's own error, met first), as the build would
   * name it. A walk of the whole tree: measured on 30,000 files in 3,000 directories, ~65 ms of CPU
   * for the walk and ~2 µs a file for access, ~125 ms in all (50,000 files: 0.2–0.27 s). So push
   * does not await it before its first round trips (the base manifest, the tag), only before the
   * first blob is written (inputs.ts, PushInputs.readable).
   */
  readable: Promise<void>;
  /**
   * Asked with `symlinks`: the layer path of the first symlink ("app/l.txt"), or undefined once the
   * walk has ended without one. A Windows layer cannot hold one (windows-layer.ts).
   */
  symlink?: Promise<string | undefined>;
  /**
   * Asked with `symlinks: 'find'`: the refusal of the first name a Windows layer cannot hold
   * (WindowsNames), or undefined once the walk has ended without one. Noted, not thrown: the name
   * matters only where the base turns out to have Windows images. A walk that ended early, at a
   * symlink, answers for the names before it only; the symlink is the refusal then.
   */
  windowsName?: Promise<InputError | undefined>;
}

/** What scanSources is asked besides `content` and `readable`. */
export interface ScanOptions {
  logger?: Logger;
  signal?: AbortSignal;
  /** The push's lines said once (WalkContext.said). */
  said?: Set<string>;
  /**
   * Find the first symlink too: 'refuse' for a layer that is a Windows layer for sure (the walk
   * ends at the link, which the push refuses, and `readable` then rejects with that refusal),
   * 'find' for one that may be (the Windows variant of --platform all: the walk goes on, since the
   * link matters only where the base turns out to have Windows images).
   */
  symlinks?: 'refuse' | 'find';
}

/**
 * One walk of a layer's sources that answers, before the build, whether the layer holds anything
 * (`content`), whether every file of it opens (`readable`) and, if asked, where its first symlink
 * is (`symlink`). It stops at the first entry when only `content` is wanted (hasContent). One
 * walk serves every check, because a walk per check costs: a Windows layer has three, and on
 * 50,000 small files in 2,500 directories three walks take ~0.32 s of CPU where one takes ~0.24 s.
 * The walk holds nothing per file besides what walkSources holds; the answers are one name and one error.
 *
 * With `symlinks`, a file that does not open is kept (the first only) and the walk goes on, so
 * that a symlink anywhere is still found: the push refuses a Windows layer's link before any
 * request (or, for --platform all, once the base is read), before any blob is written, and that
 * refusal must not turn into the unreadable file's error because one walk saw the file first.
 */
export function scanSources(sources: LayerSource[], cwd: string, opts: ScanOptions = {}): SourcesScan {
  return scan(sources, cwd, true, opts);
}

/**
 * True when the walk yields a file, symlink or directory of the sources' own (their `.dockerignore`
 * files do not count). A relative src is looked up in `cwd` (absolute). Stops at the first entry.
 */
export function hasContent(sources: LayerSource[], cwd: string, logger: Logger = silentLogger, signal?: AbortSignal, said?: Set<string>): Promise<boolean> {
  return scan(sources, cwd, false, { logger, signal, said }).content;
}

/**
 * The first symlink the layer would hold (its layer path), or undefined: a walk of names and types
 * only, no file opened, that stops at the link. For a Windows variant whose sources the Linux
 * variant's walk did not cover (inputs.ts).
 */
export function firstSymlink(sources: LayerSource[], cwd: string, logger: Logger = silentLogger, signal?: AbortSignal, said?: Set<string>): Promise<string | undefined> {
  return scan(sources, cwd, false, { logger, signal, said, symlinks: 'refuse' }).symlink!;
}

/** Entries walked between two turns of the event loop (scan): ~1 ms of walking here. */
export const WALK_TURN_ENTRIES = 256;

function scan(sources: LayerSource[], cwd: string, readability: boolean, opts: ScanOptions): SourcesScan {
  const content = answer<boolean>();
  const symlink = opts.symlinks ? answer<string | undefined>() : undefined;
  const windowsName = opts.symlinks === 'find' ? answer<InputError | undefined>() : undefined;
  let badName: InputError | undefined;
  let found = false;
  let link: string | undefined;
  let unreadable: InputError | undefined;
  let entries = 0;
  // A Windows layer's names are checked here too, as the build checks them: refused at once for a
  // layer that is one for sure (symlinks 'refuse'), before any request; for the Windows variant of
  // --platform all ('find'), the first problem is noted for when the base shows it is used.
  const windowsNames = opts.symlinks ? new WindowsNames() : undefined;
  const answered = (): boolean => found && ((opts.symlinks === 'refuse' && link !== undefined) || ((!readability || unreadable !== undefined) && (!symlink || link !== undefined)));
  const walk = walkSources(sources, { cwd, logger: opts.logger ?? silentLogger, signal: opts.signal, said: opts.said }, (e) => {
    if (windowsNames && badName === undefined) {
      try {
        windowsNames.check(e.name);
      } catch (err) {
        if (opts.symlinks === 'refuse') throw err;
        badName = err as InputError;
      }
    }
    const first = !found && ownEntry(e, sources);
    if (first) {
      found = true;
      content.resolve(true);
    }
    if (e.kind === 'file' && readability && unreadable === undefined) {
      try {
        accessSync(e.path, constants.R_OK);
      } catch (err) {
        unreadable = fsInputError(e.path, err);
      }
    } else if (e.kind === 'symlink' && symlink && link === undefined) {
      link = e.name;
      symlink.resolve(link);
    }
    if (answered()) throw new Answered();
    // The rest of the walk waits for a turn of the event loop: whoever awaited `content` goes on
    // first (push: its other checks, then its first requests). The walk runs synchronously between
    // directories, so without the pause a directory of 30,000 files held push's checks until
    // all of them had been walked (~160 ms, where hasContent alone answered in ~10).
    if (first) return new Promise<void>((r) => setImmediate(r));
    // And a turn every WALK_TURN_ENTRIES entries after that: the walk runs alongside push's first
    // round trips, whose answers, next requests and TLS steps need the event loop. Without the
    // turns a walk of 50,000 files held them all for its ~0.2–0.3 s. Nothing is committed before
    // `readable` settles (push's commitAfter), so what runs meanwhile writes no blob.
    if (++entries % WALK_TURN_ENTRIES === 0) return new Promise<void>((r) => setImmediate(r));
  });
  const readable = walk.then(
    () => {
      content.resolve(false);
      symlink?.resolve(undefined);
      windowsName?.resolve(badName);
      if (unreadable) throw unreadable;
    },
    (err: unknown) => {
      if (err instanceof Answered) {
        windowsName?.resolve(badName);
        if (unreadable) throw unreadable;
        // Stopped at a Windows layer's link: the layer cannot be built, as the build would say.
        if (opts.symlinks === 'refuse' && link !== undefined) throw windowsSymlinkRefused(link);
        return; // only `content` was asked (hasContent)
      }
      // Settles only what the walk had not answered yet (a settled promise ignores it).
      content.reject(err);
      symlink?.reject(err);
      windowsName?.reject(err);
      throw unreadable ?? err; // the file came first in the walk's order
    },
  );
  readable.catch(() => undefined);
  return { content: content.promise, readable, ...(symlink ? { symlink: symlink.promise } : {}), ...(windowsName ? { windowsName: windowsName.promise } : {}) };
}

/** A promise with its settling functions, handled (an answer nobody asked for must not go unhandled). */
function answer<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Whether a walk entry is the layer's content: the destinations and their parents are made by the layer itself, and a source's own `.dockerignore` does not count. */
function ownEntry(e: WalkEntry, sources: LayerSource[]): boolean {
  // A directory found inside a source counts.
  if (e.kind === 'directory') return e.owned && !isDestination(e.name, sources);
  if (e.kind === 'file' && /(^|\/)\.dockerignore$/.test(e.name)) {
    const dir = e.name.slice(0, e.name.lastIndexOf('/') + 1);
    if (dir === '' || isDestination(dir, sources)) return false; // a source's own ignore file
  }
  return true;
}

/** True when `name` ("app/") is the destination directory of one of the sources, spelled as the walk spells it ("/srv/./" is "srv/"). */
function isDestination(name: string, sources: LayerSource[]): boolean {
  return sources.some((s) => `${normaliseDest(s.dest).name}/` === name);
}

/**
 * Where the directory source `outer` takes in the source `inner` when walked: the path of `inner`
 * below it ("node_modules"; "" for the same directory), or undefined when `inner` lies elsewhere
 * or `outer`'s `.dockerignore` leaves it out. Both are compared as real paths: a symlink below
 * `outer` is kept as a link by the walk, not followed, so what it points at is not taken in. A
 * path excluded there counts as left out even where an exception brings part of it back: the user
 * has said what goes where. Sources that cannot be read are left to the walk to report.
 */
export function takenIn(outer: LayerSource, inner: LayerSource, cwd: string): string | undefined {
  let outerReal: string;
  let innerReal: string;
  try {
    outerReal = realpathSync(resolve(cwd, outer.src));
    if (!statSync(outerReal).isDirectory()) return undefined;
    innerReal = realpathSync(resolve(cwd, inner.src));
  } catch {
    return undefined;
  }
  const rel = pathBelow(outerReal, innerReal);
  if (rel === undefined) return undefined;
  if (rel === '') return '';
  const path = rel.split(sep).join('/');
  const ignore = loadIgnore(outerReal);
  if (ignore.isExcluded(path)) return undefined;
  // `node_modules/**` or `node_modules/*` leaves the directory in and everything below it out:
  // only its empty directory is in the outer layer, so nothing is held twice.
  if (statSync(innerReal).isDirectory() && !keepsSomethingBelow(outerReal, path, ignore)) return undefined;
  return path;
}

/**
 * The warning, if any, that `folder`'s `.dockerignore` (the working folder's; for the CLI's
 * `regpush.json` entries, the project's) does not apply to the directory sources inside it that
 * have none of their own: each source is walked with its own `.dockerignore` only (`docker build`
 * reads the context root's), so `--app ./dist` beside a `./.dockerignore` that leaves out `*.map`
 * still ships the maps. One line naming them as the caller does (`named`: "--app ./dist",
 * "regpush.json app[0]", push()'s "app[0]"); relative `src` are read in `cwd`. Said by push()
 * (push/inputs.ts) to a library caller, and by the CLI's push command, which knows each source's folder.
 */
export function unappliedIgnoreWarning(sources: readonly { src: string; named: string }[], folder: string, cwd: string): string | undefined {
  const file = join(folder, '.dockerignore');
  if (!present(file)) return undefined; // nothing there to miss
  let root: string;
  try {
    root = realpathSync(folder);
  } catch {
    return undefined;
  }
  const rules = ignoreRules(folder);
  const missed: string[] = [];
  for (const { src, named } of sources) {
    try {
      const real = realpathSync(resolve(cwd, src));
      if (!statSync(real).isDirectory()) continue; // a file source has no .dockerignore
      const rel = pathBelow(root, real);
      if (rel === undefined || rel === '' || present(join(real, '.dockerignore'))) continue;
      if (!rules) {
        missed.push(named);
        continue;
      }
      // Only where the file would have left something out there, named: a root `.dockerignore`
      // of `bin/` and `obj/`, or Visual Studio's `**/bin`, `**/.env`…, says nothing of a
      // `--app ./publish` that holds none of them, run after run.
      const example = firstLeftOut(rules, real, rel.split(sep).join('/'));
      if (example === null) continue;
      missed.push(example === undefined ? named : `${named} (it would leave out ${example})`);
    } catch {
      // a missing or unreadable source is said by the source checks
    }
  }
  if (missed.length === 0) return undefined;
  const shown = relative(cwd, file);
  const name = shown.startsWith('..') || isAbsolute(shown) ? file : `./${shown}`;
  const one = missed.length === 1;
  return (
    `${name} does not apply to ${missed.join(', ')}: a source folder is filtered by its own .dockerignore only; ` +
    `to leave files out of ${one ? 'it' : 'one'}, put a .dockerignore in ${one ? 'that folder' : 'its folder'}`
  );
}

/** Entries firstLeftOut looks at before it answers "maybe": the check runs on every push, before the build's own walk. */
const LEFT_OUT_LOOK = 2_000;

/**
 * The first path (relative to the context root, in name order) below the source folder `real`
 * (`rel` from the root) that `rules` would have left out; null where none would be, undefined where
 * it cannot tell within LEFT_OUT_LOOK entries (an unreadable folder, a large tree). Symlinks are
 * not followed, as the build does not follow them.
 */
function firstLeftOut(rules: IgnoreMatcher, real: string, rel: string): string | null | undefined {
  if (rules.isExcluded(rel)) return `${rel}/`;
  if (!rules.mayExcludeAtOrBelow(rel)) return null;
  return firstBelow(real, rel, { hit: (entry) => rules.isExcluded(entry), enter: (entry) => rules.mayExcludeAtOrBelow(entry), limit: LEFT_OUT_LOOK, unreadable: 'unknown' });
}

/**
 * The patterns of the `.dockerignore` in `folder`, read as a source's is (loadIgnore: a fifo, a
 * folder or a dangling link is refused, not read, and the size is bounded); undefined where it
 * cannot be read or parsed (the warning then errs on the side of saying it).
 */
function ignoreRules(folder: string): IgnoreMatcher | undefined {
  try {
    return loadIgnore(folder);
  } catch {
    return undefined;
  }
}

/** Whether anything (a dangling symlink too) is at `p`. */
export function present(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
