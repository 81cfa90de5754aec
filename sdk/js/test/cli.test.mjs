// The `stackline sourcemaps upload` command, run as users run it (the built dist/cli.cjs in a
// child process) against a recording HTTP server on 127.0.0.1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const CLI = new URL('../dist/cli.cjs', import.meta.url).pathname;
const COMMIT = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

function run(args, env = {}) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

/** A Stackline stand-in that records what it was sent and answers as the API does. */
async function api(answer = () => [201, { id: 'm1' }]) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const request = { method: req.method, url: new URL(req.url, 'http://x'), headers: req.headers, body: Buffer.concat(chunks).toString() };
      requests.push(request);
      const [status, body] = answer(request);
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, requests, close: () => server.close() };
}

function build() {
  const dir = mkdtempSync(join(tmpdir(), 'stackline-cli-'));
  for (const [path, body] of [
    ['assets/app-3f2a.js.map', '{"version":3,"sources":["src/app.ts"],"mappings":"AAAA"}'],
    ['assets/chunks/124.js.map', '{"version":3,"sources":["src/chunk.ts"],"mappings":"AAAA"}'],
    ['assets/app-3f2a.js', 'console.log(1)'],
    ['node_modules/dep/index.js.map', '{}'],
  ]) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), body);
  }
  return dir;
}

test('uploads every map under the folder, named by its bundle, for the commit', async (t) => {
  const srv = await api();
  t.after(() => srv.close());
  const dir = build();
  const result = await run(
    ['sourcemaps', 'upload', dir, '--commit', COMMIT.toUpperCase(), '--project', 'p-1', '--url-prefix', '~/'],
    { STACKLINE_TOKEN: 'token-1', STACKLINE_ENDPOINT: `${srv.url}/` },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(
    srv.requests.map((r) => [r.method, r.url.pathname, r.url.searchParams.get('bundle'), r.url.searchParams.get('commit_sha')]),
    [
      ['POST', '/api/projects/p-1/sourcemaps', '~/assets/app-3f2a.js', COMMIT],
      ['POST', '/api/projects/p-1/sourcemaps', '~/assets/chunks/124.js', COMMIT],
    ],
  );
  assert.equal(srv.requests[0].headers.authorization, 'Bearer token-1');
  assert.equal(JSON.parse(srv.requests[1].body).sources[0], 'src/chunk.ts');
  assert.match(result.stdout, /2 source map\(s\) uploaded for commit a1b2c3d4/);
});

test('finds the project by repository and signs in with a GitHub token', async (t) => {
  const srv = await api((r) => {
    if (r.url.pathname === '/api/auth/token') return [200, { access_token: 'from-github' }];
    if (r.url.pathname === '/api/projects') return [200, { projects: [{ id: 'p-9', repo: 'Octo/Shop' }] }];
    return [201, { id: 'm' }];
  });
  t.after(() => srv.close());
  const result = await run(['sourcemaps', 'upload', build(), '--release', 'shop@2.0', '--repo', 'octo/shop', '--endpoint', srv.url], {
    STACKLINE_GITHUB_TOKEN: 'gho_abc',
  });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(srv.requests[0].body), { github_token: 'gho_abc' });
  const upload = srv.requests.at(-1);
  assert.equal(upload.url.pathname, '/api/projects/p-9/sourcemaps');
  assert.equal(upload.url.searchParams.get('release'), 'shop@2.0');
  assert.equal(upload.headers.authorization, 'Bearer from-github');
});

test('the commit comes from the CI when not given', async (t) => {
  const result = await run(['sourcemaps', 'upload', build(), '--dry-run'], { GITHUB_SHA: COMMIT });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /would upload .*app-3f2a\.js\.map as assets\/app-3f2a\.js/);
});

test('a refusal stops the upload and says why; mistakes in the command exit 2', async (t) => {
  const srv = await api(() => [400, { error: { code: 'invalid_argument', message: 'the map is not JSON', field: 'data' } }]);
  t.after(() => srv.close());
  const refused = await run(['sourcemaps', 'upload', build(), '--commit', COMMIT, '--project', 'p', '--endpoint', srv.url], {
    STACKLINE_TOKEN: 't',
  });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /answered 400: the map is not JSON/);
  assert.equal(srv.requests.length, 1);

  for (const [args, env, message] of [
    [['upload', 'x'], {}, /expected: stackline sourcemaps upload DIR/],
    [['sourcemaps', 'upload', build(), '--commit', 'main'], { STACKLINE_TOKEN: 't' }, /40 hex digits/],
    [['sourcemaps', 'upload', build(), '--commit', COMMIT, '--project', 'p'], { STACKLINE_TOKEN: 't' }, /STACKLINE_ENDPOINT/],
    [['sourcemaps', 'upload', mkdtempSync(join(tmpdir(), 'empty-')), '--commit', COMMIT], {}, /no \*\.map files/],
    [['sourcemaps', 'upload', build(), '--commit', COMMIT, '--project', 'p', '--endpoint', srv.url], {}, /STACKLINE_TOKEN/],
  ]) {
    const result = await run(args, env);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
});

test('--help prints the usage on stdout and exits 0', async () => {
  for (const args of [['--help'], ['-h'], ['sourcemaps', 'upload', '--help']]) {
    const { code, stdout, stderr } = await run(args);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^Usage: stackline sourcemaps upload DIR/);
  }
});
