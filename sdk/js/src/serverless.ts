/**
 * Serverless and Next.js: deliver before the platform freezes the function. Where the
 * platform offers waitUntil (Vercel's request context, a Cloudflare/edge ctx, NextFetchEvent)
 * the flush is handed to it and nothing waits; otherwise the caller awaits a flush bounded
 * by flushTimeoutMs.
 */

import { getClient } from './api.js';
import { get } from './event.js';

type WaitUntil = (p: Promise<unknown>) => void;

const VERCEL_CONTEXT = Symbol.for('@vercel/request-context');

/** A waitUntil from an explicit context argument, else from Vercel's request context. */
export function findWaitUntil(candidates: readonly unknown[] = []): WaitUntil | undefined {
  for (const c of candidates) {
    const fn = get(c, 'waitUntil');
    if (typeof fn === 'function') return (p) => fn.call(c, p);
  }
  try {
    const ctx = (globalThis as Record<symbol, { get?: () => unknown } | undefined>)[VERCEL_CONTEXT]?.get?.();
    const fn = get(ctx, 'waitUntil');
    if (typeof fn === 'function') return (p) => fn.call(ctx, p);
  } catch {
    // not on Vercel
  }
  return undefined;
}

/**
 * Make sure queued events leave before the function is frozen. Pass the platform's context
 * (anything with waitUntil) if you have it. Resolves at once when waitUntil took the flush,
 * else when the flush ends or flushTimeoutMs passes. Never rejects.
 */
export function flushBeforeFreeze(context?: unknown): Promise<void> {
  const client = getClient();
  if (!client || client.pending === 0) return Promise.resolve();
  const ms = client.options.flushTimeoutMs ?? 2000;
  const done = client.flush(ms).then(
    () => undefined,
    () => undefined,
  );
  const waitUntil = findWaitUntil(context === undefined ? [] : [context]);
  if (waitUntil) {
    try {
      waitUntil(done);
      return Promise.resolve();
    } catch {
      // fall back to waiting
    }
  }
  return done;
}

function requestOf(arg: unknown): { method?: string; url?: string } | undefined {
  const url = get(arg, 'url');
  const method = get(arg, 'method');
  return typeof url === 'string' ? { url, method: typeof method === 'string' ? method : undefined } : undefined;
}

/**
 * Wrap a serverless handler (Vercel Node `(req, res)`, edge `(request, ctx)`, Cloudflare
 * `fetch(request, env, ctx)`): an error is reported with the request and rethrown, and what
 * was captured during the call is delivered before the function freezes.
 */
export function wrapHandler<A extends unknown[], R>(handler: (...args: A) => R | Promise<R>): (...args: A) => Promise<R> {
  return function (this: unknown, ...args: A): Promise<R> {
    // Each invocation in a scope of its own: warm instances serve many requests, concurrently on edge.
    const run = (): Promise<R> => invoke(this, handler, args);
    const client = getClient();
    const req = requestOf(args[0]);
    return client ? client.withScope(run, req?.url ? { method: req.method ?? 'GET', url: req.url } : undefined) : run();
  };
}

async function invoke<A extends unknown[], R>(self: unknown, handler: (...args: A) => R | Promise<R>, args: A): Promise<R> {
  const context = args.find((a) => typeof get(a, 'waitUntil') === 'function');
  try {
    const result = await handler.apply(self, args);
    await flushBeforeFreeze(context);
    return result;
  } catch (err) {
    getClient()?.captureException(err, { request: requestOf(args[0]), mechanism: 'serverless' });
    await flushBeforeFreeze(context);
    throw err;
  }
}

interface NextRequestInfo {
  path?: string;
  method?: string;
}
interface NextErrorContext {
  routerKind?: string;
  routePath?: string;
  routeType?: string;
}

/**
 * Next.js `onRequestError` (instrumentation.ts): `export const onRequestError = captureRequestError;`
 * Works in the Node and the edge runtime.
 */
export function captureRequestError(error: unknown, request?: NextRequestInfo, context?: NextErrorContext): Promise<void> {
  const tags: Record<string, string> = {};
  const route = get(context, 'routePath');
  if (typeof route === 'string') tags.route = route;
  const kind = get(context, 'routerKind');
  if (typeof kind === 'string') tags.router_kind = kind;
  const type = get(context, 'routeType');
  if (typeof type === 'string') tags.route_type = type;
  const path = get(request, 'path');
  const method = get(request, 'method');
  getClient()?.captureException(error, {
    tags,
    request: typeof path === 'string' ? { url: path, method: typeof method === 'string' ? method : undefined } : undefined,
    mechanism: 'nextjs',
  });
  return flushBeforeFreeze();
}
