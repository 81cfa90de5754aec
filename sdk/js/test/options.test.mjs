// The Sentry-grade options: sampleRate, ignoreErrors, denyUrls, setUser (id only unless
// sendDefaultPii), setContext / setExtra, serverName, enabled; what each sends, counted.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { afterEach, test } from 'node:test';
import * as S from '../dist/esm/node.js';
import { assertIngestible, quiet, scriptedTransport } from './helpers.mjs';

afterEach(() => S.close(0));

test('sampleRate 0 sends nothing and counts sample_rate; 1 sends all', async () => {
  const t = scriptedTransport();
  S.init(quiet({ transport: t, sampleRate: 0 }));
  for (let i = 0; i < 10; i++) S.captureException(new Error(`e${i}`));
  assert.ok(await S.flush(1000));
  assert.equal(t.bodies.length, 0);
  const s = S.getStats();
  assert.equal(s.captured, 10);
  assert.equal(s.droppedBy.sample_rate, 10);
  await S.close(0);
  const all = scriptedTransport();
  S.init(quiet({ transport: all, sampleRate: 1 }));
  for (let i = 0; i < 10; i++) S.captureException(new Error(`e${i}`));
  assert.ok(await S.flush(1000));
  assert.equal(all.events().length, 10);
});

test('sampleRate 0.5 keeps some and drops some', async () => {
  const t = scriptedTransport();
  S.init(quiet({ transport: t, sampleRate: 0.5 }));
  for (let i = 0; i < 400; i++) {
    S.captureMessage(`m${i}`);
    if (i % 50 === 49) assert.ok(await S.flush(5000)); // stay under the queue's bound of 100
  }
  const s = S.getStats();
  assert.equal(s.sent + s.droppedBy.sample_rate, 400, JSON.stringify(s));
  // 400 fair coin flips all landing one way: about 1 in 10^120.
  assert.ok(s.sent > 0 && s.droppedBy.sample_rate > 0, JSON.stringify(s));
});

test('ignoreErrors by type, by part of the message, by RegExp; denyUrls by the top frame', async () => {
  const t = scriptedTransport();
  S.init(quiet({ transport: t, ignoreErrors: ['AbortError', 'ResizeObserver loop', /^TypeError: .*extension/], denyUrls: ['chrome-extension://'] }));
  const abort = new Error('aborted');
  abort.name = 'AbortError';
  S.captureException(abort);
  S.captureException(new Error('ResizeObserver loop limit exceeded'));
  S.captureException(new TypeError('cannot read x of the extension'));
  const ext = new Error('from a widget');
  ext.stack = 'Error: from a widget\n    at f (chrome-extension://abc/content.js:1:2)\n    at g (https://shop.example/app.js:3:4)';
  S.captureException(ext);
  S.captureException(new Error('a real bug'));
  assert.ok(await S.flush(1000));
  assert.deepEqual(t.events().map((e) => e.exception.message), ['a real bug']);
  assert.equal(S.getStats().droppedBy.ignored, 4);
});

test('setUser sends the id only; e-mail, IP and username with sendDefaultPii; setContext and setExtra as tags; serverName', async () => {
  const t = scriptedTransport();
  S.init(quiet({ transport: t }));
  S.setUser({ id: 42, email: 'alice@example.com', ip_address: '203.0.113.9', username: 'alice' });
  S.setContext('cart', { items: 3, total: '19.90', token: 'x', link: 'https://shop.example/c?token=SECRET' });
  S.setExtra('attempt', 2);
  S.captureMessage('with user');
  assert.ok(await S.flush(1000));
  const [ev] = t.events();
  assertIngestible(ev);
  assert.equal(ev.tags['user.id'], '42');
  for (const k of ['user.email', 'user.ip_address', 'user.username']) assert.equal(ev.tags[k], undefined, `${k} sent without sendDefaultPii`);
  assert.ok(!t.bodies[0].includes('alice'), 'PII sent');
  assert.equal(ev.tags['cart.items'], '3');
  assert.equal(ev.tags['cart.link'], 'https://shop.example/c?token=[Filtered]');
  assert.equal(ev.tags['extra.attempt'], '2');
  assert.equal(ev.tags.server_name, hostname());
  await S.close(0);

  const pii = scriptedTransport();
  S.init(quiet({ transport: pii, sendDefaultPii: true, serverName: 'web-1' }));
  S.setUser({ id: 'u1', email: 'alice@example.com', ip_address: '203.0.113.9' });
  S.captureMessage('with pii');
  S.setUser(null);
  S.captureMessage('forgotten');
  assert.ok(await S.flush(1000));
  const [withPii, forgotten] = pii.events();
  assert.equal(withPii.tags['user.email'], 'alice@example.com');
  assert.equal(withPii.tags['user.ip_address'], '203.0.113.9');
  assert.equal(withPii.tags.server_name, 'web-1');
  assert.equal(forgotten.tags['user.id'], undefined);
});

test('enabled: false captures nothing and sends nothing', async () => {
  const t = scriptedTransport();
  S.init(quiet({ transport: t, enabled: false }));
  assert.equal(S.captureException(new Error('x')), undefined);
  assert.ok(await S.flush(500));
  assert.equal(t.bodies.length, 0);
});
