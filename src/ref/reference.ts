/**
 * Image references: `[host[:port]/]path[:tag][@digest]`, parsed and normalised the way the Docker
 * CLI does (distribution/reference ParseNormalizedNamed), so that `aspnet:2.2` here means exactly
 * what it means to `docker pull`. Pure: no I/O, no globals.
 */
import { InvalidReferenceError } from '../errors.js';
import { HOST, NAME_TOTAL_LENGTH_MAX, PATH_COMPONENT, digestProblem, tagProblem } from './grammar.js';

/** A parsed, normalised image reference. */
export interface ImageReference {
  /** Canonical host[:port], lower-case; Docker Hub is "docker.io". */
  registry: string;
  /** Repository path, e.g. "library/nginx" or "dotnet/core/aspnet". */
  repository: string;
  /** Tag; undefined when only a digest was given, "latest" when neither was given. */
  tag?: string;
  /** "sha256:<64 hex>" or "sha512:<128 hex>". */
  digest?: string;
}

/** The name Docker Hub goes by in references. */
const DOCKER_HUB = 'docker.io';
/** The host that actually serves Docker Hub's Distribution API. */
const DOCKER_HUB_API = 'registry-1.docker.io';
/** Every spelling of Docker Hub; all normalise to "docker.io" (Docker treats index.docker.io as legacy). */
const DOCKER_HUB_ALIASES = new Set([DOCKER_HUB, 'index.docker.io', DOCKER_HUB_API]);

/** Throws the one error type of this module, always quoting the input so the user sees what was wrong. */
function fail(input: string, problem: string): never {
  throw new InvalidReferenceError(`invalid image reference ${JSON.stringify(input)}: ${problem}`);
}

/** Parses and normalises an image reference; throws InvalidReferenceError saying what is wrong. */
export function parseReference(input: string): ImageReference {
  if (typeof input !== 'string') fail(String(input), 'reference must be a string');
  if (input === '') fail(input, 'reference is empty');
  if (input.trim() !== input) fail(input, 'reference has leading or trailing whitespace');
  if (/\s/.test(input)) fail(input, 'reference contains whitespace');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(input);
  if (scheme) fail(input, `a reference has no scheme; drop "${scheme[0]}" (e.g. "registry.example.com/app:1.0")`);

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

/** Separates the registry host from the path, following Docker's rule for what counts as a host. */
function splitHost(input: string, name: string): { registry: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  // Docker: the first component is a host only if it has "." or ":" or is "localhost".
  // "[" covers a bracketed IPv6 literal, which always has ":" anyway.
  const isHost = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['));
  if (!isHost) return { registry: DOCKER_HUB, path: name };
  const m = HOST.exec(first);
  if (!m) fail(input, `invalid registry host "${first}"`);
  const port = m[1];
  if (port !== undefined) {
    const n = Number(port);
    if (n < 1 || n > 65535) fail(input, `registry port ${port} is out of range (1-65535)`);
  }
  // Host names are case-insensitive; one spelling keeps credential and token caches from splitting.
  const host = first.toLowerCase();
  return { registry: DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host, path: name.slice(slash + 1) };
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

/** The host to send API requests to: Docker Hub's names map to registry-1.docker.io, others are unchanged. */
export function apiHost(registry: string): string {
  return isDockerHub(registry) ? DOCKER_HUB_API : registry;
}

/** True for any of Docker Hub's names (docker.io, index.docker.io, registry-1.docker.io). */
export function isDockerHub(registry: string): boolean {
  return DOCKER_HUB_ALIASES.has(registry.toLowerCase());
}

/** True for localhost, 127.0.0.0/8 and ::1, with or without port: the hosts where plain HTTP is allowed. */
export function isLoopbackHost(registry: string): boolean {
  const host = hostWithoutPort(registry.toLowerCase());
  if (host === 'localhost') return true;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255) && Number(v4[1]) === 127;
  return isIpv6Loopback(host);
}

/** Drops a ":port" suffix and IPv6 brackets; a bare IPv6 literal (several ":") is returned whole. */
function hostWithoutPort(registry: string): string {
  if (registry.startsWith('[')) {
    const close = registry.indexOf(']');
    return close < 0 ? registry : registry.slice(1, close);
  }
  const colons = registry.split(':').length - 1;
  return colons === 1 ? registry.slice(0, registry.indexOf(':')) : registry;
}

/** True for "::1" in any spelling ("0:0:0:0:0:0:0:1", "::0:1"). */
function isIpv6Loopback(host: string): boolean {
  if (!/^[0-9a-f:]+$/.test(host) || !host.includes(':')) return false;
  const halves = host.split('::');
  if (halves.length > 2) return false;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8)) return false;
  const all = [...head, ...Array<string>(fill).fill('0'), ...tail];
  if (all.length !== 8 || all.some((g) => g === '' || g.length > 4)) return false;
  return all.slice(0, 7).every((g) => parseInt(g, 16) === 0) && parseInt(all[7]!, 16) === 1;
}

/** What goes after /manifests/: the digest when present (it wins over a tag), else the tag. */
export function manifestRef(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}
