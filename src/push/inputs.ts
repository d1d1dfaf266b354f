/**
 * push()'s inputs, checked before the first request: the targets and tags, the base reference,
 * every new layer (each --layer in order, then the app layer) with its sources validated and
 * not empty, the platform, the format, the annotations and the config changes (env entries, ports,
 * volumes, label keys, health check: none of their checks depends on the base's config). A bad
 * flag fails here, with nothing sent to any registry. That every file of the layers opens for
 * reading is checked alongside the first requests (PushInputs.readable), before any blob is written.
 */
import { InputError, InvalidReferenceError, UsageError } from '../errors.js';
import { checkConfigChanges, ledByOp } from '../image/config.js';
import { parseFormat } from '../image/convert.js';
import type { MediaFamily } from '../image/mediatypes.js';
import { formatPlatform, isWindows, mayBeWindows, parsePlatform, platformMatches, pushPlatform } from '../image/platform.js';
import type { Platform } from '../image/types.js';
import {
  badFileEntry,
  badFlag,
  checkEpochSeconds,
  epochFromEnv,
  firstSymlink,
  GZIP_LEVELS,
  isWindowsStylePath,
  MAX_ID,
  MAX_LANES,
  normaliseDest,
  resolveLayerOptions,
  scanSources,
  takenIn,
  unappliedIgnoreWarning,
  validateSources,
  windowsDestination,
  windowsSymlinkRefused,
  type BadValue,
  type LayerSource,
  type SourcesScan,
} from '../layer/index.js';
import { silentLogger, type Logger } from '../log.js';
import { checkTag, formatReference, parseReferenceAs, type ImageReference } from '../ref/reference.js';
import { STRINGS, type Shape } from '../options-check.js';
import type { OptionNames } from '../option-names.js';
import { CONNECTION_SHAPE } from '../registry/connection-shape.js';
import { workingDirectory } from '../registry/working-directory.js';
import { checkConnectionRanges } from '../registry/limits.js';
import { checkJobs } from '../transfer/concurrency.js';
import { PROGRESS_EVENTS_SHAPE } from '../transfer/types.js';
import type { LayerJob } from './layer-everywhere.js';
import { APP_LAYER, layerLabel, windowsVariant, type LayerLabel } from './layer-label.js';
import type { PushOptions } from './options.js';

/** One new layer to build, checked. */
export interface LayerPlan extends LayerJob {
  /** The history line of the layer. */
  createdBy: string;
  /** Only this platform's image gets it. */
  platform?: Platform;
  /** Its place in the `layers` option (undefined: the app layer), for messages (`layers[1]`, the CLI's `--layer`). */
  index?: number;
  /**
   * With --platform all, an unqualified layer is planned twice: true for the variant built for the
   * base's Windows images, false for the one built for the others. The base decides which are used
   * (compose-stage.ts, layersFor); an unused one is never built. Undefined: any image.
   */
  forWindows?: boolean;
  /**
   * The Windows variant's (forWindows true) first symlink, asked once the base shows a Windows
   * image gets it (base-checks.ts, checkWindowsVariants): the answer of the walk checkInputs started for
   * the layer's files, else, where the variants' destinations differ, a walk of its own. Rejects,
   * where there is no symlink, with the first name Windows cannot hold (`nul.txt`), as the build would.
   */
  windowsSymlink?: (signal?: AbortSignal) => Promise<string | undefined>;
  dest: string[];
}

/** push()'s inputs, checked. */
export interface PushInputs {
  /** The directory relative paths are taken in (the `cwd` option, absolute; workingDirectory). */
  cwd: string;
  toRefs: ImageReference[];
  /** `to` was given as an array: the report lists `targets` however many there are (a string gives one target, and no list). */
  toArray: boolean;
  fromRef?: ImageReference;
  /** The base as the report and the base labels name it, made once here: `fromRef` in full (docker.io/library/alpine:3), or "scratch". */
  fromName: string;
  platform: Platform | 'all';
  jobs: number;
  /** Seconds every entry of the new layers is dated: the `mtime` option, else 0 (never SOURCE_DATE_EPOCH: see checkInputs). */
  mtime: number;
  /** Seconds the config's `created` and the new history entries carry: SOURCE_DATE_EPOCH, else 0. */
  created: number;
  /** The new layers, bottom to top: every --layer in order, then the app layer. */
  layers: LayerPlan[];
  format?: MediaFamily;
  annotations?: Record<string, string>;
  /** --chown was given: refused for a Windows image (checkBase), whose layers leave it out. */
  chown?: boolean;
  /** What messages call the options: push()'s option paths, or the CLI's flags. */
  names: OptionNames;
  /**
   * Settles once every file of the new layers is known to open for reading (scanSources'
   * `readable`), rejecting with the first that does not. The rest of the walk that found each
   * layer not empty, so it runs alongside the push's first round trips; the push waits for it
   * before any blob is written.
   */
  readable: Promise<void>;
}

const LAYER_SOURCES: Shape = { list: { fields: { src: 'string', dest: 'string' }, required: ['src', 'dest'] } };

/** PushOptions as a plain-JS caller must give them (options-check.ts); the values are checked in checkInputs. */
export const PUSH_SHAPE = {
  fields: {
    ...CONNECTION_SHAPE,
    from: 'string',
    to: { anyOf: ['string', STRINGS] },
    tags: STRINGS,
    app: LAYER_SOURCES,
    layers: { list: { fields: { sources: LAYER_SOURCES, platform: 'string' }, required: ['sources'] } },
    format: 'string',
    annotations: { values: 'string' },
    platform: 'string',
    config: {
      fields: {
        entrypoint: STRINGS,
        cmd: STRINGS,
        entrypointShell: 'string',
        cmdShell: 'string',
        env: STRINGS,
        ports: STRINGS,
        workdir: 'string',
        volumes: STRINGS,
        labels: { values: 'string' },
        user: 'string',
        healthcheck: { fields: { test: STRINGS, interval: 'number', timeout: 'number', startPeriod: 'number', retries: 'number' }, required: ['test'] },
        stopSignal: 'string',
      },
    },
    baseLabels: 'boolean',
    jobs: 'number',
    gzipLevel: 'number',
    gzipJobs: 'number',
    mtime: 'whole',
    chown: { fields: { uid: 'whole', gid: 'whole' }, required: ['uid', 'gid'] },
    dryRun: 'boolean',
    layerUpload: { literal: ['patch', 'put', 'chunked'] },
    events: { fields: PROGRESS_EVENTS_SHAPE },
  },
  required: ['from', 'to'],
} satisfies Shape;

/**
 * What the entry point that runs a push (push(), or the CLI through pushAs) has done for the
 * user already, said by that entry: how its messages are worded (OptionNames) decides no behaviour.
 */
export interface PushEntry {
  /**
   * It has warned where the working folder's `.dockerignore` does not apply to a source folder
   * inside it (the CLI does, per folder: only it knows which sources came from regpush.json, and so
   * which folder's file they were meant to get). When false, checkInputs warns the logger, for the
   * `cwd`'s file, naming each source by `names`.
   */
  ignoreWarned: boolean;
}

/**
 * Every input checked before the first request; their shape (PUSH_SHAPE) has been checked by
 * push(). `names`: what the messages call the options (the library's paths, or the CLI's flags);
 * `entry`: what the caller has done already.
 */
export async function checkInputs(opts: PushOptions, names: OptionNames, entry: PushEntry): Promise<PushInputs> {
  // Read once, here: every layer source below is looked up in it (LayerOptions.cwd), not in
  // whatever the process's directory is when a build starts.
  const cwd = workingDirectory(opts.cwd);
  const toList = Array.isArray(opts.to) ? opts.to : [opts.to];
  if (toList.length === 0) throw new UsageError(`${names.op ?? 'push'} needs a target (${names.name('to')})`);
  const toRefs = toList.map((t) => parseReferenceAs(t, opts.connectionNames));
  for (const [i, r] of toRefs.entries()) if (r.digest) throw new InvalidReferenceError(`${names.about('to')} must name a tag, not a digest: ${toList[i]}`);
  for (const t of opts.tags ?? []) checkTag(t);
  for (const r of toRefs) checkTag(r.tag ?? 'latest');
  const fromRef = opts.from === 'scratch' ? undefined : parseReferenceAs(opts.from, opts.connectionNames);
  const fromName = fromRef ? formatReference(fromRef) : 'scratch';
  const jobs = checkJobs(opts.jobs, names.about('jobs'));
  checkConnectionRanges(opts, (o) => names.about(o));
  const env = opts.env ?? {};
  // Two times, apart, as Jib (filesModificationTime, creationTime) and ko (KO_DATA_DATE_EPOCH,
  // SOURCE_DATE_EPOCH) keep them. SOURCE_DATE_EPOCH dates the config (`created`, the new history
  // entries), a config-only push's too; the layers' entries carry `mtime`, 0 unless given. Were
  // the entries dated by SOURCE_DATE_EPOCH, a CI job setting it to each commit's time would make
  // every layer new on every commit, and the unchanged dependencies would be sent again each time.
  // Both are checked for every push, with or without a layer to build.
  const created = epochFromEnv(env.SOURCE_DATE_EPOCH) ?? 0;
  const mtime = opts.mtime !== undefined ? checkEpochSeconds(opts.mtime, names.about('mtime')) : 0;
  const logger = opts.logger ?? silentLogger;
  const work = opts.events?.work;
  // `said`: this push's builds say each line about their lanes once (layer/index.ts), and its
  // walks of the sources (the checks' walk, diffID pass, build) each skipped fifo once (walk.ts).
  const said = new Set<string>();
  const readable: Promise<void>[] = [];
  const common = { cwd, mtime, env, chown: opts.chown, gzipLevel: opts.gzipLevel, gzipConcurrency: opts.gzipJobs, names, logger, said, ...(work ? { onTarBytes: (n: number) => work(n) } : {}) };
  checkLayerRanges(opts, names);
  // The layer builder's ranges are checked now: found by the builder, once uploads had started,
  // they were thrown where nothing caught them.
  if (opts.layers?.length || opts.app?.length) resolveLayerOptions({ sources: [], ...common });
  // The qualifiers first: a misspelt platform is said before any file is read.
  // Named for a library caller (`push(): layers[1].platform`); the CLI checked its flags' before, in its own words.
  const qualifiers = (opts.layers ?? []).map((spec, i) => (spec.platform === undefined ? undefined : parsePlatform(spec.platform, names.op && names.about(`layers[${i}].platform`))));
  // Per-platform layers build every platform of the base unless --platform says otherwise.
  const platform = pushPlatform(opts.platform, qualifiers.some((q) => q), names.op && names.about('platform'));
  // A layer is built in the format of the images it goes into (layer/windows-layer.ts): its
  // qualifier's OS, else the push's. With 'all', an unqualified layer is planned twice, once for
  // the base's Windows images and once for the others; the base decides which are built.
  const variants = (q: Platform | undefined): (boolean | undefined)[] => (q || platform !== 'all' ? [undefined] : [false, true]);
  const definitelyWindows = (q: Platform | undefined): boolean => isWindows(q ?? (platform === 'all' ? undefined : platform));
  if (opts.chown && [...qualifiers, ...(opts.app?.length ? [undefined] : [])].some(definitelyWindows)) {
    throw new UsageError(chownWindows(names.about('chown')));
  }
  const layers: LayerPlan[] = [];
  /** Each layer once (not per variant), as messages name it, for the check of sources two layers share. */
  const named: NamedLayer[] = [];
  // `what` names the layer as given, for its errors; `shown`, with its destinations as the report and
  // the history line give them (`/app`, where the default was given as `/app/`), for the warning of
  // sources two layers share, which is about layers the user then reads of in the report.
  const plan = async (given: readonly LayerSource[], what: string, shown: string, bad: BadValue, q: Platform | undefined, label: LayerLabel, createdBy: string, index?: number): Promise<void> => {
    named.push({ what: shown, sources: given, platform: q });
    // As the history line writes them (the report's `dest` said "/app/" for the one and "/app" for the other).
    const dest = given.map((s) => normalisedDest(s.dest));
    /** The walk of this layer's files (one for both variants of --platform all) and the sources it walked. */
    let scanned: { scan: SourcesScan; sources: LayerSource[] } | undefined;
    for (const forWindows of variants(q)) {
      const windows = forWindows ?? definitelyWindows(q);
      if (forWindows === false) {
        const winStyle = given.find((s) => typeof s.dest === 'string' && isWindowsStylePath(s.dest));
        if (winStyle) {
          throw bad(
            `${what}: with ${names.set('platform', 'all')}, write the destination as /…: ` +
              `the layer goes into the base's Linux and Windows images alike (/app is C:\\app in a Windows image); got "${winStyle.dest}"`,
          );
        }
      }
      const sources = layerSources(given, windows, what, names, bad);
      // One walk answers the checks (layer/content.ts, scanSources): not empty (awaited now,
      // answered at the first entry), every file opens (awaited before the first blob), and a
      // Windows layer's first symlink. The variants of --platform all take the same files: the Linux one's
      // walk notes the first link for the Windows one.
      if (forWindows !== true) {
        const symlinks = windows ? 'refuse' : forWindows === false ? 'find' : undefined;
        scanned = { scan: await checkLayerSources(sources, cwd, what, logger, said, symlinks), sources };
        readable.push(scanned.scan.readable);
      }
      // A symlink ends a Windows layer's build: said now, before any request (the walk goes on past
      // a file it cannot open, which is said only before the first blob, to find it). The variant
      // of --platform all is checked once the base shows it is used (base-checks.ts, checkWindowsVariants).
      if (windows && forWindows === undefined) {
        const link = await scanned!.scan.symlink!;
        if (link !== undefined) throw windowsSymlinkRefused(link);
      }
      const windowsSymlink = forWindows === true ? variantSymlink(scanned!, sources, cwd, logger, said) : undefined;
      layers.push({
        // A Windows layer has no Linux owner: --chown stays out of it (checkBase refuses it where it is used).
        options: { sources, ...common, ...(windows ? { windows, chown: undefined } : {}) },
        label: forWindows ? windowsVariant(label) : label,
        createdBy,
        platform: q,
        ...(index !== undefined ? { index } : {}),
        dest,
        ...(forWindows !== undefined ? { forWindows } : {}),
        ...(windowsSymlink ? { windowsSymlink } : {}),
      });
    }
  };
  for (const [i, spec] of (opts.layers ?? []).entries()) {
    const text = (normalise: boolean): string => `${spec.platform ? spec.platform + '=' : ''}${sourcesText(spec.sources, normalise)}`;
    const what = names.about(`layers[${i}]`, text(false));
    if (spec.sources.length === 0) throw new UsageError(`${what}: no source`);
    const n = i + 1;
    // The platform as it is matched (formatPlatform), as each destination is normalised: linux/x86_64
    // and linux/amd64 put the layer into the same image, so they give the same history line and digest.
    const q = qualifiers[i];
    await plan(
      spec.sources,
      what,
      names.about(`layers[${i}]`, text(true)),
      badValue(names, `layers[${i}]`),
      q,
      layerLabel(n),
      `regpush: layer ${historyDests(spec.sources)}${q ? ` (${formatPlatform(q)})` : ''}`,
      i,
    );
  }
  if (opts.app?.length) {
    // The app layer goes on top: its files win over a --layer's at the same path, and with --app alone the image is what it always was.
    await plan(
      opts.app,
      names.about('app', sourcesText(opts.app, false)),
      names.about('app', sourcesText(opts.app, true)),
      badValue(names, 'app'),
      undefined,
      APP_LAYER,
      `regpush: added ${historyDests(opts.app)}`,
    );
  }
  warnSharedSources(named, cwd, logger);
  // Unless the entry has said it (the CLI, before push runs: src/cli/commands/push.ts).
  if (!entry.ignoreWarned) warnUnappliedIgnore(opts, cwd, names, logger);
  markDependencies(layers);
  // The CLI and regpush.json check these with the flags; a library caller's are checked here.
  // Every platform of the base ('all') may be a Windows one: applyConfigChanges checks each
  // config's paths against its OS once the base is read.
  const config = opts.config;
  if (config) ledByOp(names.op, () => checkConfigChanges(config, mayBeWindows(platform)));
  const format = opts.format === undefined ? undefined : parseFormat(opts.format, names.about('format'));
  const annotations = opts.annotations && Object.keys(opts.annotations).length ? checkAnnotations(opts.annotations, names) : undefined;
  // Two settings at odds: the project file's mistake (E_INPUT) only where it gave both.
  const bothFromFile = names.fileOf?.('annotations') !== undefined && names.fileOf('format') !== undefined;
  if (annotations && format === 'docker') {
    throw (bothFromFile ? badFileEntry : badFlag)(`${names.about('annotations')} cannot go into a Docker v2 manifest (it has no annotations); use ${names.set('format', 'oci')}`);
  }
  const allReadable = Promise.all(readable).then(() => undefined);
  allReadable.catch(() => undefined); // awaited by push before its first write; a failure before that must not leave it unhandled
  return {
    cwd,
    toRefs,
    toArray: Array.isArray(opts.to),
    fromRef,
    fromName,
    platform,
    jobs,
    mtime,
    created,
    layers,
    format,
    annotations,
    ...(opts.chown ? { chown: true } : {}),
    names,
    readable: allReadable,
  };
}

/**
 * Marks each `--layer` that has a layer above it in every image it goes into (LayerJob.dependency):
 * a later layer of another entry, unqualified or qualified with the same platform. Those are the
 * layers "by change frequency" below the top one; the top layer of an image (the app layer, or a
 * last `--layer` given as code) is new on every deploy and is sent without asking first.
 */
function markDependencies(layers: LayerPlan[]): void {
  layers.forEach((l, i) => {
    if (l.index === undefined) return;
    const mine = l.platform && formatPlatform(l.platform);
    if (layers.slice(i + 1).some((above) => above.index !== l.index && (!above.platform || (mine !== undefined && formatPlatform(above.platform) === mine)))) l.dependency = true;
  });
}

/**
 * The layer options' ranges, named as the caller gave them (`push(): gzipLevel`, the CLI's
 * `--gzip-level`), with or without a layer to build, as mtime is: a value out of range is a
 * mistake whether or not this push uses it (a script's `gzipLevel: 42` otherwise passed until the
 * day it got an `app`). The one check of these ranges that names the caller's option; the CLI calls
 * it too, ahead of reading a password. The layer builder keeps a guard of its own (layer/options.ts),
 * its module's contract with zlib, worded for itself.
 */
export function checkLayerRanges(opts: Pick<PushOptions, 'gzipLevel' | 'gzipJobs' | 'chown'>, names: OptionNames): void {
  const whole = (path: string, v: number | undefined, min: number, max: number): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= max)) throw new UsageError(`${names.about(path)} must be a whole number from ${min} to ${max} (got ${v})`);
  };
  whole('gzipLevel', opts.gzipLevel, GZIP_LEVELS.min, GZIP_LEVELS.max);
  whole('gzipJobs', opts.gzipJobs, 1, MAX_LANES);
  whole('chown.uid', opts.chown?.uid, 0, MAX_ID);
  whole('chown.gid', opts.chown?.gid, 0, MAX_ID);
}

/**
 * The destinations as a layer's history line gives them: `--app ./app` (the default, `/app/`),
 * `./app:/app`, `./app:/app/` and `./app:/app/.` put the same files in the same place, so they
 * read `/app` alike — written as typed, the same layer made a different config, and so another
 * image digest. A Windows destination (`C:\app\`) loses its trailing separators only.
 */
function historyDests(sources: readonly LayerSource[]): string {
  return sources.map(({ dest }) => normalisedDest(dest)).join(' ');
}

/** A layer's sources as messages name them, `SRC:DEST …`: each destination as given, or as historyDests gives it. */
function sourcesText(sources: readonly LayerSource[], normalise: boolean): string {
  return sources.map((s) => `${s.src}:${normalise && typeof s.dest === 'string' ? normalisedDest(s.dest) : s.dest}`).join(' ');
}

/** One destination as historyDests gives it (and the report's `dest`). */
function normalisedDest(dest: string): string {
  if (isWindowsStylePath(dest)) return dest.replace(/(?<=[^:\\/])[\\/]+$/, '');
  return `/${normaliseDest(dest).name}`; // absolute (checked): the layer builder's own reading of it
}

/** Why --chown (`chown`: what the caller called it) and a Windows image do not go together. */
export function chownWindows(chown: string): string {
  return `${chown} sets a Linux owner, and a Windows image has none: its layer gives BUILTIN\\Users access to every file`;
}

/**
 * The error of a bad value of option `path` (a malformed source or destination, or one the base
 * turns out not to take): E_USAGE, E_INPUT where a project file gave it (OptionNames.fileOf).
 */
export function badValue(names: OptionNames, path: string): BadValue {
  return names.fileOf?.(path) !== undefined ? badFileEntry : badFlag;
}

/**
 * The sources as the layer builder takes them. In a Windows image's layer a destination may be
 * written the Windows way (`C:\app`, `\app`) and becomes the builder's `/app` (under `Files/`);
 * in a Linux image's, such a destination is refused, naming the OS to ask for. Either refusal is `bad`'s error.
 */
function layerSources(sources: readonly LayerSource[], windows: boolean, what: string, names: OptionNames, bad: BadValue): LayerSource[] {
  return sources.map((s) => {
    if (typeof s.dest !== 'string') return s; // the shape check has said so already; validateSources names it too
    if (windows) {
      const d = windowsDestination(s.dest);
      if ('problem' in d) throw bad(`${what}: ${d.problem}`);
      return { src: s.src, dest: d.path };
    }
    if (isWindowsStylePath(s.dest)) {
      throw bad(
        `${what}: destination "${s.dest}" is a Windows path, and this layer goes into a Linux image ` +
          `(for a Windows base, give ${names.set('platform', 'windows/amd64')})`,
      );
    }
    return s;
  });
}

/**
 * A layer's sources exist and hold something once .dockerignore is applied (the walk's `content`,
 * before any request). An empty layer is a wrong path or an over-broad .dockerignore far more
 * often than intent (a build that wrote nothing to its output folder): pushed, it would ship an
 * image without the app. Returns the walk, going on past the first entry: whether every file the
 * layer takes opens for reading (`readable`, not awaited here: an unreadable file deep in the
 * sources, found by the build only, seconds in, would end a first push after the base blobs and
 * the config were committed at the target) and, with `symlinks`, the first symlink.
 */
async function checkLayerSources(sources: LayerSource[], cwd: string, what: string, logger: Logger, said: Set<string>, symlinks?: 'refuse' | 'find'): Promise<SourcesScan> {
  await validateSources(sources, cwd);
  const scan = scanSources(sources, cwd, { logger, said, ...(symlinks ? { symlinks } : {}) });
  if (!(await scan.content)) throw new InputError(`${what}: nothing to put in the layer (empty, or everything excluded by .dockerignore)`);
  return scan;
}

/**
 * The Windows variant's symlink check (LayerPlan.windowsSymlink): the Linux variant's walk found
 * it where both variants take their sources to the same destinations, as they do unless one is
 * written with a backslash inside (`/app\sub`: a directory of that name on Linux, `C:\app\sub`
 * on Windows), whose names and overlaps differ; such a layer is walked again once the base shows it is used.
 */
function variantSymlink(
  scanned: { scan: SourcesScan; sources: LayerSource[] },
  sources: LayerSource[],
  cwd: string,
  logger: Logger,
  said: Set<string>,
): (signal?: AbortSignal) => Promise<string | undefined> {
  const same = sources.length === scanned.sources.length && sources.every((s, i) => s.src === scanned.sources[i]!.src && s.dest === scanned.sources[i]!.dest);
  // The shared walk noted the first name Windows cannot hold; a walk of its own ('refuse') rejects with it.
  if (same) {
    return async () => {
      const link = await scanned.scan.symlink!;
      const badName = link === undefined ? await scanned.scan.windowsName! : undefined;
      if (badName) throw badName;
      return link;
    };
  }
  return (signal) => firstSymlink(sources, cwd, logger, signal, said);
}

/** A layer as the messages name it, with its sources as given. */
interface NamedLayer {
  what: string;
  sources: readonly LayerSource[];
  platform?: Platform;
}

/**
 * Warns where one layer's directory source takes in another layer's source (`--layer
 * ./node_modules:/app/node_modules --app .` without `node_modules` in `./.dockerignore`): those
 * files are in both layers, so the image holds them twice, and the split that was meant to send
 * the dependencies once sends them with every change of the other layer (the app layer changes
 * on every deploy). The image is still right (the upper layer's copy wins), so it is a warning,
 * not a refusal. Layers that go into different platforms' images share no image and are not compared.
 */
function warnSharedSources(layers: readonly NamedLayer[], cwd: string, logger: Logger): void {
  const apart = (a: NamedLayer, b: NamedLayer): boolean => a.platform !== undefined && b.platform !== undefined && !platformMatches(a.platform, b.platform) && !platformMatches(b.platform, a.platform);
  for (const [i, outer] of layers.entries()) {
    for (const [j, inner] of layers.entries()) {
      if (i === j || apart(outer, inner)) continue;
      for (const o of outer.sources) {
        const under = (name: string): string => `${o.src.replace(/\/+$/, '')}/${name}`;
        const both = `its files are in both layers: the image holds them twice, and every change to either layer sends them again`;
        // The sources of `inner` this directory takes in, said in one line (a flat `dotnet publish`
        // folder as a --layer, with its App.dll, App.deps.json… given to --app, is one mistake).
        const rels: string[] = [];
        for (const s of inner.sources) {
          const rel = takenIn(o, s, cwd);
          if (rel === undefined || (rel === '' && i < j)) continue; // one line for a directory two layers both name
          if (rel === '') logger.warn(`${outer.what}: takes in ${o.src}, a source of ${inner.what}; ${both}; give the directory to one layer only`);
          else if (!rels.includes(rel)) rels.push(rel);
        }
        if (rels.length === 1) logger.warn(`${outer.what}: takes in ${under(rels[0]!)}, a source of ${inner.what}; ${both}; leave it out with a line "${rels[0]}" in ${under('.dockerignore')}`);
        else if (rels.length > 1) {
          const listed = (xs: readonly string[]): string => `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}`;
          logger.warn(
            `${outer.what}: takes in ${listed(rels.map(under))}, sources of ${inner.what}; ${both}; ` +
              `leave them out with the lines ${listed(rels.map((r) => `"${r}"`))} in ${under('.dockerignore')}`,
          );
        }
      }
    }
  }
}

/**
 * Warns where `cwd`'s `.dockerignore` would leave something out of a directory source inside it
 * that has no `.dockerignore` of its own: a source is filtered by its own file only, so
 * `app: [{ src: "./dist" }]` beside a `./.dockerignore` of `*.map` ships the maps. Each source is
 * named by its option path (`app[0]`, `layers[1].sources[0]`).
 */
function warnUnappliedIgnore(opts: PushOptions, cwd: string, names: OptionNames, logger: Logger): void {
  const sources = [
    ...(opts.layers ?? []).flatMap((spec, i) => spec.sources.map((s, k) => ({ src: s.src, named: names.name(`layers[${i}].sources[${k}]`) }))),
    ...(opts.app ?? []).map((s, j) => ({ src: s.src, named: names.name(`app[${j}]`) })),
  ];
  const line = unappliedIgnoreWarning(sources, cwd, cwd);
  if (line) logger.warn(line);
}

/** Annotation keys must be non-empty; values are strings. */
function checkAnnotations(a: Record<string, string>, names: OptionNames): Record<string, string> {
  for (const [k, v] of Object.entries(a)) {
    // The CLI's KEY=VALUE; a library caller's object has a key "" or of blanks.
    if (k.trim() === '') throw new UsageError(`${names.about('annotations')}: the key is empty${names.op ? ` (got ${JSON.stringify(k)})` : ' (expected KEY=VALUE)'}`);
    if (typeof v !== 'string') throw new UsageError(`${names.about('annotations', k)}: the value must be a string`);
  }
  return { ...a };
}

/** The tags each target gets: the one in its reference (default latest), then the extra ones. */
export function tagRule(extra: readonly string[] | undefined): (ref: ImageReference) => string[] {
  const extraTags = (extra ?? []).map(checkTag);
  return (ref) => [...new Set([checkTag(ref.tag ?? 'latest'), ...extraTags])];
}
