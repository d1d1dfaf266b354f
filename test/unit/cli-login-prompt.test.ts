/**
 * `regpush login` at a terminal asks for what the command line lacks. Whatever ends the prompt
 * without an answer (Ctrl-D: end of input, or a raw 0x04 while the password is hidden; Ctrl-C)
 * is a usage error with its own line and exit code 2, never a silent exit 0 that a deploy script
 * would take for a successful login; a Ctrl-C the terminal turns into SIGINT (the user name is
 * read in cooked mode), like one while --password-stdin waits for its input, aborts the run:
 * exit 130. Runs main() in-process with a fake terminal; nothing is sent anywhere (the prompt
 * fails before any request).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli/main.js';

/** A terminal's stdin: a stream that says it is a TTY and records raw mode. */
function terminalStdin(): PassThrough & { isTTY: true; raw: boolean[]; setRawMode(on: boolean): void } {
  const s = new PassThrough() as PassThrough & { isTTY: true; raw: boolean[]; setRawMode(on: boolean): void };
  s.isTTY = true;
  s.raw = [];
  s.setRawMode = (on: boolean) => void s.raw.push(on);
  return s;
}

async function login(args: string[], type: (stdin: ReturnType<typeof terminalStdin>, stderr: () => string, interrupt: () => void) => void): Promise<{ code: number; stderr: string; home: string; raw: boolean[] }> {
  const home = mkdtempSync(join(tmpdir(), 'regpush-login-prompt-'));
  const err: string[] = [];
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: true, columns: 100 }).on('data', (d) => err.push(String(d)));
  const stdin = terminalStdin();
  // What the binary does on SIGINT/SIGTERM (bin.ts): abort the run's signal.
  const ac = new AbortController();
  const running = main(['login', ...args, '127.0.0.1:9'], { stdout, stderr, stdin, env: { HOME: home }, cwd: home, signal: ac.signal });
  type(stdin, () => err.join(''), () => ac.abort());
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
      assert.match(r.stderr, /login cancelled: the input ended before the username was given \[E_USAGE\]$/m);
      assert.equal(existsSync(join(r.home, '.docker', 'config.json')), false);
    } finally {
      rmSync(r.home, { recursive: true, force: true });
    }
  });

  it('Ctrl-D at the hidden password (a raw 0x04 on an empty line) → exit 2, raw mode switched off again', async () => {
    const r = await login(['-u', 'alice'], (stdin, stderr) => whenAsked(stderr, 'Password: ', () => stdin.write('\u0004')));
    try {
      assert.equal(r.code, 2);
      assert.match(r.stderr, /login cancelled: the input ended before the password was given \[E_USAGE\]$/m);
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
      assert.match(r.stderr, /^regpush: error: login cancelled \[E_USAGE\]$/m);
      assert.deepEqual(r.raw, [true, false]);
    } finally {
      rmSync(r.home, { recursive: true, force: true });
    }
  });

  it('Ctrl-C at the user name (SIGINT in cooked mode: the run\'s signal aborted) → exit 130 at once, the prompt let go', async () => {
    let stdin!: ReturnType<typeof terminalStdin>;
    const r = await login([], (s, stderr, interrupt) => {
      stdin = s;
      whenAsked(stderr, 'Username: ', interrupt);
    });
    try {
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, /Username: \nregpush: error: login cancelled \[E_ABORTED\]\n$/);
      assert.equal(stdin.listenerCount('data'), 0, 'nothing reads the terminal any more');
      assert.equal(stdin.isPaused(), true);
      assert.equal(existsSync(join(r.home, '.docker', 'config.json')), false);
    } finally {
      rmSync(r.home, { recursive: true, force: true });
    }
  });
});

describe('--password-stdin', () => {
  it('without --username → exit 2 before stdin is read (a user name prompted after it had no input left: exit 0, nothing stored)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'regpush-login-stdin-'));
    let read = false;
    const stdin = new Readable({ read: () => { read = true; } });
    const err: string[] = [];
    const stderr = new PassThrough().on('data', (d) => err.push(String(d)));
    try {
      const code = await main(['login', '--password-stdin', '127.0.0.1:9'], { stdout: new PassThrough(), stderr, stdin, env: { HOME: home }, cwd: home });
      assert.equal(code, 2, err.join(''));
      assert.match(err.join(''), /^regpush: error: --password-stdin needs --username: echo "\$TOKEN" \| regpush login -u USER --password-stdin 127\.0\.0\.1:9 \[E_USAGE\]\n$/);
      assert.equal(read, false, 'stdin was not read');
      assert.equal(existsSync(join(home, '.docker', 'config.json')), false);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('Ctrl-C while standard input never ends (a terminal, a pipe left open) → exit 130, stdin let go', async () => {
    const home = mkdtempSync(join(tmpdir(), 'regpush-login-stdin-'));
    const ac = new AbortController();
    // Input that never comes: the run is interrupted as soon as the password is being read.
    const stdin = new Readable({ read: () => ac.abort() });
    const err: string[] = [];
    const stderr = new PassThrough().on('data', (d) => err.push(String(d)));
    try {
      const code = await main(['login', '-u', 'alice', '--password-stdin', '127.0.0.1:9'], { stdout: new PassThrough(), stderr, stdin, env: { HOME: home }, cwd: home, signal: ac.signal });
      assert.equal(code, 130, err.join(''));
      assert.equal(err.join(''), 'regpush: error: aborted [E_ABORTED]\n');
      assert.equal(stdin.destroyed, true);
      assert.equal(existsSync(join(home, '.docker', 'config.json')), false);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
