import { build } from 'esbuild';
import { bundle } from './bundle.mjs';
// reuse plugin by building via bundle() options? quick trial: replicate
