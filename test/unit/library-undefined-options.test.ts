// docs/library.md: "Fields the types mark optional may be left out or `undefined`". A TypeScript
// caller compiling with `exactOptionalPropertyTypes` reads `field?: T` as "absent, or a T", and
// `{ signal: maybeSignal }` with a signal that may be undefined did not compile against the
// published declarations, though the run-time check takes it. This compiles such a caller against
// them (dist/src/index.d.ts, what a package user's compiler reads): every optional field of each
// public options interface, and of the sync file's types a caller may build by hand (TagFilter,
// SyncImage, ImageReference), given as undefined, and each call made with undefined options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const INDEX = fileURLToPath(new URL('../../src/index.js', import.meta.url)); // dist/test/unit/ → dist/src/

/** The caller: an ES module (.mts) importing the published declarations. */
const CALLER = `
import {
  push, copy, sync, inspect, login, logout, listTags, listRepositories, digestOf, tagImage, untagImage, deleteImage,
  type PushOptions, type PushLayerSpec, type CopyOptions, type InspectOptions, type LoginOptions, type LogoutOptions,
  type ManageOptions, type ListTagsOptions, type DigestOptions, type UntagOptions, type DeleteOptions,
  type ConnectionOptions, type RegistryTlsOptions, type Credential, type ConfigChanges, type HealthcheckChange,
  type SyncOptions, type SyncEvents, type BlobEvents, type PushEvents, type TagFilter, type SyncImage, type ImageReference,
} from ${JSON.stringify(INDEX)};

type OptionalKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? K : never }[keyof T];
/** Every optional field of T given as undefined: assignable to T's optional fields only where each takes undefined (the error names the field). */
type EveryOptionalUndefined<T> = { [K in OptionalKeys<T>]: undefined };
export const undefined0: Pick<PushOptions, OptionalKeys<PushOptions>> = {} as EveryOptionalUndefined<PushOptions>;
export const undefined1: Pick<PushLayerSpec, OptionalKeys<PushLayerSpec>> = {} as EveryOptionalUndefined<PushLayerSpec>;
export const undefined2: Pick<CopyOptions, OptionalKeys<CopyOptions>> = {} as EveryOptionalUndefined<CopyOptions>;
export const undefined3: Pick<InspectOptions, OptionalKeys<InspectOptions>> = {} as EveryOptionalUndefined<InspectOptions>;
export const undefined4: Pick<LoginOptions, OptionalKeys<LoginOptions>> = {} as EveryOptionalUndefined<LoginOptions>;
export const undefined5: Pick<LogoutOptions, OptionalKeys<LogoutOptions>> = {} as EveryOptionalUndefined<LogoutOptions>;
export const undefined6: Pick<ManageOptions, OptionalKeys<ManageOptions>> = {} as EveryOptionalUndefined<ManageOptions>;
export const undefined7: Pick<ListTagsOptions, OptionalKeys<ListTagsOptions>> = {} as EveryOptionalUndefined<ListTagsOptions>;
export const undefined8: Pick<DigestOptions, OptionalKeys<DigestOptions>> = {} as EveryOptionalUndefined<DigestOptions>;
export const undefined9: Pick<UntagOptions, OptionalKeys<UntagOptions>> = {} as EveryOptionalUndefined<UntagOptions>;
export const undefined10: Pick<DeleteOptions, OptionalKeys<DeleteOptions>> = {} as EveryOptionalUndefined<DeleteOptions>;
export const undefined11: Pick<ConnectionOptions, OptionalKeys<ConnectionOptions>> = {} as EveryOptionalUndefined<ConnectionOptions>;
export const undefined12: Pick<NonNullable<ConnectionOptions['credentials']>, OptionalKeys<NonNullable<ConnectionOptions['credentials']>>> = {} as EveryOptionalUndefined<NonNullable<ConnectionOptions['credentials']>>;
export const undefined13: Pick<RegistryTlsOptions, OptionalKeys<RegistryTlsOptions>> = {} as EveryOptionalUndefined<RegistryTlsOptions>;
export const undefined14: Pick<Credential, OptionalKeys<Credential>> = {} as EveryOptionalUndefined<Credential>;
export const undefined15: Pick<ConfigChanges, OptionalKeys<ConfigChanges>> = {} as EveryOptionalUndefined<ConfigChanges>;
export const undefined16: Pick<HealthcheckChange, OptionalKeys<HealthcheckChange>> = {} as EveryOptionalUndefined<HealthcheckChange>;
export const undefined17: Pick<SyncOptions, OptionalKeys<SyncOptions>> = {} as EveryOptionalUndefined<SyncOptions>;
export const undefined18: Pick<SyncEvents, OptionalKeys<SyncEvents>> = {} as EveryOptionalUndefined<SyncEvents>;
export const undefined19: Pick<BlobEvents, OptionalKeys<BlobEvents>> = {} as EveryOptionalUndefined<BlobEvents>;
export const undefined20: Pick<PushEvents, OptionalKeys<PushEvents>> = {} as EveryOptionalUndefined<PushEvents>;
// The sync file's types, which a library caller may build by hand (sync()'s spec) rather than have parseSyncFile make.
export const undefined21: Pick<TagFilter, OptionalKeys<TagFilter>> = {} as EveryOptionalUndefined<TagFilter>;
export const undefined22: Pick<SyncImage, OptionalKeys<SyncImage>> = {} as EveryOptionalUndefined<SyncImage>;
export const undefined23: Pick<ImageReference, OptionalKeys<ImageReference>> = {} as EveryOptionalUndefined<ImageReference>;

declare const maybeSignal: AbortSignal | undefined;
declare const maybe: undefined;
export async function calls() {
  const connection = { signal: maybeSignal, cwd: maybe, env: maybe, tls: { caCerts: maybe, verifyOff: maybe }, credentials: { from: maybe, to: { username: 'u', password: 'p', identityToken: maybe } } };
  await push({ from: 'a', to: 'b:1', platform: maybe, jobs: maybe, config: { workdir: maybe, healthcheck: { test: ['CMD', 'true'], interval: maybe } }, layers: [{ sources: [], platform: maybe }], ...connection });
  await copy({ from: 'a', to: ['b:1'], tags: maybe, platform: maybe, dryRun: maybe, ...connection });
  await inspect('a', { platform: maybe, only: maybe, ...connection });
  await login({ registry: 'r', username: 'u', password: 'p', logger: maybe, ...connection });
  await logout({ registry: 'r', homeDir: maybe, logger: maybe });
  await listTags('a', { pageSize: maybe, ...connection });
  await listRepositories('r', { pageSize: maybe, retries: maybe });
  await digestOf('a', { platform: maybe, ...connection });
  await tagImage('a', ['1'], { logger: maybe, ...connection });
  await untagImage('a', { retries: maybe });
  await deleteImage('a', { force: maybe, ...connection });
  const events = { start: maybe, bytes: maybe, end: maybe, phase: maybe, work: maybe, unitStart: maybe, unitEnd: maybe, waiting: maybe };
  await push({ from: 'a', to: 'b:1', events, ...connection });
  await copy({ from: 'a', to: ['b:1'], events, ...connection });
  const filter: TagFilter = { kind: 'filter', regex: maybe, semver: maybe, newest: 3, prerelease: false };
  const image: SyncImage = {
    index: 0,
    label: 'images[0] (r.io/app)',
    key: 'r.io/app',
    source: { registry: 'r.io', repository: 'app', tag: maybe, digest: maybe },
    tags: filter,
    pinnedTag: maybe,
    destinations: [{ kind: 'reference', ref: { registry: 'p.io', repository: 'app', tag: maybe, digest: maybe } }],
    platforms: 'all',
    referrers: false,
    shard: maybe,
  };
  await sync({ spec: { file: 'sync.json', images: [image, { ...image, tags: maybe }] }, dryRun: true, ...connection });
  await sync({ spec: { file: 'sync.json', images: [] }, shard: maybe, images: maybe, jobs: maybe, dryRun: maybe, logger: maybe, retries: maybe, minRateLimit: maybe, maxWaitMs: maybe, rateLimitPollMs: maybe, events, ...connection });
}

// The check is in effect: a field without "| undefined" is refused (an unused expectation is an error).
interface Strict { field?: string }
// @ts-expect-error undefined is not a string under exactOptionalPropertyTypes
export const strict: Strict = { field: maybe };
`;

test('every optional field of the public options interfaces takes undefined under exactOptionalPropertyTypes, as docs/library.md says', () => {
  const dir = mkdtempSync(join(tmpdir(), 'regpush-undefined-options-'));
  try {
    const file = join(dir, 'caller.mts');
    writeFileSync(file, CALLER);
    const program = ts.createProgram([file], {
      strict: true,
      exactOptionalPropertyTypes: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [fileURLToPath(new URL('../../../node_modules/@types', import.meta.url))],
    });
    const messages = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    assert.deepEqual(messages, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
