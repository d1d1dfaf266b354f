/**
 * Finding what refers to an image (signatures, attestations, SBOMs): the OCI 1.1 referrers API
 * when the source has it, else the tag schemes cosign and the OCI fallback use
 * (`sha256-<hex>`, `sha256-<hex>.sig`, `.att`, `.sbom`).
 */
import type { RegistryClient } from '../registry/client.js';

/** A referrer found at the source: by digest (referrers API) or by tag (fallback scheme). */
export type Referrer = { kind: 'digest'; digest: string } | { kind: 'tag'; tag: string };

/** Lists referrers of `digest` in `repo`. */
export async function findReferrers(client: RegistryClient, repo: string, digest: string): Promise<Referrer[]> {
  const api = await client.referrers(repo, digest);
  if (api) return api.manifests.map((d) => ({ kind: 'digest', digest: d.digest }) as const);
  const prefix = digest.replace(':', '-');
  const tags = await client.listTags(repo);
  return tags.filter((t) => t === prefix || t.startsWith(prefix + '.')).map((tag) => ({ kind: 'tag', tag }) as const);
}
