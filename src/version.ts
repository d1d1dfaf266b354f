/** regpush's own version (sent as User-Agent, printed by --version). */
import { readFileSync } from 'node:fs';

/** Set by scripts/bundle.mjs in the bundled CLI, where package.json is not at a fixed relative path. */
declare const __REGPUSH_VERSION__: string | undefined;

function readVersion(): string {
  if (typeof __REGPUSH_VERSION__ === 'string') return __REGPUSH_VERSION__;
  try {
    const url = new URL('../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** The package version, e.g. "0.1.0". */
export const VERSION = readVersion();
/** The User-Agent header value. */
export const USER_AGENT = `regpush/${VERSION}`;
