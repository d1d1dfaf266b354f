/**
 * `regpush tags`, `regpush catalog`, `regpush digest`, `regpush tag`, `regpush untag` and
 * `regpush delete`: the everyday registry commands, thin shells over listTags()/
 * listRepositories()/digestOf()/tagImage()/untagImage()/deleteImage() in src/manage/.
 * Read-only commands use the source (`from`) credentials, writing commands the target (`to`)
 * ones; `--user/--password` (or --password-stdin) fill that role.
 */
import type { Argv } from 'yargs';
import type { SecretSet } from '../../redact.js';
import { PartialFailureError } from '../../errors.js';
import { parsePlatform } from '../../image/platform.js';
import type { ManageOptions, TagImageResult } from '../../manage/options.js';
import { commonContext, commonFlags, credentialFromUserFlags, type CommonArgs, type CommonContext, connectionOptions } from '../common.js';
import { defineFlags, withFlags } from '../flag-table.js';
import type { CliIO } from '../io.js';
import { printable } from '../terminal-text.js';
import { flagNames, type CommandLine } from '../../option-names.js';

/** --user/--password, shared by the commands; `role` names the env vars read without them. */
function userFlags(role: 'FROM' | 'TO') {
  return defineFlags({
    user: { type: 'string', describe: `Registry user name (else REGPUSH_${role}_USER/_PASSWORD, then the stored logins: Docker config, credential helpers, Podman auth.json)`, group: 'Credentials:' },
    password: { type: 'string', describe: 'Registry password (prefer --password-stdin)', group: 'Credentials:' },
  });
}

/** Flags of `regpush tags`. */
export const tagsFlags = defineFlags({
  ...commonFlags,
  ...userFlags('FROM'),
  repo: { positional: true, type: 'string', demandOption: true, describe: 'Repository, e.g. ghcr.io/acme/app (no tag)' },
  'page-size': { type: 'number', describe: 'Tags asked for per request; the registry\'s Link header leads to the next page (default 1000)', group: 'Connection:' },
});

/** Flags of `regpush catalog`. */
export const catalogFlags = defineFlags({
  ...commonFlags,
  ...userFlags('FROM'),
  registry: { positional: true, type: 'string', demandOption: true, describe: 'Registry host, e.g. registry.example.com:5000' },
  'page-size': { type: 'number', describe: 'Repositories asked for per request; the registry\'s Link header leads to the next page (default 1000)', group: 'Connection:' },
});

/** Flags of `regpush digest`. */
export const digestFlags = defineFlags({
  ...commonFlags,
  ...userFlags('FROM'),
  ref: { positional: true, type: 'string', demandOption: true, describe: 'Image reference, e.g. ghcr.io/acme/app:1' },
  platform: {
    type: 'string',
    describe:
      'The digest of this os/arch[/variant] image: the child an index lists for it (os(osversion)/arch also matches the OS version, exactly), ' +
      'or a single image of that platform (another is refused)',
  },
});

/** Flags of `regpush tag`. */
export const tagFlags = defineFlags({
  ...commonFlags,
  ...userFlags('TO'),
  ref: { positional: true, type: 'string', demandOption: true, describe: 'Image to tag (tag or digest)' },
  'new-tags': { positional: true, type: 'string', array: true, describe: 'New tag(s) in the same repository' },
});

/** Flags of `regpush untag`. */
export const untagFlags = defineFlags({
  ...commonFlags,
  ...userFlags('TO'),
  ref: { positional: true, type: 'string', demandOption: true, describe: 'Tag to remove, e.g. ghcr.io/acme/app:old (the manifest stays)' },
});

/** Flags of `regpush delete`. */
export const deleteFlags = defineFlags({
  ...commonFlags,
  ...userFlags('TO'),
  ref: { positional: true, type: 'string', demandOption: true, describe: 'Image to delete: REPO@sha256:… (a tag only with --force)' },
  force: { type: 'boolean', describe: 'Accept a tag: delete the manifest it points at, and with it every tag pointing there (named on stderr); also delete an image an index of the repository lists' },
});

/** The commands that do what untag's and delete's advice names (OptionNames.instead): the library's operation → command and flags. */
const MANAGE_COMMANDS = {
  'deleteImage()': { command: 'delete', flags: { force: '--force' } },
  'untagImage()': { command: 'untag' },
} satisfies Record<string, CommandLine>;

type UserArgs = CommonArgs & { user?: string; password?: string };

/** The context, credential and connection options every one of the six commands builds; `role` from what `command` does (reads, or writes). */
async function setUp(a: UserArgs, io: CliIO, command: 'tags' | 'catalog' | 'digest' | 'tag' | 'untag' | 'delete', secrets: SecretSet): Promise<{ ctx: CommonContext; opts: ManageOptions }> {
  const role = command === 'tag' || command === 'untag' || command === 'delete' ? 'to' : 'from';
  const ctx = commonContext(a, io, secrets);
  const cred = await credentialFromUserFlags(a, io, ctx.secrets, (m) => ctx.logger.warn(m));
  return {
    ctx,
    opts: {
      ...connectionOptions(a, io, ctx, command),
      credentials: role === 'from' ? { from: cred } : { to: cred },
    },
  };
}

/** `--json`: the result object as it is; described by $defs/<command>Output of src/cli/report.schema.json (tagsOutput, digestOutput…). */
const json = (io: CliIO, value: unknown) => io.stdout.write(JSON.stringify(value, null, 2) + '\n');

/** Registers tags, catalog, digest, tag, untag and delete. */
export function manageCommands(y: Argv, io: CliIO, done: (code: number) => void, secrets: SecretSet): Argv {
  return y
    .command(
      'tags <repo>',
      'List the tags of a repository (every page)',
      (c) =>
        withFlags(c, tagsFlags)
          .example('$0 tags ghcr.io/acme/app', 'One tag per line')
          .example('$0 tags --json registry.example.com:5000/acme/app | jq -r \'.tags[]\'', '{"repository", "tags"} as JSON')
          .example('$0 tags nginx', 'Docker Hub (docker.io/library/nginx)'),
      async (argv) => {
        const { listTags, checkPageSize } = await import('../../manage/manage.js');
        if (argv['page-size'] !== undefined) checkPageSize(argv['page-size'], '--page-size');
        const { opts } = await setUp(argv, io, 'tags', secrets);
        const result = await listTags(argv.repo, { ...opts, pageSize: argv['page-size'] });
        if (argv.json) json(io, result);
        else io.stdout.write(result.tags.map((t) => printable(t) + '\n').join(''));
        done(0);
      },
    )
    .command(
      'catalog <registry>',
      'List the repositories of a registry (its catalog, every page; not every registry offers one)',
      (c) =>
        withFlags(c, catalogFlags)
          .example('$0 catalog registry.example.com:5000', 'One repository per line')
          .example('$0 catalog --json harbor.example.com | jq -r \'.repositories[]\'', '{"registry", "repositories"} as JSON')
          .example('for r in $($0 catalog 10.0.0.5:5000); do $0 tags 10.0.0.5:5000/$r; done', 'Every tag of every repository'),
      async (argv) => {
        const { listRepositories, checkPageSize } = await import('../../manage/manage.js');
        if (argv['page-size'] !== undefined) checkPageSize(argv['page-size'], '--page-size');
        const { opts } = await setUp(argv, io, 'catalog', secrets);
        const result = await listRepositories(argv.registry, { ...opts, pageSize: argv['page-size'] });
        if (argv.json) json(io, result);
        else io.stdout.write(result.repositories.map((r) => printable(r) + '\n').join(''));
        done(0);
      },
    )
    .command(
      'digest <ref>',
      'Print the digest (sha256:…) a reference resolves to, from a manifest HEAD',
      (c) =>
        withFlags(c, digestFlags)
          .example('$0 digest ghcr.io/acme/app:1', 'sha256:… of the tag (the index\'s digest for a multi-platform image)')
          .example('echo "$REG_PASSWORD" | $0 digest --user ci --password-stdin registry.example.com/app:1', 'With credentials')
          .example('$0 digest --platform linux/arm64 ghcr.io/acme/app:1', 'sha256:… of its linux/arm64 image (what a pinned arm64 deploy names)')
          .example('$0 digest --json nginx:1.27', '{"reference", "digest", "mediaType", "size"}'),
      async (argv) => {
        const { digestOf } = await import('../../manage/manage.js');
        // Said in the flag's words before digestOf() would name its option (and before a password is read).
        if (argv.platform !== undefined) parsePlatform(argv.platform);
        const { opts } = await setUp(argv, io, 'digest', secrets);
        const result = await digestOf(argv.ref, { ...opts, ...(argv.platform !== undefined ? { platform: argv.platform } : {}) });
        if (argv.json) json(io, result);
        else io.stdout.write(result.digest + '\n');
        done(0);
      },
    )
    .command(
      'tag <ref> <new-tags..>',
      'Add tags to an image in its repository (manifest GET, then PUT of the same bytes; no blob is read)',
      (c) =>
        withFlags(c, tagFlags)
          .example('$0 tag ghcr.io/acme/app:1.4.2 1.4 1 latest', 'Move 1.4, 1 and latest to the image of 1.4.2')
          .example('$0 tag registry.example.com/app@sha256:… release', 'Tag a digest')
          .example('$0 tag --json registry.example.com/app:rc stable', '{"source", "digest", "mediaType", "tags", "tagsUnchanged", "tagsFailed", "references"}'),
      async (argv) => {
        const { tagImage } = await import('../../manage/manage.js');
        const { opts } = await setUp(argv, io, 'tag', secrets);
        const print = (result: TagImageResult) => {
          if (argv.json) json(io, result);
          else io.stdout.write(result.references.map((r) => `${r}@${result.digest}\n`).join(''));
        };
        // Some tags failed: the ones in place are still printed (--json: tagsFailed too), then the
        // error line; exit code 8, as push and copy with several targets.
        const result = await tagImage(argv.ref, argv['new-tags'] ?? [], opts).catch((err: unknown) => {
          if (err instanceof PartialFailureError) print(err.details.result as TagImageResult);
          throw err;
        });
        print(result);
        done(0);
      },
    )
    .command(
      'untag <ref>',
      'Remove one tag (DELETE of the tag; the manifest and its other tags stay). Not every registry deletes tags',
      (c) =>
        withFlags(c, untagFlags)
          .example('$0 untag registry.example.com/app:old', 'Remove tag old; the image stays, pullable by digest and by its other tags')
          .example('$0 untag --json ghcr.io/acme/app:rc1', '{"reference", "digest"}: the tag removed and the manifest it pointed at')
          .example(
            '$0 untag localhost:5000/app:old',
            'Exit 6 (E_UNSUPPORTED) at a registry that deletes by digest only (distribution 2.8): there, delete --force removes the manifest and every tag on it',
          ),
      async (argv) => {
        const { untagImageAs } = await import('../../manage/manage.js');
        const { opts } = await setUp(argv, io, 'untag', secrets);
        // The advice names `regpush delete --force`, where a library caller's names deleteImage().
        const result = await untagImageAs(argv.ref, opts, flagNames({}, 'untag', MANAGE_COMMANDS));
        if (argv.json) json(io, result);
        else io.stdout.write(`${result.reference}@${result.digest}\n`);
        done(0);
      },
    )
    .command(
      'delete <ref>',
      'Delete a manifest by digest (every tag pointing at it goes with it)',
      (c) =>
        withFlags(c, deleteFlags)
          .example('$0 delete registry.example.com/app@sha256:…', 'Delete by digest')
          .example('$0 delete --force registry.example.com/app:old', 'Resolve the tag, then delete its manifest (and every tag on it, named on stderr)')
          .example('$0 delete registry.example.com/app@$($0 digest registry.example.com/app:old)', 'The same, in two steps')
          .example('$0 delete --json ghcr.io/acme/app@sha256:…', 'Exit 6 (E_UNSUPPORTED) if the registry does not allow deletes, 3 if denied'),
      async (argv) => {
        const { deleteImageAs } = await import('../../manage/manage.js');
        const { opts } = await setUp(argv, io, 'delete', secrets);
        // The refusals name --force, the flag that gives deleteImage()'s `force`, and `regpush untag`.
        const result = await deleteImageAs(argv.ref, { ...opts, force: argv.force }, flagNames({ force: '--force' }, 'delete', MANAGE_COMMANDS));
        if (argv.json) json(io, result);
        else io.stdout.write(result.reference + '\n');
        done(0);
      },
    );
}
