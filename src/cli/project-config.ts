/**
 * A project's push defaults: `regpush.json` in the working directory, else a `regpush` key in its
 * package.json, else the file named by `--config-file`. Flags override the file: a scalar or list
 * flag replaces the file's value; `--env`, `--label` and `--port` add to the file's (same key: the
 * flag wins). Every value is checked here with the flags' own parsers, and a bad one is E_INPUT
 * naming the file and the key. Relative `app` paths are relative to the file's directory.
 */
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { InputError, RegpushError } from '../errors.js';
import { parseEnvFlag, parseLabelFlag, parsePortFlag, WINDOWS_ABSOLUTE } from '../image/config.js';
import { splitPlatformPrefix } from '../image/platform.js';
import { closest } from '../did-you-mean.js';
import { isObject } from '../json-object.js';
import { findProjectFileOnce, mirrorsAsFlags, type ProjectFileRead } from './project-file.js';
import { pathBelow, present, realPathOutside, splitAppValue } from '../layer/index.js';

/** Keys a project file may set, and how each is checked. */
const KEYS = {
  from: 'string',
  to: 'string',
  tags: 'strings',
  platform: 'string',
  app: 'strings',
  layers: 'strings',
  format: 'string',
  annotations: 'pairs',
  appDest: 'string',
  workdir: 'string',
  entrypoint: 'array',
  cmd: 'array',
  env: 'pairs',
  ports: 'ports',
  labels: 'pairs',
  volumes: 'strings',
  user: 'string',
  mirrors: 'mirrors',
} as const;

type Key = keyof typeof KEYS;

/** Push defaults as flag values (what yargs would have produced), checked. */
export interface ProjectDefaults {
  from?: string;
  to?: string;
  tag?: string[];
  platform?: string;
  app?: string[];
  layer?: string[];
  format?: 'oci' | 'docker';
  annotation?: string[];
  'app-dest'?: string;
  workdir?: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  port?: string[];
  label?: string[];
  volume?: string[];
  user?: string;
  /** `mirrors` as --registry-mirror REGISTRY=MIRROR values. */
  'registry-mirror'?: string[];
}

/** A loaded project file. */
export interface ProjectConfig {
  /** Absolute path of the file the values came from. */
  file: string;
  /** "regpush.json", "package.json#regpush" or the --config-file path, for messages. */
  source: string;
  /**
   * The project folder (a real path), which every `app` and `layers` source must resolve inside:
   * the checkout the file lies in, the nearest folder at or above the file's holding `.git` (a
   * folder, or a file in a worktree or submodule), so that `deploy/prod.json` may name `../dist`
   * and `apps/api/regpush.json` `../../dist/apps/api` whichever folder regpush runs in. Without
   * one: the working folder where the file lies in it, else the file's own folder.
   */
  root: string;
  values: ProjectDefaults;
}

/**
 * Finds and reads the project file: `explicit` (from --config-file) must exist; otherwise
 * regpush.json, then package.json's `regpush` key, in `cwd`. Undefined when there is none.
 * `earlier`: the launcher's read of the file, used when it looked in the same place.
 */
export async function loadProjectConfig(cwd: string, explicit?: string, earlier?: ProjectFileRead): Promise<ProjectConfig | undefined> {
  const found = findProjectFileOnce(cwd, explicit, earlier);
  if (!found) return undefined;
  const values = checkProjectConfig(found.data, found.source, found.baseDir);
  return { file: found.file, source: found.source, root: projectRoot(found.baseDir, cwd), values };
}

/** ProjectConfig.root for a file in `fileDir`, regpush run in `cwd`. */
function projectRoot(fileDir: string, cwd: string): string {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  // Never the home folder or the file system's root: a project with no .git of its own below a
  // home folder kept in git (dotfiles) would otherwise have all of $HOME, ~/.docker included, for its project folder.
  const home = real(homedir());
  for (let dir = real(path.resolve(cwd, fileDir)); ; dir = path.dirname(dir)) {
    if (dir === home || path.dirname(dir) === dir) break;
    if (present(path.join(dir, '.git'))) return dir;
  }
  return real(realPathOutside(fileDir, cwd, cwd) === undefined ? cwd : path.resolve(cwd, fileDir));
}

/** Checks a parsed project object and turns it into flag values. Pure; `baseDir` anchors relative app paths. */
export function checkProjectConfig(data: unknown, source: string, baseDir: string): ProjectDefaults {
  const bad = (key: string, why: string) => new InputError(`${source}: "${key}" ${why}`, { details: { file: source, key } });
  if (!isObject(data)) throw new InputError(`${source}: the regpush settings must be a JSON object`, { details: { file: source } });
  const out: ProjectDefaults = {};
  for (const [key, value] of Object.entries(data)) {
    if (key === '$schema' || key === '//') continue;
    if (!Object.hasOwn(KEYS, key)) { // not `in`: "constructor" or "toString" are no keys of ours
      const hint = closest(key, Object.keys(KEYS));
      throw new InputError(`${source}: unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}; known keys: ${Object.keys(KEYS).join(', ')}`, { details: { file: source, key } });
    }
    const k = key as Key;
    try {
      switch (k) {
        case 'from':
        case 'to':
        case 'platform':
        case 'user':
          out[k] = str(value, () => bad(k, 'must be a string'));
          break;
        case 'appDest':
        case 'workdir': {
          const v = str(value, () => bad(k, 'must be a string'));
          // As for the flags: `/app`, or `C:\app` for a Windows image (the flags' own check then says which the image takes).
          if (!WINDOWS_ABSOLUTE.test(v)) throw bad(k, `must be an absolute path inside the image (got "${v}")`);
          out[k === 'appDest' ? 'app-dest' : 'workdir'] = v;
          break;
        }
        case 'tags':
          out.tag = strings(value, () => bad(k, 'must be a string or a list of strings'));
          break;
        case 'volumes': {
          const vs = strings(value, () => bad(k, 'must be a string or a list of strings'));
          for (const v of vs) if (!WINDOWS_ABSOLUTE.test(v)) throw bad(k, `entries must be absolute paths (got "${v}")`);
          out.volume = vs;
          break;
        }
        case 'app':
          out.app = strings(value, () => bad(k, 'must be a string or a list of strings ("DIR" or "DIR:/dest")')).map((v) => anchorApp(v, baseDir, () => bad(k, 'entries must not be empty')));
          break;
        case 'layers':
          // Each entry as on the command line: "[PLATFORM=]DIR[:DEST]", DIR relative to this file.
          out.layer = strings(value, () => bad(k, 'must be a list of strings ("DIR", "DIR:/dest" or "os/arch=DIR:/dest")')).map((v) => {
            let q: ReturnType<typeof splitPlatformPrefix>;
            try {
              q = splitPlatformPrefix(v);
            } catch (err) {
              throw bad(k, (err as Error).message);
            }
            return q ? `${q.platform}=${anchorApp(q.rest, baseDir, () => bad(k, 'entries must not be empty'))}` : anchorApp(v, baseDir, () => bad(k, 'entries must not be empty'));
          });
          break;
        case 'format': {
          const v = str(value, () => bad(k, 'must be "oci" or "docker"'));
          if (v !== 'oci' && v !== 'docker') throw bad(k, `must be "oci" or "docker" (got "${v}")`);
          out.format = v;
          break;
        }
        case 'annotations': {
          const list = pairs(value, () => bad(k, 'must be an object {"KEY": "VALUE"} or a list of "KEY=VALUE" strings'));
          for (const p of list) if (p.indexOf('=') <= 0) throw bad(k, `entries must be KEY=VALUE (got "${p}")`);
          out.annotation = list;
          break;
        }
        case 'entrypoint':
        case 'cmd': {
          if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) {
            throw bad(k, 'must be a list of strings (exec form, e.g. ["node", "server.js"]); [] clears it');
          }
          out[k] = value.length === 0 ? [''] : (value as string[]);
          break;
        }
        case 'env':
        case 'labels': {
          const flag = k === 'env' ? 'env' : 'label';
          const list = pairs(value, () => bad(k, 'must be an object {"KEY": "VALUE"} or a list of "KEY=VALUE" strings'));
          for (const p of list) (flag === 'env' ? parseEnvFlag : parseLabelFlag)(p);
          out[flag] = list;
          break;
        }
        case 'ports': {
          const list = Array.isArray(value) ? value : [value];
          if (!list.every((p) => typeof p === 'string' || (typeof p === 'number' && Number.isInteger(p)))) {
            throw bad(k, 'must be a list of ports (80, "80/tcp", "53/udp")');
          }
          out.port = list.map((p) => parsePortFlag(String(p)));
          break;
        }
        case 'mirrors':
          // {"docker.io": ["mirror.example.com", …]}: the mirrors of each registry, tried in order.
          out['registry-mirror'] = mirrorsAsFlags(value, (why) => bad(k, why));
          break;
      }
    } catch (err) {
      if (err instanceof RegpushError && !err.message.startsWith(source)) {
        // The flag parsers say "invalid --env …"; name the file and key instead.
        throw bad(k, `is invalid: ${err.message.replace(/^invalid --\w+:? /, '')}`);
      }
      throw err;
    }
  }
  return out;
}

/** Flag values after the project file: what the command line gave wins. */
export function mergeWithFlags<T extends Record<string, unknown>>(flags: T, project: ProjectDefaults | undefined): T {
  if (!project) return flags;
  const out: Record<string, unknown> = { ...flags };
  for (const [k, v] of Object.entries(project)) {
    // The shell form on the command line replaces the file's exec form of the same setting.
    if ((k === 'entrypoint' || k === 'cmd') && out[`${k}-shell`] !== undefined) continue;
    const given = out[k];
    if (given === undefined) out[k] = v;
    else if (k === 'env' || k === 'label' || k === 'port' || k === 'annotation') out[k] = [...(v as string[]), ...toList(given)];
  }
  return out as T;
}

function toList(v: unknown): string[] {
  return (Array.isArray(v) ? v : [v]).map(String);
}

/**
 * Where a layer source may lie. One from the project file (`entry`: "app[1]", "layers[0]") must
 * resolve, symlinks and `..` included, inside the project folder (ProjectConfig.root): the file comes with the checkout,
 * which anyone who can commit to it writes, and a deploy job pushing `"../../.docker"` or a link
 * to a host file would publish what was never the project's. Refused, E_INPUT, naming the entry.
 * One given on the command line (`project` undefined) is the caller's own choice and is taken
 * wherever it leads, but said in a line when a symlink leads it out of the working folder `cwd`.
 */
export function checkSourcePlace(src: string, cwd: string, flag: '--app' | '--layer', warn: (line: string) => void, project?: { config: ProjectConfig; entry: string }): void {
  if (project) {
    const { config, entry } = project;
    const real = realPathOutside(src, cwd, config.root);
    if (real === undefined) return;
    throw new InputError(
      `${config.source} ${entry} resolves outside the project folder ${config.root} (to ${real}); ` +
        `a project file may only name sources inside it: to take it on purpose, give it on the command line with ${flag}`,
      { details: { file: config.source, key: entry, path: real, root: config.root } },
    );
  }
  // A path written outside the working folder (`/srv/build`, `../vendor`) says where it leads; one
  // written inside it that a symlink leads out of does not, and that is what the line is for.
  if (pathBelow(path.resolve(cwd), path.resolve(cwd, src)) === undefined) return;
  const real = realPathOutside(src, cwd, cwd);
  if (real !== undefined) warn(`${flag} ${src} resolves outside the working folder, to ${real} (through a symlink)`);
}

/** "./dist:/app" in a file at /p → "/p/dist:/app". */
export function anchorApp(v: string, baseDir: string, empty: () => Error, host: NodeJS.Platform = process.platform): string {
  if (v.trim() === '') throw empty();
  // Split as --app splits it (a drive letter's colon does not split: C:\publish on Windows, the
  // destination C:\app), so that the part made absolute is the source, whole.
  const { src, dest } = splitAppValue(v, host);
  if (src === '') return v; // ":/dest": parseAppFlag names the empty source
  return (host === 'win32' ? path.win32 : path.posix).resolve(baseDir, src) + (dest === undefined ? '' : `:${dest}`);
}

function str(v: unknown, fail: () => Error): string {
  if (typeof v !== 'string') throw fail();
  return v;
}

function strings(v: unknown, fail: () => Error): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw fail();
}

function pairs(v: unknown, fail: () => Error): string[] {
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  if (isObject(v) && Object.values(v).every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) {
    return Object.entries(v).map(([k, x]) => `${k}=${String(x)}`);
  }
  throw fail();
}
