/**
 * What the hints of a failed connection call the CLI's settings: its flags (--ca-cert,
 * --client-cert, --tls-verify, --insecure-registry, the command's user flags, --jobs). Every
 * command hands them to the library as the `connectionNames` connection option
 * (connectionOptions in common.ts, with connectionFlagNames(command)), and the registries.conf
 * reader gets them for its notes (mirror-flags.ts); without them the hints name the library's
 * options (connectionOptionNames in src/option-names.ts). The library leaves out what the
 * operation does not have (transportFor's HintedSettings): --jobs at inspect, the user flags at
 * login.
 */
import type { ConnectionNames } from '../option-names.js';

/** The flags every command shares, without the user flags (those are a command's own: connectionFlagNames). */
export const CONNECTION_FLAG_NAMES: ConnectionNames = {
  caCert: (host) => `--ca-cert ${host}=PATH`,
  clientCert: (host) => `--client-cert ${host}=CERT,KEY`,
  caCertSetting: '--ca-cert',
  clientCertSetting: '--client-cert',
  verifyOff: (host) => `--tls-verify ${host}=false`,
  verifiedOffBy: (host) => `--tls-verify ${host}=false`,
  insecure: (host) => `--insecure-registry ${host}`,
  insecureSetting: '--insecure-registry',
  jobs: '--jobs',
  inspect: '`regpush inspect REF`',
  tags: '`regpush tags REPO`',
  tagsOf: (repository) => `regpush tags ${repository}`,
  copy: '`regpush copy`',
  // registries.conf's locations take no scheme: an http:// mirror comes from one of these two.
  mirrors: "--registry-mirror (or daemon.json's registry-mirrors)",
};

/** The commands that connect to a registry. */
export type ConnectingCommand = 'push' | 'copy' | 'sync' | 'inspect' | 'tags' | 'catalog' | 'digest' | 'tag' | 'untag' | 'delete' | 'login';

/**
 * How each command takes credentials besides a stored login (`regpush login`): its user flags and
 * the env vars it reads (docs/credentials.md). --password-stdin gives push's and copy's target
 * password; sync has no user flags; login checks the credentials it is given, so its hints name none.
 */
const USER_FLAGS: Record<Exclude<ConnectingCommand, 'login'>, string[]> = {
  push: ['--from-user/--from-password for the base image', '--to-user with --password-stdin for the target', 'the REGPUSH_FROM_*/REGPUSH_TO_* env vars'],
  copy: ['--from-user/--from-password for the source', '--to-user with --password-stdin for the targets', 'the REGPUSH_FROM_*/REGPUSH_TO_* env vars'],
  sync: ['the REGPUSH_FROM_* (sources) and REGPUSH_TO_* (targets) env vars'],
  inspect: ['--user with --password-stdin', 'the REGPUSH_* env vars'],
  tags: ['--user with --password-stdin', 'the REGPUSH_FROM_* env vars'],
  catalog: ['--user with --password-stdin', 'the REGPUSH_FROM_* env vars'],
  digest: ['--user with --password-stdin', 'the REGPUSH_FROM_* env vars'],
  tag: ['--user with --password-stdin', 'the REGPUSH_TO_* env vars'],
  untag: ['--user with --password-stdin', 'the REGPUSH_TO_* env vars'],
  delete: ['--user with --password-stdin', 'the REGPUSH_TO_* env vars'],
};

/**
 * What the CLI adds to a login failure that does not say what to do yet (main.ts's errorLine), and
 * what the library adds to a refusal of the credentials when the CLI runs it (ConnectionNames.refused):
 * one wording for both, as it always was.
 */
export function loginAdvice(registry: string): string {
  return `check the credentials or run \`regpush login ${registry}\``;
}

/** The flags that give `command` its credentials for `role` (ConnectionNames.givenCredentials). */
const GIVEN_FLAGS: Record<Exclude<ConnectingCommand, 'login' | 'sync'>, (role: 'from' | 'to' | 'read') => string> = {
  push: (role) => (role === 'to' ? '--to-user/--to-password (or --password-stdin)' : '--from-user/--from-password'),
  copy: (role) => (role === 'to' ? '--to-user/--to-password (or --password-stdin)' : '--from-user/--from-password'),
  inspect: () => '--user/--password (or --password-stdin)',
  tags: () => '--user/--password (or --password-stdin)',
  catalog: () => '--user/--password (or --password-stdin)',
  digest: () => '--user/--password (or --password-stdin)',
  tag: () => '--user/--password (or --password-stdin)',
  untag: () => '--user/--password (or --password-stdin)',
  delete: () => '--user/--password (or --password-stdin)',
};

/** The names `command`'s hints give: the shared flags, and the user flags of that command alone. */
export function connectionFlagNames(command: ConnectingCommand): ConnectionNames {
  if (command === 'login') return CONNECTION_FLAG_NAMES;
  const ways = USER_FLAGS[command];
  return {
    ...CONNECTION_FLAG_NAMES,
    credentials: (registry) => [`\`regpush login ${registry}\``, ...ways.slice(0, -1), `or ${ways.at(-1)}`].join(', '),
    refused: loginAdvice,
    // sync has no user flags: its credentials are given in REGPUSH_* variables only.
    ...(command === 'sync' ? {} : { givenCredentials: GIVEN_FLAGS[command] }),
  };
}
