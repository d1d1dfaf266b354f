// Injected by scripts/bundle.mjs into the CommonJS bundle: the value `import.meta.url` has in an ES module.
export const import_meta_url = require('node:url').pathToFileURL(__filename).href;
