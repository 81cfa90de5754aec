/**
 * The Node client: the shared one plus the synchronous last-chance delivery at process exit.
 * Kept out of client.ts and queue.ts so that browser bundles do not carry it.
 */

import { Client } from './client.js';
import { body, type Item, type Queue } from './queue.js';

export class NodeClient extends Client {
  /** Last-chance synchronous delivery while a Node process exits. */
  flushSync(timeoutMs: number): void {
    try {
      flushQueueSync(this._queue, timeoutMs);
    } catch {
      // never into the host
    }
  }

  /** The process is exiting and nothing more will be sent: what is left is dropped (`shutdown`). */
  abandon(): void {
    this._queue.shutdown();
  }
}

/**
 * Deliver everything the queue still holds, synchronously (process exit). In-flight events
 * are included: their request cannot finish now, and the server stores an event id once.
 */
function flushQueueSync(q: Queue, timeoutMs: number): void {
  const t = q._o._transport;
  const all = q._inflight.concat(q._items);
  if (all.length === 0) return;
  q._items.length = 0;
  q._inflight = [];
  if (q._timer !== undefined) clearTimeout(q._timer);
  q._timer = undefined;
  const batches: Item[][] = [];
  while (all.length) {
    const batch = q._take(all);
    if (batch.length) batches.push(batch);
  }
  const blocked = Date.now() < q._blockedUntil;
  let statuses: number[] = [];
  if (t.sendSync && !q._stopped && !blocked) {
    try {
      statuses = t.sendSync(batches.map(body), timeoutMs);
    } catch {
      statuses = [];
    }
  }
  batches.forEach((b, i) => {
    const s = statuses[i] ?? 0;
    const n = b.length;
    if (s >= 200 && s < 300) q.stats.sent += n;
    else if (s === 429 || blocked) q.drop('rate_limited', n);
    else if (s >= 400 && s < 500) {
      // The server's word: refused (the key, when 401/403).
      q.stats.failed += n;
      if (s === 401 || s === 403) {
        q.stats.disabled = true;
        q._o._warn('auth', `the ingest key was refused (HTTP ${s}); the SDK is disabled`);
      }
    }
    // No answer in time, a 5xx with no time left to retry, no synchronous path: given up at exit.
    else q.drop('shutdown', n);
  });
  q._sync();
  q._notifyIdle();
}
