/** The CLI's logger: stderr, levels chosen by --quiet/--debug, every line redacted. */
import type { Logger } from '../log.js';
import { redactText } from '../redact.js';
import type { CliIO } from './io.js';

/** Verbosity chosen on the command line. */
export type Verbosity = 'quiet' | 'normal' | 'debug';

/** A logger writing to stderr that removes the given secrets from every line. */
export function createCliLogger(io: CliIO, verbosity: Verbosity, secrets: () => string[]): Logger {
  const write = (prefix: string, msg: string) => io.stderr.write(`${prefix}${redactText(msg, secrets())}\n`);
  return {
    debug: (m) => {
      if (verbosity === 'debug') write('debug: ', m);
    },
    info: (m) => {
      if (verbosity !== 'quiet') write('', m);
    },
    warn: (m) => {
      if (verbosity !== 'quiet') write('warning: ', m);
    },
  };
}
