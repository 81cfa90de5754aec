// Fault injection with real sockets on 127.0.0.1, for both built-in transports (node:http
// in the Node build, fetch in the edge build), and then for a whole host process: it must
// finish normally, by itself, with counters that say what happened.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import * as NodeSdk from '../dist/esm/node.js';
import * as EdgeSdk from '../dist/esm/edge.js';
import { KEY, closedPort, ingestServer, quiet, rawServer, runHost, waitFor } from './helpers.mjs';

const OK_RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{"id":"x"}';

for (const [name, S] of [['node transport', NodeSdk], ['fetch transport', EdgeSdk]]) {
  describe(name, () => {
    after(() => S.close(0));
    const start = (endpoint, extra) => S.init(quiet({ ingestKey: KEY, endpoint, timeoutMs: 300, ...extra }));

    test('delivers with the bearer key and JSON', async (t) => {
      const srv = await ingestServer();
      t.after(() => srv.close());
      start(srv.url);
      S.captureException(new Error('hello'));
      assert.equal(await S.flush(2000), true);
      const [r] = srv.requests;
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/api/ingest');
      assert.equal(r.headers.authorization, `Bearer ${KEY}`);
      assert.match(r.headers['content-type'], /^application\/json/);
      assert.equal(r.events[0].exception.message, 'hello');
      assert.equal(S.getStats().sent, 1);
    });

    test('connection refused: kept in the queue, retried with backoff, delivered once the server is up', async (t) => {
      const port = await closedPort();
      // The SDK's debug log says when an attempt failed and a retry is set.
      const warn = t.mock.method(console, 'warn', () => undefined);
      const retries = () => warn.mock.calls.filter((c) => /network error; retrying 3 event/.test(String(c.arguments[0]))).length;
      start(`http://127.0.0.1:${port}`, { backoff: { initialMs: 100, maxMs: 400 }, debug: true });
      for (let i = 0; i < 3; i++) S.captureException(new Error(`e${i}`));
      assert.ok(await waitFor(() => retries() >= 2), 'the refused send was not retried');
      assert.deepEqual([S.getStats().queued, S.getStats().sent, S.getStats().failed], [3, 0, 0]);
      const srv = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => res.end('{}'));
      });
      await new Promise((r) => srv.listen(port, '127.0.0.1', r));
      t.after(() => {
        srv.closeAllConnections();
        srv.close();
      });
      assert.ok(await waitFor(() => S.getStats().sent === 3), JSON.stringify(S.getStats()));
    });

    test('a server that never answers: the request times out and is retried; nothing blocks', async (t) => {
      const srv = await ingestServer(() => 'hang');
      t.after(() => srv.close());
      start(srv.url, { backoff: { initialMs: 50, maxMs: 100 } });
      S.captureException(new Error('into the void'));
      // The capture call only queued: the request leaves later, from the event loop.
      await Promise.resolve();
      assert.equal(srv.requests.length, 0);
      assert.ok(await waitFor(() => srv.requests.length >= 2), 'no retry after the timeout');
      assert.equal(S.getStats().queued, 1);
      assert.equal(await S.flush(100), false);
    });

    test('429 with Retry-After: dropped, then silence until it passes', async (t) => {
      t.mock.method(console, 'warn', () => undefined);
      // Date stands still unless told: the window is measured on it (timers and sockets stay real).
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const srv = await ingestServer((_, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
      t.after(() => srv.close());
      start(srv.url);
      S.captureException(new Error('first'));
      assert.equal(await S.flush(2000), true);
      assert.equal(S.captureException(new Error('inside the window')), undefined);
      t.mock.timers.tick(999);
      assert.equal(S.captureException(new Error('at the end of the window')), undefined);
      assert.equal(await S.flush(2000), true, 'nothing is queued while limited');
      assert.equal(srv.requests.length, 1);
      assert.equal(S.getStats().droppedBy.rate_limited, 3);
      t.mock.timers.tick(1);
      assert.notEqual(S.captureException(new Error('after the window')), undefined);
      assert.equal(await S.flush(2000), true);
      assert.equal(srv.requests.length, 2);
      assert.equal(S.getStats().sent, 1);
    });

    test('500s: 3 retries, then failed', async (t) => {
      t.mock.method(console, 'warn', () => undefined);
      const srv = await ingestServer(() => ({ status: 500 }));
      t.after(() => srv.close());
      start(srv.url);
      S.captureException(new Error('server is broken'));
      assert.ok(await waitFor(() => S.getStats().failed === 1));
      assert.equal(srv.requests.length, 4);
      assert.equal(S.getStats().queued, 0);
    });

    test('a 200 with a garbage body still counts as delivered', async (t) => {
      const srv = await ingestServer(() => ({ status: 200, body: '\u0000<<not json>>\u00ff' }));
      t.after(() => srv.close());
      start(srv.url);
      S.captureException(new Error('x'));
      assert.equal(await S.flush(2000), true);
      assert.equal(S.getStats().sent, 1);
    });

    test('garbage instead of HTTP: a network error, retried', async (t) => {
      const srv = await rawServer((s, n) => (n === 1 ? s.end('SSH-2.0-OpenSSH_9.2\r\n\r\n\u0000\u0001garbage') : s.end(OK_RESPONSE)));
      t.after(() => srv.close());
      start(srv.url);
      S.captureException(new Error('x'));
      assert.ok(await waitFor(() => S.getStats().sent === 1), JSON.stringify(S.getStats()));
      assert.equal(srv.connections(), 2);
    });

    test('connection closed mid-response: a network error, retried', async (t) => {
      const srv = await rawServer((s, n) => {
        if (n === 1) {
          s.write('HTTP/1.1 200 OK\r\nContent-Le');
          setTimeout(() => s.destroy(), 10);
        } else s.end(OK_RESPONSE);
      });
      t.after(() => srv.close());
      start(srv.url);
      S.captureException(new Error('x'));
      assert.ok(await waitFor(() => S.getStats().sent === 1), JSON.stringify(S.getStats()));
      assert.equal(srv.connections(), 2);
    });
  });
}

describe('a host process finishes normally, by itself', { concurrency: 2 }, () => {
  // shutdownTimeoutMs 500 is the most the SDK may keep a finished host alive, whatever the
  // server does: a host that is still up when runHost's hang guard (30 s) runs out is killed,
  // and fails. How long the tail is on a given machine is not a test's business.
  // Events still undelivered when the process exits are dropped, as `shutdown`.
  const gaveUp = { sent: 0, failed: 0, dropped: 3, queued: 0, droppedBy: { shutdown: 3 } };
  const cases = [
    ['healthy server', () => ingestServer(), { sent: 3, queued: 0 }],
    ['connection refused', async () => ({ url: `http://127.0.0.1:${await closedPort()}`, close() {} }), gaveUp],
    ['server never answers', () => ingestServer(() => 'hang'), gaveUp],
    ['429 + Retry-After', () => ingestServer(() => ({ status: 429, headers: { 'retry-after': '30' } })), { sent: 0, dropped: 3, droppedBy: { rate_limited: 3 } }],
    // The first retry would come after the 500 ms the host may take to exit: given up.
    ['500s', () => ingestServer(() => ({ status: 500 })), gaveUp],
    ['garbage body', () => ingestServer(() => ({ status: 200, body: 'garbage' })), { sent: 3 }],
    ['not HTTP at all', () => rawServer((s) => s.end('garbage\r\n\r\n')), gaveUp],
    ['closed mid-response', () => rawServer((s) => { s.write('HTTP/1.1 200 OK\r\nContent-Le'); s.destroy(); }), gaveUp],
  ];
  const NO_DROPS = { queue_full: 0, rate_limited: 0, disabled: 0, before_send: 0, too_large: 0, shutdown: 0, sample_rate: 0, ignored: 0 };
  for (const [name, makeServer, expected] of cases) {
    test(name, async () => {
      const srv = await makeServer();
      try {
        const r = await runHost('host.mjs', { env: { SL_SCENARIO: 'capture', SL_COUNT: '3', SL_KEY: KEY, SL_ENDPOINT: srv.url, SL_SHUTDOWN_MS: '500', SL_TIMEOUT_MS: '300' } });
        assert.equal(r.signal, null, 'the host did not end by itself');
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /WORK DONE/);
        assert.equal(r.stats.captured, 3);
        const { droppedBy = {}, ...counts } = expected;
        for (const [k, v] of Object.entries(counts)) assert.equal(r.stats[k], v, `${k} in ${JSON.stringify(r.stats)}`);
        assert.deepEqual(r.stats.droppedBy, { ...NO_DROPS, ...droppedBy });
        assert.equal(r.stats.sent + r.stats.failed + r.stats.dropped + r.stats.queued, 3);
      } finally {
        await srv.close();
      }
    });
  }
});
