/**
 * Image references: `[host[:port]/]path[:tag][@digest]`, parsed and normalised the way the Docker
 * CLI does (distribution/reference ParseNormalizedNamed), so that `aspnet:2.2` here means exactly
 * what it means to `docker pull`. Pure: no I/O, no globals.
 */
import { InvalidReferenceError } from '../errors.js';
import { redactTyped } from '../redact.js';
import { connectionOptionNames, type ConnectionNames } from '../option-names.js';
import { HOST, NAME_TOTAL_LENGTH_MAX, PATH_COMPONENT, digestProblem, hostProblem, tagProblem } from './grammar.js';
import { DOCKER_HUB, canonicalRegistry } from './registry.js';
import { isLoopbackHost } from './host-address.js';

/** A parsed, normalised image reference. */
export interface ImageReference {
  /** Canonical host[:port], lower-case; Docker Hub is "docker.io". */
  registry: string;
  /** Repository path, e.g. "library/nginx" or "dotnet/core/aspnet". */
  repository: string;
  /** Tag; undefined when only a digest was given, "latest" when neither was given. */
  tag?: string | undefined;
  /** "sha256:<64 hex>" or "sha512:<128 hex>". */
  digest?: string | undefined;
}

/**
 * Throws the one error type of this module, always quoting the input so the user sees what was
 * wrong; a URL's userinfo (`https://user:password@host/app`, `user:pa/ss@host/app`) is quoted as
 * `***`, as a password (redactTyped).
 */
function fail(input: string, problem: string): never {
  throw new InvalidReferenceError(`invalid image reference ${JSON.stringify(redactTyped(input))}: ${problem}`);
}

/**
 * What to write instead of a reference with a scheme. "http://" usually means the registry
 * serves plain HTTP: dropped alone, the reference is then asked over HTTPS, and fails again
 * unless the host is named insecure (a loopback host is spoken to in plain HTTP already). The
 * setting that does so is named as the caller gives it (`names`: the CLI's --insecure-registry,
 * the library's insecureRegistries).
 */
function schemeProblem(input: string, scheme: string, names: ConnectionNames): string {
  const rest = input.slice(scheme.length);
  const slash = rest.indexOf('/');
  const host = slash > 0 ? rest.slice(0, slash) : '';
  if (scheme.toLowerCase() !== 'http://' || !HOST.test(host)) return `a reference has no scheme; drop "${scheme}" (e.g. "registry.example.com/app:1.0")`;
  // The reference offered must name the same registry: "myregistry/app" without the scheme is a
  // Docker Hub repository (a first component without a dot or port is not a host), and a name
  // with capitals is no reference at all.
  let written: ImageReference;
  try {
    written = parseReferenceAs(rest, names);
  } catch (err) {
    const problem = err instanceof InvalidReferenceError ? err.message.replace(/^invalid image reference "[^"]*": /, '') : String(err);
    return `a reference has no scheme; drop "${scheme}" (what is left is not a reference either: ${problem})`;
  }
  if (written.registry !== host.toLowerCase()) {
    return (
      `a reference has no scheme, and without "${scheme}" this one would not name the registry ${host}: ` +
      `write the registry with its port or a full name (${host}:5000/…, ${host}.example.com/…) and, for plain HTTP, add ${names.insecureSetting}`
    );
  }
  if (isLoopbackHost(host)) return `a reference has no scheme; drop "${scheme}" ("${redactTyped(rest)}"): a loopback registry is asked in plain HTTP already`;
  return `a reference has no scheme; drop "${scheme}" and add ${names.insecure(host)} for plain HTTP: "${redactTyped(rest)}"`;
}

/**
 * The registry of a reference written after credentials (`ci:PASSWORD@reg.example/app:1`,
 * `ci@reg.example/app`, as in a URL's userinfo), or undefined: an '@' followed by a registry host
 * and a path. A digest (the only thing an '@' may lead to in a reference) has no '/', so no valid
 * reference has this shape; refused as such, rather than with the digest problem of
 * `reg.example/app:1`, which says nothing of what was meant.
 */
function credentialsBefore(input: string): { registry: string; at: number } | undefined {
  for (let at = input.lastIndexOf('@'); at > 0; at = input.lastIndexOf('@', at - 1)) {
    const after = input.slice(at + 1);
    const slash = after.indexOf('/');
    const host = after.slice(0, Math.max(slash, 0));
    if (slash > 0 && namesHost(host) && hostProblem(host) === undefined) return { registry: canonicalRegistry(host), at };
  }
  return undefined;
}

/** Why a reference that carries credentials is refused, and how to give them (`names`: the CLI's flags or the library's options). */
function credentialsProblem(registry: string, names: ConnectionNames): string {
  const how = names.credentials?.(registry);
  return `a reference cannot carry credentials; give the reference without them, and the credentials for ${registry} ${how ? `another way: ${how}` : 'another way'}`;
}

/**
 * Whether the first component of a name is a registry host to Docker: it has "." or ":", is
 * "localhost", or is a bracketed IPv6 literal (distribution/reference's splitDockerDomain).
 */
function namesHost(first: string): boolean {
  return first.includes('.') || first.includes(':') || first.toLowerCase() === 'localhost' || first.startsWith('[');
}

/** Parses and normalises an image reference; throws InvalidReferenceError saying what is wrong. */
export function parseReference(input: string): ImageReference {
  return parseReferenceAs(input, undefined);
}

/**
 * parseReference for an operation: `names` (its `connectionNames` option; the library's options
 * when absent) word the advice for an `http://` reference.
 * @internal
 */
export function parseReferenceAs(input: string, names: ConnectionNames | undefined): ImageReference {
  if (typeof input !== 'string') fail(String(input), 'reference must be a string');
  if (input === '') fail(input, 'reference is empty');
  if (input.trim() !== input) fail(input, 'reference has leading or trailing whitespace');
  if (/\s/.test(input)) fail(input, 'reference contains whitespace');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(input);
  const body = scheme ? input.slice(scheme[0].length) : input;
  const credentials = credentialsBefore(body);
  // Shown with everything before that '@' gone: a token alone (`ghp_…@ghcr.io/org/app`, no ':'
  // that redactTyped would read as the start of a password) is a secret too.
  if (credentials) fail(`${scheme?.[0] ?? ''}***@${body.slice(credentials.at + 1)}`, credentialsProblem(credentials.registry, names ?? connectionOptionNames));
  if (scheme) fail(input, schemeProblem(input, scheme[0], names ?? connectionOptionNames));

  // The digest is everything after the first "@"; a second "@" makes the digest invalid below.
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest === '') fail(input, 'digest after "@" is empty');
    if (digest.includes('@')) fail(input, 'reference has more than one "@"');
    const problem = digestProblem(digest);
    if (problem) fail(input, problem);
  }

  // A tag can only follow the last "/", so "localhost:5000/app" is a port and not a tag.
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    const problem = tagProblem(tag);
    if (problem) fail(input, problem);
  }
  if (rest === '') fail(input, 'repository name is empty');

  const { registry, path } = splitHost(input, rest);
  const components = path.split('/');
  for (const c of components) {
    if (c === '') fail(input, 'repository name has an empty path component (leading, trailing or double "/")');
    if (!PATH_COMPONENT.test(c)) {
      if (/[A-Z]/.test(c)) fail(input, `repository name must be lowercase ("${c}")`);
      fail(input, `invalid repository path component "${c}" (lower-case letters, digits and single ".", "_", "__" or "-" separators)`);
    }
  }

  const repository = registry === DOCKER_HUB && components.length === 1 ? `library/${path}` : path;
  const name = `${registry}/${repository}`;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    fail(input, `repository name "${name}" is longer than ${NAME_TOTAL_LENGTH_MAX} characters (${name.length})`);
  }
  if (tag === undefined && digest === undefined) tag = 'latest';
  const ref: ImageReference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/**
 * A reference as the operations take it: a string parsed, or an object checked as if it had been
 * written out — a plain-JS caller's `{ repository: 'team/../other/app' }` would otherwise reach the
 * URLs unchecked (and write into another repository) where the same string is refused. The
 * object's own tag and digest are kept (none is added), its names are canonicalised. `names`:
 * the operation's `connectionNames` (parseReferenceAs).
 */
export function referenceArgument(value: string | ImageReference, names?: ConnectionNames): ImageReference {
  if (typeof value === 'string') return parseReferenceAs(value, names);
  const checked = parseReferenceAs(formatReference(value), names);
  if (checked.registry !== canonicalRegistry(value.registry)) {
    fail(formatReference(value), `registry "${value.registry}" is not a registry host (a host has a "." or a ":port", or is localhost)`);
  }
  const ref: ImageReference = { registry: checked.registry, repository: checked.repository };
  if (value.tag !== undefined) ref.tag = checked.tag!;
  if (value.digest !== undefined) ref.digest = checked.digest!;
  return ref;
}

/** Separates the registry host from the path, following Docker's rule for what counts as a host. */
function splitHost(input: string, name: string): { registry: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  // Docker: the first component is a host if it has "." or ":", is "localhost", or is not all
  // lower case (distribution/reference's splitDockerDomain), so "LOCALHOST/app" is localhost.
  // "[" covers a bracketed IPv6 literal, which always has ":" anyway.
  const isHost = slash >= 0 && namesHost(first);
  if (!isHost) {
    // Any other first component with upper case ("MyHost/app") is a host to Docker too, but hosts
    // are kept in lower case here (credential, token and endpoint lookups compare that spelling),
    // and "myhost/app", printed in the result or the report, would name a Docker Hub repository,
    // perhaps someone else's: refused, saying why, rather than read either way.
    if (slash >= 0 && first !== first.toLowerCase()) {
      fail(
        input,
        `"${first}" is not lower case, so Docker reads it as a registry host; regpush spells hosts in lower case, ` +
          `and "${name.toLowerCase()}" is a Docker Hub repository: give the host a port or domain ` +
          `(e.g. ${first.toLowerCase()}:5000/${name.slice(slash + 1)}), or write a Docker Hub namespace in lower case`,
      );
    }
    return { registry: DOCKER_HUB, path: name };
  }
  const problem = hostProblem(first);
  if (problem) fail(input, problem);
  return { registry: canonicalRegistry(first), path: name.slice(slash + 1) };
}

/** Formats a reference in full canonical form: "host/repo:tag", "host/repo@digest" or "host/repo:tag@digest". */
export function formatReference(ref: ImageReference): string {
  let s = repositoryName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** "host/repo", without tag or digest: the name a result digest is reported against. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** "host/repo@digest": the manifest `digest` in `ref`'s repository (its tag and digest left out), as results name what was written. */
export function digestReference(ref: Pick<ImageReference, 'registry' | 'repository'>, digest: string): string {
  return `${ref.registry}/${ref.repository}@${digest}`;
}

/** The same repository at `tag`; the digest is dropped so the new reference names what the tag points to. */
export function withTag(ref: ImageReference, tag: string): ImageReference {
  const problem = tagProblem(tag);
  if (problem) throw new InvalidReferenceError(`invalid tag ${JSON.stringify(tag)} for ${repositoryName(ref)}: ${problem}`);
  return { registry: ref.registry, repository: ref.repository, tag };
}

/** Returns `tag` when it is a valid tag, else throws InvalidReferenceError saying what is wrong with it. */
export function checkTag(tag: string): string {
  const problem = tagProblem(tag);
  if (problem) throw new InvalidReferenceError(`invalid tag ${JSON.stringify(tag)}: ${problem}`);
  return tag;
}

/** What goes after /manifests/: the digest when present (it wins over a tag), else the tag. */
export function manifestRef(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}
