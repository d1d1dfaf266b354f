/**
 * The launcher's head start on the network: before it loads the pipelines (~20–25 ms of every
 * start: the bundle, Node's HTTP and crypto modules, the argument parser), it reads the registries
 * out of the command line and opens TCP connections to them, so the first requests find their
 * handshake under way or done. See src/http/early-sockets.ts for how they are handed over.
 *
 * This is a hint, not the parse: only the plainest spellings are read (`push --from REF --to REF`,
 * `=` forms too; `copy SRC DST…` and `inspect REF` with the references before any flag; copy's
 * `--to`), and anything unclear is skipped. Reading it wrong costs one unused connection, closed
 * after a few seconds or when the command's transport closes; it never changes what the command
 * does. Where Docker Hub or an Aliyun regional registry is named, its token service (another host,
 * known in advance) gets a connection too. Left out on purpose:
 *   - any origin a proxy would be used for (HTTP(S)_PROXY and NO_PROXY, or daemon.json's `proxies`
 *     when they win, as the command reads them: runProxySettings), as the transport decides: a
 *     direct connection there may be exactly what the network forbids; proxy settings that do not
 *     read cleanly leave out every origin;
 *   - the registry of a source that has a mirror (--registry-mirror, registries.conf, daemon.json:
 *     the map the command itself reads, mirror-flags.ts; for push also the "mirrors" of
 *     regpush.json or --config-file, as the command reads them: the binary hands that read to the
 *     command, so the file is read once), unless a target is in that registry anyway: the source's
 *     reads go to the mirror first, and a network with a mirror often does not want the upstream
 *     contacted. The source's connection goes to its first mirror instead (mirrorsFor, the order
 *     the command tries them in, per-namespace prefixes included), over plain HTTP where that
 *     mirror is given with http://. Mirror configuration that does not read cleanly leaves every
 *     source out (the command reports it);
 *   - a registry or repository that registries.conf blocks (`blocked = true`): the command refuses
 *     it before any request, and a connection would still be a contact the file forbids (a blocked
 *     source that has mirrors is read at them, so its first mirror still gets its connection);
 *     configuration that does not read cleanly counts as blocking everything;
 *   - every other command (login, sync, tag, …), and `--help` / `--version`.
 */
import { EarlySockets } from '../http/early-sockets.js';
import { proxyFor, proxySettingsFromEnv, type ProxySettings } from '../http/proxy-choice.js';
import { parseReference } from '../ref/reference.js';
import { knownTokenHost } from '../auth/presumed-challenge.js';
import { endpointFor, parseInsecureList } from '../registry/endpoint.js';
import { silentLogger } from '../log.js';
import { blockedBy, mirrorsFor, type BlockedPrefixes, type MirrorMap } from '../registry/mirror-config.js';
import { mirrorsFromFlags, registryConfigOptions } from './mirror-flags.js';
import { isObject } from '../json-object.js';
import { findProjectFile, mirrorsAsFlags, type ProjectFileRead } from './project-file.js';
import { leadingPositionals, rawFlagValues } from './raw-argv.js';

/** Connections to open to one host and port. */
export interface EarlyOrigin {
  host: string;
  port: number;
  connections: number;
  /** The registry is reached over https: the transport puts TLS on these connections as soon as it exists. */
  tls: boolean;
}

/** At most this many connections per origin: the engine opens the rest (--jobs) once it knows it needs them. */
const MAX_PER_ORIGIN = 4;

/**
 * The origins a command line names, with how many connections each would use at once at its start:
 * one per reference there, and two more per push target: its layer's upload session may open
 * alongside the tag's GET, and its config's session as soon as the tag's answer is in, while the
 * first requests still hold their connections (see push.ts). Empty for anything this pre-scan does
 * not read. A source that has mirrors counts at its first mirror, not at its registry. `mirrors`:
 * the run's mirror map, or 'unknown' when it could not be read; asked only when there is a source.
 * `blocked`: registries.conf's blocked prefixes, or 'unknown' likewise.
 */
export function earlyOrigins(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  mirrors: () => MirrorMap | 'unknown',
  blocked: () => BlockedPrefixes | 'unknown' = () => ({}),
  proxies: () => ProxySettings | 'unknown' = () => proxySettingsFromEnv(env),
): EarlyOrigin[] {
  const [command, ...rest] = argv;
  if (rest.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '--')) return [];
  let sources: string[];
  let targets: string[];
  if (command === 'push') {
    sources = rawFlagValues(rest, 'from').filter((r) => r !== 'scratch');
    targets = rawFlagValues(rest, 'to');
  } else if (command === 'copy') {
    const [src, ...dst] = leadingPositionals(rest);
    sources = src === undefined ? [] : [src];
    targets = [...dst, ...rawFlagValues(rest, 'to')];
  } else if (command === 'inspect') {
    sources = leadingPositionals(rest).slice(0, 1);
    targets = [];
  } else {
    return [];
  }
  const insecure = [...parseInsecureList(env.REGPUSH_INSECURE_REGISTRIES), ...rawFlagValues(rest, 'insecure-registry').flatMap((v) => parseInsecureList(v))];
  // The proxies the command will use (daemon.json's or env's: runProxySettings), read as it reads
  // them; none when they cannot be read: any host might be one a proxy is for.
  const proxy = proxies();
  if (proxy === 'unknown') return [];
  const wanted = new Map<string, EarlyOrigin>();
  const put = (origin: Origin, n: number): void => {
    if (proxyFor(origin.url, proxy)) return;
    const key = `${origin.host}:${origin.port}`;
    const o = wanted.get(key) ?? { host: origin.host, port: origin.port, connections: 0, tls: origin.url.protocol === 'https:' };
    o.connections = Math.min(MAX_PER_ORIGIN, o.connections + n);
    wanted.set(key, o);
  };
  const add = (ref: string, n: number, source = false): void => {
    const name = nameOf(ref);
    if (!name) return;
    const b = blocked();
    if (b === 'unknown') return;
    if (source) {
      const map = mirrors();
      if (map === 'unknown') return;
      // The mirror the command reads first (connect.ts: mirrorsFor's order, the longest prefix's
      // list); a blocked source that has mirrors is read there too, never at its registry.
      const first = mirrorsFor(map, name.registry, name.repo)[0];
      if (first) return put(originAt(first.registry, first.plainHttp ? [...insecure, first.registry] : insecure), n);
    }
    if (blockedBy(b, name.registry, name.repo)) return;
    put(originAt(name.registry, insecure), n);
  };
  for (const t of targets) add(t, command === 'push' ? 3 : 1);
  // A source with a mirror counts at its first mirror (its registry is contacted only where a target is in it).
  for (const s of sources) add(s, 1, true);
  // Docker Hub's and Aliyun's tokens come from another host, known in advance (knownTokenHost): the
  // first token GET (every request there needs one, anonymous pulls included) finds its connection
  // open rather than opening it after the 401. Registries that serve their realm from their own
  // host need nothing more.
  for (const o of [...wanted.values()]) {
    const tokenHost = o.port === 443 ? knownTokenHost(o.host) : undefined;
    if (tokenHost && !wanted.has(`${tokenHost}:443`) && !proxyFor(new URL(`https://${tokenHost}/`), proxy)) wanted.set(`${tokenHost}:443`, { host: tokenHost, port: 443, connections: 1, tls: true });
  }
  return [...wanted.values()];
}

/**
 * Opens the connections of earlyOrigins(); undefined when there are none to open. `onRead` gets the
 * project file when it was read (the binary hands it to the command, so the file is read once).
 */
export function connectEarly(argv: readonly string[], env: Record<string, string | undefined>, cwd: string, onRead?: (read: ProjectFileRead) => void): EarlySockets | undefined {
  let origins: EarlyOrigin[];
  try {
    let config: RegistryConfig | undefined;
    const read = (): RegistryConfig => (config ??= registryConfig(argv, env, cwd, onRead));
    origins = earlyOrigins(
      argv,
      env,
      () => read().mirrors,
      () => read().blocked,
      () => read().proxy,
    );
  } catch {
    return undefined; // a hint only: the command itself will say what is wrong with its arguments
  }
  if (origins.length === 0) return undefined;
  const early = new EarlySockets();
  for (const o of origins) early.open(o.host, o.port, o.connections, o.tls);
  return early;
}

/** What the command will read of the mirror configuration: its mirrors, registries.conf's blocked prefixes and the run's proxies ('unknown' each where it fails to read). */
interface RegistryConfig {
  mirrors: MirrorMap | 'unknown';
  blocked: BlockedPrefixes | 'unknown';
  proxy: ProxySettings | 'unknown';
}

/** The mirrors the command will use (mirrorMap), the prefixes registries.conf blocks and the run's proxies, the files read once. */
function registryConfig(argv: readonly string[], env: Record<string, string | undefined>, cwd: string, onRead?: (read: ProjectFileRead) => void): RegistryConfig {
  const flags = mirrorFlags(argv, cwd, onRead);
  try {
    const o = registryConfigOptions(flags === 'unknown' ? [] : flags, env, cwd, silentLogger);
    return { mirrors: flags === 'unknown' ? 'unknown' : o.mirrors, blocked: o.blocked, proxy: o.proxy };
  } catch {
    return { mirrors: 'unknown', blocked: 'unknown', proxy: 'unknown' };
  }
}

/**
 * The mirrors the command will use, read as it reads them; 'unknown' when that fails (it will say
 * why). A push without --registry-mirror takes the project file's "mirrors" (flags replace them).
 */
export function mirrorMap(argv: readonly string[], env: Record<string, string | undefined>, cwd: string, onRead?: (read: ProjectFileRead) => void): MirrorMap | 'unknown' {
  return registryConfig(argv, env, cwd, onRead).mirrors;
}

/** The --registry-mirror values the command will use (for a push without them, the project file's "mirrors"); 'unknown' when they do not read cleanly. */
function mirrorFlags(argv: readonly string[], cwd: string, onRead?: (read: ProjectFileRead) => void): string[] | 'unknown' {
  try {
    const flags = rawFlagValues(argv, 'registry-mirror');
    if (argv[0] === 'push' && flags.length === 0) {
      const configFile = rawFlagValues(argv, 'config-file');
      if (configFile.length > 1) return 'unknown';
      const found = findProjectFile(cwd, configFile[0]);
      onRead?.({ cwd, explicit: configFile[0], found });
      const data = found?.data;
      const mirrors = isObject(data) ? data.mirrors : undefined;
      if (mirrors !== undefined) flags.push(...mirrorsAsFlags(mirrors, () => new Error('malformed')));
    }
    mirrorsFromFlags(flags); // throws where the command will refuse them
    return flags;
  } catch {
    return 'unknown';
  }
}

/** The registry and repository a reference names; undefined when it does not parse. */
function nameOf(ref: string): { registry: string; repo: string } | undefined {
  try {
    const { registry, repository } = parseReference(ref);
    return { registry, repo: repository };
  } catch {
    return undefined;
  }
}

/** Host and port a registry's requests go to, and the URL the proxy choice is asked about. */
interface Origin {
  host: string;
  port: number;
  url: URL;
}

/** The origin of `registry` (a reference's, or a mirror's host[:port]) as its client reaches it, given the run's insecure (plain HTTP) entries. */
function originAt(registry: string, insecure: readonly string[]): Origin {
  // The insecure-TLS hosts (registries.conf's `insecure = true`, daemon.json) are left out on
  // purpose: the clients reach such a host by a probe (`auto`), which asks TLS first where it is
  // not loopback (scheme-probe.ts, probeTlsFirst), and that is this endpoint's https origin. Given
  // them, `auto` would read as plain HTTP below (port 80), the probe's fallback, not its first try.
  const ep = endpointFor(registry, insecure);
  // A loopback host without a scheme of its own is probed over plain HTTP first (registry/scheme-probe.ts).
  const url = new URL(`${ep.scheme === 'https' ? 'https' : 'http'}://${ep.host}/`);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port, url };
}
