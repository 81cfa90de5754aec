/**
 * The bounded queue and its single sender: batching, retries with backoff and jitter,
 * 429/Retry-After, disabling on a refused key, and the counters. One request is in
 * flight at a time; the queue (waiting + in flight) never holds more than 100 events.
 */

import { shorten } from './event.js';
import type { DropReason, Stats, StacklineEvent, Transport } from './types.js';

export const MAX_QUEUE = 100;
export const MAX_BATCH_EVENTS = 100;
/** 1 MiB is the server's limit; leave room for the envelope. */
export const MAX_BODY_BYTES = 1024 * 1024 - 64;
export const MAX_SERVER_RETRIES = 3;
const DEFAULT_RATE_LIMIT_MS = 60_000;
const MAX_RATE_LIMIT_MS = 3_600_000;

export interface Item {
  _ev: StacklineEvent | undefined;
  _json?: string;
  _bytes: number;
  _tries: number;
  /** Send alone: a batch holding it was refused as a whole (400/413). */
  _solo?: boolean;
}

/** Underscored: internal, so that minified bundles shorten the names. */
export interface QueueOptions {
  _transport: Transport;
  _maxBodyBytes?: number | undefined;
  _initialMs?: number | undefined;
  _maxMs?: number | undefined;
  _warn(key: string, message: string): void;
  _debug(message: string): void;
}

type Timer = ReturnType<typeof setTimeout>;

/** Node timers keep the process alive unless unref'd; the SDK must never be why a host stays up. */
export function unref(t: Timer): Timer {
  (t as { unref?: () => void }).unref?.();
  return t;
}

// A surrogate not in a pair; JSON.stringify writes it as a \udXXX escape, which the gateway refuses.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function wellFormed(_key: string, v: unknown): unknown {
  return typeof v === 'string' ? v.replace(LONE_SURROGATE, '\ufffd') : v;
}

function serialize(ev: StacklineEvent): string {
  const json = JSON.stringify(ev);
  // The replacer costs a call per value: only when the cheap scan finds an escape like one.
  return json.includes('\\ud') ? JSON.stringify(ev, wellFormed) : json;
}

/** The event as JSON of at most `maxBytes` bytes (UTF-8), shortened if need be; '' if it cannot be. */
export function encodeWithin(ev: StacklineEvent, maxBytes: number): string {
  try {
    let json = serialize(ev);
    while (utf8Length(json) > maxBytes) {
      const smaller = shorten(ev);
      if (!smaller) return '';
      ev = smaller;
      json = serialize(ev);
    }
    return json;
  } catch {
    return '';
  }
}

export function utf8Length(s: string): number {
  if (!/[^\x00-\x7f]/.test(s)) return s.length; // the usual case, checked natively
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) i++, (n += 2); // surrogate pair: 4 bytes for 2 units
    else n += 2;
  }
  return n;
}

/** Retry-After is seconds or an HTTP date. */
export function parseRetryAfter(v: string | null | undefined, now: number): number | undefined {
  if (typeof v !== 'string' || !v.trim()) return undefined;
  const secs = Number(v.trim());
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** Counters of a client that has captured nothing. */
export function emptyStats(): Stats {
  return {
    captured: 0,
    sent: 0,
    failed: 0,
    dropped: 0,
    queued: 0,
    droppedBy: { queue_full: 0, rate_limited: 0, disabled: 0, before_send: 0, too_large: 0, shutdown: 0, sample_rate: 0, ignored: 0 },
    disabled: false,
  };
}

export class Queue {
  /** @internal */
  readonly _items: Item[] = [];
  /** @internal */
  _inflight: Item[] = [];
  private _sending = false;
  /** @internal */
  _timer: Timer | undefined;
  private _netFailures = 0;
  /** @internal */
  _blockedUntil = 0;
  /** Set once the queue takes no more events: why later ones are dropped. */
  /** @internal */
  _stopped: 'disabled' | 'shutdown' | undefined;
  private _idle: Array<() => void> = [];
  private readonly _maxBodyBytes: number;
  private readonly _initialMs: number;
  private readonly _maxMs: number;
  readonly stats: Stats = emptyStats();

  constructor(/** @internal */ readonly _o: QueueOptions) {
    this._maxBodyBytes = Math.min(_o._maxBodyBytes ?? MAX_BODY_BYTES, MAX_BODY_BYTES);
    this._initialMs = _o._initialMs ?? 1000;
    this._maxMs = _o._maxMs ?? 60_000;
  }

  /**
   * Whether a new event would be accepted now; checked before an event is even built. A
   * fatal event (the process is about to die) makes room by dropping the newest waiting one:
   * the crash is worth more than the 100th event before it.
   */
  admit(fatal = false): DropReason | undefined {
    if (this._stopped) return this._stopped;
    if (Date.now() < this._blockedUntil) return 'rate_limited';
    if (this._items.length + this._inflight.length >= MAX_QUEUE) {
      if (!fatal) return 'queue_full';
      // In flight or not: the exit flush resends what was in flight anyway.
      (this._items.length ? this._items : this._inflight).pop();
      this.drop('queue_full');
    }
    return undefined;
  }

  drop(reason: DropReason, n = 1): void {
    this.stats.dropped += n;
    this.stats.droppedBy[reason] += n;
  }

  push(ev: StacklineEvent, fatal = false): boolean {
    this.stats.captured++;
    const refused = this.admit(fatal);
    if (refused) {
      this.drop(refused);
      return false;
    }
    this._items.push({ _ev: ev, _bytes: 0, _tries: 0 });
    this._sync();
    this._schedule(0);
    return true;
  }

  /** False once disabled or shut down: new events are dropped. */
  get open(): boolean {
    return this._stopped === undefined;
  }

  get size(): number {
    return this._items.length + this._inflight.length;
  }

  /** Resolves true once nothing is queued, false at the timeout. A network backoff is cut short: flush means try now. */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.size === 0) return Promise.resolve(true);
    if (this._timer !== undefined && !this._sending) {
      clearTimeout(this._timer);
      this._timer = undefined;
      this._schedule(0);
    }
    return new Promise((resolve) => {
      let done = false;
      const finish = (ok: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        resolve(ok);
      };
      // Referenced on purpose: an exit flush must keep the event loop alive until it ends.
      const deadline = setTimeout(() => {
        this._idle = this._idle.filter((f) => f !== onIdle);
        finish(false);
      }, Math.max(0, timeoutMs));
      const onIdle = (): void => finish(true);
      this._idle.push(onIdle);
    });
  }

  /** Start sending now, without waiting for the next tick (a page that is being hidden may never get one). */
  sendNow(): void {
    if (this._sending || this._items.length === 0) return;
    if (this._timer !== undefined) clearTimeout(this._timer);
    this._timer = undefined;
    this._run();
  }

  /** Stop for good for want of a usable key or endpoint: what is waiting is dropped (`disabled`). */
  disable(): void {
    this.stats.disabled = true;
    this._stop('disabled');
  }

  /**
   * Stop for good (close(), a new init(), the process exiting): what is waiting is dropped
   * (`shutdown`), and so is what is in flight; should its answer still come, it is not
   * counted twice.
   */
  shutdown(): void {
    this._stop('shutdown');
    this.drop('shutdown', this._inflight.length);
    this._inflight = [];
    this._sending = false;
    this._sync();
    this._notifyIdle();
  }

  private _stop(reason: 'disabled' | 'shutdown'): void {
    this._stopped ??= reason;
    if (this._timer !== undefined) clearTimeout(this._timer);
    this._timer = undefined;
    this.drop(reason, this._items.length);
    this._items.length = 0;
    this._sync();
  }

  /** @internal */
  _sync(): void {
    this.stats.queued = this.size;
  }

  private _schedule(delay: number): void {
    if (this._sending || this._timer !== undefined || this._stopped) return;
    this._timer = unref(
      setTimeout(() => {
        this._timer = undefined;
        this._run();
      }, delay),
    );
  }

  /** @internal */
  _notifyIdle(): void {
    if (this.size !== 0) return;
    const waiters = this._idle;
    this._idle = [];
    for (const f of waiters) f();
  }

  /** Take the next batch from `from`: serialized lazily, ≤100 events, ≤ the body budget. */
  /** @internal */
  _take(from: Item[]): Item[] {
    const out: Item[] = [];
    let bytes = 13; // {"events":[]}
    while (from.length && out.length < MAX_BATCH_EVENTS) {
      const it = from[0]!;
      if (it._json === undefined) {
        it._json = it._ev ? encodeWithin(it._ev, this._maxBodyBytes - 13) : '';
        it._ev = undefined;
        it._bytes = utf8Length(it._json);
      }
      if (!it._json) {
        from.shift();
        this.drop('too_large');
        continue;
      }
      if (out.length && (it._solo || bytes + it._bytes + 1 > this._maxBodyBytes)) break;
      from.shift();
      out.push(it);
      bytes += it._bytes + 1;
      if (it._solo) break;
    }
    return out;
  }

  private _backoff(attempt: number): number {
    const d = Math.min(this._maxMs, this._initialMs * 2 ** Math.min(attempt - 1, 30));
    return d / 2 + Math.random() * (d / 2);
  }

  private _run(): void {
    if (this._sending || this._stopped) return;
    if (Date.now() < this._blockedUntil) {
      this.drop('rate_limited', this._items.length);
      this._items.length = 0;
    }
    const batch = this._take(this._items);
    this._inflight = batch;
    this._sync();
    if (batch.length === 0) {
      this._notifyIdle();
      return;
    }
    this._sending = true;
    let p: Promise<{ status: number; retryAfter?: string | null }>;
    try {
      p = this._o._transport.send({ body: body(batch) });
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (r) => this._settle(batch, r && typeof r.status === 'number' ? r.status : 0, r && r.retryAfter),
      () => this._settle(batch, 0, undefined),
    ).catch((e: unknown) => this._o._debug(`queue error: ${String(e)}`));
  }

  /** status 0 means the request never got an HTTP answer. */
  private _settle(batch: Item[], status: number, retryAfter: string | null | undefined): void {
    if (this._inflight !== batch) return; // flushSync took over
    this._sending = false;
    this._inflight = [];
    const n = batch.length;
    const now = Date.now();
    let delay = 0;
    if (status >= 200 && status < 300) {
      this.stats.sent += n;
      this._netFailures = 0;
    } else if (status === 0) {
      // Network failure: keep the events (they still count against the bound) and back off.
      this._netFailures++;
      this._items.unshift(...batch);
      delay = this._backoff(this._netFailures);
      this._o._debug(`network error; retrying ${n} event(s) in ${Math.round(delay)} ms`);
    } else if (status === 429) {
      const wait = Math.min(parseRetryAfter(retryAfter, now) ?? DEFAULT_RATE_LIMIT_MS, MAX_RATE_LIMIT_MS);
      this._blockedUntil = now + wait;
      this.drop('rate_limited', n + this._items.length);
      this._items.length = 0;
      this._o._warn('429', `rate limited by the server; sending nothing for ${Math.round(wait / 1000)} s`);
    } else if (status === 401 || status === 403) {
      this.stats.failed += n;
      this._o._warn('auth', `the ingest key was refused (HTTP ${status}); the SDK is disabled`);
      this.disable();
    } else if (status >= 500) {
      const again: Item[] = [];
      for (const it of batch) {
        if (++it._tries > MAX_SERVER_RETRIES) this.stats.failed++;
        else again.push(it);
      }
      this._items.unshift(...again);
      const tries = again.length ? again[0]!._tries : 0;
      const ra = parseRetryAfter(retryAfter, now);
      delay = Math.min(this._maxMs, Math.max(this._backoff(tries || 1), ra ?? 0));
      if (again.length < n) this._o._warn('5xx', `gave up on ${n - again.length} event(s) after HTTP ${status}`);
    } else if ((status === 400 || status === 413) && n > 1) {
      // One bad event must not sink the others: resend them one by one.
      for (const it of batch) it._solo = true;
      this._items.unshift(...batch);
    } else {
      this.stats.failed += n;
      this._o._warn(`http${status}`, `the server refused ${n} event(s) with HTTP ${status}`);
    }
    if (this._stopped) {
      // disabled by this answer: nothing will send what is left
      this.drop(this._stopped, this._items.length);
      this._items.length = 0;
    }
    this._sync();
    if (this._items.length) this._schedule(delay);
    else this._notifyIdle();
  }
}

export function body(batch: Item[]): string {
  return `{"events":[${batch.map((i) => i._json).join(',')}]}`;
}
