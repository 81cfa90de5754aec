// Real child processes: an uncaught exception or unhandled rejection is reported, and the
// process then behaves exactly as it would without the SDK (same exit code, same stderr),
// only up to shutdownTimeoutMs later.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import { KEY, ingestServer, runHost } from './helpers.mjs';

// Two processes per test on two cores: keep the machine from thrashing, or exit flushes time out.
const CONCURRENCY = 3;

/** Warnings carry the pid: (node:1234). */
const normal = (stderr) => stderr.replace(/\(node:\d+\)/g, '(node:PID)');

async function compare(scenario, { nodeArgs = [], server, env = {} } = {}) {
  const srv = server ?? (await ingestServer());
  try {
    const base = { SL_SCENARIO: scenario, SL_KEY: KEY, SL_ENDPOINT: srv.url, SL_SHUTDOWN_MS: '2000', ...env };
    const [withSdk, without] = await Promise.all([
      runHost('host.mjs', { env: base, nodeArgs }),
      runHost('host.mjs', { env: { ...base, SL_SDK: 'off' }, nodeArgs }),
    ]);
    return { withSdk, without, events: srv.events(), srv };
  } finally {
    await srv.close();
  }
}

describe('process-level capture leaves Node behaviour unchanged', { concurrency: CONCURRENCY }, () => {
  for (const [scenario, type, message, mechanism] of [
    ['uncaught', 'TypeError', 'host failure uncaught', 'uncaughtException'],
    ['rejection', 'RangeError', 'rejected for real', 'unhandledRejection'],
    ['rejection-nonerror', 'UnhandledPromiseRejection', /the reason "42"/, 'unhandledRejection'],
  ]) {
    test(`${scenario}: exit code 1, identical stderr, one event`, async () => {
      const { withSdk, without, events } = await compare(scenario);
      assert.equal(without.code, 1);
      assert.equal(withSdk.code, 1);
      assert.equal(normal(withSdk.stderr), normal(without.stderr));
      assert.equal(events.length, 1);
      const [ev] = events;
      assert.equal(ev.exception.type, type);
      assert.match(ev.exception.message, message instanceof RegExp ? message : new RegExp(message));
      assert.deepEqual(ev.tags, { server_name: hostname(), mechanism, handled: 'no' });
      assert.equal(withSdk.stats.sent, 1);
      if (scenario !== 'rejection-nonerror') assert.match(ev.exception.stack, /host\.mjs:\d+:\d+/);
    });
  }

  test('the CommonJS build does the same', async () => {
    const { withSdk, without, events } = await compare('uncaught', { env: { SL_BUILD: 'cjs' } });
    assert.equal(withSdk.code, 1);
    assert.equal(normal(withSdk.stderr), normal(without.stderr));
    assert.equal(events.length, 1);
  });

  test('--unhandled-rejections=warn: the process carries on, the rejection is still reported', async () => {
    const { withSdk, without, events } = await compare('rejection', { nodeArgs: ['--unhandled-rejections=warn'] });
    assert.equal(without.code, 0);
    assert.equal(withSdk.code, 0);
    assert.equal(normal(withSdk.stderr), normal(without.stderr));
    assert.equal(events.length, 1);
    assert.equal(events[0].tags.mechanism, 'unhandledRejection');
  });

  test('--unhandled-rejections=strict: dies as before, reported once', async () => {
    const { withSdk, without, events } = await compare('rejection', { nodeArgs: ['--unhandled-rejections=strict'] });
    assert.equal(withSdk.code, without.code);
    assert.equal(normal(withSdk.stderr), normal(without.stderr));
    assert.equal(events.length, 1);
  });

  test("the app's own uncaughtException listener keeps the process alive, as before", async () => {
    const { withSdk, without, events } = await compare('own-uncaught-handler');
    assert.equal(without.code, 0);
    assert.equal(withSdk.code, 0);
    assert.match(withSdk.stdout, /APP HANDLED host failure handled by app\nSTILL RUNNING/);
    assert.equal(events.length, 1);
  });

  test("the app's own unhandledRejection listener keeps the process alive, and the rejection is reported", async () => {
    const { withSdk, without, events } = await compare('own-rejection-handler');
    assert.equal(without.code, 0);
    assert.equal(withSdk.code, 0);
    assert.match(withSdk.stdout, /APP HANDLED rejection the app handles\nSTILL RUNNING/);
    assert.equal(events.length, 1);
    assert.equal(events[0].tags.mechanism, 'unhandledRejection');
  });

  test('process.exit(3): exit code kept, queued events delivered synchronously on the way out', async () => {
    const { withSdk, events } = await compare('exit3');
    assert.equal(withSdk.code, 3);
    assert.equal(events.length, 1);
    assert.equal(events[0].exception.message, 'host failure before exit');
    assert.equal(withSdk.stats.sent, 1);
  });

  test('uncaught while the server never answers: still exits 1, bounded by shutdownTimeoutMs', async () => {
    // The server never answers, so only shutdownTimeoutMs lets the process go; had it not, the
    // host would still be up when runHost's hang guard kills it (signal SIGKILL, no exit code).
    const { withSdk, without } = await compare('uncaught', { server: await ingestServer(() => 'hang'), env: { SL_SHUTDOWN_MS: '500' } });
    assert.equal(withSdk.signal, null);
    assert.equal(withSdk.code, 1);
    assert.equal(normal(withSdk.stderr), normal(without.stderr));
    // Undelivered at exit: given up, not refused by the server.
    assert.deepEqual([withSdk.stats.failed, withSdk.stats.dropped, withSdk.stats.droppedBy.shutdown], [0, 1, 1]);
  });

  test('a full queue does not cost the crash report: the fatal event takes the place of a queued one', async () => {
    const srv = await ingestServer(() => 'hang'); // bodies are recorded, never answered
    const { withSdk, without, events } = await compare('full-then-uncaught', { server: srv, env: { SL_SHUTDOWN_MS: '1000' } });
    assert.equal(withSdk.code, 1);
    assert.equal(normal(withSdk.stderr), normal(without.stderr));
    assert.ok(events.some((e) => e.exception.message === 'host failure after the flood'), 'the crash was not sent');
    assert.equal(withSdk.stats.captured, 151);
  });

  test('plain http handler: wrapped or not, the server dies the same way; the event has the scrubbed request and no headers', async () => {
    const srv = await ingestServer();
    const env = { SL_SCENARIO: 'http-throw', SL_KEY: KEY, SL_ENDPOINT: srv.url, SL_SHUTDOWN_MS: '2000' };
    const [wrapped, bare] = await Promise.all([runHost('host.mjs', { env }), runHost('host.mjs', { env: { ...env, SL_SDK: 'off' } })]);
    await srv.close();
    assert.equal(wrapped.code, 1);
    assert.equal(bare.code, 1);
    // The app's line and the error, not an SDK line, head the crash report.
    assert.deepEqual(wrapped.stderr.split('\n').slice(0, 5), bare.stderr.split('\n').slice(0, 5));
    const [ev] = srv.events();
    assert.equal(srv.events().length, 1);
    assert.equal(ev.request.method, 'GET');
    assert.match(ev.request.url, /^http:\/\/localhost:\d+\/boom\?token=\[Filtered\]$/);
    assert.equal(ev.tags.mechanism, 'http');
    const raw = srv.requests[0].raw;
    for (const secret of ['COOKIE_VALUE', 'AUTH_VALUE', 's3cret']) assert.ok(!raw.includes(secret), `${secret} leaked`);
  });
});
