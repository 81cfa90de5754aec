/**
 * @stackline/sdk for browsers, the core: window errors and rejections, scrubbing, the queue,
 * keepalive delivery when the page goes away. Console and fetch breadcrumbs are an optional
 * integration (`@stackline/sdk/breadcrumbs`), so that the core stays under 5 KB gzipped.
 */

import type { Client } from './client.js';
import { browserRuntime, installWindowHandlers } from './integrations/browser.js';
import { setup } from './setup.js';
import { KEEPALIVE_MAX_BYTES, fetchTransport } from './transports/fetch.js';
import type { Options } from './types.js';

export { addBreadcrumb, captureException, captureMessage, close, flush, getClient, getStats, setContext, setExtra, setGlobalTag, setTag, setTags, setUser, withScope } from './api.js';
export { Client, SDK_VERSION } from './client.js';
export type * from './types.js';

/** Start the SDK: `init({ ingestKey, endpoint, commitSha })`. Never throws. */
export function init(options?: Options): Client {
  const g = globalThis as { fetch?: typeof fetch; navigator?: { userAgent?: string } };
  const original = g.fetch;
  return setup(options, {
    platform: 'browser',
    runtime: browserRuntime(String(g.navigator?.userAgent ?? '')),
    // Batches small enough to ride keepalive, which outlives the page.
    maxBodyBytes: KEEPALIVE_MAX_BYTES,
    pageUrl: () => (globalThis as { location?: { href?: string } }).location?.href,
    transport: (cfg) => fetchTransport(cfg, original!, true),
    integrate(client, opts) {
      client.onClose(installWindowHandlers(client, opts));
    },
  });
}
