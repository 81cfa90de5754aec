/** The fetch transport for browsers and edge runtimes. */

import type { Transport, TransportResponse } from '../types.js';
import type { TransportConfig } from '../setup.js';

/** Browsers cap the bodies of in-flight keepalive requests at 64 KiB per page. */
export const KEEPALIVE_MAX_BYTES = 60_000;

type FetchFn = typeof fetch;

/**
 * `browser` adds what only browsers take (Cloudflare Workers refuse unknown init fields):
 * keepalive, so a request survives the page being closed; no cookies; and a Referer cut to
 * the origin, so page URLs with secrets in their query do not travel in a header.
 */
export function fetchTransport(cfg: TransportConfig, fetchImpl: FetchFn, browser: boolean): Transport {
  return {
    async send({ body }): Promise<TransportResponse> {
      const ctl = typeof AbortController === 'function' ? new AbortController() : undefined;
      const timer = ctl ? setTimeout(() => ctl.abort(), cfg.timeoutMs) : undefined;
      (timer as { unref?: () => void } | undefined)?.unref?.();
      try {
        const init: RequestInit & { keepalive?: boolean } = {
          method: 'POST',
          headers: { authorization: `Bearer ${cfg.ingestKey}`, 'content-type': 'application/json' },
          body,
          signal: ctl?.signal,
        };
        if (browser) {
          init.keepalive = body.length <= KEEPALIVE_MAX_BYTES;
          init.credentials = 'omit';
          init.referrerPolicy = 'origin';
        }
        const res = await fetchImpl(cfg.url, init);
        const retryAfter = res.headers.get('retry-after');
        // Release the connection without reading a body nobody needs.
        res.body?.cancel().catch(() => undefined);
        return { status: res.status, retryAfter };
      } finally {
        if (timer !== undefined) clearTimeout(timer);
      }
    },
  };
}
