/** Turning arbitrary thrown values into wire payloads without ever throwing, and the size limits. */

import type { Breadcrumb, ExceptionPayload, Level, StacklineEvent } from './types.js';

/** The API's limits. A const enum: bundles inline the numbers, no object is shipped. */
export const enum LIMITS {
  message = 8192,
  stack = 32768,
  causeDepth = 3,
  breadcrumbs = 100,
  breadcrumbMessage = 1024,
  category = 64,
  tags = 50,
  tagKey = 64,
  tagValue = 256,
  fingerprint = 256,
  url = 2048,
  method = 16,
  release = 200,
  environment = 64,
  deployRoot = 1024,
  exceptionType = 256,
  /** runtime and sdk name and version */
  nameVersion = 64,
}

const LEVELS: Record<string, Level> = { fatal: 'fatal', error: 'error', warning: 'warning', info: 'info', debug: 'debug' };

/** Property read that survives throwing getters and revoked proxies. */
export function get(obj: unknown, key: string): unknown {
  if (obj === null || obj === undefined) return undefined; // the common case; a throw costs microseconds
  try {
    return (obj as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max - 1;
  // Never half a surrogate pair: a lone surrogate makes the gateway refuse the event.
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return s.slice(0, end) + '\u2026';
}

function ctorName(v: object): string {
  try {
    const c = (Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null)?.constructor;
    const n = c && c.name;
    return typeof n === 'string' && n ? n : '';
  } catch {
    return '';
  }
}

/**
 * A short, bounded description of any value. Objects are never walked in full: a host may
 * throw a million-element array, and this runs on its thread.
 */
export function describe(v: unknown, max: number): string {
  try {
    switch (typeof v) {
      case 'string':
        return truncate(v, max);
      case 'symbol':
        return truncate(Symbol.prototype.toString.call(v), max);
      case 'function':
        return `[function ${truncate(String(get(v, 'name') || 'anonymous'), 100)}]`;
      case 'object': {
        if (v === null) return 'null';
        const msg = get(v, 'message');
        if (typeof msg === 'string') return truncate(msg, max);
        const keys: string[] = [];
        for (const k in v) {
          keys.push(k);
          if (keys.length >= 10) break;
        }
        const name = ctorName(v) || 'Object';
        return truncate(keys.length ? `${name} with keys: ${keys.join(', ')}` : name, max);
      }
      default:
        return truncate(String(v), max);
    }
  } catch {
    return '[unserializable]';
  }
}

export function isErrorLike(v: unknown): v is object {
  if (typeof v !== 'object' || v === null) return false;
  try {
    if (v instanceof Error) return true;
  } catch {
    // revoked proxy: instanceof throws
  }
  try {
    const tag = Object.prototype.toString.call(v);
    if (tag === '[object Error]' || tag === '[object DOMException]') return true;
  } catch {
    // proxy traps may throw
  }
  return typeof get(v, 'stack') === 'string' && typeof get(v, 'message') === 'string';
}

/**
 * Exception payload for any value. Errors keep their stack verbatim; other values get a
 * message describing them and a stack of one header line (there is no stack to send, and
 * a synthetic one would point into the SDK, not at the bug).
 */
export function exceptionFrom(value: unknown, depth = 0): ExceptionPayload {
  let type = 'Error';
  let message: string;
  let stack: string | undefined;
  let cause: ExceptionPayload | undefined;
  if (isErrorLike(value)) {
    const name = get(value, 'name');
    type = truncate(typeof name === 'string' && name ? name : ctorName(value) || 'Error', LIMITS.exceptionType);
    const m = get(value, 'message');
    message = m === undefined ? '' : describe(m, LIMITS.message);
    const s = get(value, 'stack');
    if (typeof s === 'string' && s) stack = truncate(s, LIMITS.stack);
    const c = get(value, 'cause');
    if (c !== undefined && c !== null && depth < LIMITS.causeDepth) cause = exceptionFrom(c, depth + 1);
  } else {
    if (typeof value === 'object' && value !== null) type = truncate(ctorName(value) || 'Object', LIMITS.exceptionType);
    message = describe(value, LIMITS.message);
  }
  const out: ExceptionPayload = { type, message, stack: stack ?? (message ? `${type}: ${message}` : type) };
  if (cause) out.cause = cause;
  return out;
}

export function level(v: unknown, fallback: Level): Level {
  return (typeof v === 'string' && LEVELS[v]) || fallback;
}

/** Tags are string to string; at most 50, keys and values bounded. */
export function tagsFrom(input: unknown, into: Record<string, string>): Record<string, string> {
  if (typeof input !== 'object' || input === null) return into;
  try {
    let n = Object.keys(into).length;
    for (const k of Object.keys(input)) {
      const key = truncate(k, LIMITS.tagKey);
      const fresh = !Object.prototype.hasOwnProperty.call(into, key);
      if (fresh && n >= LIMITS.tags) break;
      const v = get(input, k);
      if (v === undefined || v === null) continue;
      if (fresh) n++;
      // defineProperty: a tag named "__proto__" must stay a tag, not a prototype change
      Object.defineProperty(into, key, { value: describe(v, LIMITS.tagValue), enumerable: true, writable: true, configurable: true });
    }
  } catch {
    // a proxy whose ownKeys trap throws: keep what we have
  }
  return into;
}

export function breadcrumbFrom(input: unknown, now: string): Breadcrumb | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const message = get(input, 'message');
  const category = get(input, 'category');
  const timestamp = get(input, 'timestamp');
  return {
    timestamp: typeof timestamp === 'string' && isTimestamp(timestamp) ? timestamp : now,
    category: typeof category === 'string' && category ? truncate(category, LIMITS.category) : 'default',
    message: message === undefined ? '' : describe(message, LIMITS.breadcrumbMessage),
    level: level(get(input, 'level'), 'info'),
  };
}

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
export function isTimestamp(s: string): boolean {
  return TS.test(s);
}

let randomUUID: (() => string) | undefined;

/** The Node entry passes node:crypto's randomUUID (Node 18 has no global crypto). */
export function setRandomUUID(fn: () => string): void {
  randomUUID = fn;
}

/** A v4 UUID: from randomUUID where given, else getRandomValues (every browser, insecure pages too), else Math.random. */
export function uuid4(): string {
  if (randomUUID) return randomUUID();
  const b = new Uint8Array(16);
  try {
    (globalThis as { crypto: Crypto }).crypto.getRandomValues(b);
  } catch {
    for (let i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
  }
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  let h = '';
  for (let i = 0; i < 16; i++) h += (i === 4 || i === 6 || i === 8 || i === 10 ? '-' : '') + (b[i]! + 0x100).toString(16).slice(1);
  return h;
}

/** A text shortened by shorten() keeps at least this many characters. */
const MIN_TEXT = 256;

/**
 * A smaller copy of an event that is too large in bytes, or undefined when nothing is left
 * to cut. Limits are in characters and the body limit in bytes: characters JSON escapes
 * (\u0001 is six bytes) or wide ones can pass every limit and still make the body too large.
 * The breadcrumbs go first, then the longest text is halved (stacks keep their start, where
 * V8 puts the innermost frames): what locates the error stays.
 */
export function shorten(ev: StacklineEvent): StacklineEvent | undefined {
  if (ev.breadcrumbs) {
    const { breadcrumbs: _, ...rest } = ev;
    return rest;
  }
  const out: StacklineEvent = { ...ev };
  // The texts that can be long, each as [the object holding it, its key]. The exception chain
  // is copied on the way down: the caller's event is not changed.
  const texts: Array<[Record<string, unknown>, string]> = [[out as unknown as Record<string, unknown>, 'message']];
  let parent = out as unknown as Record<string, unknown>;
  let key = 'exception';
  while (typeof parent[key] === 'object' && parent[key] !== null) {
    const copy = { ...(parent[key] as Record<string, unknown>) };
    parent[key] = copy;
    texts.push([copy, 'message'], [copy, 'stack']);
    parent = copy;
    key = 'cause';
  }
  let longest: [Record<string, unknown>, string] | undefined;
  let length = MIN_TEXT;
  for (const [holder, k] of texts) {
    const v = holder[k];
    if (typeof v === 'string' && v.length > length) {
      longest = [holder, k];
      length = v.length;
    }
  }
  if (!longest) return undefined;
  longest[0][longest[1]] = truncate(longest[0][longest[1]] as string, Math.floor(length / 2));
  return out;
}

export function nowIso(): string {
  return new Date().toISOString();
}
