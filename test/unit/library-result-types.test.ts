// The library's result types against what push(), copy(), sync() and inspect() return and what
// src/cli/report.schema.json documents. Three sides, each held to the others:
//   - the declared fields: every key of a result type is listed below, exactly (tsc refuses a
//     list that lacks a key of the type or names one it does not have), and the tests read the
//     fields through the types, as a caller compiled under `strict` does;
//   - the fields at run time: every key of a real result (against fake registries) is a declared
//     one, so a field the code adds and the type forgets fails here;
//   - the schema: its properties for each object are the declared keys (less the CLI's envelope),
//     and the CLI's --json report built from these results validates strictly against it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import {
  copy,
  EXIT_CODES,
  inspect,
  parseSyncFile,
  push,
  sync,
  type BlobReport,
  type SkippedReferrer,
  type SkippedReferrerReason,
  type ConfigSummary,
  type CopyResult,
  type CopyTargetReport,
  type ErrorCode,
  type InspectResult,
  type LogoutResult,
  type PushLayerReport,
  type PushResult,
  type PushTargetReport,
  type PushedPlatform,
  type RegpushError,
  type SyncResult,
  type SyncTargetReport,
  type SyncUnitReport,
} from '../../src/index.js';
import { copyReport, pushReport, startClock, syncReport } from '../../src/cli/report.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';
import { assertValidOutput, assertValidReport, reportSchema } from '../e2e/report-schema.js';

const fake = fakeRegistryPool();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every key of T as `true`: an object literal of this type names each key of T, no more, no fewer. */
type Keys<T> = { [K in keyof Required<T>]: true };
const keysOf = <T>(k: Keys<T>): string[] => Object.keys(k).sort();

const PUSH_RESULT = keysOf<PushResult>({
  reference: true,
  digest: true,
  mediaType: true,
  tags: true,
  tagsUnchanged: true,
  writeNotChecked: true,
  base: true,
  platforms: true,
  layer: true,
  layers: true,
  format: true,
  blobs: true,
  retries: true,
  dryRun: true,
  timings: true,
  configs: true,
  targets: true,
  http: true,
});
const PUSH_TARGET = keysOf<PushTargetReport>({
  reference: true,
  target: true,
  digest: true,
  tags: true,
  tagsUnchanged: true,
  writeNotChecked: true,
  mediaType: true,
  platforms: true,
  ok: true,
  blobs: true,
  error: true,
  layers: true,
});
const PUSH_LAYER = keysOf<PushLayerReport>({ name: true, dest: true, platform: true, digest: true, diffId: true, size: true, action: true, method: true });
const PUSHED_PLATFORM = keysOf<PushedPlatform>({ platform: true, digest: true, configDigest: true });
const SKIPPED_REFERRER = keysOf<SkippedReferrer>({ digest: true, tag: true, subject: true, artifactType: true, mediaType: true, reason: true, message: true });
const SKIPPED_REASONS = Object.keys({ refused: true, 'subject-not-copied': true, 'digest-changed': true, 'depth-bound': true, 'total-bound': true, 'not-at-source': true, 'artifact-manifest': true, 'tag-held': true, 'cut-off': true } satisfies Record<SkippedReferrerReason, true>).sort();
const BLOB = keysOf<BlobReport>({ digest: true, size: true, mediaType: true, action: true, bytes: true, retries: true, resumes: true, mountedFrom: true, mirror: true });
const COPY_RESULT = keysOf<CopyResult>({ source: true, digest: true, mediaType: true, digestChanged: true, targets: true, platforms: true, dryRun: true, timings: true, http: true });
const COPY_TARGET = keysOf<CopyTargetReport>({ reference: true, target: true, digest: true, tags: true, tagsUnchanged: true, ok: true, error: true, blobs: true, referrers: true, referrersSkipped: true, skippedReferrers: true, writeNotChecked: true });
const SYNC_RESULT = keysOf<SyncResult>({ file: true, shard: true, dryRun: true, units: true, noMatch: true, totals: true, timings: true, http: true });
const SYNC_UNIT = keysOf<SyncUnitReport>({ entry: true, source: true, sourceDigest: true, ok: true, error: true, targets: true, bytesRead: true });
const SYNC_TARGET = keysOf<SyncTargetReport>({ target: true, action: true, ok: true, error: true, digest: true, mounted: true, streamed: true, bytes: true, referrers: true, referrersSkipped: true, skippedReferrers: true, writeNotChecked: true });
const SYNC_TOTALS = keysOf<SyncResult['totals']>({ entries: true, units: true, copied: true, skipped: true, planned: true, failed: true, bytesRead: true, mounted: true, streamed: true, referrers: true, referrersSkipped: true });
const INSPECT = keysOf<InspectResult>({ reference: true, kind: true, digest: true, mediaType: true, size: true, indexDigest: true, mirror: true, artifactType: true, manifests: true, config: true, layers: true, raw: true, configRaw: true });
const CONFIG_SUMMARY = keysOf<ConfigSummary>({ digest: true, mediaType: true, size: true, os: true, architecture: true, variant: true, created: true, Entrypoint: true, Cmd: true, Env: true, WorkingDir: true, ExposedPorts: true, Labels: true, User: true });
const LOGOUT_RESULT = keysOf<LogoutResult>({ registry: true, namespace: true, removed: true, helperNotAsked: true, stillStoredIn: true });
/** Fields only the CLI's report has (src/cli/report.ts, envelope), not a library result. */
const ENVELOPE_ONLY = ['reportVersion', 'command', 'regpushVersion', 'startedAt', 'durationMs'];
/** Fields of InspectResult that `inspect --json` leaves out: the exact bytes, for --raw and --config. */
const INSPECT_BYTES = ['raw', 'configRaw'];

/** Every key `value` has at run time is one its type declares. */
function declaredOnly(value: object, declared: string[], what: string): void {
  const extra = Object.keys(value).filter((k) => !declared.includes(k));
  assert.deepEqual(extra, [], `${what} has fields its type does not declare`);
}

/** A code as the error codes go: one of EXIT_CODES' keys. */
function knownCode(code: ErrorCode | undefined, what: string): void {
  assert.ok(code !== undefined && Object.hasOwn(EXIT_CODES, code), `${what}: ${String(code)}`);
}

function appDir(): { src: string; dest: string }[] {
  const d = mkdtempSync(join(tmpdir(), 'regpush-result-types-'));
  dirs.push(d);
  writeFileSync(join(d, 'server.js'), 'console.log("the same bytes every push")\n');
  return [{ src: d, dest: '/app' }];
}

const rejection = (p: Promise<unknown>): Promise<RegpushError> => p.then(() => assert.fail('it succeeded'), (e: unknown) => e as RegpushError);

test('the schema documents exactly the fields the result types declare (less the CLI envelope and inspect\'s bytes)', () => {
  const defs = reportSchema().$defs;
  const props = (o: { properties: Record<string, unknown> }, less: string[] = []) => Object.keys(o.properties).filter((k) => !less.includes(k)).sort();
  const push = defs.pushReport;
  assert.deepEqual(props(push, ENVELOPE_ONLY), PUSH_RESULT, 'push report ↔ PushResult');
  assert.deepEqual(props(push.properties.targets.items), PUSH_TARGET, 'push targets[] ↔ PushTargetReport');
  assert.deepEqual(props(push.properties.layers.items), PUSH_LAYER, 'push layers[] ↔ PushLayerReport');
  assert.deepEqual(props(push.properties.targets.items.properties.layers.items), PUSH_LAYER, 'push targets[].layers[] ↔ PushLayerReport');
  assert.deepEqual(props(push.properties.platforms.items), PUSHED_PLATFORM, 'push platforms[] ↔ PushedPlatform');
  assert.deepEqual(props(defs.blob), BLOB, 'blob ↔ BlobReport');
  assert.deepEqual(props(defs.skippedReferrer), SKIPPED_REFERRER, 'skippedReferrer ↔ SkippedReferrer');
  assert.deepEqual([...defs.skippedReferrer.properties.reason.enum].sort(), SKIPPED_REASONS, 'skippedReferrer.reason ↔ SkippedReferrerReason');
  assert.deepEqual(props(defs.copyReport, ENVELOPE_ONLY), COPY_RESULT, 'copy report ↔ CopyResult');
  assert.deepEqual(props(defs.copyReport.properties.targets.items), COPY_TARGET, 'copy targets[] ↔ CopyTargetReport');
  assert.deepEqual(props(defs.syncReport, ENVELOPE_ONLY), SYNC_RESULT, 'sync report ↔ SyncResult');
  assert.deepEqual(props(defs.syncReport.properties.units.items), SYNC_UNIT, 'sync units[] ↔ SyncUnitReport');
  assert.deepEqual(props(defs.syncReport.properties.units.items.properties.targets.items), SYNC_TARGET, 'sync units[].targets[] ↔ SyncTargetReport');
  assert.deepEqual(props(defs.syncReport.properties.totals), SYNC_TOTALS, 'sync totals ↔ SyncResult.totals');
  assert.deepEqual(props(defs.inspectOutput), INSPECT.filter((k) => !INSPECT_BYTES.includes(k)), 'inspect --json ↔ InspectResult');
  assert.deepEqual(props(defs.inspectOutput.properties.config), CONFIG_SUMMARY, 'inspect config ↔ ConfigSummary');
  assert.deepEqual(props(defs.logoutOutput), LOGOUT_RESULT, 'logout --json ↔ LogoutResult');
  // The error of a failed target: a code of the catalogue, as the types now say (ErrorCode).
  assert.deepEqual([...push.properties.targets.items.properties.error.properties.code.enum].sort(), Object.keys(EXIT_CODES).sort());
});

test('push(): tagsUnchanged at the top and, per target, tagsUnchanged, mediaType and platforms, read through the types; a failed target\'s error.code is an ErrorCode; the dry run\'s reference has no digest', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const app = appDir();
  const opts = { from: src.ref('base/node:20'), to: [a.ref('app:1'), b.ref('app:1')], tags: ['stable'], app, ...fakeLibraryOptions(src, a, b) };
  const first: PushResult = await push(opts);
  assert.equal(first.tagsUnchanged, undefined, 'the first push wrote every tag');
  // The same inputs again: the warm path finds these very bytes under both tags at both targets.
  const again: PushResult = await push(opts);
  const unchanged: string[] | undefined = again.tagsUnchanged;
  assert.deepEqual(unchanged, ['1', 'stable']);
  assert.equal(again.digest, first.digest);
  const targets: PushTargetReport[] = again.targets!;
  assert.equal(targets.length, 2);
  for (const [i, t] of targets.entries()) {
    const mediaType: string | undefined = t.mediaType;
    const platforms: PushedPlatform[] | undefined = t.platforms;
    const held: string[] | undefined = t.tagsUnchanged;
    assert.equal(mediaType, again.mediaType);
    assert.deepEqual(platforms, again.platforms);
    assert.equal(platforms?.[0]?.digest, again.digest);
    assert.deepEqual(held, ['1', 'stable']);
    assert.equal(t.reference, `${[a, b][i]!.host}/app@${again.digest}`);
    declaredOnly(t, PUSH_TARGET, `push targets[${i}]`);
    for (const l of t.layers ?? []) declaredOnly(l, PUSH_LAYER, `push targets[${i}].layers[]`);
  }
  for (const r of [first, again]) {
    declaredOnly(r, PUSH_RESULT, 'push result');
    for (const p of r.platforms) declaredOnly(p, PUSHED_PLATFORM, 'push platforms[]');
    for (const x of r.blobs) declaredOnly(x, BLOB, 'push blobs[]');
    assertValidReport(JSON.parse(JSON.stringify(pushReport(r, startClock()))), 'push report');
  }

  // One target refusing every upload: its error's code is typed, and is one of the catalogue's.
  const bad = await fake();
  bad.fault({ kind: 'upload' }, { kind: 'status', status: 500, retryAfter: 0 });
  const err = await rejection(push({ ...opts, to: [a.ref('app:2'), bad.ref('app:2')], retries: 0, ...fakeLibraryOptions(src, a, bad) }));
  assert.equal(err.code, 'E_PARTIAL', err.message);
  const partial = err.details.result as PushResult;
  const failed = partial.targets![1]!;
  const code: ErrorCode | undefined = failed.error?.code;
  knownCode(code, 'the failed target\'s code');
  assert.equal(failed.ok, false);
  assert.equal(failed.mediaType, undefined);
  assert.equal(failed.platforms, undefined);
  for (const t of partial.targets!) declaredOnly(t, PUSH_TARGET, 'push targets[] of a partial failure');
  assertValidReport(JSON.parse(JSON.stringify(pushReport(partial, startClock()))), 'partial push report');

  // A dry run: nothing written, no digest; the reference is the repository alone (its doc comment says so).
  const dry: PushResult = await push({ ...opts, to: [a.ref('app:3'), b.ref('app:3')], dryRun: true });
  assert.equal(dry.reference, `${a.host}/app`);
  assert.equal(dry.digest, '');
  assert.deepEqual(dry.targets!.map((t) => [t.reference, t.digest, t.mediaType, t.platforms]), [
    [`${a.host}/app`, '', undefined, undefined],
    [`${b.host}/app`, '', undefined, undefined],
  ]);
  declaredOnly(dry, PUSH_RESULT, 'dry-run push result');
  for (const t of dry.targets!) declaredOnly(t, PUSH_TARGET, 'dry-run push targets[]');
  assertValidReport(JSON.parse(JSON.stringify(pushReport(dry, startClock()))), 'dry-run push report');
});

test('copy() and inspect(): every field at run time is declared; a failed target\'s error.code is an ErrorCode', async () => {
  const [src, a, b, bad] = [await fake(), await fake(), await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  const opts = { from: src.ref('app:1'), to: [a.ref('app:1'), b.ref('app:1')], ...fakeLibraryOptions(src, a, b, bad) };
  await copy(opts);
  const again: CopyResult = await copy(opts);
  const held: string[] | undefined = again.targets[0]!.tagsUnchanged;
  assert.deepEqual(held, ['1']);
  declaredOnly(again, COPY_RESULT, 'copy result');
  for (const t of again.targets) declaredOnly(t, COPY_TARGET, 'copy targets[]');
  assertValidReport(JSON.parse(JSON.stringify(copyReport(again, startClock()))), 'copy report');

  bad.fault({ kind: 'upload' }, { kind: 'status', status: 500, retryAfter: 0 });
  const err = await rejection(copy({ ...opts, to: [a.ref('app:2'), bad.ref('app:2')], retries: 0 }));
  assert.equal(err.code, 'E_PARTIAL', err.message);
  const partial = err.details.result as CopyResult;
  const code: ErrorCode | undefined = partial.targets[1]!.error?.code;
  knownCode(code, 'the failed copy target\'s code');
  for (const t of partial.targets) declaredOnly(t, COPY_TARGET, 'copy targets[] of a partial failure');

  const image: InspectResult = await inspect(a.ref('app:1'), fakeLibraryOptions(a));
  declaredOnly(image, INSPECT, 'inspect result');
  declaredOnly(image.config!, CONFIG_SUMMARY, 'inspect config');
  const { raw: _raw, configRaw: _configRaw, ...shown } = image;
  assertValidOutput('inspect', JSON.parse(JSON.stringify(shown)), 'inspect result less its bytes');
});

test('sync(): every field of the result, its units and their targets at run time is declared; a failed target\'s error.code is an ErrorCode', async () => {
  const [src, a, bad] = [await fake(), await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  bad.fault({ kind: 'upload' }, { kind: 'status', status: 500, retryAfter: 0 });
  const spec = parseSyncFile(['images:', `  - { source: ${src.ref('app')}, tags: ['1'], targets: [${a.host}/mirror, ${bad.host}/mirror] }`, ''].join('\n'), 'sync.yaml');
  const err = await rejection(sync({ spec, retries: 0, ...fakeLibraryOptions(src, a, bad) }));
  assert.equal(err.code, 'E_PARTIAL', err.message);
  const result = err.details.result as SyncResult;
  declaredOnly(result, SYNC_RESULT, 'sync result');
  declaredOnly(result.totals, SYNC_TOTALS, 'sync totals');
  const unit: SyncUnitReport = result.units[0]!;
  declaredOnly(unit, SYNC_UNIT, 'sync units[]');
  for (const t of unit.targets) declaredOnly(t, SYNC_TARGET, 'sync units[].targets[]');
  assert.deepEqual(unit.targets.map((t) => t.action), ['copied', 'failed']);
  const code: ErrorCode | undefined = unit.targets[1]!.error?.code;
  knownCode(code, 'the failed sync target\'s code');
  assertValidReport(JSON.parse(JSON.stringify(syncReport(result, startClock()))), 'sync report');
});

/**
 * Types the declarations reach that are not exported by name, each for a reason: a caller never
 * spells them. Everything else a public signature names (a result's parts above all) must be
 * importable from 'regpush', or a caller cannot declare a variable of it.
 */
const UNEXPORTED = new Map([
  ['SecretSink', 'the `secrets` option: SecretSet (exported) is the one to give'],
  ['EarlySockets', 'the CLI launcher\'s `earlySockets`'],
  ['Connector', 'part of EarlySockets'],
  ['OptionNames', 'the CLI\'s wording, parseShard\'s third parameter'],
  ['GateOptions', 'extended by SyncOptions, which a caller uses'],
  ['GateEvents', 'extended by SyncEvents, which a caller uses'],
]);

test('every type a public declaration names is exported from the package (PushTargetReport, Platform, RegistriesConfMirrors… were reachable only through others)', async () => {
  const { default: ts } = await import('typescript');
  const index = fileURLToPath(new URL('../../src/index.d.ts', import.meta.url)); // dist/test/unit/ → dist/src/
  const program = ts.createProgram([index], { strict: true, types: ['node'], skipLibCheck: true });
  const checker = program.getTypeChecker();
  const unalias = (s: import('typescript').Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const exported = new Set(checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(index)!)!).map(unalias));
  const ours = (s: import('typescript').Symbol) => (s.declarations ?? []).some((d) => d.getSourceFile().fileName.includes('/dist/src/'));
  const seen = new Set<import('typescript').Symbol>();
  const missing: string[] = [];
  const visitNode = (n: import('typescript').Node, from: string): void => {
    const name = ts.isTypeReferenceNode(n) ? n.typeName : ts.isExpressionWithTypeArguments(n) ? n.expression : undefined;
    const s = name && checker.getSymbolAtLocation(name);
    if (s) visit(unalias(s), from);
    ts.forEachChild(n, (c) => visitNode(c, from));
  };
  const visit = (s: import('typescript').Symbol, from: string): void => {
    if (seen.has(s) || !ours(s) || s.flags & ts.SymbolFlags.TypeParameter) return;
    seen.add(s);
    if (!exported.has(s) && !UNEXPORTED.has(s.name)) missing.push(`${s.name} (named by ${from})`);
    for (const d of s.declarations ?? []) visitNode(d, s.name);
  };
  for (const s of exported) visit(s, 'index');
  assert.deepEqual(missing, []);
});
