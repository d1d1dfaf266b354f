// The library's published declarations, pinned: dist/src/index.d.ts and the declaration files it
// reaches are what a TypeScript caller's compiler reads, and what a maintainer reads to see the
// surface. Each file reached is listed below, either as a types-only module (its JavaScript is
// empty) or as a module src/index.ts takes functions, classes or constants from, with what else
// it declares that the library does not export. So an import that drags an implementation module
// in (a type declared next to its code, a shape constant whose type names another module) fails
// here, and the surface cannot grow without this list saying so. Reads the built dist/src.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import ts from 'typescript';
import * as lib from '../../src/index.js';
import type { CopyTargetReport, CopyTargetResult, SyncTargetReport, SyncTargetResult, SyncUnitReport, SyncUnitResult } from '../../src/index.js';

const DIST = fileURLToPath(new URL('../../src/', import.meta.url)); // dist/test/unit/ → dist/src/
const INDEX = join(DIST, 'index.d.ts');

/** Types-only modules the declarations reach, and what each holds. */
const TYPES_ONLY: Record<string, string> = {
  'push/options.d.ts': "push()'s options and result",
  'copy/options.d.ts': "copy()'s options and result",
  'sync/options.d.ts': "sync()'s options, events and result; the sync file and the shard",
  'inspect/options.d.ts': "inspect()'s options and result",
  'login/options.d.ts': "login()'s and logout()'s options and results",
  'manage/options.d.ts': "the registry commands' options and results",
  'registry/connection-options.d.ts': 'ConnectionOptions, which every operation extends',
  'auth/credential-types.d.ts': 'Credential, RegistryCredentials, SecretSink (ConnectionOptions.credentials and .secrets)',
  'http/stats-report.d.ts': 'HttpStats, RateLimitSeen (the results\' `http`)',
  'transfer/blob-report.d.ts': 'BlobReport, BlobAction, BlobEvents (the results\' `blobs`, the `events` option)',
  'transfer/referrer-report.d.ts': 'SkippedReferrer, SkippedReferrerReason (copy\'s and sync\'s `skippedReferrers`)',
  'image/config-changes.d.ts': 'ConfigChanges, HealthcheckChange (PushOptions.config)',
  'image/types.d.ts': 'Platform (InspectResult.manifests), beside the image documents\' types',
  'layer/types.d.ts': 'LayerSource (PushOptions.app, .layers), beside the layer builder\'s options',
};

/**
 * Modules the library's values come from, and the values they declare that the library does not
 * export: helpers that sit in a public module (known, each waiting for the change that marks it
 * @internal or moves it out; the list only shrinks).
 */
const ENTRIES: Record<string, { offers: string; extras: string[] }> = {
  'index.d.ts': { offers: 'the library', extras: [] },
  'push/push.d.ts': { offers: 'push()', extras: [] },
  'copy/copy.d.ts': { offers: 'copy()', extras: [] },
  'sync/sync.d.ts': { offers: 'sync()', extras: [] },
  'sync/config.d.ts': { offers: 'parseSyncFile()', extras: [] },
  'sync/shard.d.ts': { offers: 'parseShard(), inShard()', extras: [] },
  'inspect/inspect.d.ts': { offers: 'inspect()', extras: [] },
  'login/login.d.ts': { offers: 'login(), logout()', extras: [] },
  'manage/manage.d.ts': {
    offers: 'listTags(), listRepositories(), digestOf(), tagImage(), untagImage(), deleteImage()',
    extras: [],
  },
  'transfer/concurrency.d.ts': { offers: 'DEFAULT_JOBS, DEFAULT_IMAGES', extras: [] },
  'ref/reference.d.ts': { offers: 'parseReference(), formatReference(), ImageReference', extras: ['checkTag', 'digestReference', 'manifestRef', 'referenceArgument', 'repositoryName', 'withTag'] },
  'registry/mirror-config.d.ts': {
    offers: 'mirrorsFromRegistriesConf(), mirrorsFromDaemonJson(), insecureFromDaemonJson(), mergeMirrorMaps(), MirrorMap…',
    extras: [],
  },
  'http/tls-options.d.ts': { offers: 'DEFAULT_CERTS_DIRS, defaultCertsDirs(), RegistryTlsOptions', extras: [] },
  'redact.d.ts': { offers: 'SecretSet', extras: ['redactText', 'redactUrl'] },
  'errors.d.ts': { offers: 'the error classes, EXIT_CODES, ErrorCode', extras: ['asRegpushError', 'errorForCode', 'rejectsTyped'] },
  'log.d.ts': { offers: 'Logger', extras: ['sayOnce', 'silentLogger'] },
  'option-names.d.ts': {
    offers: 'ConnectionNames (ConnectionOptions.connectionNames)',
    extras: ['connectionOptionNames', 'flagNames', 'optionPaths'],
  },
};

/** The declarations as a strict project with skipLibCheck off compiles them (the published package's `types`). */
const program = ts.createProgram([INDEX], {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  strict: true,
  skipLibCheck: false,
  noEmit: true,
  types: ['node'],
});
const checker = program.getTypeChecker();
const rel = (abs: string) => relative(DIST, abs).split('\\').join('/');
const ours = program.getSourceFiles().filter((f) => !rel(f.fileName).startsWith('..'));

test('the declarations were read (sanity: index.d.ts and the push types are there)', () => {
  const names = ours.map((f) => rel(f.fileName));
  assert.ok(names.includes('index.d.ts') && names.includes('push/options.d.ts'), names.join(', '));
});

test('index.d.ts reaches exactly the listed modules', () => {
  const reached = ours.map((f) => rel(f.fileName)).sort();
  const listed = [...Object.keys(TYPES_ONLY), ...Object.keys(ENTRIES)].sort();
  const unlisted = reached.filter((f) => !listed.includes(f));
  assert.deepEqual(unlisted, [], `the published declarations reach ${unlisted.join(', ')}: move the public type to a types-only module (see docs/architecture.md), or list the file here`);
  assert.deepEqual(listed.filter((f) => !reached.includes(f)), [], 'listed here but no longer reached: drop it from the list');
});

test('every types-only module compiles to no JavaScript', () => {
  const code = (file: string): string[] => {
    const js = join(DIST, file.replace(/\.d\.ts$/, '.js'));
    const sf = ts.createSourceFile(js, readFileSync(js, 'utf8'), ts.ScriptTarget.Latest);
    // `export {};` is what tsc writes for a module of types.
    return sf.statements.filter((s) => !(ts.isExportDeclaration(s) && !s.moduleSpecifier && s.exportClause && ts.isNamedExports(s.exportClause) && s.exportClause.elements.length === 0)).map((s) => s.getText(sf));
  };
  const withCode = Object.keys(TYPES_ONLY).filter((f) => code(f).length > 0);
  assert.deepEqual(withCode, [], `these hold code: ${withCode.map((f) => `${f}: ${code(f)[0]}`).join('; ')}`);
});

test('an entry module declares no value the library does not export, beyond its listed ones', () => {
  const exported = new Set(Object.keys(lib));
  const found: Record<string, string[]> = {};
  for (const sf of ours) {
    const file = rel(sf.fileName);
    if (!(file in ENTRIES)) continue;
    const symbol = checker.getSymbolAtLocation(sf);
    assert.ok(symbol, `${file} is a module`);
    const values = checker
      .getExportsOfModule(symbol)
      .filter((s) => ((s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s).flags & ts.SymbolFlags.Value) !== 0)
      .map((s) => s.name);
    found[file] = values.filter((v) => !exported.has(v)).sort();
  }
  const expected = Object.fromEntries(Object.entries(ENTRIES).map(([f, e]) => [f, [...e.extras].sort()]));
  assert.deepEqual(found, expected);
});

test('the declarations compile under strict with skipLibCheck off', () => {
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  assert.deepEqual(diagnostics, []);
});

/** true when A and B are each assignable to the other (tsc checks this where it is used). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Result types renamed to the one scheme (an entry of a result's list is a …Report): former name → new. */
const RENAMED: Record<string, string> = { CopyTargetResult: 'CopyTargetReport', SyncUnitResult: 'SyncUnitReport', SyncTargetResult: 'SyncTargetReport' };
// Compiles only while each former name is the same type as its new one.
const sameTypes: [Same<CopyTargetResult, CopyTargetReport>, Same<SyncUnitResult, SyncUnitReport>, Same<SyncTargetResult, SyncTargetReport>] = [true, true, true];

test('the former names of renamed result types are exported, deprecated, and name their new ones', () => {
  assert.deepEqual(sameTypes, [true, true, true]);
  const index = program.getSourceFile(INDEX)!;
  const exported = new Map(checker.getExportsOfModule(checker.getSymbolAtLocation(index)!).map((s) => [s.name, s]));
  for (const [old, now] of Object.entries(RENAMED)) {
    const alias = exported.get(old);
    assert.ok(alias && exported.has(now), `index.d.ts exports ${old} and ${now}`);
    const tags = checker.getAliasedSymbol(alias).getJsDocTags(checker);
    const deprecated = tags.find((t) => t.name === 'deprecated');
    assert.ok(deprecated, `${old} is marked @deprecated (editors strike it through)`);
    assert.match(ts.displayPartsToString(deprecated.text), new RegExp(`\\b${now}\\b`), `${old}'s @deprecated names ${now}`);
  }
});
