// Vercel / edge / Next.js helpers, in both the Node and the edge build: waitUntil when the
// platform offers it, else an awaited flush bounded by flushTimeoutMs.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { afterEach, describe, test } from 'node:test';
import * as NodeSdk from '../dist/esm/node.js';
import * as EdgeSdk from '../dist/esm/edge.js';
import { KEY, ingestServer, settle, sleep } from './helpers.mjs';

const VERCEL = Symbol.for('@vercel/request-context');

for (const [name, S] of [['node build', NodeSdk], ['edge build', EdgeSdk]]) {
  describe(name, () => {
    afterEach(async (t) => {
      delete globalThis[VERCEL];
      t.mock.timers.reset(); // close() waits on a timer
      await S.close(0);
    });
    const start = (url, extra = {}) => S.init({ ingestKey: KEY, endpoint: url, captureUnhandled: false, breadcrumbs: { console: false, http: false }, ...extra });

    test('flushBeforeFreeze hands the flush to ctx.waitUntil and returns at once', async (t) => {
      const srv = await ingestServer();
      t.after(() => srv.close());
      start(srv.url);
      S.captureException(new Error('x'));
      const handed = [];
      await S.flushBeforeFreeze({ waitUntil: (p) => handed.push(p) });
      assert.equal(handed.length, 1);
      await handed[0];
      assert.equal(srv.events().length, 1, 'the promise given to waitUntil ends after delivery');
    });

    test('with waitUntil nothing waits, even for a server that never answers', { timeout: 30_000 }, async (t) => {
      const srv = await ingestServer(() => 'hang');
      t.after(() => srv.close());
      // Awaiting the flush would take the hour (and the test's 30 s timeout would fail it).
      start(srv.url, { flushTimeoutMs: 3_600_000, timeoutMs: 3_600_000 });
      S.captureException(new Error('x'));
      const handed = [];
      await S.flushBeforeFreeze({ waitUntil: (p) => handed.push(p) });
      assert.equal(handed.length, 1);
    });

    test("Vercel's request context provides waitUntil when no ctx is passed", async (t) => {
      const srv = await ingestServer();
      t.after(() => srv.close());
      const handed = [];
      globalThis[VERCEL] = { get: () => ({ waitUntil: (p) => handed.push(p) }) };
      start(srv.url);
      S.captureMessage('from a function');
      await S.flushBeforeFreeze();
      assert.equal(handed.length, 1);
      await handed[0];
      assert.equal(srv.events().length, 1);
    });

    test('without waitUntil the flush is awaited, and bounded by flushTimeoutMs', async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
      // A server that never answers.
      start('http://stackline.test', { flushTimeoutMs: 200, transport: { send: () => new Promise(() => undefined) } });
      S.captureMessage('x');
      let resolved = false;
      S.flushBeforeFreeze().then(() => (resolved = true));
      t.mock.timers.tick(199);
      await settle();
      assert.equal(resolved, false, 'returned before the flush or its timeout');
      t.mock.timers.tick(1);
      await settle();
      assert.equal(resolved, true, 'still waiting at flushTimeoutMs');
    });

    test('nothing queued: no wait at all', async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout', 'Date'] }); // no timer will fire
      start('http://127.0.0.1:9');
      let resolved = false;
      S.flushBeforeFreeze().then(() => (resolved = true));
      await settle();
      assert.equal(resolved, true);
    });

    test('wrapHandler reports a failing handler with its request, delivers, then rethrows', async (t) => {
      const srv = await ingestServer();
      t.after(() => srv.close());
      start(srv.url);
      const err = new Error('handler broke');
      const handler = S.wrapHandler(async (request) => {
        assert.equal(request.method, 'POST');
        throw err;
      });
      await assert.rejects(handler(new Request('https://app.example/api/pay?token=abc', { method: 'POST' })), (e) => e === err);
      const [ev] = srv.events();
      assert.ok(ev, 'delivered before the wrapper settled');
      assert.deepEqual(ev.request, { method: 'POST', url: 'https://app.example/api/pay?token=[Filtered]' });
      assert.equal(ev.tags.mechanism, 'serverless');
    });

    test('wrapHandler passes results through and uses a ctx argument for waitUntil', async (t) => {
      const srv = await ingestServer();
      t.after(() => srv.close());
      start(srv.url);
      const handed = [];
      const handler = S.wrapHandler(async (request, env, ctx) => {
        S.captureMessage('handled inside');
        return 'response';
      });
      assert.equal(await handler(new Request('https://x.example/'), {}, { waitUntil: (p) => handed.push(p) }), 'response');
      assert.equal(handed.length, 1);
      await handed[0];
      assert.equal(srv.events()[0].message, 'handled inside');
    });

    test('captureRequestError (Next.js onRequestError) reports route and request, and resolves after delivery', async (t) => {
      const srv = await ingestServer();
      t.after(() => srv.close());
      start(srv.url);
      await S.captureRequestError(
        new Error('render failed'),
        { path: '/blog/1?preview_token=p', method: 'GET', headers: { cookie: 'NEXT_COOKIE' } },
        { routerKind: 'App Router', routePath: '/blog/[id]', routeType: 'render' },
      );
      const [ev] = srv.events();
      assert.deepEqual(ev.request, { method: 'GET', url: '/blog/1?preview_token=[Filtered]' });
      assert.deepEqual(ev.tags, { ...(S === NodeSdk ? { server_name: hostname() } : {}), route: '/blog/[id]', router_kind: 'App Router', route_type: 'render', mechanism: 'nextjs', handled: 'no' });
      assert.ok(!srv.requests[0].raw.includes('NEXT_COOKIE'));
    });
  });
}

test('the edge build reports platform "edge" and reads its config from process.env', async (t) => {
  const srv = await ingestServer();
  t.after(() => srv.close());
  const saved = { ...process.env };
  Object.assign(process.env, { STACKLINE_INGEST_KEY: KEY, STACKLINE_ENDPOINT: srv.url, VERCEL_ENV: 'preview', VERCEL_GIT_COMMIT_SHA: 'b'.repeat(40) });
  try {
    EdgeSdk.init({ captureUnhandled: false, breadcrumbs: { console: false, http: false } });
    EdgeSdk.captureMessage('edge');
    assert.equal(await EdgeSdk.flush(2000), true);
    const [ev] = srv.events();
    assert.equal(ev.platform, 'edge');
    assert.equal(ev.environment, 'preview');
    assert.equal(ev.commit_sha, 'b'.repeat(40));
    assert.equal(ev.deploy_root, undefined);
  } finally {
    process.env = saved;
    await EdgeSdk.close(0);
    await sleep(0);
  }
});
