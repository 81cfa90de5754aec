// Node integrations against real sockets: Express-style and plain http capture, console and
// http/fetch breadcrumbs (diagnostics_channel), and the SDK's own requests left out.
import assert from 'node:assert/strict';
import http from 'node:http';
import { afterEach, describe, test } from 'node:test';
import * as S from '../dist/esm/node.js';
import { KEY, closedPort, ingestServer, scriptedTransport } from './helpers.mjs';

afterEach(() => S.close(0));

/** A real server whose handler runs `fn(req, res)`; resolves with the response status. */
async function roundTrip(fn, { path = '/', headers = {} } = {}) {
  const server = http.createServer(fn);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await new Promise((resolve, reject) => {
      http.get({ port: server.address().port, host: '127.0.0.1', path, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      }).on('error', reject);
    });
  } finally {
    server.close();
  }
}

const noAuto = { captureUnhandled: false, breadcrumbs: { console: false, http: false } };

describe('server error capture', () => {
  test('expressErrorHandler reports with method and scrubbed URL, then calls next(err) with the same error', async () => {
    const t = scriptedTransport();
    S.init({ transport: t, ...noAuto });
    const mw = S.expressErrorHandler();
    assert.equal(mw.length, 4, 'Express recognises error middleware by its four parameters');
    const err = new Error('route failed');
    let passed;
    await roundTrip(
      (req, res) => {
        req.originalUrl = req.url; // what Express sets
        mw(err, req, res, (e) => {
          passed = e;
          res.statusCode = 500;
          res.end();
        });
      },
      { path: '/users/7?api_key=XYZ&page=2', headers: { cookie: 'sid=COOKIE', authorization: 'Bearer AUTHTOKEN123' } },
    );
    assert.equal(passed, err);
    await S.flush(1000);
    const [ev] = t.events();
    assert.deepEqual(ev.request, { method: 'GET', url: `http://${ev.request.url.split('/')[2]}/users/7?api_key=[Filtered]&page=2` });
    assert.equal(ev.tags.mechanism, 'express');
    for (const s of ['COOKIE', 'AUTHTOKEN123', 'XYZ']) assert.ok(!t.bodies[0].includes(s), `${s} leaked`);
  });

  test('wrapRequestHandler: an async handler that rejects is reported, and the rejection still reaches the caller', async () => {
    const t = scriptedTransport();
    S.init({ transport: t, ...noAuto });
    const err = new Error('async handler failed');
    const wrapped = S.wrapRequestHandler(async () => {
      throw err;
    });
    let rejected;
    await roundTrip((req, res) => {
      wrapped(req, res).catch((e) => {
        rejected = e;
        res.statusCode = 500;
        res.end();
      });
    }, { path: '/orders?password=hunter2' });
    assert.equal(rejected, err);
    await S.flush(1000);
    const [ev] = t.events();
    assert.equal(ev.exception.message, 'async handler failed');
    assert.match(ev.request.url, /\/orders\?password=\[Filtered\]$/);
  });

  test('wrapRequestHandler passes results and this through untouched', async () => {
    S.init({ transport: scriptedTransport(), ...noAuto });
    const self = {};
    const wrapped = S.wrapRequestHandler(function () {
      return this;
    });
    assert.equal(wrapped.call(self, {}, {}), self);
  });
});

describe('breadcrumbs', () => {
  test('console: recorded, the original still runs, the SDK’s own warnings are left out', async (t) => {
    const seen = [];
    t.mock.method(console, 'log', (...a) => seen.push(['log', ...a]));
    t.mock.method(console, 'warn', (...a) => seen.push(['warn', ...a]));
    const tr = scriptedTransport();
    S.init({
      transport: tr,
      captureUnhandled: false,
      breadcrumbs: { http: false },
      beforeSend: (e) => {
        if (e.message === 'hook fails') throw new Error('hook bug'); // makes the SDK warn
        return e;
      },
    });
    console.log('user did', { a: 1 }, 3);
    S.captureMessage('hook fails');
    console.warn('careful');
    S.captureMessage('final');
    await S.flush(1000);
    assert.deepEqual(seen[0], ['log', 'user did', { a: 1 }, 3]);
    assert.ok(seen.some(([k, m]) => k === 'warn' && /^\[stackline\] beforeSend threw/.test(m)));
    const [ev] = tr.events();
    assert.deepEqual(
      ev.breadcrumbs.map((c) => [c.category, c.level, c.message]),
      [['console', 'info', 'user did Object with keys: a 3'], ['console', 'warning', 'careful']],
    );
  });

  test('integrations: installed by init and removed by close; in Node the breadcrumbs one is built in, not doubled', async (t) => {
    const { breadcrumbs } = await import('../dist/esm/breadcrumbs.js');
    t.mock.method(console, 'info', () => undefined);
    const calls = [];
    const custom = { name: 'custom', setup: (client) => (calls.push(['setup', typeof client.addBreadcrumb]), () => calls.push(['undo'])) };
    const tr = scriptedTransport();
    S.init({ transport: tr, captureUnhandled: false, breadcrumbs: { http: false }, integrations: [breadcrumbs(), custom, { name: 'not one' }] });
    console.info('once');
    S.captureMessage('with crumbs');
    await S.flush(1000);
    assert.deepEqual(tr.events()[0].breadcrumbs.map((c) => c.message), ['once']);
    assert.deepEqual(calls, [['setup', 'function']]);
    await S.close(0);
    assert.deepEqual(calls, [['setup', 'function'], ['undo']]);
  });

  test('http and fetch: method, scrubbed URL, status; failures too; the SDK’s ingest requests are not recorded', async () => {
    const ingest = await ingestServer();
    const api = http.createServer((req, res) => {
      res.statusCode = req.url.startsWith('/missing') ? 404 : 200;
      res.end('ok');
    });
    await new Promise((r) => api.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${api.address().port}`;
    try {
      S.init({ ingestKey: KEY, endpoint: ingest.url, captureUnhandled: false, breadcrumbs: { console: false } });
      S.captureMessage('warm-up'); // an ingest request before the ones we watch
      await S.flush(2000);
      await new Promise((r) => http.get(`${base}/a?token=T0KEN`, (res) => res.resume().on('end', r)));
      await fetch(`${base}/missing?session=S3SS`).then((r) => r.text());
      await fetch(`http://127.0.0.1:${await closedPort()}/down`).catch(() => undefined);
      S.captureMessage('with crumbs');
      await S.flush(2000);
      const ev = ingest.events().find((e) => e.message === 'with crumbs');
      const http_ = ev.breadcrumbs.filter((b) => b.category === 'http');
      assert.deepEqual(http_.slice(0, 2).map((b) => [b.level, b.message]), [
        ['info', `GET ${base}/a?token=[Filtered] [200]`],
        ['warning', `GET ${base}/missing?session=[Filtered] [404]`],
      ]);
      assert.ok(!JSON.stringify(ev.breadcrumbs).includes('/api/ingest'));
      assert.ok(!ingest.requests.some((r) => /T0KEN|S3SS/.test(r.raw)));
    } finally {
      api.close();
      await ingest.close();
    }
  });
});
