/** @stackline/sdk for Node: process handlers, console and http breadcrumbs, Express and plain http capture, serverless helpers. */

import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, sep } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getClient } from './api.js';
import type { Client } from './client.js';
import { NodeClient } from './client.node.js';
import { setRandomUUID } from './event.js';
import { instrumentConsole } from './integrations/console.js';
import { expressErrorHandler as express, installProcessHandlers, instrumentHttp, isolateRequests, wrapRequestHandler as wrapHttp } from './integrations/node.js';
import type { Scope } from './scope.js';
import { detectDeploy } from './env.js';
import { setup } from './setup.js';
import { nodeTransport } from './transports/node.js';
import type { Options } from './types.js';

export { addBreadcrumb, captureException, captureMessage, close, flush, getClient, getStats, setContext, setExtra, setGlobalTag, setTag, setTags, setUser, withScope } from './api.js';
export { captureRequestError, flushBeforeFreeze, wrapHandler } from './serverless.js';
export { Client, SDK_VERSION } from './client.js';
export type * from './types.js';

function cwd(): string | undefined {
  try {
    return process.cwd();
  } catch {
    return undefined; // the directory was removed under us
  }
}

const ROOT_MARKERS = ['package.json', '.git'];

/**
 * The repository root frames are made relative to: the nearest ancestor of the entry module
 * (process.argv[1]) with a package.json or .git, else the working directory. Not the working
 * directory first: run from / by cron or by absolute path from elsewhere, the same file would
 * get a different path each time. An entry inside node_modules (next, ts-node, pm2) is a
 * tool's: the search starts at the folder that holds that node_modules, the app's.
 */
function findRoot(entry: string | undefined): string | undefined {
  try {
    if (entry) {
      let dir = dirname(realpathSync(entry));
      const nm = dir.indexOf(`${sep}node_modules${sep}`);
      if (nm >= 0) dir = dir.slice(0, nm) || sep;
      else if (dir.endsWith(`${sep}node_modules`)) dir = dirname(dir);
      for (let i = 0; i < 64; i++) {
        if (ROOT_MARKERS.some((m) => existsSync(join(dir, m)))) return dir;
        const parent = dirname(dir);
        if (parent === dir) break;
        dir = parent;
      }
    }
  } catch {
    // no entry file (node -e, a REPL) or an unreadable folder: the working directory
  }
  return cwd();
}

/** Start the SDK. Reads STACKLINE_INGEST_KEY / STACKLINE_ENDPOINT when not given. Never throws. */
export function init(options?: Options): Client {
  setRandomUUID(randomUUID);
  const v = process.versions as Record<string, string | undefined>;
  return setup(options, {
    platform: 'node',
    runtime: v.bun ? { name: 'bun', version: v.bun } : { name: 'node', version: v.node ?? 'unknown' },
    env: process.env,
    detect: detectDeploy,
    deployRoot: findRoot(process.argv[1]),
    serverName: hostname(),
    transport: nodeTransport,
    scopes: new AsyncLocalStorage<Scope>(),
    Client: NodeClient,
    builtIn: ['breadcrumbs'],
    integrate(client, opts) {
      client.onClose(installProcessHandlers(client as NodeClient, opts));
      client.onClose(isolateRequests(client));
      if (opts.breadcrumbs?.console !== false) client.onClose(instrumentConsole(client));
      if (opts.breadcrumbs?.http !== false) client.onClose(instrumentHttp(client));
    },
  });
}

/** Express error middleware: `app.use(expressErrorHandler())` after the routes. Reports, then calls next(err). */
export function expressErrorHandler(): (err: unknown, req: unknown, res: unknown, next: (err?: unknown) => void) => void {
  return express(getClient);
}

/** Wrap an `http.createServer` handler: errors it throws or rejects with are reported with the request, then rethrown. */
export function wrapRequestHandler<H extends (req: IncomingMessage, res: ServerResponse) => unknown>(handler: H): H {
  return wrapHttp(getClient, handler);
}
