// Gzipped size of the browser bundles (the core, and the breadcrumbs add-on); fails over the
// loose 10 KB guard. The figures and where the bytes go: bench/sdk_js_bundle_size.mjs.
import { readFileSync } from 'node:fs';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LIMIT = 10 * 1024;
const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'browser');
let failed = false;
for (const name of ['stackline.min.mjs', 'stackline.min.js', 'stackline.breadcrumbs.min.mjs', 'stackline.breadcrumbs.min.js']) {
  const raw = readFileSync(join(dir, name));
  const gz = gzipSync(raw, { level: 9 }).length;
  const br = brotliCompressSync(raw).length;
  const ok = gz <= LIMIT;
  failed ||= !ok;
  console.log(`${ok ? 'ok  ' : 'FAIL'} dist/browser/${name}: ${raw.length} B minified, ${gz} B gzip, ${br} B brotli (limit ${LIMIT} B gzip)`);
}
process.exit(failed ? 1 : 0);
