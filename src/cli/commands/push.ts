/** `regpush push`: base image + app directory → image in the target registry. */
import type { Argv } from 'yargs';
import type { SecretSet } from '../../redact.js';
import { PartialFailureError, UsageError } from '../../errors.js';
import { mayBeWindows, pushPlatform, splitPlatformPrefix } from '../../image/platform.js';
import type { BadValue } from '../../layer/index.js';
import type { LayerSource } from '../../layer/types.js';
import type { PushLayerSpec, PushResult } from '../../push/options.js';
import { chunkSizeOption, commonContext, commonFlags, cwdOf, transferCredentialFlags, transferCredentials, connectionOptions } from '../common.js';
import { checkGivenOnce, defineFlags, withFlags } from '../flag-table.js';
import { configChangesFromFlags, configFlags, many, parseChown } from '../flags.js';
import type { CliIO } from '../io.js';
import { printable } from '../terminal-text.js';
import { withGcPacing } from '../gc-pacing.js';
import { createProgress } from '../progress.js';
import { checkSourcePlace, loadProjectConfig, mergeWithFlags, type ProjectConfig } from '../project-config.js';
import { checkDigestFileFlag, checkDigestFileTarget, pushReport, startClock, writeDigestFile } from '../report.js';
import { gzipJobsOption } from '../threadpool.js';
import { flagNames, type OptionNames } from '../../option-names.js';

/** Every flag of `regpush push`, in help order. */
export const pushFlags = defineFlags({
  ...commonFlags,
  ...transferCredentialFlags('the base image registry', 'the target registry'),
  from: { type: 'string', once: true, describe: 'Base image (tag or digest), or "scratch" [required: here or in regpush.json]', group: 'Image:' },
  to: { type: 'string', repeatable: true, describe: 'Target image, e.g. registry.example.com/app:1.0 [required: here or in regpush.json]', group: 'Image:' },
  tag: { type: 'string', repeatable: true, describe: 'Extra tag for the same digest; repeatable', group: 'Image:' },
  platform: {
    type: 'string',
    once: true,
    describe:
      'os/arch[/variant] to pick from a multi-arch base (default linux/amd64), or "all"; ' +
      'os(osversion)/arch, e.g. windows(10.0.20348.2227)/amd64, also matches the OS version, exactly',
    group: 'Image:',
  },
  app: { type: 'string', repeatable: true, describe: 'Directory (or file) for the new layer, SRC or SRC:DEST; repeatable', group: 'Layer:' },
  layer: {
    type: 'string',
    repeatable: true,
    describe:
      'One more layer of its own, [PLATFORM=]SRC[:DEST]; repeatable, in order, below the --app layer. ' +
      'Split what changes rarely (dependencies) from what changes often: a re-push sends only changed layers. ' +
      "PLATFORM= (as --platform spells it: linux/arm64, windows(10.0.20348.1)/amd64) puts it only into that platform's image",
    group: 'Layer:',
  },
  'app-dest': { type: 'string', once: true, describe: 'Where --app SRC goes in the image (default: --workdir, else /app)', group: 'Layer:' },
  chown: { type: 'string', once: true, describe: 'UID:GID owning the new files (default 0:0)', group: 'Layer:' },
  'gzip-level': { type: 'number', once: true, describe: 'gzip level 0-9 for the new layer (default 6; 0 stores the bytes uncompressed, for content compressed already)', group: 'Layer:' },
  'gzip-jobs': {
    type: 'number',
    once: true,
    describe:
      'Blocks of the new layer gzipped in parallel, 1-64 (default: one per usable core plus 2; or REGPUSH_GZIP_JOBS); never changes the bytes',
    group: 'Layer:',
  },
  mtime: {
    type: 'number',
    once: true,
    describe:
      'Seconds since 1970 every entry of the new layers is dated (default 0). ' +
      'SOURCE_DATE_EPOCH dates the config only; a value that changes per push makes every layer new each time',
    group: 'Layer:',
  },
  ...configFlags,
  annotation: { type: 'string', repeatable: true, describe: 'KEY=VALUE OCI annotation on the manifest (and the index of a multi-platform push); repeatable; needs OCI output', group: 'Config:' },
  format: { choices: ['oci', 'docker'], once: true, describe: 'Output media types: oci or docker (default: the base\'s); blobs are the same, so they are still skipped or mounted', group: 'Image:' },
  'base-labels': { type: 'boolean', describe: 'Also record the base image name and digest as labels', group: 'Config:' },
  jobs: { type: 'number', once: true, describe: 'Parallel blob transfers (default 4, and then blobs under 1 MiB move beside them); a value given bounds every blob', group: 'Connection:' },
  'layer-upload': {
    choices: ['patch', 'put', 'chunked'],
    once: true,
    describe: "Force the new layer's upload method (default: streamed PATCH, then PUT, then chunked as the registry refuses them)",
    group: 'Connection:',
  },
  'chunk-size': {
    type: 'string',
    once: true,
    describe: "Bytes per PATCH for registries that need chunked uploads, e.g. 5MiB (never below the registry's OCI-Chunk-Min-Length)",
    group: 'Connection:',
  },
  'config-file': { type: 'string', once: true, describe: 'Project defaults from this JSON file instead of ./regpush.json (or package.json "regpush"); flags override them', group: 'Image:' },
  'dry-run': { type: 'boolean', describe: 'Resolve, HEAD the target, print the plan and the config; write nothing', group: 'Output:' },
  'digest-file': { type: 'string', once: true, describe: 'Also write the pushed digest (sha256:…) to this file', group: 'Output:', check: checkDigestFileFlag },
});

/** What push's messages call its options: the flags that give them (option-names.ts, OptionNames). */
const PUSH_FLAG_NAMES = flagNames({
  to: '--to',
  tags: '--tag',
  app: '--app',
  layers: '--layer',
  platform: '--platform',
  format: '--format',
  annotations: '--annotation',
  chown: '--chown',
  'chown.uid': '--chown UID',
  'chown.gid': '--chown GID',
  gzipLevel: '--gzip-level',
  gzipJobs: '--gzip-jobs',
  mtime: '--mtime',
  'config.env': '--env',
  'config.workdir': '--workdir',
  'config.volumes': '--volume',
  'config.user': '--user',
  'config.ports': '--port',
  'config.labels': '--label',
  'config.stopSignal': '--stop-signal',
  'config.healthcheck.test': '--healthcheck',
  'config.healthcheck.interval': '--healthcheck-interval',
  'config.healthcheck.timeout': '--healthcheck-timeout',
  'config.healthcheck.startPeriod': '--healthcheck-start-period',
  'config.healthcheck.retries': '--healthcheck-retries',
  jobs: '--jobs',
}, 'push');

/** Registers the push command. */
export function pushCommand(y: Argv, io: CliIO, done: (code: number) => void, secrets: SecretSet): Argv {
  return y.command(
    'push',
    'Build an image from a base image and an app directory, straight into the target registry',
    (c) =>
      withFlags(c, pushFlags)
        .example(
          '$0 push --from mcr.microsoft.com/dotnet/aspnet:8.0 --to registry.example.com/app:1.0 --app ./publish --workdir /app --entrypoint dotnet --entrypoint App.dll',
          "A .NET 8 app on Microsoft's ASP.NET base (on MCR, not Docker Hub)",
        )
        .example('$0 push --from node:20-slim --to ghcr.io/acme/web:1 --app ./dist --entrypoint node --entrypoint /app/server.js', 'To GitHub Container Registry (token via --password-stdin)')
        .example('$0 push --from alpine:3 --to 123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1 --app ./out', 'To Amazon ECR (credentials from a docker-credential-ecr-login helper)')
        .example(
          'echo "$DOCKERHUB_TOKEN" | $0 push --from node:20-alpine --to docker.io/acme/web:1 --to-user acme --password-stdin --app ./dist --cmd node --cmd /app/server.js',
          'To Docker Hub (node:20-alpine means docker.io/library/node)',
        )
        .example(
          '$0 push --from registry.cn-hangzhou.aliyuncs.com/acme/base:1 --to registry.cn-hangzhou.aliyuncs.com/acme/app:1 --app ./out',
          'Within Aliyun ACR: base layers are mounted, not copied (after regpush login)',
        )
        .example('$0 push --from ccr.ccs.tencentyun.com/acme/base:1 --to ccr.ccs.tencentyun.com/acme/app:1 --app ./out --port 8080', 'Within Tencent TCR')
        .example(
          '$0 push --from registry.cn-hangzhou.aliyuncs.com/acme/base:1 --to ccr.ccs.tencentyun.com/acme/app:1 --app ./out',
          'Aliyun ACR → Tencent TCR (base layers streamed, nothing on disk)',
        )
        .example('$0 push --from registry.example.com:5000/base:1 --to registry.example.com:5000/app:1 --app ./out --platform all', 'Every platform of a multi-arch base, private registry')
        .example('$0 push --insecure-registry 10.0.0.5:5000 --from 10.0.0.5:5000/base:1 --to 10.0.0.5:5000/app:1 --app ./out', 'A private registry on plain HTTP')
        .example('$0 push --dry-run --json', 'With from/to/app in ./regpush.json: the plan as JSON, nothing written')
        .example('$0 push --from alpine:3 --to ghcr.io/acme/app:1 --app ./out --digest-file app.digest', 'Write the digest for a later step (signing, deploy)'),
    async (argv) => {
      const clock = startClock();
      // Loaded on demand: `regpush --help` and `--version` should not pay for the pipeline's modules.
      const [layer, { pushAs }, { checkLayerRanges }, { checkJobs }] = await Promise.all([
        import('../../layer/index.js'),
        import('../../push/push.js'),
        import('../../push/inputs.js'),
        import('../../transfer/concurrency.js'),
      ]);
      const { badFileEntry, checkEpochSeconds, parseAppFlag } = layer;
      checkGivenOnce(pushFlags, argv);
      const cwd = cwdOf(io);
      const project = await loadProjectConfig(cwd, argv['config-file'], io.projectFile);
      const a = mergeWithFlags(argv, project?.values);
      const where = project ? ` (or "$KEY" in ${project.source})` : ' (or "$KEY" in regpush.json)';
      if (!a.from) throw new UsageError(`Missing required argument: --from${where.replace('$KEY', 'from')}`);
      if (!a.to) throw new UsageError(`Missing required argument: --to${where.replace('$KEY', 'to')}`);
      const ctx = commonContext(a, io, secrets);
      if (project) ctx.logger.debug(`defaults from ${project.file}`);
      // The platform as push() decides it: Windows paths are fine in the flags where the image may be Windows.
      const layerValues = many(a.layer) ?? [];
      const platform = pushPlatform(a.platform, layerValues.some((v) => splitPlatformPrefix(v) !== undefined));
      const config = configChangesFromFlags(a, (m) => ctx.logger.warn(m), mayBeWindows(platform));
      const defaultDest = a['app-dest'] ?? a.workdir ?? '/app';
      // App entries and layers from the project file (no --app, no --layer given) are named as its
      // entries, `regpush.json app[0]`, `regpush.json layers[0]`, not as the flags they are read in as.
      const appFile = argv.app === undefined && project?.values.app !== undefined ? project.source : undefined;
      const layersFile = argv.layer === undefined && project?.values.layer !== undefined ? project.source : undefined;
      const appValues = many(a.app) ?? [];
      const appOrigins = appValues.map((_, i) => sourceOrigin('--app', appFile !== undefined ? project : undefined, `app[${i}]`));
      const layerOrigins = layerValues.map((_, i) => sourceOrigin('--layer', layersFile !== undefined ? project : undefined, `layers[${i}]`));
      // A flag's malformed value is E_USAGE, an entry of the project file E_INPUT (src/errors.ts).
      const badOf = (origin: SourceOrigin): BadValue | undefined => (origin.entry ? badFileEntry : undefined);
      const app = appValues.map((v, i) => parseAppFlag(v, defaultDest, appOrigins[i]!.label, undefined, badOf(appOrigins[i]!)));
      // So are the config paths whose form the base's OS decides (a workdir of C:\app over a mixed base).
      // And annotations where the file gave them all (no --annotation), and format: a Docker v2 base or
      // format that cannot carry them is the file's mistake then (src/push/base-checks.ts, inputs.ts).
      const fromFile = (flag: 'workdir' | 'volume' | 'user' | 'annotation' | 'format'): string | undefined =>
        argv[flag] === undefined && project?.values[flag] !== undefined ? project.source : undefined;
      const names = fileEntryNames(PUSH_FLAG_NAMES, appFile, layersFile, {
        'config.workdir': fromFile('workdir'),
        'config.volumes': fromFile('volume'),
        'config.user': fromFile('user'),
        annotations: fromFile('annotation'),
        format: fromFile('format'),
      });
      const layers = layerValues.map((v, i) => parseLayerFlag(v, defaultDest, parseAppFlag, layerOrigins[i]!.label, badOf(layerOrigins[i]!)));
      const warn = (m: string): void => ctx.logger.warn(m);
      const given = [...app.map((s, i) => ({ src: s.src, origin: appOrigins[i]! })), ...layers.map((l, i) => ({ src: l.sources[0]!.src, origin: layerOrigins[i]! }))];
      for (const { src, origin } of given) checkSourcePlace(src, cwd, origin.flag, warn, origin.entry);
      // The folder's .dockerignore, where sources inside it have none: the project folder for the file's entries, the working folder for the flags'
      // (said here, not by push's checks, which know only one folder: pushAs is told so below).
      const sources = given.map(({ src, origin }) => ({ src, named: origin.entry ? origin.label : `${origin.flag} ${src}`, folder: origin.entry?.config.root ?? cwd }));
      for (const folder of new Set(sources.map((s) => s.folder))) {
        const line = layer.unappliedIgnoreWarning(sources.filter((s) => s.folder === folder), folder, cwd);
        if (line) warn(line);
      }
      const annotations = parseAnnotations(many(a.annotation));
      // push()'s own check, called here so that a bad level is said before a password is read from stdin.
      checkLayerRanges({ gzipLevel: a['gzip-level'] }, PUSH_FLAG_NAMES);
      const gzipJobs = gzipJobsOption(a['gzip-jobs'], io.env); // { gzipJobs?: number }: --gzip-jobs, else REGPUSH_GZIP_JOBS
      // Here, not in push()'s shape check, which would name the library's option for a negative or fractional value.
      if (a.mtime !== undefined) checkEpochSeconds(a.mtime, '--mtime');
      // Checked before a password is read from stdin, so that a bad flag is said first (pushAs checks it again, worded the same).
      if (a.jobs !== undefined) checkJobs(a.jobs, '--jobs');
      if (a['digest-file'] !== undefined) await checkDigestFileTarget(a['digest-file'], cwd);
      const { from, to } = await transferCredentials(a, io, ctx.secrets, (m) => ctx.logger.warn(m));
      const progress = await createProgress(io, ctx, !!a.json, (many(a.to) ?? []).length);
      const result = await pushAs({
        from: a.from,
        to: targetList(a.to),
        tags: many(a.tag),
        app,
        layers,
        format: a.format,
        annotations,
        platform: a.platform,
        config,
        baseLabels: a['base-labels'],
        jobs: a.jobs,
        gzipLevel: a['gzip-level'],
        ...gzipJobs,
        mtime: a.mtime,
        chown: parseChown(a.chown),
        dryRun: a['dry-run'],
        layerUpload: a['layer-upload'],
        ...connectionOptions(a, io, ctx, 'push'),
        events: withGcPacing(progress.events),
        credentials: { from, to },
        chunkSize: chunkSizeOption(a['chunk-size']),
      }, names, { ignoreWarned: true }).then(
        (r) => {
          progress.stop(true);
          return r;
        },
        async (err: unknown) => {
          progress.stop(false);
          // Some targets failed: the ones that succeeded are still printed (and the digest file
          // written for them, as copy does), then the error line; exit code 8.
          if (err instanceof PartialFailureError) {
            const partial = err.details.result as PushResult;
            printResult(io, !!a.json, partial, clock, secrets);
            if (a['digest-file'] && !partial.dryRun) await writeDigestFile(a['digest-file'], partial.digest, cwd);
          }
          throw err;
        },
      );
      printResult(io, !!a.json, result, clock, secrets);
      if (a['digest-file']) {
        if (result.dryRun) ctx.logger.warn(`--dry-run pushed nothing; ${a['digest-file']} not written`);
        else await writeDigestFile(a['digest-file'], result.digest, cwd);
      }
      done(0);
    },
  );
}

/** Where one `--app`/`--layer` source was given: the flag, or an entry of the project file. */
interface SourceOrigin {
  flag: '--app' | '--layer';
  /** The project file's entry (`app[0]`) where the source came from the file, not the flag. */
  entry?: { config: ProjectConfig; entry: string };
  /** How messages about the source's value name it: `regpush.json app[0]`, or the flag. */
  label: string;
}

/** The origin of a source: `project`'s entry `entry` where the file gave it, else `flag`. */
function sourceOrigin(flag: SourceOrigin['flag'], project: ProjectConfig | undefined, entry: string): SourceOrigin {
  return project ? { flag, entry: { config: project, entry }, label: `${project.source} ${entry}` } : { flag, label: flag };
}

/**
 * `[PLATFORM=]SRC[:DEST]`: a leading platform, spelt as `--platform` takes it (`linux/arm64/v8`,
 * `windows(10.0.20348.1)/amd64`), qualifies the layer; a bad one is E_USAGE (splitPlatformPrefix;
 * a project file's entries were checked as it was read, E_INPUT). `bad`: the error of a malformed
 * source or destination (parseAppFlag's), E_USAGE unless given.
 */
export function parseLayerFlag(
  v: string,
  defaultDest: string,
  parseSource: (value: string, dest: string, flag: string, host?: NodeJS.Platform, bad?: BadValue) => LayerSource,
  flag = '--layer',
  bad?: BadValue,
): PushLayerSpec {
  const q = splitPlatformPrefix(v);
  if (!q) return { sources: [parseSource(v, defaultDest, flag, undefined, bad)] };
  return { platform: q.platform, sources: [parseSource(q.rest, defaultDest, flag, undefined, bad)] };
}

/**
 * `names`, with `app` and each `layers[i]` named as the project file's entries (`regpush.json app`,
 * `regpush.json layers[0]`) rather than as `--app` and `--layer`, where they came from that file;
 * so are the option paths of `config` whose file is given (`regpush.json workdir`, `regpush.json
 * volumes[0]`, `regpush.json annotations`), by the project file's key.
 */
function fileEntryNames(names: OptionNames, appFile: string | undefined, layersFile: string | undefined, config: Readonly<Record<string, string | undefined>> = {}): OptionNames {
  if (!appFile && !layersFile && !Object.values(config).some((f) => f !== undefined)) return names;
  const fileOf = (p: string): string | undefined => (p === 'app' ? appFile : /^layers\[\d+\]$/.test(p) ? layersFile : config[p.replace(/\[\d+\]$/, '')]);
  const entry = (p: string, detail: string | undefined, or: (p: string, detail?: string) => string): string => {
    const source = fileOf(p);
    return source ? `${source} ${p.replace(/^config\./, '')}${detail === undefined ? '' : ` (${detail})`}` : or(p, detail);
  };
  return { ...names, name: (p, d) => entry(p, d, names.name), about: (p, d) => entry(p, d, names.about), fileOf };
}

/** `--annotation KEY=VALUE` values → an object (later wins); E_INPUT on a missing key or "=". */
export function parseAnnotations(list: string[] | undefined): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  const out: Record<string, string> = {};
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new UsageError(`invalid --annotation ${JSON.stringify(a)}: expected KEY=VALUE`);
    out[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return out;
}

/** --to once gives one target, repeated gives several. */
function targetList(v: unknown): string | string[] {
  const list = many(v) ?? [];
  return list.length === 1 ? list[0]! : list;
}

/** The result on stdout: the JSON report, the dry-run plan, or one `repo@digest` line per target. */
function printResult(io: CliIO, json: boolean, result: PushResult, clock: ReturnType<typeof startClock>, secrets: SecretSet): void {
  // The report relays registries' error messages for failed targets: scrubbed like every other line.
  if (json) io.stdout.write(secrets.scrub(JSON.stringify(pushReport(result, clock), null, 2)) + '\n');
  else if (result.dryRun) io.stdout.write(dryRunText(result));
  else if (result.targets) {
    for (const t of result.targets) if (t.ok) io.stdout.write(t.reference + '\n');
  } else io.stdout.write(result.reference + '\n');
}

/** The human plan printed by --dry-run: one line per blob (the verbs of the real run) and the config. */
function dryRunText(r: PushResult): string {
  const lines = [`plan: push ${r.base.reference}${r.base.digest ? '@' + r.base.digest : ''}`];
  const top = r.layers ?? (r.layer ? [{ ...r.layer, name: 'app layer', dest: [] as string[] }] : []);
  // One block per target, as copy's plan has (the first alone when the push fails fast).
  const targets = r.targets ?? [{
    target: `${r.reference}:${r.tags.join(',')}`,
    tags: r.tags,
    tagsUnchanged: r.tagsUnchanged,
    writeNotChecked: r.writeNotChecked,
    ok: true,
    blobs: r.blobs,
    layers: undefined,
    error: undefined,
  }];
  for (const [i, t] of targets.entries()) {
    if (!t.ok) {
      lines.push(`→ ${t.target}  FAILS: ${t.error?.code} ${t.error?.message}`);
      continue;
    }
    // A tag that already holds the very image is not written again (tagsUnchanged), as copy's plan says.
    const held = new Set(t.tagsUnchanged);
    const upToDate = held.size > 0 && t.tags.every((tag) => held.has(tag));
    const tags = upToDate
      ? `${t.tags.join(', ')}, up to date: nothing to write`
      : t.tags.map((tag) => (held.has(tag) ? `${tag} (already holds the image)` : tag)).join(', ');
    lines.push(`→ ${t.target}  tags: ${tags}`);
    if (t.writeNotChecked) lines.push(`  write permission not checked: ${t.writeNotChecked}`);
    let toSend = 0;
    for (const b of t.blobs) {
      const verb = b.action.replace('planned-', '');
      if (verb === 'stream') toSend += b.size;
      lines.push(`  ${verb.padEnd(8)} ${b.digest}  ${b.size} bytes`);
    }
    const layers = t.layers ?? (i === 0 ? top : []);
    for (const l of layers) {
      if (l.action !== 'reused') toSend += l.size;
      const where = [l.dest.join(' '), 'platform' in l && l.platform ? String(l.platform) : ''].filter(Boolean).join(', ');
      lines.push(`  ${(l.action === 'reused' ? 'reuse' : 'upload').padEnd(8)} ${l.digest}  ${l.size} bytes (${l.name}${where ? ': ' + where : ''})`);
    }
    lines.push(`  ${t.blobs.length + layers.length} blobs, ${toSend} bytes to send; ${upToDate ? 'no config or manifest to write' : `then ${r.platforms.length} config(s) and manifest(s)`}`);
  }
  r.configs?.forEach((c, i) => {
    lines.push(`config${r.configs!.length > 1 ? ` (${r.platforms[i]?.platform ?? i})` : ''}:`);
    // Line by line: JSON.stringify escapes control characters inside strings, so its own newlines
    // are the only ones, and each line is made printable on its own (one escaped block was one line).
    lines.push(...JSON.stringify(c, null, 2).split('\n'));
  });
  // The configs hold the base's strings (Env, Labels), a failing target's message its registry's: printable (terminal-text.ts).
  return lines.map((l) => printable(l)).join('\n') + '\n';
}
