/**
 * Shapes of the JSON documents an image is made of. Every type keeps an index signature because
 * regpush rewrites documents it did not write: fields it does not know must survive the rewrite.
 */

/** A platform, as found in index entries and configs. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  [key: string]: unknown;
}

/** A content descriptor: what a manifest or index says about one blob or child manifest. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  [key: string]: unknown;
}

/** An image manifest (OCI image manifest or Docker v2 schema 2). */
export interface ImageManifest {
  schemaVersion: 2;
  /** Always present for Docker v2; OCI manifests may omit it. */
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  subject?: Descriptor;
  artifactType?: string;
  [key: string]: unknown;
}

/** An index (OCI image index or Docker manifest list). */
export interface ImageIndex {
  schemaVersion: 2;
  /** Always present for a Docker list; OCI indexes may omit it. */
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
  subject?: Descriptor;
  artifactType?: string;
  [key: string]: unknown;
}

/** The run-time part of an image config (Docker's capitalised field names, shared by OCI). */
export interface ContainerConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  ExposedPorts?: Record<string, object> | null;
  WorkingDir?: string | null;
  Volumes?: Record<string, object> | null;
  Labels?: Record<string, string> | null;
  User?: string | null;
  [key: string]: unknown;
}

/** One history entry of an image config; entries with empty_layer have no diff_id. */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
  [key: string]: unknown;
}

/** An image config blob (OCI image config or Docker container image v1). */
export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  created?: string;
  author?: string;
  config?: ContainerConfig | null;
  rootfs: { type: string; diff_ids: string[]; [key: string]: unknown };
  history?: HistoryEntry[];
  [key: string]: unknown;
}
