/**
 * A manifest's lookup as the registry commands make it (digest, tag, untag, delete): a HEAD, or the GET
 * where a registry refuses HEAD. In a module of its own because delete's checks (delete-checks.ts)
 * look the repository's tags up the same way as manage.ts looks up the reference itself.
 */
import { NotFoundError, RegistryError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FetchedManifest, ManifestHead, RegistryClient } from '../registry/registry-client.js';

/**
 * Answers to a manifest HEAD from a registry or front that does not serve HEAD there, though the
 * GET works (an API gateway allowing GET only, a registry without the route): the GET is asked
 * instead, as crane's Digest does ("HEAD request failed, falling back on GET"). 401, 403 and 404
 * keep their meaning: the GET would be refused, or find nothing, the same way.
 */
const HEAD_REFUSED = new Set([400, 405, 501]);

/** A manifest's HEAD; where the registry refused the HEAD, what its GET said, with the manifest itself (`got`). */
export type LookedUp = ManifestHead & { got?: FetchedManifest };

/** A manifest's lookup (LookedUp), or undefined when the manifest does not exist. */
export type ManifestLookup = (repo: string, ref: string) => Promise<LookedUp | undefined>;

/**
 * One command's manifest lookups: a HEAD; when the registry refuses HEAD (HEAD_REFUSED), what its
 * GET says, the digest computed from the bytes — and, once refused, the command's later lookups
 * go to the GET at once.
 */
export function manifestLookup(client: RegistryClient, log: Logger): ManifestLookup {
  let refused = false;
  return async (repo, ref) => {
    if (!refused) {
      try {
        return await client.headManifest(repo, ref);
      } catch (err) {
        if (!(err instanceof RegistryError) || !HEAD_REFUSED.has(err.details.status ?? 0)) throw err;
        refused = true;
        log.debug(`${client.registry} answered ${err.details.status} to a manifest HEAD; falling back on GET`);
      }
    }
    try {
      const got = await client.getManifest(repo, ref);
      return { digest: got.digest, mediaType: got.mediaType || undefined, size: got.bytes.length, got };
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  };
}
