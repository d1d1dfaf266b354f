// The layer rules of src/, checked on every import of every module (static imports, `import type`,
// re-exports and dynamic import() alike: a type-only import is still a dependency a reader must
// follow). Parsed with the TypeScript compiler, so comments and strings never count.
//
//   cli → pipelines (push, copy, inspect, sync, login, manage) → transfer → registry → auth → http
//   (a pipeline reaches auth and http through transfer/registry, but for the skips PIPELINE_SKIPS lists)
//   image, ref, layer: pure (image and ref import only each other; layer also imports those two;
//   none imports Node's network or process modules)
//   errors, log, redact, version, options-check, option-names, did-you-mean, abort, json-object, json-check: leaves anyone may import; they import only each other
//   axios only in src/http; www-authenticate only in src/auth; process.env only in src/cli
//
// A new folder under src/ fails the test until it is given a layer in LAYERS below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT, repoPath, tsFiles } from '../fixtures/source-files.js';

const SRC = join(REPO_ROOT, 'src');

/** Rank of each group: a module may import its own group and groups of lower rank (pure and leaf rules aside). */
const LAYERS: Record<string, number> = {
  index: 7, // src/index.ts, the library surface: imports anything, imported by nothing of ours
  cli: 6,
  push: 5,
  copy: 5,
  inspect: 5,
  sync: 5,
  login: 5,
  manage: 5,
  transfer: 4,
  registry: 3, // below transfer: a registry client tells the run what it needs through callbacks (ClientMemory), never by importing it
  auth: 2,
  http: 1,
  image: 0,
  ref: 0,
  layer: 0,
  leaf: -1,
};
const PIPELINES = new Set(['push', 'copy', 'inspect', 'sync', 'login', 'manage']);
/** What each pure group may import besides leaves. */
const PURE: Record<string, string[]> = { image: ['image', 'ref'], ref: ['ref', 'image'], layer: ['layer', 'image', 'ref'] };
const LEAVES = new Set(['src/errors.ts', 'src/log.ts', 'src/redact.ts', 'src/version.ts', 'src/options-check.ts', 'src/option-names.ts', 'src/did-you-mean.ts', 'src/abort.ts', 'src/json-object.ts', 'src/json-check.ts']);
/** Packages only one folder may import: the one place that wraps them. */
const PACKAGE_HOME: Record<string, string> = { axios: 'http', 'www-authenticate': 'auth' };

/**
 * Violations present when this test was written, each waiting for the change that removes it.
 * The strict tests fail on anything not listed here and on any entry that no longer occurs (so
 * the list only shrinks); the todo tests show what is left.
 */
const KNOWN_LAYER_VIOLATIONS = new Set<string>([]);
const KNOWN_CYCLES = new Set<string>([]);

interface Edge {
  from: string; // repository-relative path, e.g. src/push/push.ts
  to: string; // repository-relative path, or the package name
  pkg: boolean;
  line: number;
}

/** Every module specifier a file names, with its line. */
function specifiers(file: string): { spec: string; line: number }[] {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: { spec: string; line: number }[] = [];
  const add = (node: ts.Node, lit: ts.Expression | undefined) => {
    if (lit && ts.isStringLiteralLike(lit)) out.push({ spec: lit.text, line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node, node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node, node.moduleReference.expression);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0]);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal as ts.Expression);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Where `process.env` (or another property of process: `name`) is read in a file (code only, not comments). */
function processEnvReads(file: string, name = 'env'): number[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const lines: number[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && node.name.text === name && ts.isIdentifier(node.expression) && node.expression.text === 'process') {
      lines.push(sf.getLineAndCharacterOfPosition(node.getStart()).line + 1);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return lines;
}

function collectEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of tsFiles(SRC)) {
    for (const { spec, line } of specifiers(file)) {
      if (spec.startsWith('.')) {
        // NodeNext: imports name the emitted .js file; the source is the .ts next to it.
        const target = posix.normalize(posix.join(posix.dirname(repoPath(file)), spec)).replace(/\.js$/, '.ts');
        edges.push({ from: repoPath(file), to: target, pkg: false, line });
      } else if (!spec.startsWith('node:')) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        edges.push({ from: repoPath(file), to: name, pkg: true, line });
      }
    }
  }
  return edges;
}

/** The group of a src/ module: its first folder, "leaf", or "index". */
function groupOf(file: string): string {
  if (LEAVES.has(file)) return 'leaf';
  const parts = file.split('/');
  if (parts.length === 2) return parts[1] === 'index.ts' ? 'index' : `(top-level ${parts[1]})`;
  return parts[1]!;
}

const edges = collectEdges();
const internal = edges.filter((e) => !e.pkg);
const show = (e: Edge) => `${e.from}:${e.line} imports ${e.to}`;

test('the import graph was read (sanity: known edges are there)', () => {
  assert.ok(edges.length > 100, `only ${edges.length} imports found under ${SRC}`);
  assert.ok(internal.some((e) => e.from === 'src/push/push.ts' && e.to === 'src/transfer/engine.ts'));
  assert.ok(edges.some((e) => e.pkg && e.to === 'axios'));
  const missing = internal.filter((e) => !tsFiles(SRC).map(repoPath).includes(e.to));
  assert.deepEqual(missing.map(show), [], 'imports of files that do not exist (a resolution bug in this test?)');
});

test('every module of src/ belongs to a layer', () => {
  const unplaced = [...new Set(tsFiles(SRC).map(repoPath).map(groupOf))].filter((g) => !(g in LAYERS));
  assert.deepEqual(unplaced, [], `give these a layer in LAYERS (test/unit/import-rules.test.ts): ${unplaced.join(', ')}`);
});

test('axios only in src/http, www-authenticate only in src/auth', () => {
  const bad = edges
    .filter((e) => e.pkg && e.to in PACKAGE_HOME && groupOf(e.from) !== PACKAGE_HOME[e.to])
    .map((e) => `${show(e)}: only src/${PACKAGE_HOME[e.to]}/ may import ${e.to}`);
  assert.deepEqual(bad, []);
});

test('image, ref and layer do no network I/O: none of them imports Node\'s network or process modules', () => {
  const network = new Set(['node:net', 'node:http', 'node:https', 'node:http2', 'node:tls', 'node:dns', 'node:dgram', 'node:child_process']);
  const pure = tsFiles(SRC).filter((f) => PURE[groupOf(repoPath(f))] !== undefined);
  assert.ok(pure.length > 20, 'the pure modules were found');
  const found = pure.flatMap((f) => specifiers(f).filter((s) => network.has(s.spec)).map((s) => `${repoPath(f)}:${s.line} imports ${s.spec}`));
  assert.deepEqual(found, []);
});

test('the library never reads process.env (only src/cli does, and hands env in)', () => {
  const bad = tsFiles(SRC)
    .filter((f) => groupOf(repoPath(f)) !== 'cli')
    .flatMap((f) => processEnvReads(f).map((line) => `${repoPath(f)}:${line} reads process.env`));
  assert.deepEqual(bad, []);
});

test('the library looks the process\'s directory up only at the boundaries where a caller gave no cwd (relative paths are taken in the cwd option, or CliIO.cwd)', () => {
  // workingDirectory (each operation, once, at its start) and resolveLayerOptions (the layer builder's own options).
  const allowed = new Set(['src/registry/working-directory.ts', 'src/layer/options.ts']);
  const bad = tsFiles(SRC)
    .filter((f) => groupOf(repoPath(f)) !== 'cli' && !allowed.has(repoPath(f)))
    .flatMap((f) => processEnvReads(f, 'cwd').map((line) => `${repoPath(f)}:${line} reads process.cwd`));
  assert.deepEqual(bad, []);
  for (const f of allowed) assert.equal(processEnvReads(join(REPO_ROOT, f), 'cwd').length, 1, `${f}: one read`);
});

/** Every internal import that breaks a layer rule, as "from -> to" with the reason. */
function layerViolations(): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  for (const e of internal) {
    const [gf, gt] = [groupOf(e.from), groupOf(e.to)];
    if (gf === gt && gf !== 'leaf') continue;
    const [rf, rt] = [LAYERS[gf], LAYERS[gt]];
    if (rf === undefined || rt === undefined) continue; // reported by the "belongs to a layer" test
    let why: string | undefined;
    if (gf === 'leaf') {
      if (gt !== 'leaf') why = `${e.from} is a leaf module (imported by everyone) and may import only other leaves`;
    } else if (gt === 'leaf') {
      continue;
    } else if (gf in PURE) {
      if (!PURE[gf]!.includes(gt)) why = `src/${gf} is pure: it may import only ${PURE[gf]!.map((g) => `src/${g}`).join(', ')} and the leaf modules`;
    } else if (rt > rf) {
      why = `${gf} (layer ${rf}) must not import ${gt} (layer ${rt}): imports go down cli → pipelines → transfer → registry → auth → http`;
    } else if (rt === rf && PIPELINES.has(gf) && PIPELINES.has(gt)) {
      why = `pipelines do not import one another (${gf} → ${gt}): what they share belongs in a lower layer`;
    }
    if (why) out.push({ key: `${e.from} -> ${e.to}`, message: `${show(e)}: ${why}` });
  }
  return out;
}

test('no import breaks the layer rules (beyond the known violations listed in this file)', () => {
  const found = layerViolations();
  assert.deepEqual(found.filter((v) => !KNOWN_LAYER_VIOLATIONS.has(v.key)).map((v) => v.message), []);
  const gone = [...KNOWN_LAYER_VIOLATIONS].filter((k) => !found.some((v) => v.key === k));
  assert.deepEqual(gone, [], 'fixed: remove these from KNOWN_LAYER_VIOLATIONS in test/unit/import-rules.test.ts');
});

test('no import breaks the layer rules at all', () => {
  assert.deepEqual(layerViolations().map((v) => v.message), []);
});

/**
 * A pipeline reaches auth and http through transfer and registry: what it needs of them (a retry
 * budget, a scope's actions) is exposed one layer down, so that the layer it skips cannot be
 * bypassed unseen (push's layer restarts went straight to src/http/retry, manage named
 * src/auth/scope's type). The skips that are right, each with why; the list only shrinks.
 */
const PIPELINE_SKIPS: Record<string, string> = {
  // login's whole job is the auth layer's: storing and erasing logins, the logins kept elsewhere,
  // the syntax of a login key. Nothing in transfer or registry stores logins (a registry client
  // only reads credentials through the transport), and a pass-through there would hide this.
  'src/login/login.ts -> src/auth/credential-store.ts': 'login stores credentials',
  'src/login/login.ts -> src/auth/credential-types.ts': 'login stores credentials (the Credential type)',
  'src/login/login.ts -> src/auth/registry-host.ts': 'login reads a login key (host or host/namespace)',
  // The transport's own record, handed back in a result as it is (type only).
  'src/push/options.ts -> src/http/stats-report.ts': 'PushResult.http is the transport\'s HttpStats',
  'src/copy/options.ts -> src/http/stats-report.ts': 'CopyResult.http is the transport\'s HttpStats',
  'src/sync/options.ts -> src/http/stats-report.ts': 'SyncResult.http is the transport\'s HttpStats',
  // The one size cap of a config read (a constant the registry client's getBlobBytes is given),
  // the same in the transfer layer's graph reads.
  'src/push/resolve.ts -> src/http/response.ts': 'CONFIG_CAP',
  'src/push/reuse.ts -> src/http/response.ts': 'CONFIG_CAP',
  'src/inspect/inspect.ts -> src/http/response.ts': 'CONFIG_CAP',
  // The transport's advice for a 404, worded the same for a HEAD's 404, which has no body to carry it.
  'src/manage/manage.ts -> src/http/response.ts': 'notFoundAdvice',
  // Reads what an auth error says (a token service's 5xx) to count it toward the outage stop: the
  // test that belongs with the token code that makes such an error.
  'src/sync/outage.ts -> src/auth/token.ts': 'tokenServiceFailed',
  // Reads how far an auth error reaches (the credentials refused, or a right lacking) to add the
  // catalog's "administrators only" only to the latter: the test that belongs with the auth code
  // that makes such an error, as registry/mirrors.ts reads it.
  'src/manage/manage.ts -> src/auth/refusals.ts': 'refusalReach',
};

test('pipelines reach auth and http through transfer/registry, but for the skips listed with why', () => {
  const skips = internal.filter((e) => PIPELINES.has(groupOf(e.from)) && (groupOf(e.to) === 'auth' || groupOf(e.to) === 'http'));
  const keys = new Set(skips.map((e) => `${e.from} -> ${e.to}`));
  assert.deepEqual(
    skips.filter((e) => !(`${e.from} -> ${e.to}` in PIPELINE_SKIPS)).map((e) => `${show(e)}: a pipeline skips transfer/registry; expose what it needs there (or list it in PIPELINE_SKIPS, saying why)`),
    [],
  );
  assert.deepEqual(Object.keys(PIPELINE_SKIPS).filter((k) => !keys.has(k)), [], 'gone: remove these from PIPELINE_SKIPS in test/unit/import-rules.test.ts');
});

/** Strongly connected components with more than one member (Tarjan), each as a readable cycle. */
function cycles(nodes: string[], next: (n: string) => string[]): string[] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of next(v)) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || next(v).includes(v)) found.push(scc);
    }
  };
  for (const n of [...nodes].sort()) if (!idx.has(n)) strong(n);
  // Written as one walk through the component from its first member (in name order).
  return found.map((scc) => {
    const members = new Set(scc);
    const start = [...scc].sort()[0]!;
    const path = [start];
    const seen = new Set([start]);
    for (let cur = start; ; ) {
      const nexts = next(cur).filter((n) => members.has(n)).sort();
      const step = nexts.find((n) => !seen.has(n)) ?? nexts.find((n) => n === start) ?? nexts[0]!;
      path.push(step);
      if (seen.has(step)) break;
      seen.add(step);
      cur = step;
    }
    return path.join(' -> ') + (scc.length > path.length - 1 ? ` (a component of ${scc.length} modules: ${[...scc].sort().join(', ')})` : '');
  });
}

const fileNext = (f: string) => [...new Set(internal.filter((e) => e.from === f).map((e) => e.to))];
const fileCycles = () => cycles([...new Set(internal.flatMap((e) => [e.from, e.to]))], fileNext);

test('no import cycle between modules (beyond the known ones listed in this file)', () => {
  const found = fileCycles();
  assert.deepEqual(found.filter((c) => !KNOWN_CYCLES.has(c)), []);
  const gone = [...KNOWN_CYCLES].filter((k) => !found.includes(k));
  assert.deepEqual(gone, [], 'fixed: remove these from KNOWN_CYCLES in test/unit/import-rules.test.ts');
});

test('no import cycle between modules at all', () => {
  assert.deepEqual(fileCycles(), []);
});

test('no import cycle between folders of src/', () => {
  const groupEdges = internal.map((e) => [groupOf(e.from), groupOf(e.to)] as const).filter(([a, b]) => a !== b && a !== 'leaf' && b !== 'leaf');
  const next = (g: string) => [...new Set(groupEdges.filter(([a]) => a === g).map(([, b]) => b))];
  const found = cycles([...new Set(groupEdges.flat())], next);
  // One import per step, so the message says where to cut.
  const witness = (c: string) => {
    const steps = c.split(' -> ');
    return steps
      .slice(0, -1)
      .map((g, i) => internal.find((x) => groupOf(x.from) === g && groupOf(x.to) === steps[i + 1]))
      .map((e) => (e ? `  ${show(e)}` : ''))
      .join('\n');
  };
  assert.deepEqual(found.map((c) => `${c}\n${witness(c)}`), []);
});
