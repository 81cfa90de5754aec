// The largest event the SDK can be made to build is still one the ingest API accepts: every
// input below is past its limit, and what is sent must be cut or left out to fit, never
// something the gateway answers 400 or 413 to (see assertIngestible in helpers.mjs).
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import * as S from '../dist/esm/node.js';
import { API, ingestibleEvents, quiet, scriptedTransport } from './helpers.mjs';

const LONG = 5000;
const SHA = '0123456789abcdef0123456789abcdef01234567';

afterEach(() => S.close(0));

function big(prefix, n) {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}-${i}-${'k'.repeat(100)}`, 'v'.repeat(LONG)]));
}

/** An error with a huge name, message and stack, and a chain of causes past the depth kept. */
function hugeError(text) {
  let error;
  for (let depth = 0; depth < 6; depth++) {
    const e = new Error(text.repeat(20_000), error ? { cause: error } : undefined);
    e.name = 'E'.repeat(1000);
    e.stack = `${e.name}: ${e.message}\n` + `    at f (/srv/app/${text.repeat(100)}.js:1:1)\n`.repeat(200);
    error = e;
  }
  return error;
}

/** Every limit overrun at once; `text` is what the long strings are made of. */
async function maximal(text) {
  const t = scriptedTransport();
  S.init(quiet({
    transport: t,
    environment: 'e'.repeat(LONG),
    release: 'r'.repeat(LONG),
    deployRoot: `/${'d'.repeat(LONG)}`,
    commitSha: SHA,
    tags: big('init', 60),
  }));
  S.setTags(big('later', 60));
  // Scrubbing makes these longer (`token=x` → `token=[Filtered]`) after they were cut to size.
  for (let i = 0; i < 150; i++) S.addBreadcrumb({ message: `${text}?token=x `.repeat(LONG), category: 'c'.repeat(LONG), level: 'loud' });
  S.captureException(hugeError(text), {
    tags: big('call', 60),
    fingerprint: 'f'.repeat(LONG),
    request: { method: 'M'.repeat(100), url: `https://${'h'.repeat(LONG)}/?q=${text.repeat(LONG)}` },
    // What an automatic capture adds: its own two tags must fit with the app's 50.
    mechanism: 'uncaughtException',
  });
  assert.equal(await S.flush(5000), true);
  assert.equal(t.bodies.length, 1);
  assert.deepEqual({ ...S.getStats(), droppedBy: undefined }, { captured: 1, sent: 1, failed: 0, dropped: 0, queued: 0, droppedBy: undefined, disabled: false });
  return { body: t.bodies[0], events: ingestibleEvents(t.bodies[0]) };
}

test('the largest event of plain text is sent whole, each field at its limit', async () => {
  const { events } = await maximal('x');
  const [ev] = events;
  assert.equal(Object.keys(ev.tags).length, 50);
  assert.deepEqual([ev.tags.mechanism, ev.tags.handled], ['uncaughtException', 'no']);
  assert.equal(ev.breadcrumbs.length, 100);
  assert.deepEqual(new Set(ev.breadcrumbs.map((c) => c.message.length)), new Set([1024]));
  assert.deepEqual(new Set(ev.breadcrumbs.map((c) => c.category.length)), new Set([64]));
  assert.ok(ev.breadcrumbs[0].message.includes('token=[Filtered]'));
  assert.equal(ev.environment.length, 64);
  assert.equal(ev.release.length, 200);
  assert.equal(ev.fingerprint.length, 256);
  assert.equal(ev.exception.type.length, 256);
  assert.equal(ev.exception.stack.length, 32_768);
  assert.equal(ev.request.method.length, 16);
  assert.equal(ev.request.url.length, 2048);
  let depth = 0;
  for (let x = ev.exception.cause; x; x = x.cause) depth++;
  assert.equal(depth, 3);
  // A deploy root cut short would map frames to the wrong files: it is left out.
  assert.equal(ev.deploy_root, undefined);
  assert.equal(ev.commit_sha, SHA);
});

test('an event over a mebibyte in bytes (escaped characters) is shortened to fit, not dropped', async () => {
  const { body, events } = await maximal('\x01'); // JSON writes it as six bytes: \u0001
  const [ev] = events;
  assert.ok(Buffer.byteLength(body) <= API.maxBodyBytes);
  assert.equal(ev.breadcrumbs, undefined, 'the breadcrumbs go first');
  // What locates the error stays: its type, and the start of its stack (the innermost frames).
  assert.equal(ev.exception.type.length, 256);
  assert.ok(ev.exception.stack.startsWith(`${'E'.repeat(255)}`));
  assert.ok(ev.exception.stack.length > 8000);
  assert.equal(Object.keys(ev.tags).length, 50);
});

test('lone surrogates, from a string cut mid-pair or from the app, are sent as U+FFFD', async () => {
  const t = scriptedTransport();
  S.init(quiet({ transport: t }));
  // 8191 units then an emoji: cut to 8 KiB, the pair must not be split in two.
  S.captureMessage(`${'x'.repeat(8190)}\u{1F600}\u{1F600}`);
  S.captureException(new Error('half a pair: \ud83d, and the other half: \ude00'));
  assert.equal(await S.flush(2000), true);
  const events = ingestibleEvents(t.bodies[0]);
  assert.ok(events[0].message.endsWith('x\u2026'));
  assert.equal(events[1].exception.message, 'half a pair: \ufffd, and the other half: \ufffd');
});

test('an event that cannot be made small enough is dropped as too_large, and counted', async () => {
  // Only the browser build's budget (keepalive bodies are capped at 64 KiB) is small enough
  // for that: tags are not shortened, and 50 tags of escaped characters do not fit.
  const B = await import('../dist/esm/browser.js');
  const t = scriptedTransport();
  B.init(quiet({ transport: t }));
  try {
    B.captureMessage('m', { tags: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`${i}`, '\x01'.repeat(256)])) });
    B.captureMessage('m'.repeat(8000), { tags: Object.fromEntries(Array.from({ length: 35 }, (_, i) => [`${i}`, '\x01'.repeat(256)])) });
    assert.equal(await B.flush(2000), true);
    const s = B.getStats();
    assert.deepEqual([s.captured, s.sent, s.dropped, s.droppedBy.too_large], [2, 1, 1, 1]);
    const [ev] = ingestibleEvents(t.bodies[0]);
    assert.ok(ev.message.length < 8000, 'the second was shortened to fit instead');
  } finally {
    await B.close(0);
  }
});

test('whatever beforeSend returns is put within the limits; the identity fields stay the SDK\'s', async () => {
  const t = scriptedTransport();
  S.init(quiet({
    transport: t,
    beforeSend: () => ({
      event_id: 'not a uuid', timestamp: 'yesterday', platform: 'cobol',
      exception: { type: '', message: 'm'.repeat(LONG), cause: { stack: 42 } },
      level: 'loud', commit_sha: 'not-a-sha', environment: 'e'.repeat(LONG), deploy_root: `/${'d'.repeat(LONG)}`,
      release: 'r'.repeat(LONG), runtime: { name: 'n'.repeat(LONG) }, sdk: { name: 'n'.repeat(LONG) },
      request: { method: 'M'.repeat(LONG), url: 'u'.repeat(LONG), headers: { cookie: 'c' } },
      tags: big('hook', 100), fingerprint: 'f'.repeat(LONG), user: { email: 'unknown fields are refused' },
      breadcrumbs: Array(200).fill({ timestamp: 'noon', category: 'c'.repeat(LONG), message: 'm'.repeat(LONG), level: 3 }),
    }),
  }));
  const id = S.captureMessage('m');
  assert.equal(await S.flush(2000), true);
  const [ev] = ingestibleEvents(t.bodies[0]);
  assert.equal(ev.event_id, id);
  assert.deepEqual([ev.platform, ev.sdk.name], ['node', 'stackline-js']);
  assert.equal(ev.exception.type, 'Error');
  assert.equal(ev.commit_sha, undefined);
  assert.equal(ev.deploy_root, undefined);
  assert.equal(ev.breadcrumbs.length, 100);
});

test('getStats() has the Python SDK\'s fields: droppedBy for dropped_by, the same reasons', () => {
  S.init(quiet({ transport: scriptedTransport(), beforeSend: () => null }));
  S.captureMessage('dropped by beforeSend');
  const s = S.getStats();
  assert.deepEqual(Object.keys(s), ['captured', 'sent', 'failed', 'dropped', 'queued', 'droppedBy', 'disabled']);
  assert.deepEqual(s.droppedBy, { queue_full: 0, rate_limited: 0, disabled: 0, before_send: 1, too_large: 0, shutdown: 0, sample_rate: 0, ignored: 0 });
});
