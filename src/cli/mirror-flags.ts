/**
 * Registry mirrors for the CLI: `--registry-mirror REGISTRY=MIRROR` (repeatable), then the
 * configuration users already have: containers' registries.conf (CONTAINERS_REGISTRIES_CONF, else
 * REGISTRIES_CONFIG_PATH, else ~/.config/containers/registries.conf, else
 * /etc/containers/registries.conf) and Docker's
 * daemon.json `registry-mirrors` and `insecure-registries` (REGPUSH_DOCKER_DAEMON_JSON, else
 * /etc/docker/daemon.json), whose `proxies` (Docker 23 and later) are the run's proxies when they
 * give one (runProxySettings: they win over HTTPS_PROXY, HTTP_PROXY and NO_PROXY, as in dockerd).
 * The default files are read only when they exist. A registries.conf that exists but cannot be
 * read stops the run; otherwise a default file that cannot be read or parsed is a warning, unless
 * it blocks registries; a file named in the environment must exist and parse. The library gets
 * the merged map (its `mirrors` option), registries.conf's blocked prefixes, the insecure hosts of
 * both files (`blocked`, `insecureTlsRegistries`) and the run's proxies (`proxySettings`), and
 * never reads these files itself. A bad value in daemon.json's `proxies` stops the run (E_INPUT).
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { InputError, UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { proxySettingsFromDaemonJson, proxySettingsFromEnv, redactProxyUrl, runProxySettings, type ProxySettings } from '../http/proxy-choice.js';
import {
  addMirrors,
  daemonJsonObject,
  insecureFromDaemonJson,
  mergeMirrorMaps,
  MirrorConfigError,
  mirrorsFromDaemonJson,
  mirrorsFromRegistriesConf,
  parseMirrorFlag,
  unappliedFor,
  type BlockedPrefixes,
  type InsecureHosts,
  type MirrorMap,
} from '../registry/mirror-config.js';
import { defineFlags } from './flag-table.js';
import { CONNECTION_FLAG_NAMES } from './connection-flags.js';

/** The default places of the two files (read only when they exist). */
const DEFAULT_REGISTRIES_CONF = '/etc/containers/registries.conf';
const DEFAULT_DAEMON_JSON = '/etc/docker/daemon.json';

/** The system-wide files registryConfigOptions falls back to; a test names others, as the real ones belong to root. */
export interface SystemConfigFiles {
  registriesConf: string;
  daemonJson: string;
}
const SYSTEM_FILES: SystemConfigFiles = { registriesConf: DEFAULT_REGISTRIES_CONF, daemonJson: DEFAULT_DAEMON_JSON };

/** The mirror flag (spread into commonFlags). */
export const mirrorFlags = defineFlags({
  'registry-mirror': {
    type: 'string',
    repeatable: true,
    describe:
      'REGISTRY=MIRROR: read images of REGISTRY (or REGISTRY/NAMESPACE) through MIRROR first ' +
      '(a pull-through cache, host[:port][/path]; http:// for plain HTTP), falling back to REGISTRY; repeatable, tried in order. ' +
      'Also read: registries.conf mirrors (CONTAINERS_REGISTRIES_CONF, else REGISTRIES_CONFIG_PATH, ' +
      `else ~/.config/containers/registries.conf, else ${DEFAULT_REGISTRIES_CONF}) ` +
      `and Docker Hub mirrors, insecure-registries and proxies of daemon.json (REGPUSH_DOCKER_DAEMON_JSON, else ${DEFAULT_DAEMON_JSON})`,
    group: 'Connection:',
  },
});

function list(v: unknown): unknown[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** --registry-mirror values as a map (flag order kept). */
export function mirrorsFromFlags(v: unknown): MirrorMap {
  const map: MirrorMap = {};
  for (const raw of list(v)) {
    try {
      const [prefix, mirror] = parseMirrorFlag(typeof raw === 'string' ? raw : '');
      addMirrors(map, prefix, [mirror]);
    } catch (err) {
      if (err instanceof MirrorConfigError) throw new UsageError(err.message);
      throw err;
    }
  }
  return map;
}

/** A file named by the environment (must exist), else the first default that exists. */
function pick(named: string | undefined, defaults: string[], cwd: string): { file: string; named: boolean } | undefined {
  if (named !== undefined && named.trim() !== '') return { file: isAbsolute(named) ? named : resolve(cwd, named), named: true };
  const found = defaults.find((f) => existsSync(f));
  return found ? { file: found, named: false } : undefined;
}

/**
 * The text of a configuration file. A default file gone since it was found (ENOENT, ENOTDIR) is
 * not there. One that is there but cannot be read (EACCES, EISDIR, …): registries.conf stops the
 * run (E_INPUT), as it stops containers/image, since regpush cannot tell what it would block and
 * going on without it could reach registries it blocks; daemon.json, which gives mirrors,
 * insecure registries and proxies here, is set aside with a warning (`unreadable` says what is lost).
 */
function readConfig(file: string, named: boolean, envName: string, logger: Logger, unreadable?: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    if (named) throw new InputError(`${envName}=${file}: cannot read it (${code === 'ENOENT' ? 'no such file' : code})`, { details: { file } });
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (unreadable) {
      logger.warn(`cannot read ${file} (${code}); ${unreadable}`);
      return undefined;
    }
    throw new InputError(`cannot read ${file} (${code}); regpush does not go on without it, since it may block registries (make it readable, or name another file in ${envName})`, {
      details: { file },
    });
  }
}

/**
 * Says where the run's proxies come from (--debug), and warns of the settings passed over: the
 * proxy variables when daemon.json's `proxies` win with other values (as dockerd warns when its
 * configuration overrides a proxy variable it started with), or the file's `no-proxy` when it gives
 * no proxy to go with and the variables do (it is never paired with theirs: runProxySettings).
 */
function sayProxies(run: ProxySettings, fromFile: ProxySettings | undefined, env: Record<string, string | undefined>, logger: Logger): void {
  const fromEnv = proxySettingsFromEnv(env);
  const set = PROXY_VARIABLES.filter((v) => env[v] || env[v.toLowerCase()]);
  const shown = (s: ProxySettings) =>
    [
      s.httpsProxy && `https ${redactProxyUrl(s.httpsProxy)}`,
      s.httpProxy && `http ${redactProxyUrl(s.httpProxy)}`,
      s.noProxy !== undefined && `no proxy for ${JSON.stringify(s.noProxy)}`,
    ]
      .filter(Boolean)
      .join(', ');
  if (run.file !== undefined) {
    logger.debug(`proxies from "proxies" in ${run.file}: ${shown(run)}`);
    const same = fromEnv.httpProxy === run.httpProxy && fromEnv.httpsProxy === run.httpsProxy && fromEnv.noProxy === run.noProxy;
    if (set.length && !same) {
      logger.warn(
        `${run.file}: "proxies" is applied, not ${set.join(', ')} of this run's environment: as dockerd, regpush lets daemon.json's proxies win over the variables, ` +
          `and takes its no-proxy with them (to use the variables, remove "proxies" from the file or set REGPUSH_DOCKER_DAEMON_JSON to another file)`,
      );
    }
    return;
  }
  if (fromFile !== undefined) {
    const why = `proxies.no-proxy in ${fromFile.file}: not applied, since the file gives no proxy for it to go with`;
    if (fromEnv.httpProxy !== undefined || fromEnv.httpsProxy !== undefined) logger.warn(`${why}; the proxy of this run is its environment's, with that environment's NO_PROXY`);
    else logger.debug(why);
  }
  if (set.length) logger.debug(`proxies from the environment (${set.join(', ')}): ${shown(fromEnv)}`);
}

/** The proxy variables, upper-case (the lower-case spellings count too). */
const PROXY_VARIABLES = ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY'] as const;

/** What the mirror flag and the two files give the library. */
export interface RegistryConfigOptions {
  mirrors: MirrorMap;
  /** registries.conf's entries and which of them are blocked (ConnectionOptions.blocked). */
  blocked: BlockedPrefixes;
  /** registries.conf's `insecure = true` hosts and daemon.json's insecure-registries (ConnectionOptions.insecureTlsRegistries). */
  insecure: InsecureHosts;
  /**
   * For a registries.conf at a default path with settings regpush does not apply (its notes, debug
   * lines only): warns once of each when a read falls under its entry (ConnectionOptions.onRead).
   */
  onRead?: (registry: string, repo: string) => void;
  /** The run's proxies: daemon.json's `proxies` when they give one, else the environment's (runProxySettings; ConnectionOptions.proxySettings). */
  proxy: ProxySettings;
}

/** A registries.conf that blocks something: `blocked = true` (version 2) or `[registries.block]` (version 1). */
const BLOCKS = /^\s*(?:blocked\s*=\s*true\b|\[\s*registries\s*\.\s*block\s*\])/m;

/**
 * Every mirror the run uses: the flags' first, then registries.conf's, then daemon.json's (for a
 * registry several give mirrors for, they are tried in that order); registries.conf's blocked
 * prefixes; the insecure hosts of registries.conf and daemon.json.
 */
export function registryConfigOptions(flagValues: unknown, env: Record<string, string | undefined>, cwd: string, logger: Logger, system: SystemConfigFiles = SYSTEM_FILES): RegistryConfigOptions {
  const maps: MirrorMap[] = [mirrorsFromFlags(flagValues)];
  let blocked: BlockedPrefixes = {};
  let insecure: InsecureHosts = {};
  let onRead: RegistryConfigOptions['onRead'];
  const home = env.HOME;
  // podman and skopeo document CONTAINERS_REGISTRIES_CONF as the variable naming registries.conf;
  // REGISTRIES_CONFIG_PATH, an older name, is read when it is not set (both set: the documented one
  // wins, and a warning names the file left unread, which may block prefixes). Hints for a
  // default file name the documented one.
  const confEnv = env.CONTAINERS_REGISTRIES_CONF?.trim() ? 'CONTAINERS_REGISTRIES_CONF' : 'REGISTRIES_CONFIG_PATH';
  const passedOver = env.REGISTRIES_CONFIG_PATH?.trim();
  if (confEnv === 'CONTAINERS_REGISTRIES_CONF' && passedOver && passedOver !== env.CONTAINERS_REGISTRIES_CONF?.trim()) {
    logger.warn(`REGISTRIES_CONFIG_PATH=${passedOver} is not read: CONTAINERS_REGISTRIES_CONF names the registries.conf in effect`);
  }
  const conf = pick(env[confEnv], [...(home ? [join(home, '.config/containers/registries.conf')] : []), system.registriesConf], cwd);
  if (conf) {
    const text = readConfig(conf.file, conf.named, conf.named ? confEnv : 'CONTAINERS_REGISTRIES_CONF', logger);
    if (text !== undefined) {
      try {
        const r = mirrorsFromRegistriesConf(text, conf.file, CONNECTION_FLAG_NAMES);
        for (const n of r.notes) (conf.named ? logger.warn : logger.debug).call(logger, n);
        // A file nobody named is the machine's, its notes debug lines: a run is told of one only
        // when it reads under that entry, where the note explains what happens next (a mirror
        // not used, a registry read as named that may not be reachable from here).
        if (!conf.named && r.unapplied.length) {
          const warned = new Set<string>();
          const unapplied = r.unapplied;
          onRead = (registry, repo) => {
            for (const note of unappliedFor(unapplied, registry, repo)) {
              if (warned.has(note)) continue;
              warned.add(note);
              logger.warn(`${note} (this run reads ${registry}/${repo})`);
            }
          };
        }
        if (Object.keys(r.mirrors).length) logger.debug(`mirrors from ${conf.file}: ${JSON.stringify(r.mirrors)}`);
        maps.push(r.mirrors);
        blocked = r.blocked;
        insecure = r.insecure;
      } catch (err) {
        if (!(err instanceof MirrorConfigError)) throw err;
        // A file that blocks registries is not set aside: reading on would reach what it blocks.
        if (conf.named || BLOCKS.test(text)) {
          const why = conf.named ? '' : '; it blocks registries, so regpush does not go on without it (fix it, or name another file in CONTAINERS_REGISTRIES_CONF)';
          throw new InputError(`${err.message}${why}`, { details: { file: conf.file } });
        }
        logger.warn(`${err.message}; none of its settings are used (fix it, or set CONTAINERS_REGISTRIES_CONF to read another file instead)`);
      }
    }
  }
  let daemonProxies: ProxySettings | undefined;
  const daemon = pick(env.REGPUSH_DOCKER_DAEMON_JSON, [system.daemonJson], cwd);
  if (daemon) {
    const text = readConfig(
      daemon.file,
      daemon.named,
      'REGPUSH_DOCKER_DAEMON_JSON',
      logger,
      'its registry-mirrors, insecure-registries and proxies are not used (make it readable, or set REGPUSH_DOCKER_DAEMON_JSON to read another file instead)',
    );
    if (text !== undefined) {
      try {
        const m = mirrorsFromDaemonJson(text, daemon.file, logger);
        // dockerd's insecure-registries: TLS without verification, else plain HTTP, as
        // registries.conf's insecure = true; registries.conf's word wins for a host both name.
        const hosts = insecureFromDaemonJson(text, daemon.file);
        if (Object.keys(m).length) logger.debug(`Docker Hub mirrors from ${daemon.file}: ${JSON.stringify(m)}`);
        // A bad proxy value stops the run (E_INPUT), even in a file nobody named: going on direct,
        // or through the environment's proxy, may be exactly what the machine's network forbids.
        daemonProxies = proxySettingsFromDaemonJson(daemonJsonObject(text, daemon.file), daemon.file);
        if (Object.keys(hosts).length) logger.debug(`insecure registries from ${daemon.file}: ${Object.keys(hosts).join(', ')}`);
        maps.push(m);
        insecure = { ...hosts, ...insecure };
      } catch (err) {
        if (!(err instanceof MirrorConfigError)) throw err;
        if (daemon.named) throw new InputError(err.message, { details: { file: daemon.file } });
        logger.warn(`${err.message}; its registry-mirrors, insecure-registries and proxies are not used (fix it, or set REGPUSH_DOCKER_DAEMON_JSON to read another file instead)`);
      }
    }
  }
  const proxy = runProxySettings(env, daemonProxies);
  sayProxies(proxy, daemonProxies, env, logger);
  return { mirrors: mergeMirrorMaps(...maps), blocked, insecure, proxy, ...(onRead ? { onRead } : {}) };
}
