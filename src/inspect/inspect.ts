/** `inspect`: what an image reference resolves to, read from the registry without pulling layers. */
import { ProtocolError, rejectsTyped } from '../errors.js';
import { CONFIG_CAP } from '../http/response.js';
import { formatReference, manifestRef, referenceArgument, type ImageReference } from '../ref/reference.js';
import { parseConfig } from '../image/config.js';
import { artifactTypeOf, parseManifest } from '../image/manifest.js';
import { isImageConfigMediaType } from '../image/mediatypes.js';
import { parsePlatform, formatPlatform } from '../image/platform.js';
import type { ImageConfig, Platform } from '../image/types.js';
import { isObject } from '../json-object.js';
import { checkArgument, checkOptions, REFERENCE_ARGUMENT, type Shape } from '../options-check.js';
import { optionPaths } from '../option-names.js';
import { checkConnectionRanges } from '../registry/limits.js';
import { CONNECTION_SHAPE } from '../registry/connection-shape.js';
import { withClient } from '../registry/one-client-operation.js';
import type { RegistryClient } from '../registry/registry-client.js';
import { pickPlatform } from '../transfer/graph.js';
import type { ConfigSummary, InspectOptions, InspectResult } from './options.js';
import { scrubbedRejections } from '../redact.js';

/**
 * InspectOptions as a plain-JS caller must give them (options-check.ts).
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export const INSPECT_SHAPE = { fields: { ...CONNECTION_SHAPE, platform: 'string', only: { literal: ['manifest', 'config'] } } } satisfies Shape;

/** `{ artifactType }` when a document states a non-empty one, else nothing. */
function stated(artifactType: unknown): { artifactType?: string } {
  return typeof artifactType === 'string' && artifactType !== '' ? { artifactType } : {};
}

/**
 * The fields of an image config that inspect shows, each checked for its type: the config comes
 * from the registry, and a number where a list belongs must be one error line, not a crash in the
 * printing. Entrypoint and Cmd may be one string, which Docker reads as a list of one (its
 * strslice type), so they are shown that way.
 */
function configFields(cfg: ImageConfig, what: string): Omit<ConfigSummary, 'digest' | 'mediaType' | 'size'> {
  const bad = (field: string, want: string) => new ProtocolError(`${what}: ${field} is not ${want}`);
  const str = (v: unknown, field: string): string | undefined => {
    if (v === undefined || typeof v === 'string') return v;
    throw bad(field, 'a string');
  };
  const nullable = <T>(v: unknown, field: string, ok: (v: unknown) => boolean, want: string): T | null | undefined => {
    if (v === undefined || v === null || ok(v)) return v as T | null | undefined;
    throw bad(field, want);
  };
  const isStrings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  const args = (v: unknown, field: string) => (typeof v === 'string' ? [v] : nullable<string[]>(v, field, isStrings, 'a list of strings'));
  const c = nullable<Record<string, unknown>>(cfg.config, 'config', isObject, 'an object') ?? {};
  return {
    os: str(cfg.os, 'os'),
    architecture: str(cfg.architecture, 'architecture'),
    variant: str(cfg.variant, 'variant'),
    created: str(cfg.created, 'created'),
    Entrypoint: args(c.Entrypoint, 'config.Entrypoint'),
    Cmd: args(c.Cmd, 'config.Cmd'),
    Env: nullable<string[]>(c.Env, 'config.Env', isStrings, 'a list of strings'),
    WorkingDir: nullable<string>(c.WorkingDir, 'config.WorkingDir', (v) => typeof v === 'string', 'a string'),
    ExposedPorts: nullable<Record<string, unknown>>(c.ExposedPorts, 'config.ExposedPorts', isObject, 'an object'),
    Labels: nullable<Record<string, string>>(c.Labels, 'config.Labels', (v) => isObject(v) && Object.values(v as object).every((x) => typeof x === 'string'), 'an object of strings'),
    User: nullable<string>(c.User, 'config.User', (v) => typeof v === 'string', 'a string'),
  };
}

/** Resolves `reference` and describes it; with `platform`, describes that child of an index. */
export async function inspect(reference: string | ImageReference, given: InspectOptions = {}): Promise<InspectResult> {
  return scrubbedRejections(given, (opts) => rejectsTyped(() => inspectUntyped(reference, opts)));
}

/** inspect() itself; its failures as they come (rejectsTyped makes each a RegpushError). */
async function inspectUntyped(reference: string | ImageReference, given: InspectOptions): Promise<InspectResult> {
  checkArgument('inspect()', 'reference', reference, REFERENCE_ARGUMENT);
  checkOptions('inspect()', given, INSPECT_SHAPE);
  checkConnectionRanges(given, optionPaths('inspect()').about);
  const ref = referenceArgument(reference, given.connectionNames);
  // Blank: refused, as digestOf does. The CLI's --platform is checked there first, in its own words.
  const want = given.platform === undefined ? undefined : parsePlatform(given.platform, 'inspect(): platform');
  return withClient(ref, 'read', ['pull'], given, (client) => describe(client, ref, want, given.only), 'tags');
}

/** inspect() with its client: `ref` described, or its child for `want`; `only`: InspectOptions.only. */
async function describe(client: RegistryClient, ref: ImageReference, want: Platform | undefined, only: InspectOptions['only']): Promise<InspectResult> {
  const name = formatReference(ref);
  let fetched = await client.getManifest(ref.repository, manifestRef(ref));
  // Where the reference was resolved (a platform's child, named by digest, may come from elsewhere).
  const mirror = fetched.mirror ? { mirror: fetched.mirror } : {};
  let parsed = parseManifest(fetched.bytes, fetched.mediaType);
  let indexDigest: string | undefined;
  // With --platform, what digest and copy would pick (pickPlatform): an index's child (read next),
  // or this single image, its config read to check it is that platform (and kept for below).
  const picked = want && (await pickPlatform(client, ref.repository, parsed, want, name));
  if (picked && 'child' in picked) {
    indexDigest = fetched.digest;
    fetched = await client.getManifest(ref.repository, picked.child.digest);
    parsed = parseManifest(fetched.bytes, fetched.mediaType);
  }
  const read = picked && 'config' in picked ? picked.config : undefined;
  const base = { reference: name, digest: fetched.digest, mediaType: parsed.mediaType, size: fetched.bytes.length, ...mirror, raw: fetched.bytes };
  if (parsed.kind === 'index') {
    return {
      ...base,
      kind: 'index',
      ...stated(parsed.index.artifactType),
      manifests: parsed.index.manifests.map((d) => ({
        digest: d.digest,
        mediaType: d.mediaType,
        size: d.size,
        platform: d.platform,
        platformName: d.platform ? formatPlatform(d.platform) : undefined,
        ...stated(d.artifactType),
      })),
    };
  }
  const m = parsed.manifest;
  const layers = m.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType }));
  const descriptor = { digest: m.config.digest, mediaType: m.config.mediaType, size: m.config.size };
  const readConfig = () => client.getBlobBytes(ref.repository, m.config.digest, CONFIG_CAP);
  if (!isImageConfigMediaType(m.config.mediaType)) {
    // An artifact (a Helm chart, an SBOM, a signature, anything `oras push` stores): its config is
    // whatever its type says, often not JSON at all, so it is described, not parsed. (One asked
    // for with --platform is an index's child: pickPlatform refuses a single one.)
    const configRaw = only === 'manifest' ? undefined : await readConfig();
    return { ...base, kind: 'artifact', indexDigest, artifactType: artifactTypeOf(m), config: descriptor, layers, configRaw };
  }
  if (only === 'manifest' && !read) return { ...base, kind: 'image', ...stated(m.artifactType), indexDigest, config: descriptor, layers };
  const configRaw = read?.bytes ?? (await readConfig());
  // The fields are checked for the description (an `os` that is a number is one error line, not
  // a crash); with `only`, not at all (pickPlatform checked a single image's platform fields).
  const what = `config ${m.config.digest} of ${name}`;
  const config = only ? descriptor : { ...descriptor, ...configFields(read?.config ?? parseConfig(configRaw, what), what) };
  return { ...base, kind: 'image', ...stated(m.artifactType), indexDigest, config, layers, configRaw };
}
