/**
 * The two name lists of the Distribution API: a repository's tags (`GET /v2/<repo>/tags/list`)
 * and the registry's catalog (`GET /v2/_catalog`). Both are paginated the same way and bounded the
 * same way (a Link that loops or a page that repeats is an error at once, not a page bound reached
 * with every page held), and each page's shape is checked, since a list read wrong would pass for
 * an empty one.
 */
import { ProtocolError } from '../errors.js';
import { readJson } from '../http/response.js';
import type { HttpResponse } from '../http/types.js';
import { nextLink, sameOrigin } from './pagination.js';
import { unsentWhenCut, type RegistryHttp } from './registry-http.js';

/** The most entries distribution answers on one tags/list or _catalog page (its catalog.maxentries default). */
const DISTRIBUTION_MAX_ENTRIES = 1000;

/** Most tag-list pages followed (a registry whose Link never ends would otherwise loop forever). */
export const MAX_TAG_PAGES = 10_000;

/**
 * Most bytes of one tag-list page. distribution before 2.8 ignores `n` and sends every tag in one
 * answer: 100,000 CI tags (`sha-<40 hex>`) are ~5 MB, past the manifest bound.
 */
const TAG_LIST_CAP = 64 * 1024 * 1024;

export class NameLists {
  constructor(private readonly http: RegistryHttp) {}

  /**
   * Lists tags, following Link pagination (`pageSize` tags asked for per page, at most `maxPages`
   * pages). A registry whose Link leads back to a page already read, or whose next page brings no
   * tag not already listed (one that ignores `last`), would be followed to the page bound, every
   * page held: that is an error at once. Interrupted before any of its requests went out, its
   * AbortedError has `details.unsent` (pagedNames).
   */
  tags(repo: string, pageSize = 1000, maxPages = MAX_TAG_PAGES): Promise<string[]> {
    const registry = this.http.registry;
    return this.pagedNames((n) => `${repo}/tags/list?n=${n}`, `tag list of ${registry}/${repo}`, `list tags of ${registry}/${repo}`, 'tags', pageSize, maxPages);
  }

  /**
   * The registry's catalog (`GET /v2/_catalog`): every repository name, paginated as tags are.
   * Not every registry offers it (Docker Hub, GHCR, ECR and GAR answer 404 or 401/403); the
   * caller says so.
   */
  repositories(pageSize = 1000, maxPages = MAX_TAG_PAGES): Promise<string[]> {
    const registry = this.http.registry;
    return this.pagedNames((n) => `_catalog?n=${n}`, `catalog of ${registry}`, `list the repositories of ${registry}`, 'repositories', pageSize, maxPages);
  }

  /**
   * The names under `key` of a paginated list (tags/list, _catalog), every page followed (see
   * tags()). Interrupted before any of its requests went out (unsentWhenCut: queued for a
   * connection, its token or the scheme still being asked), its AbortedError has `details.unsent`:
   * sync says such a listing was not started, as one whose turn had not come.
   */
  private pagedNames(pathFor: (n: number) => string, what: string, failWhat: string, key: 'tags' | 'repositories', pageSize: number, maxPages: number): Promise<string[]> {
    return unsentWhenCut((onSent) => this.pagedNamesSent(pathFor, what, failWhat, key, pageSize, maxPages, onSent));
  }

  private async pagedNamesSent(
    pathFor: (n: number) => string,
    what: string,
    failWhat: string,
    key: 'tags' | 'repositories',
    pageSize: number,
    maxPages: number,
    onSent: () => void,
  ): Promise<string[]> {
    const http = this.http;
    const names: string[] = [];
    const seen = new Set<string>();
    const visited = new Set<string>();
    const repeated = (page: number) =>
      new ProtocolError(`${what}: page ${page + 1} repeats what earlier pages listed (the registry does not follow its own Link); the list cannot be read to its end`, {
        details: { registry: http.registry },
      });
    let url: string | undefined = await http.url(pathFor(pageSize));
    for (let page = 0; url && page < maxPages; page++) {
      if (visited.has(url)) throw repeated(page);
      visited.add(url);
      let res: HttpResponse = await http.request({ method: 'GET', url, onSent });
      if (res.status === 400 && page === 0 && pageSize > DISTRIBUTION_MAX_ENTRIES) {
        // distribution (2.8 and later) answers an `n` above its catalog.maxentries (default 1000)
        // with 400 PAGINATION_NUMBER_INVALID rather than capping it: asked once more with that
        // default, its Link then leads on page by page. Said in --debug only: the list is whole.
        const err = await http.error(res, failWhat);
        if (!err.details.registryCodes?.includes('PAGINATION_NUMBER_INVALID')) throw err;
        http.logger.debug(`${http.registry} refused n=${pageSize} (400 PAGINATION_NUMBER_INVALID); asking again with n=${DISTRIBUTION_MAX_ENTRIES}`);
        url = await http.url(pathFor(DISTRIBUTION_MAX_ENTRIES));
        visited.add(url);
        res = await http.request({ method: 'GET', url, onSent });
      }
      // A tag list's 404 is its repository's, whichever operation lists it (sync's transport
      // advises inspect for its manifests): inspect, or listing the tags, would fail the same way.
      if (res.status !== 200) return http.fail(res, failWhat, key === 'tags' ? { ...http.transport.names, inspect: undefined, tags: undefined } : undefined);
      const listed = namesOf(await readJson(res, TAG_LIST_CAP, what), key, page > 0 ? `${what}, page ${page + 1}` : what, http.registry);
      const fresh = listed.filter((t) => !seen.has(t));
      if (page > 0 && listed.length > 0 && fresh.length === 0) throw repeated(page);
      for (const t of fresh) seen.add(t);
      names.push(...fresh);
      url = sameOrigin(nextLink(res.headers['link'], url), url, what, http.registry);
    }
    // A partial list passed off as the whole one would mislead (copy --all-tags, tags), so say it.
    if (url) {
      throw new ProtocolError(`${what} goes on past ${maxPages} pages of ${pageSize}; ask for bigger pages`, {
        details: { registry: http.registry },
      });
    }
    return names;
  }
}

/**
 * The names under `key` of one page of a list (tags/list's `tags`, _catalog's `repositories`).
 * `tags` null or left out is an empty repository (distribution answers `"tags": null` once every
 * tag is deleted); any other shape is E_PROTOCOL, naming the list: read as "no tags" it would
 * empty `tags` and make `copy --all-tags` copy nothing without a word, and a non-string entry
 * would be listed as a tag ("[object Object]").
 */
function namesOf(parsed: unknown, key: 'tags' | 'repositories', what: string, registry: string): string[] {
  const wrong = (why: string) => new ProtocolError(`${what}: ${why}`, { details: { registry } });
  const shown = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw wrong(`the registry answered ${shown(parsed)}, not a JSON object with "${key}"`);
  const { [key]: names, errors } = parsed as Record<string, unknown>;
  if (names === undefined && errors !== undefined) {
    // A front that answers 200 with an OCI error body (a denial, say) in place of the list.
    const codes = Array.isArray(errors) ? errors.map((e) => String((e as { code?: unknown } | null)?.code ?? '')).filter(Boolean) : [];
    throw wrong(`the registry answered 200 with an error body${codes.length ? ` (${codes.join(', ')})` : ''} instead of the ${key === 'tags' ? 'tag' : 'repository'} list`);
  }
  if (names === undefined || names === null) return [];
  if (!Array.isArray(names)) throw wrong(`"${key}" is ${shown(names)}, not a list`);
  const bad = names.find((t) => typeof t !== 'string');
  if (bad !== undefined) throw wrong(`"${key}" holds ${shown(bad)} (${JSON.stringify(bad)?.slice(0, 40)}), not a ${key === 'tags' ? 'tag' : 'repository'} name`);
  return names as string[];
}
