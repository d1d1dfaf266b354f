/**
 * Finding what refers to an image (signatures, attestations, SBOMs): the OCI 1.1 referrers API
 * when the source has it, else the tag schemes cosign and the OCI fallback use
 * (`sha256-<hex>`, `sha256-<hex>.sig`, `.att`, `.sbom`).
 */
import { NotFoundError } from '../errors.js';
import { serializeManifest } from '../image/build.js';
import { parseManifest } from '../image/manifest.js';
import { MediaType } from '../image/mediatypes.js';
import type { Descriptor, ImageIndex } from '../image/types.js';
import type { RegistryClient } from '../registry/registry-client.js';
import type { RepoEndpoint } from './types.js';
import type { ManifestNode } from './graph.js';

/** A referrer found at the source: by digest (referrers API) or by tag (fallback scheme). */
export type Referrer = { kind: 'digest'; digest: string } | { kind: 'tag'; tag: string };

/**
 * Lists referrers of `digest` in `repo`: what the referrers API names, and the tags of cosign's
 * scheme (`.sig`, `.att`, `.sbom`), which the API does not list (those manifests have no subject)
 * and which most signatures still are, registries with the API included (Harbor, ACR, ECR).
 * Without the API, also the OCI fallback index tagged `sha256-<hex>`; with it, that index only
 * repeats what the API said.
 */
export async function findReferrers(client: RegistryClient, repo: string, digest: string): Promise<Referrer[]> {
  const api = await client.referrers(repo, digest);
  const prefix = digest.replace(':', '-');
  const tags = (await client.listTags(repo)).filter((t) => (api ? t.startsWith(prefix + '.') : t === prefix || t.startsWith(prefix + '.')));
  const byDigest = (api?.manifests ?? []).map((d) => ({ kind: 'digest', digest: d.digest }) as const);
  return [...byDigest, ...tags.map((tag) => ({ kind: 'tag', tag }) as const)];
}

/**
 * Makes `referrer` discoverable at a target without the referrers API: the OCI fallback is an
 * index tagged `sha256-<subject hex>` listing every referrer (merged with what is already there).
 * A target with the API indexes the referrer itself through its `subject`; nothing to do then.
 */
export async function listInFallbackIndex(target: RepoEndpoint, subject: string, referrer: ManifestNode): Promise<void> {
  if (await target.client.referrers(target.repo, subject)) return;
  const tag = subject.replace(':', '-');
  let index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] };
  try {
    const current = await target.client.getManifest(target.repo, tag);
    const parsed = parseManifest(current.bytes, current.mediaType);
    if (parsed.kind === 'index') index = parsed.index;
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  if (index.manifests.some((m) => m.digest === referrer.digest)) return;
  const p = parseManifest(referrer.bytes, referrer.mediaType);
  const entry: Descriptor = { mediaType: referrer.mediaType, digest: referrer.digest, size: referrer.bytes.length };
  if (p.kind === 'image') {
    const artifactType = p.manifest.artifactType ?? p.manifest.config.mediaType;
    if (typeof artifactType === 'string') entry.artifactType = artifactType;
    if (p.manifest.annotations) entry.annotations = p.manifest.annotations;
  }
  const next: ImageIndex = { ...index, manifests: [...index.manifests, entry] };
  await target.client.putManifest(target.repo, tag, serializeManifest(next), MediaType.OCI_INDEX);
}
