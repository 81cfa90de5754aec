// The browser bundles of @stackline/sdk, as a page downloads them: minified, then gzip
// (level 9) and brotli. The core (capture, window handlers, transport, queue, scrubbing)
// and the optional breadcrumbs add-on (console and fetch), each as ESM and as a <script>,
// and where the core's minified bytes go, by source file (esbuild's metafile).
//
//   make -C sdk/js build && node bench/sdk_js_bundle_size.mjs
//
// It prints; it asserts nothing (sdk/js/scripts/size.mjs keeps the loose 10 KB guard).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';

const sdk = join(dirname(fileURLToPath(import.meta.url)), '..', 'sdk', 'js');
const dist = join(sdk, 'dist', 'browser');

const sizes = (bytes) => ({ min: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, brotli: brotliCompressSync(bytes).length });
const row = (name, s) => console.log(`${name.padEnd(52)} ${String(s.min).padStart(7)} B ${String(s.gzip).padStart(6)} B gzip ${String(s.brotli).padStart(6)} B brotli`);

const files = {
  'core, ESM (stackline.min.mjs)': 'stackline.min.mjs',
  'core, <script> (stackline.min.js)': 'stackline.min.js',
  'breadcrumbs, ESM (stackline.breadcrumbs.min.mjs)': 'stackline.breadcrumbs.min.mjs',
  'breadcrumbs, <script> (stackline.breadcrumbs.min.js)': 'stackline.breadcrumbs.min.js',
};
const read = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, readFileSync(join(dist, f))]));
for (const [name, bytes] of Object.entries(read)) row(name, sizes(bytes));
const both = Buffer.concat([read['core, <script> (stackline.min.js)'], read['breadcrumbs, <script> (stackline.breadcrumbs.min.js)']]);
const core = sizes(read['core, <script> (stackline.min.js)']);
const addOn = sizes(read['breadcrumbs, <script> (stackline.breadcrumbs.min.js)']);
row('<script> core + add-on, two downloads', { min: core.min + addOn.min, gzip: core.gzip + addOn.gzip, brotli: core.brotli + addOn.brotli });
row('<script> core + add-on, one file (reference)', sizes(both));

// Where the core's bytes go: esbuild, from the SDK's own devDependencies.
const { build } = createRequire(join(sdk, 'package.json'))('esbuild');
const result = await build({
  entryPoints: [join(sdk, 'src', 'index.browser.ts')],
  bundle: true,
  platform: 'browser',
  target: 'es2020',
  minify: true,
  mangleProps: /^_/,
  format: 'esm',
  legalComments: 'none',
  charset: 'utf8',
  write: false,
  metafile: true,
});
console.log('\ncore, ESM: minified bytes by source file');
const [output] = Object.values(result.metafile.outputs);
for (const [file, { bytesInOutput }] of Object.entries(output.inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)) {
  console.log(`  ${file.replace(/^.*?src\//, 'src/').padEnd(32)} ${String(bytesInOutput).padStart(6)} B`);
}
