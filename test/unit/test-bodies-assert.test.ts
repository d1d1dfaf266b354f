// Every test in test/unit, test/protocol and test/e2e asserts something: a test body with no
// assertion passes whatever the code does. Counted as an assertion: a call or reference to
// anything named assert*/expect* (node:assert, the harness's assertOneErrorLine...), a `throw`,
// or a call to a helper of the same file that itself asserts. Read from the TypeScript sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/test/unit/ → repository root

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return testFiles(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** `file:line: title` of each it()/test() whose body asserts nothing. */
function bodiesWithoutAssertions(file: string, text = readFileSync(file, 'utf8')): { tests: number; bare: string[] } {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const asserting = new Set<string>();
  const asserts = (node: ts.Node): boolean => {
    let found = false;
    const walk = (n: ts.Node): void => {
      if (found) return;
      if (ts.isIdentifier(n) && (/^(assert|expect)/i.test(n.text) || asserting.has(n.text))) found = true;
      else if (ts.isThrowStatement(n)) found = true;
      else ts.forEachChild(n, walk);
    };
    walk(node);
    return found;
  };
  // Helpers that assert, also through one another (a few passes reach a fixed point here).
  for (let pass = 0; pass < 4; pass++) {
    const walk = (n: ts.Node): void => {
      if (ts.isFunctionDeclaration(n) && n.name && n.body && asserts(n.body)) asserting.add(n.name.text);
      if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer && (ts.isArrowFunction(n.initializer) || ts.isFunctionExpression(n.initializer)) && asserts(n.initializer)) asserting.add(n.name.text);
      ts.forEachChild(n, walk);
    };
    walk(sf);
  }
  let tests = 0;
  const bare: string[] = [];
  const walk = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && ['it', 'test'].includes(n.expression.text)) {
      const body = n.arguments.at(-1);
      if (body && (ts.isArrowFunction(body) || ts.isFunctionExpression(body))) {
        tests++;
        if (!asserts(body.body)) {
          const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
          bare.push(`${relative(ROOT, file)}:${line}: ${n.arguments[0]?.getText(sf).slice(0, 80)}`);
        }
      }
    }
    ts.forEachChild(n, walk);
  };
  walk(sf);
  return { tests, bare };
}

test('every test body asserts something', () => {
  let tests = 0;
  const bare: string[] = [];
  for (const tier of ['unit', 'protocol', 'e2e']) {
    for (const f of testFiles(join(ROOT, 'test', tier))) {
      const r = bodiesWithoutAssertions(f);
      tests += r.tests;
      bare.push(...r.bare);
    }
  }
  // ~930 it()/test() calls in the sources (a call in a loop counts once).
  assert.ok(tests > 800, `found only ${tests} tests: the scan itself is broken`);
  assert.deepEqual(bare, [], 'tests without an assertion');
});

test('the scan finds a test without an assertion, and accepts one that asserts through a helper of its file', () => {
  const src = [
    "function check(x: number) { assert.equal(x, 1); }",
    "const viaHelper = (x: number) => check(x);",
    "test('bare', async () => { await work(); });",
    "it('direct', () => { assert.ok(f()); });",
    "test('helper', () => { viaHelper(1); });",
    "test('throws', () => { if (!f()) throw new Error('no'); });",
  ].join('\n');
  const r = bodiesWithoutAssertions(join(ROOT, 'test', 'unit', 'probe.test.ts'), src);
  assert.equal(r.tests, 4);
  assert.deepEqual(r.bare, ["test/unit/probe.test.ts:3: 'bare'"]);
});
