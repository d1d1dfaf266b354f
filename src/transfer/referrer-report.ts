/**
 * What copy's and sync's reports say of each referrer left behind at a target (SkippedReferrer,
 * in their targets' `skippedReferrers`): types only, part of the library's published
 * declarations. The count beside it (`referrersSkipped`) is the length of that list.
 */

/**
 * Why a referrer found at the source was not copied to a target:
 * - `refused`: the target refused its manifest (`message`: the registry's answer);
 * - `subject-not-copied`: what it refers to was itself left behind there (a signature of a refused SBOM);
 * - `digest-changed`: it names a manifest --format or --platform (sync: `platforms`) wrote under a new digest;
 * - `depth-bound`, `total-bound`: past a bound of the walk (8 levels of referrers of referrers, 1000 per image);
 * - `not-at-source`: listed (referrers API, fallback index, tag list) and no longer in the source repository;
 * - `artifact-manifest`: stored as an OCI 1.1-rc artifact manifest, which regpush does not copy;
 * - `tag-held`: --no-clobber, and the target holds its tag (cosign's `.sig`, `.att`) for another manifest;
 * - `cut-off`: the caller's interruption cut its manifest PUT off there (`message`: it may have taken effect).
 */
export type SkippedReferrerReason = 'refused' | 'subject-not-copied' | 'digest-changed' | 'depth-bound' | 'total-bound' | 'not-at-source' | 'artifact-manifest' | 'tag-held' | 'cut-off';

/** One referrer left behind at a target. */
export interface SkippedReferrer {
  /** Its digest at the source; absent for one found by its tag (cosign's scheme) whose manifest was not read. */
  digest?: string;
  /** The tag it was found under (cosign's `.sig`, `.att`, `.sbom`); absent for one found by digest. */
  tag?: string;
  /** The source digest of the manifest it refers to. */
  subject: string;
  /** Its artifact type (or config media type), where the listing or its manifest said. */
  artifactType?: string;
  /** Its manifest's media type, where known. */
  mediaType?: string;
  reason: SkippedReferrerReason;
  /** `refused`: the registry's answer; `tag-held`: the digest the target's tag holds; `cut-off`: that its PUT may have taken effect. */
  message?: string;
}
