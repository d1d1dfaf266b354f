/**
 * Where the CLI looks for mirror configuration: containers' registries.conf (REGISTRIES_CONFIG_PATH,
 * else ~/.config/containers/registries.conf, else /etc/containers/registries.conf) and Docker's
 * daemon.json (REGPUSH_DOCKER_DAEMON_JSON, else /etc/docker/daemon.json). Only the choice of files;
 * reading and parsing them is mirror-flags.ts's. Apart, so that the launcher can ask whether a
 * mirror may apply without loading the parsers (early-connect.ts).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

/** The default places of the two files (read only when they exist). */
export const DEFAULT_REGISTRIES_CONF = '/etc/containers/registries.conf';
export const DEFAULT_DAEMON_JSON = '/etc/docker/daemon.json';

/** A mirror configuration file, and whether the environment named it (then it must exist and parse). */
export interface MirrorFile {
  file: string;
  named: boolean;
}

/** The registries.conf and daemon.json this run reads, each when named or when a default exists. */
export function mirrorFiles(env: Record<string, string | undefined>, cwd: string): { conf?: MirrorFile; daemon?: MirrorFile } {
  const home = env.HOME;
  const conf = pick(env.REGISTRIES_CONFIG_PATH, [...(home ? [join(home, '.config/containers/registries.conf')] : []), DEFAULT_REGISTRIES_CONF], cwd);
  const daemon = pick(env.REGPUSH_DOCKER_DAEMON_JSON, [DEFAULT_DAEMON_JSON], cwd);
  return { ...(conf ? { conf } : {}), ...(daemon ? { daemon } : {}) };
}

/** A file named by the environment (must exist), else the first default that exists. */
function pick(named: string | undefined, defaults: string[], cwd: string): MirrorFile | undefined {
  if (named !== undefined && named.trim() !== '') return { file: isAbsolute(named) ? named : resolve(cwd, named), named: true };
  const found = defaults.find((f) => existsSync(f));
  return found ? { file: found, named: false } : undefined;
}
