/**
 * TLS settings as a library caller gives them (ConnectionOptions.tls) and the certs.d roots read by
 * default: part of the library's published declarations, kept apart from the resolver that reads
 * the files (tls.ts), which the declarations need not reach.
 */
import { join } from 'node:path';

/** Docker's and Podman's system-wide per-registry certificate directories (Podman's first, as Podman reads them). */
export const DEFAULT_CERTS_DIRS: readonly string[] = ['/etc/containers/certs.d', '/etc/docker/certs.d'];

/**
 * The certs.d roots read when none are given: the user's own `~/.config/containers/certs.d` (where
 * rootless Podman, skopeo and buildah users keep theirs), then the system ones, the order
 * containers/image searches (docker/docker_client.go dockerCertDir, for root too). `homeDir` comes
 * from the caller's options: the library reads no environment.
 */
export function defaultCertsDirs(homeDir: string | undefined): string[] {
  return [...(homeDir ? [join(homeDir, '.config/containers/certs.d')] : []), ...DEFAULT_CERTS_DIRS];
}

/** TLS choices for registries, as a library caller gives them. Keys are registry host[:port] names. */
export interface RegistryTlsOptions {
  /**
   * certs.d roots, searched in order; the first holding a `<host[:port]>` directory is used (as
   * Podman does). Default DEFAULT_CERTS_DIRS here; operations (transportFor) put the home
   * directory's ~/.config/containers/certs.d first (defaultCertsDirs); `[]` reads none.
   */
  certsDirs?: readonly string[] | undefined;
  /** Extra CA files (PEM, one or more certificates each, or one DER certificate) per registry, added to the default trust. */
  caCerts?: Readonly<Record<string, readonly string[]>> | undefined;
  /** A client certificate and its key (PEM files) per registry, for mutual TLS; wins over certs.d. */
  clientCerts?: Readonly<Record<string, { cert: string; key: string }>> | undefined;
  /** Registries reached over HTTPS without verifying the server's certificate (Docker's insecure registries). */
  verifyOff?: readonly string[] | undefined;
  /** What turned verification off for a registry of verifyOff, named in its warning (default: the setting itself, `tls.verifyOff`, or the CLI's `--tls-verify REGISTRY=false`). */
  verifyOffBy?: Readonly<Record<string, string>> | undefined;
  /**
   * The NODE_EXTRA_CA_CERTS file this Node process was started with, which Node's default trust
   * therefore holds already. Giving a host extra CAs replaces that default trust for it, so this
   * file is added back with them, and only there. The CLI passes its process's. A library caller
   * whose process was started with the variable may pass it too (`process.env.NODE_EXTRA_CA_CERTS`),
   * so that a file the `env` option also names is not added to every host a second time. Given,
   * it is the NODE_EXTRA_CA_CERTS in effect: it wins over another file in `env.NODE_EXTRA_CA_CERTS`,
   * which is then not trusted (a warning says so), as the explicit options win over `env` elsewhere.
   * One that cannot be read, or holds no PEM certificate (Node reads it as PEM only), added nothing
   * to Node's trust: it is not added back, and no hint calls it trusted.
   */
  nodeExtraCaCerts?: string | undefined;
}
