// Shared test tools: real ingest servers on 127.0.0.1:0 (scripted answers, raw sockets for
// protocol faults), child host processes, waiting.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { afterEach } from 'node:test';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures');
export const KEY = 'slk_' + 'A1b2C3d4E5'.repeat(4) + 'zz';

/**
 * How long a test waits for something that must happen before calling it a hang: far beyond
 * what a busy machine needs. Tests never assert how long something took (see the repository's
 * docs/testing.md); they wait for it with this as the bound.
 */
export const HANG_GUARD_MS = 30_000;

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
      if (req.method === 'POST') checkSent(raw);
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
      checkSent(body);
      bodies.push(body);
      const a = await answer(JSON.parse(body), bodies.length);
      if (a === 'network') throw new Error('ECONNREFUSED');
      return a;
    },
  };
}

// What the ingest API accepts: sdk/schema/ingest-event.schema.json, which the gateway's own models
// generate (tools/gen_ingest_schema.py, kept current by the repository's `make lint`), plus the
// few rules a JSON Schema does not state. The tests need the schema file, nothing of the gateway.
// Lengths: ajv counts code points as the gateway does; JavaScript's are UTF-16 units, never fewer.
export const SCHEMA = JSON.parse(readFileSync(join(ROOT, '..', 'schema', 'ingest-event.schema.json'), 'utf8'));
/** Fields the ingest API allows on an event; anything else makes the server answer 400. */
export const EVENT_FIELDS = new Set(Object.keys(SCHEMA.$defs.IngestEvent.properties));
export const API = { maxBodyBytes: 1024 * 1024, maxBatch: SCHEMA.$defs.IngestBatch.properties.events.maxItems };
const AWARE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// The schema's formats, as strict as what this SDK promises to send.
const ajv = new Ajv2020({ allErrors: true, formats: { uuid: UUID, 'date-time': AWARE } });
const validEvent = ajv.compile({ ...SCHEMA, $ref: '#/$defs/IngestEvent' });

/** Why the gateway would refuse this event (as parsed from a body), or what the SDK promises
 * that it breaks; empty when neither. */
export function eventProblems(ev) {
  const found = validEvent(ev) ? [] : validEvent.errors.map((e) => `${e.instancePath || '/'} ${e.message}`);
  // The schema lets these go; this SDK always sends them.
  if (ev?.event_id === undefined || ev?.timestamp === undefined) found.push('no event_id or timestamp');
  if (ev?.exception === undefined && ev?.message === undefined) found.push('neither exception nor message');
  if (!['node', 'browser', 'edge'].includes(ev?.platform)) found.push(`platform ${ev?.platform}`);
  return found;
}

/** Throws unless the gateway would take this event (as parsed from a body). */
export function assertIngestible(ev) {
  const found = eventProblems(ev);
  if (found.length) throw new Error(`not ingestible: ${found.join('; ')}`);
}

/** Why the gateway would refuse this request body; empty when it would take it. */
export function bodyProblems(body) {
  const bytes = Buffer.byteLength(body);
  if (bytes > API.maxBodyBytes) return [`body of ${bytes} bytes`];
  // JSON.stringify writes a lone surrogate as an escape; the gateway refuses those (paired ones are written raw).
  const lone = /(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}/.exec(body);
  if (lone) return [`lone surrogate escape ${lone[0]}`];
  let parsed;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    return [`not JSON: ${e.message}`];
  }
  if (typeof parsed !== 'object' || parsed === null || Object.keys(parsed).join() !== 'events' || !Array.isArray(parsed.events)) {
    return ['not {"events": [...]}'];
  }
  if (parsed.events.length < 1 || parsed.events.length > API.maxBatch) return [`${parsed.events.length} events`];
  return parsed.events.flatMap((ev, i) => eventProblems(ev).map((p) => `events[${i}]: ${p}`));
}

// Every body the SDK sends to a fake here (scriptedTransport, ingestServer) is checked, and a test
// after which one was refused fails: an SDK change the gateway would refuse fails the test that
// made it, and so does a gateway change the SDK does not follow. Noted rather than thrown where it
// arrives, since the SDK swallows what its transport throws.
const refused = [];
function checkSent(body) {
  for (const p of bodyProblems(body)) refused.push(p);
}
afterEach(() => {
  const found = refused.splice(0);
  if (found.length) throw new Error(`the SDK sent what the ingest API refuses: ${found.slice(0, 5).join('; ')}`);
});
// Sent after a file's last test (a close() that flushed): fail the file.
process.on('exit', () => {
  if (refused.length) {
    console.error(`the SDK sent what the ingest API refuses: ${refused.slice(0, 5).join('; ')}`);
    process.exitCode = 1;
  }
});

/** The events of one request body, after checking the gateway would take all of it. */
export function ingestibleEvents(body) {
  const found = bodyProblems(body);
  if (found.length) throw new Error(`not ingestible: ${found.join('; ')}`);
  return JSON.parse(body).events;
}
