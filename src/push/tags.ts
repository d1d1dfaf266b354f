/**
 * The tag grammar lives in src/ref (one name model for the whole tool); this re-export only keeps
 * the existing imports in push.ts and copy.ts building until they import '../ref/reference.js'.
 */
export { checkTag } from '../ref/reference.js';
