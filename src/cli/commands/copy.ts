/** `regpush copy SRC DST [DST…]`: promote an image byte for byte to one or more registries. */
import type { Argv } from 'yargs';
import type { SecretSet } from '../../redact.js';
import type { CopyResult } from '../../copy/options.js';
import { PartialFailureError } from '../../errors.js';
import { chunkSizeOption, commonContext, commonFlags, cwdOf, transferCredentialFlags, transferCredentials, connectionOptions } from '../common.js';
import { defineFlags, withFlags, type InferredArgs } from '../flag-table.js';
import { many } from '../flags.js';
import type { CliIO } from '../io.js';
import { printable } from '../terminal-text.js';
import { withGcPacing } from '../gc-pacing.js';
import { createProgress } from '../progress.js';
import { checkDigestFileFlag, checkDigestFileTarget, copyReport, referrersText, startClock, writeDigestFile, type RunClock } from '../report.js';
import { flagNames } from '../../option-names.js';

/** Every flag and positional of `regpush copy`, in help order. */
export const copyFlags = defineFlags({
  ...commonFlags,
  ...transferCredentialFlags('the source registry', 'the target registries'),
  src: { positional: true, type: 'string', demandOption: true, describe: 'Source image (tag or digest); a repository with --all-tags' },
  dst: { positional: true, type: 'string', array: true, describe: 'Target image(s)' },
  to: { type: 'string', repeatable: true, describe: 'Another target; repeatable (same as extra DST arguments)' },
  tag: { type: 'string', repeatable: true, describe: 'Extra tag at every target; repeatable' },
  'dry-run': { type: 'boolean', describe: 'Read the source, HEAD every blob at every target and print the plan; write nothing', group: 'Output:' },
  'digest-file': { type: 'string', describe: 'Also write the copied digest (sha256:…) to this file', group: 'Output:', check: checkDigestFileFlag },
  format: { choices: ['oci', 'docker'], once: true, describe: 'Convert manifests and indexes to OCI or Docker media types (the digest changes; blobs are the same, so still skipped or mounted)' },
  platform: {
    type: 'string',
    describe:
      '"all" (default, digest kept) or os/arch[/variant][,…] for a new index (digest changes); ' +
      'os(osversion)/arch, e.g. windows(10.0.20348.2227)/amd64, also matches the OS version, exactly',
  },
  referrers: {
    type: 'boolean',
    describe:
      'Also copy signatures, attestations and SBOMs referring to the image and its platform manifests, and what refers to those ' +
      '(a signature of an SBOM; at most 8 levels, 1000 referrers); not those of a manifest --format or --platform writes under a new digest ' +
      '(they name the source digest; a warning says how many)',
  },
  'all-tags': { type: 'boolean', describe: 'Copy every tag of the source repository' },
  clobber: {
    type: 'boolean',
    default: true,
    describe:
      'Move target tags that point elsewhere; --no-clobber refuses instead ' +
      "(a referrer's tag, cosign .sig/.att, the target holds for another manifest is kept, with a warning)",
  },
  jobs: {
    type: 'number',
    describe:
      'Parallel blob transfers (default 4, and then blobs under 1 MiB move beside them; per tag with --all-tags); a value given bounds every blob',
    group: 'Connection:',
  },
  images: { type: 'number', describe: 'With --all-tags: tags copied at once, 1-64 (default 4), as sync\'s --images', group: 'Connection:' },
  'chunk-size': { type: 'string', describe: 'Bytes per PATCH for registries that need chunked uploads, e.g. 5MiB (never below the registry\'s OCI-Chunk-Min-Length)', group: 'Connection:' },
});

/** What copy's messages call its options: the flags that give them (option-names.ts, OptionNames). */
const COPY_FLAG_NAMES = flagNames({
  // A target is a DST argument or a --to: named for both.
  to: 'copy target',
  tags: '--tag',
  platform: '--platform',
  format: '--format',
  referrers: '--referrers',
  allTags: '--all-tags',
  noClobber: '--no-clobber',
  jobs: '--jobs',
  images: '--images',
}, 'copy');

/** The parsed arguments of `regpush copy`. */
type CopyArgs = InferredArgs<typeof copyFlags>;

/** Registers the copy command. */
export function copyCommand(y: Argv, io: CliIO, done: (code: number) => void, secrets: SecretSet): Argv {
  return y.command(
    'copy <src> [dst..]',
    'Copy an image or index exactly (same digest) to one or more registries, reading each blob once',
    (c) =>
      withFlags(c, copyFlags)
        .example('$0 copy staging.example.com/app:1.4 prod.example.com/app:1.4', 'Promote from staging to prod, digest unchanged')
        .example('$0 copy ghcr.io/acme/app:1 registry.cn-hangzhou.aliyuncs.com/acme/app:1 ccr.ccs.tencentyun.com/acme/app:1', 'One read, two targets')
        .example('$0 copy --referrers ghcr.io/acme/app:1 harbor.example.com/acme/app:1', 'With cosign signatures and SBOMs')
        .example('$0 copy docker.io/library/nginx:1.27 123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/nginx:1.27', 'Docker Hub → Amazon ECR (a mirror, every platform, same digest)')
        .example('$0 copy --dry-run --json ghcr.io/acme/app:1 registry.example.com:5000/acme/app:1', 'GHCR → a private registry: the plan only, nothing written')
        .example('$0 copy --json --digest-file app.digest staging.example.com/app:1 prod-eu.example.com/app:1 prod-us.example.com/app:1', 'Exit code 8 if some targets failed; the report says which'),
    async (argv) => {
      const clock = startClock();
      const a = argv;
      const [{ copyAs }, { checkImages, checkJobs }] = await Promise.all([import('../../copy/copy.js'), import('../../transfer/concurrency.js')]);
      const ctx = commonContext(a, io, secrets);
      // Checked before a password is read from stdin, so that a bad flag is said first (copyAs checks them again, worded the same).
      if (a.jobs !== undefined) checkJobs(a.jobs, '--jobs');
      if (a.images !== undefined) checkImages(a.images, '--images');
      if (a['digest-file'] !== undefined) await checkDigestFileTarget(a['digest-file'], cwdOf(io));
      const { from, to } = await transferCredentials(a, io, ctx.secrets, (m) => ctx.logger.warn(m));
      const targets = [...(a.dst ?? []), ...(many(a.to) ?? [])];
      const progress = await createProgress(io, ctx, !!a.json, targets.length);
      let result: CopyResult;
      try {
        result = await copyAs({
          from: a.src,
          to: targets,
          tags: many(a.tag),
          platform: a.platform,
          format: a.format,
          referrers: a.referrers,
          allTags: a['all-tags'],
          noClobber: a.clobber === false,
          dryRun: a['dry-run'],
          jobs: a.jobs,
          images: a.images,
          ...connectionOptions(a, io, ctx, 'copy'),
          events: withGcPacing(progress.events),
          credentials: { from, to },
          chunkSize: chunkSizeOption(a['chunk-size']),
        }, COPY_FLAG_NAMES);
        progress.stop(true);
      } catch (err) {
        progress.stop(false);
        // Partial failure: the targets that succeeded are still printed (and the digest file
        // written for them), then the error line; exit code 8.
        if (err instanceof PartialFailureError) {
          const partial = err.details.result as CopyResult;
          printResult(io, a, partial, clock, secrets, ctx.logger);
          if (a['digest-file'] && !partial.dryRun) await writeDigestFile(a['digest-file'], partial.digest, cwdOf(io));
        }
        throw err;
      }
      if (result.digestChanged && !a.json) {
        const how = a.format ? `--format ${a.format} converted the manifests` : '--platform made a new index';
        ctx.logger.warn(`${how}: digest ${result.digest} differs from the source's ${result.source.digest}`);
      }
      printResult(io, a, result, clock, secrets, ctx.logger);
      if (a['digest-file']) {
        if (result.dryRun) ctx.logger.warn(`--dry-run copied nothing; ${a['digest-file']} not written`);
        else await writeDigestFile(a['digest-file'], result.digest, cwdOf(io));
      }
      done(0);
    },
  );
}

/**
 * stdout is the result only (one `repo@sha256:…` line per target, which scripts read); the
 * referrers a target got and those left behind, the JSON report's counts, go to stderr with the
 * other human lines, as sync's unit lines do (so --quiet leaves them out).
 */
function printResult(io: CliIO, a: CopyArgs, result: CopyResult, clock: RunClock, secrets: SecretSet, logger: { info(m: string): void }): void {
  if (a.json) io.stdout.write(secrets.scrub(JSON.stringify(copyReport(result, clock), null, 2)) + '\n');
  // The plan relays a failing target's error message, as the report does: scrubbed the same way.
  else if (result.dryRun) io.stdout.write(secrets.scrub(copyPlanText(result)));
  else {
    for (const t of result.targets) {
      if (!t.ok) continue;
      io.stdout.write(t.reference + '\n');
      const referrers = referrersText(t.referrers, t.referrersSkipped);
      if (referrers) logger.info(`copy → ${t.target}: ${referrers}`);
    }
  }
}

/**
 * The human plan printed by `copy --dry-run`: per target, its tags (each that already holds the
 * image said so: the report's tagsUnchanged) and, with --referrers, the referrers the walk found
 * that it would copy and leave behind (the report's counts, worded as a copy's stderr line), then
 * one line per blob.
 */
export function copyPlanText(r: CopyResult): string {
  const lines = [`plan: copy ${r.source.reference}@${r.source.digest}${r.digestChanged ? ` (new index ${r.digest})` : ''}`];
  for (const t of r.targets) {
    const referrers = referrersText(t.referrers, t.referrersSkipped);
    const held = new Set(t.tagsUnchanged);
    // A target that holds the image under every tag already writes nothing (it read as if it
    // would be written); one that holds it under some tags writes only the others.
    const tags =
      held.size > 0 && held.size === t.tags.length && t.blobs.length === 0
        ? `${t.tags.join(', ')}, up to date: nothing to write`
        : t.tags.map((tag) => (held.has(tag) ? `${tag} (already holds the image)` : tag)).join(', ');
    lines.push(`→ ${t.target}${t.ok ? `  tags: ${tags}${referrers ? `  (${referrers})` : ''}` : `  FAILS: ${t.error?.code} ${t.error?.message}`}`);
    if (t.ok && t.writeNotChecked) lines.push(`  write permission not checked: ${t.writeNotChecked}`);
    for (const b of t.blobs) lines.push(`  ${b.action.replace('planned-', '').padEnd(8)} ${b.digest}  ${b.size} bytes`);
  }
  // A failing target's message is its registry's: printable (terminal-text.ts).
  return lines.map((l) => printable(l)).join('\n') + '\n';
}
