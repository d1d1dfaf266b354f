// Every test in test/unit, test/protocol and test/e2e asserts something, and no assertion passes
// for any failure (see anyFailurePasses below): a test body with no
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

/**
 * `file:line: text` of each assertion that passes for any failure, and of each test left out:
 * assert.rejects/throws with no matcher, or with only a message (a TypeError from a typo passes
 * them), or with a RegExp alone, which reads the message only (a failure of another code, or a
 * bug's, that says something alike passes it: match a regpush error by its code or class too, an
 * error from elsewhere — skopeo's, fetch's, one a test injects — by what it is); assert.notEqual(<exit code>, 0) (any failure, a crash's 1 too, passes it); it/test/describe
 * .only or .todo, or `only: true` (a skip on a condition, such as the platform, is allowed).
 */
function anyFailurePasses(file: string, text = readFileSync(file, 'utf8')): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const say = (n: ts.Node) => found.push(`${relative(ROOT, file)}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}: ${n.getText(sf).replace(/\s+/g, ' ').slice(0, 100)}`);
  const walk = (n: ts.Node): void => {
    if (ts.isCallExpression(n)) {
      const callee = n.expression.getText(sf);
      const [, second] = n.arguments;
      if (/^assert(\.strict)?\.(rejects|throws)$/.test(callee) && (second === undefined || ts.isStringLiteralLike(second) || ts.isRegularExpressionLiteral(second))) say(n);
      else if (/^assert(\.strict)?\.notEqual$/.test(callee) && /(^|\.)(code|exitCode)$/.test(n.arguments[0]?.getText(sf).replace(/!$/, '') ?? '') && n.arguments[1]?.getText(sf) === '0') say(n);
      else if (/^(it|test|describe)\.(only|todo)$/.test(callee)) say(n);
      else if (/^(it|test|describe)$/.test(callee)) {
        for (const a of n.arguments) {
          if (ts.isObjectLiteralExpression(a) && a.properties.some((p) => p.name?.getText(sf) === 'only' || p.name?.getText(sf) === 'todo')) say(n);
        }
      }
    }
    ts.forEachChild(n, walk);
  };
  walk(sf);
  return found;
}

test('no assertion passes for any failure, and no test is left out with only or todo', () => {
  const found: string[] = [];
  for (const tier of ['unit', 'protocol', 'e2e']) for (const f of testFiles(join(ROOT, 'test', tier))) found.push(...anyFailurePasses(f));
  assert.deepEqual(found, []);
});

test('the scan finds a rejection or throw with no matcher, only a message or a RegExp alone, a non-zero exit asserted as such, and only/todo', () => {
  const src = [
    "await assert.rejects(p);",
    "await assert.rejects(p, 'it failed');",
    "assert.throws(() => f(), TypeError);",
    "await assert.rejects(p, { code: 'ENOENT' });",
    "assert.notEqual(r.code, 0, r.stderr);",
    "assert.throws(() => f(), /not valid/);",
    "await assert.rejects(p, { code: 'E_INPUT', message: /not valid/ });",
    "assert.notEqual(r.stdout, 0);",
    "test.only('x', () => {});",
    "it('y', { todo: true }, () => {});",
    "test('z', { skip: process.platform === 'win32' }, () => {});",
  ].join('\n');
  assert.deepEqual(anyFailurePasses(join(ROOT, 'test', 'unit', 'probe.test.ts'), src).map((l) => l.replace(/^test\/unit\/probe\.test\.ts:/, '')), [
    '1: assert.rejects(p)',
    "2: assert.rejects(p, 'it failed')",
    '5: assert.notEqual(r.code, 0, r.stderr)',
    '6: assert.throws(() => f(), /not valid/)',
    "9: test.only('x', () => {})",
    "10: it('y', { todo: true }, () => {})",
  ]);
});

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
