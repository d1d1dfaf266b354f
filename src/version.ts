/** regpush's own version, read once from package.json (sent as User-Agent, printed by --version). */
import { readFileSync } from 'node:fs';

function readVersion(): string {
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
