/** The client: builds events on the calling thread (cheap, bounded), scrubs them, runs beforeSend and hands them to the queue. */

import { LIMITS, breadcrumbFrom, describe, exceptionFrom, get, level, nowIso, tagsFrom, truncate, uuid4 } from './event.js';
import { Queue } from './queue.js';
import { newScope, type Scope, type ScopeStore } from './scope.js';
import { createScrubber, type Scrubber } from './scrub.js';
import type { Breadcrumb, CaptureHint, DropReason, Options, Platform, RequestInfo, Stats, StacklineEvent, Transport, User } from './types.js';

export const SDK_NAME = 'stackline-js';
export const SDK_VERSION = '0.1.0';

/** What the runtime entry point (node, browser, edge) resolved before building the client. */
export interface ClientSetup {
  platform: Platform;
  runtime: { name: string; version: string };
  transport: Transport;
  enabled: boolean;
  commitSha?: string | undefined;
  environment: string;
  release?: string | undefined;
  deployRoot?: string | undefined;
  maxBodyBytes?: number | undefined;
  /** Per-request scopes (AsyncLocalStorage); without one every call uses the process scope. */
  scopes?: ScopeStore | undefined;
  pageUrl?: (() => string | undefined) | undefined;
  serverName?: string | undefined;
}

/** Internal hint: which automatic mechanism caught the error. */
export interface InternalHint extends CaptureHint {
  mechanism?: string;
  /** The process is dying of this error: it may take the place of a queued event. */
  fatal?: boolean;
  /** The scope the error was thrown in, when the capture runs outside it (uncaught monitor). */
  scope?: Scope;
}

export type Log = (key: string, message: string) => void;

export const LOG_PREFIX = '[stackline]';

/** The SDK's own output; never throws. The console breadcrumb integration skips it by its prefix. */
export function makeLogger(debug: boolean): { warn: Log; debug: (m: string) => void } {
  const seen = new Set<string>();
  const write = (m: string): void => {
    try {
      console.warn(`${LOG_PREFIX} ${m}`);
    } catch {
      // a host that broke console must not break us
    }
  };
  return {
    warn(key, message) {
      if (seen.has(key)) return;
      seen.add(key);
      write(message);
    },
    debug(m) {
      if (debug) write(m);
    },
  };
}

export class Client {
  readonly options: Options;
  /** @internal */
  readonly _queue: Queue;
  private readonly _scrub: Scrubber;
  /** Process-wide tags (options.tags, setGlobalTag) and the breadcrumbs recorded outside any request. */
  private readonly _global: Scope = newScope();
  private readonly _scopes: ScopeStore | undefined;
  private readonly _pageUrl: (() => string | undefined) | undefined;
  private readonly _sampleRate: number;
  private readonly _maxCrumbs: number;
  private readonly _base: Pick<StacklineEvent, 'platform' | 'runtime' | 'sdk' | 'commit_sha' | 'environment' | 'release' | 'deploy_root'>;
  /** Errors already captured (express handler, then the uncaught handler, ...), so one bug is one event. */
  private readonly _seen = new WeakSet<object>();
  private readonly _teardown: Array<() => void> = [];
  readonly log: ReturnType<typeof makeLogger>;

  constructor(options: Options, setup: ClientSetup) {
    this.options = options;
    this.log = makeLogger(options.debug === true);
    this._scrub = createScrubber(options.scrubFields);
    tagsFrom(options.tags, this._global._tags);
    this._scopes = setup.scopes;
    this._pageUrl = setup.pageUrl;
    if (setup.serverName) this._global._tags.server_name = truncate(setup.serverName, LIMITS.tagValue);
    const rate = Number(options.sampleRate ?? 1);
    this._sampleRate = rate >= 0 && rate <= 1 ? rate : 1;
    const mb = Number(options.maxBreadcrumbs);
    this._maxCrumbs = Number.isFinite(mb) ? Math.max(0, Math.min(LIMITS.breadcrumbs, Math.floor(mb))) : LIMITS.breadcrumbs;
    this._base = {
      platform: setup.platform,
      runtime: { name: truncate(setup.runtime.name, LIMITS.nameVersion), version: truncate(setup.runtime.version, LIMITS.nameVersion) },
      sdk: { name: SDK_NAME, version: SDK_VERSION },
      environment: truncate(setup.environment, LIMITS.environment),
    };
    if (setup.commitSha) this._base.commit_sha = setup.commitSha;
    if (setup.release) this._base.release = truncate(setup.release, LIMITS.release);
    const root = deployRoot(setup.deployRoot);
    if (root) this._base.deploy_root = root;
    const b = options.backoff;
    this._queue = new Queue({
      _transport: setup.transport,
      _maxBodyBytes: setup.maxBodyBytes,
      _initialMs: num(b?.initialMs),
      _maxMs: num(b?.maxMs),
      _warn: this.log.warn,
      _debug: this.log.debug,
    });
    if (!setup.enabled) this._queue.disable();
  }

  /** Integrations register their uninstall functions here; close() runs them. */
  onClose(fn: () => void): void {
    this._teardown.push(fn);
  }

  /** Whether captures can still be sent: not disabled, not shut down. */
  get enabled(): boolean {
    return this._queue.open;
  }

  captureException(error: unknown, hint?: InternalHint): string | undefined {
    if (typeof error === 'object' && error !== null) {
      if (this._seen.has(error)) return undefined;
      this._seen.add(error);
    }
    return this._capture(hint, (ev) => {
      const x = exceptionFrom(error);
      const ignored = this._ignored(x);
      if (!ignored) ev.exception = this._scrubException(x);
      return ignored;
    });
  }

  captureMessage(message: unknown, hintOrLevel?: InternalHint | string): string | undefined {
    const hint: InternalHint | undefined = typeof hintOrLevel === 'string' ? { level: level(hintOrLevel, 'info') } : hintOrLevel;
    return this._capture(hint, (ev) => {
      ev.message = this._scrub.text(describe(message, LIMITS.message));
      ev.level = level(get(hint, 'level'), 'info');
      return undefined;
    });
  }

  /** The scope of the request or job running now, else the process scope. */
  scope(): Scope {
    return this._scopes?.getStore() ?? this._global;
  }

  /**
   * Run fn in a scope of its own (a request, a job): tags and breadcrumbs added while it runs,
   * across awaits, stay on its events. It starts empty; the process-wide tags still apply.
   */
  withScope<R>(fn: () => R, request?: RequestInfo): R {
    const store = this._scopes;
    return store ? store.run(newScope(request), fn) : fn();
  }

  addBreadcrumb(input: unknown): void {
    try {
      if (this._maxCrumbs === 0 || !this.enabled) return;
      let crumb = breadcrumbFrom(input, nowIso());
      if (!crumb) return;
      // Bounded again once scrubbed: `token=x` becomes the longer `token=[Filtered]`.
      crumb.message = truncate(this._scrub.text(crumb.message), LIMITS.breadcrumbMessage);
      const hook = this.options.beforeBreadcrumb;
      if (hook) {
        const out = hook(crumb);
        crumb = out ? breadcrumbFrom(out, crumb.timestamp) : undefined;
        if (!crumb) return;
      }
      const crumbs = this.scope()._crumbs;
      if (crumbs.length >= this._maxCrumbs) crumbs.shift();
      crumbs.push(crumb);
    } catch {
      // never into the host
    }
  }

  /** A tag on the current scope: the request's inside one, else the process's. */
  setTag(key: unknown, value: unknown): void {
    if (typeof key === 'string') this.setTags({ [key]: value });
  }

  setTags(tags: unknown): void {
    tagsFrom(tags, this.scope()._tags);
  }

  /** A tag on every event of the process, whichever request it comes from. */
  setGlobalTag(key: unknown, value: unknown): void {
    if (typeof key === 'string') tagsFrom({ [key]: value }, this._global._tags);
  }

  /** The user of the current scope (null forgets it): `user.id` always, the rest with sendDefaultPii. */
  setUser(user: User | null | undefined): void {
    const pii = this.options.sendDefaultPii === true;
    const out: Record<string, string> = {};
    for (const k of ['id', 'email', 'ip_address', 'username']) {
      const v = get(user, k);
      if ((k === 'id' || pii) && (typeof v === 'string' || typeof v === 'number') && v !== '') out[k] = String(v);
    }
    this._set('user', out);
  }

  /** Named data on the current scope's events, as tags `name.key` (null forgets it). */
  setContext(name: string, context: Record<string, unknown> | null | undefined): void {
    this._set(name, context, true);
  }

  /** One value on the current scope's events, as the tag `extra.key`. */
  setExtra(key: string, value: unknown): void {
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.scope()._data)) if (k.startsWith('extra.')) extra[k.slice(6)] = v;
    extra[key] = value;
    this._set('extra', extra, true);
  }

  /** Replace the scope's data under `name.` with `values`, flattened to bounded (and, but for the user's, scrubbed) tags. */
  private _set(name: string, values: unknown, scrub?: boolean): void {
    const d = this.scope()._data;
    for (const k of Object.keys(d)) if (k.startsWith(`${name}.`)) delete d[k];
    if (values && typeof values === 'object') {
      for (const k of Object.keys(values).slice(0, LIMITS.tags)) {
        const v = get(values, k);
        if (v !== undefined && v !== null) {
          const s = describe(v, LIMITS.tagValue);
          d[truncate(`${name}.${k}`, LIMITS.tagKey)] = scrub ? this._scrub.text(s) : s;
        }
      }
    }
  }

  /** Why an error is not reported (ignoreErrors, denyUrls), if it is not. */
  private _ignored(x: ReturnType<typeof exceptionFrom>): DropReason | undefined {
    const o = this.options;
    const text = `${x.type}: ${x.message}`;
    // The top frame's script: the first URL in the stack.
    const top = o.denyUrls?.length ? /\b[a-z][a-z0-9+.-]*:\/\/[^\s)]+/i.exec(x.stack)?.[0] : undefined;
    if (
      o.ignoreErrors?.some((p) => (typeof p === 'string' ? x.type === p || x.message.includes(p) : p.test(text))) ||
      (top && o.denyUrls?.some((p) => (typeof p === 'string' ? top.includes(p) : p.test(top))))
    )
      return 'ignored';
    return undefined;
  }

  /** Wait until everything queued is delivered (or given up on); false at the timeout. */
  flush(timeoutMs = 2000): Promise<boolean> {
    try {
      return this._queue.flush(timeoutMs);
    } catch {
      return Promise.resolve(false);
    }
  }

  /** Flush, then stop: integrations are removed and later captures are dropped. */
  async close(timeoutMs = 2000): Promise<boolean> {
    const ok = await this.flush(timeoutMs);
    this.shutdown();
    return ok;
  }

  /** Remove integrations and stop, now: what is still queued is dropped (`shutdown`). */
  shutdown(): void {
    for (const fn of this._teardown.splice(0)) {
      try {
        fn();
      } catch {
        // keep removing the others
      }
    }
    this._queue.shutdown();
  }

  /** Send now rather than on the next tick (the page is being hidden). */
  sendNow(): void {
    try {
      this._queue.sendNow();
    } catch {
      // never into the host
    }
  }

  get pending(): number {
    return this._queue.size;
  }

  getStats(): Stats {
    const s = this._queue.stats;
    return { ...s, droppedBy: { ...s.droppedBy } };
  }

  /** `fill` builds the payload once the event is admitted; it may still refuse it (ignoreErrors). Never throws. */
  private _capture(hint: InternalHint | undefined, fill: (ev: StacklineEvent) => DropReason | undefined): string | undefined {
    const q = this._queue;
    try {
      // Refuse before building anything: a flood must cost next to nothing.
      const fatal = get(hint, 'fatal') === true;
      const ev: StacklineEvent = { event_id: '', timestamp: '', ...this._base };
      let refused = q.admit(fatal) ?? (Math.random() >= this._sampleRate ? 'sample_rate' : fill(ev));
      if (!refused) {
        ev.event_id = uuid4();
        ev.timestamp = nowIso();
        // The SDK's own tags first, so that the app's 50 cannot crowd them out (the API refuses
        // more than 50), and again last, so that they keep their values.
        const mechanism = get(hint, 'mechanism');
        const own: Record<string, string> = typeof mechanism === 'string' ? { mechanism, handled: 'no' } : {};
        const scope = (get(hint, 'scope') as Scope | undefined) ?? this.scope();
        const g = this._global;
        const tags = tagsFrom(g._data, tagsFrom(g._tags, { ...own }));
        if (scope !== g) tagsFrom(scope._tags, tagsFrom(scope._data, tags));
        const req = get(hint, 'request');
        const page = typeof get(req, 'url') === 'string' && get(req, 'url') ? req : scope._request ?? { url: this._pageUrl?.() };
        const url = get(page, 'url');
        const method = get(page, 'method');
        if (typeof url === 'string' && url) {
          ev.request = {
            method: typeof method === 'string' && method ? truncate(method.toUpperCase(), LIMITS.method) : 'GET',
            url: truncate(this._scrub.url(url), LIMITS.url),
          };
        }
        tagsFrom(get(hint, 'tags'), tags);
        Object.assign(tags, own);
        const fp = get(hint, 'fingerprint');
        if (typeof fp === 'string' && fp) ev.fingerprint = truncate(fp, LIMITS.fingerprint);
        if (Object.keys(tags).length) ev.tags = tags;
        if (scope._crumbs.length) ev.breadcrumbs = scope._crumbs.slice();
        const final = this._beforeSend(ev);
        if (final) return q.push(final, fatal) ? final.event_id : undefined;
        refused = 'before_send';
      }
      q.stats.captured++;
      q.drop(refused);
    } catch (e) {
      this.log.debug(`capture failed: ${describe(e, 200)}`);
    }
    return undefined;
  }

  private _beforeSend(ev: StacklineEvent): StacklineEvent | undefined {
    const hook = this.options.beforeSend;
    try {
      return hook ? sanitize(hook(ev), ev) : ev;
    } catch (e) {
      // Unknown whether the hook finished scrubbing: the safe choice is not to send.
      this.log.warn('beforeSend', `beforeSend threw; the event was dropped (${describe(e, 200)})`);
      return undefined;
    }
  }

  private _scrubException(x: ReturnType<typeof exceptionFrom>): ReturnType<typeof exceptionFrom> {
    x.message = this._scrub.text(x.message);
    x.stack = this._scrub.text(x.stack);
    if (x.cause) this._scrubException(x.cause);
    return x;
  }
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/** A path cut short would map frames to the wrong files: one past the API's limit is left out. */
function deployRoot(v: unknown): string | undefined {
  return typeof v === 'string' && v && v.length <= LIMITS.deployRoot ? v : undefined;
}

function str(v: unknown, max: number): string | undefined {
  return typeof v === 'string' && v ? truncate(v, max) : undefined;
}

/**
 * What beforeSend returned, reduced to the wire schema: unknown fields would make the server
 * refuse the event (400) and odd values would make serialization throw. Identity fields
 * (id, platform, sdk, runtime) always come from the original.
 */
export function sanitize(out: unknown, orig: StacklineEvent): StacklineEvent | undefined {
  if (typeof out !== 'object' || out === null) return undefined;
  const { event_id, timestamp, platform, runtime, sdk } = orig;
  const ev: StacklineEvent = { event_id, timestamp, platform, runtime, sdk };
  const ex = get(out, 'exception');
  if (ex && typeof ex === 'object') ev.exception = exceptionShape(ex, 0);
  const message = get(out, 'message');
  if (typeof message === 'string') {
    ev.message = truncate(message, LIMITS.message);
    ev.level = level(get(out, 'level'), 'info');
  }
  if (!ev.exception && ev.message === undefined) return undefined;
  const sha = get(out, 'commit_sha');
  if (typeof sha === 'string' && /^[0-9a-f]{40}$/.test(sha)) ev.commit_sha = sha;
  ev.environment = str(get(out, 'environment'), LIMITS.environment);
  ev.deploy_root = deployRoot(get(out, 'deploy_root'));
  ev.release = str(get(out, 'release'), LIMITS.release);
  ev.fingerprint = str(get(out, 'fingerprint'), LIMITS.fingerprint);
  const req = get(out, 'request');
  const url = str(get(req, 'url'), LIMITS.url);
  if (url) ev.request = { method: str(get(req, 'method'), LIMITS.method) || 'GET', url };
  const tags = tagsFrom(get(out, 'tags'), {});
  if (Object.keys(tags).length) ev.tags = tags;
  const crumbs = get(out, 'breadcrumbs');
  if (Array.isArray(crumbs)) {
    const list = crumbs.slice(-LIMITS.breadcrumbs).map((c) => breadcrumbFrom(c, orig.timestamp)).filter((b): b is Breadcrumb => !!b);
    if (list.length) ev.breadcrumbs = list;
  }
  // Absent rather than undefined: JSON leaves undefined out, and so must the tests' deepEqual.
  for (const k of Object.keys(ev) as Array<keyof StacklineEvent>) if (ev[k] === undefined) delete ev[k];
  return ev;
}

function exceptionShape(x: object, depth: number): StacklineEvent['exception'] {
  const type = str(get(x, 'type'), LIMITS.exceptionType) || 'Error';
  const message = typeof get(x, 'message') === 'string' ? truncate(get(x, 'message') as string, LIMITS.message) : '';
  const out: NonNullable<StacklineEvent['exception']> = { type, message, stack: str(get(x, 'stack'), LIMITS.stack) || `${type}: ${message}` };
  const cause = get(x, 'cause');
  if (cause && typeof cause === 'object' && depth < LIMITS.causeDepth) out.cause = exceptionShape(cause, depth + 1);
  return out;
}
