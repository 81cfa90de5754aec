/** Public types: the wire event (services/gateway/schemas/ingest.py), options, transport seam, counters. */

import type { Client } from './client.js';

export type Level = 'fatal' | 'error' | 'warning' | 'info' | 'debug';
export type Platform = 'node' | 'browser' | 'edge';

export interface ExceptionPayload {
  type: string;
  message: string;
  /** `error.stack` exactly as the runtime printed it (secrets in URL queries filtered). */
  stack: string;
  cause?: ExceptionPayload;
}

export interface Breadcrumb {
  timestamp: string;
  category: string;
  message: string;
  level: Level;
}

export interface RequestInfo {
  method: string;
  url: string;
}

/** Exactly the fields the ingest API accepts; it answers 400 to anything else. */
export interface StacklineEvent {
  event_id: string;
  timestamp: string;
  platform: Platform;
  exception?: ExceptionPayload;
  message?: string;
  level?: Level;
  commit_sha?: string;
  environment?: string;
  deploy_root?: string;
  release?: string;
  runtime: { name: string; version: string };
  sdk: { name: string; version: string };
  request?: RequestInfo;
  tags?: Record<string, string>;
  breadcrumbs?: Breadcrumb[];
  fingerprint?: string;
}

export interface TransportRequest {
  /** JSON body, `{"events": [...]}`, at most 100 events and 1 MiB. */
  body: string;
}

export interface TransportResponse {
  status: number;
  /** The raw `Retry-After` header, if any. */
  retryAfter?: string | null;
}

/**
 * Where events go. The built-in transports POST to `{endpoint}/api/ingest`; tests and
 * unusual hosts pass their own. `send` resolves with the HTTP status and rejects on a
 * network failure (which the SDK retries with backoff); the queue owns all retry policy.
 */
export interface Transport {
  send(request: TransportRequest): Promise<TransportResponse>;
  /**
   * Optional: deliver bodies synchronously, within `timeoutMs`, returning one status per
   * body (0 for a network failure). Used only while a Node process exits, when no
   * asynchronous work can run any more.
   */
  sendSync?(bodies: string[], timeoutMs: number): number[];
}

/** Who the current request or page is serving; only `id` is sent unless `sendDefaultPii` is true. */
export interface User {
  id?: string | number;
  email?: string;
  ip_address?: string;
  username?: string;
}

export interface CaptureHint {
  tags?: Record<string, string>;
  fingerprint?: string;
  request?: { method?: string; url?: string };
  /** captureMessage only; default "info". */
  level?: Level;
}

/**
 * An optional integration, installed by init(): `init({ integrations: [breadcrumbs()] })`.
 * setup() returns what close() runs to remove it.
 */
export interface Integration {
  name: string;
  setup(client: Client): (() => void) | void;
}

export interface Options {
  /** The project's ingest key (`slk_...`). Node/edge default: `STACKLINE_INGEST_KEY`. */
  ingestKey?: string;
  /** Base URL of the Stackline gateway, e.g. `https://stackline.example.com`. Node/edge default: `STACKLINE_ENDPOINT`. */
  endpoint?: string;
  /** Default: detected from the host (VERCEL_ENV, CONTEXT, ...), then NODE_ENV, then "production". */
  environment?: string;
  release?: string;
  /** 40 hex characters. Default: detected from the host (VERCEL_GIT_COMMIT_SHA, GITHUB_SHA, ...). */
  commitSha?: string;
  /** The repository root on the deployed machine. Node default: the nearest folder above the entry module with package.json or .git, else `process.cwd()`. */
  deployRoot?: string;
  /** Tags added to every event. */
  tags?: Record<string, string>;
  /** Edit an event or return null to drop it. Runs on the calling thread; if it throws, the event is dropped. */
  beforeSend?: (event: StacklineEvent) => StacklineEvent | null | undefined;
  /** Edit a breadcrumb or return null to drop it. */
  beforeBreadcrumb?: (breadcrumb: Breadcrumb) => Breadcrumb | null | undefined;
  /** More query-parameter names to filter, on top of the default secret-looking ones. */
  scrubFields?: string[];
  /** Breadcrumbs kept (the last ones win); at most and by default 100. */
  maxBreadcrumbs?: number;
  /** Node and edge: automatic breadcrumbs, both on by default. Browsers: see `integrations`. */
  breadcrumbs?: { console?: boolean; http?: boolean };
  /**
   * Optional integrations. Browsers: `breadcrumbs()` from `@stackline/sdk/breadcrumbs` records
   * console calls and fetch requests (not in the core bundle, to keep it small). Node and edge
   * record both by themselves (see `breadcrumbs`); the integration is not installed twice.
   */
  integrations?: Integration[];
  /** Capture uncaught errors and unhandled rejections (Node: process events; browser: window events). Default true. */
  captureUnhandled?: boolean;
  /** Replace the network layer (tests, proxies). */
  transport?: Transport;
  /** Per-request timeout; default 10000 ms. */
  timeoutMs?: number;
  /** How long a Node process may wait at exit to deliver what is queued; default 2000 ms. */
  shutdownTimeoutMs?: number;
  /** How long serverless helpers wait when the platform offers no waitUntil; default 2000 ms. */
  flushTimeoutMs?: number;
  /** Retry delays after network errors and 5xx: exponential from initialMs, capped at maxMs, with jitter. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** false turns the SDK into a no-op. */
  enabled?: boolean;
  /** Share of events sent, 0 to 1 (default 1): the others are dropped before being built (`sample_rate`). */
  sampleRate?: number;
  /** Errors never reported (`ignored`): a string is an error type (`AbortError`) or a part of the message, a RegExp is tested on `Type: message`. */
  ignoreErrors?: Array<string | RegExp>;
  /** Browser: errors whose top frame is in a script at one of these URLs (a part of it, or a RegExp) are not reported (`ignored`); extensions, third-party widgets. */
  denyUrls?: Array<string | RegExp>;
  /** A tag `server_name` on every event; Node default: the host name. */
  serverName?: string;
  /** Send the user's e-mail, IP address and username given to setUser (default false: only the id). */
  sendDefaultPii?: boolean;
  /** Log what the SDK does (console.warn). */
  debug?: boolean;
}

/** Why events are dropped; the Python SDK's `stats().dropped_by` has the same names. */
export type DropReason = 'queue_full' | 'rate_limited' | 'disabled' | 'before_send' | 'too_large' | 'shutdown' | 'sample_rate' | 'ignored';

/** What happened to the events captured since init, as the README defines it (the Python SDK's `stats()` alike). */
export interface Stats {
  /** Events handed to the SDK since init: captured = sent + failed + dropped + queued, always. */
  captured: number;
  /** Accepted by the server (2xx). */
  sent: number;
  /** The server answered and did not take it: 400, 413, 401, 403, another 4xx, or still a 5xx after 3 retries. */
  failed: number;
  /** Let go without the server's final answer; `droppedBy` says why. */
  dropped: number;
  /** Waiting or in flight now; never more than 100. */
  queued: number;
  /** Every reason, zeros included. */
  droppedBy: Record<DropReason, number>;
  /** Reporting stopped for want of a usable key: none or a malformed one, no endpoint, a key the server refused (or `enabled: false`); close() does not set it. */
  disabled: boolean;
}
