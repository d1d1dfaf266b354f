// One table per command drives both the yargs options and the parsed argument object.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import yargs, { type Argv } from 'yargs';
import { copyCommand, copyFlags } from '../../src/cli/commands/copy.js';
import { inspectCommand, inspectFlags } from '../../src/cli/commands/inspect.js';
import { loginCommands, loginFlags, logoutFlags } from '../../src/cli/commands/login.js';
import { catalogFlags, deleteFlags, digestFlags, manageCommands, tagFlags, tagsFlags, untagFlags } from '../../src/cli/commands/manage.js';
import { pushCommand, pushFlags } from '../../src/cli/commands/push.js';
import { checkGivenOnce, defineFlags, flagsGivenOnce, withFlags, type FlagSpec, type FlagTable, type InferredArgs } from '../../src/cli/flag-table.js';
import { SecretSet } from '../../src/redact.js';
import type { CliIO } from '../../src/cli/io.js';
import { runMain } from '../fixtures/run-main.js';
import { UsageError } from '../../src/errors.js';

const demo = defineFlags({
  name: { positional: true, type: 'string', demandOption: true, describe: 'A name' },
  count: { type: 'number', once: true, describe: 'How many', group: 'Demo:' },
  mode: { choices: ['fast', 'slow'], describe: 'Mode', group: 'Demo:' },
  verbose: { alias: 'v', type: 'boolean', describe: 'Talk more' },
  keep: { type: 'boolean', default: true, describe: 'Keep it' },
  tag: { type: 'string', repeatable: true, describe: 'A tag; repeatable' },
  host: { type: 'string', array: true, describe: 'Hosts' },
});

// Compile-time checks: the argument type follows the table (tsc fails the build if not).
type Demo = InferredArgs<typeof demo>;
const typed: Demo = { name: 'n', keep: false, count: 1, mode: 'fast', verbose: true, tag: ['a'], host: ['h'] };
const minimal: Demo = { name: 'n', keep: true };
// @ts-expect-error a demanded positional is required
const noName: Demo = { keep: true };
// @ts-expect-error a flag with a default is always present
const noKeep: Demo = { name: 'n' };
// @ts-expect-error choices narrow the value
const badMode: Demo = { name: 'n', keep: true, mode: 'medium' };
// @ts-expect-error a number flag is a number
const badCount: Demo = { name: 'n', keep: true, count: '1' };
// @ts-expect-error an array flag is an array
const badHost: Demo = { name: 'n', keep: true, host: 'h' };
void [typed, minimal, noName, noKeep, badMode, badCount, badHost];

/** Parses `argv` with one command built from `build`, returning what its handler would get. */
async function parseWith(argv: string[], build: (y: Argv) => Argv): Promise<Record<string, unknown>> {
  let seen: Record<string, unknown> | undefined;
  const y = build(
    yargs(argv)
      .strict()
      .exitProcess(false)
      .fail((msg, err) => {
        throw err ?? new UsageError(msg);
      })
      .middleware((a) => {
        seen = a;
        throw new Error('parsed');
      }),
  );
  try {
    await y.parseAsync();
  } catch (err) {
    if (seen && (err as Error).message === 'parsed') return seen;
    throw err;
  }
  throw new Error('the command did not run');
}

describe('flag table', () => {
  it('adds each flag to yargs with its type, alias, choices and default', async () => {
    const a = await parseWith(['demo', 'x', '--count', '3', '--mode', 'slow', '-v', '--no-keep', '--tag', 'a', '--tag', 'b', '--host', 'h1', 'h2'], (y) =>
      y.command('demo <name>', 'demo', (c) => withFlags(c, demo)),
    );
    assert.equal(a.name, 'x');
    assert.equal(a.count, 3);
    assert.equal(a.mode, 'slow');
    assert.equal(a.verbose, true);
    assert.equal(a.keep, false);
    assert.deepEqual(a.tag, ['a', 'b']);
    assert.deepEqual(a.host, ['h1', 'h2']);
    const one = await parseWith(['demo', 'x', '--tag', 'a', 'rest'], (y) => y.command('demo <name> [more]', 'demo', (c) => withFlags(c, demo)));
    assert.equal(one.tag, 'a', 'a repeatable flag given once is a plain value and takes one word');
    assert.equal(one.more, 'rest');
    assert.equal(one.keep, true, 'the default applies');
  });

  it('rejects what the table does not allow', async () => {
    const build = (y: Argv) => y.command('demo <name>', 'demo', (c) => withFlags(c, demo));
    await assert.rejects(parseWith(['demo', 'x', '--mode', 'medium'], build), { name: 'UsageError', code: 'E_USAGE', message: /Invalid values/ });
    await assert.rejects(parseWith(['demo', 'x', '--colour', 'red'], build), { name: 'UsageError', code: 'E_USAGE', message: /Unknown arguments?: colour/ });
    await assert.rejects(parseWith(['demo'], build), { name: 'UsageError', code: 'E_USAGE', message: /Not enough non-option arguments/ });
  });

  it('flags marked once are rejected when repeated, others pass', () => {
    assert.deepEqual(flagsGivenOnce(demo), ['count']);
    assert.throws(() => checkGivenOnce(demo, { count: [1, 2] }), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && /--count was given 2 times; give it once/.test(e.message));
    assert.doesNotThrow(() => checkGivenOnce(demo, { count: 1, tag: ['a', 'b'] }));
    assert.throws(() => defineFlags({ x: { type: 'string', once: true, repeatable: true, describe: 'x' } }), { name: 'InternalError', code: 'E_INTERNAL', message: /both once and repeatable/ });
  });
});

/** A value for each flag of a table, as a user would type it, and what yargs should hand over. */
function sampleArgs(table: FlagTable): { argv: string[]; expected: Record<string, unknown> } {
  const argv: string[] = [];
  const expected: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    // A flag with its own check refuses a sample value (--insecure always, --tls-verify without
    // REGISTRY=); test/unit/tls.test.ts parses those.
    if (spec.positional || spec.check) continue;
    if (spec.type === 'boolean') {
      // The opposite of the default, so that a default cannot pass for parsing.
      argv.push(spec.default === true ? `--no-${name}` : `--${name}`);
      expected[name] = spec.default !== true;
    } else if (spec.type === 'number') {
      argv.push(`--${name}`, '7');
      expected[name] = 7;
    } else {
      const value = spec.choices ? spec.choices[spec.choices.length - 1]! : `v-${name}`;
      argv.push(`--${name}`, value);
      expected[name] = spec.array ? [value] : value;
    }
  }
  return { argv, expected };
}

const io = {} as CliIO;

const none = () => {};
const commands: [string, string[], FlagTable, (y: Argv) => Argv][] = [
  ['push', [], pushFlags, (y) => pushCommand(y, io, none, new SecretSet())],
  ['copy', ['src-image', 'dst-image'], copyFlags, (y) => copyCommand(y, io, none, new SecretSet())],
  ['inspect', ['some-ref'], inspectFlags, (y) => inspectCommand(y, io, none, new SecretSet())],
  ['login', ['reg.example.com'], loginFlags, (y) => loginCommands(y, io, none, new SecretSet())],
  ['logout', ['reg.example.com'], logoutFlags, (y) => loginCommands(y, io, none, new SecretSet())],
  ['tags', ['reg.example.com/app'], tagsFlags, (y) => manageCommands(y, io, none, new SecretSet())],
  ['catalog', ['reg.example.com'], catalogFlags, (y) => manageCommands(y, io, none, new SecretSet())],
  ['digest', ['reg.example.com/app:1'], digestFlags, (y) => manageCommands(y, io, none, new SecretSet())],
  ['tag', ['reg.example.com/app:1', 'a', 'b'], tagFlags, (y) => manageCommands(y, io, none, new SecretSet())],
  ['untag', ['reg.example.com/app:1'], untagFlags, (y) => manageCommands(y, io, none, new SecretSet())],
  ['delete', ['reg.example.com/app@sha256:1'], deleteFlags, (y) => manageCommands(y, io, none, new SecretSet())],
];

describe('the commands use their tables', () => {
  for (const [cmd, positionals, table, build] of commands) {
    it(`${cmd}: every flag in the table parses as declared, and nothing else is accepted`, async () => {
      let { argv, expected } = sampleArgs(table);
      if (cmd === 'inspect') {
        // --raw, --config and --json exclude each other.
        argv = argv.filter((x) => x !== '--config' && x !== '--json');
        delete expected.config;
        delete expected.json;
      }
      const a = await parseWith([cmd, ...positionals, ...argv], build);
      for (const [name, value] of Object.entries(expected)) assert.deepEqual(a[name], value, `--${name}`);
      const named = Object.entries(table).filter(([, s]) => s.positional).map(([n]) => n);
      named.forEach((n, i) => assert.deepEqual(a[n], table[n]!.array ? positionals.slice(i) : positionals[i], n));
      await assert.rejects(parseWith([cmd, ...positionals, '--not-a-flag', 'x'], build), { name: 'UsageError', code: 'E_USAGE', message: /Unknown arguments?: not-a-flag/ });
    });

    it(`${cmd}: help lists every flag of the table with its help group`, async () => {
      const r = await runMain([cmd, '--help'], { columns: 100 });
      assert.equal(r.code, 0, r.stderr);
      const help = r.stdout + r.stderr; // both streams, as the help may use either
      for (const [name, spec] of Object.entries(table)) {
        if (spec.hidden) {
          assert.doesNotMatch(help, new RegExp(`--${name}\\b(?!-)`), `--${name} is hidden`);
          continue;
        }
        if (spec.positional) assert.match(help, new RegExp(`^ {2}${name} `, 'm'), name);
        else assert.match(help, new RegExp(`^ +(-\\w, )?--${name}\\b`, 'm'), `--${name}`);
        if (spec.group) {
          const section = help.slice(help.indexOf(`\n${spec.group}\n`));
          assert.ok(help.includes(`\n${spec.group}\n`) && section.split('\n\n')[0]!.includes(`--${name}`), `--${name} under ${spec.group}`);
        }
      }
      // yargs' own `[]` default of a variadic positional (tag's required <new-tags..>) says nothing.
      assert.doesNotMatch(help, /\[default: \[\]\]/);
    });
  }

  it('a variadic positional left out parses as none ([]), as yargs\' hidden default had it', async () => {
    const a = await parseWith(['copy', 'src-image'], commands[1]![3]);
    assert.deepEqual(a.dst, []);
  });

  it('push rejects each of its once-only flags when repeated (the list comes from the table)', async () => {
    const once = flagsGivenOnce(pushFlags);
    assert.ok(once.includes('from') && once.includes('to-password') && !once.includes('tag'), once.join(','));
    for (const name of once) {
      const spec: FlagSpec = pushFlags[name as keyof typeof pushFlags];
      const [v1, v2] = spec.type === 'number' ? ['1', '2'] : spec.choices ? [spec.choices[0]!, spec.choices[1]!] : ['x', 'y'];
      const r = await runMain(['push', `--${name}`, v1, `--${name}`, v2], { columns: 100 });
      assert.equal(r.code, 2, name);
      assert.match(r.stderr, new RegExp(`--${name} was given 2 times; give it once \\[E_USAGE\\]`), name);
    }
  });
});
