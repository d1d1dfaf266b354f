/**
 * An operation's transport: built one way for every operation (transportFor), with the TLS
 * settings of its registries and the names its failures' hints give the settings that fix them.
 */
import { Transport } from '../http/transport.js';
import { proxyPasswords, proxySettingsFromEnv } from '../http/proxy-choice.js';
import { tlsResolver, type ResolverTlsOptions } from '../http/tls.js';
import { defaultCertsDirs } from '../http/tls-options.js';
import { silentLogger, type Logger } from '../log.js';
import { connectionOptionNames, type ConnectionNames } from '../option-names.js';
import { checkConnectionRanges } from './limits.js';
import { insecureTlsSetting } from './insecure-settings.js';
import type { ConnectionOptions } from './connection-options.js';

/** Transport tunables an operation takes from its options. */
export interface TransportChoices extends ConnectionOptions {
  logger?: Logger;
  retries?: number;
  idleTimeoutMs?: number;
}

/**
 * What an operation has of the settings a failure's hints may advise beyond its connection
 * (ConnectionNames' optional ones): `jobs`, how many transfers run at once (push, copy and sync
 * have it; inspect, the registry commands and login do not); `credentials`, credentials to give
 * (every operation but login, which checks the ones it is given).
 */
export interface HintedSettings {
  jobs: boolean;
  credentials: boolean;
  /**
   * What a 404 advises: `inspect` (ConnectionNames.inspect, the default), or `tags`, the tag
   * listing (ConnectionNames.tags), for an operation that inspect would fail the same way: inspect
   * itself, and digest, tag, untag and delete, which name a reference as inspect does; `repository`,
   * neither, for the tag listing itself, whose 404 is its repository's.
   */
  notFoundAdvice?: 'inspect' | 'tags' | 'repository';
}

/** The default: an operation without a `jobs` setting that takes credentials (inspect, tags, catalog, digest, tag, untag, delete). */
const WITHOUT_JOBS: HintedSettings = { jobs: false, credentials: true };

/**
 * The one way an operation builds its transport: logger, retries, idle timeout, proxies (env's, or the CLI's daemon.json ones),
 * TLS per registry, and the names its hints give the settings that fix a failure (the caller's
 * `connectionNames`, else the library's options), less those the operation does not have (`has`).
 */
export function transportFor(opts: TransportChoices, has: HintedSettings = WITHOUT_JOBS): Transport {
  // For a caller that skipped its operation's own check (checkConnectionRanges, which names the
  // option with the operation): the options named bare.
  checkConnectionRanges(opts, (option) => option);
  const logger = opts.logger ?? silentLogger;
  const names = namesFor(opts.connectionNames ?? connectionOptionNames, has);
  const proxy = opts.proxySettings ?? proxySettingsFromEnv(opts.env ?? {});
  // A proxy's password reaches text a dependency words (its errors, --debug lines) as typed or
  // decoded: the caller scrubs it from all it prints, as it does a registry password.
  for (const p of [proxy.httpProxy, proxy.httpsProxy]) for (const secret of proxyPasswords(p)) opts.secrets?.add(secret);
  return new Transport({
    logger,
    idleTimeoutMs: opts.idleTimeoutMs,
    retry: opts.retries === undefined ? undefined : { retries: opts.retries },
    proxy,
    tls: tlsResolver(withInsecureTls(opts), logger, names),
    early: opts.earlySockets,
    names,
  });
}

/** `names` less the settings the operation does not have: a 429 at `inspect` does not say to lower a --jobs it has no such flag for. */
function namesFor(names: ConnectionNames, has: HintedSettings): ConnectionNames {
  const { jobs, credentials, refused, givenCredentials, inspect, tags, ...always } = names;
  return {
    ...always,
    ...(has.notFoundAdvice !== 'tags' && has.notFoundAdvice !== 'repository' && inspect !== undefined ? { inspect } : {}),
    ...(has.notFoundAdvice !== 'repository' && tags !== undefined ? { tags } : {}),
    ...(has.jobs && jobs !== undefined ? { jobs } : {}),
    ...(has.credentials && credentials ? { credentials } : {}),
    ...(has.credentials && refused ? { refused } : {}),
    ...(has.credentials && givenCredentials ? { givenCredentials } : {}),
  };
}

/**
 * The TLS options of a run: the caller's, with the certs.d roots of the home directory and the
 * system when none are given, and verification off for insecureTlsRegistries (and why, for the warning).
 */
function withInsecureTls(opts: ConnectionOptions): ResolverTlsOptions {
  // env's NODE_EXTRA_CA_CERTS is trusted for every registry and proxy (tlsResolver), as Node trusts the one
  // it started with; unless the caller names that one (tls.nodeExtraCaCerts), which is Node's already and wins.
  const tls: ResolverTlsOptions = { ...(opts.tls ?? {}), envExtraCaCerts: opts.env?.NODE_EXTRA_CA_CERTS || undefined };
  tls.certsDirs ??= defaultCertsDirs(opts.homeDir ?? opts.env?.HOME);
  const hosts = Object.entries(opts.insecureTlsRegistries ?? {});
  if (hosts.length === 0) return tls;
  return {
    ...tls,
    verifyOff: [...(tls.verifyOff ?? []), ...hosts.map(([h]) => h)],
    // Named in the warning the resolver gives once such a host has answered over TLS, whatever
    // it is to the operation (registry, mirror, token service, redirect target).
    verifyOffBy: { ...Object.fromEntries(hosts.map(([h, where]) => [h, insecureTlsSetting(where)])), ...(tls.verifyOffBy ?? {}) },
  };
}
