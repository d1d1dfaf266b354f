/**
 * The run-time shape of the connection options every operation takes (CONNECTION_SHAPE), for
 * checkOptions (options-check.ts); each operation's own shape spreads it.
 */
import { registryCredentialsProblem } from '../auth/credential-lookup.js';
import { userNameProblem } from '../auth/credential-rules.js';
import { STRINGS, type Shape, type ShapeProblem } from '../options-check.js';
import { INSECURE_ENTRY_FORM, unusableInsecureEntry } from './endpoint.js';

/**
 * The check of `credentials.registries`, typed as Shape's `problem` is: the operations' shapes
 * (COPY_SHAPE, MANAGE_SHAPE…) spread CONNECTION_SHAPE, and their published declarations would
 * otherwise name credential-lookup.ts, and with it the whole lookup, for this one function's type.
 */
const REGISTRIES_PROBLEM: (value: never) => ShapeProblem | undefined = registryCredentialsProblem;

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
    return bad === undefined ? undefined : { text: `entry ${JSON.stringify(bad)} is not ${INSECURE_ENTRY_FORM}` };
  },
};

/** A Credential's shape. */
const CREDENTIAL: Shape = { fields: { username: USER_NAME, password: 'string', identityToken: 'string', registryToken: 'string' } };

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
  credentials: { fields: { from: CREDENTIAL, to: CREDENTIAL, registries: { refine: { values: CREDENTIAL }, problem: REGISTRIES_PROBLEM } } },
  signal: { instanceOf: AbortSignal, name: 'AbortSignal' },
  idleTimeoutMs: 'whole',
  chunkSize: 'whole',
  tls: {
    fields: {
      certsDirs: STRINGS,
      caCerts: { values: STRINGS },
      clientCerts: { values: { fields: { cert: 'string', key: 'string' }, required: ['cert', 'key'] } },
      verifyOff: STRINGS,
      verifyOffBy: { values: 'string' },
      nodeExtraCaCerts: 'string',
    },
  },
  credentialHelperTimeoutMs: 'whole',
  credentialHelperProcessGroup: 'boolean',
  secrets: { fields: { add: 'function', addCredential: 'function' }, required: ['add', 'addCredential'], open: true },
  mirrors: { values: STRINGS },
  blocked: { values: { anyOf: ['string', { literal: [false] }] } },
  insecureTlsRegistries: { values: 'string' },
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
