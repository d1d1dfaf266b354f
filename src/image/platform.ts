/**
 * Platforms: parsing `--platform os/arch[/variant]`, matching it against index entries the way
 * containerd does for the common cases, and telling image children from attestations (which
 * carry a fake "unknown/unknown" platform and must never be picked or carried into a new index).
 */
import { InputError, NotFoundError } from '../errors.js';
import type { Descriptor, ImageIndex, Platform } from './types.js';

/** One os/architecture/variant field: what OCI platforms actually use. */
const FIELD = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Parses "os/arch[/variant]" (e.g. "linux/arm64/v8"); throws InputError otherwise. "all" is the caller's business. */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => FIELD.test(p))) {
    throw new InputError(`invalid platform ${JSON.stringify(s)}: expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  // Aliases become the Go names here too, because a scratch config is built from this value.
  const p: Platform = { os: os.toLowerCase(), architecture: normArch(architecture) };
  if (variant !== undefined) p.variant = variant.toLowerCase();
  return p;
}

/** "os/arch[/variant]". */
export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** Other spellings of architectures, as users type them (uname -m) → the Go names OCI uses. */
const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', i386: '386', i686: '386' };

/** The variant an architecture has when none is written (containerd's normalisation). */
const DEFAULT_VARIANT: Record<string, string> = { amd64: 'v1', arm64: 'v8', arm: 'v7' };

/** Canonical architecture name. */
function normArch(arch: string): string {
  const a = arch.toLowerCase();
  return ARCH_ALIASES[a] ?? a;
}

/** Canonical variant: lower-case, the architecture's default when absent, "8" and "v8" alike. */
function normVariant(arch: string, variant: string | undefined): string | undefined {
  const v = variant?.toLowerCase() || DEFAULT_VARIANT[arch];
  return v !== undefined && /^\d+$/.test(v) ? `v${v}` : v;
}

/**
 * True when `have` satisfies `want`: same os and architecture; the variant is compared only when
 * `want` names one, with defaults filled in (arm64 without variant is v8, amd64 is v1, arm is v7).
 */
export function platformMatches(want: Platform, have: Platform): boolean {
  if (want.os.toLowerCase() !== have.os.toLowerCase()) return false;
  const arch = normArch(want.architecture);
  if (arch !== normArch(have.architecture)) return false;
  if (!want.variant) return true;
  return normVariant(arch, want.variant) === normVariant(arch, have.variant);
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
  if (matches.length === 1 || want.variant) return matches[0]!;
  const arch = normArch(want.architecture);
  const preferred = normVariant(arch, undefined);
  return matches.find((d) => normVariant(arch, d.platform!.variant) === preferred) ?? matches[0]!;
}
