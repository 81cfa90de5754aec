// Build: esbuild bundles (node ESM+CJS, edge ESM+CJS, browser ESM+CJS, the breadcrumbs
// integration ESM+CJS, and minified ESM/IIFE for <script> use: the core, and the breadcrumbs
// add-on that a page loads after it), then tsc declarations copied into the ESM and CJS trees,
// each tree marked with its own package.json "type" so TypeScript reads it right.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const src = readFileSync(join(root, 'src/client.ts'), 'utf8');
if (!src.includes(`SDK_VERSION = '${version}'`)) {
  throw new Error(`src/client.ts SDK_VERSION does not match package.json version ${version}`);
}

rmSync(dist, { recursive: true, force: true });

const common = { bundle: true, logLevel: 'warning', legalComments: 'none', charset: 'utf8' };
const targets = [
  { entry: 'src/index.node.ts', name: 'node', platform: 'node', target: 'node18' },
  { entry: 'src/index.edge.ts', name: 'edge', platform: 'neutral', target: 'es2020' },
  { entry: 'src/index.browser.ts', name: 'browser', platform: 'browser', target: 'es2020' },
  { entry: 'src/breadcrumbs.ts', name: 'breadcrumbs', platform: 'neutral', target: 'es2020' },
];
await Promise.all(
  targets.flatMap((t) => [
    build({ ...common, entryPoints: [join(root, t.entry)], platform: t.platform, target: t.target, format: 'esm', outfile: join(dist, 'esm', `${t.name}.js`) }),
    build({ ...common, entryPoints: [join(root, t.entry)], platform: t.platform, target: t.target, format: 'cjs', outfile: join(dist, 'cjs', `${t.name}.js`) }),
  ]),
);
// The `stackline` command (source map uploads): Node only, one CommonJS file with a shebang.
await build({
  ...common,
  stdin: { contents: "import { main } from './cli.ts'; main(process.argv.slice(2)).then((code) => { process.exitCode = code; });", resolveDir: join(root, 'src'), loader: 'ts' },
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  outfile: join(dist, 'cli.cjs'),
  banner: { js: '#!/usr/bin/env node' },
});
const browser = { ...common, entryPoints: [join(root, 'src/index.browser.ts')], platform: 'browser', target: 'es2020', minify: true, mangleProps: /^_/ };
// The add-on sets Stackline.breadcrumbs on the global the core's <script> made.
const addOn = { ...common, stdin: { contents: "import { breadcrumbs } from './breadcrumbs.ts'; (globalThis.Stackline ??= {}).breadcrumbs = breadcrumbs;", resolveDir: join(root, 'src'), loader: 'ts' } };
await Promise.all([
  build({ ...browser, format: 'esm', outfile: join(dist, 'browser', 'stackline.min.mjs') }),
  build({ ...browser, format: 'iife', globalName: 'Stackline', outfile: join(dist, 'browser', 'stackline.min.js') }),
  build({ ...browser, entryPoints: [join(root, 'src/breadcrumbs.ts')], format: 'esm', outfile: join(dist, 'browser', 'stackline.breadcrumbs.min.mjs') }),
  build({ ...browser, ...addOn, entryPoints: undefined, format: 'iife', outfile: join(dist, 'browser', 'stackline.breadcrumbs.min.js') }),
]);

execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
for (const [dir, type] of [['esm', 'module'], ['cjs', 'commonjs']]) {
  cpSync(join(dist, 'types'), join(dist, dir), { recursive: true });
  writeFileSync(join(dist, dir, 'package.json'), JSON.stringify({ type }) + '\n');
}
rmSync(join(dist, 'types'), { recursive: true, force: true });
mkdirSync(join(dist, 'browser'), { recursive: true });
console.log('built dist/ (esm, cjs, browser)');
