/**
 * Whether a layer's sources hold anything once `.dockerignore` has been applied. A `--layer`
 * that ends up empty is almost always a wrong path or an over-broad ignore pattern, and an empty
 * layer would be pushed and kept for ever, so push refuses it before any request.
 */
import { silentLogger, type Logger } from '../log.js';
import { normaliseDest } from './sources.js';
import type { LayerSource } from './types.js';
import { walkSources } from './walk.js';

/** Stops the walk at the first entry found. */
class Found extends Error {}

/** True when the walk yields a file, symlink or directory of the sources' own (their `.dockerignore` files do not count). A relative src is looked up in `cwd` (absolute). */
export async function hasContent(sources: LayerSource[], cwd: string, logger: Logger = silentLogger, signal?: AbortSignal, said?: Set<string>): Promise<boolean> {
  try {
    await walkSources(sources, { cwd, logger, signal, said }, async (e) => {
      if (e.kind === 'directory') {
        // The destination and its parents are made by the layer itself; a directory found inside a source counts.
        if (e.owned && !isDestination(e.name, sources)) throw new Found();
        return;
      }
      if (e.kind === 'file' && /(^|\/)\.dockerignore$/.test(e.name)) {
        const dir = e.name.slice(0, e.name.lastIndexOf('/') + 1);
        if (dir === '' || isDestination(dir, sources)) return; // a source's own ignore file
      }
      throw new Found();
    });
  } catch (err) {
    if (err instanceof Found) return true;
    throw err;
  }
  return false;
}

/**
 * The first symlink the layer would hold (its layer path, "app/l.txt"), or undefined: a Windows
 * layer cannot hold one (windows-layer.ts), and push says so before any request rather than once
 * the build meets it. A walk of names and types only; no file is opened.
 */
export async function firstSymlink(sources: LayerSource[], cwd: string, logger: Logger = silentLogger, signal?: AbortSignal, said?: Set<string>): Promise<string | undefined> {
  let found: string | undefined;
  try {
    await walkSources(sources, { cwd, logger, signal, said }, async (e) => {
      if (e.kind === 'symlink') {
        found = e.name;
        throw new Found();
      }
    });
  } catch (err) {
    if (!(err instanceof Found)) throw err;
  }
  return found;
}

/** True when `name` ("app/") is the destination directory of one of the sources, spelled as the walk spells it ("/srv/./" is "srv/"). */
function isDestination(name: string, sources: LayerSource[]): boolean {
  return sources.some((s) => `${normaliseDest(s.dest).name}/` === name);
}
