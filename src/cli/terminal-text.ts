/**
 * Text that came from a registry or an image — an error body's message, a label, an Env entry, a
 * media type, a tag name — is printed to a terminal. A control character in it is an instruction
 * to that terminal, not text: an ESC sequence can move the cursor, erase or rewrite lines already
 * printed, or set the window title, and a bare CR or LF starts a line of the sender's choosing. A
 * hostile image could so print a `Digest:` line of its own under `inspect`, or a registry hide an
 * error behind a fake success. So the CLI shows such characters escaped (`\x1b`, `\u202e`); the
 * exact bytes stay available where they are asked for (`--json`, `--raw`, `--config`).
 */

/**
 * C0 controls, DEL and C1 controls (U+0080–U+009F, which some terminals obey as ESC sequences),
 * and the Unicode bidirectional overrides and isolates, which reorder what is displayed
 * ("Trojan Source", CVE-2021-42574).
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every unprintable character but those in `keep` written as an escape. */
export function printable(text: string, keep = ''): string {
  return text.replace(UNPRINTABLE, (c) => (keep.includes(c) ? c : escapeOf(c)));
}

function escapeOf(c: string): string {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}
