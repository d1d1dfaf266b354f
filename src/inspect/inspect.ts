/** `inspect`: what an image reference resolves to, read from the registry without pulling layers. */
import { ProtocolError } from '../errors.js';
import { CONFIG_CAP } from '../http/response.js';
import { parseReference, formatReference, manifestRef, type ImageReference } from '../ref/reference.js';
import { parseManifest } from '../image/manifest.js';
import { parsePlatform, selectPlatform, formatPlatform } from '../image/platform.js';
import type { Descriptor, ImageConfig, Platform } from '../image/types.js';
import { silentLogger, type Logger } from '../log.js';
import { connect, transportFor, type ConnectionOptions } from '../registry/connect.js';

/** Options of inspect(). */
export interface InspectOptions extends ConnectionOptions {
  /** "os/arch[/variant]": resolve this child of an index. */
  platform?: string;
  logger?: Logger;
  retries?: number;
}

/** Summary of an image's config. */
export interface ConfigSummary {
  digest: string;
  mediaType: string;
  size: number;
  os?: string;
  architecture?: string;
  variant?: string;
  created?: string;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string | null;
  ExposedPorts?: Record<string, unknown> | null;
  Labels?: Record<string, string> | null;
  User?: string | null;
}

/** What inspect() found. */
export interface InspectResult {
  /** The reference as normalised, e.g. "docker.io/library/alpine:3". */
  reference: string;
  /** Digest of the manifest described (the child's when a platform was picked). */
  digest: string;
  mediaType: string;
  size: number;
  /** For an index picked with --platform: the index's own digest. */
  indexDigest?: string;
  /** For an index (no platform picked): its children. */
  manifests?: { digest: string; mediaType: string; size: number; platform?: Platform; platformName?: string }[];
  /** For an image. */
  config?: ConfigSummary;
  layers?: { digest: string; size: number; mediaType: string }[];
  /** Exact manifest bytes (what --raw prints). */
  raw: Buffer;
  /** Exact config bytes, for an image (what --config prints). */
  configRaw?: Buffer;
}

/** Resolves `reference` and describes it; with `platform`, describes that child of an index. */
export async function inspect(reference: string | ImageReference, opts: InspectOptions = {}): Promise<InspectResult> {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  const want = opts.platform ? parsePlatform(opts.platform) : undefined;
  const transport = transportFor({ ...opts, logger: opts.logger ?? silentLogger });
  try {
    const client = connect(transport, ref.registry, 'read', [{ repo: ref.repository, actions: ['pull'] }], opts);
    let fetched = await client.getManifest(ref.repository, manifestRef(ref));
    let parsed = parseManifest(fetched.bytes, fetched.mediaType);
    let indexDigest: string | undefined;
    if (parsed.kind === 'index' && want) {
      const child: Descriptor = selectPlatform(parsed.index, want);
      indexDigest = fetched.digest;
      fetched = await client.getManifest(ref.repository, child.digest);
      parsed = parseManifest(fetched.bytes, fetched.mediaType);
    }
    const base = { reference: formatReference(ref), digest: fetched.digest, mediaType: parsed.mediaType, size: fetched.bytes.length, raw: fetched.bytes };
    if (parsed.kind === 'index') {
      return {
        ...base,
        manifests: parsed.index.manifests.map((d) => ({
          digest: d.digest,
          mediaType: d.mediaType,
          size: d.size,
          platform: d.platform,
          platformName: d.platform ? formatPlatform(d.platform) : undefined,
        })),
      };
    }
    const m = parsed.manifest;
    const configRaw = await client.getBlobBytes(ref.repository, m.config.digest, CONFIG_CAP);
    let cfg: ImageConfig;
    try {
      cfg = JSON.parse(configRaw.toString('utf8')) as ImageConfig;
    } catch {
      throw new ProtocolError(`config ${m.config.digest} of ${formatReference(ref)} is not valid JSON`);
    }
    const c = cfg.config ?? {};
    return {
      ...base,
      indexDigest,
      config: {
        digest: m.config.digest,
        mediaType: m.config.mediaType,
        size: m.config.size,
        os: cfg.os,
        architecture: cfg.architecture,
        variant: cfg.variant,
        created: cfg.created,
        Entrypoint: c.Entrypoint,
        Cmd: c.Cmd,
        Env: c.Env,
        WorkingDir: c.WorkingDir,
        ExposedPorts: c.ExposedPorts,
        Labels: c.Labels,
        User: c.User,
      },
      layers: m.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
      configRaw,
    };
  } finally {
    transport.close();
  }
}
