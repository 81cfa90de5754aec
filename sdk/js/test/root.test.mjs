// The repository root (deploy_root) comes from the program, not from where it was started: the
// same script run from its project, from another folder by absolute path, and from / (as cron
// does) reports one root and one path for the failing file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { HANG_GUARD_MS, KEY, ROOT, ingestServer } from './helpers.mjs';

function run(script, cwd, env) {
  return new Promise((resolve) => {
    execFile(process.execPath, [script], { cwd, env: { PATH: process.env.PATH, ...env }, timeout: HANG_GUARD_MS }, (error, stdout, stderr) =>
      resolve({ code: error?.code ?? 0, stderr }),
    );
  });
}

test('run from three directories: one deploy root, the project with package.json', async () => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'stackline-root-')));
  const project = join(base, 'srv', 'shop');
  mkdirSync(join(project, 'tools'), { recursive: true });
  writeFileSync(join(project, 'package.json'), '{"name": "shop", "type": "module"}\n');
  const sdk = pathToFileURL(join(ROOT, 'dist', 'esm', 'node.js')).href;
  const script = join(project, 'tools', 'migrate.mjs');
  writeFileSync(
    script,
    `import * as S from '${sdk}';\nS.init({ ingestKey: process.env.SL_KEY, endpoint: process.env.SL_ENDPOINT });\n` +
      `S.captureException(new Error('migration failed'));\nawait S.flush(5000);\n`,
  );
  const ingest = await ingestServer();
  try {
    for (const cwd of [project, join(project, 'tools'), base, '/']) {
      const { code, stderr } = await run(script, cwd, { SL_KEY: KEY, SL_ENDPOINT: ingest.url });
      assert.equal(code, 0, stderr);
    }
    const events = ingest.events();
    assert.equal(events.length, 4);
    for (const ev of events) {
      assert.equal(ev.deploy_root, project);
      assert.ok(ev.exception.stack.includes(`${project}/tools/migrate.mjs:3:`), ev.exception.stack);
    }
  } finally {
    await ingest.close();
    rmSync(base, { recursive: true, force: true });
  }
});

test('an explicit deployRoot wins; without a project the working directory is the root', async () => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'stackline-root-')));
  const sdk = pathToFileURL(join(ROOT, 'dist', 'esm', 'node.js')).href;
  const script = join(base, 'loose.mjs');
  writeFileSync(
    script,
    `import * as S from '${sdk}';\nS.init({ ingestKey: process.env.SL_KEY, endpoint: process.env.SL_ENDPOINT, deployRoot: process.env.SL_ROOT || undefined });\n` +
      `S.captureMessage('m');\nawait S.flush(5000);\n`,
  );
  const ingest = await ingestServer();
  try {
    await run(script, '/', { SL_KEY: KEY, SL_ENDPOINT: ingest.url });
    await run(script, '/', { SL_KEY: KEY, SL_ENDPOINT: ingest.url, SL_ROOT: '/var/task' });
    assert.deepEqual(ingest.events().map((e) => e.deploy_root), ['/', '/var/task']);
  } finally {
    await ingest.close();
    rmSync(base, { recursive: true, force: true });
  }
});
