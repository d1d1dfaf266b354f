/**
 * `login` and `logout`: Docker's credential format in $REGISTRY_AUTH_FILE when set (as Podman's
 * login), else $DOCKER_CONFIG/config.json or ~/.docker/config.json, through the credential helper
 * when the file names one (credHelpers entry or credsStore), so Docker, Podman, crane and regpush
 * share one login (see loginFilePath in auth/credential-store.ts). A namespace (`quay.io/org`)
 * is stored under its own `auths` key in the containers auth.json, where Podman stores it (see
 * namespaceLoginFile there): Docker would read such a key in its config.json as a login for the
 * whole registry. Login checks the credentials against the registry (GET /v2/) before storing
 * anything, over the same transport every other operation builds (proxies, insecure registries,
 * idle timeout, retries).
 */
import { eraseCredentialReport, loginsElsewhere, openLoginStore } from '../auth/credential-store.js';
import type { Credential } from '../auth/credential-types.js';
import { AuthError, InvalidReferenceError, rejectsTyped, UsageError } from '../errors.js';
import { redactTyped, scrubbedRejections } from '../redact.js';
import { silentLogger, type Logger } from '../log.js';
import { splitAuthKey } from '../auth/registry-host.js';
import { HttpRegistryClient } from '../registry/http-registry-client.js';
import { checkOptions, type Shape } from '../options-check.js';
import { optionPaths } from '../option-names.js';
import { checkConnectionRanges } from '../registry/limits.js';
import { CONNECTION_SHAPE, USER_NAME } from '../registry/connection-shape.js';
import { insecureList, insecureTlsBy, insecureTlsHosts } from '../registry/insecure-settings.js';
import { transportFor } from '../registry/operation-transport.js';
import { anchorPaths } from '../registry/working-directory.js';
import { operationSignal, withAbortReason } from '../abort.js';
import type { ConnectionOptions } from '../registry/connection-options.js';
import type { LoginOptions, LoginResult, LogoutOptions, LogoutResult } from './options.js';

/**
 * LoginOptions as a plain-JS caller must give them (options-check.ts).
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export const LOGIN_SHAPE = {
  fields: { ...CONNECTION_SHAPE, registry: 'string', username: USER_NAME, password: 'string' },
  required: ['registry', 'username', 'password'],
} satisfies Shape;

/**
 * LogoutOptions as a plain-JS caller must give them: the connection options that locate the credential store, and no others.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export const LOGOUT_SHAPE = {
  fields: {
    registry: 'string',
    cwd: CONNECTION_SHAPE.cwd,
    env: CONNECTION_SHAPE.env,
    homeDir: CONNECTION_SHAPE.homeDir,
    credentialHelperTimeoutMs: CONNECTION_SHAPE.credentialHelperTimeoutMs,
    credentialHelperProcessGroup: CONNECTION_SHAPE.credentialHelperProcessGroup,
    logger: CONNECTION_SHAPE.logger,
  },
  required: ['registry'],
} satisfies Shape;

/**
 * What a login argument names: a registry host ("ghcr.io"; "https://index.docker.io/v1/" →
 * "docker.io"), or a namespace or repository in one ("quay.io/org" → quay.io and "org"). Throws
 * InvalidReferenceError (E_REFERENCE, as any argument of the wrong kind) for anything else (exported so the CLI can refuse a bad argument before it prompts
 * for a password).
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export function loginTarget(value: string): { registry: string; namespace?: string; name: string } {
  const parts = typeof value === 'string' ? splitAuthKey(value) : undefined;
  if (!parts) {
    throw new InvalidReferenceError(`"${redactTyped(String(value))}" is not a registry host or a namespace in one; give e.g. ghcr.io, registry.example.com:5000 or quay.io/org (no tag or digest)`);
  }
  const name = parts.namespace ? `${parts.host}/${parts.namespace}` : parts.host;
  return { registry: parts.host, ...(parts.namespace ? { namespace: parts.namespace } : {}), name };
}

/** Where the credential store lives, from the options only (the library never reads process.env). */
function storeOptions(opts: Pick<ConnectionOptions, 'env' | 'homeDir' | 'credentialHelperTimeoutMs' | 'credentialHelperProcessGroup'> & { logger?: Logger }) {
  const env = opts.env ?? {};
  return {
    env,
    homeDir: opts.homeDir ?? env.HOME,
    logger: opts.logger ?? silentLogger,
    helperTimeoutMs: opts.credentialHelperTimeoutMs,
    helperProcessGroup: opts.credentialHelperProcessGroup,
  };
}

/**
 * Checks `username`/`password` against the registry and, when it accepts them, stores them in the
 * Docker config ($REGISTRY_AUTH_FILE when set) or its credential helper; a namespace's login in the
 * containers auth file. Throws AuthError when the registry refuses them; then nothing is stored.
 */
export async function login(given: LoginOptions): Promise<LoginResult> {
  return scrubbedRejections(given, (opts) => rejectsTyped(() => loginUntyped(opts)));
}

/** login() itself; its failures as they come (rejectsTyped makes each a RegpushError). */
async function loginUntyped(given: LoginOptions): Promise<LoginResult> {
  checkOptions('login()', given, LOGIN_SHAPE);
  checkConnectionRanges(given, optionPaths('login()').about);
  const opts = anchorPaths(given); // relative paths (TLS files, env's path variables) taken in the `cwd` option
  const { registry, namespace, name } = loginTarget(opts.registry);
  if (!opts.username) throw new UsageError('the user name is empty');
  if (!opts.password) throw new UsageError('the password is empty');
  const cred: Credential = { username: opts.username, password: opts.password };
  const logger = opts.logger ?? silentLogger;
  // Its own signal (operationSignal): one already fired sends nothing and stores nothing.
  const signal = operationSignal(opts.signal);
  // Where the login will go must be settled before the registry is asked: a login checked and
  // then refused a place to be stored costs a request (and, at a rate-limited registry, a pull).
  // Every file it reads or writes is read now (for a namespace, Docker's config.json too).
  const place = await openLoginStore(name, storeOptions({ ...opts, logger }));
  // No `jobs`, and the credentials are the ones being checked: a 429 says wait and retry, not log in.
  const transport = transportFor({ ...opts, logger }, { jobs: false, credentials: false });
  try {
    const client = new HttpRegistryClient({
      registry,
      transport,
      insecure: insecureList(opts),
      // registries.conf's `insecure = true` (TLS without verification), as every other command has it.
      insecureTls: insecureTlsHosts(opts),
      insecureTlsBy: insecureTlsBy(opts),
      // Only the credentials being tested: a stored login must not make a wrong password look right.
      credential: async () => cred,
      signal,
    });
    try {
      await client.ping();
    } catch (err) {
      if (err instanceof AuthError) {
        throw new AuthError(
          `login to ${registry} failed: the registry refused user ${opts.username} (check the user name and password or token; nothing was stored)`,
          { cause: err, details: err.details },
        );
      }
      throw withAbortReason(err, signal, 'login');
    }
  } finally {
    transport.close();
  }
  // A namespace's login is checked at the registry's /v2/ too, as Podman's is: the registry has
  // no endpoint that answers for a namespace without naming a repository in it.
  await place.store(cred);
  return { registry, ...(namespace ? { namespace } : {}) };
}

/**
 * Removes the stored credentials for a registry from the Docker config ($REGISTRY_AUTH_FILE when set)
 * and its credential helper; a namespace's from the containers auth file (and from Docker's config,
 * where earlier versions stored it).
 */
export async function logout(given: LogoutOptions): Promise<LogoutResult> {
  // No scrubbedRejections, as every other operation has: its SecretSet would stay empty. logout()
  // takes no credentials and no `secrets`, asks no registry, and never reads a stored secret: it
  // deletes the file's entries unread, and a helper's `erase` is given only the server URL. What
  // could carry one is covered where it is made: a helper's failure output goes through
  // helperError (a `{"Secret": …}` reply it printed is redacted, as are Authorization values and
  // JWTs), a malformed credential file's error never quotes its content (config-file.ts), and
  // the registry argument is echoed through redactTyped.
  return rejectsTyped(() => logoutUntyped(given));
}

/** logout() itself; its failures as they come (rejectsTyped makes each a RegpushError). */
async function logoutUntyped(given: LogoutOptions): Promise<LogoutResult> {
  checkOptions('logout()', given, LOGOUT_SHAPE);
  const opts = anchorPaths(given); // a relative REGISTRY_AUTH_FILE or DOCKER_CONFIG taken in the `cwd` option
  const { registry, namespace, name } = loginTarget(opts.registry);
  const store = storeOptions(opts);
  const { removed, helperNotAsked } = await eraseCredentialReport(name, store);
  const elsewhere = await loginsElsewhere(name, store);
  return { registry, ...(namespace ? { namespace } : {}), removed, ...(helperNotAsked ? { helperNotAsked } : {}), ...(elsewhere.length ? { stillStoredIn: elsewhere } : {}) };
}
