// Per-request scopes in a real Express app: concurrent, interleaved requests each keep their own
// tags and breadcrumbs (set by the app, by console and by outgoing fetch), the process-wide ones
// reach every event, and nothing recorded for one request shows up on another's error.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { afterEach, describe, test } from 'node:test';
import express from 'express';
import * as S from '../dist/esm/node.js';
import { KEY, ingestServer, quiet, scriptedTransport } from './helpers.mjs';

afterEach(() => S.close(0));

/** Starts `app` on 127.0.0.1:0; resolves with its base URL and a close function. */
async function listen(app) {
  const server = http.createServer(app);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

/** Resolves once `n` callers have arrived: every request is inside its handler before any goes on. */
function barrier(n) {
  let arrived = 0;
  let open;
  const opened = new Promise((r) => (open = r));
  return () => {
    if (++arrived === n) open();
    return opened;
  };
}

describe('per-request scope (Express)', () => {
  test('interleaved requests: each error carries its own tags and breadcrumbs, and the global tag', async () => {
    const ingest = await ingestServer();
    const users = Array.from({ length: 12 }, (_, i) => `user${i}`);
    const together = barrier(users.length);
    S.init({ ingestKey: KEY, endpoint: ingest.url, ...quiet({ breadcrumbs: { console: true, http: false } }) });
    S.setGlobalTag('region', 'iad1');
    // Recorded outside any request: stays on the process scope, off every request's error.
    S.addBreadcrumb({ message: 'server starting' });
    S.setTag('outside', 'yes');

    const app = express();
    app.get('/users/:id', async (req, res) => {
      S.setTag('user_id', req.params.id);
      S.addBreadcrumb({ message: `loaded ${req.params.id}`, category: 'db' });
      await together(); // every request has set its data before any fails
      console.info(`charging ${req.params.id}`);
      await new Promise((r) => setImmediate(r));
      if (req.params.id !== 'nobody') throw new Error(`charge failed for ${req.params.id}`);
      res.end('ok');
    });
    app.use(S.expressErrorHandler());
    app.use((err, _req, res, _next) => res.status(500).end(String(err.message)));
    const { base, close } = await listen(app);
    try {
      const statuses = await Promise.all(users.map((u) => fetch(`${base}/users/${u}?email=${u}@example.com`).then((r) => r.status)));
      assert.deepEqual(new Set(statuses), new Set([500]));
      assert.ok(await S.flush(5000));
      const events = ingest.events();
      assert.equal(events.length, users.length);
      for (const ev of events) {
        const who = /charge failed for (\w+)/.exec(ev.exception.message)[1];
        assert.equal(ev.tags.user_id, who, 'the tag of the request that failed');
        assert.equal(ev.tags.region, 'iad1', 'a global tag is on every event');
        assert.equal(ev.tags.outside, 'yes', 'process tags are on every event');
        assert.equal(ev.tags.mechanism, 'express');
        assert.deepEqual(
          ev.breadcrumbs.map((b) => [b.category, b.message]),
          [['db', `loaded ${who}`], ['console', `charging ${who}`]],
          'only its own breadcrumbs',
        );
        assert.ok(ev.request.url.endsWith(`/users/${who}?email=[Filtered]`), ev.request.url);
      }
      assert.ok(!ingest.requests.some((r) => r.raw.includes('example.com')), 'an e-mail address from a query string was sent');
      // The process scope kept its own breadcrumb and no request's.
      S.captureMessage('after the requests');
      assert.ok(await S.flush(5000));
      const after = ingest.events().find((e) => e.message === 'after the requests');
      assert.deepEqual(after.breadcrumbs.map((b) => b.message), ['server starting']);
      assert.equal(after.tags.user_id, undefined);
    } finally {
      await close();
      await ingest.close();
    }
  });

  test('a request that sets nothing does not get the previous request’s data', async () => {
    const t = scriptedTransport();
    S.init({ transport: t, ...quiet() });
    const app = express();
    app.get('/login/:who', (req, res) => {
      S.setTag('user_id', req.params.who);
      S.addBreadcrumb({ message: `signed in ${req.params.who}` });
      res.end('ok');
    });
    app.get('/fail', () => {
      throw new Error('anonymous failure');
    });
    app.use(S.expressErrorHandler());
    app.use((_err, _req, res, _next) => res.status(500).end());
    const { base, close } = await listen(app);
    try {
      assert.equal((await fetch(`${base}/login/alice`)).status, 200);
      assert.equal((await fetch(`${base}/fail`)).status, 500);
      assert.ok(await S.flush(2000));
      const [ev] = t.events();
      assert.equal(ev.exception.message, 'anonymous failure');
      assert.equal(ev.tags?.user_id, undefined, "alice's tag leaked");
      assert.equal(ev.breadcrumbs, undefined, "alice's breadcrumb leaked");
    } finally {
      await close();
    }
  });

  test('outgoing fetch breadcrumbs belong to the request that made the call', async () => {
    const t = scriptedTransport();
    S.init({ transport: t, ...quiet({ breadcrumbs: { console: false, http: true } }) });
    const backend = await listen((req, res) => res.end('{}'));
    const app = express();
    const together = barrier(2);
    app.get('/orders/:n', async (req, res) => {
      await fetch(`${backend.base}/stock/${req.params.n}`).then((r) => r.text());
      await together();
      throw new Error(`order ${req.params.n} failed`);
    });
    app.use(S.expressErrorHandler());
    app.use((_err, _req, res, _next) => res.status(500).end());
    const { base, close } = await listen(app);
    try {
      await Promise.all(['1', '2'].map((n) => fetch(`${base}/orders/${n}`)));
      assert.ok(await S.flush(2000));
      const events = t.events();
      assert.equal(events.length, 2);
      for (const ev of events) {
        const n = /order (\d) failed/.exec(ev.exception.message)[1];
        assert.deepEqual(ev.breadcrumbs.map((b) => b.message), [`GET ${backend.base}/stock/${n} [200]`]);
      }
    } finally {
      await close();
      await backend.close();
    }
  });

  test('withScope isolates a job outside any request; close() removes the server hook', async () => {
    const t = scriptedTransport();
    S.init({ transport: t, ...quiet() });
    await Promise.all(
      ['a', 'b'].map((job) =>
        S.withScope(async () => {
          S.setTag('job', job);
          await new Promise((r) => setImmediate(r));
          S.captureMessage(`job ${job}`);
        }),
      ),
    );
    assert.ok(await S.flush(2000));
    for (const ev of t.events()) assert.equal(`job ${ev.tags.job}`, ev.message);
    assert.notEqual(http.Server.prototype.emit, EventEmitter.prototype.emit, 'requests are scoped while the SDK runs');
    await S.close(0);
    assert.equal(http.Server.prototype.emit, EventEmitter.prototype.emit, 'close() put the original back');
  });
});
