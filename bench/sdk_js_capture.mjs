// JavaScript SDK: what capturing costs on the calling thread (median, p99), the amortized
// CPU per event including serialization and hand-off, and the gzipped browser bundle size.
// Run: make -C sdk/js bench   (builds first; uses sdk/js/dist)
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const sdk = join(dirname(fileURLToPath(import.meta.url)), '..', 'sdk', 'js');
const S = await import(join(sdk, 'dist', 'esm', 'node.js'));

const ROUNDS = 400;
const PER_ROUND = 50; // the sender drains between rounds, as it would between a real app's tasks
const instant = { send: async () => ({ status: 200 }) };
const hang = { send: () => new Promise(() => undefined) };
// One timer turn: the sender's 0 ms timer fires and its (instant) send settles.
const tick = () => new Promise((r) => setTimeout(r, 1));

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(label, { transport = instant, crumbs = 0, fn }) {
  S.init({ transport, captureUnhandled: false, breadcrumbs: { console: false, http: false } });
  S.setTags({ service: 'api', region: 'iad1', tier: 'free', version: '1.2.3', shard: '7' });
  for (let i = 0; i < crumbs; i++) S.addBreadcrumb({ category: 'http', message: `GET https://api.example/v1/items/${i} [200]` });
  const samples = [];
  for (let w = 0; w < 2; w++) {
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < PER_ROUND; i++) {
        const arg = fn.prepare(i);
        const t0 = process.hrtime.bigint();
        fn.call(arg);
        const dt = Number(process.hrtime.bigint() - t0);
        if (w === 1) samples.push(dt);
      }
      await tick();
    }
  }
  const stats = S.getStats();
  await S.close(0);
  samples.sort((a, b) => a - b);
  return { label, n: samples.length, median: pct(samples, 50) / 1000, p99: pct(samples, 99) / 1000, stats };
}

// Errors are created outside the timed region; reading error.stack (V8 formats it lazily)
// happens inside, because capturing has to do it.
const exception = { prepare: (i) => new TypeError(`Cannot read properties of undefined (reading 'id${i % 10}')`), call: (e) => S.captureException(e) };
const message = { prepare: (i) => `cache miss for key ${i}`, call: (m) => S.captureMessage(m, 'warning') };

const rows = [
  await measure('captureException, no breadcrumbs', { fn: exception }),
  await measure('captureException, 100 breadcrumbs, 5 tags', { fn: exception, crumbs: 100 }),
  await measure('captureMessage, 100 breadcrumbs, 5 tags', { fn: message, crumbs: 100 }),
  await measure('captureException while the queue is full (dropped)', { fn: exception, crumbs: 100, transport: hang }),
];

// Amortized: everything the SDK does per event on this thread, serialization and hand-off included.
S.init({ transport: instant, captureUnhandled: false, breadcrumbs: { console: false, http: false } });
for (let i = 0; i < 100; i++) S.addBreadcrumb({ category: 'http', message: `GET https://api.example/v1/items/${i} [200]` });
const errors = Array.from({ length: 20_000 }, (_, i) => new TypeError(`boom ${i}`));
const cpu0 = process.cpuUsage();
for (let r = 0; r < errors.length; r += PER_ROUND) {
  for (let i = r; i < r + PER_ROUND; i++) S.captureException(errors[i]);
  await tick();
}
await S.flush(5000);
const cpu = process.cpuUsage(cpu0);
const sent = S.getStats().sent;
await S.close(0);
const amortized = (cpu.user + cpu.system) / sent;

const sizes = ['stackline.min.mjs', 'stackline.min.js'].map((f) => {
  const raw = readFileSync(join(sdk, 'dist', 'browser', f));
  return { f, raw: raw.length, gz: gzipSync(raw, { level: 9 }).length };
});

console.log(`machine: ${os.availableParallelism?.() ?? os.cpus().length} cpus, ${os.cpus()[0]?.model}, Node ${process.version}`);
console.log('| what | median | p99 | samples |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.label} | ${r.median.toFixed(1)} µs | ${r.p99.toFixed(1)} µs | ${r.n} (${r.stats.dropped} dropped) |`);
console.log(`\namortized CPU per event, capture + serialization + hand-off to the transport (100 breadcrumbs): ${amortized.toFixed(1)} µs (${sent} events)`);
for (const s of sizes) console.log(`browser bundle dist/browser/${s.f}: ${s.raw} B minified, ${s.gz} B gzip`);
