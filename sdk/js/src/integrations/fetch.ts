/** fetch breadcrumbs for browsers and edge runtimes: wrap globalThis.fetch, record method, scrubbed URL and status. */

import { get } from '../event.js';
import type { Client } from '../client.js';

export function httpCrumb(client: Client, method: string, url: string, status: number | undefined): void {
  client.addBreadcrumb({
    category: 'http',
    message: `${method.toUpperCase()} ${url}${status ? ` [${status}]` : ' [failed]'}`,
    level: !status || status >= 500 ? 'error' : status >= 400 ? 'warning' : 'info',
  });
}

/** `original` is the fetch the SDK's own transport keeps, so ingest requests are never recorded. */
export function instrumentFetch(client: Client, original: typeof fetch | undefined): () => void {
  const g = globalThis as { fetch?: typeof fetch };
  if (typeof original !== 'function' || g.fetch !== original) return () => undefined;
  const wrapped = function (input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    let method = 'GET';
    let url = '';
    try {
      const m = get(init, 'method') ?? get(input, 'method');
      if (typeof m === 'string') method = m;
      url = typeof input === 'string' ? input : String(get(input, 'url') ?? input);
    } catch {
      // record what we have
    }
    const p = original(input, init);
    p.then(
      (res) => httpCrumb(client, method, url, res.status),
      () => httpCrumb(client, method, url, undefined),
    );
    return p;
  } as typeof fetch;
  g.fetch = wrapped;
  return () => {
    if (g.fetch === wrapped) g.fetch = original;
  };
}
