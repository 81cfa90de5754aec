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
  commitSha?: string;
  environment: string;
  release?: string;
  deployRoot?: string;
  maxBodyBytes?: number;
  /** Per-request scopes (AsyncLocalStorage); without one every call uses the process scope. */
  scopes?: ScopeStore;
  pageUrl?: () => string | undefined;
  serverName?: string;
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
  private readonly _queue: Queue;
  private readonly _scrub: Scrubber;
  /** Process-wide tags (options.tags, setGlobalTag) and the breadcrumbs recorded outside any request. */
  private readonly _global: Scope;
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
    this._scrub = createScrubber(Array.isArray(options.scrubFields) ? options.scrubFields : []);
    this._global = newScope();
    tagsFrom(options.tags, this._global.tags);
    this._scopes = setup.scopes;
    this._pageUrl = setup.pageUrl;
    if (setup.serverName) this._global.tags.server_name = truncate(setup.serverName, LIMITS.tagValue);
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
      transport: setup.transport,
      maxBodyBytes: setup.maxBodyBytes,
      backoffInitialMs: typeof b?.initialMs === 'number' ? b.initialMs : undefined,
      backoffMaxMs: typeof b?.maxMs === 'number' ? b.maxMs : undefined,
      warn: this.log.warn,
      debug: this.log.debug,
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
    try {
      if (typeof error === 'object' && error !== null) {
        if (this._seen.has(error)) return undefined;
        this._seen.add(error);
      }
      const x = exceptionFrom(error);
      const ignored = this._ignored(x);
      if (ignored) return this._refuse(ignored);
      return this._capture(hint, (ev) => {
        ev.exception = this._scrubException(x);
      });
    } catch (e) {
      this.log.debug(`captureException failed: ${describe(e, 200)}`);
      return undefined;
    }
  }

  captureMessage(message: unknown, hintOrLevel?: InternalHint | string): string | undefined {
    try {
      const hint: InternalHint | undefined =
        typeof hintOrLevel === 'string' ? { level: level(hintOrLevel, 'info') } : hintOrLevel;
      return this._capture(hint, (ev) => {
        ev.message = this._scrub.text(describe(message, LIMITS.message));
        ev.level = level(get(hint, 'level'), 'info');
      });
    } catch (e) {
      this.log.debug(`captureMessage failed: ${describe(e, 200)}`);
      return undefined;
    }
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
      if (typeof hook === 'function') {
        const out = hook(crumb);
        crumb = out ? breadcrumbFrom(out, crumb.timestamp) : undefined;
        if (!crumb) return;
      }
      const crumbs = this.scope().crumbs;
      if (crumbs.length >= this._maxCrumbs) crumbs.shift();
      crumbs.push(crumb);
    } catch {
      // never into the host
    }
  }

  /** A tag on the current scope: the request's inside one, else the process's. */
  setTag(key: unknown, value: unknown): void {
    this._tag(this.scope(), key, value);
  }

  setTags(tags: unknown): void {
    tagsFrom(tags, this.scope().tags);
  }

  /** The user of the current scope (null forgets it): `user.id` always, the rest with sendDefaultPii. */
  setUser(user: User | null | undefined): void {
    const d = this._data(this.scope(), 'user.');
    if (!user || typeof user !== 'object') return;
    const pii = this.options.sendDefaultPii === true;
    for (const k of ['id', 'email', 'ip_address', 'username'] as const) {
      const v = get(user, k);
      if ((k === 'id' || pii) && (typeof v === 'string' || typeof v === 'number') && v !== '') d[`user.${k}`] = truncate(String(v), LIMITS.tagValue);
    }
  }

  /** Named data on the current scope's events, as tags `name.key` (null forgets it). */
  setContext(name: string, context: Record<string, unknown> | null | undefined): void {
    const d = this._data(this.scope(), `${name}.`);
    if (context && typeof context === 'object') {
      for (const k of Object.keys(context).slice(0, LIMITS.tags)) {
        const v = get(context, k);
        if (v !== undefined && v !== null) d[truncate(`${name}.${k}`, LIMITS.tagKey)] = this._scrub.text(describe(v, LIMITS.tagValue));
      }
    }
  }

  /** One value on the current scope's events, as the tag `extra.key`. */
  setExtra(key: string, value: unknown): void {
    this.setContext('extra', { ...this._extra(), [key]: value });
  }

  private _extra(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.scope().data ?? {})) if (k.startsWith('extra.')) out[k.slice(6)] = v;
    return out;
  }

  /** The scope's data with every key under `prefix` removed, ready for new ones. */
  private _data(scope: Scope, prefix: string): Record<string, string> {
    const d = (scope.data ??= {});
    for (const k of Object.keys(d)) if (k.startsWith(prefix)) delete d[k];
    return d;
  }

  /** Why an error is not reported (ignoreErrors, denyUrls), if it is not. */
  private _ignored(x: ReturnType<typeof exceptionFrom>): DropReason | undefined {
    const o = this.options;
    const text = `${x.type}: ${x.message}`;
    for (const p of o.ignoreErrors ?? []) {
      if (typeof p === 'string' ? x.type === p || x.message.includes(p) : p.test(text)) return 'ignored';
    }
    if (o.denyUrls?.length) {
      // The top frame's script: the first URL in the stack.
      const top = /\b[a-z][a-z0-9+.-]*:\/\/[^\s)]+/i.exec(x.stack)?.[0] ?? '';
      if (top && o.denyUrls.some((p) => (typeof p === 'string' ? top.includes(p) : p.test(top)))) return 'ignored';
    }
    return undefined;
  }

  private _refuse(reason: DropReason): undefined {
    this._queue.stats.captured++;
    this._queue.drop(reason);
    return undefined;
  }

  /** A tag on every event of the process, whichever request it comes from. */
  setGlobalTag(key: unknown, value: unknown): void {
    this._tag(this._global, key, value);
  }

  private _tag(scope: Scope, key: unknown, value: unknown): void {
    try {
      if (typeof key === 'string') tagsFrom({ [key]: value }, scope.tags);
    } catch {
      // never into the host
    }
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

  /** The process is exiting and nothing more will be sent: what is left is dropped (`shutdown`). */
  abandon(): void {
    this._queue.shutdown();
  }

  /** Last-chance synchronous delivery while a Node process exits. */
  flushSync(timeoutMs: number): void {
    try {
      this._queue.flushSync(timeoutMs);
    } catch {
      // never into the host
    }
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

  private _capture(hint: InternalHint | undefined, fill: (ev: StacklineEvent) => void): string | undefined {
    // Refuse before building anything: a flood must cost next to nothing.
    const fatal = get(hint, 'fatal') === true;
    const refused = this._queue.admit(fatal) ?? (this._sampleRate < 1 && Math.random() >= this._sampleRate ? 'sample_rate' : undefined);
    if (refused) return this._refuse(refused);
    const ev: StacklineEvent = { event_id: uuid4(), timestamp: nowIso(), ...this._base };
    fill(ev);
    // The SDK's own tags first, so that the app's 50 cannot crowd them out (the API refuses
    // more than 50), and again last, so that they keep their values.
    const mechanism = get(hint, 'mechanism');
    const own: Record<string, string> = typeof mechanism === 'string' ? { mechanism, handled: 'no' } : {};
    const scope = (get(hint, 'scope') as Scope | undefined) ?? this.scope();
    const tags = tagsFrom(this._global.tags, { ...own });
    tagsFrom(this._global.data, tags);
    if (scope !== this._global) tagsFrom(scope.tags, tagsFrom(scope.data, tags));
    const page = scope.request ?? (this._pageUrl && { method: 'GET', url: this._pageUrl() ?? '' });
    if (page?.url) ev.request = { method: page.method, url: truncate(this._scrub.url(page.url), LIMITS.url) };
    if (hint) {
      tagsFrom(get(hint, 'tags'), tags);
      Object.assign(tags, own);
      const fp = get(hint, 'fingerprint');
      if (typeof fp === 'string' && fp) ev.fingerprint = truncate(fp, LIMITS.fingerprint);
      const req = get(hint, 'request');
      if (req && typeof req === 'object') {
        const url = get(req, 'url');
        if (typeof url === 'string' && url) {
          const method = get(req, 'method');
          ev.request = {
            method: typeof method === 'string' && method ? truncate(method.toUpperCase(), LIMITS.method) : 'GET',
            url: truncate(this._scrub.url(url), LIMITS.url),
          };
        }
      }
    }
    if (Object.keys(tags).length) ev.tags = tags;
    if (scope.crumbs.length) ev.breadcrumbs = scope.crumbs.slice();
    const final = this._beforeSend(ev);
    if (!final) {
      this._queue.stats.captured++;
      this._queue.drop('before_send');
      return undefined;
    }
    return this._queue.push(final, fatal) ? final.event_id : undefined;
  }

  private _beforeSend(ev: StacklineEvent): StacklineEvent | undefined {
    const hook = this.options.beforeSend;
    if (typeof hook !== 'function') return ev;
    try {
      const out = hook(ev);
      return out ? sanitize(out, ev) : undefined;
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

/** A path cut short would map frames to the wrong files: one past the API's limit is left out. */
function deployRoot(v: unknown): string | undefined {
  return typeof v === 'string' && v && v.length <= LIMITS.deployRoot ? v : undefined;
}

function str(v: unknown, max: number): string | undefined {
  return typeof v === 'string' ? truncate(v, max) : undefined;
}

/**
 * What beforeSend returned, reduced to the wire schema: unknown fields would make the server
 * refuse the event (400) and odd values would make serialization throw. Identity fields
 * (id, platform, sdk, runtime) always come from the original.
 */
export function sanitize(out: unknown, orig: StacklineEvent): StacklineEvent | undefined {
  if (typeof out !== 'object' || out === null) return undefined;
  const ev: StacklineEvent = {
    event_id: orig.event_id,
    timestamp: orig.timestamp,
    platform: orig.platform,
    runtime: orig.runtime,
    sdk: orig.sdk,
  };
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
  const envName = str(get(out, 'environment'), LIMITS.environment);
  if (envName) ev.environment = envName;
  const root = deployRoot(get(out, 'deploy_root'));
  if (root) ev.deploy_root = root;
  const release = str(get(out, 'release'), LIMITS.release);
  if (release) ev.release = release;
  const req = get(out, 'request');
  const url = str(get(req, 'url'), LIMITS.url);
  if (url) ev.request = { method: str(get(req, 'method'), LIMITS.method) || 'GET', url };
  const tags = tagsFrom(get(out, 'tags'), {});
  if (Object.keys(tags).length) ev.tags = tags;
  const crumbs = get(out, 'breadcrumbs');
  if (Array.isArray(crumbs)) {
    const list: Breadcrumb[] = [];
    for (const c of crumbs.slice(-LIMITS.breadcrumbs)) {
      const b = breadcrumbFrom(c, orig.timestamp);
      if (b) list.push(b);
    }
    if (list.length) ev.breadcrumbs = list;
  }
  const fp = str(get(out, 'fingerprint'), LIMITS.fingerprint);
  if (fp) ev.fingerprint = fp;
  return ev;
}

function exceptionShape(x: object, depth: number): StacklineEvent['exception'] {
  const type = str(get(x, 'type'), LIMITS.exceptionType) || 'Error';
  const message = str(get(x, 'message'), LIMITS.message) ?? '';
  const stack = str(get(x, 'stack'), LIMITS.stack) || `${type}: ${message}`;
  const out: NonNullable<StacklineEvent['exception']> = { type, message, stack };
  const cause = get(x, 'cause');
  if (cause && typeof cause === 'object' && depth < LIMITS.causeDepth) out.cause = exceptionShape(cause, depth + 1);
  return out;
}
