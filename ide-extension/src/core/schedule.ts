// When to ask the server again: every 30-60 s with jitter, never while the editor has no
// focus (caught up when it comes back), later when the server says so or keeps failing.

export type PollOutcome =
  /** An answer, or no network: ask again after the usual interval. */
  | { kind: 'ok' }
  /** 429 or 503: not before the server's Retry-After. */
  | { kind: 'retryAfter'; seconds: number }
  /** The server failed (5xx, nonsense): back off, doubling up to a limit. */
  | { kind: 'failed' }
  /** Nothing to do until something changes (signed out): wait for trigger(). */
  | { kind: 'idle' };

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SchedulerOptions {
  poll: () => Promise<PollOutcome>;
  /** The interval setting, read at each scheduling so a change applies at the next poll. */
  intervalSeconds: () => number;
  now?: () => number;
  random?: () => number;
  timers?: Timers;
}

export const MIN_INTERVAL_SECONDS = 30;
export const MAX_INTERVAL_SECONDS = 60;
const JITTER = 0.1;
const MAX_BACKOFF_MS = 10 * 60_000;

export function clampInterval(seconds: number): number {
  if (!Number.isFinite(seconds)) return 45;
  return Math.min(MAX_INTERVAL_SECONDS, Math.max(MIN_INTERVAL_SECONDS, seconds));
}

export class PollScheduler {
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly timers: Timers;
  private handle: unknown;
  private inFlight: Promise<void> | undefined;
  private again = false;
  private focused = true;
  private running = false;
  private failures = 0;
  /** When the next poll is due; undefined while idle. */
  private dueAt: number | undefined;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.timers = options.timers ?? { setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  }

  /** Starts polling, with a first poll now. */
  start(): Promise<void> {
    this.running = true;
    return this.trigger();
  }

  stop(): void {
    this.running = false;
    this.dueAt = undefined;
    this.clearTimer();
  }

  /** Polls now (the refresh command, a sign-in); resolves when that poll has finished. */
  async trigger(): Promise<void> {
    if (!this.running) return;
    this.clearTimer();
    if (this.inFlight) {
      this.again = true;
      await this.inFlight;
      // The poll that ran after the one in flight is the one asked for.
      if (this.inFlight) await this.inFlight;
      return;
    }
    await this.run();
  }

  /** The editor window gained or lost focus. */
  setFocused(focused: boolean): void {
    this.focused = focused;
    if (!this.running) return;
    if (!focused) {
      this.clearTimer();
      return;
    }
    if (this.dueAt !== undefined && !this.inFlight) this.arm(this.dueAt - this.now());
  }

  /** Milliseconds until the next poll, for tests and the status bar's tooltip. */
  get nextPollInMs(): number | undefined {
    return this.dueAt === undefined ? undefined : Math.max(0, this.dueAt - this.now());
  }

  private run(): Promise<void> {
    const poll = (async () => {
      let outcome: PollOutcome;
      try {
        outcome = await this.options.poll();
      } catch {
        outcome = { kind: 'failed' };
      }
      this.inFlight = undefined;
      if (!this.running) return;
      if (this.again) {
        this.again = false;
        this.inFlight = this.run();
        return;
      }
      this.plan(outcome);
    })();
    this.inFlight = poll;
    return poll;
  }

  private plan(outcome: PollOutcome): void {
    if (outcome.kind === 'idle') {
      this.dueAt = undefined;
      return;
    }
    const base = clampInterval(this.options.intervalSeconds()) * 1000;
    let delay = base * (1 + JITTER * (2 * this.random() - 1));
    if (outcome.kind === 'failed') {
      this.failures += 1;
      delay = Math.min(MAX_BACKOFF_MS, delay * 2 ** Math.min(this.failures, 8));
    } else {
      this.failures = 0;
    }
    if (outcome.kind === 'retryAfter') delay = Math.max(delay, outcome.seconds * 1000);
    this.dueAt = this.now() + delay;
    if (this.focused) this.arm(delay);
  }

  private arm(delay: number): void {
    this.clearTimer();
    this.handle = this.timers.setTimeout(() => {
      this.handle = undefined;
      if (this.running && this.focused && !this.inFlight) void this.run();
    }, Math.max(0, delay));
  }

  private clearTimer(): void {
    if (this.handle !== undefined) this.timers.clearTimeout(this.handle);
    this.handle = undefined;
  }
}
