// The event on the wire: exactly the ingest API's fields, the stack verbatim, causes, messages,
// limits, beforeSend, and the one-warning disable on a missing or malformed key.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import * as S from '../dist/esm/node.js';
import { EVENT_FIELDS, KEY, quiet, scriptedTransport } from './helpers.mjs';

const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const RFC3339_MS_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function capture(fn, options = {}) {
  const t = scriptedTransport();
  S.init(quiet({ transport: t, ...options }));
  fn();
  assert.equal(await S.flush(2000), true);
  return t.events();
}

afterEach(() => S.close(0));

describe('exception events', () => {
  test('carry only the allowed fields, with the raw stack and the deploy facts', async () => {
    const err = new TypeError("Cannot read properties of undefined (reading 'id')");
    const [ev] = await capture(() => S.captureException(err), { release: 'web@1.2.3', commitSha: 'A'.repeat(40), environment: 'staging' });
    for (const k of Object.keys(ev)) assert.ok(EVENT_FIELDS.has(k), `unexpected field ${k}`);
    assert.match(ev.event_id, UUID4);
    assert.match(ev.timestamp, RFC3339_MS_UTC);
    assert.equal(ev.platform, 'node');
    assert.deepEqual(ev.exception, { type: 'TypeError', message: err.message, stack: err.stack });
    assert.equal(ev.commit_sha, 'a'.repeat(40));
    assert.equal(ev.environment, 'staging');
    assert.equal(ev.release, 'web@1.2.3');
    assert.equal(ev.deploy_root, process.cwd());
    assert.deepEqual(ev.runtime, { name: 'node', version: process.versions.node });
    assert.deepEqual(ev.sdk, { name: 'stackline-js', version: S.SDK_VERSION });
    assert.equal(ev.level, undefined);
    assert.equal(ev.message, undefined);
  });

  test('cause chains are followed a few levels deep, then cut', async () => {
    let err = new Error('level 0');
    const root = err;
    for (let i = 1; i < 8; i++) {
      const next = new Error(`level ${i}`);
      err.cause = next;
      err = next;
    }
    const [ev] = await capture(() => S.captureException(root));
    const chain = [];
    for (let x = ev.exception; x; x = x.cause) chain.push(x.message);
    assert.deepEqual(chain, ['level 0', 'level 1', 'level 2', 'level 3']);
    assert.equal(ev.exception.cause.stack, root.cause.stack);
  });

  test('a cyclic cause does not loop', async () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    const [ev] = await capture(() => S.captureException(a));
    assert.equal(ev.exception.cause.cause.message, 'a');
  });

  test('non-Error values become a described exception with a header-only stack', async () => {
    const events = await capture(() => {
      S.captureException('plain string');
      S.captureException(42);
      S.captureException({ code: 'E1', detail: 'x' });
      S.captureException({ message: 'object with a message' });
      S.captureException(null);
    });
    assert.deepEqual(
      events.map((e) => [e.exception.type, e.exception.message, e.exception.stack]),
      [
        ['Error', 'plain string', 'Error: plain string'],
        ['Error', '42', 'Error: 42'],
        ['Object', 'Object with keys: code, detail', 'Object: Object with keys: code, detail'],
        ['Object', 'object with a message', 'Object: object with a message'],
        ['Error', 'null', 'Error: null'],
      ],
    );
  });

  test('the same error object is reported once', async () => {
    const err = new Error('twice');
    const events = await capture(() => {
      assert.ok(S.captureException(err));
      assert.equal(S.captureException(err), undefined);
    });
    assert.equal(events.length, 1);
  });

  test('huge messages and stacks are truncated, not refused', async () => {
    const err = new Error('m'.repeat(100_000));
    err.stack = 's'.repeat(1_000_000);
    const [ev] = await capture(() => S.captureException(err));
    assert.ok(ev.exception.message.length <= 8192);
    assert.ok(ev.exception.stack.length <= 32768);
    assert.ok(ev.exception.stack.startsWith('sss'));
  });
});

describe('message events', () => {
  test('have message and level and no exception', async () => {
    const events = await capture(() => {
      S.captureMessage('deploy finished');
      S.captureMessage('disk almost full', 'warning');
      S.captureMessage('bad level', 'catastrophic');
    });
    assert.deepEqual(
      events.map((e) => [e.message, e.level, e.exception]),
      [
        ['deploy finished', 'info', undefined],
        ['disk almost full', 'warning', undefined],
        ['bad level', 'info', undefined],
      ],
    );
  });
});

describe('context', () => {
  test('tags: global, per capture, bounded, strings only', async () => {
    const [ev] = await capture(
      () => {
        S.setTag('region', 'iad1');
        S.setTags({ tier: 'free', count: 3 });
        const many = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, `v${i}`]));
        S.captureException(new Error('x'), { tags: { ...many, route: '/users/:id' }, fingerprint: 'users-lookup' });
      },
      { tags: { service: 'api' } },
    );
    assert.equal(ev.tags.service, 'api');
    assert.equal(ev.tags.region, 'iad1');
    assert.equal(ev.tags.count, '3');
    assert.equal(Object.keys(ev.tags).length, 50);
    for (const v of Object.values(ev.tags)) assert.equal(typeof v, 'string');
    assert.equal(ev.fingerprint, 'users-lookup');
  });

  test('breadcrumbs keep the last 100, in order', async () => {
    const [ev] = await capture(() => {
      for (let i = 0; i < 150; i++) S.addBreadcrumb({ message: `step ${i}`, category: 'app' });
      S.captureMessage('after steps');
    });
    assert.equal(ev.breadcrumbs.length, 100);
    assert.equal(ev.breadcrumbs[0].message, 'step 50');
    assert.equal(ev.breadcrumbs[99].message, 'step 149');
    for (const b of ev.breadcrumbs) assert.deepEqual(Object.keys(b).sort(), ['category', 'level', 'message', 'timestamp']);
  });

  test('beforeBreadcrumb can edit or drop', async () => {
    const [ev] = await capture(
      () => {
        S.addBreadcrumb({ message: 'keep me' });
        S.addBreadcrumb({ message: 'drop me' });
        S.captureMessage('m');
      },
      { beforeBreadcrumb: (b) => (b.message.startsWith('drop') ? null : { ...b, message: b.message.toUpperCase() }) },
    );
    assert.deepEqual(ev.breadcrumbs.map((b) => b.message), ['KEEP ME']);
  });
});

describe('beforeSend', () => {
  test('null drops the event and counts it', async () => {
    const events = await capture(() => S.captureException(new Error('secret')), { beforeSend: () => null });
    assert.equal(events.length, 0);
    assert.equal(S.getStats().droppedBy.before_send, 1);
  });

  test('edits are kept; unknown fields and bad values are stripped so the server will not refuse', async () => {
    const [ev] = await capture(() => S.captureException(new Error('x')), {
      beforeSend: (e) => ({ ...e, tags: { edited: 'yes', n: 1n }, user: { email: 'a@b.c' }, extra: 1, environment: 'edited', event_id: 'forged', commit_sha: 'not-a-sha' }),
    });
    for (const k of Object.keys(ev)) assert.ok(EVENT_FIELDS.has(k), `unexpected field ${k}`);
    assert.deepEqual(ev.tags, { edited: 'yes', n: '1' });
    assert.equal(ev.environment, 'edited');
    assert.match(ev.event_id, UUID4);
    assert.equal(ev.commit_sha, undefined);
  });

  test('a throwing hook drops the event (it may not have scrubbed) and the host is not affected', async () => {
    const events = await capture(() =>
      assert.equal(
        S.captureException(new Error('x'), {}),
        undefined,
      ),
    { beforeSend: () => { throw new Error('hook bug'); } });
    assert.equal(events.length, 0);
    assert.equal(S.getStats().droppedBy.before_send, 1);
  });
});

describe('configuration problems disable the SDK with one warning', () => {
  for (const [name, options] of [
    ['missing key', { endpoint: 'http://127.0.0.1:9' }],
    ['malformed key', { ingestKey: 'sk_live_123', endpoint: 'http://127.0.0.1:9' }],
    ['missing endpoint', { ingestKey: KEY }],
  ]) {
    test(name, async (t) => {
      const warn = t.mock.method(console, 'warn', () => undefined);
      const client = S.init({ ...options, captureUnhandled: false });
      assert.equal(client.enabled, false);
      for (let i = 0; i < 5; i++) assert.equal(S.captureException(new Error('x')), undefined);
      assert.equal(warn.mock.callCount(), 1);
      assert.match(String(warn.mock.calls[0].arguments[0]), /^\[stackline\] .*disabled/);
      const s = S.getStats();
      assert.equal(s.captured, 5);
      assert.equal(s.droppedBy.disabled, 5);
      assert.equal(s.disabled, true);
    });
  }

  test('enabled: false is silent', (t) => {
    const warn = t.mock.method(console, 'warn', () => undefined);
    S.init({ enabled: false });
    S.captureMessage('x');
    assert.equal(warn.mock.callCount(), 0);
  });
});

test('after close a capture is a no-op, counted as dropped (shutdown), as in the Python SDK', async () => {
  const client = S.init(quiet({ transport: scriptedTransport() }));
  S.captureMessage('before close');
  await S.close(1000);
  assert.equal(client.enabled, false);
  assert.equal(S.captureException(new Error('x')), undefined);
  assert.equal(await S.flush(10), true);
  const s = S.getStats();
  assert.deepEqual([s.captured, s.sent, s.dropped, s.droppedBy.shutdown, s.disabled], [2, 1, 1, 1, false]);
});
