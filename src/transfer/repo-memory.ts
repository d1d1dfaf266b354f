/**
 * What a run asks once per repository for its referrer walks, however many images it copies:
 * a source repository's tag list (the cosign tags `sha256-<hex>.sig` are found in it, for every
 * image of the repository: `copy --all-tags` and sync list it once already, and thirty tags each
 * listing it again cost thirty lists of every page), and whether a target repository answers the
 * OCI referrers API (where it does not, each subject's referrers are listed in a fallback index;
 * asked once, not once per subject and level), and whether a source repository has the referrers
 * API: one that answered it "no API" (RegistryClient.referrers: a 404 as distribution 2.8 sends,
 * Harbor's bare 401) is not asked again for the next level or image (the subjects of one level are
 * asked at once, before any answer is in) — the distribution
 * spec does not let a registry with the API answer 404 there, so the answer holds for the
 * repository (until this, each subject of each image asked again). A tag list so read is the run's: a referrer
 * tagged at the source after it was read comes with the next run.
 */
import { nameableTags } from '../ref/grammar.js';
import type { RegistryClient } from '../registry/registry-client.js';

/** A repository and its client (types.ts's RepoEndpoint; named here, as types.ts names this module's class). */
interface RepoEndpoint {
  client: RegistryClient;
  repo: string;
}

export class RepoMemory {
  private readonly tagLists = new Map<string, Promise<string[]>>();
  /**
   * Whether a repository answers the referrers API, whichever side learnt it first: a target is
   * asked once (hasReferrersApi); a source's first "no API" answer (referrers) is kept.
   */
  private readonly apis = new Map<string, Promise<boolean>>();

  /**
   * The tag list of `ep`. Only tags a reference can name: what copy --all-tags and sync copy and
   * the referrer walk finds by tag goes into URLs, and a listed
   * `sha256-<hex>.sig/../../../prod/manifests/latest` would address another repository. This is
   * the one place a copy's or a sync's listed tag is checked, so each left out is warned of here,
   * once per read, through `warn`: the asker's, which labels the line with the entry or image
   * that asked. `keep`: the list is read once for the run (again after a failed read: a later
   * image asks anew), and a later ask is answered from it without a warning; without it (a sync
   * entry that copies no referrers selects from the list and drops it) a list the run keeps is
   * still used, and any other is read for this ask alone.
   */
  tagList(ep: RepoEndpoint, warn: (line: string) => void, keep = true): Promise<string[]> {
    const read = async () => nameableTags(await ep.client.listTags(ep.repo), keyOf(ep), warn);
    if (!keep) return this.tagLists.get(keyOf(ep)) ?? read();
    return once(this.tagLists, ep, read);
  }

  /**
   * Target repositories whose registry answers the fallback tag `sha256-<hex>` with the manifest
   * `sha256:<hex>` itself (GitLab's: referrers.ts, isSubjectItself): no fallback index can be kept
   * there, so no later subject's is read or written in the run.
   */
  private readonly fallbackTagIsDigest = new Set<string>();

  /** True once `ep` has answered a fallback tag with its subject (markFallbackTagIsDigest). */
  fallbackTagUnusable(ep: RepoEndpoint): boolean {
    return this.fallbackTagIsDigest.has(keyOf(ep));
  }

  /** Records that `ep` answered a fallback tag with its subject; true the first time (the caller warns once). */
  markFallbackTagIsDigest(ep: RepoEndpoint): boolean {
    const key = keyOf(ep);
    if (this.fallbackTagIsDigest.has(key)) return false;
    this.fallbackTagIsDigest.add(key);
    return true;
  }

  /** True when `ep` answers the referrers API, asked once for the run with the referrers of `subject` (a manifest the caller wrote there). */
  hasReferrersApi(ep: RepoEndpoint, subject: string): Promise<boolean> {
    return once(this.apis, ep, async () => (await ep.client.referrers(ep.repo, subject)) !== undefined);
  }

  /** The referrers API's answer for `subject` in `ep`; undefined without a request once `ep` has answered that it has no referrers API. */
  async referrers(ep: RepoEndpoint, subject: string): ReturnType<RegistryClient['referrers']> {
    const key = keyOf(ep);
    // A question that failed says nothing: the repository is asked.
    if ((await this.apis.get(key)?.catch(() => true)) === false) return undefined;
    const answer = await ep.client.referrers(ep.repo, subject);
    if (answer === undefined) this.apis.set(key, Promise.resolve(false));
    return answer;
  }
}

function keyOf(ep: RepoEndpoint): string {
  return `${ep.client.registry}/${ep.repo}`;
}

/** `memo`'s answer for `ep`'s repository, asked with `ask` the first time; a failure is not kept. */
function once<T>(memo: Map<string, Promise<T>>, ep: RepoEndpoint, ask: () => Promise<T>): Promise<T> {
  const key = keyOf(ep);
  let p = memo.get(key);
  if (!p) {
    memo.set(key, (p = ask()));
    p.catch(() => {
      if (memo.get(key) === p) memo.delete(key);
    });
  }
  return p;
}
