// Node's types (Buffer, streams) appear in regpush's declarations; this directive, kept in the
// emitted index.d.ts, loads them for a user's strict project even when its tsconfig names other
// "types". @types/node is a dependency for the same reason.
/// <reference types="node" preserve="true" />
/**
 * regpush as a library: build and publish container images registry to registry.
 *
 *   import { push } from 'regpush';
 *   const r = await push({ from: 'alpine:3', to: 'registry.example.com/app:1', app: [{ src: './out', dest: '/app' }],
 *                          config: { entrypoint: ['/app/run'] }, env: process.env });
 *   console.log(r.reference);
 */
import { RegpushError, type ResultOperation } from './errors.js';
import type { PushResult } from './push/options.js';
import type { CopyResult } from './copy/options.js';
import type { SyncResult } from './sync/options.js';
import type { TagImageResult } from './manage/options.js';

export { push } from './push/push.js';
export { DEFAULT_IMAGES, DEFAULT_JOBS } from './transfer/concurrency.js';
export type { PushEvents, PushLayerReport, PushLayerSpec, PushOptions, PushResult, PushTargetReport, PushedPlatform } from './push/options.js';
export { inspect } from './inspect/inspect.js';
export type { InspectOptions, InspectResult, ConfigSummary } from './inspect/options.js';
export { parseReference, formatReference, type ImageReference } from './ref/reference.js';
export type { ConfigChanges, HealthcheckChange } from './image/config-changes.js';
export type { Platform } from './image/types.js';
export type { LayerSource } from './layer/types.js';
export type { Credential, RegistryCredentials } from './auth/credential-types.js';
export type { ConnectionOptions } from './registry/connection-options.js';
/** The wording of a failed connection's hints (ConnectionOptions.connectionNames; the CLI's flags). */
export type { ConnectionNames } from './option-names.js';
export { DEFAULT_CERTS_DIRS, defaultCertsDirs, type RegistryTlsOptions } from './http/tls-options.js';
/** Registry mirrors (ConnectionOptions.mirrors) and insecure hosts (insecureTlsRegistries) from the files users already have; the caller reads the files. */
export {
  mirrorsFromRegistriesConf,
  mirrorsFromDaemonJson,
  insecureFromDaemonJson,
  mergeMirrorMaps,
  type MirrorMap,
  type BlockedPrefixes,
  type InsecureHosts,
  type RegistriesConfMirrors,
} from './registry/mirror-config.js';
export type { BlobReport, BlobAction, BlobEvents } from './transfer/blob-report.js';
export type { SkippedReferrer, SkippedReferrerReason } from './transfer/referrer-report.js';
export type { Logger } from './log.js';
/** The run's secrets (ConnectionOptions.secrets): what the auth layer learns, for scrubbing what a caller prints. */
export { SecretSet } from './redact.js';
export type { HttpStats, RateLimitSeen } from './http/stats-report.js';
export {
  EXIT_CODES,
  RegpushError,
  UsageError,
  InvalidReferenceError,
  InputError,
  AuthError,
  DeniedError,
  NotFoundError,
  NetworkError,
  TlsError,
  RegistryError,
  ProtocolError,
  UnsupportedError,
  DigestMismatchError,
  TooManyRequestsError,
  ExistsError,
  PartialFailureError,
  InternalError,
  AbortedError,
  MirrorConfigError,
  type ErrorCode,
  type ErrorDetails,
  type PartialFailureDetails,
  type ResultOperation,
} from './errors.js';
export { copy } from './copy/copy.js';
export { login, logout } from './login/login.js';
export type { LoginOptions, LoginResult, LogoutOptions, LogoutResult } from './login/options.js';
export type { CopyOptions, CopyResult, CopyTargetReport } from './copy/options.js';
export { sync } from './sync/sync.js';
export type { SyncOptions, SyncResult, SyncUnitReport, SyncTargetReport, SyncEvents } from './sync/options.js';
export { parseSyncFile } from './sync/config.js';
export type { SyncSpec, SyncImage, TagRule, TagFilter, SyncDestination, TargetPrefix, Shard } from './sync/options.js';
export { parseShard, inShard } from './sync/shard.js';
export { listTags, listRepositories, digestOf, tagImage, untagImage, deleteImage } from './manage/manage.js';
export type {
  ManageOptions,
  ListTagsOptions,
  TagList,
  RepositoryList,
  DigestOptions,
  DigestResult,
  TagImageResult,
  TagFailure,
  UntagOptions,
  UntagResult,
  DeleteOptions,
  DeleteResult,
} from './manage/options.js';
/** Former names of CopyTargetReport, SyncUnitReport and SyncTargetReport: deprecated aliases of the same types. */
export type { CopyTargetResult } from './copy/options.js';
export type { SyncUnitResult, SyncTargetResult } from './sync/options.js';

/** The result each operation's failure carries in `details.result`, by the name `details.operation` gives it. */
export interface FailureResults {
  push: PushResult;
  copy: CopyResult;
  sync: SyncResult;
  tagImage: TagImageResult;
}

/**
 * The result `operation` would have returned, carried by its failure `err` (`details.result`:
 * E_PARTIAL's, and that of a copy, push or sync whose every target or image failed, whatever the
 * error's class), typed as the operation's: `failureResult(err, 'copy')?.targets`. Undefined
 * where `err` carries none, or carries another operation's (checked at run time, by
 * `details.operation`): no cast, and no wrong type for an error from another call.
 */
export function failureResult<O extends ResultOperation>(err: unknown, operation: O): FailureResults[O] | undefined {
  if (!(err instanceof RegpushError) || err.details.operation !== operation) return undefined;
  return err.details.result as FailureResults[O] | undefined;
}
