/**
 * The push's other tags at one target (`--tag`), each asked about once. Two parts of a push want
 * to know about them: the commit, which leaves a tag already on the digest alone (a re-run, a
 * registry with immutable tags), needs each one's digest; and the warm path, when the tag in
 * `--to` is new (`app:$COMMIT --tag latest`), reads the manifest of the first of them that exists
 * to match layers against. Asking both ways — a HEAD for the commit and a GET for the warm path —
 * asked `latest` twice on every such deploy. Here one answer serves both:
 *
 * - `get`: where a manifest GET counts no pull, each tag is read with a GET at once, beside the
 *   first tag's own GET. Its digest is that of the bytes (what the commit compares), and the warm
 *   path takes the manifest from the same answer, which has arrived by the time the first tag's
 *   404 says it is needed: one request per tag, and no round trip after that 404.
 * - `head`: where a GET counts a pull (Docker Hub; a registry that has sent rate-limit headers),
 *   each tag gets a HEAD at once (no pull). The warm path GETs only a tag whose HEAD
 *   did not say it is absent: a missing `latest` costs one request, not two. One that exists is
 *   still HEADed and then read: the HEAD spares the pull whenever the first tag exists (a re-run),
 *   where a GET in its place would spend one, and a HEAD held back until the first tag answered
 *   would put a round trip into an unchanged re-run.
 *
 * A dry run asks the same way: its plan says which tags already hold the image (and so would not
 * be written), which it can only tell from the same answers.
 */
import { NotFoundError } from '../errors.js';
import type { FetchedManifest, ManifestHead } from '../registry/registry-client.js';
import type { RepoEndpoint } from '../transfer/types.js';

/** How the other tags are asked about (see the file comment). */
export type ExtraTagAsk = 'get' | 'head';

/** What one request said about a tag: absent, its answer, or an error other than 404. */
type Answer<T> = { found: T | undefined } | { error: unknown };

/** The warm path's view: the tags in order, and each one's manifest (undefined: the tag does not exist). */
export interface OtherTags {
  readonly tags: readonly string[];
  /** Rejects as a GET would (an error other than 404). */
  manifest(tag: string): Promise<FetchedManifest | undefined>;
}

/** The push's other tags at one target; see the file comment. */
export class ExtraTags implements OtherTags {
  private readonly gets = new Map<string, Promise<Answer<FetchedManifest>>>();
  private readonly heads = new Map<string, Promise<Answer<ManifestHead>>>();

  constructor(
    private readonly target: RepoEndpoint,
    readonly tags: readonly string[],
    ask: ExtraTagAsk,
  ) {
    for (const tag of tags) {
      if (ask === 'get') this.gets.set(tag, answer(target.client.getManifest(target.repo, tag)));
      else this.heads.set(tag, answer(target.client.headManifest(target.repo, tag)));
    }
  }

  /** The way a push asks at `target`: GETs where they count no pull, HEADs where they do. */
  static askFor(target: RepoEndpoint): ExtraTagAsk {
    return target.client.countsPulls?.(target.repo) === false ? 'get' : 'head';
  }

  /** The tag's manifest for the warm path, from the answer already asked for where there is one. */
  async manifest(tag: string): Promise<FetchedManifest | undefined> {
    let got = this.gets.get(tag);
    if (!got) {
      const head = await this.heads.get(tag);
      // Its HEAD found it absent: nothing to read. (Present, or a HEAD that failed: the GET says.)
      if (head && 'found' in head && head.found === undefined) return undefined;
      this.gets.set(tag, (got = answer(this.target.client.getManifest(this.target.repo, tag))));
    }
    const a = await got;
    if ('error' in a) throw a.error;
    return a.found;
  }

  /**
   * What each tag points at (undefined: absent, or not told — a failed request is no reason to
   * fail the push; the tag is then written, as it would be without this check). Where a tag was
   * read with a GET (ahead, or by the warm path after its HEAD), that later answer is taken: its
   * digest is computed from the bytes, where a HEAD has only the registry's header, if any.
   */
  async digests(): Promise<Map<string, string | undefined>> {
    const out = new Map<string, string | undefined>();
    for (const tag of this.tags) {
      const got = await this.gets.get(tag);
      const a = got && 'found' in got ? got : await this.heads.get(tag);
      out.set(tag, a && 'found' in a ? a.found?.digest : undefined);
    }
    return out;
  }
}

/**
 * The target's tags that already hold `digest`, in the order given: the first (the tag in `--to`)
 * by the digest the warm path found there, the others by their answers (ExtraTags.digests). The
 * commit leaves these alone, and a dry run's plan says so.
 */
export async function tagsHolding(digest: string, tags: readonly string[], tagDigest: string | undefined, others: Pick<ExtraTags, 'digests'> | undefined): Promise<string[]> {
  const at = (await others?.digests()) ?? new Map<string, string | undefined>();
  return tags.filter((tag, i) => (i === 0 ? tagDigest : at.get(tag)) === digest);
}

/** A request's answer, never rejecting: a 404 is `found: undefined`, any other failure kept for whoever needs the answer. */
function answer<T>(p: Promise<T | undefined>): Promise<Answer<T>> {
  return p.then(
    (found) => ({ found }),
    (error: unknown) => (error instanceof NotFoundError ? { found: undefined } : { error }),
  );
}
