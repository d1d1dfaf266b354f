/**
 * The repository explains itself: every relative link in README.md, CHANGELOG.md,
 * scripts/README.md and docs/*.md reaches a file of the repository (and a heading of it, for
 * `#anchor`s, spelt as GitHub makes them), no document points outside the repository, and the README's exit-code table says what
 * src/errors.ts does. Reads the checked-out files only; no registry.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT_CODES, type ErrorCode } from '../../src/errors.js';

/** The repository root: this file runs as dist/test/unit/docs-links.test.js. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOCS = [
  'README.md',
  'CHANGELOG.md',
  'scripts/README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** Lines outside fenced code blocks, with their 1-based numbers. */
function prose(text: string): { line: string; n: number }[] {
  const out: { line: string; n: number }[] = [];
  let fenced = false;
  text.split('\n').forEach((line, i) => {
    if (/^\s*```/.test(line)) fenced = !fenced;
    else if (!fenced) out.push({ line, n: i + 1 });
  });
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-', repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { line } of prose(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const slug = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** Markdown links `[text](target)` outside code, targets without a scheme (http:, mailto:). */
function relativeLinks(text: string): { target: string; n: number }[] {
  const out: { target: string; n: number }[] = [];
  for (const { line, n } of prose(text)) {
    // Code spans (backticks paired left to right) hold no link; a link's text may be one.
    const spans = [...line.matchAll(/`[^`]*`/g)].map((m) => [m.index!, m.index! + m[0].length] as const);
    for (const m of line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      const inCode = spans.some(([a, b]) => m.index! > a && m.index! < b);
      if (!inCode && !/^[a-z][a-z0-9+.-]*:/i.test(target)) out.push({ target, n });
    }
  }
  return out;
}

describe('documentation links', () => {
  it('finds the documents and their links (the check is not vacuous)', () => {
    assert.ok(DOCS.includes('docs/architecture.md'));
    const links = DOCS.flatMap((d) => relativeLinks(readFileSync(path.join(ROOT, d), 'utf8')));
    assert.ok(links.length >= 20, `only ${links.length} relative links found`);
    assert.ok(links.some((l) => l.target.includes('#')), 'no anchor link found');
  });

  it('every relative link reaches a file of the repository, and its heading', () => {
    const broken: string[] = [];
    for (const doc of DOCS) {
      const file = path.join(ROOT, doc);
      for (const { target, n } of relativeLinks(readFileSync(file, 'utf8'))) {
        const [p = '', anchor] = target.split('#');
        const dest = p === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(p));
        const rel = path.relative(ROOT, dest);
        if (rel.startsWith('..') || path.isAbsolute(rel)) broken.push(`${doc}:${n}: ${target} is outside the repository`);
        else if (!existsSync(dest)) broken.push(`${doc}:${n}: ${target}: no such file`);
        else if (anchor !== undefined && statSync(dest).isFile() && dest.endsWith('.md') && !anchorsOf(readFileSync(dest, 'utf8')).has(anchor)) {
          broken.push(`${doc}:${n}: ${target}: no heading #${anchor} in ${rel}`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });

  it('the anchor rule is GitHub’s (a broken one would be caught)', () => {
    const a = anchorsOf('# Exit codes and error codes\n## `regpush push`\n## Using every core (2026-12-04)\n## A\n## A\n```\n# not a heading\n```\n');
    assert.deepEqual([...a], ['exit-codes-and-error-codes', 'regpush-push', 'using-every-core-2026-12-04', 'a', 'a-1']);
    assert.deepEqual(relativeLinks('see [x](docs/a.md#b), [`y`](c.md) and `[z](d.md)`, [w](https://e.example/)'), [
      { target: 'docs/a.md#b', n: 1 },
      { target: 'c.md', n: 1 },
    ]);
  });

  it('no document points at notes outside the repository', () => {
    const outside = /\.\.\/shared|REGISTRY-QUIRKS\.md|PERFORMANCE-NOTES\.md|\bissue 7\b/;
    const hits: string[] = [];
    for (const doc of DOCS) {
      readFileSync(path.join(ROOT, doc), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (outside.test(line)) hits.push(`${doc}:${i + 1}: ${line.trim().slice(0, 120)}`);
        });
    }
    assert.deepEqual(hits, []);
  });
});

describe('file names in the documents', () => {
  // A file named in backticks (`src/auth/refusals.ts`, `scripts/bench/wan.mjs`) is a pointer too:
  // after a file is split or moved, the prose that names it must follow.
  const named = (): { at: string; file: string }[] =>
    DOCS.flatMap((doc) =>
      prose(readFileSync(path.join(ROOT, doc), 'utf8')).flatMap(({ line, n }) =>
        [...line.matchAll(/`((?:src|test|scripts|docs|\.ci)\/[\w./-]+\.(?:ts|mjs|cjs|js|json|md|sh))`/g)]
          // Another project's file is cited after its repository ("Azure/acr `docs/Token-BasicAuth.md`").
          .filter((m) => !/[\w.-]+\/[\w.-]+ $/.test(line.slice(0, m.index)))
          .map((m) => ({ at: `${doc}:${n}`, file: m[1]! })),
      ),
    );

  it('finds such names (the check is not vacuous)', () => {
    assert.ok(named().length > 50, `${named().length} names found`);
  });

  it('every source, test or script file a document names exists', () => {
    const missing = named()
      .filter(({ file }) => !existsSync(path.join(ROOT, file)))
      .map(({ at, file }) => `${at}: ${file}`);
    assert.deepEqual(missing, []);
  });
});

describe('docs/architecture.md places every source file', () => {
  // "Where things live" is where a new maintainer looks a file up: a file added without a word
  // there is a file nobody can find the reason for.
  const files = (dir: string): string[] =>
    readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(`${dir}/${e.name}`) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [`${dir}/${e.name}`] : [],
    );
  const text = readFileSync(path.join(ROOT, 'docs/architecture.md'), 'utf8');
  const section = text.slice(text.indexOf('## Where things live'));

  it('finds the section and the files (the check is not vacuous)', () => {
    assert.ok(section.length > 1000 && files('src').length > 100);
  });

  it('names each file under src/ there, in backticks', () => {
    const unplaced = files('src').filter((f) => {
      const parts = f.split('/');
      // `limits.ts`, `commands/login.ts` or `src/registry/limits.ts`: any tail of the path will do.
      return !parts.some((_, i) => section.includes(`\`${parts.slice(i).join('/')}\``));
    });
    assert.deepEqual(unplaced, []);
  });
});

describe('file names in source comments', () => {
  // Comments point at the file that holds what they lean on ("(scheme-probe.ts)"); a file split or
  // renamed leaves such pointers behind unless something checks them. Build outputs are named too.
  const BUILT = new Set(['regpush.cjs', 'index.d.ts']);
  const files = (dir: string): string[] =>
    readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(`${dir}/${e.name}`) : [`${dir}/${e.name}`]));
  const known = new Set(['src', 'test', 'scripts', 'docs'].flatMap(files).map((f) => path.basename(f)));
  const pointers = (): { at: string; name: string }[] =>
    ['src', 'test']
      .flatMap(files)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) =>
        readFileSync(path.join(ROOT, f), 'utf8')
          .split('\n')
          .flatMap((line, i) => {
            const comment = /^\s*(\/\*|\*|\/\/)/.test(line) ? line : line.includes('// ') ? line.slice(line.indexOf('// ')) : '';
            return [...comment.matchAll(/[\w-]+(?:\.[\w-]+)*\.(?:ts|mjs|cjs)\b/g)].map((m) => ({ at: `${f}:${i + 1}`, name: m[0] }));
          }),
      );

  it('finds such pointers (the check is not vacuous)', () => {
    assert.ok(pointers().length > 100, `${pointers().length} pointers found`);
  });

  it('every file a comment names exists somewhere in the repository', () => {
    const missing = pointers()
      .filter(({ name }) => !known.has(name) && !BUILT.has(name))
      .map(({ at, name }) => `${at}: ${name}`);
    assert.deepEqual(missing, []);
  });
});

describe('README exit-code table', () => {
  it('lists every error code once, under the exit code src/errors.ts gives it', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Exit codes and error codes'));
    const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| exit |')));
    const listed = new Map<string, number>();
    for (const row of table.split('\n')) {
      const m = /^\| (\d+) \| ([^|]*) \|/.exec(row);
      if (!m) continue;
      for (const code of m[2]!.matchAll(/`(E_[A-Z_]+)`/g)) {
        assert.ok(!listed.has(code[1]!), `${code[1]} listed twice`);
        listed.set(code[1]!, Number(m[1]));
      }
    }
    const expected = new Map(Object.entries(EXIT_CODES) as [ErrorCode, number][]);
    assert.deepEqual(new Map([...listed].sort()), new Map([...expected].sort()));
  });
});
