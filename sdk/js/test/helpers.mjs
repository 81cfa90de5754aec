// Shared test tools: real ingest servers on 127.0.0.1:0 (scripted answers, raw sockets for
// protocol faults), child host processes, waiting.
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures');
export const KEY = 'slk_' + 'A1b2C3d4E5'.repeat(4) + 'zz';

/**
 * How long a test waits for something that must happen before calling it a hang: far beyond
 * what a busy machine needs. Tests never assert how long something took (see the repository's
 * docs/testing.md); they wait for it with this as the bound.
 */
export const HANG_GUARD_MS = 30_000;

/** Fields the ingest API allows on an event; anything else makes the server answer 400. */
export const EVENT_FIELDS = new Set([
  'event_id', 'timestamp', 'platform', 'exception', 'message', 'level', 'commit_sha', 'environment',
  'deploy_root', 'release', 'runtime', 'sdk', 'request', 'tags', 'breadcrumbs', 'fingerprint',
]);

/**
 * An ingest server. `answer(req, n)` (n = 1-based request count) returns
 * { status, headers, body } or the string 'hang' (never answer). It answers CORS preflights
 * as the gateway must, after preflightDelayMs.
 */
export async function ingestServer(answer = () => ({ status: 200 }), { preflightDelayMs = 0 } = {}) {
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    // What the gateway must answer for browsers (see README, "Browsers and CORS").
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', 'retry-after');
    if (req.method === 'OPTIONS') {
      setTimeout(() => {
        res.writeHead(204, { 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'authorization, content-type', 'access-control-max-age': '86400' });
        res.end();
      }, preflightDelayMs);
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const entry = { method: req.method, url: req.url, headers: req.headers, raw, body, events: body?.events ?? (body ? [body] : []) };
      requests.push(entry);
      const a = answer(entry, requests.length);
      if (a === 'hang') return;
      res.writeHead(a.status, { 'content-type': 'application/json', ...(a.headers ?? {}) });
      res.end(a.body ?? (a.status < 300 ? '{"id":"x"}' : '{"error":{"code":"x","message":"x"}}'));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    events: () => requests.flatMap((r) => r.events),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

/** A TCP server that speaks whatever `onData(socket, n)` writes (n = connection count). */
export async function rawServer(onData) {
  let n = 0;
  const sockets = new Set();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    const k = ++n;
    s.once('data', () => onData(s, k));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connections: () => n,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Run a fixture host; resolves with exit code, signal, output and the STATS line it printed.
 * A host still running after timeoutMs (a hang guard) is killed: signal 'SIGKILL'.
 */
export function runHost(file, { env = {}, args = [], nodeArgs = [], timeoutMs = HANG_GUARD_MS } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, join(FIXTURES, file), ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      const line = stdout.split('\n').find((l) => l.startsWith('STATS '));
      resolve({ code, signal, stdout, stderr, stats: line ? JSON.parse(line.slice(6)) : undefined });
    });
  });
}

/**
 * Whether pred() came true, polled until then or until the hang guard. Reads performance.now(),
 * which the tests' mocked clocks (t.mock.timers, Date) leave alone; the polling interval is a
 * real timer too, so do not call it with setTimeout mocked.
 */
export async function waitFor(pred, { timeoutMs = HANG_GUARD_MS, stepMs = 10 } = {}) {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await pred()) return true;
    await sleep(stepMs);
  }
  return false;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Lets pending promise callbacks and I/O run: one turn of the event loop, no timer involved. */
export const settle = () => new Promise((r) => setImmediate(r));

/** Options for in-process tests: nothing global installed, fast retries. */
export function quiet(extra = {}) {
  return { captureUnhandled: false, breadcrumbs: { console: false, http: false }, backoff: { initialMs: 20, maxMs: 200 }, ...extra };
}

/** A transport that records bodies and answers from a script; the test seam. */
export function scriptedTransport(answer = () => ({ status: 200 })) {
  const bodies = [];
  return {
    bodies,
    events: () => bodies.flatMap((b) => JSON.parse(b).events),
    async send({ body }) {
      bodies.push(body);
      const a = await answer(JSON.parse(body), bodies.length);
      if (a === 'network') throw new Error('ECONNREFUSED');
      return a;
    },
  };
}

// What the ingest API accepts (services/gateway/schemas/ingest.py and docs/api.md: the limits
// that refuse with 400 or 413), restated so the SDK's tests need nothing of the gateway. The
// platform's tests/e2e/test_sdks.py sends such an event to the real gateway, which keeps this
// honest. Lengths: the gateway counts code points, JavaScript UTF-16 units, never fewer.
export const API = { maxBodyBytes: 1024 * 1024, maxBatch: 100 };
const AWARE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function text(v, max = Infinity, min = 0) {
  if (typeof v !== 'string') throw new Error(`not a string: ${JSON.stringify(v)}`);
  if (v.length < min || v.length > max) throw new Error(`length ${v.length} not in ${min}..${max}`);
}

function fields(obj, limits) {
  if (typeof obj !== 'object' || obj === null) throw new Error('not an object');
  for (const [k, v] of Object.entries(obj)) {
    if (!(k in limits)) throw new Error(`unknown field ${k}`);
    text(v, limits[k]);
  }
}

/** Throws unless the gateway would take this event (as parsed from a body). */
export function assertIngestible(ev) {
  for (const k of Object.keys(ev)) if (!EVENT_FIELDS.has(k)) throw new Error(`unknown field ${k}`);
  if (!UUID.test(ev.event_id) || !AWARE.test(ev.timestamp)) throw new Error('bad identity');
  if (!['node', 'browser', 'edge'].includes(ev.platform)) throw new Error('bad platform');
  if (ev.exception === undefined && ev.message === undefined) throw new Error('neither exception nor message');
  for (let x = ev.exception; x !== undefined; x = x.cause) {
    for (const k of Object.keys(x)) if (!['type', 'message', 'stack', 'cause'].includes(k)) throw new Error(`unknown field ${k}`);
    text(x.type, 256, 1);
    text(x.message ?? '');
    text(x.stack ?? '');
  }
  for (const [k, max] of [['message', Infinity], ['environment', 64], ['deploy_root', 1024], ['release', 200], ['fingerprint', 256]]) {
    if (k in ev) text(ev[k], max);
  }
  if ('level' in ev && !['fatal', 'error', 'warning', 'info', 'debug'].includes(ev.level)) throw new Error('bad level');
  if ('commit_sha' in ev && !/^[0-9a-fA-F]{7,40}$/.test(ev.commit_sha)) throw new Error('bad commit_sha');
  for (const k of ['runtime', 'sdk']) if (k in ev) fields(ev[k], { name: 64, version: 64 });
  if ('request' in ev) fields(ev.request, { method: 16, url: 2048 });
  const tags = Object.entries(ev.tags ?? {});
  if (tags.length > 50) throw new Error(`${tags.length} tags`);
  for (const [k, v] of tags) text(k, 64), text(v, 256);
  const crumbs = ev.breadcrumbs ?? [];
  if (crumbs.length > 100) throw new Error(`${crumbs.length} breadcrumbs`);
  for (const { timestamp, ...rest } of crumbs) {
    if (timestamp !== undefined && !AWARE.test(timestamp)) throw new Error(`bad breadcrumb timestamp ${timestamp}`);
    fields(rest, { category: 64, message: 1024, level: 16 });
  }
}

/** The events of one request body, after checking the gateway would take all of it. */
export function ingestibleEvents(body) {
  const bytes = Buffer.byteLength(body);
  if (bytes > API.maxBodyBytes) throw new Error(`body of ${bytes} bytes`);
  // JSON.stringify writes a lone surrogate as an escape; the gateway refuses those (paired ones are written raw).
  const lone = /(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}/.exec(body);
  if (lone) throw new Error(`lone surrogate escape ${lone[0]}`);
  const parsed = JSON.parse(body);
  if (Object.keys(parsed).join() !== 'events') throw new Error('not {"events": [...]}');
  if (parsed.events.length < 1 || parsed.events.length > API.maxBatch) throw new Error(`${parsed.events.length} events`);
  parsed.events.forEach(assertIngestible);
  return parsed.events;
}
