/**
 * TLS per registry host, laid out the way Docker and Podman read it: a `certs.d` directory per
 * host[:port] (`*.crt` are CAs added to the default trust, `NAME.cert` + `NAME.key` a client
 * certificate for mutual TLS), plus CA files, client certificates and "verification off" named
 * per registry by the caller (the CLI's --ca-cert, --client-cert, --tls-verify HOST=false).
 *
 * Files are read where they are, when a host is first contacted, and kept in memory for the
 * operation only; nothing is copied. The answer is per URL host, as Docker's is: a token server or
 * blob store on another host gets its own entry.
 */
import { X509Certificate } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { join, resolve as resolvePath } from 'node:path';
import { InputError } from '../errors.js';
import { connectionOptionNames, type ConnectionNames } from '../option-names.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { canonicalRegistry, isDockerHub, DOCKER_HUB, DOCKER_HUB_API_HOST } from '../ref/registry.js';
import { bracketBareIpv6, hostEntryFor } from '../ref/host-address.js';
import { hostProblem } from '../ref/grammar.js';
import { DEFAULT_CERTS_DIRS, type RegistryTlsOptions } from './tls-options.js';

/**
 * What tlsResolver takes: the caller's options, and the NODE_EXTRA_CA_CERTS of the operation's
 * `env`. That file is trusted for every host and for an https:// proxy, on top of Node's bundled
 * roots, as Node trusts the one of its own environment; unless `nodeExtraCaCerts` is given, which
 * names the file in effect (the default trust holds it already). One that cannot be read, or holds
 * no certificate, is a warning and adds nothing, as Node treats its own.
 */
export interface ResolverTlsOptions extends RegistryTlsOptions {
  /** env.NODE_EXTRA_CA_CERTS of the operation (absolute: anchorPaths). */
  envExtraCaCerts?: string;
}

/**
 * The warning for a NODE_EXTRA_CA_CERTS file that adds no CA (`why`: it cannot be read, or holds
 * none): one wording for the CLI's start-up variable and a library caller's `env`.
 */
export function ignoredExtraCaWarning(file: string, why: string): string {
  return `NODE_EXTRA_CA_CERTS=${file}: ${why}; ignored, as Node ignores it: it adds no CA for any registry or proxy`;
}

/** Why a file could not be read, for a warning or an error: "no such file", else the error's code. */
function unreadable(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message);
}

/** What a host's TLS connections use, read from files. */
export interface TlsSettings {
  /** Identity of these settings: agents with the same id share sockets. */
  id: string;
  /** Full trust list (defaults + extra CAs) when extra CAs were given; undefined keeps Node's default. */
  ca?: string[];
  /** Client certificate and key (PEM) for mutual TLS. */
  clientCert?: Buffer;
  clientKey?: Buffer;
  /** false: the server certificate is not verified. */
  verify: boolean;
  /** Files read, for debug lines. */
  sources: string[];
  /**
   * `ca` and the client pair made into a TLS context once, when there are any: given as `ca`, Node
   * parses the whole trust list (~140 roots) again for every connection, some 20 ms of CPU each.
   */
  secureContext?: SecureContext;
}

/** The tls.connect options of a host's settings (none for the defaults), for https agents and CONNECT tunnels. */
export function tlsConnectOptions(s: TlsSettings | undefined): { secureContext?: SecureContext; rejectUnauthorized?: boolean } {
  if (!s) return {};
  return { ...(s.secureContext ? { secureContext: s.secureContext } : {}), rejectUnauthorized: s.verify };
}

/** Resolves the TLS settings of a host, and says what to do when a handshake with it fails. */
export interface TlsResolver {
  /** Settings for `host` (URL host[:port]); undefined when the defaults apply. Cached per host. */
  settingsFor(host: string): Promise<TlsSettings | undefined>;
  /**
   * Settings for the connection to an https:// proxy at `host` (its URL's host[:port]): those of
   * that host, as for any host connected to (NODE_EXTRA_CA_CERTS, the CA a corporate proxy's
   * certificate usually needs, and the CAs, client certificate or verification given for the
   * proxy's own host[:port]), never a registry's; undefined when Node's defaults apply.
   */
  proxySettings(host: string): Promise<TlsSettings | undefined>;
  /**
   * Called when a request to `host` over TLS has been answered: the first time, a host whose
   * verification is off is warned of, whatever it is to the operation (registry, mirror, token
   * service, redirect target). Only then: a registries.conf `insecure = true` host that does not
   * speak TLS is spoken to in plain HTTP, and is never "encrypted".
   */
  answered(host: string): void;
  /**
   * What to add to a TLS error line about `host`: the flags and the certs.d path that would be
   * read. `certNames`, for a 'hostname' failure: the names the certificate carries, where the
   * error gave them.
   */
  hint(host: string, kind: TlsFailureKind, certNames?: readonly string[]): string;
  /** The NODE_EXTRA_CA_CERTS file trusted for every host and proxy (nodeExtraCaCerts, else env's), for hints; undefined when none is, or it could not be read. */
  extraCaCerts(): string | undefined;
}

/** What kind of handshake failure a TLS error is, for the hint. */
export type TlsFailureKind = 'untrusted' | 'validity' | 'hostname' | 'client-certificate' | 'other';

/** The names a URL host is known by for TLS lookups: canonical, without a default :443. */
function tlsName(host: string): string {
  // A key written as a bare IPv6 address ("fd00::2") names the registry "[fd00::2]".
  return canonicalRegistry(bracketBareIpv6(host)).replace(/:443$/, '');
}

/**
 * certs.d directory names to try for a URL host, most specific first (Docker names it as written
 * in references); none for a host that is no host name or address (hostProblem). A URL's host
 * comes from a registry too (a redirect, a token realm): `https://%2e%2e/x` has the host `..`,
 * and `<root>/..` is the folder above the root, whose `.crt` files would be trusted.
 */
export function certsDirNames(host: string): string[] {
  const h = host.toLowerCase();
  if (hostProblem(h) !== undefined) return [];
  const names = [h];
  if (!/:\d+$/.test(h) || h.endsWith(']')) names.push(`${h}:443`);
  if (isDockerHub(withoutDefaultPort(h))) names.push(DOCKER_HUB, DOCKER_HUB_API_HOST);
  return [...new Set(names)];
}

/** The host name of a registry name, without port or brackets: what a certificate must name. */
function hostnameOf(name: string): string {
  const bracketed = /^\[([^\]]+)\]/.exec(name);
  return bracketed ? bracketed[1]! : name.replace(/:\d+$/, '');
}

function withoutDefaultPort(h: string): string {
  return h.replace(/:443$/, '');
}

/** The files of one certs.d host directory, as Docker reads them. */
export interface CertsDirContents {
  dir: string;
  cas: string[];
  client?: { cert: string; key: string };
  /**
   * The other client certificates of `dir` (NAME.cert, each with its key), not presented: Node
   * takes one certificate per key type and cannot choose by the CAs the server asks for, as Go's
   * crypto/tls does. Absent when there are none.
   */
  unsent?: string[];
  /**
   * The folders for the same host under later roots, not read: as in containers/image
   * (dockerCertDir), the first root holding one is the only one read. Absent when there are none.
   */
  shadowed?: string[];
}

/**
 * Reads the listing of `<root>/<name>` for the first root and name that exist; undefined when none
 * does. The folders a later root holds for the host are named (`shadowed`), not read. A `NAME.cert` without `NAME.key` (or the reverse) is an error, as it is for Docker: a CA
 * saved as .cert would otherwise be silently ignored. Where the client pair comes from elsewhere
 * (`--client-cert`, which wins over the folder's pair), the folder's pair is not read: an unpaired
 * file is then handed to `unpaired` (a warning, which still names a CA misnamed .cert), not thrown.
 */
export async function findCertsDir(roots: readonly string[], host: string, unpaired?: (message: string) => void): Promise<CertsDirContents | undefined> {
  for (const [i, root] of roots.entries()) {
    for (const name of certsDirNames(host)) {
      const dir = join(root, name);
      let entries: string[];
      try {
        entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name).sort();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') continue;
        throw new InputError(`cannot read the certificate directory ${dir}: ${(err as Error).message}`, { cause: err });
      }
      const shadowed = await laterFolders(roots.slice(i + 1), host, dir);
      const more = shadowed.length ? { shadowed } : {};
      const cas = entries.filter((n) => n.endsWith('.crt')).map((n) => join(dir, n));
      const certs = entries.filter((n) => n.endsWith('.cert'));
      const keys = entries.filter((n) => n.endsWith('.key'));
      const problems = [
        ...certs.filter((c) => !keys.includes(c.replace(/\.cert$/, '.key'))).map((c) => `${join(dir, c)} has no matching key ${c.replace(/\.cert$/, '.key')} (CA certificates must end in .crt)`),
        ...keys.filter((k) => !certs.includes(k.replace(/\.key$/, '.cert'))).map((k) => `${join(dir, k)} has no matching client certificate ${k.replace(/\.key$/, '.cert')}`),
      ];
      if (problems.length && !unpaired) throw new InputError(problems[0]!);
      for (const p of problems) unpaired?.(p);
      if (unpaired) return { dir, cas, ...more };
      // Node takes one certificate per key type; the first pair (by name) is the one presented.
      const first = certs[0];
      const client = first ? { cert: join(dir, first), key: join(dir, first.replace(/\.cert$/, '.key')) } : undefined;
      const unsent = certs.slice(1).map((c) => join(dir, c));
      return { dir, cas, client, ...(unsent.length ? { unsent } : {}), ...more };
    }
  }
  return undefined;
}

/**
 * The folders `roots` hold for `host` (any of its certsDirNames), in order, that hold a certificate
 * or key (`*.crt`, `*.cert`, `*.key`) that `used`, the folder read, does not hold with the same
 * bytes: a machine set up for both Docker and Podman often has the same files in both roots, and
 * nothing is lost there. One that cannot be listed or read counts (its files may be lost).
 */
async function laterFolders(roots: readonly string[], host: string, used: string): Promise<string[]> {
  const dirs = roots.flatMap((root) => certsDirNames(host).map((name) => join(root, name)));
  const same = (a: Buffer, b: Buffer | undefined) => b !== undefined && a.equals(b);
  const holdsMore = async (d: string): Promise<boolean> => {
    let names: string[];
    try {
      if (!(await stat(d)).isDirectory()) return false;
      names = (await readdir(d)).filter((n) => /\.(crt|cert|key)$/.test(n));
    } catch (err) {
      return (err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR';
    }
    for (const n of names) {
      const [mine, theirs] = await Promise.all([readFile(join(d, n)).catch(() => undefined), readFile(join(used, n)).catch(() => undefined)]);
      // A copy this user cannot read (root's 0600 key under /etc/docker/certs.d, for a user whose
      // own folder holds the same pair) tells nothing: warning of it on every run would ask for a
      // move the user cannot make. A name the folder used lacks is news however it reads.
      if (theirs === undefined) return true;
      if (mine !== undefined && !same(mine, theirs)) return true;
    }
    return false;
  };
  const more = await Promise.all(dirs.map(holdsMore));
  return dirs.filter((_, i) => more[i]);
}

/** Looks a URL host up in a per-registry table whose keys are registry names as users write them. */
function lookup<T>(table: Readonly<Record<string, T>> | undefined, host: string): T | undefined {
  if (!table) return undefined;
  const want = tlsName(host);
  for (const [k, v] of Object.entries(table)) if (tlsName(k) === want) return v;
  return undefined;
}

/**
 * A certificate or key file's bytes; one that cannot be read is E_INPUT saying why as the other
 * file messages do ("no such file", else the code) and where it came from (`by`: the flag or
 * option, or the certs.d folder) and for which host, so that the user knows which setting to fix.
 */
async function readPem(path: string, what: string, by: string, host: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new InputError(`cannot read ${what} ${path} (${unreadable(err)}; ${by} for ${host})`, { cause: err, details: { registry: host, file: path } });
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----/;

/**
 * A CA file's certificates as PEM text for `ca`. Node drops what does not parse as PEM without a
 * word, so a DER file (a Windows or AD CS export, often named .crt or .cer) would leave the CA
 * untrusted and the TLS error would ask for the file that was given: DER holding one certificate
 * is converted; a file holding neither is undefined (the caller says so).
 */
function caText(bytes: Buffer): string | undefined {
  const text = bytes.toString('utf8');
  if (PEM_CERTIFICATE.test(text)) return text;
  try {
    return new X509Certificate(bytes).toString();
  } catch {
    return undefined;
  }
}

/**
 * Checks a client certificate and key the way Docker's tls.LoadX509KeyPair does, before any
 * connection: at connect time OpenSSL's errors came out as network failures (an encrypted key's
 * "bad decrypt", a certificate file's "no start line") or as an untrusted CA (a key that is not
 * the certificate's), without naming a file. Each problem is E_INPUT naming the file.
 */
function checkClientPair(cert: Buffer, key: Buffer, files: { cert: string; key: string }, name: string): void {
  const forHost = `the client certificate for ${name}`;
  if (!PEM_CERTIFICATE.test(cert.toString('utf8'))) {
    throw new InputError(
      `${files.cert} is not a PEM certificate (${forHost}; a DER file converts with: openssl x509 -inform der -in CERT -out CERT.pem)`,
      { details: { registry: name, file: files.cert } },
    );
  }
  const keyText = key.toString('utf8');
  const encrypted = `${files.key} is encrypted; regpush needs an unencrypted PEM key (the client key for ${name}; decrypt it with: openssl pkey -in KEY -out KEY.plain)`;
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type:\s*4,ENCRYPTED/m.test(keyText)) throw new InputError(encrypted, { details: { registry: name, file: files.key } });
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyText)) throw new InputError(`${files.key} is not a PEM private key (the client key for ${name})`, { details: { registry: name, file: files.key } });
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    const code = String((err as NodeJS.ErrnoException).code ?? '');
    if (/BAD_DECRYPT|INTERRUPTED_OR_CANCELLED/.test(code)) throw new InputError(encrypted, { details: { registry: name, file: files.key } });
    if (/KEY_VALUES_MISMATCH/.test(code)) throw new InputError(`${files.key} is not the key of ${files.cert} (${forHost})`, { details: { registry: name, file: files.key } });
    throw new InputError(`${files.cert} and ${files.key} are not a usable certificate and key (${forHost}): ${(err as Error).message.replace(/^error:[0-9A-F]+:/, '')}${code ? ` (${code})` : ''}`, {
      details: { registry: name, file: files.cert },
    });
  }
}

/**
 * Builds the resolver for an operation; `logger` gets a warning per host whose verification is off.
 * `names` words the settings its hints and warnings name: the library's options, or the CLI's flags.
 */
export function tlsResolver(opts: ResolverTlsOptions, logger: Logger = silentLogger, names: ConnectionNames = connectionOptionNames): TlsResolver {
  const roots = opts.certsDirs ?? DEFAULT_CERTS_DIRS;
  // env's NODE_EXTRA_CA_CERTS, trusted for every host: a library caller's `env` is not the
  // environment Node read at start-up, so Node has not added it. Not when the file the process
  // started with is named (nodeExtraCaCerts): that one is the variable in effect, and wins, as
  // the explicit options win over `env` elsewhere (trusting env's for the hosts without CAs of
  // their own, the started one's for the others, made the trust depend on the host). Read once for all hosts.
  // Compared as resolved paths: the CLI resolves its start-up variable, `env`'s comes as written
  // (`/etc/ssl//ca.pem` is the same file, and is no other one).
  const sameFile = (a: string, b: string | undefined): boolean => b !== undefined && resolvePath(a) === resolvePath(b);
  const everywhere = opts.nodeExtraCaCerts === undefined ? opts.envExtraCaCerts || undefined : undefined;
  const envPassedOver = opts.nodeExtraCaCerts !== undefined && opts.envExtraCaCerts && !sameFile(opts.envExtraCaCerts, opts.nodeExtraCaCerts) ? opts.envExtraCaCerts : undefined;
  // Its text, or undefined when there is none or it adds no CA. A file that cannot be read, or
  // holds no certificate, is one warning, and verification goes on with the other roots: as Node
  // does with the variable it starts with, and as the CLI does with that one (it was E_INPUT for
  // every host here, a warning there, for the same variable).
  let everywhereIgnored: string | undefined;
  let everywhereText: Promise<string | undefined> | undefined;
  const everywhereCa = (): Promise<string | undefined> => {
    if (everywhere === undefined) return Promise.resolve(undefined);
    const ignored = (why: string): undefined => {
      everywhereIgnored = why;
      logger.warn(ignoredExtraCaWarning(everywhere, why));
      return undefined;
    };
    return (everywhereText ??= readFile(everywhere).then(
      (bytes) => caText(bytes) ?? ignored('it holds no certificate, neither PEM nor DER'),
      (err: unknown) => ignored(`cannot read it (${unreadable(err)})`),
    ));
  };
  // The file the process started with, added back where a host's CAs replace the default trust.
  // One Node could not read it ignored at start, with its own "Warning: Ignoring extra certs" line
  // (and the CLI's warning naming the variable): so is it here, rather than fail only the hosts
  // that have CAs of their own while every other one goes on.
  // Read before any handshake (every one waits for its host's settings), whether or not a host
  // adds it back: a hint must not call it trusted when Node could not read it. Nor when it holds
  // no PEM certificate (Node reads PEM only, and adds nothing from such a file; Node 20 says
  // nothing of one without any PEM block): a warning says so here, as for env's file.
  let nodeExtraIgnored: string | undefined;
  let nodeExtraText: Promise<string | undefined> | undefined;
  const nodeExtraCa = (): Promise<string | undefined> => {
    const file = opts.nodeExtraCaCerts;
    if (file === undefined) return Promise.resolve(undefined);
    return (nodeExtraText ??= readFile(file).then(
      (bytes) => {
        const text = bytes.toString('utf8');
        if (PEM_CERTIFICATE.test(text)) return text;
        nodeExtraIgnored = 'it holds no PEM certificate';
        logger.warn(ignoredExtraCaWarning(file, nodeExtraIgnored));
        return undefined;
      },
      (err: unknown) => {
        nodeExtraIgnored = `cannot read it (${unreadable(err)})`;
        const code = (err as NodeJS.ErrnoException).code ?? 'read error';
        logger.debug(`NODE_EXTRA_CA_CERTS=${file}: cannot read it (${code}); not added back, as Node did not add it`);
        return undefined;
      },
    ));
  };
  // Said once, when the first host's settings are read.
  let passedOverSaid = false;
  const sayPassedOver = (): void => {
    if (envPassedOver === undefined || passedOverSaid) return;
    passedOverSaid = true;
    logger.warn(`env.NODE_EXTRA_CA_CERTS=${envPassedOver} is not trusted: tls.nodeExtraCaCerts names ${opts.nodeExtraCaCerts} as the NODE_EXTRA_CA_CERTS in effect, and wins over env`);
  };
  // The NODE_EXTRA_CA_CERTS in effect, whichever way it is set: a TLS failure's hint does not
  // advise it again. Not one that was ignored (a warning said so; Node's own warned at start):
  // that one verified nothing, and a hint calling it trusted would send the user looking elsewhere.
  const extraCaSet = (): string | undefined => (opts.nodeExtraCaCerts !== undefined ? (nodeExtraIgnored ? undefined : opts.nodeExtraCaCerts) : everywhereIgnored ? undefined : everywhere);
  // That one ignored, and why: the hint says it added no CA before advising the variable.
  const extraCaIgnored = (): string | undefined => {
    const [file, why] = opts.nodeExtraCaCerts !== undefined ? [opts.nodeExtraCaCerts, nodeExtraIgnored] : [everywhere, everywhereIgnored];
    return why === undefined ? undefined : `NODE_EXTRA_CA_CERTS=${file} adds no CA: ${why}; `;
  };
  const offList = opts.verifyOff ?? [];
  /**
   * The verifyOff entry covering a host, by the rule the scheme choice uses (hostEntryFor: an entry
   * without a port covers every port), `reg:443` being `reg`: with two rules, registries.conf's
   * `insecure = true` for `reg.example` made reg.example:5000 "TLS, else plain HTTP" but kept its
   * verification on, and the certificate failure silently became a plain-HTTP attempt.
   */
  const offEntry = (name: string): string | undefined => hostEntryFor(offList, name) ?? (/:\d+$/.test(name) && !name.endsWith(']') ? undefined : hostEntryFor(offList, `${name}:443`));
  const cache = new Map<string, Promise<TlsSettings | undefined>>();
  /**
   * What was given for each host (by name), for the hints: a failed handshake with CAs or a client
   * certificate already given says that those did not do, rather than advise giving them again.
   * Filled when a host's settings are read, which every handshake with it waits for.
   */
  const given = new Map<string, { cas: { file: string; by: string }[]; client?: { cert: string; by: string }; dir?: string }>();
  // Hosts whose certs.d folder has been warned of (a later root's folder not read, client pairs
  // not sent): once each, though a failed read is tried again.
  const folderWarned = new Set<string>();

  const resolve = async (host: string): Promise<TlsSettings | undefined> => {
    const name = tlsName(host);
    const offBy = offEntry(name);
    const verify = offBy === undefined;
    const flaggedClient = lookup(opts.clientCerts, host);
    const clientSetting = names.clientCertSetting ?? connectionOptionNames.clientCertSetting!;
    // The flag's pair wins: the folder's is not read, and a broken one is a warning, not E_INPUT.
    const found = await findCertsDir(roots, host, flaggedClient ? (m) => logger.warn(`${m}; not used, as ${clientSetting} gives the client certificate for ${name}`) : undefined);
    const caFiles = [...(found?.cas ?? []), ...(lookup(opts.caCerts, host) ?? [])];
    const client = flaggedClient ?? found?.client;
    const caSetting = names.caCertSetting ?? connectionOptionNames.caCertSetting!;
    if (found && !folderWarned.has(name)) {
      folderWarned.add(name);
      // Only the first root holding a folder for the host is read, as in containers/image: one under
      // another root (/etc/docker/certs.d behind /etc/containers/certs.d) would otherwise be taken
      // for read, and its CA or client certificate looked for in vain.
      for (const d of found.shadowed ?? []) {
        logger.warn(
          `${d}/ not read: ${found.dir}/ is used for ${name} (only the first certs.d folder found for a registry is read); ` +
            `move what ${name} needs into ${found.dir}/`,
        );
      }
      if (client && found.unsent) {
        logger.warn(
          `${found.dir}/ holds ${found.unsent.length + 1} client certificates: ${client.cert} is the one sent to ${name}, ` +
            `not ${found.unsent.join(', ')} (one is presented per registry, the first by file name); ` +
            `to send another, give it with ${names.clientCert(name)}`,
        );
      }
    }
    given.set(name, {
      cas: [...(found?.cas ?? []).map((file) => ({ file, by: `in ${found!.dir}/` })), ...(lookup(opts.caCerts, host) ?? []).map((file) => ({ file, by: caSetting }))],
      ...(client ? { client: { cert: client.cert, by: flaggedClient ? clientSetting : `in ${found!.dir}/` } } : {}),
      ...(found ? { dir: found.dir } : {}),
    });
    sayPassedOver();
    const [envCa, nodeText] = await Promise.all([everywhereCa(), nodeExtraCa()]);
    if (verify && caFiles.length === 0 && !client && envCa === undefined) return undefined;
    const sources = [...caFiles, ...(envCa !== undefined ? [everywhere!] : []), ...(client ? [client.cert, client.key] : [])];
    logger.debug(`TLS for ${name}: ${sources.length ? sources.join(', ') : 'default trust'}${verify ? '' : ', verification off'}`);
    const flagged = new Set(lookup(opts.caCerts, host) ?? []);
    const extra = (
      await Promise.all(
        caFiles.map(async (f) => {
          const text = caText(await readPem(f, 'CA certificate', flagged.has(f) ? `given with ${caSetting}` : `in ${found!.dir}/`, name));
          if (text !== undefined) return [text];
          // Given for this registry: the user means it, so say which file is not a CA. A certs.d
          // *.crt that is not one is passed over by Docker and Podman; a warning says so here.
          if (flagged.has(f)) throw new InputError(`${f} holds no certificate, neither PEM nor DER (the CA given for ${name})`, { details: { registry: name, file: f } });
          logger.warn(`${f} holds no certificate, neither PEM nor DER; not used as a CA for ${name}`);
          return [];
        }),
      )
    ).flat();
    let ca: string[] | undefined;
    if (extra.length || envCa !== undefined) {
      // Node's `ca` replaces its default trust; Docker adds certs.d CAs to the system pool, so the
      // defaults (and NODE_EXTRA_CA_CERTS, which Node would otherwise add itself) go back in.
      const nodeExtra = nodeText === undefined || !extra.length ? [] : [nodeText];
      ca = [...rootCertificates, ...nodeExtra, ...(envCa !== undefined ? [envCa] : []), ...extra];
    }
    const clientBy = flaggedClient ? `given with ${clientSetting}` : `in ${found?.dir}/`;
    const [clientCert, clientKey] = client
      ? await Promise.all([readPem(client.cert, 'client certificate', clientBy, name), readPem(client.key, 'client key', clientBy, name)])
      : [undefined, undefined];
    if (client) checkClientPair(clientCert!, clientKey!, client, name);
    // Without `ca` the context keeps Node's default trust, as the option left out did.
    const secureContext = ca || client ? createSecureContext({ ...(ca ? { ca } : {}), ...(client ? { cert: clientCert, key: clientKey } : {}) }) : undefined;
    return { id: `${name}|${verify}|${sources.join('|')}`, ca, clientCert, clientKey, verify, sources, secureContext };
  };

  // Hosts whose first TLS answer has been seen (answered): each warned of once, if at all.
  const answeredHosts = new Set<string>();
  const answered = (host: string): void => {
    const name = tlsName(host);
    if (answeredHosts.has(name)) return;
    answeredHosts.add(name);
    const offBy = offEntry(name);
    if (offBy !== undefined) {
      logger.warn(
        `TLS verification is off for ${name} (${lookup(opts.verifyOffBy, offBy) ?? names.verifiedOffBy(tlsName(offBy))}): ` +
          'the connection is encrypted, but the server is not authenticated',
      );
    }
  };
  const settingsFor = (host: string): Promise<TlsSettings | undefined> => {
    const name = tlsName(host);
    let p = cache.get(name);
    if (!p) {
      p = resolve(host);
      cache.set(name, p);
      // A failed read is reported once per request that needs it, not remembered forever.
      p.catch(() => cache.delete(name));
    }
    return p;
  };

  return {
    // The connection to an https:// proxy is a TLS connection to the proxy's host[:port]: the
    // settings given for that host apply (`--ca-cert proxy.corp:3128=PATH`, its certs.d folder),
    // and the trust every host gets (NODE_EXTRA_CA_CERTS), as Node gives its own https
    // connections. A registry's settings never do: they are for the session inside the tunnel.
    async proxySettings(host: string) {
      const s = await settingsFor(host);
      // Its verification turned off is warned of when it is first used (no request "answers" it).
      if (s && !s.verify) answered(host);
      return s;
    },
    extraCaCerts: extraCaSet,
    answered,
    settingsFor,
    hint(host: string, kind: TlsFailureKind, certNames?: readonly string[]) {
      const name = tlsName(host);
      const had = given.get(name);
      // The folder read for this host, and only it: a file put under another root would not be
      // read. Without one, the folder the first root would hold (none when no root is read), or
      // any other root's.
      // A host no certs.d folder may be named after (hostProblem) has no folder to point at.
      const folderName = certsDirNames(host)[0];
      const dir = had?.dir !== undefined ? `${had.dir}/` : roots.length && folderName ? `${join(roots[0]!, folderName)}/` : undefined;
      const others = had?.dir === undefined && roots.length > 1 ? ` (or under ${roots.slice(1).join(', ')})` : '';
      if (kind === 'client-certificate' && had?.client) {
        // One was sent and refused: asking for one again would send the user round in a circle.
        return `${name} refused the client certificate given, ${had.client.cert} (${had.client.by}): check that it is one ${name} accepts (issued by the CA it trusts for clients, not expired)`;
      }
      if (kind === 'client-certificate') {
        return `${name} asks for a client certificate: add ${names.clientCert(name)}${dir ? ` or put client.cert and client.key in ${dir}${others}` : ''}`;
      }
      if (kind === 'validity') {
        // The chain verified (OpenSSL checks the dates after it): the CA is right, the dates are not.
        return `the certificate of ${name} is outside its validity dates (expired, or not valid yet): the registry's operator renews it, or this machine's clock is wrong; no CA setting changes that`;
      }
      if (kind === 'hostname') {
        // The chain verified (the name is checked after it): the certificate is trusted, and made
        // out to other names. No CA makes it name this one.
        const bare = hostnameOf(name);
        const carried = certNames === undefined ? '' : certNames.length ? `: it names ${certNames.join(', ')}` : `: it names no ${isIP(bare) ? 'IP address' : 'host name'}`;
        return (
          `the certificate of ${name} does not name ${bare}${carried}; reach the registry by a name its certificate carries, ` +
          `or have the certificate reissued to name ${bare}; no CA setting changes that (${names.verifyOff(name)} skips the check: not recommended)`
        );
      }
      const files = had?.cas.map((c) => `${c.file} (${c.by})`).join(', ');
      if (kind === 'untrusted' && files) {
        const set = extraCaSet();
        const env = set ? `; NODE_EXTRA_CA_CERTS (${set}) is trusted too and did not verify it either` : '';
        return (
          `the CA given for ${name}, ${files}, did not verify its certificate: it is not the CA that issued it, ` +
          `or ${name} does not send the intermediate certificates between them (then add those to the CA file)${env}`
        );
      }
      if (kind === 'other' && files) {
        // Not a certificate the trust could not place (that is 'untrusted'): another CA would not help.
        return (
          `a CA is given for ${name} already (${files}), and this failure is not one another CA fixes: ` +
          `check the TLS setup of ${name} (the protocol versions and cipher suites it accepts, the certificate chain it sends)`
        );
      }
      const set = extraCaSet();
      const extraCa = set ? `; NODE_EXTRA_CA_CERTS (${set}) is trusted already and did not verify it` : `; ${extraCaIgnored() ?? ''}NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry`;
      return `to trust its CA add ${names.caCert(name)}${dir ? ` or put the CA as a .crt file in ${dir}${others}` : ''}${kind === 'untrusted' ? extraCa : ''}`;
    },
  };
}
