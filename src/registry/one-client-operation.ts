/**
 * The one way in of an operation that makes a single client (inspect, and tags, catalog, digest,
 * tag, untag, delete): withClient.
 */
import type { CredentialRole } from '../auth/credential-rules.js';
import type { ScopeAction } from '../auth/scope.js';
import { silentLogger } from '../log.js';
import { operationSignal, withAbortReason } from '../abort.js';
import type { ConnectionNames } from '../option-names.js';
import { connect } from './connect.js';
import { transportFor, type HintedSettings, type TransportChoices } from './operation-transport.js';
import { anchorPaths } from './working-directory.js';
import type { RegistryClient } from './registry-client.js';

/**
 * Runs `fn` with a client for `ref`'s registry (credentials for `role`; `actions` in its
 * repository, none: no repository scope, as the catalog's `registry:catalog:*` is learnt from the
 * registry's challenge) and the names its hints use, closing the transport afterwards: the one way
 * in of an operation that makes one client (inspect, and tags, catalog, digest, tag, untag,
 * delete). Relative paths (TLS files, env's path variables) are taken in the `cwd` option; the
 * operation gets its own signal (operationSignal: the caller's gets no listener per request, and
 * one already fired sends nothing), and a failure after it fired says whether anything was
 * written (an operation whose scope pushes or deletes writes; the others only read).
 * `notFoundAdvice`: HintedSettings.notFoundAdvice.
 */
export async function withClient<T>(
  ref: { registry: string; repository: string },
  role: CredentialRole,
  actions: ScopeAction[],
  given: TransportChoices,
  fn: (client: RegistryClient, names: ConnectionNames) => Promise<T>,
  notFoundAdvice?: HintedSettings['notFoundAdvice'],
): Promise<T> {
  const opts = { ...anchorPaths(given), signal: operationSignal(given.signal) };
  const transport = transportFor({ ...opts, logger: opts.logger ?? silentLogger }, { jobs: false, credentials: true, notFoundAdvice });
  try {
    return await fn(connect(transport, ref.registry, role, actions.length ? [{ repo: ref.repository, actions }] : [], opts), transport.names);
  } catch (err) {
    throw withAbortReason(err, opts.signal, actions.some((a) => a !== 'pull') ? 'writes' : 'reads');
  } finally {
    transport.close();
  }
}
