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

/** Fields DESIGN.md allows on an event; anything else makes the server answer 400. */
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
      const entry = { at: Date.now(), method: req.method, url: req.url, headers: req.headers, raw, body, events: body?.events ?? (body ? [body] : []) };
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

/** Run a fixture host; resolves with exit code, signal, output, wall time and the STATS line it printed. */
export function runHost(file, { env = {}, args = [], nodeArgs = [], timeoutMs = 20_000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
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
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started, stats: line ? JSON.parse(line.slice(6)) : undefined });
    });
  });
}

export async function waitFor(pred, { timeoutMs = 5000, stepMs = 10 } = {}) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return true;
    await sleep(stepMs);
  }
  return false;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
