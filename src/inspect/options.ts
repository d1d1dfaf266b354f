/**
 * inspect()'s options and result, as the library exposes them: types only, so the published
 * declarations reach these and not inspect.ts's code.
 */
import type { Platform } from '../image/types.js';
import type { Logger } from '../log.js';
import type { ConnectionOptions } from '../registry/connection-options.js';

/** Options of inspect(). */
export interface InspectOptions extends ConnectionOptions {
  /** "os/arch[/variant]": resolve this child of an index. */
  platform?: string | undefined;
  /**
   * Read only what one output needs: 'manifest' (--raw) stops at the manifest, 'config'
   * (--config) takes the config's bytes as they are; neither checks the config's fields (beyond
   * the platform's, which `platform` on a single image needs), so an image whose config is
   * unreadable or odd can still be looked at; `config` is then the descriptor alone, and
   * `configRaw` absent for 'manifest'. Default: everything, checked.
   */
  only?: 'manifest' | 'config' | undefined;
  logger?: Logger | undefined;
  retries?: number | undefined;
}

/** Summary of an image's config; for an artifact (a config of another type), or with `only`, its descriptor alone. */
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
  /** What the manifest described is: an index, an image, or an artifact (an image manifest whose config is not an image config). */
  kind: 'index' | 'image' | 'artifact';
  /** Digest of the manifest described (the child's when a platform was picked). */
  digest: string;
  mediaType: string;
  size: number;
  /** For an index picked with --platform: the index's own digest. */
  indexDigest?: string;
  /** The registry mirror (host[:port][/path]) the reference was resolved through; absent when the registry itself answered. */
  mirror?: string;
  /**
   * For an OCI artifact (a manifest whose config is not an image config): the manifest's
   * artifactType, else its config's media type (what the OCI referrers API reports for it).
   * Also set for an image manifest or index that states an artifactType.
   */
  artifactType?: string;
  /** For an index (no platform picked): its children. */
  manifests?: { digest: string; mediaType: string; size: number; platform?: Platform; platformName?: string; artifactType?: string }[];
  /** For an image or artifact manifest. */
  config?: ConfigSummary;
  layers?: { digest: string; size: number; mediaType: string }[];
  /** Exact manifest bytes (what --raw prints). */
  raw: Buffer;
  /** Exact config bytes, for an image (what --config prints); absent with only: 'manifest'. */
  configRaw?: Buffer;
}
