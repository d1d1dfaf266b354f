/**
 * WWW-Authenticate parsing (RFC 7235 §4.1). The only importer of www-authenticate.
 *
 * www-authenticate@0.6.3 parses the auth-params of exactly one challenge. Its weak spots, which
 * this file covers itself: several challenges in one header (it folds them into one garbage
 * param), backslash escapes in quoted strings, whitespace around "=", token68 challenges and
 * scheme-only challenges (its regex then returns null and it throws), scheme names containing
 * "-" (its unanchored regex picks a later word), and case-insensitive parameter names.
 * Our own pass splits the header into challenges and rewrites each challenge's params into the
 * canonical form the library reads correctly (quotes inside values doubled, its convention).
 */
import wwwAuthenticate from 'www-authenticate';
import { ProtocolError } from '../errors.js';

/** One challenge from a WWW-Authenticate header. */
export interface Challenge {
  /** Lower-case scheme: 'bearer' | 'basic' | … */
  scheme: string;
  /** Auth-params with lower-case keys and unescaped values. */
  params: Record<string, string>;
  /** The token68 form (`Negotiate abc==`), when the challenge has one instead of params. */
  token68?: string;
}

const TCHAR = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
const SCHEME_ONLY = new RegExp(`^(${TCHAR}+)$`);
const SCHEME_AND_REST = new RegExp(`^(${TCHAR}+)[ \\t]+([^=\\s][\\s\\S]*)$`);
const PARAM = new RegExp(`^(${TCHAR}+)[ \\t]*=[ \\t]*([\\s\\S]*)$`);
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const UNQUOTED_VALUE = /^[^\s",=\\]+$/;

/** Parses a WWW-Authenticate header (possibly several challenges); malformed input → ProtocolError. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let current: { scheme: string; token68?: string; params: string[] } | undefined;
  const finish = (): void => {
    if (current) out.push(build(current.scheme, current.token68, current.params, header));
  };
  for (const element of splitElements(header)) {
    const param = PARAM.exec(element);
    if (param) {
      if (!current) throw malformed(header, 'auth-param before any scheme');
      if (current.token68 !== undefined) throw malformed(header, 'auth-param after token68');
      current.params.push(element);
      continue;
    }
    finish();
    const only = SCHEME_ONLY.exec(element);
    if (only) {
      current = { scheme: only[1]!, params: [] };
      continue;
    }
    const withRest = SCHEME_AND_REST.exec(element);
    if (!withRest) throw malformed(header, 'expected a scheme');
    const rest = withRest[2]!.trim();
    current = { scheme: withRest[1]!, params: [] };
    if (TOKEN68.test(rest)) current.token68 = rest;
    else if (PARAM.test(rest)) current.params.push(rest);
    else throw malformed(header, 'expected token68 or auth-param after the scheme');
  }
  finish();
  return out;
}

/** Finds the first challenge with the given scheme (case-insensitive). */
export function findChallenge(challenges: Challenge[], scheme: string): Challenge | undefined {
  const want = scheme.toLowerCase();
  return challenges.find((c) => c.scheme === want);
}

/** The challenge of `challenges` that regpush answers: Bearer where one is offered, else Basic; undefined when neither is. */
export function answerableChallenge(challenges: Challenge[]): Challenge | undefined {
  return findChallenge(challenges, 'bearer') ?? findChallenge(challenges, 'basic');
}

/**
 * Splits at commas outside quoted strings. Empty list elements are dropped (RFC 7230 §7 allows
 * them). After a closing quote only whitespace may come before the next comma.
 */
function splitElements(header: string): string[] {
  const elements: string[] = [];
  let start = 0;
  let inQuote = false;
  let afterQuote = false;
  for (let i = 0; i < header.length; i++) {
    const ch = header[i];
    if (inQuote) {
      if (ch === '\\') {
        i++;
        if (i >= header.length) throw malformed(header, 'unterminated escape');
      } else if (ch === '"') {
        inQuote = false;
        afterQuote = true;
      }
      continue;
    }
    if (ch === ',') {
      const el = header.slice(start, i).trim();
      if (el) elements.push(el);
      start = i + 1;
      afterQuote = false;
    } else if (afterQuote) {
      if (ch !== ' ' && ch !== '\t') throw malformed(header, 'unexpected text after a quoted string');
    } else if (ch === '"') {
      inQuote = true;
    }
  }
  if (inQuote) throw malformed(header, 'unterminated quoted string');
  const last = header.slice(start).trim();
  if (last) elements.push(last);
  return elements;
}

/** Builds one challenge: params are canonicalised, then read by www-authenticate. */
function build(scheme: string, token68: string | undefined, rawParams: string[], header: string): Challenge {
  const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
  if (token68 !== undefined) challenge.token68 = token68;
  if (rawParams.length === 0) return challenge;
  const seen = new Set<string>();
  const canonical = rawParams.map((raw) => {
    const m = PARAM.exec(raw)!;
    const name = m[1]!.toLowerCase();
    // Two values for one name (two realms!) is ambiguous; refuse rather than guess.
    if (seen.has(name)) throw malformed(header, `duplicate parameter "${name}"`);
    seen.add(name);
    return `${name}="${canonicalValue(m[2]!.trim(), header)}"`;
  });
  // The library needs some scheme word first; ours is already known and may contain "-".
  const parsed = new wwwAuthenticate.parsers.WWW_Authenticate(`x ${canonical.join(', ')}`);
  if (parsed.err) throw malformed(header, parsed.err);
  for (const [k, v] of Object.entries(parsed.parms)) challenge.params[k.trim().toLowerCase()] = v;
  return challenge;
}

/** Rewrites a raw value (token or RFC quoted-string) into the body of a library-style quoted string. */
function canonicalValue(raw: string, header: string): string {
  let value: string;
  if (raw.startsWith('"')) {
    if (!raw.endsWith('"') || raw.length < 2) throw malformed(header, 'bad quoted string');
    // splitElements already ended the string at the first unescaped quote, so only escapes remain.
    value = raw.slice(1, -1).replace(/\\([\s\S])/g, '$1');
  } else {
    if (raw === '' || !UNQUOTED_VALUE.test(raw)) throw malformed(header, 'bad parameter value');
    value = raw;
  }
  // The library's scheme regex stops at a line break; no header value may carry one anyway.
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) throw malformed(header, 'control character in a value');
  // www-authenticate reads "" inside a quoted string as one literal quote.
  return value.replace(/"/g, '""');
}

function malformed(header: string, why: string): ProtocolError {
  // Challenges carry no secrets, but cap the echo so a hostile header cannot flood the terminal.
  const shown = header.length > 200 ? `${header.slice(0, 200)}…` : header;
  return new ProtocolError(`malformed WWW-Authenticate header (${why}): ${shown}`);
}
