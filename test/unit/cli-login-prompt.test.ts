/**
 * `regpush login` at a terminal asks for what the command line lacks. Whatever ends the prompt
 * without an answer (Ctrl-D: end of input, or a raw 0x04 while the password is hidden; Ctrl-C)
 * is a usage error with its own line and exit code 2, never a silent exit 0 that a deploy script
 * would take for a successful login. Runs main() in-process with a fake terminal; nothing is
 * sent anywhere (the prompt fails before any request).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';

/** A terminal's stdin: a stream that says it is a TTY and records raw mode. */
function terminalStdin(): PassThrough & { isTTY: true; raw: boolean[]; setRawMode(on: boolean): void } {
  const s = new PassThrough() as PassThrough & { isTTY: true; raw: boolean[]; setRawMode(on: boolean): void };
  s.isTTY = true;
  s.raw = [];
  s.setRawMode = (on: boolean) => void s.raw.push(on);
  return s;
}

async function login(args: string[], type: (stdin: ReturnType<typeof terminalStdin>, stderr: () => string) => void): Promise<{ code: number; stderr: string; home: string; raw: boolean[] }> {
  const home = mkdtempSync(join(tmpdir(), 'regpush-login-prompt-'));
  const err: string[] = [];
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: true, columns: 100 }).on('data', (d) => err.push(String(d)));
  const stdin = terminalStdin();
  const running = main(['login', ...args, '127.0.0.1:9'], { stdout, stderr, stdin, env: { HOME: home }, cwd: home });
  type(stdin, () => err.join(''));
  const code = await running;
  return { code, stderr: err.join(''), home, raw: stdin.raw };
}

/** Waits until the prompt `text` has been written, then runs `then`. */
function whenAsked(stderr: () => string, text: string, then: () => void): void {
  const poll = setInterval(() => {
    if (!stderr().includes(text)) return;
    clearInterval(poll);
    then();
  }, 2);
}

describe('login prompt at a terminal', () => {
  it('Ctrl-D at the user name (end of input) → exit 2 with one line naming what was missing; nothing stored', async () => {
    const r = await login([], (stdin, stderr) => whenAsked(stderr, 'Username: ', () => stdin.end()));
    try {
      assert.equal(r.code, 2);
      assert.match(r.stderr, /login cancelled: the input ended before the username was given/);
      assert.equal(existsSync(join(r.home, '.docker', 'config.json')), false);
    } finally {
      rmSync(r.home, { recursive: true, force: true });
    }
  });

  it('Ctrl-D at the hidden password (a raw 0x04 on an empty line) → exit 2, raw mode switched off again', async () => {
    const r = await login(['-u', 'alice'], (stdin, stderr) => whenAsked(stderr, 'Password: ', () => stdin.write('\u0004')));
    try {
      assert.equal(r.code, 2);
      assert.match(r.stderr, /login cancelled: the input ended before the password was given/);
      assert.deepEqual(r.raw, [true, false]);
      assert.equal(existsSync(join(r.home, '.docker', 'config.json')), false);
    } finally {
      rmSync(r.home, { recursive: true, force: true });
    }
  });

  it('Ctrl-C at the password → exit 2, "login cancelled"', async () => {
    const r = await login(['-u', 'alice'], (stdin, stderr) => whenAsked(stderr, 'Password: ', () => stdin.write('\u0003')));
    try {
      assert.equal(r.code, 2);
      assert.match(r.stderr, /login cancelled/);
      assert.deepEqual(r.raw, [true, false]);
    } finally {
      rmSync(r.home, { recursive: true, force: true });
    }
  });
});
