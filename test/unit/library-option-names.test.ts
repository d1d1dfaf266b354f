// Every option the library's TypeScript interfaces declare is a name its operation's shape knows,
// at the top and in every nested object of known fields: checkOptions refuses the names a shape
// does not know (a misspelling), so an interface field missing from its shape would refuse a
// correct call. The interfaces are read with the TypeScript compiler, so a field added later to
// PushOptions, ConnectionOptions, ConfigChanges, RegistryTlsOptions… is checked too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type { Shape } from '../../src/options-check.js';
import { PUSH_SHAPE } from '../../src/push/inputs.js';
import { COPY_SHAPE } from '../../src/copy/copy.js';
import { SYNC_SHAPE } from '../../src/sync/sync.js';
import { INSPECT_SHAPE } from '../../src/inspect/inspect.js';
import { LOGIN_SHAPE, LOGOUT_SHAPE } from '../../src/login/login.js';
import { DELETE_SHAPE, DIGEST_SHAPE, LIST_TAGS_SHAPE, MANAGE_SHAPE } from '../../src/manage/manage.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/test/unit/ → repository root

/** Each exported options interface of src/index.ts and the shape its operation checks it with. */
const SHAPES: Record<string, Shape> = {
  PushOptions: PUSH_SHAPE,
  CopyOptions: COPY_SHAPE,
  SyncOptions: SYNC_SHAPE,
  InspectOptions: INSPECT_SHAPE,
  LoginOptions: LOGIN_SHAPE,
  LogoutOptions: LOGOUT_SHAPE,
  ManageOptions: MANAGE_SHAPE,
  ListTagsOptions: LIST_TAGS_SHAPE,
  DigestOptions: DIGEST_SHAPE,
  DeleteOptions: DELETE_SHAPE,
};

const program = ts.createProgram([join(ROOT, 'src/index.ts')], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, skipLibCheck: true, types: ['node'] });
const checker = program.getTypeChecker();
const index = program.getSourceFile(join(ROOT, 'src/index.ts'))!;
const exported = new Map(checker.getExportsOfModule(checker.getSymbolAtLocation(index)!).map((s) => [s.name, s]));

/** The declared type of an exported interface (through the re-export). */
function typeOf(name: string): ts.Type {
  const sym = exported.get(name);
  assert.ok(sym, `src/index.ts exports ${name}`);
  return checker.getDeclaredTypeOfSymbol(checker.getAliasedSymbol(sym));
}

/** Paths of the fields `type` declares that `shape` does not know, walking nested objects, lists and maps. */
function unknownFields(type: ts.Type, shape: Shape, path: string): string[] {
  const t = checker.getNonNullableType(type);
  if (typeof shape === 'string' || 'literal' in shape || 'instanceOf' in shape) return [];
  if ('anyOf' in shape) return t.isUnion() ? [] : shape.anyOf.flatMap((s) => unknownFields(t, s, path));
  if ('refine' in shape) return unknownFields(t, shape.refine, path);
  if ('list' in shape) {
    return checker.isArrayType(t) || checker.isTupleType(t) ? unknownFields(checker.getTypeArguments(t as ts.TypeReference)[0]!, shape.list, `${path}[]`) : [`${path} (not an array type)`];
  }
  if ('values' in shape) {
    const v = checker.getIndexTypeOfType(t, ts.IndexKind.String);
    return v ? unknownFields(v, shape.values, `${path}[key]`) : [];
  }
  // An open shape (logger, secrets, sync's entries) lets a caller's object hold more than it names.
  if (shape.open) return [];
  return checker.getPropertiesOfType(t).flatMap((p) => {
    const at = path ? `${path}.${p.name}` : p.name;
    if (!Object.hasOwn(shape.fields, p.name)) return [at];
    return unknownFields(checker.getTypeOfSymbol(p), shape.fields[p.name]!, at);
  });
}

test('the interfaces were read (sanity: known fields are found, nested ones included)', () => {
  const names = (t: ts.Type) => checker.getPropertiesOfType(checker.getNonNullableType(t)).map((p) => p.name);
  const push = typeOf('PushOptions');
  assert.ok(names(push).includes('dryRun') && names(push).includes('earlySockets'), names(push).join(', '));
  const config = checker.getTypeOfSymbol(push.getProperty('config')!);
  assert.ok(names(config).includes('healthcheck'), names(config).join(', '));
  // The walk finds a field missing from a shape, however deep.
  const noVerifyOff: Shape = { ...PUSH_SHAPE, fields: { ...PUSH_SHAPE.fields, tls: { fields: { ...PUSH_SHAPE.fields.tls.fields, verifyOff: undefined as never } } } };
  delete (noVerifyOff as { fields: { tls: { fields: Record<string, unknown> } } }).fields.tls.fields.verifyOff;
  assert.deepEqual(unknownFields(push, noVerifyOff, ''), ['tls.verifyOff']);
});

for (const [name, shape] of Object.entries(SHAPES)) {
  test(`every field of ${name} (nested ones too) is a name its shape knows`, () => {
    assert.deepEqual(unknownFields(typeOf(name), shape, ''), []);
  });
}
