// Property tests: no value passed to a capture function can make it throw, and whatever is
// passed, what leaves is a valid event (known fields only, strings where strings belong).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import * as S from '../dist/esm/node.js';
import { EVENT_FIELDS, quiet, scriptedTransport } from './helpers.mjs';

const trap = () => {
  throw new Error('trap');
};
const hostile = new Proxy({}, { get: trap, has: trap, ownKeys: trap, getPrototypeOf: trap, getOwnPropertyDescriptor: trap });
const { proxy: revoked, revoke } = Proxy.revocable({}, {});
revoke();
const circular = { name: 'loop' };
circular.self = circular;
const errorCycle = new Error('cycle');
errorCycle.cause = errorCycle;
const getterBomb = Object.create(Error.prototype, {
  message: { get: trap },
  stack: { get: trap },
  name: { get: trap },
  cause: { get: trap },
});
const weirdError = Object.assign(new Error('weird'), { stack: { not: 'a string' }, name: 12, message: Symbol('m') });
const primitiveBomb = { [Symbol.toPrimitive]: trap, toString: trap, valueOf: trap };
const nullProto = Object.assign(Object.create(null), { message: 'no prototype' });
class ThrowingCtor extends Error {
  static get name() {
    throw new Error('name');
  }
}

// fast-check inspects the values it generates, which these would break: generate an index, resolve late.
const EVIL = [
  hostile, revoked, circular, errorCycle, getterBomb, weirdError, primitiveBomb, nullProto, new ThrowingCtor('x'),
  Symbol('s'), 10n ** 30n, () => 1, Promise.reject(new Error('p')).catch(() => undefined) && Promise.resolve(), { then: trap },
  new Array(1_000_000), 'x'.repeat(2_000_000), new Date(NaN), new Map([[1, 2]]), new Uint8Array(10), Object.freeze(new Error('frozen')),
  { tags: hostile, fingerprint: primitiveBomb, request: hostile, level: Symbol('l') },
  { tags: { a: hostile, b: 1n, c: Symbol('c'), __proto__: { inherited: 'x' } }, request: { url: primitiveBomb, method: 7 } },
];
const BOX = Symbol('evil');
const evil = fc.integer({ min: 0, max: EVIL.length - 1 }).map((i) => ({ [BOX]: i }));
const unbox = (x) => (x !== null && typeof x === 'object' && Object.prototype.hasOwnProperty.call(x, BOX) ? EVIL[x[BOX]] : x);
const anything = fc.oneof(evil, fc.anything({ withBigInt: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true, withObjectString: true, withBoxedValues: true }));

function checkEvent(ev) {
  for (const k of Object.keys(ev)) assert.ok(EVENT_FIELDS.has(k), `unexpected field ${k}`);
  for (const k of ['event_id', 'timestamp', 'platform']) assert.equal(typeof ev[k], 'string');
  if (ev.exception) for (let x = ev.exception; x; x = x.cause) for (const k of ['type', 'message', 'stack']) assert.equal(typeof x[k], 'string');
  else assert.equal(typeof ev.message, 'string');
  for (const v of Object.values(ev.tags ?? {})) assert.equal(typeof v, 'string');
  for (const b of ev.breadcrumbs ?? []) for (const k of ['timestamp', 'category', 'message', 'level']) assert.equal(typeof b[k], 'string');
  if (ev.request) assert.deepEqual([typeof ev.request.method, typeof ev.request.url], ['string', 'string']);
}

after(() => S.close(0));

test('no value makes a capture function throw, and every event sent is valid', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), anything, anything), { minLength: 1, maxLength: 8 }), async (calls) => {
      const t = scriptedTransport();
      S.init(quiet({ transport: t }));
      for (const [fn, boxedA, boxedB] of calls) {
        const [a, b] = [unbox(boxedA), unbox(boxedB)];
        let r;
        switch (fn) {
          case 0: r = S.captureException(a); break;
          case 1: r = S.captureException(a, b); break;
          case 2: r = S.captureMessage(a, b); break;
          case 3: r = S.addBreadcrumb(a); break;
          case 4: r = S.setTag(a, b); break;
          case 5: r = S.setTags(a); break;
          default: r = S.captureMessage(String(fn), a); break;
        }
        assert.ok(r === undefined || typeof r === 'string');
      }
      assert.equal(await S.flush(1000), true);
      for (const body of t.bodies) for (const ev of JSON.parse(body).events) checkEvent(ev);
    }),
    { numRuns: 300 },
  );
});

test('whatever beforeSend and beforeBreadcrumb return or throw, capture does not throw and the event stays valid', async () => {
  await fc.assert(
    fc.asyncProperty(anything, anything, fc.boolean(), async (boxedHook, boxedCrumb, hookThrows) => {
      const [fromHook, crumbFromHook] = [unbox(boxedHook), unbox(boxedCrumb)];
      const t = scriptedTransport();
      const warn = console.warn;
      console.warn = () => undefined;
      try {
        S.init(quiet({
          transport: t,
          beforeSend: (e) => {
            if (hookThrows) throw fromHook;
            return typeof fromHook === 'object' && fromHook !== null && !Array.isArray(fromHook) ? { ...e, ...fromHook } : fromHook;
          },
          beforeBreadcrumb: () => crumbFromHook,
        }));
        S.addBreadcrumb({ message: 'b' });
        S.captureException(new Error('x'));
        S.captureMessage('m');
        assert.equal(await S.flush(1000), true);
        for (const body of t.bodies) for (const ev of JSON.parse(body).events) checkEvent(ev);
        const s = S.getStats();
        assert.equal(s.sent + s.dropped, 2);
      } finally {
        console.warn = warn;
      }
    }),
    { numRuns: 300 },
  );
});

test('init itself never throws, whatever the options', () => {
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    fc.assert(
      fc.property(anything, (boxed) => {
        S.init(unbox(boxed));
        S.captureMessage('after odd init');
      }),
      { numRuns: 200 },
    );
  } finally {
    console.warn = warn;
  }
});
