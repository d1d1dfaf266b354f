/**
 * Files that an install or a build writes anew each time, with other bytes but nothing changed
 * that a program would see. Every layer entry is part of the layer's digest, so one such file in a
 * dependency layer (`--layer ./venv`) makes that layer new on every deploy, and the whole layer is
 * compressed and sent again although no dependency changed. The warm path (push/reuse.ts) asks
 * this when a layer it expected to reuse was not, to say which file is the likely cause.
 *
 * Only kinds whose churn is certain are named (a guess would send the user after the wrong file):
 * - a compiled Python file (`.pyc`) whose header says it is checked against its source's
 *   modification time (PEP 552: flags 0, the time and size of the source follow). pip and
 *   `python -m venv` write these; a fresh install gives the sources new times, so new `.pyc`
 *   bytes. Hash-based ones (flags 1 or 3; what `py_compile` writes when SOURCE_DATE_EPOCH is set)
 *   depend on the source's content only and are not named;
 * - anything under a `node_modules/.cache/` directory: the cache folder of build tools
 *   (babel-loader, terser-webpack-plugin, eslint-loader… through find-cache-dir), rewritten by
 *   each build.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { silentLogger } from '../log.js';
import { resolveLayerOptions } from './options.js';
import type { LayerOptions } from './types.js';
import { walkSources } from './walk.js';

/** A file of a layer that changes on every install or build, and what to do about it. */
export interface ChurningFile {
  /** Its path in the layer (`opt/venv/lib/…/x.cpython-311.pyc`). */
  name: string;
  /** Why it changes, and the remedy, as one clause for a warning. */
  why: string;
}

/** Ends the walk at the first find. */
class Found extends Error {}

const PYC_WHY =
  'a compiled Python file stamped with its source\'s modification time, which every install renews: ' +
  'install with SOURCE_DATE_EPOCH set (pip then writes hash-based .pyc files, the same on every install), or leave `**/__pycache__` out with a .dockerignore line';
const CACHE_WHY = 'a build tool\'s cache, rewritten by each build: leave `.cache` out with a .dockerignore line in the folder';

/**
 * The first file of the layer (in the walk's sorted order) that changes on every install or build
 * (see above), or undefined. A walk of names; only `.pyc` files are opened, for their first 8
 * bytes. Never rejects: a source it cannot walk gives undefined (the push says that elsewhere).
 */
export async function firstChurningFile(opts: LayerOptions): Promise<ChurningFile | undefined> {
  let found: ChurningFile | undefined;
  try {
    // The layer's own options (checked already by its build): relative sources are taken in its cwd.
    const { cwd } = resolveLayerOptions(opts);
    await walkSources(opts.sources, { cwd, signal: opts.signal, logger: silentLogger }, (e) => {
      if (e.kind !== 'file') return;
      if (/(^|\/)node_modules\/\.cache\//.test(e.name)) found = { name: `/${e.name}`, why: CACHE_WHY };
      else if (e.name.endsWith('.pyc')) {
        // The walk waits for the header (a visit's promise); no other file costs more than its name.
        return timestampPyc(e.path).then((stamped) => {
          if (!stamped) return;
          found = { name: `/${e.name}`, why: PYC_WHY };
          throw new Found();
        });
      }
      if (found) throw new Found();
    });
  } catch (err) {
    if (!(err instanceof Found)) return undefined;
  }
  return found;
}

/**
 * True for a .pyc whose header (PEP 552) says it is checked against its source's mtime: the flags
 * word (bytes 4–7, little-endian) is 0. Read asynchronously: the walk runs beside the layers'
 * uploads, and a venv holds thousands of .pyc files, each opened until a timestamped one is found.
 */
async function timestampPyc(path: string): Promise<boolean> {
  const head = Buffer.alloc(8);
  let file: FileHandle | undefined;
  try {
    file = await open(path, 'r');
    const { bytesRead } = await file.read(head, 0, 8, 0);
    return bytesRead === 8 && head.readUInt32LE(4) === 0;
  } catch {
    return false;
  } finally {
    await file?.close().catch(() => undefined);
  }
}
