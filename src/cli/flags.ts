/** Turning repeatable key=value flags into the library's config changes; each bad value is E_INPUT naming the flag. */
import { parseEnvFlag, parseLabelFlag, parsePortFlag, type ConfigChanges } from '../image/config.js';
import { InputError } from '../errors.js';
import { defineFlags, type InferredArgs } from './flag-table.js';

/** A repeatable flag's values as an array (yargs gives a string for one, an array for several). */
export function many(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** Exec-form list where a single empty value means "clear". */
export function execForm(v: unknown): string[] | undefined {
  const a = many(v);
  if (a === undefined) return undefined;
  return a.length === 1 && a[0] === '' ? [] : a;
}

/** The image config flags of `push` (help group "Config:"). */
export const configFlags = defineFlags({
  entrypoint: { type: 'string', repeatable: true, describe: 'Entrypoint, one argument per flag (exec form); "" clears', group: 'Config:' },
  cmd: { type: 'string', repeatable: true, describe: 'Cmd, one argument per flag (exec form); "" clears', group: 'Config:' },
  env: { type: 'string', repeatable: true, describe: 'KEY=VALUE; repeatable; replaces the same key', group: 'Config:' },
  port: { type: 'string', repeatable: true, describe: 'Exposed port, 80 or 80/tcp or 53/udp; repeatable', group: 'Config:' },
  workdir: { type: 'string', once: true, describe: 'Working directory (absolute)', group: 'Config:' },
  volume: { type: 'string', repeatable: true, describe: 'Volume path; repeatable', group: 'Config:' },
  label: { type: 'string', repeatable: true, describe: 'KEY=VALUE label; repeatable', group: 'Config:' },
  user: { type: 'string', once: true, describe: 'USER or USER:GROUP to run as', group: 'Config:' },
});

/** The config flags as yargs delivers them. */
export type ConfigFlags = InferredArgs<typeof configFlags>;

/** Validates the config flags and builds ConfigChanges. */
export function configChangesFromFlags(f: ConfigFlags): ConfigChanges {
  const out: ConfigChanges = {};
  const entrypoint = execForm(f.entrypoint);
  if (entrypoint) out.entrypoint = entrypoint;
  const cmd = execForm(f.cmd);
  if (cmd) out.cmd = cmd;
  const env = many(f.env);
  if (env) out.env = env.map((e) => parseEnvFlag(e).join('='));
  const ports = many(f.port);
  if (ports) out.ports = ports.map((p) => parsePortFlag(p));
  if (f.workdir !== undefined) {
    if (!f.workdir.startsWith('/')) throw new InputError(`--workdir must be an absolute path (got "${f.workdir}")`);
    out.workdir = f.workdir;
  }
  const vols = many(f.volume);
  if (vols) {
    for (const v of vols) if (!v.startsWith('/')) throw new InputError(`--volume must be an absolute path (got "${v}")`);
    out.volumes = vols;
  }
  const labels = many(f.label);
  if (labels) out.labels = Object.fromEntries(labels.map((l) => parseLabelFlag(l)));
  if (f.user !== undefined) {
    if (!/^[^:\s]+(:[^:\s]+)?$/.test(f.user)) throw new InputError(`--user must be USER or USER:GROUP (got "${f.user}")`);
    out.user = f.user;
  }
  return out;
}

/** Parses --chown "uid:gid". */
export function parseChown(v: string | undefined): { uid: number; gid: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{1,10}):(\d{1,10})$/.exec(v);
  if (!m) throw new InputError(`--chown must be UID:GID in numbers (got "${v}")`);
  return { uid: Number(m[1]), gid: Number(m[2]) };
}
