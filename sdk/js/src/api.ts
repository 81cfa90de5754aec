/**
 * The module-level API (`Stackline.captureException(...)`). The current client lives on
 * globalThis under a registered symbol, so the ESM and CommonJS copies of this package,
 * loaded side by side in one process, share one client instead of fighting over handlers.
 */

import type { Client } from './client.js';
import { emptyStats } from './queue.js';
import type { CaptureHint, Level, Stats, User } from './types.js';

const KEY = Symbol.for('stackline.sdk.v0');

interface Carrier {
  client?: Client;
}

function carrier(): Carrier {
  const g = globalThis as unknown as Record<symbol, Carrier | undefined>;
  return (g[KEY] ??= {});
}

export function getClient(): Client | undefined {
  return carrier().client;
}

/** Install a client; an earlier one is shut down (its handlers removed) first. */
export function setClient(client: Client | undefined): void {
  const c = carrier();
  const old = c.client;
  c.client = client;
  if (old && old !== client) old.shutdown();
}

/** Report an error (any thrown value). Returns the event id, or undefined if the event was not queued. Never throws. */
export function captureException(error: unknown, hint?: CaptureHint): string | undefined {
  return getClient()?.captureException(error, hint);
}

/** Report a message at a level (default "info"). Never throws. */
export function captureMessage(message: string, levelOrHint?: Level | CaptureHint): string | undefined {
  return getClient()?.captureMessage(message, levelOrHint);
}

export function addBreadcrumb(breadcrumb: { message: string; category?: string; level?: Level; timestamp?: string }): void {
  getClient()?.addBreadcrumb(breadcrumb);
}

/** Tag the events of the current request (or async job); outside any, of the process. */
export function setTag(key: string, value: string): void {
  getClient()?.setTag(key, value);
}

/** The user the current request (or the page) serves: `user.id` on its events; e-mail, IP address and username only with `sendDefaultPii`. `null` forgets it. */
export function setUser(user: User | null): void {
  getClient()?.setUser(user);
}

/** Named data on the current scope's events, sent as tags `name.key`. `null` forgets it. */
export function setContext(name: string, context: Record<string, unknown> | null): void {
  getClient()?.setContext(name, context);
}

/** One value on the current scope's events, sent as the tag `extra.key`. */
export function setExtra(key: string, value: unknown): void {
  getClient()?.setExtra(key, value);
}

/** Tag every event of the process, whichever request it comes from. */
export function setGlobalTag(key: string, value: string): void {
  getClient()?.setGlobalTag(key, value);
}

/**
 * Run fn in a scope of its own (a job, a queue message): its tags and breadcrumbs, across
 * awaits, go only on its own events. Incoming http requests get one by themselves in Node.
 */
export function withScope<R>(fn: () => R): R {
  const client = getClient();
  return client ? client.withScope(fn) : fn();
}

export function setTags(tags: Record<string, string>): void {
  getClient()?.setTags(tags);
}

/** Resolves true once everything queued was delivered or given up on; false at the timeout. */
export function flush(timeoutMs?: number): Promise<boolean> {
  return getClient()?.flush(timeoutMs) ?? Promise.resolve(true);
}

/**
 * Flush, then remove every handler the SDK installed and stop. The closed client stays
 * current until the next init(): later captures count as dropped (`shutdown`), and
 * getStats() still tells what happened.
 */
export async function close(timeoutMs?: number): Promise<boolean> {
  const client = getClient();
  if (!client) return true;
  return client.close(timeoutMs);
}

/** Counters since init: captured = sent + failed + dropped + queued. */
export function getStats(): Stats {
  return getClient()?.getStats() ?? emptyStats();
}
