/** @stackline/sdk for edge runtimes (Vercel Edge, Next.js middleware, Cloudflare Workers) and any fetch-only runtime. */

import type { Client } from './client.js';
import { instrumentConsole } from './integrations/console.js';
import { instrumentFetch } from './integrations/fetch.js';
import { detectDeploy } from './env.js';
import type { ScopeStore } from './scope.js';
import { setup } from './setup.js';
import { fetchTransport } from './transports/fetch.js';
import type { Options } from './types.js';

export { addBreadcrumb, captureException, captureMessage, close, flush, getClient, getStats, setContext, setExtra, setGlobalTag, setTag, setTags, setUser, withScope } from './api.js';
export { captureRequestError, flushBeforeFreeze, wrapHandler } from './serverless.js';
export { Client, SDK_VERSION } from './client.js';
export type * from './types.js';

declare const EdgeRuntime: string | undefined;

function edgeRuntime(): { name: string; version: string } {
  const g = globalThis as { navigator?: { userAgent?: string }; Deno?: { version?: { deno?: string } }; process?: { versions?: Record<string, string> } };
  if (typeof EdgeRuntime === 'string') return { name: 'vercel-edge', version: EdgeRuntime };
  if (g.navigator?.userAgent === 'Cloudflare-Workers') return { name: 'cloudflare-workers', version: 'unknown' };
  if (g.Deno?.version?.deno) return { name: 'deno', version: g.Deno.version.deno };
  if (g.process?.versions?.node) return { name: 'node', version: g.process.versions.node };
  return { name: 'edge', version: 'unknown' };
}

/** Start the SDK. Reads STACKLINE_INGEST_KEY / STACKLINE_ENDPOINT from process.env where the runtime has one. Never throws. */
export function init(options?: Options): Client {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> }; fetch?: typeof fetch };
  let env: Record<string, string | undefined> = {};
  try {
    env = g.process?.env ?? {};
  } catch {
    // some runtimes throw on process.env access outside a request
  }
  const original = g.fetch;
  // Vercel Edge, Next.js middleware and Cloudflare (nodejs_compat) put it on globalThis.
  const Als = (globalThis as { AsyncLocalStorage?: new () => ScopeStore }).AsyncLocalStorage;
  return setup(options, {
    platform: 'edge',
    scopes: typeof Als === 'function' ? new Als() : undefined,
    runtime: edgeRuntime(),
    env,
    detect: detectDeploy,
    transport: (cfg) => fetchTransport(cfg, original!, false),
    builtIn: ['breadcrumbs'],
    integrate(client, opts) {
      if (opts.breadcrumbs?.console !== false) client.onClose(instrumentConsole(client));
      if (opts.breadcrumbs?.http !== false) client.onClose(instrumentFetch(client, original));
    },
  });
}
