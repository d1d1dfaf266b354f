/**
 * The test every reader of a JSON document makes before it reads fields: a credential file, a
 * manifest, an image config, regpush.json. A leaf, pure: it imports nothing.
 */

/** True for a plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
