/**
 * The caller's working directory, and the options' relative paths made absolute in it: where an
 * operation looks the process's directory up, once, as it starts.
 */
import { isAbsolute, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { ConnectionOptions } from './connection-options.js';

/** Variables of `env` naming a file or directory regpush reads or writes: a relative one is taken in `cwd`, as the options' paths are. */
const PATH_VARIABLES = ['REGISTRY_AUTH_FILE', 'DOCKER_CONFIG', 'NODE_EXTRA_CA_CERTS'] as const;

/**
 * The `cwd` option, absolute: the caller's directory, else the process's. An operation reads it
 * here once, when it starts (anchorPaths); nothing below that looks the process's directory up.
 */
export function workingDirectory(cwd: string | undefined): string {
  if (cwd === '') throw new UsageError('cwd is empty: give a directory, or leave it out for the process\'s working directory');
  return resolve(cwd ?? process.cwd());
}

/** A map's entries whose value is given (a JavaScript caller may leave one undefined). */
function given<V>(map: Readonly<Record<string, V | undefined>>): [string, V][] {
  return Object.entries(map).filter((e): e is [string, V] => e[1] !== undefined);
}

/**
 * The options with every relative path made absolute in `cwd` (workingDirectory): the `tls` files
 * and directories and the path variables of `env` (PATH_VARIABLES). Each operation calls it first
 * thing after checking its options' shape, so a file is looked for where the caller means, whatever
 * the process's directory (a library caller's, or the CLI run in-process with its own `cwd`).
 * Push's layer sources keep their spelling, for messages, and are looked up in `cwd` by the layer
 * builder (LayerOptions.cwd).
 */
export function anchorPaths<T extends ConnectionOptions>(opts: T, cwd: string = workingDirectory(opts.cwd)): T & { cwd: string } {
  const at = (p: string): string => (p === '' ? p : resolve(cwd, p));
  let env = opts.env;
  for (const name of PATH_VARIABLES) {
    const v = env?.[name];
    if (v && !isAbsolute(v)) env = { ...env, [name]: at(v) };
  }
  const t = opts.tls;
  const tls = t && {
    ...t,
    ...(t.certsDirs ? { certsDirs: t.certsDirs.map(at) } : {}),
    // An entry left undefined is left out, as the options check lets it be (it was an internal error here).
    ...(t.caCerts ? { caCerts: Object.fromEntries(given(t.caCerts).map(([host, files]) => [host, files.map(at)])) } : {}),
    ...(t.clientCerts ? { clientCerts: Object.fromEntries(given(t.clientCerts).map(([host, c]) => [host, { cert: at(c.cert), key: at(c.key) }])) } : {}),
    ...(t.nodeExtraCaCerts ? { nodeExtraCaCerts: at(t.nodeExtraCaCerts) } : {}),
  };
  return { ...opts, cwd, ...(env !== opts.env ? { env } : {}), ...(tls ? { tls } : {}) };
}
