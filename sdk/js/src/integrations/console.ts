/** Console breadcrumbs: each console call is recorded, then the original runs unchanged. */

import { describe } from '../event.js';
import { LOG_PREFIX, type Client } from '../client.js';
import type { Level } from '../types.js';

const METHODS: Array<[keyof Console, Level]> = [
  ['debug', 'debug'],
  ['info', 'info'],
  ['log', 'info'],
  ['warn', 'warning'],
  ['error', 'error'],
];

export function formatArgs(args: unknown[]): string {
  let out = '';
  for (let i = 0; i < args.length && out.length < 1024; i++) {
    out += (i ? ' ' : '') + describe(args[i], 1024);
  }
  return out;
}

export function instrumentConsole(client: Client): () => void {
  if (typeof console === 'undefined') return () => undefined;
  const c = console as unknown as Record<string, unknown>;
  const undo: Array<() => void> = [];
  for (const [name, level] of METHODS) {
    const original = c[name as string];
    if (typeof original !== 'function') continue;
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      if (args.length > 0 && !(typeof args[0] === 'string' && args[0].startsWith(LOG_PREFIX))) {
        client.addBreadcrumb({ category: 'console', message: formatArgs(args), level });
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    c[name as string] = wrapped;
    // Only restore if nobody wrapped on top of us since.
    undo.push(() => {
      if (c[name as string] === wrapped) c[name as string] = original;
    });
  }
  return () => undo.forEach((f) => f());
}
