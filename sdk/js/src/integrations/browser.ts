/** Browser integrations: window 'error' and 'unhandledrejection', and sending at once when the page is hidden or left. */

import { get } from '../event.js';
import type { Client } from '../client.js';
import type { Options } from '../types.js';

/**
 * Listeners, not window.onerror assignment: nothing the page set is replaced, and the
 * browser still logs the error itself. Bubble-phase 'error' on window sees script errors
 * only, not failed resource loads.
 */
export function installWindowHandlers(client: Client, options: Options): () => void {
  const w = globalThis as unknown as Window;
  if (typeof w.addEventListener !== 'function') return () => undefined;
  const undo: Array<() => void> = [];
  const listen = (target: { addEventListener: Window['addEventListener']; removeEventListener: Window['removeEventListener'] }, type: string, fn: (e: Event) => void): void => {
    const safe = (e: Event): void => {
      try {
        fn(e);
      } catch {
        // never into the page
      }
    };
    target.addEventListener(type, safe);
    undo.push(() => target.removeEventListener(type, safe));
  };

  if (options.captureUnhandled !== false) {
    listen(w, 'error', (e) => {
      const error = get(e, 'error');
      if (error !== undefined && error !== null) {
        client.captureException(error, { mechanism: 'onerror' });
        return;
      }
      const message = String(get(e, 'message') ?? '');
      const file = get(e, 'filename');
      // "Script error." without a file is a cross-origin script hiding its error: nothing to act on.
      if (typeof file !== 'string' || !file) return;
      // No Error object (old browsers, some extensions): a one-frame stack in V8's format, from what the event says.
      client.captureException(
        { name: 'Error', message, stack: `Error: ${message}\n    at ${file}:${Number(get(e, 'lineno')) || 0}:${Number(get(e, 'colno')) || 0}` },
        { mechanism: 'onerror' },
      );
    });
    listen(w, 'unhandledrejection', (e) => {
      client.captureException(get(e, 'reason'), { mechanism: 'onunhandledrejection' });
    });
  }

  // The page may never get another task: start the request now, with keepalive.
  const leave = (): void => client.sendNow();
  listen(w, 'pagehide', leave);
  const d = (w as { document?: Document }).document;
  if (d && typeof d.addEventListener === 'function') {
    listen(d, 'visibilitychange', () => {
      if (d.visibilityState === 'hidden') leave();
    });
  }
  return () => undo.forEach((f) => f());
}

/** "chrome" and "156.0.0.0" from the user agent: what the server groups by, without the rest of the UA. */
const BROWSERS: Array<[RegExp, string]> = [
  [/Edg\/([\d.]+)/, 'edge'],
  [/OPR\/([\d.]+)/, 'opera'],
  [/(?:Firefox|FxiOS)\/([\d.]+)/, 'firefox'],
  [/(?:Chrome|CriOS)\/([\d.]+)/, 'chrome'],
  [/Version\/([\d.]+).*Safari/, 'safari'],
];

export function browserRuntime(ua: string): { name: string; version: string } {
  for (const [re, name] of BROWSERS) {
    const m = re.exec(ua);
    if (m) return { name, version: m[1]! };
  }
  return { name: 'browser', version: 'unknown' };
}
