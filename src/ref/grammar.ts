/**
 * The pieces of the Docker reference grammar (distribution/reference), as anchored regular
 * expressions. Kept apart from the parser so the parser reads as a sequence of decisions and each
 * rule can be checked on its own.
 */

/** One path component: lower-case alphanumerics joined by ".", "_", "__" or runs of "-". */
export const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** A tag: a word character, then up to 127 word characters, dots or dashes. */
const TAG = /^[\w][\w.-]{0,127}$/;

/** One DNS label: alphanumerics with inner dashes (host names may be mixed case). */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';

/** A registry host: DNS name (which covers dotted IPv4) or a bracketed IPv6 literal, then an optional port. */
export const HOST = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:.]+\\])(?::([0-9]+))?$`,
);

/**
 * Why `host` (host[:port], HOST's grammar) cannot be a registry's address, or undefined when it
 * can. HOST admits names a URL cannot hold: a port outside 1-65535, a name whose last label is a
 * number (the WHATWG URL parser reads it as an IPv4 address, so "300.1.1.1" and "reg.123" are
 * refused there), a bracketed literal that is no IPv6 address ("[1:2]"). Let through, each one
 * failed later in `new URL` as a bare "Invalid URL", an internal error (exit 1).
 */
export function hostProblem(host: string): string | undefined {
  const m = HOST.exec(host);
  if (!m) return `invalid registry host "${host}"`;
  const port = m[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `registry port ${port} is out of range (1-65535)`;
  if (!URL.canParse(`http://${host}/`)) return `invalid registry host "${host}" (not a host name or an IPv4 or IPv6 address)`;
  return undefined;
}

/** Digest algorithms we accept, with the exact number of lower-case hex characters each needs. */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

/** Longest accepted "host/path" name, as in distribution (NameTotalLengthMax). */
export const NAME_TOTAL_LENGTH_MAX = 255;

/** Why `digest` is not an accepted digest, or undefined when it is one. */
export function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  if (colon < 0) return 'digest must look like "sha256:<64 hex characters>"';
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const want = DIGEST_HEX_LENGTH[algorithm];
  if (want === undefined) return `unsupported digest algorithm "${algorithm}" (sha256 or sha512 expected)`;
  if (!/^[a-f0-9]*$/.test(hex)) {
    return /^[a-fA-F0-9]*$/.test(hex)
      ? 'digest hex must be lower-case'
      : 'digest must contain only hex characters after the algorithm';
  }
  if (hex.length !== want) return `${algorithm} digest must have ${want} hex characters, got ${hex.length}`;
  return undefined;
}

/**
 * Why `path` (a repository name without its registry, "team/app") is not one, or undefined when it
 * is: every "/"-separated component PATH_COMPONENT's, so none is empty, "." or "..".
 */
export function repositoryProblem(path: string): string | undefined {
  for (const c of path.split('/')) {
    if (!PATH_COMPONENT.test(c)) return `invalid repository name ${JSON.stringify(path)} (component ${JSON.stringify(c)})`;
  }
  return undefined;
}

/** Why `tag` is not an accepted tag, or undefined when it is one. */
export function tagProblem(tag: string): string | undefined {
  if (tag === '') return 'tag is empty';
  if (tag.length > 128) return `tag is longer than 128 characters (${tag.length})`;
  if (!TAG.test(tag)) return `tag ${JSON.stringify(tag)} may only contain letters, digits, "_", "." and "-", and must not start with "." or "-"`;
  return undefined;
}

/**
 * The tags of a registry's tag list that a reference can name. A registry may list a tag outside
 * the grammar (over 128 characters, or other characters, "/" and ".." included): no client can ask
 * for it by that name, and put into a URL such a name can address another repository. Each is left
 * out; `warn` is told once, naming the list's repository (`of`) and the first three, quoted (control
 * characters escaped) and cut at 40 characters, rather than failing the others.
 */
export function nameableTags(tags: readonly string[], of: string, warn: (line: string) => void): string[] {
  const bad = tags.filter((t) => tagProblem(t) !== undefined);
  if (bad.length === 0) return [...tags];
  const shown = bad.slice(0, 3).map((t) => JSON.stringify(t.length > 40 ? `${t.slice(0, 40)}…` : t));
  const why = tagProblem(bad[0]!)!.replace(/^tag ".*" may/s, 'a tag may');
  warn(`${bad.length === 1 ? 'a tag' : `${bad.length} tags`} of ${of} that no reference can name (${why}) left out: ${shown.join(', ')}${bad.length > 3 ? ` and ${bad.length - 3} more` : ''}`);
  return tags.filter((t) => tagProblem(t) === undefined);
}
