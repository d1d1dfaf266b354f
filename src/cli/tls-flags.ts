/**
 * The TLS flags every command shares: --ca-cert REGISTRY=PATH, --client-cert REGISTRY=CERT,KEY and
 * --tls-verify REGISTRY=false, each naming the registry it applies to. A bare --tls-verify=false
 * or --insecure (what skopeo, Podman and crane users type) is refused with the per-registry
 * spelling: switching verification off for every host of a run, token servers included, is not
 * something a deploy script should get by accident.
 */
import { isAbsolute, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { redactTyped } from '../redact.js';
import { DEFAULT_CERTS_DIRS, type RegistryTlsOptions } from '../http/tls-options.js';
import { registryHostOf } from '../ref/registry.js';
import { bracketBareIpv6 } from '../ref/host-address.js';
import { defineFlags } from './flag-table.js';

const PER_REGISTRY =
  'name the registry: --tls-verify REGISTRY=false (HTTPS without verification), --ca-cert REGISTRY=PATH (a private CA), --client-cert REGISTRY=CERT,KEY, or --insecure-registry REGISTRY (plain HTTP)';

/** The TLS flags (spread into commonFlags). */
export const tlsFlags = defineFlags({
  'ca-cert': {
    type: 'string',
    repeatable: true,
    describe:
      'REGISTRY=PATH: trust the CA certificate(s) in PATH (PEM) for REGISTRY, besides the system CAs; repeatable. ' +
      'Also read: DIR/REGISTRY/*.crt (CAs) and DIR/REGISTRY/client.cert + client.key, ' +
      `DIR being ~/.config/containers/certs.d, ${DEFAULT_CERTS_DIRS.join(' or ')} (the first that has REGISTRY; or the DIR:DIR… of REGPUSH_CERTS_DIRS)`,
    group: 'Connection:',
  },
  'client-cert': {
    type: 'string',
    repeatable: true,
    describe: 'REGISTRY=CERT,KEY: present this client certificate and key (PEM) to REGISTRY (mutual TLS); repeatable',
    group: 'Connection:',
  },
  'tls-verify': {
    type: 'string',
    repeatable: true,
    describe: 'REGISTRY=false: HTTPS to REGISTRY without verifying its certificate (prints a warning); repeatable',
    group: 'Connection:',
    check: (v) => verifyFlags(v),
    instead: PER_REGISTRY,
  },
  // Not a regpush flag: declared (hidden) so that it gets the per-registry hint instead of "Unknown argument".
  // Boolean, so `--insecure REF` leaves REF a positional; any value is refused.
  insecure: {
    type: 'boolean',
    hidden: true,
    describe: 'Refused: name the registry (--insecure-registry, --tls-verify REGISTRY=false)',
    check: () => refuseInsecure(),
  },
});

/** The flag values as yargs delivers them. */
export interface TlsFlagArgs {
  'ca-cert'?: string | string[];
  'client-cert'?: string | string[];
  'tls-verify'?: string | string[];
  insecure?: boolean;
}

function list(v: unknown): unknown[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** Splits REGISTRY=VALUE; the registry is a host[:port] (scheme and /v2/ tolerated, as for logins). */
function registryPair(flag: string, raw: unknown, valueName: string): { registry: string; value: string } {
  const s = typeof raw === 'string' ? raw : '';
  const eq = s.indexOf('=');
  // A bare IPv6 address (`fd00::2=false`) names the registry [fd00::2], as --insecure-registry reads it.
  const registry = eq > 0 ? registryHostOf(bracketBareIpv6(s.slice(0, eq))) : undefined;
  const value = eq > 0 ? s.slice(eq + 1) : '';
  if (!registry || !value) {
    throw new UsageError(`--${flag} takes REGISTRY=${valueName}, e.g. --${flag} registry.example.com:5000=${flag === 'tls-verify' ? 'false' : valueName} (got "${redactTyped(String(raw))}")`);
  }
  return { registry, value };
}

function refuseInsecure(): never {
  throw new UsageError(`--insecure would apply to every registry; ${PER_REGISTRY}`);
}

/** --tls-verify values as registry → verify (true/false). */
function verifyFlags(v: unknown): Map<string, boolean> {
  const verify = new Map<string, boolean>();
  for (const raw of list(v)) {
    // `--tls-verify`, `--tls-verify=false`: no registry named (`--no-tls-verify` is refused before, in main.ts, with the same hint).
    if (typeof raw !== 'string' || !raw.includes('=')) throw new UsageError(`--tls-verify needs a registry; ${PER_REGISTRY}`);
    const { registry, value } = registryPair('tls-verify', raw, 'false');
    const on = value === 'true' ? true : value === 'false' ? false : undefined;
    if (on === undefined) throw new UsageError(`--tls-verify ${registry}= takes true or false (got "${value}")`);
    if (verify.has(registry) && verify.get(registry) !== on) throw new UsageError(`--tls-verify says both true and false for ${registry}`);
    verify.set(registry, on);
  }
  return verify;
}

/**
 * The key of a registry in the TLS tables: `reg:443` is `reg` (one HTTPS host). Keyed apart, the
 * resolver took the first matching entry only, and `--ca-cert reg:443=A --ca-cert reg=B` dropped B
 * without a word: the CA files of both are merged, and a second client certificate is refused.
 */
function tlsKey(registry: string): string {
  // Bracketed first: a bare IPv6 address's last group ("fd00::443") is no port.
  return bracketBareIpv6(registry).replace(/:443$/, '');
}

/** The colon-separated certs.d roots of REGPUSH_CERTS_DIRS, or undefined for the defaults. */
export function certsDirsFromEnv(env: Record<string, string | undefined>, cwd: string): string[] | undefined {
  const v = env.REGPUSH_CERTS_DIRS;
  if (v === undefined || v.trim() === '') return undefined;
  return v.split(':').filter(Boolean).map((d) => (isAbsolute(d) ? d : resolve(cwd, d)));
}

/**
 * The library's TLS options from the flags and REGPUSH_CERTS_DIRS. Paths are resolved against
 * `cwd` but not opened: the files are read when the registry is first contacted.
 */
export function tlsOptionsFromFlags(a: TlsFlagArgs, env: Record<string, string | undefined>, cwd: string): RegistryTlsOptions {
  if (a.insecure !== undefined) refuseInsecure();
  const caCerts: Record<string, string[]> = {};
  for (const raw of list(a['ca-cert'])) {
    const { registry, value } = registryPair('ca-cert', raw, 'PATH');
    (caCerts[tlsKey(registry)] ??= []).push(resolve(cwd, value));
  }
  const clientCerts: Record<string, { cert: string; key: string }> = {};
  for (const raw of list(a['client-cert'])) {
    const { registry, value } = registryPair('client-cert', raw, 'CERT,KEY');
    const parts = value.split(',');
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new UsageError(`--client-cert takes REGISTRY=CERT,KEY: two files, the certificate then its key (got "${String(raw)}")`);
    if (clientCerts[tlsKey(registry)]) throw new UsageError(`--client-cert was given twice for ${tlsKey(registry)}; give one certificate per registry`);
    clientCerts[tlsKey(registry)] = { cert: resolve(cwd, parts[0]), key: resolve(cwd, parts[1]) };
  }
  const verify = verifyFlags(a['tls-verify']);
  const out: RegistryTlsOptions = {};
  const dirs = certsDirsFromEnv(env, cwd);
  if (dirs) out.certsDirs = dirs;
  if (Object.keys(caCerts).length) out.caCerts = caCerts;
  if (Object.keys(clientCerts).length) out.clientCerts = clientCerts;
  const off = [...verify].filter(([, on]) => !on).map(([r]) => r);
  if (off.length) out.verifyOff = off;
  return out;
}

