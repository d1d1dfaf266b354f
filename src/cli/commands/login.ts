/**
 * `regpush login REGISTRY` and `regpush logout REGISTRY`: the Docker config format
 * ($DOCKER_CONFIG/config.json or ~/.docker/config.json), through the credential helper when the
 * file names one (credHelpers entry or credsStore), so Docker, Podman, crane and regpush share
 * one login. Login checks the credentials against the registry (GET /v2/) before storing them.
 */
import type { Argv } from 'yargs';
import { AuthError, UsageError } from '../../errors.js';
import { commonContext, commonFlags, credentialHelperTimeoutOption, readStdin, retriesOption, type CommonArgs } from '../common.js';
import type { CliIO } from '../io.js';
import type { SecretSet } from '../../redact.js';

interface LoginArgs extends CommonArgs {
  registry: string;
  username?: string;
  password?: string;
}

/** The registry host a login argument names: "ghcr.io", "https://index.docker.io/v1/" → "docker.io". */
async function hostArg(value: string): Promise<string> {
  const { registryHostOf } = await import('../../auth/registry-host.js');
  const host = registryHostOf(value);
  if (!host) throw new UsageError(`"${value}" is not a registry host; give the host only, e.g. ghcr.io or registry.example.com:5000`);
  return host;
}

/** Registers login and logout. */
export function loginCommands(y: Argv, io: CliIO, done: (code: number) => void, secrets: SecretSet): Argv {
  return y
    .command(
      'login <registry>',
      'Check credentials against a registry and store them in the Docker config (or its credential helper)',
      (c) =>
        commonFlags(c)
          .positional('registry', { type: 'string', demandOption: true, describe: 'Registry host, e.g. ghcr.io, docker.io, registry.example.com:5000' })
          .option('username', { alias: 'u', type: 'string', describe: 'User name', group: 'Credentials:' })
          .option('password', { alias: 'p', type: 'string', describe: 'Password or token (visible in the process list: prefer --password-stdin)', group: 'Credentials:' })
          .example('echo "$DOCKERHUB_TOKEN" | $0 login -u acme --password-stdin docker.io', 'Docker Hub with an access token')
          .example('echo "$GITHUB_TOKEN" | $0 login -u USERNAME --password-stdin ghcr.io', 'GitHub Container Registry with a token (write:packages)')
          .example('aws ecr get-login-password --region eu-west-1 | $0 login -u AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com', 'Amazon ECR (12-hour token; or configure docker-credential-ecr-login as a credHelper)')
          .example('echo "$ACR_PASSWORD" | $0 login -u acme@example.com --password-stdin registry.cn-hangzhou.aliyuncs.com', 'Aliyun ACR (the registry password set in the ACR console)')
          .example('echo "$TCR_PASSWORD" | $0 login -u 100012345678 --password-stdin ccr.ccs.tencentyun.com', 'Tencent TCR (account ID as user name)')
          .example('echo "$REG_PASSWORD" | $0 login -u ci --password-stdin registry.example.com:5000', 'A private registry'),
      async (argv) => {
        const a = argv as unknown as LoginArgs;
        const host = await hostArg(a.registry);
        const ctx = commonContext(a, io, secrets);
        if (a.password !== undefined && a['password-stdin']) throw new UsageError('give either --password or --password-stdin, not both');
        let password = a['password-stdin'] ? await readStdin(io) : a.password;
        let username = a.username;
        if (password === undefined || !username) {
          if (!isTerminal(io)) {
            throw new UsageError(`login to ${host} needs --username and a password: echo "$TOKEN" | regpush login -u USER --password-stdin ${a.registry}`);
          }
          username ||= await prompt(io, 'Username: ', false);
          password ??= await prompt(io, 'Password: ', true);
        }
        if (!username) throw new UsageError('--username is empty');
        if (!password) throw new UsageError('the password is empty');
        ctx.secrets.addCredential({ username, password });
        if (a.password !== undefined) ctx.logger.warn('--password is visible to other users of this machine; use --password-stdin');
        const cred = { username, password };

        const [{ Transport }, { RegistryClient }, { insecureList }, { storeCredential }] = await Promise.all([
          import('../../http/transport.js'),
          import('../../registry/client.js'),
          import('../../registry/connect.js'),
          import('../../auth/credentials.js'),
        ]);
        const transport = new Transport({ logger: ctx.logger, retry: retriesOption(a) === undefined ? undefined : { retries: retriesOption(a)! } });
        try {
          const client = new RegistryClient({
            registry: host,
            transport,
            insecure: insecureList({ env: io.env, insecureRegistries: a['insecure-registry'] }),
            credential: async () => cred,
            secrets,
            signal: io.signal,
          });
          try {
            await client.ping();
          } catch (err) {
            if (err instanceof AuthError) {
              throw new AuthError(`login to ${host} failed: the registry refused user ${username} (check the user name and password or token; nothing was stored)`, { cause: err, details: err.details });
            }
            throw err;
          }
        } finally {
          transport.close();
        }
        await storeCredential(host, cred, { env: io.env, homeDir: io.env.HOME, logger: ctx.logger, helperTimeoutMs: credentialHelperTimeoutOption(io.env) });
        io.stdout.write(`Login Succeeded: ${host}\n`);
        done(0);
      },
    )
    .command(
      'logout <registry>',
      'Remove stored credentials for a registry (Docker config and its credential helper)',
      (c) =>
        commonFlags(c)
          .positional('registry', { type: 'string', demandOption: true, describe: 'Registry host, as given to login' })
          .example('$0 logout ghcr.io', 'Forget the GHCR login')
          .example('$0 logout docker.io', 'Forget the Docker Hub login (stored under https://index.docker.io/v1/)'),
      async (argv) => {
        const a = argv as unknown as LoginArgs;
        const host = await hostArg(a.registry);
        const ctx = commonContext(a, io, secrets);
        const { eraseCredential } = await import('../../auth/credentials.js');
        const removed = await eraseCredential(host, { env: io.env, homeDir: io.env.HOME, logger: ctx.logger, helperTimeoutMs: credentialHelperTimeoutOption(io.env) });
        if (removed) io.stdout.write(`Removed login credentials for ${host}\n`);
        else ctx.logger.info(`Not logged in to ${host}`);
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
  io.stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = '';
    const raw = hidden && typeof stdin.setRawMode === 'function';
    if (raw) stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.resume();
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
      if (hidden) io.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new UsageError('login cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
