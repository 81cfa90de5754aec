/**
 * `@stackline/sdk/breadcrumbs`: console and fetch breadcrumbs for browsers, kept out of the
 * core bundle. `init({ integrations: [breadcrumbs()] })`; in a page without a bundler, load
 * `stackline.breadcrumbs.min.js` after `stackline.min.js` and pass `Stackline.breadcrumbs()`.
 * Node and edge record both by themselves; there the integration is not installed twice.
 */

import { instrumentConsole } from './integrations/console.js';
import { instrumentFetch } from './integrations/fetch.js';
import type { Integration } from './types.js';

export function breadcrumbs(options: { console?: boolean; http?: boolean } = {}): Integration {
  return {
    name: 'breadcrumbs',
    setup(client) {
      const undo: Array<() => void> = [];
      if (options.console !== false) undo.push(instrumentConsole(client));
      // The fetch the SDK's transport took at init, so that its own requests are not recorded.
      if (options.http !== false) undo.push(instrumentFetch(client, (globalThis as { fetch?: typeof fetch }).fetch));
      return () => undo.forEach((f) => f());
    },
  };
}
