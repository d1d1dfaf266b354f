/** The image model in one import: media types, document types, digests, manifests, platforms, config and manifest rewriting. */
export * from './mediatypes.js';
export * from './types.js';
export * from './digest.js';
export * from './manifest.js';
export * from './platform.js';
export * from './config.js';
export * from './build.js';
