/**
 * Help examples that can be copied at any terminal width. yargs prints an example as two columns
 * and its layout library breaks any word longer than a column in the middle (a registry host
 * split across two lines cannot be pasted). A command that does not fit its column is printed on
 * lines of its own instead: the description first as a `# comment`, then the command wrapped at
 * whitespace only, with ` \` continuations, so the block pastes into a shell as it is.
 */
import type { Argv } from 'yargs';

/** Shell words of a command line; quoted strings stay whole. */
function words(cmd: string): string[] {
  return cmd.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? [];
}

/** Lines of at most `width` columns, broken at whitespace; `cont` ends every line but the last. */
export function wrapWords(parts: string[], width: number, first: string, rest: string, cont = ''): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const w of parts) {
    const next = empty ? line + w : `${line} ${w}`;
    if (!empty && next.length + cont.length > width) {
      lines.push(line + cont);
      line = rest + w;
    } else {
      line = next;
    }
    empty = false;
  }
  lines.push(line);
  return lines;
}

/**
 * The example rows yargs should print for one example at help width `wrap`: the pair as given
 * when the command fits the left column (half the width, as yargs lays it out), else a comment
 * row and the wrapped command, each with an empty description (yargs prints those full width).
 */
export function exampleRows(cmd: string, description: string | undefined, wrap: number, scriptName = 'regpush'): [string, string][] {
  const text = cmd.replace(/\$0/g, scriptName);
  const desc = description ?? '';
  // yargs: left column = min(longest command, wrap / 2) + 4 with 2 columns of padding each side.
  if (text.length <= Math.floor(wrap / 2)) return [[text, desc]];
  // 2 columns of padding each side of a full-width row.
  const width = Math.max(20, wrap - 4);
  const rows: [string, string][] = [];
  if (desc) rows.push([wrapWords(desc.split(/\s+/), width, '# ', '# ').join('\n'), '']);
  rows.push([wrapWords(words(text), width, '', '', ' \\').join('\n'), '']); // yargs trims indentation
  return rows;
}

/**
 * Makes every `.example()` on this yargs instance (the command builders get the same instance)
 * go through exampleRows. Plain public API: only the instance's own `example` is replaced.
 */
export function copyableExamples(y: Argv, wrap: number): Argv {
  const original = y.example.bind(y) as (cmd: string, description?: string) => Argv;
  const patched = (cmd: string | readonly [string, string?][], description?: string): Argv => {
    const list: readonly [string, string?][] = typeof cmd === 'string' ? [[cmd, description]] : cmd;
    for (const [c, d] of list) for (const [text, desc] of exampleRows(c, d, wrap)) original(text, desc);
    return y;
  };
  (y as unknown as { example: typeof patched }).example = patched;
  return y;
}
