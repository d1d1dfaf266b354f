// What the bench runs. Each scenario builds one command line for one run and checks its outcome
// (a run that did not do what the row claims — a "cold" push that skipped blobs, a same-registry
// push that streamed — is marked invalid instead of being counted).
//
// Registries (see env.mjs): SRC = `token` (token auth; holds bench/base:1), COLD = `anon2` (wiped
// before every cold run, so it holds no blob at all), WARM = `anon` (holds the warm targets).

import { rmSync } from 'node:fs';
import { join } from 'node:path';

/** `--app` etc. shared by every regpush push, like the README's aspnet example. */
const PUSH_CONFIG = (app) => ['--app', `${app}:/app`, '--workdir', '/app', '--entrypoint', 'dotnet', '--entrypoint', 'App.dll', '--env', 'ASPNETCORE_URLS=http://+:80', '--port', '80'];

/** Environment of every regpush run: credentials via env, an empty docker config, no colour. */
export function regpushEnv(ctx, { toSrc = false } = {}) {
  const env = {
    ...process.env,
    DOCKER_CONFIG: ctx.dockerConfig,
    NO_COLOR: '1',
    REGPUSH_FROM_USER: ctx.src.user,
    REGPUSH_FROM_PASSWORD: ctx.src.password,
  };
  // The WAN rows' registries stand for remote ones, which are never probed for their scheme.
  if (ctx.plainHttp?.length) env.REGPUSH_INSECURE_REGISTRIES = ctx.plainHttp.join(',');
  if (toSrc) Object.assign(env, { REGPUSH_TO_USER: ctx.src.user, REGPUSH_TO_PASSWORD: ctx.src.password });
  else { delete env.REGPUSH_TO_USER; delete env.REGPUSH_TO_PASSWORD; }
  return env;
}

/**
 * Environment of every skopeo run: its blob-info cache in the bench's temp dir instead of the
 * machine's. containers/image keeps a persistent cache of where each blob was seen
 * (`blob-info-cache-v1.boltdb`); across rounds it remembers locations in repositories that a
 * wipe has since removed, and skopeo HEADs them again each round: extra requests no fresh CI job
 * pays, and the machine's own cache grows with the bench's throwaway repositories. The cache's
 * directory is `$XDG_DATA_HOME/containers/cache` for a non-root user, but a fixed
 * `/var/lib/containers/cache` for root (skopeo has no flag for it); containers/image decides
 * "root" by `_CONTAINERS_ROOTLESS_UID` when set (the variable Podman sets in its user namespace)
 * before `geteuid()`, so as root a non-zero value there sends the cache to `XDG_DATA_HOME` too.
 * That variable changes nothing else on skopeo's copy path (its auth-file lookup uses getuid()).
 * `clearSkopeoCache` empties the directory before each run, outside the measured command.
 */
export function skopeoEnv(ctx, euid = process.geteuid?.() ?? -1) {
  const env = { ...process.env, XDG_DATA_HOME: skopeoDataDir(ctx) };
  if (euid === 0) env._CONTAINERS_ROOTLESS_UID = '65534';
  else delete env._CONTAINERS_ROOTLESS_UID;
  return env;
}

/** Where skopeoEnv puts skopeo's data (its blob-info cache), under the bench's temp dir. */
export const skopeoDataDir = (ctx) => join(ctx.tmp, 'skopeo-data');

/** Empties skopeo's cache directory: each skopeo run starts with an empty cache (see skopeoEnv). */
export function clearSkopeoCache(ctx) {
  rmSync(skopeoDataDir(ctx), { recursive: true, force: true });
}

function parseJson(s) {
  try { return JSON.parse(s); } catch { return undefined; }
}

/** Checks a push --json report; returns undefined when fine, else why the run does not count. */
function checkPush(r, want) {
  const rep = parseJson(r.stdout);
  if (!rep) return 'no JSON report on stdout';
  const blobs = rep.blobs ?? [];
  const wrong = blobs.filter((b) => b.action !== want.blob);
  if (wrong.length) return `expected every base blob ${want.blob}, got ${[...new Set(blobs.map((b) => b.action))].join('/')}`;
  if (want.layer && !want.layer.includes(rep.layer?.action)) return `expected the app layer ${want.layer.join(' or ')}, got ${rep.layer?.action}`;
  return undefined;
}

/** Base bytes that crossed the wire in a push --json report. */
export function baseBytesMoved(stdout) {
  const rep = parseJson(stdout);
  return rep ? (rep.blobs ?? []).reduce((a, b) => a + (b.bytes ?? 0), 0) : undefined;
}

/** The regpush --json report's timings (phase → ms), for the profile notes. */
export function reportTimings(stdout) {
  return parseJson(stdout)?.timings;
}

/**
 * The scenarios, in run order within a round. Fields: id, label, group ('regpush' | 'peer' | 'floor' | 'startup'),
 * cold (target wiped before the run), cmd(ctx, round) → { cmd, args, env }, check(result, ctx) → reason | undefined,
 * needs(ctx) → reason it cannot run | undefined, before(ctx) → unmeasured preparation of a run (every runner calls it after cmd()).
 */
export function scenarios(ctx) {
  const node = process.execPath;
  const cli = ctx.cli;
  const srcRef = `${ctx.src.host}/${ctx.base.repo}:${ctx.base.tag}`;
  const pushNeeds = () => ctx.pushBroken;
  const copyNeeds = () => ctx.copyBroken;
  const cfyNeeds = () => (ctx.containerify ? undefined : ctx.containerifyError ?? 'containerify not installed');
  const cfyArgs = (toRegistry, toImage) => [
    '--fromRegistry', `${ctx.src.url}/v2/`, '--fromImage', `${ctx.base.repo}:${ctx.base.tag}`,
    '--toRegistry', `${toRegistry}/v2/`, '--toImage', toImage, '--allowNoPushAuth',
    '--folder', ctx.appParent, '--customContent', `${ctx.appName}:/app`,
    '--workdir', '/app', '--entrypoint', 'dotnet App.dll', '--setTimeStamp', '2020-01-01T00:00:00Z',
  ];
  // containerify takes a ready bearer token: fetch it with curl inside the timed command, as a CI job would.
  const cfyCmd = (toRegistry, toImage) => ({
    cmd: 'bash',
    args: ['-c', 'set -e; T=$(curl -sf -u "$SRC_USER:$SRC_PASSWORD" "$REALM?service=$SERVICE&scope=repository:$REPO:pull" | sed -E \'s/.*"token":"([^"]+)".*/\\1/\'); exec "$NODE" "$CFY" --fromToken "$T" "$@"', 'containerify', ...cfyArgs(toRegistry, toImage)],
    env: {
      ...process.env, TMPDIR: ctx.cfyTmp, NODE: node, CFY: ctx.containerify, SRC_USER: ctx.src.user, SRC_PASSWORD: ctx.src.password,
      REALM: ctx.src.realm, SERVICE: ctx.src.service, REPO: ctx.base.repo,
    },
  });
  const cfyCheck = (r) => (/Done!/.test(r.stdout + r.stderr) ? undefined : 'containerify did not print Done!');
  const levelArgs = gzipLevelArgs(ctx);

  const list = [
    {
      id: 'push-cold', group: 'regpush', cold: true, needs: pushNeeds,
      label: 'regpush push, cold (token source → other registry)',
      cmd: (c, round) => ({ cmd: node, args: [cli, 'push', '--from', srcRef, '--to', `${c.cold.host}/bench/push-cold-${round}:1`, ...PUSH_CONFIG(c.app), ...levelArgs, '--json', '--quiet'], env: regpushEnv(c) }),
      check: (r) => checkPush(r, { blob: 'streamed', layer: ['uploaded'] }),
    },
    {
      id: 'push-warm', group: 'regpush', cold: false, needs: pushNeeds,
      label: 'regpush push, warm (target has everything)',
      cmd: (c) => ({ cmd: node, args: [cli, 'push', '--from', srcRef, '--to', `${c.warm.host}/bench/push-warm:1`, ...PUSH_CONFIG(c.app), ...levelArgs, '--json', '--quiet'], env: regpushEnv(c) }),
      check: (r) => checkPush(r, { blob: 'skipped', layer: ['reused', 'skipped'] }),
    },
    {
      id: 'push-same', group: 'regpush', cold: false, needs: pushNeeds,
      label: 'regpush push, same registry (mount)',
      cmd: (c, round) => ({ cmd: node, args: [cli, 'push', '--from', srcRef, '--to', `${c.src.host}/bench/push-same-${round}:1`, ...PUSH_CONFIG(c.app), ...levelArgs, '--json', '--quiet'], env: regpushEnv(c, { toSrc: true }) }),
      check: (r) => checkPush(r, { blob: 'mounted', layer: ['uploaded'] }) ?? (baseBytesMoved(r.stdout) ? `moved ${baseBytesMoved(r.stdout)} base bytes` : undefined),
    },
    {
      // The memory limit with many app files (docs/connections.md, "Memory with many app files"): 50,000 small
      // files (many-files.mjs) pushed cold; its peak RSS is a goal of its own (report.mjs).
      id: 'push-50k', group: 'regpush', cold: true, needs: () => ctx.pushBroken ?? (ctx.manyFiles ? undefined : ctx.manyFilesError ?? 'no 50,000-file app'),
      label: 'regpush push, cold, app of 50,000 small files',
      cmd: (c, round) => ({ cmd: node, args: [cli, 'push', '--from', srcRef, '--to', `${c.cold.host}/bench/push-50k-${round}:1`, '--app', `${c.manyFiles}:/app`, ...levelArgs, '--json', '--quiet'], env: regpushEnv(c) }),
      check: (r) => checkPush(r, { blob: 'streamed', layer: ['uploaded'] }),
    },
    {
      id: 'copy-cold', group: 'regpush', cold: true, needs: copyNeeds,
      label: 'regpush copy, cold',
      cmd: (c, round) => ({ cmd: node, args: [cli, 'copy', srcRef, `${c.cold.host}/bench/copy-cold-${round}:1`, '--json', '--quiet'], env: regpushEnv(c) }),
      check: (r) => {
        const rep = parseJson(r.stdout);
        const t = rep?.targets?.[0];
        if (!t?.ok) return 'copy report has no successful target';
        const bad = (t.blobs ?? []).filter((b) => b.action !== 'streamed' && b.action !== 'uploaded');
        return bad.length ? `expected every blob streamed, got ${bad.map((b) => b.action).join('/')}` : undefined;
      },
    },
    {
      // Promotion within one registry (staging → release repository): every blob mounted, none read.
      id: 'copy-same', group: 'regpush', cold: false, needs: copyNeeds,
      label: 'regpush copy, same registry (mount)',
      cmd: (c, round) => ({ cmd: node, args: [cli, 'copy', srcRef, `${c.src.host}/bench/copy-same-${round}:1`, '--json', '--quiet'], env: regpushEnv(c, { toSrc: true }) }),
      check: (r) => {
        const t = parseJson(r.stdout)?.targets?.[0];
        if (!t?.ok) return 'copy report has no successful target';
        const bad = (t.blobs ?? []).filter((b) => b.action !== 'mounted');
        return bad.length ? `expected every blob mounted, got ${bad.map((b) => b.action).join('/')}` : undefined;
      },
    },
    {
      id: 'skopeo-cold', group: 'peer', cold: true,
      label: 'skopeo copy, cold',
      needs: (c) => (c.tools.skopeo ? undefined : 'skopeo not installed'),
      cmd: (c, round) => ({
        cmd: 'skopeo',
        args: ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', `${c.src.user}:${c.src.password}`,
          `docker://${srcRef}`, `docker://${c.cold.host}/bench/skopeo-cold-${round}:1`],
        env: skopeoEnv(c),
      }),
      before: clearSkopeoCache,
      check: (r) => (/already exists/.test(r.stdout + r.stderr) ? 'skopeo skipped a blob (target not cold)' : undefined),
    },
    {
      id: 'curl-pipe', group: 'floor', cold: true,
      label: 'curl GET | curl PUT per blob, in parallel (wire floor)',
      cmd: (c, round) => ({ cmd: 'bash', args: [c.curlPipe, `bench/curl-cold-${round}`], env: { ...process.env, SRC_USER: c.src.user, SRC_PASSWORD: c.src.password } }),
      check: () => undefined,
    },
    {
      id: 'gzip6', group: 'floor', cold: false,
      label: '`tar | gzip -6` of the app (to /dev/null)',
      cmd: (c) => ({ cmd: 'bash', args: ['-c', 'tar --sort=name -C "$APP" -cf - . | gzip -6 > /dev/null'], env: { ...process.env, APP: c.app } }),
      check: () => undefined,
    },
    {
      id: 'gzip1', group: 'floor', cold: false,
      label: '`tar | gzip -1` of the app (to /dev/null)',
      cmd: (c) => ({ cmd: 'bash', args: ['-c', 'tar --sort=name -C "$APP" -cf - . | gzip -1 > /dev/null'], env: { ...process.env, APP: c.app } }),
      check: () => undefined,
    },
    {
      id: 'cfy-cold', group: 'peer', cold: true, needs: cfyNeeds,
      label: 'containerify, cold',
      cmd: (c, round) => cfyCmd(c.cold.url, `bench/cfy-cold-${round}:1`),
      check: cfyCheck,
    },
    {
      id: 'cfy-warm', group: 'peer', cold: false, needs: cfyNeeds,
      label: 'containerify, warm (target has everything)',
      cmd: (c) => cfyCmd(c.warm.url, 'bench/cfy-warm:1'),
      check: cfyCheck,
    },
    {
      id: 'node-empty', group: 'startup', cold: false,
      label: '`node empty.mjs` (start-up reference)',
      cmd: (c) => ({ cmd: node, args: [join(c.tmp, 'empty.mjs')], env: process.env }),
      check: () => undefined,
    },
    {
      id: 'regpush-version', group: 'startup', cold: false, needs: () => (ctx.cliMissing ? 'dist/cli/regpush.cjs missing' : undefined),
      label: '`regpush --version`',
      cmd: (c) => ({ cmd: node, args: [cli, '--version'], env: regpushEnv(c) }),
      check: (r) => (r.stdout.trim() ? undefined : 'no version printed'),
    },
  ];
  if (ctx.gzipLevel !== 6 && ctx.gzipLevel !== 1) {
    list.splice(list.findIndex((s) => s.id === 'gzip1') + 1, 0, {
      id: `gzip${ctx.gzipLevel}`, group: 'floor', cold: false,
      label: `\`tar | gzip -${ctx.gzipLevel}\` of the app (regpush's level)`,
      cmd: (c) => ({ cmd: 'bash', args: ['-c', `tar --sort=name -C "$APP" -cf - . | gzip -${ctx.gzipLevel} > /dev/null`], env: { ...process.env, APP: c.app } }),
      check: () => undefined,
    });
  }
  if (ctx.tools.pigz) {
    list.splice(list.findIndex((s) => s.id === 'gzip1') + 1, 0, {
      id: 'pigz', group: 'floor', cold: false,
      label: `\`tar | pigz -p2 -${ctx.gzipLevel}\` of the app (2-core reference)`,
      cmd: (c) => ({ cmd: 'bash', args: ['-c', `tar --sort=name -C "$APP" -cf - . | pigz -p2 -${ctx.gzipLevel} > /dev/null`], env: { ...process.env, APP: c.app } }),
      check: () => undefined,
    });
  }
  return list;
}

/**
 * The bench's `--gzip-level` value → { level } or { error } (one line). 1 to 9 only: regpush's
 * `--gzip-level` takes 1–9, and the floor row's `gzip -N` has no -0 in GNU gzip, so a 0 would
 * fail every regpush row and the floor row only once the rounds ran.
 */
export function parseGzipLevel(text) {
  const n = Number(text);
  if (text === undefined || String(text).trim() === '' || !Number.isInteger(n) || n < 1 || n > 9) return { error: `--gzip-level needs a whole number from 1 to 9 (got ${JSON.stringify(text ?? '')})` };
  return { level: n };
}

/** `--gzip-level N` for every regpush push row when the bench was given one, else nothing. */
function gzipLevelArgs(ctx) {
  return ctx.gzipLevelFlag !== undefined ? ['--gzip-level', String(ctx.gzipLevelFlag)] : [];
}

/** The 1 GiB scenarios (--large): run once per --large-runs, in this order. */
export function largeScenarios(ctx) {
  const node = process.execPath;
  const cli = ctx.cli;
  const levelArgs = gzipLevelArgs(ctx);
  const srcRef = `${ctx.src.host}/${ctx.large.repo}:${ctx.large.tag}`;
  const cfg = (app) => ['--app', `${app}:/app`, '--workdir', '/app', ...levelArgs, '--json', '--quiet'];
  const list = [
    {
      id: 'large-push-cold', group: 'regpush', cold: true, needs: () => ctx.pushBroken,
      label: 'regpush push, cold, 1 GiB base layer + 1 GiB app file',
      cmd: (c, round) => ({ cmd: node, args: [cli, 'push', '--from', srcRef, '--to', `${c.cold.host}/bench/large-${round}:1`, ...cfg(c.largeApp)], env: regpushEnv(c) }),
      check: (r) => checkPush(r, { blob: 'streamed', layer: ['uploaded'] }),
    },
    {
      id: 'large-push-warm', group: 'regpush', cold: false, needs: () => ctx.pushBroken,
      label: 'regpush push, warm, same 1 GiB inputs (diffID pass only)',
      cmd: (c, round) => ({ cmd: node, args: [cli, 'push', '--from', srcRef, '--to', `${c.cold.host}/bench/large-${round}:1`, ...cfg(c.largeApp)], env: regpushEnv(c) }),
      check: (r) => checkPush(r, { blob: 'skipped', layer: ['reused', 'skipped'] }),
    },
    {
      id: 'large-push-same', group: 'regpush', cold: false, needs: () => ctx.pushBroken,
      label: 'regpush push, same registry, 1 GiB app file',
      cmd: (c, round) => ({ cmd: node, args: [cli, 'push', '--from', srcRef, '--to', `${c.src.host}/bench/large-same-${round}:1`, ...cfg(c.largeApp)], env: regpushEnv(c, { toSrc: true }) }),
      check: (r) => checkPush(r, { blob: 'mounted', layer: ['uploaded'] }),
    },
    {
      id: 'large-copy-cold', group: 'regpush', cold: true, needs: () => ctx.copyBroken,
      label: 'regpush copy, cold, 1 GiB base layer',
      cmd: (c, round) => ({ cmd: node, args: [cli, 'copy', srcRef, `${c.cold.host}/bench/large-copy-${round}:1`, '--json', '--quiet'], env: regpushEnv(c) }),
      check: (r) => (parseJson(r.stdout)?.targets?.[0]?.ok ? undefined : 'copy report has no successful target'),
    },
  ];
  for (const s of list) s.minTimeoutMs = 600_000; // a GiB through a loaded 2-core machine takes a while
  return list;
}
