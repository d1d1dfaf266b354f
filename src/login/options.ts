/**
 * login()'s and logout()'s options and results, as the library exposes them: types only, so the
 * published declarations reach these and not login.ts's code.
 */
import type { Logger } from '../log.js';
import type { ConnectionOptions } from '../registry/connection-options.js';

/** Options of login(). */
export interface LoginOptions extends ConnectionOptions {
  /**
   * Registry host[:port] ("ghcr.io", "registry.example.com:5000"); a URL or Docker config key such
   * as "https://index.docker.io/v1/" also works. A namespace or repository under it
   * ("quay.io/org", as Podman's login takes) stores a login for that part of the registry, in the
   * containers auth file ($REGISTRY_AUTH_FILE when set, else Podman's), never in Docker's
   * config.json: regpush, Podman and skopeo use it there; Docker, which has no such logins, does not.
   */
  registry: string;
  username: string;
  /** Password or access token. */
  password: string;
  logger?: Logger | undefined;
  retries?: number | undefined;
}

/** What login() did. */
export interface LoginResult {
  /** The canonical registry host the credentials were checked against ("docker.io" for Docker Hub). */
  registry: string;
  /** The namespace or repository the login is stored for ("org" of quay.io/org); absent for the whole registry. */
  namespace?: string;
}

/** Options of logout(). */
export interface LogoutOptions extends Pick<ConnectionOptions, 'cwd' | 'env' | 'homeDir' | 'credentialHelperTimeoutMs' | 'credentialHelperProcessGroup'> {
  /** Registry host, or host/namespace, as given to login. */
  registry: string;
  logger?: Logger | undefined;
}

/** What logout() did. */
export interface LogoutResult {
  registry: string;
  /** As in LoginResult: a namespace's logout removes that key only. */
  namespace?: string;
  /** False when nothing was stored for the registry (or nothing could be erased: see helperNotAsked). */
  removed: boolean;
  /**
   * The credential helper (`docker-credential-NAME`) that could not be asked to erase the login
   * (missing from PATH): it may still hold one, so `removed: false` does not mean no login is
   * stored. Absent when every helper involved was asked (a logger gets a warning either way).
   */
  helperNotAsked?: string;
  /**
   * Other credential files that still hold a login for it (Podman's auth.json, the legacy
   * ~/.dockercfg), which every later command goes on reading; absent when there are none.
   */
  stillStoredIn?: string[];
}
