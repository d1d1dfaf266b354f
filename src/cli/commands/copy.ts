/** `regpush copy SRC DST [DST…]`: promote an image byte for byte to one or more registries. */
import type { Argv } from 'yargs';
import type { CopyResult } from '../../copy/copy.js';
import { PartialFailureError } from '../../errors.js';
import { chunkSizeOption, commonContext, commonFlags, credentialFromFlags, idleTimeoutOption, readStdin, retriesOption, type CommonArgs } from '../common.js';
import { many } from '../flags.js';
import type { CliIO } from '../io.js';
import { createProgress } from '../progress.js';

interface CopyArgs extends CommonArgs {
  src: string;
  dst: string[];
  to?: unknown;
  tag?: unknown;
  platform?: string;
  referrers?: boolean;
  'all-tags'?: boolean;
  clobber?: boolean;
  jobs?: number;
  'chunk-size'?: string;
  'from-user'?: string;
  'from-password'?: string;
  'to-user'?: string;
  'to-password'?: string;
}

/** Report schema version of `copy --json`. */
export const COPY_REPORT_VERSION = 1;

/** Registers the copy command. */
export function copyCommand(y: Argv, io: CliIO, done: (code: number) => void): Argv {
  return y.command(
    'copy <src> [dst..]',
    'Copy an image or index exactly (same digest) to one or more registries, reading each blob once',
    (c) =>
      commonFlags(c)
        .positional('src', { type: 'string', demandOption: true, describe: 'Source image (tag or digest); a repository with --all-tags' })
        .positional('dst', { type: 'string', array: true, describe: 'Target image(s)' })
        .option('to', { type: 'string', describe: 'Another target; repeatable (same as extra DST arguments)' })
        .option('tag', { type: 'string', describe: 'Extra tag at every target; repeatable' })
        .option('platform', { type: 'string', describe: '"all" (default, digest kept) or os/arch[,os/arch…] for a new index (digest changes)' })
        .option('referrers', { type: 'boolean', describe: 'Also copy signatures, attestations and SBOMs referring to the image' })
        .option('all-tags', { type: 'boolean', describe: 'Copy every tag of the source repository' })
        .option('clobber', { type: 'boolean', default: true, describe: 'Move target tags that point elsewhere; --no-clobber refuses instead' })
        .option('jobs', { type: 'number', describe: 'Parallel blob transfers (default 4)', group: 'Connection:' })
        .option('chunk-size', { type: 'string', describe: 'Bytes per PATCH for registries that need chunked uploads, e.g. 5MiB (never below the registry\'s OCI-Chunk-Min-Length)', group: 'Connection:' })
        .option('from-user', { type: 'string', describe: 'User for the source registry', group: 'Credentials:' })
        .option('from-password', { type: 'string', describe: 'Password for the source registry', group: 'Credentials:' })
        .option('to-user', { type: 'string', describe: 'User for the target registries', group: 'Credentials:' })
        .option('to-password', { type: 'string', describe: 'Password for the target registries (prefer --password-stdin)', group: 'Credentials:' })
        .example('$0 copy staging.example.com/app:1.4 prod.example.com/app:1.4', 'Promote from staging to prod, digest unchanged')
        .example('$0 copy ghcr.io/acme/app:1 registry.cn-hangzhou.aliyuncs.com/acme/app:1 ccr.ccs.tencentyun.com/acme/app:1', 'One read, two targets')
        .example('$0 copy --referrers ghcr.io/acme/app:1 harbor.example.com/acme/app:1', 'With cosign signatures and SBOMs'),
    async (argv) => {
      const a = argv as unknown as CopyArgs;
      const { copy } = await import('../../copy/copy.js');
      const ctx = commonContext(a, io);
      const stdinPassword = a['password-stdin'] ? await readStdin(io) : undefined;
      const from = credentialFromFlags(a['from-user'], a['from-password'], 'from', ctx.secrets);
      const to = credentialFromFlags(a['to-user'], stdinPassword ?? a['to-password'], 'to', ctx.secrets);
      const targets = [...(a.dst ?? []), ...(many(a.to) ?? [])];
      const progress = createProgress(io, ctx.verbosity, !!a.json);
      let result: CopyResult;
      try {
        result = await copy({
          from: a.src,
          to: targets,
          tags: many(a.tag),
          platform: a.platform,
          referrers: a.referrers,
          allTags: a['all-tags'],
          noClobber: a.clobber === false,
          jobs: a.jobs,
          logger: ctx.logger,
          events: progress.events,
          env: io.env,
          insecureRegistries: a['insecure-registry'],
          credentials: { from, to },
          retries: retriesOption(a),
          chunkSize: chunkSizeOption(a['chunk-size']),
          idleTimeoutMs: idleTimeoutOption(io.env),
          signal: io.signal,
        });
      } catch (err) {
        // Partial failure: the targets that succeeded are still printed, then the error line.
        if (err instanceof PartialFailureError) printResult(io, a, err.details.result as CopyResult);
        throw err;
      } finally {
        progress.stop();
      }
      if (result.digestChanged && !a.json) ctx.logger.warn(`--platform made a new index: digest ${result.digest} differs from the source's ${result.source.digest}`);
      printResult(io, a, result);
      done(0);
    },
  );
}

function printResult(io: CliIO, a: CopyArgs, result: CopyResult): void {
  if (a.json) io.stdout.write(JSON.stringify({ reportVersion: COPY_REPORT_VERSION, command: 'copy', ...result }, null, 2) + '\n');
  else for (const t of result.targets) if (t.ok) io.stdout.write(t.reference + '\n');
}
