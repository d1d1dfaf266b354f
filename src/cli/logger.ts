/**
 * The CLI's logger: stderr, levels chosen by --quiet/--debug, every line redacted. --quiet drops
 * the notes (info) as it drops progress, never a warning: a warning says something the user must
 * know even when they asked for the result alone (the tags a delete took along, TLS verification
 * off, a setting not used), as skopeo's, crane's and docker's -q leave warnings on stderr.
 */
import type { Logger } from '../log.js';
import type { SecretSet } from '../redact.js';
import type { CliIO } from './io.js';
import { printable } from './terminal-text.js';

/** Verbosity chosen on the command line. */
export type Verbosity = 'quiet' | 'normal' | 'debug';

/** Where log lines go; the TTY progress display swaps `write` so lines land above its frame. */
export interface LineSink {
  write(text: string): void;
}

/** A logger writing to stderr (or `sink`) that removes the given secrets from every line. */
export function createCliLogger(io: CliIO, verbosity: Verbosity, secrets: SecretSet, sink?: LineSink): Logger {
  const write = (prefix: string, msg: string) => {
    // A message may quote a registry or an image (terminal-text.ts): one line of text it stays.
    const line = `${prefix}${printable(secrets.scrub(msg), '\t')}\n`;
    if (sink) sink.write(line);
    else io.stderr.write(line);
  };
  return {
    debug: (m) => {
      // Milliseconds since the process started: lines from concurrent requests can be put on one timeline.
      if (verbosity === 'debug') write(`debug: ${Math.round(performance.now())} ms: `, m);
    },
    info: (m) => {
      if (verbosity !== 'quiet') write('', m);
    },
    warn: (m) => write('warning: ', m),
  };
}
