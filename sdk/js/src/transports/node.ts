/** The Node transport: node:http(s) with unref'd sockets (a dead ingest server never holds a host open) and a synchronous last-chance sender for process exit. */

import http from 'node:http';
import https from 'node:https';
import { Worker } from 'node:worker_threads';
import type { Transport, TransportResponse } from '../types.js';
import type { TransportConfig } from '../setup.js';

/** Marks the SDK's own requests so the http breadcrumb integration skips them. */
export const OWN_REQUEST = Symbol.for('stackline.ownRequest');

/**
 * Runs in a worker thread while the main thread waits on Atomics: at process exit no
 * asynchronous work of the main thread runs any more, but a worker's does. Plain CommonJS
 * source so it needs no file of its own next to the bundle.
 */
const EXIT_SENDER = `
const { workerData: d } = require('node:worker_threads');
const mod = require(d.url.startsWith('https:') ? 'node:https' : 'node:http');
const state = new Int32Array(d.shared);
let left = d.bodies.length;
function finish(i, status) {
  Atomics.store(state, i + 1, status);
  if (--left === 0) { Atomics.store(state, 0, 1); Atomics.notify(state, 0); }
}
d.bodies.forEach((body, i) => {
  let done = false;
  const once = (s) => { if (!done) { done = true; finish(i, s); } };
  try {
    const req = mod.request(d.url, { method: 'POST', headers: {
      authorization: 'Bearer ' + d.key, 'content-type': 'application/json',
      'content-length': Buffer.byteLength(body) } }, (res) => { res.resume(); once(res.statusCode || 0); });
    req.setTimeout(d.timeoutMs, () => req.destroy());
    req.on('error', () => once(0));
    req.end(body);
  } catch (e) { once(0); }
});
`;

export function nodeTransport(cfg: TransportConfig): Transport {
  const url = new URL(cfg.url);
  const mod = url.protocol === 'https:' ? https : http;
  // Keep-alive, but let idle sockets go before a typical server's 5 s keep-alive ends,
  // so a reused socket is rarely one the server already closed.
  const agent = new mod.Agent({ keepAlive: true, maxSockets: 1, timeout: 4000 });
  const headers = { authorization: `Bearer ${cfg.ingestKey}`, 'content-type': 'application/json' };

  return {
    send({ body }) {
      return new Promise<TransportResponse>((resolve, reject) => {
        const req = mod.request(url, {
          method: 'POST',
          agent,
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        });
        (req as unknown as Record<symbol, boolean>)[OWN_REQUEST] = true;
        req.on('socket', (s) => s.unref());
        req.setTimeout(cfg.timeoutMs, () => req.destroy(new Error(`no answer within ${cfg.timeoutMs} ms`)));
        req.on('response', (res) => {
          res.on('error', () => undefined);
          res.resume();
          const ra = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(ra) ? ra[0] : ra });
        });
        req.on('error', reject);
        req.end(body);
      });
    },

    sendSync(bodies, timeoutMs) {
      const shared = new SharedArrayBuffer(4 * (bodies.length + 1));
      const state = new Int32Array(shared);
      const started = Date.now();
      const worker = new Worker(EXIT_SENDER, {
        eval: true,
        execArgv: [],
        stdout: true,
        stderr: true,
        workerData: { url: cfg.url, key: cfg.ingestKey, bodies, timeoutMs, shared },
      });
      worker.unref();
      worker.on('error', () => undefined);
      Atomics.wait(state, 0, 0, Math.max(0, timeoutMs - (Date.now() - started)));
      return Array.from(state.subarray(1));
    },
  };
}
