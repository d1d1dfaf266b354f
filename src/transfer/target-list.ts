/**
 * The targets of one command, one per repository: `--to X:a --to X:b` (or `--to X --to X`) is
 * one target with both tags. Two targets in one repository would each upload every blob there,
 * at the same time, and write the manifest twice. Pure.
 */
import type { ImageReference } from '../ref/reference.js';

/** Groups `refs` by registry and repository, in first-seen order; `tagsOf` gives each reference's tags (merged, duplicates dropped). */
export function oneTargetPerRepository(refs: readonly ImageReference[], tagsOf: (ref: ImageReference) => string[]): { ref: ImageReference; tags: string[] }[] {
  const targets = new Map<string, { ref: ImageReference; tags: string[] }>();
  for (const ref of refs) {
    const key = `${ref.registry}/${ref.repository}`;
    const tags = tagsOf(ref);
    const seen = targets.get(key);
    if (seen) seen.tags = [...new Set([...seen.tags, ...tags])];
    else targets.set(key, { ref, tags: [...new Set(tags)] });
  }
  return [...targets.values()];
}
