import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
const entry = process.argv[2] ?? 'src/index.browser.ts';
const r = await build({ metafile: true, entryPoints: [entry], bundle: true, platform: 'browser', target: process.argv[3] ?? 'es2020', minify: true, mangleProps: /^_/, format: 'esm', write: false, legalComments: 'none', charset: 'utf8' });
const t = r.outputFiles[0].contents;
console.log(t.length, gzipSync(t, { level: 9 }).length);
const { analyzeMetafile } = await import('esbuild');
if (process.env.A) console.log(await analyzeMetafile(r.metafile));
