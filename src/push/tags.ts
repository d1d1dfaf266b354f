/** Tag syntax, checked before any request so a typo never half-writes an image. */
import { InvalidReferenceError } from '../errors.js';

const TAG = /^[\w][\w.-]{0,127}$/;

/** Returns `tag` when it is a valid tag, else throws E_REFERENCE naming it. */
export function checkTag(tag: string): string {
  if (!TAG.test(tag)) throw new InvalidReferenceError(`invalid tag "${tag}": tags are 1–128 characters of letters, digits, _ . - and must not start with . or -`);
  return tag;
}
