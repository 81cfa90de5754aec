/** Shared init: resolve key, endpoint and deploy facts, validate, build the client, install integrations. */

import { setClient } from './api.js';
import { Client, makeLogger } from './client.js';
import { get } from './event.js';
import { normalizeSha, type Deploy, type Env } from './env.js';
import type { ScopeStore } from './scope.js';
import type { Options, Platform, Transport } from './types.js';

const KEY = /^slk_[0-9A-Za-z]{42}$/;

export interface TransportConfig {
  url: string;
  ingestKey: string;
  timeoutMs: number;
}

export interface Runtime {
  platform: Platform;
  runtime: { name: string; version: string };
  env?: Env;
  /** Commit and environment from the host's variables; browsers have none to read. */
  detect?: (env: Env) => Deploy;
  deployRoot?: string;
  maxBodyBytes?: number;
  scopes?: ScopeStore;
  /** Browser: the page's URL, sent as the request of events that have none. */
  pageUrl?: () => string | undefined;
  /** Node: the host name, the default serverName. */
  serverName?: string;
  transport(config: TransportConfig): Transport;
  /** The client class: Node's adds the synchronous exit flush. */
  Client?: typeof Client;
  /** Installs the runtime's integrations on an enabled client (uninstallers go to client.onClose). */
  integrate(client: Client, options: Options): void;
  /** Integrations (by name) the runtime installs itself: one passed in options is not installed twice. */
  builtIn?: string[];
}

export function ingestUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/api/ingest`;
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

const OPTION_KEYS = [
  'ingestKey', 'endpoint', 'environment', 'release', 'commitSha', 'deployRoot', 'tags', 'beforeSend', 'beforeBreadcrumb',
  'scrubFields', 'maxBreadcrumbs', 'breadcrumbs', 'captureUnhandled', 'transport', 'timeoutMs', 'shutdownTimeoutMs',
  'flushTimeoutMs', 'backoff', 'enabled', 'debug', 'sampleRate', 'ignoreErrors', 'denyUrls', 'serverName', 'sendDefaultPii',
  'integrations',
] as const;

/** `v` if it is an array, with only the elements `keep` accepts (a hostile array: undefined). */
function only<T>(v: unknown, keep: (x: unknown) => boolean): T[] | undefined {
  try {
    return Array.isArray(v) ? (v.filter(keep) as T[]) : undefined;
  } catch {
    return undefined;
  }
}

const pattern = (p: unknown): boolean => typeof p === 'string' || p instanceof RegExp;

/** A plain copy of what the host passed: whatever it is (a proxy, a getter that throws), it is read once, here. */
function readOptions(input: unknown): Options {
  const out: Record<string, unknown> = {};
  for (const k of OPTION_KEYS) {
    const v = get(input, k);
    if (v !== undefined) out[k] = v;
  }
  for (const k of ['breadcrumbs', 'backoff'] as const) {
    const v = out[k];
    if (v !== undefined) out[k] = typeof v === 'object' && v !== null ? readNested(v) : undefined;
  }
  if (typeof get(out.transport, 'send') !== 'function') out.transport = undefined;
  for (const k of ['beforeSend', 'beforeBreadcrumb'] as const) if (typeof out[k] !== 'function') out[k] = undefined;
  out.scrubFields = only(out.scrubFields, (f) => typeof f === 'string');
  out.ignoreErrors = only(out.ignoreErrors, pattern);
  out.denyUrls = only(out.denyUrls, pattern);
  out.integrations = only(out.integrations, (x) => typeof get(x, 'setup') === 'function');
  return out as Options;
}

function readNested(v: object): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of ['console', 'http', 'initialMs', 'maxMs']) {
    const x = get(v, k);
    if (x !== undefined) o[k] = x;
  }
  return o;
}

const NOWHERE: Transport = { send: () => Promise.resolve({ status: 0 }) };

/**
 * Never throws: a missing or malformed key or endpoint logs one warning and returns a
 * disabled client (captures become counted no-ops) so the app carries on.
 */
export function setup(input: Options | undefined, rt: Runtime): Client {
  try {
    return build(readOptions(input), rt);
  } catch (e) {
    makeLogger(false).warn('init', `init failed (${String(get(e, 'message'))}); Stackline is disabled`);
    const client = new Client({}, { platform: rt.platform, runtime: rt.runtime, transport: NOWHERE, enabled: false, environment: 'production' });
    setClient(client);
    return client;
  }
}

function build(options: Options, rt: Runtime): Client {
  const log = makeLogger(options.debug === true);
  const env = rt.env ?? {};
  const deploy: Deploy = rt.detect ? rt.detect(env) : { environment: 'production' };
  const ingestKey = nonEmpty(options.ingestKey) ?? nonEmpty(env.STACKLINE_INGEST_KEY);
  const endpoint = nonEmpty(options.endpoint) ?? nonEmpty(env.STACKLINE_ENDPOINT);
  const problem =
    options.enabled === false || options.transport
      ? undefined
      : !ingestKey
        ? 'no ingest key (ingestKey or STACKLINE_INGEST_KEY)'
        : !KEY.test(ingestKey)
          ? 'the ingest key is malformed (slk_ and 42 letters or digits)'
          : !endpoint || !/^https?:\/\/[^/?#]+/i.test(endpoint)
            ? 'no endpoint (endpoint or STACKLINE_ENDPOINT: http(s)://...)'
            : undefined;
  if (problem) log.warn('config', `${problem}; Stackline is disabled`);
  const enabled = options.enabled !== false && !problem;
  const timeoutMs = typeof options.timeoutMs === 'number' && options.timeoutMs > 0 ? options.timeoutMs : 10_000;
  const commitSha = options.commitSha !== undefined ? normalizeSha(options.commitSha) : deploy.commitSha;
  if (options.commitSha !== undefined && !commitSha) log.warn('sha', 'options.commitSha is not 40 hex characters; not sent');
  const client = new (rt.Client ?? Client)(options, {
    ...rt,
    transport: options.transport ?? (enabled ? rt.transport({ url: ingestUrl(endpoint!), ingestKey: ingestKey!, timeoutMs }) : NOWHERE),
    enabled,
    commitSha,
    environment: nonEmpty(options.environment) ?? deploy.environment,
    release: nonEmpty(options.release) ?? deploy.release,
    deployRoot: nonEmpty(options.deployRoot) ?? rt.deployRoot,
    serverName: nonEmpty(options.serverName) ?? rt.serverName,
  });
  setClient(client);
  if (enabled) {
    const install = (fn: () => void): void => {
      try {
        fn();
      } catch (e) {
        log.warn('integrate', `an integration failed to install: ${String(e)}`);
      }
    };
    install(() => rt.integrate(client, options));
    for (const integration of options.integrations ?? []) {
      if (rt.builtIn?.includes(String(get(integration, 'name')))) continue;
      install(() => {
        const undo = integration.setup(client);
        if (typeof undo === 'function') client.onClose(undo);
      });
    }
  }
  return client;
}
