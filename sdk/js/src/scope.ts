/** Tags and breadcrumbs: one process scope, and one scope per request or async job where the runtime can tell them apart. */

import type { Breadcrumb, RequestInfo } from './types.js';

/** Underscored fields: internal, so that minified bundles shorten their names. */
export interface Scope {
  _tags: Record<string, string>;
  _crumbs: Breadcrumb[];
  /** setUser, setContext and setExtra, already flattened to tags (`user.id`, `cart.items`). */
  _data: Record<string, string>;
  /** The incoming request this scope serves, attached to events captured in it. */
  _request?: RequestInfo | undefined;
}

/**
 * Where the current scope is kept across awaits: AsyncLocalStorage in Node (and in edge
 * runtimes that offer it). Browsers run one page per realm and have none: everything is the
 * process scope there.
 */
export interface ScopeStore {
  getStore(): Scope | undefined;
  run<R>(store: Scope, fn: () => R): R;
}

export function newScope(request?: RequestInfo): Scope {
  return { _tags: {}, _crumbs: [], _data: {}, _request: request };
}
