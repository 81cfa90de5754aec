import assert from 'node:assert/strict';
import { test } from 'node:test';

import { clampInterval, PollScheduler, type PollOutcome, type Timers } from '../src/core/schedule';

/** A clock and timers the test moves by hand. */
class FakeTime implements Timers {
  now = 0;
  private timers: { at: number; callback: () => void; id: number }[] = [];
  private next = 1;

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.push({ at: this.now + ms, callback, id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward, firing due timers in order, letting the polls they start finish. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const due = this.timers[0];
      if (!due || due.at > end) break;
      this.timers.shift();
      this.now = due.at;
      due.callback();
      await settle();
    }
    this.now = end;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function setup(outcomes: PollOutcome[] = [], random = 0.5) {
  const time = new FakeTime();
  const polls: number[] = [];
  const scheduler = new PollScheduler({
    poll: async () => {
      polls.push(time.now);
      return outcomes.shift() ?? { kind: 'ok' };
    },
    intervalSeconds: () => 45,
    now: () => time.now,
    random: () => random,
    timers: time,
  });
  return { time, polls, scheduler };
}

test('polls at once, then every interval', async () => {
  const { time, polls, scheduler } = setup();
  await scheduler.start();
  assert.deepEqual(polls, [0]);
  await time.advance(44_999);
  assert.deepEqual(polls, [0]);
  await time.advance(1);
  await time.advance(45_000);
  assert.deepEqual(polls, [0, 45_000, 90_000]);
});

test('jitter keeps each interval within 10% of the setting, and the setting within 30-60 s', async () => {
  for (const [random, expected] of [
    [0, 40_500],
    [0.999999, 49_500],
  ] as const) {
    const { time, polls, scheduler } = setup([], random);
    await scheduler.start();
    await time.advance(60_000);
    assert.equal(Math.round(polls[1]!), expected);
  }
  assert.equal(clampInterval(5), 30);
  assert.equal(clampInterval(600), 60);
  assert.equal(clampInterval(Number.NaN), 45);
});

test('no polls without focus; a poll at once on focus when one came due meanwhile', async () => {
  const { time, polls, scheduler } = setup();
  await scheduler.start();
  scheduler.setFocused(false);
  assert.equal(time.pending, 0);
  await time.advance(10 * 60_000);
  assert.deepEqual(polls, [0]);
  scheduler.setFocused(true);
  await time.advance(0);
  assert.deepEqual(polls, [0, 600_000]);
});

test('focus back before the poll is due waits for the rest of the interval', async () => {
  const { time, polls, scheduler } = setup();
  await scheduler.start();
  await time.advance(10_000);
  scheduler.setFocused(false);
  await time.advance(10_000);
  scheduler.setFocused(true);
  await time.advance(24_999);
  assert.deepEqual(polls, [0]);
  await time.advance(1);
  assert.deepEqual(polls, [0, 45_000]);
});

test('Retry-After is honoured when it is longer than the interval', async () => {
  const { time, polls, scheduler } = setup([{ kind: 'retryAfter', seconds: 120 }, { kind: 'retryAfter', seconds: 5 }]);
  await scheduler.start();
  await time.advance(119_999);
  assert.deepEqual(polls, [0]);
  await time.advance(1);
  assert.deepEqual(polls, [0, 120_000]);
  await time.advance(45_000);
  assert.deepEqual(polls, [0, 120_000, 165_000]);
});

test('failures back off, doubling, and one success resets it', async () => {
  const { time, polls, scheduler } = setup([{ kind: 'failed' }, { kind: 'failed' }, { kind: 'ok' }]);
  await scheduler.start();
  await time.advance(90_000);
  assert.deepEqual(polls, [0, 90_000]);
  await time.advance(180_000);
  assert.deepEqual(polls, [0, 90_000, 270_000]);
  await time.advance(45_000);
  assert.deepEqual(polls, [0, 90_000, 270_000, 315_000]);
});

test('a poll that throws counts as a failure and never stops the schedule', async () => {
  const time = new FakeTime();
  let calls = 0;
  const scheduler = new PollScheduler({
    poll: async () => {
      calls += 1;
      throw new Error('boom');
    },
    intervalSeconds: () => 30,
    now: () => time.now,
    random: () => 0.5,
    timers: time,
  });
  await scheduler.start();
  await time.advance(60_000);
  assert.equal(calls, 2);
});

test('idle stops polling until triggered', async () => {
  const { time, polls, scheduler } = setup([{ kind: 'idle' }]);
  await scheduler.start();
  await time.advance(10 * 60_000);
  assert.deepEqual(polls, [0]);
  assert.equal(scheduler.nextPollInMs, undefined);
  await scheduler.trigger();
  assert.deepEqual(polls, [0, 600_000]);
  assert.equal(scheduler.nextPollInMs, 45_000);
});

test('a trigger during a poll runs one more poll after it, not two at once', async () => {
  const time = new FakeTime();
  let release: () => void = () => undefined;
  let active = 0;
  let most = 0;
  let calls = 0;
  const scheduler = new PollScheduler({
    poll: async () => {
      calls += 1;
      active += 1;
      most = Math.max(most, active);
      if (calls === 1) await new Promise<void>((r) => (release = r));
      active -= 1;
      return { kind: 'ok' };
    },
    intervalSeconds: () => 45,
    now: () => time.now,
    random: () => 0.5,
    timers: time,
  });
  const first = scheduler.start();
  await settle();
  const triggered = scheduler.trigger();
  const again = scheduler.trigger();
  release();
  await Promise.all([first, triggered, again]);
  assert.equal(calls, 2);
  assert.equal(most, 1);
});

test('stop cancels the next poll', async () => {
  const { time, polls, scheduler } = setup();
  await scheduler.start();
  scheduler.stop();
  await time.advance(10 * 60_000);
  assert.deepEqual(polls, [0]);
});
