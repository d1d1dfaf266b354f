/**
 * The connection options every operation takes (push, copy, sync, inspect, login and the registry
 * commands extend them): types only, so the library's published declarations reach these and the
 * few types they name, not the code that builds transports and clients from them (operation-transport.ts, connect.ts).
 */
import type { Credential, RegistryCredentials, SecretSink } from '../auth/credential-types.js';
import type { EarlySockets } from '../http/early-sockets.js';
import type { ProxySettings } from '../http/proxy-choice.js';
import type { RegistryTlsOptions } from '../http/tls-options.js';
import type { ConnectionNames } from '../option-names.js';
import type { BlockedPrefixes, InsecureHosts } from './mirror-config.js';

/** Options every command shares, as the library receives them (the CLI fills them from flags and env). */
export interface ConnectionOptions {
  /**
   * The directory a relative path is relative to: push's `app` and `layers` sources (and so their
   * `.dockerignore`), the `tls` files and directories, and the path variables of `env`
   * (REGISTRY_AUTH_FILE, DOCKER_CONFIG, NODE_EXTRA_CA_CERTS). Default: the process's working
   * directory, read once when the operation starts. The CLI passes its own (`CliIO.cwd`).
   */
  cwd?: string | undefined;
  /** Environment to read credentials and settings from; the library never reads process.env itself. */
  env?: Record<string, string | undefined> | undefined;
  /** Home directory for ~/.docker/config.json and containers auth files. */
  homeDir?: string | undefined;
  /** host[:port] entries reachable over plain http (also REGPUSH_INSECURE_REGISTRIES in env); read as that variable is: `http://` dropped, comma lists split. */
  insecureRegistries?: readonly string[] | undefined;
  /**
   * Explicit credentials: `from` for every source registry (and the one registry of inspect and the
   * read commands), `to` for every target; `registries` per registry, or per namespace or
   * repository of one, whatever its role (`{ 'ghcr.io': {…}, 'quay.io/org': {…} }`), matched as
   * `auths` keys are: by whole path components, the most specific first, then the registry, Docker
   * Hub by any of its names. An entry that matches wins over `from`/`to` and over the stored
   * logins, so a copy to two registries can give each its own login.
   */
  credentials?: { from?: Credential | undefined; to?: Credential | undefined; registries?: RegistryCredentials | undefined } | undefined;
  signal?: AbortSignal | undefined;
  /** A connection silent this long fails and is retried (ms; default 60 000). The CLI reads REGPUSH_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number | undefined;
  /** Bytes per PATCH when a registry needs chunked uploads (default per registry, see registry/quirks.ts). */
  chunkSize?: number | undefined;
  /**
   * TLS per registry: certs.d directories (default ~/.config/containers/certs.d under homeDir or
   * env.HOME, /etc/containers/certs.d, /etc/docker/certs.d),
   * extra CAs, client certificates, verification off. A CA file named by `env.NODE_EXTRA_CA_CERTS`
   * is trusted for every registry and https:// proxy on top of Node's bundled roots, as Node trusts
   * the one of its own environment (see RegistryTlsOptions.nodeExtraCaCerts for the file the
   * process started with); one that cannot be read is a warning, as Node's own is.
   */
  tls?: RegistryTlsOptions | undefined;
  /** Milliseconds a credential helper may take (default 30 s). The CLI reads REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS. */
  credentialHelperTimeoutMs?: number | undefined;
  /**
   * Runs each credential helper in a process group of its own (not on Windows), so that a helper
   * that times out is killed with the processes it started. Default false: the helper runs in the
   * caller's process group, as Docker runs it, so that at a terminal it can prompt there (from a
   * group and session of its own it cannot open the terminal); a timeout kills the helper alone.
   * The library does not look for a terminal itself: the CLI sets this when none of its standard
   * streams is one.
   */
  credentialHelperProcessGroup?: boolean | undefined;
  /**
   * The run's secrets (a SecretSet of src/redact.ts): the credentials and tokens this operation
   * resolves or receives are added, so the caller can scrub them from whatever it prints.
   */
  secrets?: SecretSink | undefined;
  /**
   * Read-only mirrors tried before a registry, in order: keys are a registry or registry/namespace
   * ("docker.io", "docker.io/library"), values host[:port][/path] ("http://" for plain HTTP). Only
   * source reads use them; writes never go to a mirror. See registry/mirror-config.ts for parsing
   * registries.conf and daemon.json into this shape.
   */
  mirrors?: Readonly<Record<string, readonly string[]>> | undefined;
  /**
   * Prefixes no image may be read from or written to (registries.conf's `blocked = true`): prefix →
   * where that is set, named in the error; false for an entry that does not block (the longest
   * matching prefix decides). A client for a blocked repository is refused before any request
   * (E_DENIED), as containers/image refuses it for pulls and pushes alike; a read whose prefix has
   * mirrors still reads them, never the registry itself (containers/image does the same).
   */
  blocked?: BlockedPrefixes | undefined;
  /**
   * host[:port] → where it is set: reached over HTTPS without verifying the certificate, and over
   * plain HTTP when it does not speak TLS (registries.conf's `insecure = true`). Compare
   * insecureRegistries (plain HTTP only) and tls.verifyOff (HTTPS only).
   */
  insecureTlsRegistries?: InsecureHosts | undefined;
  /**
   * TCP connections opened before the operation started (the CLI's launcher opens them while the
   * pipelines load; src/http/early-sockets.ts). The operation's transport takes them where it
   * would connect to that host and port, and closes those it did not need when it closes.
   * Left out of the published declarations (`stripInternal`): only the launcher can make one.
   * @internal
   */
  earlySockets?: EarlySockets | undefined;
  /**
   * The run's proxies, in place of those `env` gives (HTTPS_PROXY, HTTP_PROXY, NO_PROXY): the CLI
   * passes daemon.json's `proxies` here when they win (runProxySettings), so that failures name
   * the file and key they came from. Left out of the published declarations (`stripInternal`): a
   * library caller gives its proxies in `env`.
   * @internal
   */
  proxySettings?: ProxySettings;
  /**
   * Called with each registry and repository an operation is about to read (a source, inspect's
   * read), before any request: the CLI warns there of registries.conf entries for it that regpush
   * does not apply, which it otherwise keeps to debug lines, so that a run that never reads under
   * such an entry stays quiet. Left out of the published declarations (`stripInternal`).
   * @internal
   */
  onRead?: ((registry: string, repo: string) => void) | undefined;
  /**
   * What the hints of a failed connection call the settings that would fix it (a TLS failure's CA,
   * client certificate or verification, plain HTTP, a 401's credentials, a 429's jobs). Default:
   * this library's options (`tls.caCerts: { "reg:5000": [PATH] }`, `insecureRegistries`,
   * `credentials`, `jobs`). The CLI passes its command's flags (`--ca-cert reg:5000=PATH`, its
   * user flags…), so that its messages name what its user typed; a library caller has no need of
   * it. Whatever is given, `jobs` and `credentials` are named only by an operation that has them.
   */
  connectionNames?: ConnectionNames | undefined;
}
