/**
 * The OCI 1.1 referrers API (`GET /v2/<repo>/referrers/<digest>`): the manifests that name a
 * subject, read page by page and checked as an index is. Where a registry has no such API the
 * answer says so (undefined), and the transfer layer falls back to the tag scheme
 * (src/transfer/referrers.ts); this module only reads the API.
 */
import { ProtocolError } from '../errors.js';
import { drain, readBody, MANIFEST_CAP } from '../http/response.js';
import type { HttpResponse } from '../http/types.js';
import { checkDescriptor, MAX_INDEX_CHILDREN } from '../image/manifest.js';
import type { Descriptor } from '../image/types.js';
import { nextLink, sameOrigin } from './pagination.js';
import type { ReferrerEntry } from './registry-client.js';
import type { RegistryHttp } from './registry-http.js';

/** Most referrers-API pages followed (as MAX_TAG_PAGES: a Link that never ends must not loop forever). */
export const MAX_REFERRER_PAGES = 1_000;

export class ReferrersApi {
  constructor(private readonly http: RegistryHttp) {}

  /**
   * OCI 1.1 referrers API; undefined when the registry does not offer it (404/405/400). The answer
   * may come in pages, each naming the next in a Link header as tags/list does (distribution-spec
   * "Listing Referrers"); every page is read, at most `maxPages` of them. The answer is checked as
   * a fallback index is: an entry that is no descriptor with a valid digest (a tag name, a `../`
   * path, which would be fetched as a referrer) is E_PROTOCOL for the whole answer, as a broken
   * index is. And it is bounded as a tag list is: a Link back to a page already read, a page that
   * names only what earlier pages named, or more than MAX_INDEX_CHILDREN referrers in all (the
   * bound of one index's children) is E_PROTOCOL at once, where following it would hold page after
   * page until the bound or the heap ran out. Each entry keeps what the walk uses (not its
   * annotations), so what is held stays small.
   */
  async list(repo: string, digest: string, maxPages = MAX_REFERRER_PAGES): Promise<{ manifests: ReferrerEntry[] } | undefined> {
    const http = this.http;
    const what = `referrers of ${http.registry}/${repo}@${digest}`;
    const wrong = (why: string) => new ProtocolError(`${what}: ${why}`, { details: { registry: http.registry } });
    const manifests: ReferrerEntry[] = [];
    const seen = new Set<string>();
    const visited = new Set<string>();
    let url: string | undefined = await http.refUrl('GET', repo, 'referrers', digest);
    for (let page = 0; url && page < maxPages; page++) {
      if (visited.has(url)) throw wrong(`page ${page + 1} leads back to a page already read (the registry does not follow its own Link); the list cannot be read to its end`);
      visited.add(url);
      const res: HttpResponse = await http.request({ method: 'GET', url, headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
      // Harbor answers 401 without a challenge where it has no referrers API for the repository
      // (goharbor/harbor#18305, oras-project/oras#1892): that is "no API" (use the tag scheme), not
      // a login problem. A 401 with a challenge is one the auth layer could not satisfy: an error.
      // Only the first page can say "no API": a registry that sent one page has the API.
      const noApi = res.status === 404 || res.status === 405 || res.status === 400 || (res.status === 401 && !res.headers['www-authenticate']);
      if (noApi && page === 0) {
        await drain(res);
        return undefined;
      }
      if (res.status !== 200) return http.fail(res, what);
      const ct = res.headers['content-type'] ?? '';
      const buf = await readBody(res, MANIFEST_CAP, 'referrers index');
      let parsed: { manifests?: unknown };
      try {
        parsed = ct.includes('json') ? (JSON.parse(buf.toString('utf8')) as { manifests?: unknown }) : {};
      } catch {
        throw new ProtocolError(`referrers index of ${http.registry}/${repo}@${digest} is not valid JSON`);
      }
      if (!Array.isArray(parsed.manifests)) {
        // A first answer that is no index is a front that does not know the API: no API, as a 404
        // says (use the tag scheme); a later page that is none would leave the list cut short
        // without a word.
        if (page === 0) return undefined;
        throw wrong(`page ${page + 1} is not an image index`);
      }
      const entries: unknown[] = parsed.manifests;
      const on = page > 0 ? `page ${page + 1}, ` : '';
      entries.forEach((d, i) => {
        try {
          checkDescriptor(d, `manifests[${i}]`);
        } catch (err) {
          throw wrong(`${on}${(err as Error).message.replace(/^manifest /, '')}`);
        }
      });
      const fresh = (entries as Descriptor[]).filter((d) => !seen.has(d.digest));
      if (page > 0 && entries.length > 0 && fresh.length === 0) {
        throw wrong(`page ${page + 1} repeats what earlier pages listed (the registry does not follow its own Link); the list cannot be read to its end`);
      }
      for (const d of fresh) {
        if (seen.has(d.digest)) continue; // named twice on one page
        seen.add(d.digest);
        manifests.push({ digest: d.digest, mediaType: d.mediaType, ...(typeof d.artifactType === 'string' ? { artifactType: d.artifactType } : {}) });
      }
      if (manifests.length > MAX_INDEX_CHILDREN) throw wrong(`names more than ${MAX_INDEX_CHILDREN} referrers; regpush follows at most ${MAX_INDEX_CHILDREN}, as for one index's children`);
      url = sameOrigin(nextLink(res.headers['link'], url), url, what, http.registry);
    }
    // A partial list would copy some signatures and leave the rest behind without a word.
    if (url) throw new ProtocolError(`${what} go on past ${maxPages} pages`, { details: { registry: http.registry } });
    return { manifests };
  }
}
