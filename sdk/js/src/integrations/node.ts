/**
 * Node integrations. Uncaught errors are seen through 'uncaughtExceptionMonitor', which
 * observes without changing what Node does next (print, exit code 1). Delivery happens in
 * the 'exit' event, synchronously and bounded, through a worker thread: the process dies
 * exactly as it would have, with its own output, only up to shutdownTimeoutMs later.
 */

import diagnostics from 'node:diagnostics_channel';
import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { get } from '../event.js';
import type { Client } from '../client.js';
import type { NodeClient } from '../client.node.js';
import type { Scope } from '../scope.js';
import { OWN_REQUEST } from '../transports/node.js';
import { httpCrumb } from './fetch.js';
import type { Options } from '../types.js';

/**
 * The request whose wrapped handler is throwing synchronously right now. The wrapper does
 * not catch (a rethrow from SDK code would make Node print the SDK's line above the app's
 * error); it notes the request, and the uncaught monitor, which runs before the next
 * microtask, attaches it.
 */
let throwingRequest: { method: string; url: string } | undefined;
/** Likewise the scope of the request whose 'request' listener is throwing synchronously. */
let throwingScope: Scope | undefined;

function noteThrowing(request: { method: string; url: string } | undefined, scope: Scope | undefined): void {
  throwingRequest = request;
  throwingScope = scope;
  queueMicrotask(() => {
    throwingRequest = undefined;
    throwingScope = undefined;
  });
}

type RejectionMode = 'throw' | 'strict' | 'warn' | 'none' | 'warn-with-error-code';

/** The --unhandled-rejections mode, from the command line or NODE_OPTIONS; Node's default is "throw". */
export function rejectionMode(execArgv: readonly string[], nodeOptions: string | undefined): RejectionMode {
  const args = [...(nodeOptions ? nodeOptions.split(/\s+/) : []), ...execArgv];
  let mode: string | undefined;
  args.forEach((a, i) => {
    if (a.startsWith('--unhandled-rejections=')) mode = a.slice(23);
    else if (a === '--unhandled-rejections') mode = args[i + 1];
  });
  return mode === 'strict' || mode === 'warn' || mode === 'none' || mode === 'warn-with-error-code' ? mode : 'throw';
}

export function installProcessHandlers(client: NodeClient, options: Options): () => void {
  const shutdownMs = typeof options.shutdownTimeoutMs === 'number' ? options.shutdownTimeoutMs : 2000;
  const undo: Array<() => void> = [];
  const on = (event: string, fn: (...a: any[]) => void): void => {
    process.on(event, fn);
    undo.push(() => process.removeListener(event, fn));
  };

  if (options.captureUnhandled !== false) {
    // Called for every uncaught exception, including rejections Node raises as one
    // (mode throw/strict), before Node's own handling, which it leaves untouched.
    on('uncaughtExceptionMonitor', (error: unknown, origin: string) => {
      const request = origin === 'unhandledRejection' ? undefined : throwingRequest;
      const scope = origin === 'unhandledRejection' ? undefined : throwingScope;
      throwingRequest = undefined;
      throwingScope = undefined;
      // Without an app listener Node exits right after this: the event is fatal.
      const fatal = process.listenerCount('uncaughtException') === 0;
      client.captureException(error, { request, scope, fatal, mechanism: request ? 'http' : origin === 'unhandledRejection' ? 'unhandledRejection' : 'uncaughtException' });
    });

    // An 'unhandledRejection' listener changes Node's behaviour in modes throw and
    // warn-with-error-code (the rejection no longer kills the process / sets the exit
    // code). There we listen only while the app has a listener of its own, i.e. when the
    // app already decided the rejection is not fatal. In strict mode the monitor sees all.
    const mode = rejectionMode(process.execArgv, process.env.NODE_OPTIONS);
    const onRejection = (reason: unknown): void => {
      client.captureException(reason, { mechanism: 'unhandledRejection' });
    };
    let listening = false;
    const others = (): number => process.listeners('unhandledRejection').filter((l) => l !== onRejection).length;
    const update = (appAdding: boolean): void => {
      const want = mode === 'warn' || mode === 'none' || ((mode === 'throw' || mode === 'warn-with-error-code') && (appAdding || others() > 0));
      if (want && !listening) process.on('unhandledRejection', onRejection);
      if (!want && listening) process.removeListener('unhandledRejection', onRejection);
      listening = want;
    };
    if (mode !== 'strict') {
      const onNew = (event: string | symbol, fn: unknown): void => {
        if (event === 'unhandledRejection' && fn !== onRejection) update(true);
      };
      const onRemoved = (event: string | symbol, fn: unknown): void => {
        if (event === 'unhandledRejection' && fn !== onRejection) update(false);
      };
      update(false);
      on('newListener', onNew);
      on('removeListener', onRemoved);
      undo.push(() => {
        if (listening) process.removeListener('unhandledRejection', onRejection);
        listening = false;
      });
    }
  }

  // Natural exit: the loop is empty but events are queued (the SDK's sockets and timers
  // are unref'd). Flush asynchronously once per batch of new captures, bounded.
  let triedAt = -1;
  on('beforeExit', () => {
    const captured = client.getStats().captured;
    if (client.pending === 0 || triedAt === captured) return;
    triedAt = captured;
    void client.flush(shutdownMs);
  });
  // process.exit(), a fatal exception, or whatever beforeExit could not finish: the last
  // chance, synchronous. Skipped when beforeExit already spent its time on these events.
  // Either way nothing is sent after this: what is left counts as dropped (`shutdown`).
  on('exit', () => {
    if (client.pending === 0) return;
    if (triedAt !== client.getStats().captured) client.flushSync(shutdownMs);
    client.abandon();
  });

  return () => undo.forEach((f) => f());
}

function requestUrl(req: ClientRequest): string {
  const host = get(req, 'host');
  const hostHeader = req.getHeader('host');
  return `${String(get(req, 'protocol') ?? 'http:')}//${String(hostHeader ?? host ?? '')}${String(get(req, 'path') ?? '')}`;
}

/** Outgoing http(s) and fetch (undici) calls, via diagnostics_channel: nothing is patched. */
export function instrumentHttp(client: Client): () => void {
  const subs: Array<[string, (m: any) => void]> = [
    [
      'http.client.response.finish',
      (m) => {
        if (m.request?.[OWN_REQUEST]) return;
        httpCrumb(client, String(m.request?.method ?? 'GET'), requestUrl(m.request), m.response?.statusCode);
      },
    ],
    [
      'http.client.request.error',
      (m) => {
        if (m.request?.[OWN_REQUEST]) return;
        httpCrumb(client, String(m.request?.method ?? 'GET'), requestUrl(m.request), undefined);
      },
    ],
    [
      'undici:request:headers',
      (m) => httpCrumb(client, String(m.request?.method ?? 'GET'), `${m.request?.origin ?? ''}${m.request?.path ?? ''}`, m.response?.statusCode),
    ],
    [
      'undici:request:error',
      (m) => httpCrumb(client, String(m.request?.method ?? 'GET'), `${m.request?.origin ?? ''}${m.request?.path ?? ''}`, undefined),
    ],
  ];
  const active: Array<() => void> = [];
  for (const [name, fn] of subs) {
    const safe = (m: unknown): void => {
      try {
        fn(m);
      } catch {
        // a breadcrumb is never worth an exception in the host's request path
      }
    };
    const ch = diagnostics.channel(name);
    ch.subscribe(safe);
    active.push(() => ch.unsubscribe(safe));
  }
  return () => active.forEach((f) => f());
}

/**
 * Every incoming request of every http and https server runs its 'request' listeners (Express,
 * Next.js, a plain handler) in a scope of its own, kept across awaits by AsyncLocalStorage:
 * a tag or breadcrumb added while serving one request never shows up on another's error. As
 * @sentry/node does, Server.prototype.emit is wrapped, because diagnostics_channel's
 * http.server.request.start could only enterWith(), which would leak the scope into whatever
 * the parser runs next on that socket.
 */
export function isolateRequests(client: Client): () => void {
  const undo: Array<() => void> = [];
  for (const proto of [http.Server.prototype, https.Server.prototype] as Array<{ emit: (...a: any[]) => boolean }>) {
    const own = Object.prototype.hasOwnProperty.call(proto, 'emit');
    const original = proto.emit;
    const emit = function (this: unknown, event: string | symbol, ...args: unknown[]): boolean {
      if (event !== 'request') return original.call(this, event, ...args);
      let request: { method: string; url: string } | undefined;
      try {
        request = incomingRequest(args[0]);
      } catch {
        request = undefined;
      }
      let scope: Scope | undefined;
      let returned = false;
      try {
        const result = client.withScope(() => {
          scope = client.scope();
          return original.call(this, event, ...args);
        }, request);
        returned = true;
        return result;
      } finally {
        // No catch and rethrow: Node would print this line above the app's error.
        if (!returned) noteThrowing(request, scope);
      }
    };
    proto.emit = emit;
    undo.push(() => {
      if (proto.emit !== emit) return; // someone wrapped on top of us: leave theirs in place
      if (own) proto.emit = original;
      else delete (proto as { emit?: unknown }).emit;
    });
  }
  return () => undo.forEach((f) => f());
}

/** method and absolute URL of an incoming request; never headers, cookies or body. */
export function incomingRequest(req: unknown): { method: string; url: string } | undefined {
  if (!req || typeof req !== 'object') return undefined;
  const method = get(req, 'method');
  const path = get(req, 'originalUrl') ?? get(req, 'url');
  if (typeof path !== 'string') return undefined;
  const headers = get(req, 'headers');
  const host = get(headers, 'host');
  const proto = get(req, 'protocol') ?? (get(get(req, 'socket'), 'encrypted') ? 'https' : 'http');
  const url = typeof host === 'string' && path.startsWith('/') ? `${String(proto)}://${host}${path}` : path;
  return { method: typeof method === 'string' ? method : 'GET', url };
}

type Next = (err?: unknown) => void;

/**
 * Express error middleware (`app.use(expressErrorHandler())`, after the routes): reports the
 * error with the request's method and URL, then passes it on unchanged.
 */
export function expressErrorHandler(client: () => Client | undefined) {
  return function stacklineErrorHandler(err: unknown, req: unknown, _res: unknown, next: Next): void {
    client()?.captureException(err, { request: incomingRequest(req), mechanism: 'express' });
    next(err);
  };
}

/**
 * Wrap a plain `http.createServer` handler so its errors are reported with the request.
 * Nothing is swallowed: a synchronous throw still propagates untouched (see
 * throwingRequest), a rejection still rejects the returned promise, so the server behaves
 * exactly as it did unwrapped.
 */
export function wrapRequestHandler<H extends (req: IncomingMessage, res: ServerResponse) => unknown>(client: () => Client | undefined, handler: H): H {
  return function (this: unknown, req: IncomingMessage, res: ServerResponse): unknown {
    let returned = false;
    let result: unknown;
    try {
      result = handler.call(this, req, res);
      returned = true;
    } finally {
      if (!returned) noteThrowing(incomingRequest(req), client()?.scope());
    }
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<unknown>).then(undefined, (err: unknown) => {
        client()?.captureException(err, { request: incomingRequest(req), mechanism: 'http' });
        throw err;
      });
    }
    return result;
  } as H;
}
