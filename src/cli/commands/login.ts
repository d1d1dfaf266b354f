/**
 * `regpush login REGISTRY` and `regpush logout REGISTRY`: the flags, the password from stdin or a
 * terminal prompt, and the result line. The work (checking the credentials over the common
 * transport, storing them in the Docker config or its credential helper) is the library's
 * login()/logout() in src/login/login.ts.
 */
import type { Argv } from 'yargs';
import type { SecretSet } from '../../redact.js';
import { AbortedError, UsageError } from '../../errors.js';
import {
  checkUserName,
  commonContext,
  warnPasswordFlag,
  commonFlags,
  credentialHelperTimeoutOption,
  cwdOf,
  helperProcessGroupOption,
  homeDirOf,
  outputContext,
  outputFlags,
  readStdin,
  connectionOptions,
} from '../common.js';
import { defineFlags, withFlags } from '../flag-table.js';
import type { CliIO } from '../io.js';

/** Every flag and positional of `regpush login`, in help order. */
export const loginFlags = defineFlags({
  ...commonFlags,
  registry: {
    positional: true,
    type: 'string',
    demandOption: true,
    describe:
      'Registry host, e.g. ghcr.io, docker.io, registry.example.com:5000; or a namespace in one (quay.io/org), ' +
      "stored in Podman's auth.json for that part of the registry (Docker does not read it)",
  },
  username: { alias: 'u', type: 'string', describe: 'User name', group: 'Credentials:' },
  password: { alias: 'p', type: 'string', describe: 'Password or token (visible in the process list: prefer --password-stdin)', group: 'Credentials:' },
});

/**
 * Every flag and positional of `regpush logout`: the output flags only. A logout edits local files
 * and connects nowhere, so the connection flags (--insecure-registry, --ca-cert, --registry-mirror…)
 * would be accepted and do nothing, and reading what they stand for (registries.conf, certs.d) could
 * only fail it: a broken registries.conf refused every logout. Docker's logout has none either.
 */
export const logoutFlags = defineFlags({
  ...outputFlags,
  registry: { positional: true, type: 'string', demandOption: true, describe: 'Registry host, or host/namespace, as given to login' },
});

/** Registers login and logout. */
export function loginCommands(y: Argv, io: CliIO, done: (code: number) => void, secrets: SecretSet): Argv {
  return y
    .command(
      'login <registry>',
      'Check credentials against a registry and store them in the Docker config (or its credential helper; in $REGISTRY_AUTH_FILE when set)',
      (c) =>
        withFlags(c, loginFlags)
          .example('echo "$DOCKERHUB_TOKEN" | $0 login -u acme --password-stdin docker.io', 'Docker Hub with an access token')
          .example('echo "$GITHUB_TOKEN" | $0 login -u USERNAME --password-stdin ghcr.io', 'GitHub Container Registry with a token (write:packages)')
          .example(
            'aws ecr get-login-password --region eu-west-1 | $0 login -u AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com',
            'Amazon ECR (12-hour token; or configure docker-credential-ecr-login as a credHelper)',
          )
          .example('echo "$ACR_PASSWORD" | $0 login -u acme@example.com --password-stdin registry.cn-hangzhou.aliyuncs.com', 'Aliyun ACR (the registry password set in the ACR console)')
          .example('echo "$TCR_PASSWORD" | $0 login -u 100012345678 --password-stdin ccr.ccs.tencentyun.com', 'Tencent TCR (account ID as user name)')
          .example('echo "$REG_PASSWORD" | $0 login -u ci --password-stdin registry.example.com:5000', 'A private registry')
          .example(
            'echo "$ROBOT_TOKEN" | $0 login -u acme+ci --password-stdin quay.io/acme',
            "One namespace only (key quay.io/acme in Podman's auth.json, where Podman writes it; it wins over a quay.io login there)",
          ),
      async (argv) => {
        const a = argv;
        const { login, loginTarget } = await import('../../login/login.js');
        const host = loginTarget(a.registry).name;
        const ctx = commonContext(a, io, secrets);
        if (a.password !== undefined && a['password-stdin']) throw new UsageError('give either --password or --password-stdin, not both');
        // stdin is the password's: a user name prompted after it was read has no input left (the
        // run ended with nothing stored and exit 0). Docker refuses the same way.
        if (a['password-stdin'] && !a.username) throw new UsageError(`--password-stdin needs --username: echo "$TOKEN" | regpush login -u USER --password-stdin ${a.registry}`);
        // Before a password is read or prompted for: a user name that cannot be sent fails alone.
        if (a.username) checkUserName(a.username, '--username');
        let password = a['password-stdin'] ? await readStdin(io) : a.password;
        let username = a.username;
        if (password === undefined || !username) {
          if (!isTerminal(io)) {
            throw new UsageError(`login to ${host} needs --username and a password: echo "$TOKEN" | regpush login -u USER --password-stdin ${a.registry}`);
          }
          if (!username) {
            username = await prompt(io, 'Username: ', false);
            if (username) checkUserName(username, 'the user name typed');
          }
          password ??= await prompt(io, 'Password: ', true);
        }
        if (!username) throw new UsageError('--username is empty');
        if (!password) throw new UsageError('the password is empty');
        ctx.secrets.addCredential({ username, password });
        if (a.password !== undefined) warnPasswordFlag('password', (m) => ctx.logger.warn(m));
        const r = await login({
          registry: host,
          username,
          password,
          ...connectionOptions(a, io, ctx, 'login'),
          homeDir: homeDirOf(io),
        });
        // --json: the result as it is ($defs/loginOutput of src/cli/report.schema.json).
        io.stdout.write(a.json ? JSON.stringify(r, null, 2) + '\n' : `Login Succeeded: ${host}\n`);
        done(0);
      },
    )
    .command(
      'logout <registry>',
      'Remove stored credentials for a registry (Docker config and its credential helper; $REGISTRY_AUTH_FILE when set)',
      (c) =>
        withFlags(c, logoutFlags)
          .example('$0 logout ghcr.io', 'Forget the GHCR login')
          .example('$0 logout docker.io', 'Forget the Docker Hub login (stored under https://index.docker.io/v1/)')
          .example('$0 logout quay.io/acme', 'Forget the login for one namespace (a quay.io login stays)'),
      async (argv) => {
        const a = argv;
        const { logout, loginTarget } = await import('../../login/login.js');
        const host = loginTarget(a.registry).name;
        const ctx = outputContext(a, io, secrets);
        // Whether the logout warned (a credential helper that could not be asked "may still hold
        // the login"): then "Not logged in" would contradict the line just printed.
        let warned = false;
        const r = await logout({
          registry: host,
          logger: { ...ctx.logger, warn: (m) => ((warned = true), ctx.logger.warn(m)) },
          cwd: cwdOf(io),
          env: io.env,
          homeDir: homeDirOf(io),
          credentialHelperTimeoutMs: credentialHelperTimeoutOption(io.env),
          credentialHelperProcessGroup: helperProcessGroupOption(io),
        });
        if (a.json) io.stdout.write(JSON.stringify(r, null, 2) + '\n'); // $defs/logoutOutput
        else if (r.removed) io.stdout.write(`Removed login credentials for ${host}\n`);
        if (r.stillStoredIn) {
          // Podman's logout edits its auth.json only, as this edits the file login writes: say
          // where the login that every command still sends lives, and how to remove it there.
          const podman = r.stillStoredIn.some((f) => f.endsWith('auth.json')) ? ` (podman logout ${host} removes it from auth.json)` : '';
          ctx.logger.warn(`a login for ${host} is still stored in ${r.stillStoredIn.join(', ')} and is still used${podman}`);
        } else if (!r.removed && !warned) ctx.logger.info(`Not logged in to ${host}`);
        done(0);
      },
    );
}

function isTerminal(io: CliIO): boolean {
  return (io.stdin as { isTTY?: boolean }).isTTY === true && io.stderr.isTTY === true;
}

/** Reads one line from a terminal; `hidden` turns echo off (raw mode) for passwords. */
async function prompt(io: CliIO, question: string, hidden: boolean): Promise<string> {
  const stdin = io.stdin as NodeJS.ReadStream;
  if (io.signal?.aborted) throw new AbortedError('login cancelled');
  io.stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = '';
    const raw = hidden && typeof stdin.setRawMode === 'function';
    if (raw) stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.resume();
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      io.signal?.removeEventListener('abort', onAbort);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
      if (hidden || err) io.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    // Ctrl-D on an empty line ends the input (EOF in a cooked terminal; a raw 0x04 for the hidden
    // password). Without an answer to wait for, the process would otherwise end with status 0 and
    // nothing stored: a deploy script would read that as a successful login.
    const eof = () => new UsageError(`login cancelled: the input ended before the ${question.replace(/: $/, '').toLowerCase()} was given`);
    const onEnd = () => finish(eof());
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new UsageError('login cancelled'));
        if (ch === '\u0004') {
          if (value === '') return finish(eof());
          continue; // as a terminal does: Ctrl-D within a line is no character
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    // Ctrl-C in cooked mode (the user name) is SIGINT, which only aborts the run's signal (bin.ts):
    // the prompt listens to it, or the first Ctrl-C would be ignored.
    const onAbort = () => finish(new AbortedError('login cancelled'));
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    io.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
