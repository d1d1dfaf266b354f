/**
 * Following a list's pages (RFC 5988 `Link: <url>; rel="next"`), as tags/list, _catalog and the
 * referrers API page their answers. Shared by name-lists.ts and referrers-api.ts: which page comes
 * next, and the rule that it comes from the registry itself.
 */
import { ProtocolError } from '../errors.js';

/** The next page from an RFC 5988 Link header (`<url>; rel="next"`), resolved against `current`. */
export function nextLink(link: string | undefined, current: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>\s*;(.*)/.exec(part.trim());
    if (m && /rel="?next"?/i.test(m[2] ?? '')) return new URL(m[1] ?? '', current).toString();
  }
  return undefined;
}

/**
 * `next`, a list's next page, unless it is on another origin (scheme, host or port) than the
 * page that named it: E_PROTOCOL naming both. The registry's credentials would not be sent there
 * (the auth layer keeps them to the registry), so the page would be read anonymously from a host
 * nobody named, or refused with a 401 blamed on the registry; no registry pages to another host.
 */
export function sameOrigin(next: string | undefined, current: string, what: string, registry: string): string | undefined {
  if (next === undefined) return undefined;
  const from = new URL(current);
  const to = new URL(next);
  if (to.origin === from.origin) return next;
  throw new ProtocolError(
    `${what}: the registry at ${from.host} sent a Link to its next page on another host (${to.protocol}//${to.host}); ` +
      "regpush reads a list's pages from the registry itself only",
    {
      details: { registry },
    },
  );
}
