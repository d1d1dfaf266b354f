/**
 * What messages call the settings a caller used: option paths for a library caller, flags for the
 * CLI (OptionNames, for the operations), and the names the hints of a failed connection give the
 * settings that would fix it (ConnectionNames, for the layers below the operations). Wording only:
 * the options' checks are in options-check.ts. A leaf: it imports nothing.
 */

/**
 * What messages call the options a caller gave. A library caller gave options: a message names
 * the option path (`push(): to`, `layers[1] (./deps:/deps)`) and advice says how to set one
 * (`format: "oci"`). The CLI gave flags: `--to`, `--layer ./deps:/deps`, `--format oci`. The
 * operations word every message about an option through this, so that each names what its caller
 * used: the library's entry points pass optionPaths("push()"), and the CLI calls the same code with
 * flagNames() of its own flags (src/cli/commands/*.ts). Nothing else tells the two apart.
 */
export interface OptionNames {
  /** The library operation ("push()"); undefined for the CLI, whose messages name its flags alone. */
  readonly op: string | undefined;
  /** For the CLI, the command ("copy"), where advice says what to run again; the library's is `op`. */
  readonly command?: string;
  /**
   * Option `path` ("to", "layers[1]", "config.env[0]"), with `detail` where that tells entries
   * apart: `layers[1] (./deps:/deps)`; for the CLI `--layer ./deps:/deps`.
   */
  name(path: string, detail?: string): string;
  /** name() starting a message: `push(): to`; for the CLI `--to`, as name() says it. */
  about(path: string, detail?: string): string;
  /** Option `path` given `value`, as advice: `format: "oci"`, `force: true`; for the CLI `--format oci`, `--force`. */
  set(path: string, value: string | number | boolean): string;
  /**
   * What to run instead, in advice: the library's operation `op` ("deleteImage()") on `reference`,
   * with the options `set` (paths and values): `deleteImage("reg/app:1", { force: true })`; for the
   * CLI, the command that does it, from the commands its names were given (flagNames):
   * `` `regpush delete --force reg/app:1` ``.
   */
  instead(op: string, reference: string, set?: Readonly<Record<string, string | number | boolean>>): string;
  /**
   * The file the CLI read option `path` from (`regpush.json`) where no flag gave it: a bad value
   * there is the file's mistake, E_INPUT, where a flag's or a library option's is E_USAGE
   * (src/errors.ts). Absent, or undefined for a path: the caller gave it.
   */
  fileOf?(path: string): string | undefined;
}

/** The CLI's command for a library operation (flagNames' `commands`): its name, and the flags that give its options. */
export interface CommandLine {
  readonly command: string;
  readonly flags?: Readonly<Record<string, string>>;
}

/**
 * The library's names for operation `op` ("push()"): option paths. `aliases` spell a path another
 * way where this operation's option is another (sync's images carry `platforms` where copy has
 * `platform`).
 */
export function optionPaths(op: string, aliases: Readonly<Record<string, string>> = {}): OptionNames {
  const path = (p: string): string => aliases[p] ?? p;
  const name = (p: string, detail?: string): string => `${path(p)}${detail === undefined ? '' : ` (${detail})`}`;
  return { op, name, about: (p, detail) => `${op}: ${name(p, detail)}`, set: (p, v) => `${path(p)}: ${JSON.stringify(v)}`, instead: libraryCall };
}

/** OptionNames.instead for a library caller: the call, its options written as an object literal. */
function libraryCall(op: string, reference: string, set: Readonly<Record<string, string | number | boolean>> = {}): string {
  const options = Object.entries(set).map(([p, v]) => `${p}: ${JSON.stringify(v)}`);
  return `${op.replace(/\(\)$/, '')}(${[JSON.stringify(reference), ...(options.length ? [`{ ${options.join(', ')} }`] : [])].join(', ')})`;
}

/**
 * The CLI's names: `flags` maps option paths, without their indexes (`layers`, `config.env`), to
 * the flag each is given by (`--layer`, `--env`). A path no flag gives keeps its own spelling.
 * `commands`: the command of each library operation advice may name (`deleteImage()` → `delete`
 * and its `--force`), for instead(); one not listed is named as the library's call.
 */
export function flagNames(flags: Readonly<Record<string, string>>, command?: string, commands: Readonly<Record<string, CommandLine>> = {}): OptionNames {
  const flag = (p: string): string => flags[p.replace(/\[\d+\]/g, '')] ?? p;
  const name = (p: string, detail?: string): string => (detail === undefined ? flag(p) : `${flag(p)} ${detail}`);
  const set = (p: string, v: string | number | boolean): string => (v === true ? flag(p) : `${flag(p)} ${v}`);
  const instead = (op: string, reference: string, options: Readonly<Record<string, string | number | boolean>> = {}): string => {
    const line = commands[op];
    if (!line) return libraryCall(op, reference, options);
    return `\`${['regpush', line.command, ...Object.entries(options).map(([p, v]) => flagNames(line.flags ?? {}).set(p, v)), reference].join(' ')}\``;
  };
  return { op: undefined, ...(command ? { command } : {}), name, about: name, set, instead };
}

/**
 * What the hints of a failed connection call the settings that would fix it: OptionNames'
 * counterpart for the layers below the operations (src/http/, the registries.conf reader), which
 * know the registry but not the operation. A library caller gets connectionOptionNames (its
 * `tls`, `insecureRegistries`, `credentials` and `jobs` options); the CLI passes its command's
 * flags (src/cli/connection-flags.ts) as the `connectionNames` connection option, which
 * transportFor hands down to the transport, the TLS resolver and the error wording. Nothing else
 * tells the two apart. transportFor drops `jobs` and `credentials` for an operation that has no
 * such setting (HintedSettings, src/registry/operation-transport.ts): a hint names only what the operation
 * at hand offers.
 */
export interface ConnectionNames {
  /** Advice to trust a private CA for `host`: `tls.caCerts: { "reg:5000": [PATH] }`; the CLI's `--ca-cert reg:5000=PATH`. */
  caCert(host: string): string;
  /** Advice to give `host` a client certificate: `tls.clientCerts: { "reg:5000": { cert: CERT, key: KEY } }`; `--client-cert reg:5000=CERT,KEY`. */
  clientCert(host: string): string;
  /**
   * The setting a CA file given for a registry came from, named when that CA did not verify the
   * registry's certificate: `tls.caCerts`; `--ca-cert`. Absent: the library's name.
   */
  caCertSetting?: string;
  /** The setting a refused client certificate came from: `tls.clientCerts`; `--client-cert`. Absent: the library's name. */
  clientCertSetting?: string;
  /** Advice to turn verification off for `host`: `tls.verifyOff: ["reg:5000"]`; `--tls-verify reg:5000=false`. */
  verifyOff(host: string): string;
  /** What turned verification off for `host`, in the warning that says so: `tls.verifyOff`; `--tls-verify reg:5000=false`. */
  verifiedOffBy(host: string): string;
  /** Advice to reach `host` over plain HTTP: `insecureRegistries: ["reg:5000"]`; `--insecure-registry reg:5000`. */
  insecure(host: string): string;
  /** The plain-HTTP setting itself, as in "instead of …": `insecureRegistries`; `--insecure-registry`. */
  insecureSetting: string;
  /**
   * How to give credentials for `registry`, after "check the credentials for REGISTRY: "; the
   * CLI's names the flags of the command at hand. Absent where the operation takes none (login
   * checks the ones it is given): a 401 or 429 then advises no login.
   */
  credentials?: (registry: string) => string;
  /**
   * What to do when `registry` or its token service refuses the credentials, or finds none where
   * it needs some (an E_AUTH refusal, appended after "; "): the library's `check the credentials for
   * REGISTRY: ` and `credentials`; the CLI's `check the credentials or run \`regpush login
   * REGISTRY\``, as it words every other login failure. Absent where the operation takes no
   * credentials (login), as `credentials` is: a refusal then advises nothing.
   */
  refused?: (registry: string) => string;
  /**
   * Where credentials given for `role` (a source's `from`, a target's `to`, a read-only command's
   * `read`) come from besides the environment: `credentials.from`/`credentials.to`; the CLI's user
   * flags of the command at hand (`--to-user/--password-stdin`). A refusal of credentials given
   * there (or in REGPUSH_* variables) says to check those: they win over any stored login, so
   * advising a login could not change the outcome. Absent where `refused` is.
   */
  givenCredentials?: (role: 'from' | 'to' | 'read') => string;
  /**
   * The setting of how many transfers run at once, as in "lower …": `jobs`; `--jobs`. Absent
   * where the operation has none (inspect, tags, digest, tag, untag, delete, login): a 429 then says
   * wait and retry.
   */
  jobs?: string;
  /**
   * What shows where a reference leads, for a 404: `inspect(REF)`; `` `regpush inspect REF` ``.
   * Left out of the hints of inspect itself, which would advise the very call that failed (`tags`
   * is named there instead); a caller's names may leave it out too.
   */
  inspect?: string;
  /** What lists a repository's tags, for a 404 at inspect: `listTags(REPO)`; `` `regpush tags REPO` ``. */
  tags?: string;
  /**
   * What lists the tags of `repository` (a placeholder such as `REPOSITORY`), in the advice of a
   * message about a registry rather than a 404 (catalog's): `listTags(REPOSITORY)`; the CLI's
   * `regpush tags REPOSITORY`. Absent: the library's name.
   */
  tagsOf?: (repository: string) => string;
  /** What copies an image into another repository, in tag's advice: `copy()`; the CLI's `` `regpush copy` ``. Absent: the library's name. */
  copy?: string;
  /**
   * Where read mirrors are configured, named when a mirror given with `http://` turns out to speak
   * TLS: `mirrors`; the CLI's `--registry-mirror (or daemon.json's registry-mirrors)`. Absent: the library's name.
   */
  mirrors?: string;
}

/** How a library caller gives credentials for `registry` (ConnectionNames.credentials). */
function libraryCredentials(registry: string): string {
  return (
    `store a login with login({ registry: ${JSON.stringify(registry)}, … }), ` +
    `give the credentials option (credentials.registries[${JSON.stringify(registry)}] for this registry, ` +
    'credentials.from for what is read, credentials.to for what is written), or set the REGPUSH_* variables in env'
  );
}

/** The library's names for the connection hints: its connection options (ConnectionOptions, src/registry/connection-options.ts). */
export const connectionOptionNames: ConnectionNames = {
  caCert: (host) => `tls.caCerts: { ${JSON.stringify(host)}: [PATH] }`,
  clientCert: (host) => `tls.clientCerts: { ${JSON.stringify(host)}: { cert: CERT, key: KEY } }`,
  caCertSetting: 'tls.caCerts',
  clientCertSetting: 'tls.clientCerts',
  verifyOff: (host) => `tls.verifyOff: [${JSON.stringify(host)}]`,
  verifiedOffBy: () => 'tls.verifyOff',
  insecure: (host) => `insecureRegistries: [${JSON.stringify(host)}]`,
  insecureSetting: 'insecureRegistries',
  credentials: libraryCredentials,
  refused: (registry) => `check the credentials for ${registry}: ${libraryCredentials(registry)}`,
  givenCredentials: (role) => (role === 'to' ? 'credentials.to' : 'credentials.from'),
  jobs: 'jobs',
  inspect: 'inspect(REF)',
  tags: 'listTags(REPO)',
  tagsOf: (repository) => `listTags(${repository})`,
  copy: 'copy()',
  mirrors: 'the mirrors option',
};
