/**
 * The run-time shape of the connection options every operation takes (CONNECTION_SHAPE), for
 * checkOptions (options-check.ts); each operation's own shape spreads it.
 */
import { registryCredentialsProblem, roleCredentialProblem } from '../auth/credential-lookup.js';
import { userNameProblem } from '../auth/credential-rules.js';
import { STRINGS, type Shape, type ShapeProblem } from '../options-check.js';
import { redactTyped } from '../redact.js';
import { INSECURE_ENTRY_FORM, isInsecureEntry, unusableInsecureEntry } from './endpoint.js';
import { mirrorMapProblem } from './mirror-config.js';

/**
 * The check of `credentials.registries`, typed as Shape's `problem` is: the operations' shapes
 * (COPY_SHAPE, MANAGE_SHAPE…) spread CONNECTION_SHAPE, and their published declarations would
 * otherwise name credential-lookup.ts, and with it the whole lookup, for this one function's type.
 */
const REGISTRIES_PROBLEM: (value: never) => ShapeProblem | undefined = registryCredentialsProblem;

/** The check of `credentials.from` and `credentials.to` (half a pair), typed as REGISTRIES_PROBLEM is, for the same reason. */
const ROLE_CREDENTIAL_PROBLEM: (value: never) => ShapeProblem | undefined = roleCredentialProblem;

/** The check of the `mirrors` keys and locations (mirror-config.ts), typed as REGISTRIES_PROBLEM is. */
const MIRRORS_PROBLEM: (value: never) => ShapeProblem | undefined = (map: Record<string, readonly string[] | undefined>) => {
  const text = mirrorMapProblem(map);
  return text ? { text } : undefined;
};

/**
 * The check of an option that names registry hosts: each of `hosts` (a list's entries, or a map's
 * keys) must be able to name one, as the rest of the message after the option path. `ranges`:
 * matched as the insecure lists are (hostEntryFor: an address range covers the registries named by
 * an address in it), as tls.verifyOff and insecureTlsRegistries are; else by name alone, as the
 * tls.caCerts and tls.clientCerts tables are looked up (tls.ts). One that names no registry (a
 * URL, a path, a typo) matched none and changed nothing: the run went on to fail on TLS.
 */
function hostsProblem(what: 'entry' | 'key', hosts: readonly string[], ranges: boolean): ShapeProblem | undefined {
  const bad = hosts.find((h) => !isInsecureEntry(h) || (!ranges && h.includes('/')));
  return bad === undefined ? undefined : { text: `${what} "${redactTyped(bad)}" is not ${ranges ? INSECURE_ENTRY_FORM : 'a registry (host[:port])'}` };
}

/** The keys of a map option whose entries are given (an undefined one is left out, as an option left out is). */
const givenKeys = (map: Readonly<Record<string, unknown>>): string[] => Object.keys(map).filter((k) => map[k] !== undefined);

/** A list of registry hosts or address ranges (tls.verifyOff). */
const HOST_ENTRIES: Shape = { refine: STRINGS, problem: (list: readonly string[]) => hostsProblem('entry', list, true) };

/** A map keyed by registry host[:port] (tls.caCerts, tls.clientCerts), or also by address range (`ranges`: insecureTlsRegistries). */
const byHost = (values: Shape, ranges: boolean): Shape => ({ refine: { values }, problem: (map: Readonly<Record<string, unknown>>) => hostsProblem('key', givenKeys(map), ranges) });

/** A user name to send (a credential's, login's): a string that HTTP Basic can carry (userNameProblem). */
export const USER_NAME: Shape = {
  refine: 'string',
  problem: (u: string) => {
    const text = userNameProblem(u);
    return text ? { text } : undefined;
  },
};

/**
 * insecureRegistries: each entry one that can name a registry (unusableInsecureEntry), as the CLI
 * holds --insecure-registry to. One that cannot (`reg:5000/library`, an empty one, a URL with a
 * path) matched no registry: the run went to HTTPS, and its failure advised adding the very entry.
 */
const INSECURE_REGISTRIES: Shape = {
  refine: STRINGS,
  problem: (values: readonly string[]) => {
    const bad = values.map(unusableInsecureEntry).find((entry) => entry !== undefined);
    // Redacted as hostsProblem's entries are: a pasted `http://user:pw@reg` shows no password.
    return bad === undefined ? undefined : { text: `entry ${JSON.stringify(redactTyped(bad))} is not ${INSECURE_ENTRY_FORM}` };
  },
};

/** A Credential's shape. */
const CREDENTIAL: Shape = { fields: { username: USER_NAME, password: 'string', identityToken: 'string', registryToken: 'string' } };

/** `credentials.from` and `credentials.to`: a Credential, whole or empty. */
const ROLE_CREDENTIAL: Shape = { refine: CREDENTIAL, problem: ROLE_CREDENTIAL_PROBLEM };

/**
 * The shape of ConnectionOptions, and of `logger` and `retries`, which every operation takes too,
 * for checkOptions (options-check.ts). Every field of ConnectionOptions is named, so that a
 * misspelt one is refused; earlySockets is the CLI launcher's and its value is not checked. A
 * logger and the secrets are objects of the caller's (a class, `console`) that may hold more.
 */
export const CONNECTION_SHAPE = {
  cwd: 'string',
  env: { values: 'string' },
  homeDir: 'string',
  insecureRegistries: INSECURE_REGISTRIES,
  credentials: { fields: { from: ROLE_CREDENTIAL, to: ROLE_CREDENTIAL, registries: { refine: { values: CREDENTIAL }, problem: REGISTRIES_PROBLEM } } },
  signal: { instanceOf: AbortSignal, name: 'AbortSignal' },
  idleTimeoutMs: 'whole',
  chunkSize: 'whole',
  tls: {
    fields: {
      certsDirs: STRINGS,
      caCerts: byHost(STRINGS, false),
      clientCerts: byHost({ fields: { cert: 'string', key: 'string' }, required: ['cert', 'key'] }, false),
      verifyOff: HOST_ENTRIES,
      verifyOffBy: { values: 'string' },
      nodeExtraCaCerts: 'string',
    },
  },
  credentialHelperTimeoutMs: 'whole',
  credentialHelperProcessGroup: 'boolean',
  secrets: { fields: { add: 'function', addCredential: 'function' }, required: ['add', 'addCredential'], open: true },
  mirrors: { refine: { values: STRINGS }, problem: MIRRORS_PROBLEM },
  blocked: { values: { anyOf: ['string', { literal: [false] }] } },
  insecureTlsRegistries: byHost('string', true),
  earlySockets: 'any',
  onRead: 'function',
  proxySettings: { fields: { httpProxy: 'string', httpsProxy: 'string', noProxy: 'string', httpProxyVariable: 'string', httpsProxyVariable: 'string', file: 'string' } },
  connectionNames: {
    fields: {
      caCert: 'function',
      clientCert: 'function',
      caCertSetting: 'string',
      clientCertSetting: 'string',
      verifyOff: 'function',
      verifiedOffBy: 'function',
      insecure: 'function',
      insecureSetting: 'string',
      credentials: 'function',
      refused: 'function',
      givenCredentials: 'function',
      jobs: 'string',
      inspect: 'string',
      tags: 'string',
      tagsOf: 'function',
      copy: 'string',
      mirrors: 'string',
    },
    // credentials, refused and jobs may be left out: the hints then advise none of them (ConnectionNames).
    required: ['caCert', 'clientCert', 'verifyOff', 'verifiedOffBy', 'insecure', 'insecureSetting'],
  },
  logger: { fields: { debug: 'function', info: 'function', warn: 'function' }, required: ['debug', 'info', 'warn'], open: true },
  retries: 'whole',
} satisfies Record<string, Shape>;
