/**
 * Image config rewriting: the user's --entrypoint/--cmd/--env/… flags applied to a base config,
 * plus the bookkeeping for the new layer (rootfs.diff_ids, history, created). Pure functions on
 * copies; fields regpush does not know are carried over untouched.
 */
import { errorForCode, ProtocolError, RegpushError, UsageError } from '../errors.js';
import { assertDigest } from './digest.js';
import { expandEnvValue } from './env-expand.js';
import type { ContainerConfig, HistoryEntry, ImageConfig, Platform } from './types.js';
import type { ConfigChanges, HealthcheckChange } from './config-changes.js';

export type { ConfigChanges, HealthcheckChange } from './config-changes.js';

/** An image config read from a registry: a JSON object, else ProtocolError naming `what` ("config sha256:… of reg/repo"). */
export function parseConfig(bytes: Buffer, what: string): ImageConfig {
  let config: unknown;
  try {
    config = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ProtocolError(`${what} is not valid JSON`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new ProtocolError(`${what} is not a JSON object`);
  return config as ImageConfig;
}

/**
 * ProtocolError unless the config's rootfs.diff_ids pair one to one with the manifest's `layers`
 * layers: a runtime unpacks layer i and checks it against diff_ids[i], so a base where the counts
 * differ does not run, and neither would any image built on it (our diffIDs would pair with the
 * wrong layers). `what` names the config ("config sha256:… of reg/repo").
 */
export function checkDiffIds(config: ImageConfig, layers: number, what: string): void {
  const ids = config.rootfs?.diff_ids;
  const n = Array.isArray(ids) ? ids.length : 0;
  if (n !== layers) {
    throw new ProtocolError(
      `${what} lists ${n} diff_id${n === 1 ? '' : 's'} (rootfs.diff_ids) but its manifest has ${layers} layer${layers === 1 ? '' : 's'}: ` +
        'a broken image, which no image can be built on',
    );
  }
}

/** The platform a config describes (linux/amd64 where it says nothing, as Docker assumes). */
export function configPlatform(config: ImageConfig): Platform {
  const platform: Platform = { os: config.os ?? 'linux', architecture: config.architecture ?? 'amd64' };
  if (config.variant) platform.variant = config.variant;
  // --platform os(osversion)/arch matches a single image by its config's OS version.
  if (config['os.version']) platform['os.version'] = config['os.version'];
  return platform;
}

/** The new layer's facts, as recorded in the config. */
export interface LayerRecord {
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** RFC 3339 timestamp; also becomes the config's `created`. */
  created: string;
  /** What regpush did, shown by `docker history`. */
  createdBy: string;
  comment?: string;
}

/** History facts for a config-only change (no layer): timestamp and description of the empty_layer entry. */
export interface HistoryRecord {
  created: string;
  createdBy: string;
  comment?: string;
}

/**
 * Splits "K=V" at the first "="; the value may be empty or contain "=". UsageError on "", "=V", no
 * "=" or a malformed `${…}` in V. No message quotes the text: a value may be a token, and an
 * argument without "=" is most often a value given alone (`--env "$TOKEN"`). `what` names the
 * entry in messages: the CLI's `--env` (default), or a library option path (`config.env[2]`).
 */
export function parseEnvFlag(s: string, what?: string): [string, string] {
  const eq = s.indexOf('=');
  if (eq < 0) {
    throw new UsageError(
      `invalid ${what ?? '--env'}: expected KEY=VALUE, and the ${s.length}-character ${what ? 'entry' : 'argument'} has no "=" ` +
        '(its text is not shown: values may hold tokens)',
    );
  }
  if (eq === 0) throw new UsageError(`invalid ${what ?? '--env'}: the variable name is empty (nothing before "=")`);
  const [key, value] = [s.slice(0, eq), s.slice(eq + 1)];
  // A malformed ${…} does not depend on the base's Env: refused here, with the flags, rather than
  // once the base has been read and the configs are composed.
  expandEnvValue(key, value, () => undefined, what && `${what} (${key})`);
  return [key, value];
}

/**
 * The most ports one range may expose. Docker's `EXPOSE 1-65535` writes 65,535 keys (a 1.3 MB
 * config that every pull reads); a range that wide is a mistake, not a service's ports.
 */
const MAX_PORT_RANGE = 1024;

/**
 * Normalises "80", "80/tcp", "53/UDP", "132/sctp" to "<port>/<proto>", and a range "8000-8002"
 * (as Dockerfile's `EXPOSE` takes it) to "8000-8002/tcp"; UsageError on port 0, >65535, a range
 * that runs backwards or is wider than MAX_PORT_RANGE, or another protocol. `what` names the
 * entry: the CLI's `--port`, or `config.ports[1]`. expandPorts gives a range's ports.
 */
export function parsePortFlag(s: string, what = '--port'): string {
  const m = /^(\d+)(?:-(\d+))?(?:\/([A-Za-z]+))?$/.exec(s.trim());
  if (!m) throw new UsageError(`invalid ${what} ${JSON.stringify(s)}: expected PORT[-PORT][/tcp|/udp|/sctp], e.g. 80, 53/udp or 8000-8010`);
  const [first, last] = [Number(m[1]), m[2] === undefined ? undefined : Number(m[2])];
  for (const port of [first, last]) {
    if (port !== undefined && (port < 1 || port > 65535)) throw new UsageError(`invalid ${what} ${JSON.stringify(s)}: port must be 1-65535`);
  }
  if (last !== undefined && last < first) throw new UsageError(`invalid ${what} ${JSON.stringify(s)}: the range ends before it starts`);
  if (last !== undefined && last - first + 1 > MAX_PORT_RANGE) {
    throw new UsageError(`invalid ${what} ${JSON.stringify(s)}: a range exposes at most ${MAX_PORT_RANGE} ports (this one ${last - first + 1})`);
  }
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') {
    throw new UsageError(`invalid ${what} ${JSON.stringify(s)}: protocol must be tcp, udp or sctp`);
  }
  return last === undefined || last === first ? `${first}/${proto}` : `${first}-${last}/${proto}`;
}

/** The config's ExposedPorts keys of what parsePortFlag returned: one per port of a range. */
function expandPorts(spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?\/(\w+)$/.exec(spec);
  if (!m) return [spec];
  const [first, last] = [Number(m[1]), Number(m[2] ?? m[1])];
  return Array.from({ length: last - first + 1 }, (_, i) => `${first + i}/${m[3]}`);
}

/** Splits "K=V" at the first "="; the value may be empty. UsageError on a missing key or "=", or a key that is not one line. */
export function parseLabelFlag(s: string): [string, string] {
  const eq = s.indexOf('=');
  if (eq < 0) throw new UsageError(`invalid --label ${JSON.stringify(s)}: expected KEY=VALUE`);
  if (eq === 0) throw new UsageError(`invalid --label ${JSON.stringify(s)}: the label key is empty`);
  checkLabelKey(s.slice(0, eq));
  return [s.slice(0, eq), s.slice(eq + 1)];
}

/** Line breaks and other control characters: a value may hold them (multi-line labels exist), a key may not. */
const NOT_ONE_LINE = /[\u0000-\u001f\u007f\u2028\u2029]/;

/**
 * A label key is one line of printable text: every tool that lists labels (`docker inspect`,
 * registries' UIs, `KEY=VALUE` dumps) shows one key per line, and a newline in a key would let a
 * label pass for two. `what`: the CLI's `--label`, or `config.labels`.
 */
function checkLabelKey(key: string, what = '--label'): void {
  if (key === '') throw new UsageError(`invalid ${what}: the label key is empty`);
  if (NOT_ONE_LINE.test(key)) throw new UsageError(`invalid ${what} key ${JSON.stringify(key)}: a key must be one line without control characters`);
}

/**
 * The PATH a non-Windows image gets when its base's Env has none: BuildKit's Dockerfile frontend
 * (dockerfile2llb, "make sure that PATH is always set") appends `PATH=` + system.DefaultPathEnv to
 * every non-Windows stage whose Env lacks it, before any ENV instruction is expanded, so that
 * `FROM scratch` + `ENV PATH=/app/bin:$PATH` keeps /usr/bin. A Windows stage is left to its OS
 * (moby/buildkit#5895).
 */
export const DEFAULT_UNIX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The key of an Env entry: what is before its first "=", the whole entry without one. */
function envKey(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/**
 * Env entries with the same key replaced in place and new keys appended, in order, each value's
 * `$NAME` expanded against the entries before it (env-expand.ts). `anyCase`: keys
 * are compared case-insensitively, as Windows does (and Docker's ENV in a Windows image): `PATH`
 * replaces the base's `Path`, where a second entry would leave the container with either.
 */
function mergeEnv(base: readonly string[], changes: readonly string[], anyCase: boolean, onUnset?: UnsetEnvHandler): string[] {
  const out = [...base];
  const norm = (k: string) => (anyCase ? k.toUpperCase() : k);
  const keyOf = (e: string) => norm(envKey(e));
  const lookup = (name: string): string | undefined => {
    const e = out.find((x) => keyOf(x) === norm(name));
    return e?.includes('=') ? e.slice(e.indexOf('=') + 1) : undefined;
  };
  for (const [n, change] of changes.entries()) {
    const [rawKey, rawValue] = parseEnvFlag(change, `config.env[${n}]`);
    const entry = `${rawKey}=${expandEnvValue(rawKey, rawValue, lookup, `config.env[${n}] (${rawKey})`, onUnset && ((offset) => onUnset(rawKey, offset, n)))}`;
    const key = norm(rawKey);
    const i = out.findIndex((e) => keyOf(e) === key);
    if (i >= 0) out[i] = entry;
    else out.push(entry);
  }
  return out;
}

/** Told of each `$NAME` in an env change whose NAME is unset (env-expand.ts): the entry's key, the offset of the `$` in its value, and the entry's place in the changes. */
export type UnsetEnvHandler = (key: string, offset: number, index: number) => void;

/**
 * The Env `config` gets with the `changes` applied, as applyConfigChanges makes it: a non-Windows
 * image without PATH gets BuildKit's first, keys compare case-insensitively in a Windows image.
 */
function envWithChanges(config: ImageConfig, changes: readonly string[] | undefined, onUnset?: UnsetEnvHandler): string[] | null | undefined {
  const windows = config.os?.toLowerCase() === 'windows';
  let env = config.config?.Env;
  // As BuildKit does for each stage (DEFAULT_UNIX_PATH): Linux keys compare case-sensitively, so
  // a `Path` entry does not count; an entry "PATH" without "=" does (BuildKit's shell.BuildEnvs).
  if (!windows && !(env ?? []).some((e) => envKey(e) === 'PATH')) env = [...(env ?? []), `PATH=${DEFAULT_UNIX_PATH}`];
  return changes === undefined ? env : mergeEnv(env ?? [], changes, windows, onUnset);
}

/**
 * Each `$NAME` of `changes` that finds NAME unset once applied to `config` (it became empty), by
 * the entry's key, its `$`'s offset and the entry's index: push warns about them once the base's
 * Env is known.
 */
export function unsetEnvReferences(config: ImageConfig, changes: readonly string[]): { key: string; offset: number; index: number }[] {
  const found: { key: string; offset: number; index: number }[] = [];
  envWithChanges(config, changes, (key, offset, index) => found.push({ key, offset, index }));
  return found;
}

/** A volume path (`what`: `config.volumes[0]`) is not empty; UsageError otherwise. Returns it. */
function checkVolume(v: string, what: string): string {
  if (v === '') throw new UsageError(`invalid ${what} "": the path is empty`);
  return v;
}

/** The error for a value refused: E_USAGE for a flag or a library option, E_INPUT for a file's entry. */
export type Refuse = (message: string) => Error;
const usage: Refuse = (message) => new UsageError(message);

/** An absolute path in a Windows image: `C:\app`, `C:/app`, or rooted on the current drive (`\app`, `/app`). */
export const WINDOWS_ABSOLUTE = /^(?:[A-Za-z]:)?[\\/]/;

/**
 * A workdir or volume path (`what` names it: "--workdir", "config.volumes") is absolute: a relative
 * one has nothing to be relative to in a container. `windows`: the image may be a Windows one, whose
 * paths may also be `C:\app` (Docker writes them so); else only `/…` is absolute. `refuse`'s error
 * otherwise (a UsageError unless the caller says the value came from a file).
 */
export function checkImagePath(v: string, what: string, windows = false, refuse: Refuse = usage): string {
  if (!(windows ? WINDOWS_ABSOLUTE.test(v) : v.startsWith('/'))) throw refuse(`${what} must be an absolute path${windows ? ' (/app or C:\\app)' : ''} (got "${v}")`);
  return v;
}

/** A Linux user or group name or id: no spaces. */
const LINUX_USER = /^[^:\s]+(:[^:\s]+)?$/;
/** A Windows account may hold spaces inside its name (`NT AUTHORITY\\NETWORK SERVICE`), not at its ends. */
const WINDOWS_USER = /^[^:\s](?:[^:]*[^:\s])?(?::[^:\s](?:[^:]*[^:\s])?)?$/;

/**
 * USER or USER:GROUP, names or ids (`what`: "--user", "config.user"); no spaces, except inside a
 * name where the image may be a Windows one (`windows`). `refuse`'s error otherwise (UsageError by default).
 */
export function checkUser(v: string, what: string, windows = false, refuse: Refuse = usage): string {
  if (!(windows ? WINDOWS_USER : LINUX_USER).test(v)) throw refuse(`${what} must be USER or USER:GROUP${windows ? '' : ', without spaces'} (got "${v}")`);
  return v;
}

/** Linux signal names without SIG, as Docker's signal.ParseSignal knows them (moby/sys/signal, SignalMap for Linux). */
const SIGNAL_NAMES: ReadonlySet<string> = new Set(
  (
    'ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL PIPE POLL PROF PWR QUIT SEGV STKFLT STOP SYS TERM TRAP TSTP TTIN TTOU ' +
    'URG USR1 USR2 VTALRM WINCH XCPU XFSZ RTMIN RTMAX'
  ).split(' '),
);

/**
 * A stop signal as `docker build` takes STOPSIGNAL: a name in any case, with or without SIG
 * (SIGTERM, term, RTMIN+3, RTMAX-2), or a number from 1 to 64; stored as written, surrounding
 * spaces dropped. UsageError for anything Docker would refuse at build time (SIGTERN, 99).
 */
export function checkStopSignal(v: string, what: string): string {
  const sig = v.trim();
  const name = sig.toUpperCase().replace(/^SIG/, '');
  const number = /^\d{1,2}$/.test(sig) && Number(sig) >= 1 && Number(sig) <= 64;
  const known = SIGNAL_NAMES.has(name) || /^RTMIN\+(?:[1-9]|1[0-5])$/.test(name) || /^RTMAX-(?:[1-9]|1[0-4])$/.test(name);
  if (!number && !known) throw new UsageError(`${what} must be a signal name (SIGTERM, TERM) or number from 1 to 64 (got ${JSON.stringify(v)})`);
  return sig;
}

/**
 * Every check applyConfigChanges makes on `changes`, none of which depends on the base config,
 * and the CLI's checks on its --workdir, --volume, --user and --stop-signal flags: push() runs it
 * before its first request, so a library caller's bad value fails as the CLI's flag does, with
 * nothing sent to any registry (applyConfigChanges would find it only once the base had been
 * read). `windows`: the image built may be a Windows one (its paths may be `C:\app`).
 */
export function checkConfigChanges(changes: ConfigChanges, windows = false): void {
  if (changes.entrypointShell !== undefined && changes.entrypoint !== undefined) throw new UsageError('config: give entrypoint or entrypointShell, not both');
  if (changes.cmdShell !== undefined && changes.cmd !== undefined) throw new UsageError('config: give cmd or cmdShell, not both');
  for (const [key, v] of [['entrypointShell', changes.entrypointShell], ['cmdShell', changes.cmdShell]] as const) {
    if (v !== undefined && v.trim() === '') throw new UsageError(`config.${key}: empty command`);
  }
  for (const [i, e] of (changes.env ?? []).entries()) parseEnvFlag(e, `config.env[${i}]`);
  for (const [i, p] of (changes.ports ?? []).entries()) parsePortFlag(p, `config.ports[${i}]`);
  for (const [i, v] of (changes.volumes ?? []).entries()) checkImagePath(checkVolume(v, `config.volumes[${i}]`), `config.volumes[${i}]`, windows);
  if (changes.workdir !== undefined) checkImagePath(changes.workdir, 'config.workdir', windows);
  for (const k of Object.keys(changes.labels ?? {})) checkLabelKey(k, 'config.labels');
  if (changes.healthcheck !== undefined) healthcheckConfig(changes.healthcheck);
  if (changes.user !== undefined) checkUser(changes.user, 'config.user', windows);
  if (changes.stopSignal !== undefined) checkStopSignal(changes.stopSignal, 'config.stopSignal');
}

/**
 * `run` (checkConfigChanges, or composing a config with applyConfigChanges), its errors about the
 * config changes led by library operation `op`: `push(): config.workdir must be …`, as push()'s
 * other option messages are (`push(): to must be a string`). Without `op` (the CLI) the messages
 * stay as they are: checkConfigChanges's name option paths, since the CLI checks its flags first;
 * applyConfigChanges names what its caller's `name` says (push's `--workdir` for a Windows path
 * that a Linux image of `--platform all` refuses once the base is read).
 */
export function ledByOp<T>(op: string | undefined, run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (op === undefined || !(e instanceof RegpushError) || e.message.startsWith(`${op}: `)) throw e;
    throw errorForCode(e.code, `${op}: ${e.message}`, { details: { ...e.details }, cause: e.cause });
  }
}

/**
 * The shell a shell-form command runs in, as a Dockerfile builds it: the config's `Shell` (which a
 * base's SHELL instruction sets, e.g. PowerShell in many Windows images), else Docker's default
 * for the OS: `cmd /S /C` on Windows (nanoserver and servercore have no /bin/sh), `/bin/sh -c`.
 */
function shellOf(cc: ContainerConfig, windows: boolean): string[] {
  const shell = cc.Shell;
  if (Array.isArray(shell) && shell.length > 0 && shell.every((x) => typeof x === 'string')) return shell as string[];
  return windows ? ['cmd', '/S', '/C'] : ['/bin/sh', '-c'];
}

/** True when the changes touch anything at all. */
function hasChanges(c: ConfigChanges): boolean {
  return Object.values(c).some((v) => v !== undefined);
}

/**
 * Applies `changes` to a copy of `config` and records the new layer (diff_id, history entry,
 * `created`). Docker semantics: setting the entrypoint without a cmd resets Cmd to null, and []
 * clears; a non-Windows config whose Env has no PATH gets BuildKit's default (DEFAULT_UNIX_PATH). With no layer, a config-only change gets an empty_layer history entry (from `history`
 * when given). History is left alone when the base has layers but no history, or a history that
 * does not count them, so the count of non-empty history entries keeps matching diff_ids.
 * `name`: what the messages call an option path (`config.workdir`), as the caller gave it
 * (OptionNames.name: `--workdir`, `regpush.json workdir`); by default the path itself. `refuse`: the
 * error for the option at a path, where the config's OS refuses it (a Windows path or user given for
 * every platform, met by a Linux image): E_INPUT where regpush.json gave it; E_USAGE by default.
 */
export function applyConfigChanges(
  config: ImageConfig,
  changes: ConfigChanges,
  layer: LayerRecord | readonly LayerRecord[] | undefined,
  history?: HistoryRecord,
  name: (path: string) => string = (p) => p,
  refuse: (path: string) => Refuse = () => usage,
): ImageConfig {
  const added: readonly LayerRecord[] = layer === undefined ? [] : Array.isArray(layer) ? layer : [layer as LayerRecord];
  const out = structuredClone(config);
  const cc: ContainerConfig = out.config ?? {};
  out.config = cc;
  // The base's ONBUILD triggers were for a build that starts FROM it: this image is that build,
  // and regpush runs none of them; `docker build` clears them once it has (push warns).
  if (cc.OnBuild !== undefined) cc.OnBuild = null;
  // Env keys compare case-insensitively in a Windows image, and its paths may be `C:\app`. The
  // paths' form is checked against this config's OS: push({ platform: 'all' }) lets a Windows path
  // through checkConfigChanges, and a Linux image of a mixed index must not get it.
  const windows = out.os?.toLowerCase() === 'windows';

  const entrypoint = changes.entrypointShell !== undefined ? [...shellOf(cc, windows), changes.entrypointShell] : changes.entrypoint;
  const cmd = changes.cmdShell !== undefined ? [...shellOf(cc, windows), changes.cmdShell] : changes.cmd;
  if (entrypoint !== undefined) {
    cc.Entrypoint = entrypoint.length ? [...entrypoint] : null;
    // As in a Dockerfile: a new ENTRYPOINT makes the base's CMD (its arguments) meaningless.
    if (cmd === undefined) cc.Cmd = null;
  }
  if (cmd !== undefined) cc.Cmd = cmd.length ? [...cmd] : null;
  const env = envWithChanges(out, changes.env);
  if (env !== cc.Env) cc.Env = env; // the same array when there was nothing to add
  if (changes.ports !== undefined) {
    const ports: Record<string, object> = { ...(cc.ExposedPorts ?? {}) };
    for (const [i, p] of changes.ports.entries()) for (const one of expandPorts(parsePortFlag(p, name(`config.ports[${i}]`)))) ports[one] = {};
    cc.ExposedPorts = ports;
  }
  if (changes.workdir !== undefined) cc.WorkingDir = checkImagePath(changes.workdir, name('config.workdir'), windows, refuse('config.workdir'));
  if (changes.volumes !== undefined) {
    const volumes: Record<string, object> = { ...(cc.Volumes ?? {}) };
    for (const [i, v] of changes.volumes.entries()) {
      const path = `config.volumes[${i}]`;
      volumes[checkImagePath(checkVolume(v, name(path)), name(path), windows, refuse(path))] = {};
    }
    cc.Volumes = volumes;
  }
  if (changes.labels !== undefined) {
    for (const k of Object.keys(changes.labels)) checkLabelKey(k, name('config.labels'));
    cc.Labels = { ...(cc.Labels ?? {}), ...changes.labels };
  }
  if (changes.user !== undefined) cc.User = checkUser(changes.user, name('config.user'), windows, refuse('config.user'));
  if (changes.healthcheck !== undefined) cc.Healthcheck = healthcheckConfig(changes.healthcheck, name);
  if (changes.stopSignal !== undefined) cc.StopSignal = checkStopSignal(changes.stopSignal, name('config.stopSignal'));

  if (!out.rootfs || !Array.isArray(out.rootfs.diff_ids)) out.rootfs = { ...(out.rootfs ?? {}), type: 'layers', diff_ids: [] };
  const baseLayers = out.rootfs.diff_ids.length;
  // Appended to only where it lines up with the layers: a history whose non-empty entries do not
  // count the base's layers (a base with `history: []` and layers, from some builders) would, with
  // ours added, no longer match diff_ids, which some tools refuse; such a history is left as it is.
  const keepHistory = Array.isArray(out.history) ? out.history.filter((h) => !h.empty_layer).length === baseLayers : baseLayers === 0;
  const addHistory = (entry: HistoryEntry) => {
    if (keepHistory) out.history = [...(out.history ?? []), entry];
  };

  if (added.length > 0) {
    for (const l of added) {
      assertDigest(l.diffId, 'new layer diff_id');
      out.rootfs.diff_ids.push(l.diffId);
      addHistory({ created: l.created, created_by: l.createdBy, ...(l.comment ? { comment: l.comment } : {}) });
      out.created = l.created;
    }
  } else if (hasChanges(changes)) {
    const entry: HistoryEntry = {};
    if (history?.created) entry.created = history.created;
    entry.created_by = history?.createdBy ?? 'regpush: config change';
    if (history?.comment) entry.comment = history.comment;
    entry.empty_layer = true;
    addHistory(entry);
    if (history?.created) out.created = history.created;
  }
  return out;
}

/**
 * A health check's duration (nanoseconds) against Docker's rules; `name` is the flag or option and
 * `given` the value as written there (`--healthcheck-interval` 500us, `config.healthcheck.interval` 500000 ns).
 */
export function checkHealthcheckDuration(ns: number, name: string, given: string): void {
  if (!Number.isSafeInteger(ns) || ns < 0) throw new UsageError(`${name} must be a non-negative duration (got ${given})`);
  // Docker's minimum: a shorter one (the daemon does not check an image's again) runs the probe back to back.
  if (ns > 0 && ns < 1e6) throw new UsageError(`${name} must be 0 or at least 1ms (got ${given})`);
}

/**
 * Docker's Healthcheck object: Test always, the other fields only when set (Docker omits zero values).
 * Its messages name the option (`config.healthcheck.test`, through `name` as the caller calls it):
 * the CLI builds `h` from its --healthcheck flags, checked and named there (cli/flags.ts), so only a
 * library caller's reach these checks unchecked, and a bare "healthcheck" named none of its options.
 */
function healthcheckConfig(h: HealthcheckChange, name: (path: string) => string = (p) => p): Record<string, unknown> {
  const test = name('config.healthcheck.test');
  const kind = h.test[0];
  if (kind !== 'NONE' && kind !== 'CMD' && kind !== 'CMD-SHELL') throw new UsageError(`${test} must start with NONE, CMD or CMD-SHELL (got ${JSON.stringify(kind)})`);
  if (kind !== 'NONE' && h.test.length < 2) throw new UsageError(`${test}: ${kind} needs a command`);
  // Docker refuses these forms (its Dockerfile parser and daemon): a runtime would too, or worse, run them.
  if (kind === 'NONE' && h.test.length > 1) throw new UsageError(`${test}: NONE takes no command`);
  const timing = (['interval', 'timeout', 'startPeriod', 'retries'] as const).find((k) => h[k]);
  if (kind === 'NONE' && timing) throw new UsageError(`${name(`config.healthcheck.${timing}`)}: a healthcheck test of NONE takes no timing`);
  if (kind === 'CMD-SHELL' && h.test.length !== 2) throw new UsageError(`${test}: CMD-SHELL takes exactly one command string (got ${h.test.length - 1})`);
  const out: Record<string, unknown> = { Test: [...h.test] };
  // Named as the library's option (the CLI checks its flags' values, as written, in cli/flags.ts).
  const dur = (key: string, v: number | undefined, field: string): void => {
    if (v === undefined) return;
    checkHealthcheckDuration(v, name(`config.healthcheck.${key}`), `${v} ns`);
    if (v > 0) out[field] = v;
  };
  dur('interval', h.interval, 'Interval');
  dur('timeout', h.timeout, 'Timeout');
  dur('startPeriod', h.startPeriod, 'StartPeriod');
  if (h.retries !== undefined) {
    if (!Number.isInteger(h.retries) || h.retries < 0) throw new UsageError(`${name('config.healthcheck.retries')} must be a whole number ≥ 0 (got ${h.retries})`);
    if (h.retries > 0) out.Retries = h.retries;
  }
  return out;
}

/** The exact bytes to hash and upload: compact JSON, keys in their existing order. */
export function serializeConfig(config: ImageConfig): Buffer {
  return Buffer.from(JSON.stringify(config), 'utf8');
}

/** A minimal config for `--from scratch`: the platform, no layers, empty run-time config and history. */
export function scratchConfig(platform: Platform): ImageConfig {
  return {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    ...(platform['os.version'] ? { 'os.version': platform['os.version'] } : {}),
    ...(platform['os.features']?.length ? { 'os.features': [...platform['os.features']] } : {}),
    rootfs: { type: 'layers', diff_ids: [] },
    config: {},
    history: [],
  };
}
