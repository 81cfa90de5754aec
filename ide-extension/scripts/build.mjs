// Build: the extension as one CommonJS bundle for the extension host (vscode is provided by
// the host), and the tests compiled with tsc for `node --test` and the extension host.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
rmSync(join(root, 'out'), { recursive: true, force: true });

// Type-checks everything, and emits the tests (and the modules they import) into out/.
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });

await build({
  entryPoints: [join(root, 'src/extension.ts')],
  bundle: true,
  platform: 'node',
  // VS Code 1.85 (the oldest supported, and Cursor's base) runs extensions on Node 18.
  target: 'node18',
  format: 'cjs',
  external: ['vscode'],
  outfile: join(root, 'dist/extension.js'),
  sourcemap: 'linked',
  minify: true,
  keepNames: true,
  logLevel: 'warning',
  legalComments: 'none',
});
console.log('built dist/extension.js and out/');
