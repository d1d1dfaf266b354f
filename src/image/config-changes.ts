/**
 * The config edits push() takes (PushOptions.config): types only, part of the library's published
 * declarations; config.ts applies and checks them.
 */

/** What the user asked to change in the config; undefined means "keep the base's value". */
export interface ConfigChanges {
  /** Exec-form entrypoint; [] clears it. */
  entrypoint?: readonly string[] | undefined;
  /** Exec-form command; [] clears it. */
  cmd?: readonly string[] | undefined;
  /**
   * Shell-form entrypoint (a Dockerfile's `ENTRYPOINT cmd`): run by the image's shell, resolved
   * per config (shellOf): the base's `Shell`, else `cmd /S /C` for Windows, else `/bin/sh -c`.
   * Not with `entrypoint`.
   */
  entrypointShell?: string | undefined;
  /** Shell-form command (`CMD cmd`), resolved the same way. Not with `cmd`. */
  cmdShell?: string | undefined;
  /** "K=V" each; replaces the same key in place, appends new keys, keeps order. */
  env?: readonly string[] | undefined;
  /** "80", "80/tcp", "53/udp". */
  ports?: readonly string[] | undefined;
  workdir?: string | undefined;
  volumes?: readonly string[] | undefined;
  labels?: Record<string, string> | undefined;
  user?: string | undefined;
  /** Docker's config Healthcheck (OCI configs carry it too; runtimes that know it use it). */
  healthcheck?: HealthcheckChange | undefined;
  /** Signal that stops the container, e.g. SIGTERM or 15. */
  stopSignal?: string | undefined;
}

/** A health check as Docker's config stores it; durations in nanoseconds, 0/absent = the runtime's default. */
export interface HealthcheckChange {
  /** ["CMD", arg…] (exec), ["CMD-SHELL", "cmd"] (shell) or ["NONE"] (turn off the base's check). */
  test: readonly string[];
  interval?: number | undefined;
  timeout?: number | undefined;
  startPeriod?: number | undefined;
  retries?: number | undefined;
}
