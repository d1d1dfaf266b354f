/**
 * Registry mirrors as configured: `--registry-mirror REGISTRY=MIRROR`, containers'
 * registries.conf (v2, TOML) and Docker's daemon.json `registry-mirrors`. Pure: the callers pass
 * the files' text in; nothing here reads a file or the environment.
 *
 * The one shape everything turns into is a map from a prefix (a registry, or a registry and a
 * repository namespace: "docker.io", "docker.io/library", "registry.example.com:5000/team") to the
 * mirrors tried, in order, before that prefix's registry. A mirror is a host[:port] with an
 * optional namespace path ("mirror.example.com/hub"): the part of the repository under the prefix
 * is appended to it, as registries.conf(5) describes. "http://" before a mirror means it is
 * reached over plain HTTP (daemon.json's http:// mirrors, --registry-mirror http://…).
 *
 * registries.conf also gives two per-name settings besides mirrors: `blocked = true` (a prefix no
 * image is read from or written to: BlockedPrefixes) and `insecure = true` (a host reached over TLS
 * without certificate verification, or over plain HTTP when it does not speak TLS: InsecureHosts).
 */
import { MirrorConfigError, UsageError } from '../errors.js';
import { described } from '../options-check.js';
import { connectionOptionNames, type ConnectionNames } from '../option-names.js';
import type { Logger } from '../log.js';
import { redactTyped } from '../redact.js';
import { hostProblem } from '../ref/grammar.js';
import { canonicalRegistry, DOCKER_HUB } from '../ref/registry.js';
import { bracketBareIpv6 } from '../ref/host-address.js';
import { INSECURE_ENTRY_FORM, isInsecureEntry } from './endpoint.js';
import { parseToml, type TomlTable, type TomlValue } from './toml.js';

/** Prefix → mirrors in the order they are tried (the library's `mirrors` option). */
export type MirrorMap = Record<string, string[]>;

/** One mirror as a read uses it. */
export interface MirrorTarget {
  /** The mirror as configured, without scheme: host[:port][/path]. */
  name: string;
  /** host[:port] of the mirror. */
  registry: string;
  /** The repository at the mirror. */
  repo: string;
  /** Reached over plain HTTP (configured with http://). */
  plainHttp: boolean;
  /** Where the mirror serves the API, when not at its root (parseMirrorLocation): `/<apiPath>/v2/`. */
  apiPath?: string;
}

/**
 * registries.conf's `[[registry]]` entries by prefix: the file that sets `blocked = true` for it,
 * or false for an entry that does not block. Every entry is listed because the longest matching
 * prefix decides alone (registries.conf(5)): `docker.io/library` → false under a blocked
 * `docker.io` lets library images through.
 */
export type BlockedPrefixes = Record<string, string | false>;

/**
 * host[:port] → where `insecure = true` was set for it (named in the warning line): the file, or
 * for a version 1 file, which says it otherwise, `[registries.insecure] in FILE`.
 */
export type InsecureHosts = Record<string, string>;

/** How a version 1 registries.conf names its insecure hosts (InsecureHosts). @internal */
export const REGISTRIES_INSECURE_V1 = '[registries.insecure]';

/**
 * How daemon.json names its insecure hosts (InsecureHosts: `insecure-registries in FILE`).
 * @internal
 */
export const DAEMON_INSECURE_REGISTRIES = 'insecure-registries';

/** The blocking entry for `registry/repo`, if the longest matching prefix blocks it. @internal */
export function blockedBy(blocked: BlockedPrefixes | undefined, registry: string, repo: string): { prefix: string; source: string } | undefined {
  if (!blocked) return undefined;
  const best = longestPrefix(Object.keys(blocked), `${canonicalRegistry(registry)}/${repo}`);
  const source = best === undefined ? false : blocked[best];
  return best !== undefined && source ? { prefix: best, source } : undefined;
}

/** The longest of `keys` that `full` ("registry/repo") starts with at a path boundary. */
function longestPrefix(keys: string[], full: string): string | undefined {
  let best: string | undefined;
  for (const key of keys) {
    if ((full === key || full.startsWith(key + '/')) && (!best || key.length > best.length)) best = key;
  }
  return best;
}

export { MirrorConfigError };

/**
 * Splits "host[:port][/path]" (scheme optional: http:// or https://) into its parts; undefined
 * when not one. A path is a repository namespace at the mirror (registries.conf's meaning:
 * `m.example/hub` serves `nginx` as `m.example/hub/nginx`), unless it ends with `/v2`: then it is
 * where the API is served (`apiPath`), as a URL names it (`https://art.example/api/docker/hub/v2/`
 * serves `nginx` at `/api/docker/hub/v2/nginx/…`, Artifactory's path-based access; daemon.json's
 * mirror URLs, see mirrorsFromDaemonJson). `/v2` alone is the root, as if not written.
 * @internal
 */
export function parseMirrorLocation(value: string): { registry: string; path: string; plainHttp: boolean; apiPath: string } | undefined {
  let s = value.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s);
  if (scheme && !/^https?$/i.test(scheme[1]!)) return undefined;
  const plainHttp = !!scheme && scheme[1]!.toLowerCase() === 'http';
  s = s.slice(scheme ? scheme[0].length : 0).replace(/\/+$/, '');
  const api = /\/v2$/i.test(s);
  s = s.replace(/\/+(v1|v2)$/i, '').replace(/\/+$/, '');
  const slash = s.indexOf('/');
  const host = slash < 0 ? s : s.slice(0, slash);
  const rest = slash < 0 ? '' : s.slice(slash + 1);
  if (hostProblem(host)) return undefined;
  if (api) {
    // URL path segments, no empty ones, nothing a URL would have to escape.
    if (rest && !/^[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*$/.test(rest)) return undefined;
    return { registry: canonicalRegistry(host), path: '', plainHttp, apiPath: rest };
  }
  // A path is a repository namespace: lower-case components, no empty ones.
  if (rest && (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(rest))) return undefined;
  return { registry: canonicalRegistry(host), path: rest, plainHttp, apiPath: '' };
}

/** A prefix key in its canonical spelling ("Docker.IO/library" → "docker.io/library"); undefined when not one. @internal */
function canonicalPrefix(value: string): string | undefined {
  // Repository names are lower case, so a prefix spelled otherwise can only mean the lower-case one.
  const loc = parseMirrorLocation(value.toLowerCase());
  if (!loc || /^[a-z]+:\/\//i.test(value.trim())) return undefined;
  return loc.path ? `${loc.registry}/${loc.path}` : loc.registry;
}

/** Adds `mirrors` after those already known for `prefix` (duplicates dropped); returns `map`. @internal */
export function addMirrors(map: MirrorMap, prefix: string, mirrors: readonly string[]): MirrorMap {
  const list = (map[prefix] ??= []);
  for (const m of mirrors) if (!list.includes(m)) list.push(m);
  return map;
}

/**
 * Several maps in order of precedence: the first map's mirrors for a prefix are tried first. Each
 * must be a MirrorMap (prefix → list of mirrors); anything else is E_USAGE naming the argument.
 * The likeliest slip, passing what mirrorsFromRegistriesConf returns rather than its `mirrors`,
 * was a TypeError ("mirrors is not iterable"): it is told as such.
 */
export function mergeMirrorMaps(...maps: (Readonly<Record<string, readonly string[]>> | undefined)[]): MirrorMap {
  const out: MirrorMap = {};
  maps.forEach((m, i) => {
    if (m === undefined) return;
    const arg = `mergeMirrorMaps(): argument ${i + 1}`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new UsageError(`${arg} must be a map of prefix → mirrors, e.g. { "docker.io": ["mirror.example.com"] } (got ${described(m)})`);
    const r = m as Record<string, unknown>;
    if (typeof r.mirrors === 'object' && r.mirrors !== null && !Array.isArray(r.mirrors) && Array.isArray(r.notes)) {
      throw new UsageError(
        `${arg} is what mirrorsFromRegistriesConf() returns ({ mirrors, notes, blocked, insecure }): ` +
          `pass its mirrors (its blocked and insecure are the blocked and insecureTlsRegistries options)`,
      );
    }
    for (const [k, v] of Object.entries(r)) {
      const odd = Array.isArray(v) ? v.findIndex((x) => typeof x !== 'string') : -1;
      if (!Array.isArray(v) || odd >= 0) {
        throw new UsageError(`${arg}: the mirrors of ${JSON.stringify(k)} must be an array of strings (got ${Array.isArray(v) ? `${described(v[odd])} at [${odd}]` : described(v)})`);
      }
      addMirrors(out, k, v as readonly string[]);
    }
  });
  return out;
}

/**
 * What is wrong with the mirrors option (a map of the right types), as the rest of a message after
 * `mirrors`: a key that names no registry or namespace, a mirror that is no location. Undefined
 * when it can be used; an undefined entry is left out, as an option left out is. @internal
 */
export function mirrorMapProblem(map: Readonly<Record<string, readonly string[] | undefined>> | undefined): string | undefined {
  for (const [key, list] of Object.entries(map ?? {})) {
    if (list === undefined) continue;
    if (!canonicalPrefix(key)) return `key "${redactTyped(key)}" is not a registry (host[:port]) or registry/namespace`;
    if (!Array.isArray(list)) return `key ${key} must have a list of mirrors`;
    for (const m of list) {
      if (typeof m !== 'string' || !parseMirrorLocation(m)) return `entry "${redactTyped(String(m))}" (a mirror of ${key}) is not a host[:port][/path]`;
    }
  }
  return undefined;
}

/** Checks a whole map (the library's input: its options check has said mirrorMapProblem's problems first) and returns it with canonical keys. @internal */
export function checkMirrorMap(map: Readonly<Record<string, readonly string[] | undefined>> | undefined): MirrorMap {
  const problem = mirrorMapProblem(map);
  if (problem) throw new MirrorConfigError(`mirrors ${problem}`);
  const out: MirrorMap = {};
  for (const [key, list] of Object.entries(map ?? {})) if (list !== undefined) addMirrors(out, canonicalPrefix(key)!, list);
  return out;
}

/**
 * The mirrors to try for `registry/repo`, in order: those of the longest prefix that matches at a
 * path boundary (registries.conf's rule), each with the repository it has at the mirror.
 * @internal
 */
export function mirrorsFor(map: MirrorMap, registry: string, repo: string): MirrorTarget[] {
  const full = `${canonicalRegistry(registry)}/${repo}`;
  const best = longestPrefix(Object.keys(map), full);
  if (!best) return [];
  const rest = full.slice(best.length + 1);
  const out: MirrorTarget[] = [];
  for (const m of map[best]!) {
    const loc = parseMirrorLocation(m);
    if (!loc) continue;
    const mirrorRepo = loc.path ? (rest ? `${loc.path}/${rest}` : loc.path) : rest;
    if (!mirrorRepo) continue;
    const name = loc.apiPath ? `${loc.registry}/${loc.apiPath}/v2` : loc.path ? `${loc.registry}/${loc.path}` : loc.registry;
    out.push({ name, registry: loc.registry, repo: mirrorRepo, plainHttp: loc.plainHttp, ...(loc.apiPath ? { apiPath: loc.apiPath } : {}) });
  }
  return out;
}

/** `--registry-mirror REGISTRY=MIRROR` → [prefix, mirror]. @internal */
export function parseMirrorFlag(raw: string): [string, string] {
  const eq = raw.indexOf('=');
  const prefix = eq > 0 ? canonicalPrefix(raw.slice(0, eq)) : undefined;
  const mirror = eq > 0 ? raw.slice(eq + 1).trim() : '';
  if (!prefix || !mirror || !parseMirrorLocation(mirror)) {
    // A mirror URL's userinfo (https://user:password@mirror) is not echoed: it may be a password.
    const shown = eq > 0 ? `${raw.slice(0, eq + 1)}${redactTyped(mirror)}` : redactTyped(raw);
    // The form is right and the scheme is what is wrong: saying so, not the form again.
    const scheme = prefix ? /^([a-z][a-z0-9+.-]*):\/\//i.exec(mirror) : null;
    if (scheme && !/^https?$/i.test(scheme[1]!)) {
      throw new MirrorConfigError(
        `--registry-mirror: the mirror's scheme "${scheme[1]}://" is not one a registry is reached by: ` +
          `give https:// (or no scheme), or http:// for plain HTTP (got "${shown}")`,
      );
    }
    throw new MirrorConfigError(`--registry-mirror takes REGISTRY=MIRROR, e.g. --registry-mirror docker.io=mirror.example.com (got "${shown}")`);
  }
  return [prefix, mirror];
}

/** daemon.json's top-level object; E_INPUT (MirrorConfigError) naming the file when it is not one. @internal (the CLI's, for its "proxies" check) */
export function daemonJsonObject(text: string, source: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new MirrorConfigError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new MirrorConfigError(`${source}: must be a JSON object`);
  return parsed as Record<string, unknown>;
}

/**
 * Docker's daemon.json: `registry-mirrors` (URLs) are mirrors of Docker Hub only, as in dockerd.
 * A URL's path is where the mirror serves the API, as dockerd reads it since moby/moby#46594
 * (`https://m.example/hub` → `GET /hub/v2/library/nginx/…`), not a namespace as in
 * registries.conf. Other keys are ignored.
 */
export function mirrorsFromDaemonJson(text: string, source: string, logger?: Pick<Logger, 'warn'>): MirrorMap {
  const list = daemonJsonObject(text, source)['registry-mirrors'];
  if (list === undefined) return {};
  if (!Array.isArray(list)) throw new MirrorConfigError(`${source}: "registry-mirrors" must be a list of URLs`);
  const mirrors = list.map((v) => {
    // dockerd refuses to start on a mirror without its scheme (moby/moby#50233): read as
    // https:// (a loopback host probed), as regpush reads a mirror, but said: Docker takes no such file.
    if (typeof v === 'string' && v.trim() !== '' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(v.trim())) {
      logger?.warn(
        `${source}: "registry-mirrors" entry ${JSON.stringify(redactTyped(v))} has no scheme: dockerd refuses to start on it; ` +
          `write https:// or http:// before it (regpush reads it over HTTPS, a loopback host in whichever protocol its port speaks)`,
      );
    }
    // The path is the API's: written with /v2 at its end, parseMirrorLocation reads it so.
    const loc = typeof v === 'string' ? parseMirrorLocation(`${v.trim().replace(/\/+$/, '').replace(/\/v2$/i, '')}/v2`) : undefined;
    if (!loc) throw new MirrorConfigError(`${source}: "registry-mirrors" entry ${typeof v === 'string' ? JSON.stringify(redactTyped(v)) : JSON.stringify(v)} is not a registry URL`);
    const name = loc.apiPath ? `${loc.registry}/${loc.apiPath}/v2` : loc.registry;
    return loc.plainHttp ? `http://${name}` : name;
  });
  return mirrors.length ? { [DOCKER_HUB]: mirrors } : {};
}

/**
 * Docker's daemon.json `insecure-registries`: each host[:port] or address range ("10.0.0.0/8")
 * is one dockerd reaches over TLS without verifying its certificate, and over plain HTTP when it
 * does not speak TLS; regpush's insecure-TLS hosts mean the same (InsecureHosts, each naming
 * `insecure-registries in SOURCE`). A range covers registries named by an address in it, as
 * --insecure-registry's do (dockerd also resolves a name to check its addresses). An `http://` or
 * `https://` before an entry is dropped, as dockerd drops it. Other keys are ignored. What it
 * returns is the `insecureTlsRegistries` option, as registries.conf's `insecure` is
 * (mirrorsFromRegistriesConf).
 */
export function insecureFromDaemonJson(text: string, source: string): InsecureHosts {
  const list = daemonJsonObject(text, source)[DAEMON_INSECURE_REGISTRIES];
  if (list === undefined) return {};
  if (!Array.isArray(list)) throw new MirrorConfigError(`${source}: "${DAEMON_INSECURE_REGISTRIES}" must be a list of registries (host[:port]) or address ranges`);
  const out: InsecureHosts = {};
  for (const v of list) {
    const entry = typeof v === 'string' ? v.trim().replace(/^https?:\/\//i, '').replace(/\/+$/, '') : '';
    if (!isInsecureEntry(entry)) throw new MirrorConfigError(`${source}: "${DAEMON_INSECURE_REGISTRIES}" entry ${JSON.stringify(v)} is not ${INSECURE_ENTRY_FORM}`);
    out[entry.includes('/') ? entry.toLowerCase() : canonicalRegistry(bracketBareIpv6(entry))] = `${DAEMON_INSECURE_REGISTRIES} in ${source}`;
  }
  return out;
}

/** What registries.conf gave: mirrors, blocked prefixes, insecure hosts, and settings read but not applied (the caller logs them). */
export interface RegistriesConfMirrors {
  mirrors: MirrorMap;
  notes: string[];
  /** Every entry's prefix, with `source` where it is blocked (see BlockedPrefixes). */
  blocked: BlockedPrefixes;
  /** Hosts (mirrors, or a registry given as a whole) with `insecure = true`, each with `source`. */
  insecure: InsecureHosts;
  /**
   * The notes of settings not applied, each with the prefix of the entry it is about
   * ("*.example.com" for a wildcard one): a caller that logs notes quietly can warn of one when an
   * image it reads falls under that prefix (unappliedFor).
   */
  unapplied: { prefix: string; note: string }[];
}

/**
 * The notes of `unapplied` whose prefix covers `registry/repo`: at a path boundary, or for a
 * wildcard prefix ("*.example.com"), a registry host under that domain.
 * @internal
 */
export function unappliedFor(unapplied: readonly { prefix: string; note: string }[], registry: string, repo: string): string[] {
  const full = `${canonicalRegistry(registry)}/${repo}`;
  const host = full.slice(0, full.indexOf('/')).replace(/:\d+$/, '');
  return unapplied
    .filter(({ prefix }) => (prefix.startsWith('*.') ? host.endsWith(prefix.slice(1)) : full === prefix || full.startsWith(`${prefix}/`)))
    .map(({ note }) => note);
}

/**
 * containers' registries.conf, version 2: every `[[registry]]` with `prefix` (or `location`) and
 * its `[[registry.mirror]]` tables. `insecure = true` on a mirror, or on an entry whose prefix is a
 * whole registry, puts that host in `insecure`: TLS without certificate verification, plain HTTP
 * when it does not speak TLS, as registries.conf(5) allows. `blocked = true` is returned for the
 * caller to enforce (the library's `blocked` option). A `location` that differs from the prefix (a
 * rewrite of the registry itself) and `pull-from-mirror` other than "all" are not applied; such a
 * mirror is left out (a note says so) rather than used for more than the file allows. `names`
 * words the settings a note points to instead: the library's options (the default), or the CLI's flags.
 */
export function mirrorsFromRegistriesConf(text: string, source: string, names: ConnectionNames = connectionOptionNames): RegistriesConfMirrors {
  const doc = parseToml(text, source);
  const mirrors: MirrorMap = {};
  const notes: string[] = [];
  const unapplied: { prefix: string; note: string }[] = [];
  /** A setting of the entry for `prefix` not applied. */
  const skip = (prefix: string, note: string) => {
    notes.push(note);
    unapplied.push({ prefix, note });
  };
  const blockedPrefixes: BlockedPrefixes = {};
  const insecureHosts: InsecureHosts = {};
  if (doc['registries'] !== undefined) {
    if (doc['registry'] !== undefined) throw new MirrorConfigError(`${source}: mixes the version 1 format ([registries.block] and the like) with [[registry]] tables`);
    return fromVersion1(doc['registries'], source);
  }
  const registries = doc['registry'];
  if (registries === undefined) return { mirrors, notes, blocked: blockedPrefixes, insecure: insecureHosts, unapplied };
  if (!Array.isArray(registries)) throw new MirrorConfigError(`${source}: "registry" must be an array of tables ([[registry]])`);
  registries.forEach((r, i) => {
    const where = `${source}: [[registry]] #${i + 1}`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new MirrorConfigError(`${where} is not a table`);
    const reg = r as TomlTable;
    const location = optString(reg, 'location', where);
    const prefixRaw = optString(reg, 'prefix', where) ?? location;
    if (!prefixRaw) throw new MirrorConfigError(`${where} has neither prefix nor location`);
    // A prefix may name one tag or digest (`docker.io/library/busybox:1.36`). regpush matches
    // repositories: blocked = true then blocks the whole repository (more than the entry asks,
    // never less), and the entry's other settings are not used.
    const pinned = /^(.*\/[^/:@]+)(?::[^/@]+|@.+)$/.exec(prefixRaw);
    if (pinned) {
      const repo = canonicalPrefix(pinned[1]!);
      if (!repo) throw new MirrorConfigError(`${where}: "${prefixRaw}" is not a registry, namespace or image`);
      const blocked = reg['blocked'];
      if (blocked !== undefined && typeof blocked !== 'boolean') throw new MirrorConfigError(`${where}: blocked must be true or false`);
      if (blocked) {
        blockedPrefixes[repo] = source;
        notes.push(`${where}: prefix ${prefixRaw} names one tag or digest; regpush blocks by repository, so all of ${repo} is blocked`);
      } else skip(repo, `${where}: prefix ${prefixRaw} names one tag or digest, which regpush does not match on; its settings are not used`);
      return;
    }
    // "*.example.com" prefixes (wildcard subdomains) are a registries.conf feature regpush does not match on.
    if (prefixRaw.startsWith('*.')) {
      skip(prefixRaw.toLowerCase(), `${where}: wildcard prefix ${prefixRaw} is not supported; its settings (mirrors, blocked, insecure) are not used`);
      return;
    }
    const prefix = canonicalPrefix(prefixRaw);
    if (!prefix) throw new MirrorConfigError(`${where}: "${prefixRaw}" is not a registry or registry/namespace`);
    if (location !== undefined && canonicalPrefix(location) !== prefix) {
      skip(prefix, `${where}: location ${redactTyped(location)} differs from prefix ${prefixRaw}; regpush does not rewrite registries, so ${prefixRaw} is read as named`);
    }
    // Every entry is a key of the map, with the mirrors it allows (none, maybe): as in
    // registries.conf(5), the longest matching prefix decides alone, so an entry for
    // docker.io/acme without mirrors keeps acme's images off a docker.io mirror.
    addMirrors(mirrors, prefix, []);
    const blocked = reg['blocked'];
    if (blocked !== undefined && typeof blocked !== 'boolean') throw new MirrorConfigError(`${where}: blocked must be true or false`);
    // An entry for one tag of this repository that blocks it (above) is not undone by this one.
    blockedPrefixes[prefix] = blocked ? source : (blockedPrefixes[prefix] || false);
    const insecure = reg['insecure'];
    if (insecure !== undefined && typeof insecure !== 'boolean') throw new MirrorConfigError(`${where}: insecure must be true or false`);
    if (insecure) {
      // TLS settings go by host: for a namespace prefix that would loosen the whole registry, more
      // than the entry asks for, so only an entry for a whole registry is applied.
      if (prefix.includes('/')) {
        skip(
          prefix,
          `${where}: insecure = true for the namespace ${prefixRaw} is not applied (regpush sets TLS per registry host); ` +
            `use ${names.verifyOff('HOST')} or ${names.insecure('HOST')}`,
        );
      }
      else insecureHosts[prefix] = source;
    }
    const digestOnly = reg['mirror-by-digest-only'];
    if (digestOnly !== undefined && typeof digestOnly !== 'boolean') throw new MirrorConfigError(`${where}: mirror-by-digest-only must be true or false`);
    if (digestOnly) {
      // Its mirrors may serve only references by digest; regpush reads tags and digests alike
      // through a mirror, so it reads this prefix from the registry itself rather than trust a tag there.
      skip(prefix, `${where}: mirror-by-digest-only = true: regpush does not split tag and digest reads, so ${prefixRaw} is read from the registry itself`);
      return;
    }
    const list = reg['mirror'];
    if (list === undefined) return;
    if (!Array.isArray(list)) throw new MirrorConfigError(`${where}: "mirror" must be an array of tables ([[registry.mirror]])`);
    list.forEach((m, j) => {
      const mw = `${where} mirror #${j + 1}`;
      if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new MirrorConfigError(`${mw} is not a table`);
      const mt = m as TomlTable;
      const loc = optString(mt, 'location', mw);
      if (!loc) throw new MirrorConfigError(`${mw} has no location`);
      const parsed = parseMirrorLocation(loc);
      if (!parsed || /^[a-z]+:\/\//i.test(loc)) throw new MirrorConfigError(`${mw}: location "${redactTyped(loc)}" is not a host[:port][/path]`);
      const pull = optString(mt, 'pull-from-mirror', mw) ?? optString(reg, 'pull-from-mirror', where);
      if (pull !== undefined && pull !== 'all') {
        skip(prefix, `${mw}: pull-from-mirror = "${pull}" is not supported; mirror ${loc} is not used`);
        return;
      }
      const insecure = mt['insecure'];
      if (insecure !== undefined && typeof insecure !== 'boolean') throw new MirrorConfigError(`${mw}: insecure must be true or false`);
      if (insecure) insecureHosts[parsed.registry] = source;
      addMirrors(mirrors, prefix, [loc]);
    });
  });
  return { mirrors, notes, blocked: blockedPrefixes, insecure: insecureHosts, unapplied };
}

/**
 * registries.conf version 1 (`[registries.search]`, `[registries.insecure]`, `[registries.block]`,
 * each with `registries = [...]`), which containers/image still reads: its block list becomes
 * blocked prefixes, its insecure list insecure hosts. It has no mirrors.
 */
function fromVersion1(v1: TomlValue, source: string): RegistriesConfMirrors {
  const out: RegistriesConfMirrors = { mirrors: {}, notes: [], blocked: {}, insecure: {}, unapplied: [] };
  if (typeof v1 !== 'object' || v1 === null || Array.isArray(v1)) throw new MirrorConfigError(`${source}: "registries" must be a table (version 1 format)`);
  const list = (name: string): string[] => {
    const t = v1[name];
    if (t === undefined) return [];
    const where = `${source}: [registries.${name}]`;
    if (typeof t !== 'object' || t === null || Array.isArray(t)) throw new MirrorConfigError(`${where} must be a table`);
    const r = t['registries'];
    if (r === undefined) return [];
    if (!Array.isArray(r) || !r.every((x) => typeof x === 'string')) throw new MirrorConfigError(`${where}: registries must be an array of strings`);
    return (r as string[]).map((x) => {
      const prefix = canonicalPrefix(x);
      if (!prefix) throw new MirrorConfigError(`${where}: "${x}" is not a registry or registry/namespace`);
      return prefix;
    });
  };
  for (const prefix of list('block')) out.blocked[prefix] = source;
  for (const prefix of list('insecure')) {
    if (prefix.includes('/')) {
      const note = `${source}: [registries.insecure] ${prefix} is a namespace, not applied (regpush sets TLS per registry host)`;
      out.notes.push(note);
      out.unapplied.push({ prefix, note });
    }
    else out.insecure[prefix] = `${REGISTRIES_INSECURE_V1} in ${source}`;
  }
  return out;
}

function optString(t: TomlTable, key: string, where: string): string | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new MirrorConfigError(`${where}: ${key} must be a string`);
  return v;
}
