/**
 * A strict JSON check for the files a user writes (the sync file, regpush.json) that says where
 * the first mistake is. JSON.parse alone is not enough: it keeps the last of two equal keys
 * without a word (so `"tags"` written twice in one sync entry silently drops the first, and
 * `"format"` twice in regpush.json pushes with the second), and Node 20's V8 says "Unexpected
 * token" without a position, quoting lines of the file instead. This scanner walks the text once
 * (RFC 8259 grammar), reports the first syntax error or repeated key by offset, and leaves building
 * the value to JSON.parse. A leaf, pure: it imports nothing.
 */

/** A number, true, false or null, at lastIndex exactly. */
const LITERAL = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;

/** The first mistake in `text`: its offset and what is wrong, or undefined for valid JSON without repeated keys. */
export function jsonProblem(text: string): { offset: number; why: string } | undefined {
  let i = 0;
  const fail = (why: string, at = i): never => {
    throw Object.assign(new Error(why), { offset: at });
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const found = () => (i >= text.length ? 'the end of the file' : JSON.stringify(text[i]));
  const expect = (what: string): never => fail(`expected ${what}, found ${found()}`);

  const string = (): string => {
    const start = i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) fail('control character in a string (write it as an escape such as \\n)');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('invalid \\u escape');
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) fail('invalid escape in a string');
        i += 2;
        continue;
      }
      i++;
    }
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };

  /**
   * An object or an array, from its opening bracket: `member` reads one key and value, or one
   * value; the two differ in nothing else.
   */
  const members = (close: '}' | ']', member: () => void): void => {
    i++;
    ws();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      member();
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      if (text[i] !== ',') expect(`"," or "${close}" after a value`);
      i++;
    }
  };

  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      const keys = new Set<string>();
      members('}', () => {
        ws();
        if (text[i] !== '"') expect('a key in double quotes');
        const at = i;
        const key = string();
        if (keys.has(key)) fail(`duplicate key ${JSON.stringify(key)}`, at);
        keys.add(key);
        ws();
        if (text[i] !== ':') expect('":" after a key');
        i++;
        value();
      });
      return;
    }
    if (c === '[') {
      members(']', value);
      return;
    }
    if (c === '"') {
      string();
      return;
    }
    LITERAL.lastIndex = i;
    if (!LITERAL.test(text)) expect('a value');
    i = LITERAL.lastIndex;
  };

  try {
    value();
    ws();
    if (i < text.length) expect('the end of the file after the value');
    return undefined;
  } catch (err) {
    const offset = (err as { offset?: number }).offset;
    if (offset === undefined) throw err;
    return { offset, why: (err as Error).message };
  }
}

/**
 * The first mistake in `text` as the words that follow "not valid JSON" in a message about the
 * file: ` at line 3, column 39: expected a value, found "]"`, or `: nested too deeply` (deeper
 * than the scanner's stack); undefined for valid JSON without repeated keys.
 */
export function jsonMistake(text: string): string | undefined {
  let problem: { offset: number; why: string } | undefined;
  try {
    problem = jsonProblem(text);
  } catch (err) {
    if (err instanceof RangeError) return ': nested too deeply';
    throw err;
  }
  if (!problem) return undefined;
  const before = text.slice(0, problem.offset);
  const line = before.split('\n').length;
  return ` at line ${line}, column ${problem.offset - before.lastIndexOf('\n')}: ${problem.why}`;
}
