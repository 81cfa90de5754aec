// A host raising 10,000 errors a second for 10 seconds keeps bounded memory: the queue never
// passes 100, live heap stays flat, and every event is accounted for.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { KEY, runHost } from './helpers.mjs';

const MB = 1024 * 1024;

test('10,000 errors/s for 10 s: bounded queue, flat heap, counters add up', { timeout: 120_000 }, async () => {
  // A slow but healthy server (20 ms per request): about half the flood fits through, the
  // rest must be dropped at the bound. Bodies are counted, not parsed, to keep this process light.
  let received = 0;
  const server = http.createServer((req, res) => {
    let tail = '';
    req.on('data', (chunk) => {
      const s = tail + chunk.toString('latin1');
      for (let i = s.indexOf('"event_id"'); i >= 0; i = s.indexOf('"event_id"', i + 1)) received++;
      tail = s.slice(-9);
    });
    req.on('end', () => setTimeout(() => res.end('{"id":"x"}'), 20));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const r = await runHost('flood.mjs', {
      nodeArgs: ['--expose-gc'],
      env: { SL_KEY: KEY, SL_ENDPOINT: `http://127.0.0.1:${server.address().port}` },
      timeoutMs: 90_000, // a hang guard: the flood itself takes 10 s and a little
    });
    assert.equal(r.code, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    const res = JSON.parse(line.slice(7));
    const s = res.stats;
    assert.equal(res.done, 100_000);
    assert.equal(s.captured, 100_000);
    assert.ok(res.maxQueued <= 100, `queue reached ${res.maxQueued}`);
    assert.equal(s.sent + s.failed + s.dropped + s.queued, s.captured, JSON.stringify(s));
    assert.ok(s.sent > 10_000, `only ${s.sent} sent`);
    assert.ok(s.droppedBy.queue_full > 0, 'the bound was never reached: the test did not flood');
    assert.equal(received, s.sent, 'the server counted a different number of events than the SDK says it sent');
    const warm = res.samples.filter((x) => x.tick >= 100).map((x) => x.heap); // after the first second
    const peak = Math.max(...warm);
    assert.ok(peak - res.baseline < 24 * MB, `live heap grew ${((peak - res.baseline) / MB).toFixed(1)} MB over baseline`);
    assert.ok(peak - Math.min(...warm) < 12 * MB, `live heap drifted ${((peak - Math.min(...warm)) / MB).toFixed(1)} MB during the flood`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
