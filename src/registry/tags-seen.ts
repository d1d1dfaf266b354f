/**
 * What one client has seen of each repository's tags in this run, learned from its manifest
 * requests. The transfer engine reads it (RegistryClient.tagsState, whenTagAbsent) to tell a first
 * push or copy into a tag (its largest blob starts speculatively) from an update (HEAD first). Run
 * state of the client's own, apart from the requests that feed it (manifests.ts).
 */

export class TagsSeen {
  /** "absent" while every tag looked up in the repository was missing, "present" once one existed or was written. */
  private readonly seen = new Map<string, 'absent' | 'present'>();
  private readonly onAbsent: (() => void)[] = [];

  state(repo: string): 'absent' | 'present' | undefined {
    return this.seen.get(repo);
  }

  /** Calls `fn` once, when a tag is first seen absent in a repository with no tag seen present. */
  whenAbsent(fn: () => void): void {
    this.onAbsent.push(fn);
  }

  /** Records a manifest request's answer for `ref` (a tag or a digest; a digest tells nothing of tags). */
  saw(repo: string, ref: string, present: boolean): void {
    if (ref.includes(':')) return; // a digest, not a tag
    if (present) this.seen.set(repo, 'present');
    else if (!this.seen.has(repo)) {
      this.seen.set(repo, 'absent');
      for (const fn of this.onAbsent.splice(0)) fn();
    }
  }
}
