/**
 * What a transfer reports of each blob (BlobReport, in every result's `blobs`) and the progress
 * callbacks a caller may pass (BlobEvents): types only, part of the library's published
 * declarations; the rest of the transfer vocabulary (types.ts) is the engine's own.
 */

/** What happened to one blob at one target. */
export type BlobAction = 'skipped' | 'mounted' | 'streamed' | 'uploaded' | 'foreign' | 'planned-mount' | 'planned-stream' | 'planned-upload';

/** Per-blob line of a report. */
export interface BlobReport {
  digest: string;
  size: number;
  mediaType: string;
  action: BlobAction;
  /** Bytes that crossed the wire to the target for this blob. */
  bytes: number;
  /** Whole-transfer retries and source resumes. */
  retries: number;
  resumes: number;
  /** Mounted from this repository of the target registry (a blob an earlier image of the run landed there). */
  mountedFrom?: string;
  /** The registry mirror the bytes were read from (absent: the source registry itself). */
  mirror?: string;
}

/**
 * Progress events, for the terminal display and a library caller's own. Per blob and target: a
 * `start`, its `bytes` as they go, an `end`. A layer push builds has no digest until it is built:
 * its events go under its key (`layer` for the app layer, `layer:N` for the N-th of `layers`), the
 * same three at each target it goes to (see src/push/layer-events.ts). A dependency layer whose
 * digest is computed before any target is asked for it has one more `start` before those, with no
 * target and no size, and the bytes of that pass.
 *
 * `image`, the last argument of each, says which image the blob moves for where several move at
 * once: a sync()'s unit (its source reference, as `unitStart` names it) and a tag of copy() with
 * `allTags` (`registry/repository:TAG`). One blob may move for two images (a base layer they
 * share, each at its own targets), so the digest alone does not say. Absent for push() and a
 * copy() of one image.
 */
export interface BlobEvents {
  /**
   * A blob starts at a target, with what is done there (`skipped` and `foreign` are followed by
   * their `end` at once; a `mounted` one that falls back to sending its bytes says no second
   * start). `target` ("registry/repo") when one target is meant; absent for one read that feeds
   * several. `size` is undefined only for a layer push is building that no target has been sent
   * yet (its size is known once it is built: the `end` gives it).
   */
  start?: ((digest: string, action: BlobAction, size: number | undefined, target?: string, image?: string) => void) | undefined;
  /** `n` more bytes of the blob went out (for a layer push builds: were built and sent, or built for a dependency layer's digest pass). */
  bytes?: ((digest: string, n: number, image?: string) => void) | undefined;
  /**
   * `target`: the "registry/repo" this blob is done at. A layer push builds is reported with the
   * built layer's size and the layer media type of the manifest the push writes (OCI, or Docker v2
   * where the base is Docker v2 or `format: 'docker'`).
   */
  end?: ((report: BlobReport, target?: string, image?: string) => void) | undefined;
}
