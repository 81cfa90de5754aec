// The packed tarball: what it contains, and that a consumer resolves the right build per
// runtime (node ESM and CJS sharing one client, edge-light, browser) and type-checks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from './helpers.mjs';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let dir;
let tarball;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'stackline-pack-'));
  tarball = process.env.STACKLINE_TARBALL;
  if (!tarball) {
    // Built already: prepack would rebuild dist/ under the other test files reading it.
    const [info] = JSON.parse(execFileSync(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' }));
    tarball = join(dir, info.filename);
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync(npm, ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: dir, stdio: 'pipe' });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const node = (args, code) => execFileSync(process.execPath, [...args, '--input-type=module', '-e', code], { cwd: dir, encoding: 'utf8' }).trim();

describe('npm pack', () => {
  test('ships the builds, types and README, and nothing else', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, ''));
    for (const f of ['package.json', 'README.md', 'dist/esm/node.js', 'dist/cjs/node.js', 'dist/esm/edge.js', 'dist/cjs/edge.js', 'dist/esm/browser.js', 'dist/cjs/browser.js',
      'dist/browser/stackline.min.js', 'dist/browser/stackline.min.mjs', 'dist/browser/stackline.breadcrumbs.min.js', 'dist/browser/stackline.breadcrumbs.min.mjs',
      'dist/esm/breadcrumbs.js', 'dist/cjs/breadcrumbs.js', 'dist/esm/breadcrumbs.d.ts', 'dist/esm/index.node.d.ts', 'dist/cjs/index.node.d.ts', 'dist/esm/package.json', 'dist/cjs/package.json']) {
      assert.ok(files.includes(f), `${f} missing`);
    }
    for (const f of files) assert.ok(/^(package\.json|README\.md|dist\/)/.test(f), `${f} should not be packed`);
    const pkg = JSON.parse(readFileSync(join(dir, 'node_modules/@stackline/sdk/package.json'), 'utf8'));
    assert.equal(pkg.dependencies, undefined, 'zero runtime dependencies');
  });

  test('Node: import and require load the node build and share one client', () => {
    const out = node([], `
      import { createRequire } from 'node:module';
      const esm = await import('@stackline/sdk');
      const cjs = createRequire(import.meta.url)('@stackline/sdk');
      const client = esm.init({ enabled: false, captureUnhandled: false });
      console.log(typeof esm.expressErrorHandler, typeof cjs.expressErrorHandler, cjs.getClient() === client);
    `);
    assert.equal(out, 'function function true');
  });

  test('edge-light (Vercel Edge, Next.js middleware) resolves the fetch-only edge build', () => {
    const out = node(['--conditions=edge-light'], `
      const S = await import('@stackline/sdk');
      const c = S.init({ enabled: false });
      console.log(typeof S.wrapHandler, typeof S.expressErrorHandler);
    `);
    assert.equal(out, 'function undefined');
  });

  test('browser resolves the browser build, and the breadcrumbs integration by its subpath', () => {
    const out = node(['--conditions=browser'], `
      const S = await import('@stackline/sdk');
      const { breadcrumbs } = await import('@stackline/sdk/breadcrumbs');
      console.log(typeof S.init, typeof S.wrapHandler, typeof S.expressErrorHandler, breadcrumbs().name);
    `);
    assert.equal(out, 'function undefined undefined breadcrumbs');
  });

  test('the browser core does not import the breadcrumb integrations', async () => {
    const { build } = await import('esbuild');
    const { metafile } = await build({ entryPoints: [join(ROOT, 'src/index.browser.ts')], bundle: true, platform: 'browser', write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(metafile.inputs);
    assert.ok(inputs.includes('src/client.ts'), inputs.join(' '));
    assert.deepEqual(inputs.filter((f) => /integrations\/(console|fetch)\.ts$/.test(f)), []);
  });

  test('types: a Node consumer (nodenext, ESM and CJS) and a bundler consumer without @types/node type-check', () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    writeFileSync(join(dir, 'node.ts'), `
      import { init, captureException, captureMessage, expressErrorHandler, wrapRequestHandler, getStats, type StacklineEvent } from '@stackline/sdk';
      import http from 'node:http';
      init({ ingestKey: 'slk_x', endpoint: 'https://x', beforeSend: (e: StacklineEvent) => ({ ...e, tags: { a: 'b' } }) });
      const id: string | undefined = captureException(new Error('x'), { tags: { a: 'b' } });
      captureMessage('m', 'warning');
      http.createServer(wrapRequestHandler((req, res) => res.end()));
      const mw: (e: unknown, q: unknown, r: unknown, n: (e?: unknown) => void) => void = expressErrorHandler();
      const sent: number = getStats().sent;
      void id; void mw; void sent;
    `);
    writeFileSync(join(dir, 'cjs.cts'), `
      import S = require('@stackline/sdk');
      S.init({ enabled: false });
      S.expressErrorHandler();
    `);
    writeFileSync(join(dir, 'page.ts'), `
      import { init } from '@stackline/sdk';
      import { breadcrumbs } from '@stackline/sdk/breadcrumbs';
      init({ ingestKey: 'slk_x', endpoint: 'https://x', integrations: [breadcrumbs({ http: false })] });
    `);
    writeFileSync(join(dir, 'next.ts'), `
      import { init, captureRequestError, flushBeforeFreeze, wrapHandler } from '@stackline/sdk';
      export function register() { init(); }
      export const onRequestError = captureRequestError;
      export default wrapHandler(async (req: Request) => { await flushBeforeFreeze(); return new Response(req.url); });
    `);
    const base = { noEmit: true, strict: true, skipLibCheck: false, target: 'es2022' };
    const configs = {
      'tsconfig.node.json': { ...base, module: 'nodenext', moduleResolution: 'nodenext', types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')], files: ['node.ts', 'cjs.cts'] },
      // Next.js / bundler style, and no @types/node: the edge types must not need Node's.
      'tsconfig.bundler.json': { ...base, module: 'esnext', moduleResolution: 'bundler', types: [], lib: ['es2022', 'dom'], files: ['next.ts', 'page.ts'] },
    };
    for (const [name, { files, ...compilerOptions }] of Object.entries(configs)) {
      writeFileSync(join(dir, name), JSON.stringify({ compilerOptions, files }));
      try {
        execFileSync(process.execPath, [tsc, '-p', name], { cwd: dir, encoding: 'utf8' });
      } catch (e) {
        assert.fail(`${name}:\n${e.stdout}`);
      }
    }
  });
});

test('npm pack on a fresh clone (no dist/) builds first: the prepack script', () => {
  const clone = mkdtempSync(join(tmpdir(), 'stackline-clone-'));
  try {
    for (const f of ['package.json', 'README.md', 'tsconfig.json', 'src', 'scripts']) cpSync(join(ROOT, f), join(clone, f), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    // The build prints to stdout too: the JSON report is the output's last part.
    const out = execFileSync(npm, ['pack', '--json', '--pack-destination', clone], { cwd: clone, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const [info] = JSON.parse(out.slice(out.search(/^\[/m)));
    const files = info.files.map((f) => f.path);
    for (const f of ['dist/esm/node.js', 'dist/cjs/node.js', 'dist/browser/stackline.min.js', 'dist/cli.cjs', 'dist/esm/index.node.d.ts']) {
      assert.ok(files.includes(f), `${f} missing from a fresh clone's tarball`);
    }
  } finally {
    rmSync(clone, { recursive: true, force: true });
  }
});
