/**
 * What the hints of a failed connection call the CLI's settings: its flags (--ca-cert,
 * --client-cert, --tls-verify, --insecure-registry, the user flags, --jobs). Every command hands
 * them to the library as the `connectionNames` connection option (connectionOptions in common.ts),
 * and the registries.conf reader gets them for its notes (mirror-flags.ts); without them the
 * hints name the library's options (connectionOptionNames in src/options-check.ts).
 */
import type { ConnectionNames } from '../options-check.js';

export const CONNECTION_FLAG_NAMES: ConnectionNames = {
  caCert: (host) => `--ca-cert ${host}=PATH`,
  clientCert: (host) => `--client-cert ${host}=CERT,KEY`,
  verifyOff: (host) => `--tls-verify ${host}=false`,
  verifiedOffBy: (host) => `--tls-verify ${host}=false`,
  insecure: (host) => `--insecure-registry ${host}`,
  insecureSetting: '--insecure-registry',
  // Worded for every command at once (the hint is made below the command layer): `tags` has no --from-user.
  credentials: (registry) =>
    `\`regpush login ${registry}\`, the command's user flag with --password-stdin (--user for tags, catalog, digest, tag, delete and inspect; --from-user/--to-user for push and copy), or the REGPUSH_* env vars`,
  jobs: '--jobs',
  inspect: '`regpush inspect REF`',
};
