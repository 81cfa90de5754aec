import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { Incident } from '../src/core/model';
import { NotificationGate } from '../src/core/notify';

function incident(id: string, lastSeen: number, regressionAt?: number): Incident {
  return {
    id,
    repo: 'octo-org/shop',
    status: 'open',
    title: `TypeError in src/${id}.js:1`,
    exceptionType: 'TypeError',
    message: 'boom',
    culprit: null,
    commitSha: null,
    environment: 'production',
    count: 1,
    firstSeen: new Date(lastSeen),
    lastSeen: new Date(lastSeen),
    githubUrl: null,
    environments: ['production'],
    regression: regressionAt === undefined ? null : { at: new Date(regressionAt), commitSha: null },
  };
}

test('what was open when a repository is first seen is taken in silently', () => {
  const gate = new NotificationGate();
  assert.deepEqual(gate.consider('octo-org/shop', [incident('a', 1), incident('b', 2)]), []);
  const notices = gate.consider('octo-org/shop', [incident('a', 1), incident('b', 2), incident('c', 3)]);
  assert.deepEqual(
    notices.map((n) => n.kind === 'new' && n.incident.id),
    ['c'],
  );
  // The same again: nothing.
  assert.deepEqual(gate.consider('octo-org/shop', [incident('a', 1), incident('c', 4)]), []);
});

test('a regression is told once per time it came back', () => {
  let now = 0;
  const gate = new NotificationGate(undefined, () => now);
  gate.consider('r', [incident('a', 1)]);
  const back = gate.consider('r', [incident('a', 5, 5)]);
  assert.deepEqual(back.map((n) => n.kind), ['regression']);
  assert.deepEqual(gate.consider('r', [incident('a', 6, 5)]), []);
  now += 120_000;
  assert.deepEqual(gate.consider('r', [incident('a', 9, 9)]).map((n) => n.kind), ['regression']);
});

test('at most three a minute; a burst gets a summary as its third', () => {
  let now = 0;
  const gate = new NotificationGate(undefined, () => now);
  gate.consider('r', []);
  const burst = gate.consider('r', ['a', 'b', 'c', 'd', 'e'].map((id, i) => incident(id, i)));
  assert.deepEqual(
    burst.map((n) => (n.kind === 'more' ? `more ${n.count}` : n.incident.id)),
    ['a', 'b', 'more 3'],
  );
  now += 30_000;
  assert.deepEqual(gate.consider('r', [incident('f', 10)]), []);
  now += 31_000;
  assert.deepEqual(gate.consider('r', [incident('g', 11)]).map((n) => n.kind), ['new']);
});

test('the memory survives a restart', () => {
  const first = new NotificationGate();
  first.consider('r', [incident('a', 1)]);
  first.consider('r', [incident('a', 1), incident('b', 2)]);
  const second = new NotificationGate(JSON.parse(JSON.stringify(first.memory())));
  assert.deepEqual(second.consider('r', [incident('a', 1), incident('b', 2)]), []);
  assert.deepEqual(second.consider('r', [incident('c', 3)]).map((n) => n.kind), ['new']);
});
