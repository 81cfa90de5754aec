// The API client against real HTTP servers that misbehave the ways a gateway, a proxy or a
// dead host can: every one becomes a typed error the extension can act on.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';

import { ApiError, checkServerUrl, parseRetryAfter, StacklineApi } from '../src/core/api';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const servers: Server[] = [];
after(() => servers.forEach((s) => s.closeAllConnections?.() ?? undefined));
after(() => servers.forEach((s) => s.close()));

async function serve(handler: Handler): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function failure(call: Promise<unknown>): Promise<ApiError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ApiError, `not an ApiError: ${error}`);
    return error;
  }
  assert.fail('the call succeeded');
}

const INCIDENT = {
  id: '0b7c6d1e-0000-4000-8000-000000000001',
  project_id: 'p',
  repo: 'octo-org/shop',
  status: 'open',
  title: 'TypeError in src/users.js:2',
  exception_type: 'TypeError',
  message: "Cannot read properties of undefined (reading 'name')",
  culprit: { file: 'src/users.js', line: 2, column: 20, function: 'getUser' },
  commit_sha: '4f2a9c1e8b7d6a5f40312c1b0a9f8e7d6c5b4a39',
  environment: 'production',
  count: 3,
  first_seen: '2026-11-30T10:00:00Z',
  last_seen: '2026-12-01T10:00:00Z',
  github_url: 'https://github.com/octo-org/shop/blob/4f2a9c1/src/users.js#L2',
  environments: ['production'],
  regression: null,
};

test('a list with an ETag, then 304 for the same ETag, sends the token and the repository', async () => {
  const seen: { auth?: string; url?: string; ifNoneMatch?: string }[] = [];
  const url = await serve((req, res) => {
    seen.push({ auth: req.headers.authorization, url: req.url, ifNoneMatch: req.headers['if-none-match'] as string | undefined });
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { ETag: '"v1"' }).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', ETag: '"v1"' }).end(JSON.stringify({ incidents: [INCIDENT], next_cursor: null }));
  });
  const api = new StacklineApi({ baseUrl: url });
  const first = await api.listIncidents('tok', 'octo-org/shop');
  assert.equal(first.notModified, false);
  assert.ok(!first.notModified);
  assert.equal(first.etag, '"v1"');
  assert.equal(first.page.incidents[0]?.culprit?.line, 2);
  assert.equal(first.page.incidents[0]?.lastSeen.toISOString(), '2026-12-01T10:00:00.000Z');
  const second = await api.listIncidents('tok', 'octo-org/shop', { etag: first.etag });
  assert.deepEqual(second, { notModified: true });
  assert.equal(seen[0]?.auth, 'Bearer tok');
  assert.equal(seen[0]?.url, '/api/incidents?repo=octo-org%2Fshop&status=open&limit=100');
  assert.equal(seen[1]?.ifNoneMatch, '"v1"');
});

test('the API error JSON keeps its code, field and Retry-After', async () => {
  const url = await serve((req, res) => {
    const [status, body, headers] =
      req.url!.startsWith('/api/incidents?repo=none')
        ? [404, { error: { code: 'not_found', message: 'no project for that repository', field: 'repo' } }, {}]
        : req.url!.startsWith('/api/incidents?repo=limited')
          ? [429, { error: { code: 'rate_limited', message: 'slow down', field: null } }, { 'Retry-After': '17' }]
          : req.url!.startsWith('/api/incidents?repo=down')
            ? [503, { error: { code: 'unavailable', message: 'database unreachable', field: null } }, { 'Retry-After': '5' }]
            : [401, { error: { code: 'unauthenticated', message: 'token expired', field: null } }, {}];
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
  });
  const api = new StacklineApi({ baseUrl: url });
  const missing = await failure(api.listIncidents('t', 'none/x'));
  assert.equal(missing.kind, 'notFound');
  assert.equal(missing.detail.field, 'repo');
  const limited = await failure(api.listIncidents('t', 'limited/x'));
  assert.equal(limited.kind, 'rateLimited');
  assert.equal(limited.detail.retryAfterSeconds, 17);
  const down = await failure(api.listIncidents('t', 'down/x'));
  assert.equal(down.kind, 'unavailable');
  assert.equal(down.detail.retryAfterSeconds, 5);
  const expired = await failure(api.listIncidents('t', 'other/x'));
  assert.equal(expired.kind, 'unauthorized');
  assert.equal(expired.message, 'token expired');
});

test('HTML, a bare 500, and JSON of the wrong shape are told apart from the API speaking', async () => {
  const url = await serve((req, res) => {
    if (req.url!.includes('html')) res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>Sign in to the proxy</html>');
    else if (req.url!.includes('crash')) res.writeHead(500, { 'Content-Type': 'text/plain' }).end('Internal Server Error');
    else if (req.url!.includes('shape')) res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ incidents: [{ ...INCIDENT, count: 'many' }] }));
    else res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ items: [] }));
  });
  const api = new StacklineApi({ baseUrl: url });
  const html = await failure(api.listIncidents('t', 'html/x'));
  assert.equal(html.kind, 'badResponse');
  assert.match(html.message, /not JSON \(text\/html\)/);
  const crash = await failure(api.listIncidents('t', 'crash/x'));
  assert.equal(crash.kind, 'server');
  const shape = await failure(api.listIncidents('t', 'shape/x'));
  assert.equal(shape.kind, 'badResponse');
  assert.match(shape.message, /incidents\[0\]\.count is not a whole number/);
  const other = await failure(api.listIncidents('t', 'other/x'));
  assert.match(other.message, /incidents is not a list/);
});

test('a server that hangs, before or after its headers, is given up on', async () => {
  const url = await serve((req, res) => {
    if (req.url!.includes('body')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"incidents": [');
      return; // and never more
    }
    // Neither headers nor body: the 30 s hang of a stuck gateway.
  });
  const api = new StacklineApi({ baseUrl: url, timeoutMs: 300 });
  assert.equal((await failure(api.listIncidents('t', 'headers/x'))).kind, 'timeout');
  assert.equal((await failure(api.listIncidents('t', 'body/x'))).kind, 'timeout');
});

test('nothing listening is offline', async () => {
  const url = await serve(() => undefined);
  servers.pop()!.close();
  await new Promise((r) => setTimeout(r, 50));
  const error = await failure(new StacklineApi({ baseUrl: url }).listIncidents('t', 'o/r'));
  assert.equal(error.kind, 'offline');
});

test('plain http is for this machine only', () => {
  assert.equal(checkServerUrl('http://127.0.0.1:8080/'), 'http://127.0.0.1:8080');
  assert.equal(checkServerUrl('http://localhost:8080'), 'http://localhost:8080');
  assert.equal(checkServerUrl('http://[::1]:8080'), 'http://[::1]:8080');
  assert.equal(checkServerUrl('https://stackline.example.com/base/'), 'https://stackline.example.com/base');
  assert.throws(() => checkServerUrl('http://stackline.example.com'), /only for this machine/);
  assert.throws(() => checkServerUrl('http://10.0.0.5:8080'), /only for this machine/);
  assert.throws(() => checkServerUrl('ftp://example.com'), /not http or https/);
  assert.throws(() => checkServerUrl('https://user:pw@example.com'), /credentials/);
  assert.throws(() => checkServerUrl('not a url'), /not a URL/);
});

test('Retry-After as seconds or as a date', () => {
  assert.equal(parseRetryAfter('30'), 30);
  assert.equal(parseRetryAfter('Wed, 02 Dec 2026 10:00:30 GMT', new Date('2026-12-02T10:00:00Z')), 30);
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter('soon'), undefined);
});
