/**
 * Which registries a run reaches insecurely, and the setting that named each: plain HTTP
 * (insecureRegistries and REGPUSH_INSECURE_REGISTRIES) and TLS unverified (insecureTlsRegistries).
 */
import { endpointFor, INSECURE_ENTRY_FORM, isInsecureEntry, parseInsecureList, type Endpoint } from './endpoint.js';
import { InputError } from '../errors.js';
import { redactTyped } from '../redact.js';
import { DAEMON_INSECURE_REGISTRIES, REGISTRIES_INSECURE_V1 } from './mirror-config.js';
import type { ConnectionOptions } from './connection-options.js';

/** insecureTlsRegistries' hosts → their setting as the warning quotes it (RegistryClientOptions.insecureTlsBy). */
export function insecureTlsBy(opts: ConnectionOptions): Record<string, string> {
  return Object.fromEntries(Object.entries(opts.insecureTlsRegistries ?? {}).map(([h, where]) => [h, insecureTlsSetting(where)]));
}

/**
 * The insecure list from options and env together, each entry read as the env var is (an
 * `http://` prefix dropped, a comma list split): compared raw, `--insecure-registry http://h:5000`
 * or `a:5000,b:5000` matched no registry and the push went to HTTPS without a word.
 */
export function insecureList(opts: ConnectionOptions): string[] {
  return [...(opts.insecureRegistries ?? []).flatMap((v) => parseInsecureList(v)), ...insecureEnvEntries(opts.env ?? {})];
}

/**
 * REGPUSH_INSECURE_REGISTRIES's entries, each one that can name a registry (isInsecureEntry), as
 * the insecureRegistries option's (connection-shape.ts) and daemon.json's are held to; E_INPUT,
 * the environment's value (README "Exit codes"). An entry that cannot match (`reg:5000/library`)
 * left the registry on HTTPS without a word. The CLI asks it before anything connects; a library
 * call meets it as its first client is made, before any request.
 */
export function insecureEnvEntries(env: Readonly<Record<string, string | undefined>>): string[] {
  const entries = parseInsecureList(env.REGPUSH_INSECURE_REGISTRIES);
  const bad = entries.find((entry) => !isInsecureEntry(entry));
  if (bad !== undefined) throw new InputError(`REGPUSH_INSECURE_REGISTRIES entry ${JSON.stringify(redactTyped(bad))} is not ${INSECURE_ENTRY_FORM}`);
  return entries;
}

/** The hosts insecureTlsRegistries names (tried over TLS unverified, then plain HTTP: endpointFor's `insecureTls`). */
export function insecureTlsHosts(opts: ConnectionOptions): string[] {
  return Object.keys(opts.insecureTlsRegistries ?? {});
}

/**
 * Where a run's clients reach `registry` (connectOne gives each the same lists): `http` where it
 * is named insecure, `auto` where a probe decides (loopback, insecure-TLS), else `https`. What
 * its answers are counted under follows from it (TransportStats.hostKey): `reg:80` named for an
 * HTTPS registry, or `reg:443` for a plain-HTTP one, keeps its port there.
 */
export function endpointOf(registry: string, opts: ConnectionOptions): Endpoint {
  return endpointFor(registry, insecureList(opts), insecureTlsHosts(opts));
}

/**
 * Whether `registry` is named insecure by env's REGPUSH_INSECURE_REGISTRIES alone, not by the
 * insecureRegistries option (the CLI's --insecure-registry): a hint against that setting then
 * names the variable the user set, not a flag they never typed.
 */
export function insecureFromEnvOnly(registry: string, opts: ConnectionOptions): boolean {
  const named = (list: string[]) => endpointFor(registry, list).scheme === 'http';
  return !named((opts.insecureRegistries ?? []).flatMap((v) => parseInsecureList(v))) && named(parseInsecureList(opts.env?.REGPUSH_INSECURE_REGISTRIES));
}

/**
 * The setting that named a host insecure-TLS, as the file wrote it, from InsecureHosts' value: a
 * file (version 2's `insecure = true`), or the setting and the file (`[registries.insecure] in FILE`,
 * version 1, which has no `insecure = true`; `insecure-registries in FILE`, daemon.json's).
 */
export function insecureTlsSetting(where: string): string {
  return [REGISTRIES_INSECURE_V1, DAEMON_INSECURE_REGISTRIES].some((setting) => where.startsWith(`${setting} in `)) ? where : `insecure = true in ${where}`;
}
