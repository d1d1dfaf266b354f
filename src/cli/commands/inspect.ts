/** `regpush inspect REF`: describe an image or index without pulling layers. */
import type { Argv } from 'yargs';
import type { SecretSet } from '../../redact.js';
import { UsageError } from '../../errors.js';
import { parsePlatform } from '../../image/platform.js';
import type { InspectResult } from '../../inspect/options.js';
import { commonContext, commonFlags, credentialFromUserFlags, connectionOptions } from '../common.js';
import { defineFlags, withFlags } from '../flag-table.js';
import type { CliIO } from '../io.js';
import { printable } from '../terminal-text.js';

/** Every flag and positional of `regpush inspect`, in help order. */
export const inspectFlags = defineFlags({
  ...commonFlags,
  ref: { positional: true, type: 'string', demandOption: true, describe: 'Image reference, e.g. alpine:3 or ghcr.io/org/app@sha256:…' },
  raw: { type: 'boolean', describe: 'Print the exact manifest bytes' },
  config: { type: 'boolean', describe: 'Print the exact config bytes' },
  platform: { type: 'string', describe: 'Pick os/arch[/variant] from an index; os(osversion)/arch also matches the OS version, exactly' },
  user: { type: 'string', describe: 'Registry user name (without it: REGPUSH_USER/REGPUSH_PASSWORD, else the REGPUSH_TO_* pair, else REGPUSH_FROM_*, else regpush login)', group: 'Credentials:' },
  password: { type: 'string', describe: 'Registry password (prefer --password-stdin)', group: 'Credentials:' },
});

/** Registers the inspect command. */
export function inspectCommand(y: Argv, io: CliIO, done: (code: number) => void, secrets: SecretSet): Argv {
  return y.command(
    'inspect <ref>',
    'Show what an image reference resolves to: digest, media type, platforms, config, layers',
    (c) =>
      withFlags(c, inspectFlags)
        .check((a) => {
          checkOutputFlags(a);
          return true;
        })
        .example('$0 inspect 127.0.0.1:5000/base/busybox:v2s2', 'Summary of an image in a local registry')
        .example('$0 inspect --platform linux/arm64 --json ghcr.io/org/app:1', 'One child of a multi-arch index, as JSON')
        .example('$0 inspect nginx:1.27', 'Docker Hub (docker.io/library/nginx:1.27)')
        .example('$0 inspect --raw registry.cn-hangzhou.aliyuncs.com/acme/app:1 | sha256sum', 'The exact manifest bytes (their sha256 is the digest)')
        .example('$0 inspect --config ccr.ccs.tencentyun.com/acme/app:1', 'The exact config of an image in Tencent TCR')
        .example('$0 inspect 123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1', 'Amazon ECR (credentials from docker-credential-ecr-login)'),
    async (argv) => {
      const a = argv;
      const { inspect } = await import('../../inspect/inspect.js');
      const ctx = commonContext(a, io, secrets);
      // Said in the flag's words before inspect() would name its option (and before a password is read).
      if (a.platform !== undefined) parsePlatform(a.platform);
      const from = await credentialFromUserFlags(a, io, ctx.secrets, (m) => ctx.logger.warn(m));
      const result = await inspect(a.ref, {
        platform: a.platform,
        only: a.raw ? 'manifest' : a.config ? 'config' : undefined,
        ...connectionOptions(a, io, ctx, 'inspect'),
        credentials: { from },
      });
      if (a.raw) io.stdout.write(result.raw);
      else if (a.config) {
        if (!result.configRaw) {
          throw new UsageError(`${result.reference} is an index; add --platform to pick an image whose config to print`);
        }
        io.stdout.write(result.configRaw);
      } else if (a.json) io.stdout.write(JSON.stringify(inspectJson(result), null, 2) + '\n');
      else io.stdout.write(inspectText(result));
      done(0);
    },
  );
}

/** What each of inspect's output flags prints, for the refusal of two of them together. */
const OUTPUTS = [
  ['raw', 'the exact manifest bytes'],
  ['config', 'the exact config bytes'],
  ['json', 'the summary as JSON'],
] as const;

/**
 * --raw, --config and --json each choose what inspect prints: two of them are refused, in the
 * wording of the CLI's other exclusive flags, with what each would print (yargs' own "Arguments
 * raw and json are mutually exclusive" named neither flag as one).
 */
function checkOutputFlags(a: { raw?: boolean; config?: boolean; json?: boolean }): void {
  const given = OUTPUTS.filter(([name]) => a[name] === true).map(([name, what]) => `--${name} (${what})`);
  if (given.length === 2) throw new UsageError(`give either ${given[0]} or ${given[1]}, not both`);
  if (given.length > 2) throw new UsageError(`give one of ${given.slice(0, -1).join(', ')} or ${given.at(-1)}, not several`);
}

/** The JSON shape of `inspect --json` (raw bytes left out); described by $defs/inspectOutput of src/cli/report.schema.json. */
function inspectJson(r: InspectResult): Record<string, unknown> {
  const { raw: _raw, configRaw: _configRaw, ...rest } = r;
  return rest;
}

/**
 * Human-readable summary. Every string in it but our own labels comes from the registry or the
 * image, so each line is made printable (terminal-text.ts): a label value cannot add a line.
 */
function inspectText(r: InspectResult): string {
  const lines: string[] = [];
  const kv = (k: string, v: unknown) => lines.push(`${(k + ':').padEnd(14)}${v}`);
  kv('Reference', r.reference);
  kv('Digest', r.digest);
  kv('MediaType', r.mediaType);
  if (r.indexDigest) kv('Index', r.indexDigest);
  if (r.artifactType) kv('ArtifactType', r.artifactType);
  if (r.manifests) {
    lines.push('Manifests:');
    for (const m of r.manifests) lines.push(`  ${m.digest}  ${(m.platformName ?? '-').padEnd(16)} ${m.size}  ${m.mediaType}${m.artifactType ? `  ${m.artifactType}` : ''}`);
  }
  if (r.config && r.kind === 'artifact') {
    // An artifact's config is of its own type: its descriptor and the layers are all there is to show.
    kv('Config', `${r.config.digest} (${r.config.size} bytes, ${r.config.mediaType})`);
    lines.push('Layers:');
    for (const l of r.layers ?? []) lines.push(`  ${l.digest}  ${String(l.size).padStart(12)}  ${l.mediaType}`);
  } else if (r.config) {
    const c = r.config;
    kv('Platform', [c.os, c.architecture, c.variant].filter(Boolean).join('/'));
    kv('Config', `${c.digest} (${c.size} bytes)`);
    if (c.created) kv('Created', c.created);
    lines.push('Layers:');
    for (const l of r.layers ?? []) lines.push(`  ${l.digest}  ${String(l.size).padStart(12)}  ${l.mediaType}`);
    kv('Entrypoint', JSON.stringify(c.Entrypoint ?? null));
    kv('Cmd', JSON.stringify(c.Cmd ?? null));
    kv('WorkingDir', c.WorkingDir ?? '');
    kv('User', c.User ?? '');
    kv('ExposedPorts', Object.keys(c.ExposedPorts ?? {}).join(' '));
    lines.push('Env:');
    for (const e of c.Env ?? []) lines.push(`  ${e}`);
    lines.push('Labels:');
    for (const [k, v] of Object.entries(c.Labels ?? {})) lines.push(`  ${k}=${v}`);
  }
  return lines.map((l) => printable(l)).join('\n') + '\n';
}
