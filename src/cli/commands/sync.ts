/** `regpush sync FILE`: promote and mirror every image of a YAML or JSON file (library: sync()). */
import { readFile } from 'node:fs/promises';
import type { SecretSet } from '../../redact.js';
import path from 'node:path';
import type { Argv } from 'yargs';
import { InputError, RegpushError } from '../../errors.js';
import type { SyncEvents, SyncResult, SyncUnitReport } from '../../sync/options.js';
import { chunkSizeOption, commonContext, commonFlags, connectionOptions, cwdOf, type CommonContext } from '../common.js';
import { defineFlags, withFlags, type InferredArgs } from '../flag-table.js';
import { parseDurationMs } from '../duration.js';
import type { CliIO } from '../io.js';
import { withGcPacing } from '../gc-pacing.js';
import { isInteractive } from '../progress.js';
import { printable } from '../terminal-text.js';
import { referrersText, startClock, syncReport, type RunClock } from '../report.js';
import { flagNames } from '../../option-names.js';
import { connectionFlagNames } from '../connection-flags.js';

// A sync reads and writes many registries: credentials come from `regpush login` / the Docker
// config per registry, so the one-password flag of the other commands has no meaning here.
const { 'password-stdin': _noPasswordStdin, ...syncCommonFlags } = commonFlags;

/** Every flag and positional of `regpush sync`, in help order. */
export const syncFlags = defineFlags({
  ...syncCommonFlags,
  file: { positional: true, type: 'string', demandOption: true, describe: 'The sync file (YAML, or JSON when it ends in .json); see docs/sync.md' },
  shard: { type: 'string', describe: 'Take share I of N (I from 0): "I/N", or "/N" to read I from JOB_COMPLETION_INDEX (Kubernetes Indexed Job)' },
  'dry-run': { type: 'boolean', describe: 'Print what would be copied, skipped or mounted (an image a target lacks has its source manifests read to plan it); write nothing', group: 'Output:' },
  images: { type: 'number', describe: 'Images (source tags) in flight at once (default 4; an image whose manifest reads --min-ratelimit holds lends its slot meanwhile)', group: 'Connection:' },
  jobs: { type: 'number', describe: 'Blob transfers per image (default 4, and then blobs under 1 MiB move beside them); a value given bounds every blob', group: 'Connection:' },
  'min-ratelimit': {
    type: 'number',
    describe:
      "Keep N of the source's ratelimit-remaining (Docker Hub) in reserve: an image pulls (its first manifest GET) only when the count, " +
      'less the manifest GETs (pulls: one per platform of an index) of images under way not yet answered and its own, stays at N or above; ' +
      'an image its targets hold already needs HEADs only and is never held',
    group: 'Connection:',
  },
  'max-wait': {
    type: 'string',
    describe:
      'With --min-ratelimit (refused without it): how long to wait for the limit to recover before stopping, e.g. 10m (default 0: stop at once)',
    group: 'Connection:',
  },
  'chunk-size': { type: 'string', describe: 'Bytes per PATCH for registries that need chunked uploads, e.g. 5MiB', group: 'Connection:' },
});

/**
 * What sync's messages call its options: the flags that give them (option-names.ts,
 * OptionNames), and --json for the report. An entry's `platforms` is called --platform, as the
 * messages shared with copy have always said.
 */
const SYNC_FLAG_NAMES = flagNames({
  jobs: '--jobs',
  images: '--images',
  shard: '--shard',
  minRateLimit: '--min-ratelimit',
  maxWaitMs: '--max-wait',
  // sync has no --platform: an entry's `platforms` in the sync file is what keeps or leaves a platform out.
  platform: "the entry's platforms",
  'details.result': '--json',
});

/** The parsed arguments of `regpush sync`. */
type SyncArgs = InferredArgs<typeof syncFlags>;

/** Registers the sync command. */
export function syncCommand(y: Argv, io: CliIO, done: (code: number) => void, secrets: SecretSet): Argv {
  return y.command(
    'sync <file>',
    'Copy every image of a sync file to its targets: incremental, each blob read once per run, shardable',
    (c) =>
      withFlags(c, syncFlags)
        .example('$0 sync mirror.yaml', 'Mirror the images listed in mirror.yaml; unchanged ones cost HEADs only')
        .example('$0 sync --dry-run mirror.yaml', 'What would be copied, skipped or mounted')
        .example('$0 sync --json mirror.yaml', 'Per image and target: copied, skipped or failed; exit 8 if some failed')
        .example('$0 sync --shard 0/3 mirror.yaml', 'This machine takes one third of the images')
        .example('$0 sync --shard /3 mirror.yaml', 'Share from JOB_COMPLETION_INDEX')
        .example('$0 sync --min-ratelimit 20 --max-wait 30m hub.yaml', 'Keep 20 Docker Hub pulls in reserve'),
    async (argv) => {
      const clock = startClock();
      const a = argv;
      const ctx = commonContext(a, io, secrets);
      const [{ syncAs, checkGateOptions }, { parseSyncFileAs }, { parseShardAs }, { checkImages, checkJobs }] = await Promise.all([
        import('../../sync/sync.js'),
        import('../../sync/config.js'),
        import('../../sync/shard.js'),
        import('../../transfer/concurrency.js'),
      ]);
      // Checked before the sync file is read, so that a bad flag is said first (syncAs checks them again, worded the same).
      if (a.jobs !== undefined) checkJobs(a.jobs, '--jobs');
      if (a.images !== undefined) checkImages(a.images, '--images');
      const maxWaitMs = a['max-wait'] === undefined ? undefined : parseDurationMs(a['max-wait'], '--max-wait');
      checkGateOptions({ minRateLimit: a['min-ratelimit'], maxWaitMs }, SYNC_FLAG_NAMES);
      const spec = parseSyncFileAs(await readSyncFile(a.file, io), a.file, connectionFlagNames('sync'));
      const shard = a.shard === undefined ? undefined : parseShardAs(a.shard, io.env, SYNC_FLAG_NAMES);
      const display = unitDisplay(io, ctx.verbosity === 'quiet' || !!a.json, ctx);
      let result: SyncResult;
      try {
        result = await syncAs({
          spec,
          shard,
          images: a.images,
          jobs: a.jobs,
          dryRun: a['dry-run'],
          minRateLimit: a['min-ratelimit'],
          maxWaitMs,
          ...connectionOptions(a, io, ctx, 'sync'),
          events: withGcPacing(display),
          chunkSize: chunkSizeOption(a['chunk-size']),
        }, SYNC_FLAG_NAMES);
        display.close();
      } catch (err) {
        display.close();
        // A failure that comes with what was done (some images failed, the rate-limit gate stopped
        // the run, the one image of the file failed) still reports it, then the error line.
        const partial = err instanceof RegpushError ? (err.details.result as SyncResult | undefined) : undefined;
        if (partial) printResult(io, a, partial, clock, secrets);
        throw err;
      }
      printResult(io, a, result, clock, secrets);
      done(0);
    },
  );
}

async function readSyncFile(file: string, io: CliIO): Promise<string> {
  try {
    return await readFile(path.resolve(cwdOf(io), file), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (code ?? (err as Error).message);
    throw new InputError(`${file}: cannot read the sync file (${why})`, { details: { file } });
  }
}

/**
 * Progress on stderr, unless quiet or --json. In CI logs: a line when an image starts and one when
 * it ends. On a terminal: one status line redrawn in place (images done, in flight, failed), and
 * a permanent line only for a failure.
 */
function unitDisplay(io: CliIO, silent: boolean, ctx: Pick<CommonContext, 'logger' | 'secrets' | 'logSink'>): SyncEvents & { close(): void } {
  if (silent) return { close: () => undefined };
  // A unit line relays the registries' error messages, which may quote a credential, and may hold
  // what a terminal would obey (terminal-text.ts).
  const line = (u: SyncUnitReport) => printable(ctx.secrets.scrub(unitLine(u)));
  if (!isInteractive(io)) {
    return {
      unitStart: (source, i, total) => ctx.logger.info(`sync [${i}/${total}] ${source}`),
      unitEnd: (u) => io.stderr.write(line(u) + '\n'),
      close: () => undefined,
    };
  }
  let total = 0;
  let started = 0;
  let done = 0;
  let failed = 0;
  let shown = false;
  let last = '';
  const draw = (source: string) => {
    last = source;
    const status = `sync: ${done}/${total} images done, ${started - done} in flight, ${failed} failed  ${printable(source)}`;
    io.stderr.write(`\r\x1b[K${status.slice(0, Math.max(20, (io.stderr.columns || 80) - 1))}`);
    shown = true;
  };
  // The status line has no newline: a log line (a warning, --debug) written after it would be
  // glued to it. It takes the status line's place, and the status line is drawn again below it.
  const previous = ctx.logSink.write;
  ctx.logSink.write = (text) => {
    if (!shown) return previous(text);
    io.stderr.write(`\r\x1b[K${text}`);
    draw(last);
  };
  return {
    unitStart: (source, i, n) => {
      total = n;
      started = i;
      draw(source);
    },
    unitEnd: (u) => {
      // Every unit has its unitStart first, one that failed before any started (its entry's tags
      // not listed, a clash) included: it is one of the `total`, done and failed.
      done++;
      if (!u.ok) {
        failed++;
        io.stderr.write(`\r\x1b[K${line(u)}\n`);
      }
      draw(u.source);
    },
    close: () => {
      ctx.logSink.write = previous;
      if (shown) io.stderr.write('\r\x1b[K');
    },
  };
}

/** "docker.io/library/nginx:1.27 → prod/mirror/library/nginx:1.27 copied (2 mounted, 3 streamed, 12.3 MB; 4 referrers); …" */
function unitLine(u: SyncUnitReport): string {
  if (u.error) return `sync: ${u.source}: FAILED ${u.error.code}: ${u.error.message}`;
  const parts = u.targets.map((t) => {
    if (t.action === 'failed') return `${t.target} FAILED ${t.error?.code}: ${t.error?.message}`;
    const said = [
      t.mounted || t.streamed ? `${t.mounted} mounted, ${t.streamed} streamed, ${mb(t.bytes)}` : '',
      referrersText(t.referrers, t.referrersSkipped),
      t.writeNotChecked ? 'write permission not checked' : '',
    ].filter(Boolean);
    // The report's `skipped` is a target that holds the image already: a CI log says so in the
    // summary's words, as push and copy do ("up to date"), not as something left out.
    return `${t.target} ${t.action === 'skipped' ? 'up to date' : t.action}${said.length ? ` (${said.join('; ')})` : ''}`;
  });
  return `sync: ${u.source}${u.sourceDigest && !u.source.includes('@') ? `@${u.sourceDigest.slice(0, 19)}` : ''} → ${parts.join('; ')}`;
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

function printResult(io: CliIO, a: SyncArgs, r: SyncResult, clock: RunClock, secrets: SecretSet): void {
  if (a.json) {
    io.stdout.write(secrets.scrub(JSON.stringify(syncReport(r, clock), null, 2)) + '\n');
    return;
  }
  const t = r.totals;
  // The counts are per target: with images of several targets they are not image counts, and
  // "200 images: 400 copied" would read as a miscount without saying so.
  const perTarget = t.copied + t.skipped + t.planned + t.failed !== t.units ? 'per target, ' : '';
  io.stdout.write(
    `${r.dryRun ? 'plan' : 'synced'}: ${t.units} image${t.units === 1 ? '' : 's'} ` +
      `(${t.entries} ${t.entries === 1 ? 'entry' : 'entries'}${r.shard ? `, shard ${r.shard.index}/${r.shard.count}` : ''}): ` +
      `${perTarget}${r.dryRun ? `${t.planned} to copy` : `${t.copied} copied`}, ${t.skipped} up to date, ${t.failed} failed; ` +
      `${mb(t.bytesRead)} read, ${t.mounted} blob${t.mounted === 1 ? '' : 's'} mounted, ${t.streamed} streamed` +
      `${t.referrers || t.referrersSkipped ? `; ${referrersText(t.referrers, t.referrersSkipped)}` : ''}` +
      // Said where a CI log's reader looks: a mistyped filter otherwise reads as a quiet hour.
      `${r.noMatch?.length ? `; ${r.noMatch.length} ${r.noMatch.length === 1 ? 'entry' : 'entries'} matched no tag` : ''}\n`,
  );
  // A plan's "to copy" is no promise that the writes will be taken: where the credentials' rights
  // could not be read, said once per reason, with the registries it is about (--json: per target).
  // Registries, not repositories: why the rights cannot be read is how the registry takes
  // credentials (Basic, none asked on the reads, a token without an access claim), alike for its
  // repositories, and a sync writes to many; each image's line says it for its own targets.
  const unchecked = new Map<string, Set<string>>();
  for (const u of r.units) for (const t of u.targets) if (t.writeNotChecked) unchecked.set(t.writeNotChecked, (unchecked.get(t.writeNotChecked) ?? new Set()).add(t.target.split('/')[0]!));
  for (const [why, at] of unchecked) io.stdout.write(printable(`write permission not checked at ${[...at].join(', ')}: ${why}`) + '\n');
}
