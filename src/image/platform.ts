/**
 * Platforms: parsing `--platform os[(osversion)]/arch[/variant]`, matching it against index entries
 * the way containerd does for the common cases, and telling image children from attestations
 * (which carry a fake "unknown/unknown" platform and must never be picked or carried into a new index).
 */
import { NotFoundError, UsageError } from '../errors.js';
import type { Descriptor, ImageIndex, Platform } from './types.js';

/** One os/architecture/variant field (and an os version): what OCI platforms actually use. */
const FIELD = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The accepted spellings, for the errors. */
const EXPECTED = 'expected os/arch[/variant] or os(osversion)/arch[/variant], e.g. linux/amd64, linux/arm64/v8 or windows(10.0.20348.1)/amd64';

/**
 * Parses "os/arch[/variant]" (e.g. "linux/arm64/v8"), or with containerd's spelling of an OS
 * version "os(osversion)/arch[/variant]" (e.g. "windows(10.0.20348.1)/amd64": Windows images of
 * one architecture differ by it); throws UsageError otherwise. "all" is the caller's business.
 * `option` names where the value was given, as the message starts (`copy(): platform`): the
 * error is then `copy(): platform "linux/" is invalid: …`; without it, `invalid platform "linux/": …`.
 */
export function parsePlatform(s: string, option?: string): Platform {
  const bad = (why?: string) =>
    new UsageError(`${option === undefined ? `invalid platform ${JSON.stringify(s)}` : `${option} ${JSON.stringify(s)} is invalid`}: ${why ? `${why}; ` : ''}${EXPECTED}`);
  const parts = s.split('/');
  const [osPart, ...rest] = parts as [string, ...string[]];
  let os = osPart;
  let osVersion: string | undefined;
  if (osPart.includes('(') || osPart.includes(')')) {
    const m = /^([^()]*)\(([^()]*)\)$/.exec(osPart);
    if (!m) throw bad(`unbalanced parentheses in ${JSON.stringify(osPart)}`);
    os = m[1]!;
    osVersion = m[2]!;
    if (osVersion === '') throw bad(`empty os version in ${JSON.stringify(osPart)}`);
    if (!FIELD.test(osVersion)) throw bad(`os version ${JSON.stringify(osVersion)} has characters other than letters, digits, ".", "_" and "-"`);
  } else if (rest.some((p) => p.includes('(') || p.includes(')'))) {
    throw bad('an os version goes in parentheses right after the os');
  }
  if (parts.length < 2 || parts.length > 3 || ![os, ...rest].every((p) => FIELD.test(p))) throw bad();
  const [architecture, variant] = rest as [string, string | undefined];
  // Aliases become the Go names here too, because a scratch config is built from this value; a
  // variant written out wins over the one an alias implies (linux/armhf/v6 is arm/v6).
  const arch = archOf(architecture);
  const p: Platform = { os: os.toLowerCase(), architecture: arch.architecture };
  const v = variant?.toLowerCase() ?? arch.variant;
  if (v !== undefined) p.variant = v;
  if (osVersion !== undefined) p['os.version'] = osVersion;
  return p;
}

/**
 * Splits a leading `PLATFORM=` qualifier off a value such as `--layer linux/arm64=./out:/app`:
 * `{ platform, rest }`, or undefined when the value has none (it is all a path). What is before the
 * first "=" is taken for a platform when it starts with a letter or digit, has two or three
 * "/"-separated parts and either has parentheses (containerd's os version, whose dots belong to
 * it) or no "." at all (a path's file names usually have one); `./` in front keeps
 * any path a path. Taken for a platform, it must then parse: parsePlatform's UsageError otherwise,
 * so that `windows(10.0/amd64=…` is refused, not read as a file name.
 */
export function splitPlatformPrefix(value: string): { platform: string; rest: string } | undefined {
  const eq = value.indexOf('=');
  if (eq <= 0) return undefined;
  const prefix = value.slice(0, eq);
  const parts = prefix.split('/');
  if (!/^[A-Za-z0-9]/.test(prefix) || parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) return undefined;
  const versioned = /[()]/.test(prefix);
  if (!versioned && !/^[A-Za-z0-9][A-Za-z0-9_-]*\/[A-Za-z0-9][A-Za-z0-9_-]*(?:\/[A-Za-z0-9]+)?$/.test(prefix)) return undefined;
  parsePlatform(prefix);
  return { platform: prefix, rest: value.slice(eq + 1) };
}

/**
 * The `os` and `architecture` values the OCI image index spec names (image-index.md, "platform":
 * Go's GOOS and GOARCH), with the Go ports added since (wasip1, loong64). Not a rule: a platform
 * outside them is taken, as a new port's images are; a caller may warn of a likely typo
 * (`linux/amd65`) before it reads anything (unknownPlatformPart).
 */
const KNOWN_OS = ['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'illumos', 'ios', 'js', 'linux', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows'];
const KNOWN_ARCH = ['386', 'amd64', 'arm', 'arm64', 'loong64', 'mips', 'mips64', 'mips64le', 'mipsle', 'ppc64', 'ppc64le', 'riscv64', 's390x', 'wasm'];

/** What of `p` (parsePlatform's) is not a value the OCI spec names, as a phrase; undefined when both are. */
export function unknownPlatformPart(p: Platform): string | undefined {
  if (!KNOWN_OS.includes(p.os)) return `os ${JSON.stringify(p.os)} is not one the OCI image spec names (${KNOWN_OS.join(', ')})`;
  if (!KNOWN_ARCH.includes(p.architecture)) return `architecture ${JSON.stringify(p.architecture)} is not one the OCI image spec names (${KNOWN_ARCH.join(', ')})`;
  return undefined;
}

/** "os/arch[/variant]", or "os(osversion)/arch[/variant]" when the platform names an OS version. */
export function formatPlatform(p: Platform): string {
  const os = p['os.version'] ? `${p.os}(${p['os.version']})` : p.os;
  return p.variant ? `${os}/${p.architecture}/${p.variant}` : `${os}/${p.architecture}`;
}

/**
 * Other spellings of architectures, as users type them → the Go names OCI uses, and the variant
 * a spelling implies. containerd's platforms normalizeArch: x86_64/x86-64 → amd64, aarch64 →
 * arm64, i386 → 386, and the Debian names armhf → arm/v7, armel → arm/v6; `uname -m` on 32-bit
 * ARM says armv7l (→ arm/v7) or armv6l (→ arm/v6), and i686 on 32-bit x86.
 */
const ARCH_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  i386: { architecture: '386' },
  i686: { architecture: '386' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
  armv7l: { architecture: 'arm', variant: 'v7' },
  armv6l: { architecture: 'arm', variant: 'v6' },
};

/** The variant an architecture has when none is written (containerd's normalisation). */
const DEFAULT_VARIANT: Record<string, string> = { amd64: 'v1', arm64: 'v8', arm: 'v7' };

/** Canonical architecture name, and the variant its spelling implies (armhf: v7), if any. */
function archOf(arch: string): { architecture: string; variant?: string } {
  const a = arch.toLowerCase();
  return ARCH_ALIASES[a] ?? { architecture: a };
}

/** Canonical architecture name. */
function normArch(arch: string): string {
  return archOf(arch).architecture;
}

/** Canonical variant: lower-case, the architecture's default when absent, "8" and "v8" alike. */
function normVariant(arch: string, variant: string | undefined): string | undefined {
  const v = variant?.toLowerCase() || DEFAULT_VARIANT[arch];
  return v !== undefined && /^\d+$/.test(v) ? `v${v}` : v;
}

/**
 * True when `have` satisfies `want`: same os and architecture; the variant is compared only when
 * `want` names one or its architecture's spelling implies one (armhf: arm/v7), with defaults
 * filled in (arm64 without variant is v8, amd64 is v1, arm is v7);
 * the OS version only when `want` names one, and then exactly (10.0.20348.1 is not 10.0.20348.2:
 * a Windows container needs its host's build, and no rule says which builds are compatible).
 */
export function platformMatches(want: Platform, have: Platform): boolean {
  if (want.os.toLowerCase() !== have.os.toLowerCase()) return false;
  if (want['os.version'] !== undefined && want['os.version'] !== have['os.version']) return false;
  // A library caller's Platform may spell the architecture as parsePlatform would not leave it.
  const [w, h] = [archOf(want.architecture), archOf(have.architecture)];
  if (w.architecture !== h.architecture) return false;
  const wantVariant = want.variant || w.variant;
  if (!wantVariant) return true;
  return normVariant(w.architecture, wantVariant) === normVariant(w.architecture, have.variant || h.variant);
}

/** True for attestation/provenance entries: platform unknown/unknown or a vnd.docker.reference.type annotation. */
export function isAttestation(desc: Descriptor): boolean {
  if (desc.annotations?.['vnd.docker.reference.type'] !== undefined) return true;
  return desc.platform?.os === 'unknown' && desc.platform?.architecture === 'unknown';
}

/** The real image children of an index (attestations left out), in index order. */
export function imagePlatforms(index: ImageIndex): Descriptor[] {
  return index.manifests.filter((d) => !isAttestation(d));
}

/**
 * The child of `index` for `want`; throws NotFoundError listing the platforms available. When
 * several match (no variant asked), the one with the architecture's default variant wins, then
 * index order, so "linux/arm" picks v7 over v6 like Docker does.
 */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor {
  const children = imagePlatforms(index);
  const matches = children.filter((d) => d.platform !== undefined && platformMatches(want, d.platform));
  if (matches.length === 0) {
    const available = children.map((d) => (d.platform ? formatPlatform(d.platform) : `(no platform) ${d.digest}`));
    throw new NotFoundError(
      `platform ${formatPlatform(want)} is not in the index; available: ${available.length ? available.join(', ') : 'none'}`,
      { details: { available } },
    );
  }
  if (matches.length === 1 || want.variant || archOf(want.architecture).variant) return matches[0]!;
  const arch = normArch(want.architecture);
  const preferred = normVariant(arch, undefined);
  return matches.find((d) => normVariant(arch, d.platform!.variant) === preferred) ?? matches[0]!;
}

/**
 * The warning for `want` picking one of several images of `index` that differ by OS version
 * (a Windows tag holding ltsc2019 and ltsc2022 images, say), or undefined. selectPlatform takes
 * the first then, but a Windows host runs only images of its own OS version (process isolation),
 * so the user should name it.
 */
export function osVersionChoice(index: ImageIndex, want: Platform): string | undefined {
  if (want['os.version'] !== undefined) return undefined;
  const matches = imagePlatforms(index).filter((d) => d.platform !== undefined && platformMatches(want, d.platform));
  const versions = [...new Set(matches.map((d) => d.platform!['os.version']).filter((v): v is string => v !== undefined))];
  if (versions.length < 2) return undefined;
  const picked = selectPlatform(index, want).platform!;
  const osName = picked.os;
  const arch = [picked.architecture, picked.variant].filter(Boolean).join('/');
  return (
    `${formatPlatform(want)} matches images of ${versions.length} OS versions (${versions.join(', ')}); ` +
    `taking the first, ${picked['os.version'] ?? 'with none'}. ` +
    `A host runs only images of its own OS version: name one with ${osName}(VERSION)/${arch}, e.g. ${osName}(${versions.at(-1)})/${arch}`
  );
}

/**
 * The platform a push builds: `given` (--platform), else every platform of the base where some
 * layer names its own (`anyQualified`), else linux/amd64. push() and the CLI (which checks its
 * config flags against it before calling push) decide it here, the same way.
 */
export function pushPlatform(given: string | undefined, anyQualified: boolean, option?: string): Platform | 'all' {
  const p = given ?? (anyQualified ? 'all' : 'linux/amd64');
  return p === 'all' ? 'all' : parsePlatform(p, option);
}

/** True for a Windows platform (`undefined`: none named). */
export function isWindows(p: Platform | undefined): boolean {
  return p?.os.toLowerCase() === 'windows';
}

/**
 * True when an image built for `platform` may be a Windows one: a Windows platform, or 'all' (any
 * child of the base may be). Its paths may then be written `C:\app` (image/config.ts).
 */
export function mayBeWindows(platform: Platform | 'all'): boolean {
  return platform === 'all' || isWindows(platform);
}
