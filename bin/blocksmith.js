#!/usr/bin/env node
// The installed entry point: runs the compiled CLI (`npm run build` writes dist/).
import('../dist/cli/bin.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('blocksmith: dist/ is missing; run `npm run build` first (or `npx tsx src/cli/main.ts`)');
    process.exit(70);
  }
  throw err;
});
