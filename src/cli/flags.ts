/** Turning repeatable key=value flags into the library's config changes; each bad value is E_INPUT naming the flag. */
import { checkHealthcheckDuration, checkImagePath, checkStopSignal, checkUser, parseEnvFlag, parseLabelFlag, parsePortFlag, type ConfigChanges, type HealthcheckChange } from '../image/config.js';
import { UsageError } from '../errors.js';
import { parseDuration } from './duration.js';
import { defineFlags, type InferredArgs } from './flag-table.js';

/** A repeatable flag's values as an array (yargs gives a string for one, an array for several). */
export function many(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v : [v]).map(String);
}

/**
 * Exec-form list: one argument per flag; a single empty value means "clear"; a single value that
 * is a JSON array ('["dotnet","App.dll"]') is the whole list, as in a Dockerfile. A single value
 * with whitespace in it is almost always a command line meant to be split, which the runtime would
 * look up as one executable named with spaces: `warn` is told the two forms that work.
 */
export function execForm(v: unknown, flag = 'entrypoint', warn?: (msg: string) => void): string[] | undefined {
  const a = many(v);
  if (a === undefined) return undefined;
  if (a.length === 1 && a[0] === '') return [];
  if (a.length === 1 && a[0]!.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(a[0]!);
    } catch {
      throw new UsageError(`--${flag} ${JSON.stringify(a[0])}: starts with "[" but is not a JSON array of strings`);
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw new UsageError(`--${flag}: a JSON value must be an array of strings, e.g. ["node","server.js"]`);
    return parsed as string[];
  }
  if (a.length === 1 && /\s/.test(a[0]!.trim())) {
    const words = a[0]!.trim().split(/\s+/);
    warn?.(
      `--${flag} ${JSON.stringify(a[0])} is one argument containing spaces: the runtime will look for an executable named exactly that. ` +
        `For separate arguments repeat the flag (${words.map((w) => `--${flag} ${w}`).join(' ')}) or give a JSON array (--${flag} '${JSON.stringify(words)}'); ` +
        `for a shell command use --${flag}-shell`,
    );
  }
  return a;
}

/** `--entrypoint-shell CMD`: the Dockerfile shell form, whose shell each config decides (ConfigChanges.entrypointShell). */
export function shellForm(cmd: string, flag: string): string {
  if (cmd.trim() === '') throw new UsageError(`--${flag}: empty command`);
  return cmd;
}

/** The image config flags of `push` (help group "Config:"). */
export const configFlags = defineFlags({
  entrypoint: { type: 'string', repeatable: true, describe: 'Entrypoint, one argument per flag (exec form); "" clears', group: 'Config:', instead: 'to clear it give --entrypoint ""' },
  cmd: { type: 'string', repeatable: true, describe: 'Cmd, one argument per flag (exec form); "" clears', group: 'Config:', instead: 'to clear it give --cmd ""' },
  env: { type: 'string', repeatable: true, describe: 'KEY=VALUE; repeatable; replaces the same key; $NAME and ${NAME} expand as in a Dockerfile ENV (\\$ for a literal $)', group: 'Config:' },
  port: { type: 'string', repeatable: true, describe: 'Exposed port, 80 or 80/tcp or 53/udp; repeatable', group: 'Config:' },
  workdir: { type: 'string', once: true, describe: 'Working directory (absolute)', group: 'Config:' },
  volume: { type: 'string', repeatable: true, describe: 'Volume path; repeatable', group: 'Config:' },
  label: { type: 'string', repeatable: true, describe: 'KEY=VALUE label; repeatable', group: 'Config:' },
  user: { type: 'string', once: true, describe: 'USER or USER:GROUP to run as', group: 'Config:' },
  'entrypoint-shell': {
    type: 'string',
    once: true,
    describe: 'Entrypoint in shell form, run by the image\'s shell: ["/bin/sh","-c",CMD], ["cmd","/S","/C",CMD] on Windows, or the base\'s SHELL',
    group: 'Config:',
  },
  'cmd-shell': { type: 'string', once: true, describe: 'Cmd in shell form, run by the image\'s shell (as --entrypoint-shell)', group: 'Config:' },
  healthcheck: {
    type: 'string',
    once: true,
    describe: "Health check: a shell command (CMD-SHELL), a JSON array (exec form, CMD), or NONE to turn off the base's",
    group: 'Config:',
    instead: "to turn the base's check off give --healthcheck NONE",
  },
  'healthcheck-interval': { type: 'string', once: true, describe: 'Time between health checks, e.g. 30s', group: 'Config:' },
  'healthcheck-timeout': { type: 'string', once: true, describe: 'Time a health check may take, e.g. 5s', group: 'Config:' },
  'healthcheck-start-period': { type: 'string', once: true, describe: 'Start-up time during which failures do not count, e.g. 1m', group: 'Config:' },
  'healthcheck-retries': { type: 'number', once: true, describe: 'Consecutive failures before unhealthy', group: 'Config:' },
  'stop-signal': { type: 'string', once: true, describe: 'Signal that stops the container, e.g. SIGTERM, SIGQUIT or 15', group: 'Config:' },
});

/** The config flags as yargs delivers them. */
export type ConfigFlags = InferredArgs<typeof configFlags>;

/**
 * Validates the config flags and builds ConfigChanges. `windows`: the image may be a Windows one
 * (mayBeWindows of the push's platform), whose paths may be `C:\app` and whose user names may hold
 * spaces; the push checks each config against its own OS again once the base is read.
 */
export function configChangesFromFlags(f: ConfigFlags, warn?: (msg: string) => void, windows = false): ConfigChanges {
  const out: ConfigChanges = {};
  if (f['entrypoint-shell'] !== undefined && f.entrypoint !== undefined) throw new UsageError('give --entrypoint or --entrypoint-shell, not both');
  if (f['cmd-shell'] !== undefined && f.cmd !== undefined) throw new UsageError('give --cmd or --cmd-shell, not both');
  if (f['entrypoint-shell'] !== undefined) out.entrypointShell = shellForm(f['entrypoint-shell'], 'entrypoint-shell');
  else {
    const entrypoint = execForm(f.entrypoint, 'entrypoint', warn);
    if (entrypoint) out.entrypoint = entrypoint;
  }
  if (f['cmd-shell'] !== undefined) out.cmdShell = shellForm(f['cmd-shell'], 'cmd-shell');
  else {
    const cmd = execForm(f.cmd, 'cmd', warn);
    if (cmd) out.cmd = cmd;
  }
  const hc = healthcheckFromFlags(f);
  if (hc) out.healthcheck = hc;
  if (f['stop-signal'] !== undefined) out.stopSignal = checkStopSignal(f['stop-signal'], '--stop-signal');
  const env = many(f.env);
  if (env) out.env = env.map((e) => parseEnvFlag(e).join('='));
  const ports = many(f.port);
  if (ports) out.ports = ports.map((p) => parsePortFlag(p));
  if (f.workdir !== undefined) out.workdir = checkImagePath(f.workdir, '--workdir', windows);
  const vols = many(f.volume);
  if (vols) out.volumes = vols.map((v) => checkImagePath(v, '--volume', windows));
  const labels = many(f.label);
  if (labels) out.labels = Object.fromEntries(labels.map((l) => parseLabelFlag(l)));
  if (f.user !== undefined) out.user = checkUser(f.user, '--user', windows);
  return out;
}

/** --healthcheck and its timing flags → the config's Healthcheck (timing flags alone are refused: they need a check). */
function healthcheckFromFlags(f: ConfigFlags): HealthcheckChange | undefined {
  const timing = { interval: f['healthcheck-interval'], timeout: f['healthcheck-timeout'], startPeriod: f['healthcheck-start-period'] };
  const anyTiming = Object.values(timing).some((v) => v !== undefined) || f['healthcheck-retries'] !== undefined;
  if (f.healthcheck === undefined) {
    if (anyTiming) {
      // Name the flags given, not the whole family: a CI script's line should say what to fix.
      const flags = ['healthcheck-interval', 'healthcheck-timeout', 'healthcheck-start-period', 'healthcheck-retries'] as const;
      const given = flags.filter((k) => f[k] !== undefined).map((k) => `--${k}`);
      throw new UsageError(`${given.join(', ')} ${given.length > 1 ? 'need' : 'needs'} --healthcheck: ${given.length > 1 ? 'they time' : 'it times'} the check it gives`);
    }
    return undefined;
  }
  const v = f.healthcheck.trim();
  let test: string[];
  if (v === '') throw new UsageError('--healthcheck: empty command (NONE turns the base\'s check off)');
  if (v.toUpperCase() === 'NONE') {
    if (anyTiming) throw new UsageError('--healthcheck NONE takes no timing flags');
    return { test: ['NONE'] };
  }
  if (v.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      throw new UsageError(`--healthcheck ${JSON.stringify(v)}: starts with "[" but is not a JSON array of strings`);
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((x) => typeof x === 'string')) throw new UsageError('--healthcheck: a JSON value must be a non-empty array of strings');
    const words = parsed as string[];
    // The form `docker inspect` prints and Compose's healthcheck.test takes, ["CMD", …] or
    // ["CMD-SHELL", "…"], is taken as it is: a second CMD in front would make the check run a
    // program named "CMD", and every container would be unhealthy.
    if (words[0] === 'CMD' || words[0] === 'CMD-SHELL' || words[0] === 'NONE') {
      if (words[0] === 'NONE') throw new UsageError('--healthcheck: write NONE, not ["NONE"]');
      if (words[0] === 'CMD-SHELL' && words.length !== 2) throw new UsageError('--healthcheck: ["CMD-SHELL", …] takes exactly one command string');
      if (words.length < 2) throw new UsageError('--healthcheck: ["CMD"] needs a command');
      test = [...words];
    } else test = ['CMD', ...words];
  } else test = ['CMD-SHELL', f.healthcheck];
  const out: HealthcheckChange = { test };
  // Each checked here, named as the flag with the value as written (config.ts would name the library's option, in ns).
  const duration = (v: string, flag: string): number => {
    const ns = parseDuration(v, `--${flag}`);
    checkHealthcheckDuration(ns, `--${flag}`, v);
    return ns;
  };
  if (timing.interval !== undefined) out.interval = duration(timing.interval, 'healthcheck-interval');
  if (timing.timeout !== undefined) out.timeout = duration(timing.timeout, 'healthcheck-timeout');
  if (timing.startPeriod !== undefined) out.startPeriod = duration(timing.startPeriod, 'healthcheck-start-period');
  if (f['healthcheck-retries'] !== undefined) {
    const r = f['healthcheck-retries'];
    if (!Number.isInteger(r) || r < 0) throw new UsageError(`--healthcheck-retries must be a whole number ≥ 0 (got ${r})`);
    out.retries = r;
  }
  return out;
}

/** Parses --chown "uid:gid". */
export function parseChown(v: string | undefined): { uid: number; gid: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{1,10}):(\d{1,10})$/.exec(v);
  if (!m) throw new UsageError(`--chown must be UID:GID in numbers (got "${v}")`);
  return { uid: Number(m[1]), gid: Number(m[2]) };
}
