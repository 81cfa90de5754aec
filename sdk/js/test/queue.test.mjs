// The queue's policy through the transport seam: batching and the body budget, the bound
// of 100, 400/413 isolation, 401/403, 429, 5xx retries, network backoff, flush, close, and
// a model-based check that the counters always add up.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import fc from 'fast-check';
import * as S from '../dist/esm/node.js';
import { quiet, scriptedTransport, settle, sleep, waitFor } from './helpers.mjs';

// A test's mocked clock goes first: close() waits on a timer.
afterEach((t) => {
  t.mock.timers.reset();
  return S.close(0);
});

function settled(s) {
  return s.sent + s.failed + s.dropped + s.queued === s.captured;
}

describe('batching', () => {
  test('a burst leaves as one request; at most 100 events are held, the rest counted as dropped', async () => {
    const t = scriptedTransport();
    S.init(quiet({ transport: t }));
    for (let i = 0; i < 250; i++) S.captureMessage(`m${i}`);
    assert.equal(S.getStats().queued, 100);
    assert.equal(S.getStats().droppedBy.queue_full, 150);
    assert.equal(t.bodies.length, 0, 'capturing must not send on the calling thread');
    assert.equal(await S.flush(1000), true);
    assert.equal(t.bodies.length, 1);
    assert.deepEqual(t.events().map((e) => e.message), Array.from({ length: 100 }, (_, i) => `m${i}`));
    assert.deepEqual({ ...S.getStats(), droppedBy: undefined }, { captured: 250, sent: 100, failed: 0, dropped: 150, queued: 0, droppedBy: undefined, disabled: false });
  });

  test('bodies stay under 1 MiB: big events are split across requests', async () => {
    const t = scriptedTransport();
    S.init(quiet({ transport: t }));
    for (let i = 0; i < 100; i++) S.addBreadcrumb({ message: 'é'.repeat(1000) }); // ~200 KB of UTF-8 per event
    for (let i = 0; i < 12; i++) S.captureMessage(`big ${i}`);
    assert.equal(await S.flush(1000), true);
    assert.ok(t.bodies.length >= 3, `expected a split, got ${t.bodies.length} request(s)`);
    for (const b of t.bodies) assert.ok(Buffer.byteLength(b) <= 1024 * 1024, `body of ${Buffer.byteLength(b)} bytes`);
    assert.equal(t.events().length, 12);
  });
});

describe('server answers', () => {
  test('400 on a batch: events are retried one by one, only the bad one fails', async () => {
    const t = scriptedTransport((body) => ({ status: body.events.some((e) => e.message === 'bad') ? 400 : 200 }));
    S.init(quiet({ transport: t }));
    for (const m of ['a', 'bad', 'c']) S.captureMessage(m);
    assert.equal(await S.flush(1000), true);
    const s = S.getStats();
    assert.equal(s.sent, 2);
    assert.equal(s.failed, 1);
    assert.equal(t.bodies.length, 4); // the batch, then a, bad, c alone
  });

  test('413 on a single event: dropped and counted as failed', async (t) => {
    t.mock.method(console, 'warn', () => undefined);
    const tr = scriptedTransport(() => ({ status: 413 }));
    S.init(quiet({ transport: tr }));
    S.captureMessage('too big for this server');
    assert.equal(await S.flush(1000), true);
    assert.equal(S.getStats().failed, 1);
    assert.equal(tr.bodies.length, 1);
  });

  for (const status of [401, 403]) {
    test(`${status}: one warning, disabled, later captures dropped`, async (t) => {
      const warn = t.mock.method(console, 'warn', () => undefined);
      const tr = scriptedTransport(() => ({ status }));
      S.init(quiet({ transport: tr }));
      S.captureMessage('first');
      assert.equal(await S.flush(1000), true);
      for (let i = 0; i < 10; i++) assert.equal(S.captureMessage('later'), undefined);
      assert.equal(await S.flush(1000), true, 'nothing was queued after the refusal');
      assert.equal(tr.bodies.length, 1);
      assert.equal(warn.mock.callCount(), 1);
      assert.match(String(warn.mock.calls[0].arguments[0]), /refused.*disabled/);
      const s = S.getStats();
      assert.equal(s.disabled, true);
      assert.equal(s.failed, 1);
      assert.equal(s.droppedBy.disabled, 10);
      assert.ok(settled(s));
    });
  }

  test('429: the batch is dropped and nothing is sent until Retry-After has passed', async (t) => {
    t.mock.method(console, 'warn', () => undefined);
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() }); // the window runs on Date
    const tr = scriptedTransport((_, n) => (n === 1 ? { status: 429, retryAfter: '1' } : { status: 200 }));
    S.init(quiet({ transport: tr }));
    S.captureMessage('limited');
    assert.equal(await S.flush(1000), true);
    for (let i = 0; i < 5; i++) S.captureMessage('during the window');
    t.mock.timers.tick(999);
    S.captureMessage('at the end of the window');
    assert.equal(await S.flush(1000), true, 'nothing is queued while limited');
    assert.equal(tr.bodies.length, 1);
    assert.equal(S.getStats().droppedBy.rate_limited, 7);
    t.mock.timers.tick(1);
    S.captureMessage('after the window');
    assert.equal(S.getStats().queued, 1);
    assert.equal(await S.flush(1000), true);
    assert.equal(tr.bodies.length, 2);
    assert.ok(settled(S.getStats()));
  });

  test('5xx: retried 3 times, then given up on as failed', async (t) => {
    t.mock.method(console, 'warn', () => undefined);
    const tr = scriptedTransport(() => ({ status: 500 }));
    S.init(quiet({ transport: tr }));
    S.captureMessage('doomed');
    assert.ok(await waitFor(() => S.getStats().failed === 1));
    assert.equal(tr.bodies.length, 4);
    assert.equal(S.getStats().queued, 0);
  });

  test('503 with Retry-After: the retry waits that long', async (t) => {
    // The queue's timers on a clock the test moves: a retry due in 1000 ms fires at tick 1000.
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const tr = scriptedTransport((_, n) => (n === 1 ? { status: 503, retryAfter: '1' } : { status: 200 }));
    S.init(quiet({ transport: tr, backoff: { initialMs: 10, maxMs: 5000 } }));
    S.captureMessage('later please');
    t.mock.timers.tick(0);
    await settle();
    assert.equal(tr.bodies.length, 1);
    t.mock.timers.tick(999); // the backoff alone (5-10 ms) would have retried long before
    await settle();
    assert.equal(tr.bodies.length, 1);
    t.mock.timers.tick(1);
    await settle();
    assert.equal(tr.bodies.length, 2);
    assert.equal(S.getStats().sent, 1);
  });

  test('network errors: events stay queued (bounded) and are retried with growing delays', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    t.mock.method(Math, 'random', () => 0.5); // the jitter: each delay 3/4 of its nominal
    let up = false;
    const tr = scriptedTransport(() => (up ? { status: 200 } : 'network'));
    S.init(quiet({ transport: tr, backoff: { initialMs: 40, maxMs: 1000 } }));
    for (let i = 0; i < 120; i++) S.captureMessage(`m${i}`);
    t.mock.timers.tick(0);
    await settle();
    assert.equal(tr.bodies.length, 1);
    // 40 ms doubling, at most 1000, times 3/4: retries 30, 60, 120, ..., 750, 750 ms apart.
    for (const [attempt, delay] of [30, 60, 120, 240, 480, 750, 750].entries()) {
      t.mock.timers.tick(delay - 1);
      await settle();
      assert.equal(tr.bodies.length, attempt + 1, `retry ${attempt + 1} came early`);
      t.mock.timers.tick(1);
      await settle();
      assert.equal(tr.bodies.length, attempt + 2, `retry ${attempt + 1} not ${delay} ms after the last`);
    }
    const s = S.getStats();
    assert.equal(s.queued, 100);
    assert.equal(s.droppedBy.queue_full, 20);
    assert.equal(s.sent + s.failed, 0);
    up = true;
    const flushed = S.flush(2000); // cuts the backoff short: tries on the next tick
    t.mock.timers.tick(0);
    assert.equal(await flushed, true, 'flush should retry at once');
    assert.equal(S.getStats().sent, 100);
  });

  test('a transport that throws synchronously or answers nonsense is a network error, not a crash', async () => {
    let n = 0;
    S.init(quiet({
      transport: {
        send() {
          n++;
          if (n === 1) throw new Error('sync throw');
          if (n === 2) return Promise.resolve(undefined);
          return Promise.resolve({ status: 200 });
        },
      },
    }));
    S.captureMessage('x');
    assert.ok(await waitFor(() => S.getStats().sent === 1));
  });
});

describe('flush and close', () => {
  test('flush resolves false at its timeout when the server hangs, and the capture call never waited', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    let sends = 0;
    S.init(quiet({ transport: { send: () => (sends++, new Promise(() => undefined)) } }));
    S.captureMessage('x');
    assert.equal(sends, 0, 'captureMessage sent on the calling thread');
    let outcome;
    S.flush(150).then((ok) => (outcome = ok));
    t.mock.timers.tick(0);
    await settle();
    assert.equal(sends, 1);
    t.mock.timers.tick(149);
    await settle();
    assert.equal(outcome, undefined, 'flush gave up before its timeout');
    t.mock.timers.tick(1);
    await settle();
    assert.equal(outcome, false);
  });

  test('close removes handlers and stops capturing', async () => {
    const before = process.listenerCount('uncaughtExceptionMonitor');
    const log = console.log;
    S.init({ transport: scriptedTransport(), backoff: { initialMs: 20 } });
    assert.equal(process.listenerCount('uncaughtExceptionMonitor'), before + 1);
    assert.notEqual(console.log, log);
    await S.close(100);
    assert.equal(process.listenerCount('uncaughtExceptionMonitor'), before);
    assert.equal(console.log, log);
    assert.equal(S.captureMessage('x'), undefined);
  });

  test('init twice: the first client is shut down, handlers are not doubled', () => {
    const before = process.listenerCount('exit');
    S.init({ transport: scriptedTransport() });
    S.init({ transport: scriptedTransport() });
    assert.equal(process.listenerCount('exit'), before + 1);
  });
});

test('model: under any sequence of server answers the counters add up and the bound holds', async () => {
  const answer = fc.constantFrom(
    { status: 200 }, { status: 202 }, { status: 400 }, { status: 401 }, { status: 413 },
    { status: 429, retryAfter: '0' }, { status: 500 }, { status: 503, retryAfter: '0' }, 'network',
  );
  await fc.assert(
    fc.asyncProperty(fc.array(answer, { minLength: 1, maxLength: 30 }), fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 5 }), async (answers, bursts) => {
      const delivered = new Map();
      const tr = scriptedTransport((body, n) => {
        const a = answers[(n - 1) % answers.length];
        if (a !== 'network' && a.status < 300) for (const e of body.events) delivered.set(e.event_id, (delivered.get(e.event_id) ?? 0) + 1);
        return a;
      });
      const warn = console.warn;
      console.warn = () => undefined;
      try {
        S.init(quiet({ transport: tr, backoff: { initialMs: 1, maxMs: 4 } }));
        for (const k of bursts) {
          for (let i = 0; i < k; i++) S.captureMessage(`e${i}`);
          assert.ok(S.getStats().queued <= 100);
          await sleep(2);
        }
        await S.flush(300);
        const s = S.getStats();
        assert.ok(settled(s), JSON.stringify(s));
        assert.ok(s.queued <= 100);
        assert.equal(s.sent, [...delivered.values()].reduce((a, b) => a + b, 0));
        for (const count of delivered.values()) assert.equal(count, 1, 'an accepted event was sent again');
      } finally {
        await S.close(0);
        console.warn = warn;
      }
    }),
    { numRuns: 60 },
  );
});

describe('at process exit', () => {
  // The last synchronous send (sendSync) gets one try: what it does not deliver was given up
  // by the SDK (shutdown), unless the server said no (failed) or to wait (rate_limited).
  for (const [status, expected] of [
    [200, { sent: 1 }],
    [0, { dropped: 1, shutdown: 1 }], // no answer in time
    [503, { dropped: 1, shutdown: 1 }], // no time left to retry
    [429, { dropped: 1, rate_limited: 1 }],
    [400, { failed: 1 }],
    [403, { failed: 1, disabled: true }],
  ]) {
    test(`a ${status || 'missing'} answer counts as ${JSON.stringify(expected)}`, (t) => {
      t.mock.method(console, 'warn', () => undefined);
      const client = S.init(quiet({ transport: { send: () => new Promise(() => undefined), sendSync: (bodies) => bodies.map(() => status) } }));
      S.captureMessage('last words');
      client.flushSync(100);
      const s = S.getStats();
      const { shutdown = 0, rate_limited = 0, disabled = false, ...counts } = expected;
      assert.deepEqual(
        { sent: s.sent, failed: s.failed, dropped: s.dropped, queued: s.queued, shutdown: s.droppedBy.shutdown, rate_limited: s.droppedBy.rate_limited, disabled: s.disabled },
        { sent: 0, failed: 0, dropped: 0, queued: 0, ...counts, shutdown, rate_limited, disabled },
      );
    });
  }

  test('a transport without a synchronous path loses what is queued, and counts it as shutdown', () => {
    const client = S.init(quiet({ transport: { send: () => new Promise(() => undefined) } }));
    S.captureMessage('last words');
    client.flushSync(100);
    assert.deepEqual([S.getStats().dropped, S.getStats().droppedBy.shutdown], [1, 1]);
  });
});
