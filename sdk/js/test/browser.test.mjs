// The browser build in headless Chromium (Debian's chromium driven by playwright-core):
// window errors and rejections, breadcrumbs (the optional add-on), delivery while the page
// is being left, the ESM and IIFE bundles, and no cookies or full Referer sent to the ingest
// server.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KEY, ROOT, ingestServer, waitFor } from './helpers.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// STACKLINE_NO_SKIPS=1 (CI) overrides it: there a missing Chromium must fail, not skip.
const skip = process.env.STACKLINE_SKIP_BROWSER === '1' && process.env.STACKLINE_NO_SKIPS !== '1' ? 'STACKLINE_SKIP_BROWSER=1' : false;
const SHA = 'c'.repeat(40);

describe('browser build in Chromium', { skip, concurrency: false }, () => {
  let browser;
  let ingest;
  let pages;
  let origin;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found: apt-get install chromium (see tools/apt-packages.txt), or STACKLINE_SKIP_BROWSER=1`);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    ingest = await ingestServer();
    const files = {
      '/stackline.min.js': ['text/javascript', readFileSync(join(ROOT, 'dist/browser/stackline.min.js'))],
      '/stackline.min.mjs': ['text/javascript', readFileSync(join(ROOT, 'dist/browser/stackline.min.mjs'))],
      '/stackline.breadcrumbs.min.js': ['text/javascript', readFileSync(join(ROOT, 'dist/browser/stackline.breadcrumbs.min.js'))],
      '/stackline.breadcrumbs.min.mjs': ['text/javascript', readFileSync(join(ROOT, 'dist/browser/stackline.breadcrumbs.min.mjs'))],
    };
    pages = http.createServer((req, res) => {
      const url = new URL(req.url, 'http://x');
      if (files[url.pathname]) {
        res.writeHead(200, { 'content-type': files[url.pathname][0] });
        return res.end(files[url.pathname][1]);
      }
      if (url.pathname === '/api/data') return res.end('{"ok":true}');
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>page</title><p>page</p>');
    });
    await new Promise((r) => pages.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${pages.address().port}`;
  });

  after(async () => {
    await browser?.close();
    await ingest?.close();
    pages?.close();
  });

  /** A fresh page with the IIFE bundle (and, with `crumbs`, the breadcrumbs add-on) loaded and init() called. */
  async function open({ crumbs = false } = {}) {
    const page = await browser.newPage();
    await page.goto(`${origin}/app.html?session=PAGE_SECRET`);
    await page.addScriptTag({ url: '/stackline.min.js' });
    if (crumbs) await page.addScriptTag({ url: '/stackline.breadcrumbs.min.js' });
    const integrations = crumbs ? ', integrations: [Stackline.breadcrumbs()]' : '';
    await page.evaluate(`Stackline.init({ ingestKey: '${KEY}', endpoint: '${ingest.url}', commitSha: '${SHA}', environment: 'browser-test' ${integrations} })`);
    return page;
  }

  const eventWhere = async (pred) => {
    let found;
    await waitFor(() => (found = ingest.events().find(pred)), { timeoutMs: 5000 });
    return found;
  };

  test('window error: captured with the raw Chrome stack, runtime, breadcrumbs, deploy facts', async () => {
    const page = await open({ crumbs: true });
    await page.evaluate(`
      document.cookie = 'sid=COOKIE_SECRET';
      console.log('about to load');
      fetch('/api/data?token=TKN').then(() => setTimeout(function explode() { undefined.id; }, 0));
    `);
    const ev = await eventWhere((e) => e.exception?.type === 'TypeError');
    assert.ok(ev, 'no event arrived');
    assert.equal(ev.platform, 'browser');
    assert.equal(ev.runtime.name, 'chrome');
    assert.match(ev.runtime.version, /^\d+\./);
    assert.equal(ev.commit_sha, SHA);
    assert.equal(ev.environment, 'browser-test');
    assert.match(ev.exception.message, /reading 'id'/);
    assert.match(ev.exception.stack, /^TypeError: .*\n\s+at explode /);
    assert.deepEqual(ev.tags, { mechanism: 'onerror', handled: 'no' });
    // The page it happened on, its secrets filtered.
    assert.deepEqual(ev.request, { method: 'GET', url: `${origin}/app.html?session=[Filtered]` });
    const crumbs = ev.breadcrumbs.map((b) => `${b.category} ${b.message}`);
    assert.ok(crumbs.includes('console about to load'), crumbs.join('\n'));
    assert.ok(crumbs.includes(`http GET /api/data?token=[Filtered] [200]`), crumbs.join('\n'));
    const req = ingest.requests.find((r) => r.events.includes(ev));
    assert.equal(req.headers.authorization, `Bearer ${KEY}`);
    assert.equal(req.headers.cookie, undefined);
    assert.equal(req.headers.referer, `${origin}/`, 'the page URL (with its query) must not travel as Referer');
    assert.ok(!req.raw.includes('COOKIE_SECRET') && !req.raw.includes('PAGE_SECRET'));
    await page.close();
  });

  test('the core alone records no console or fetch breadcrumbs; the page can still add its own', async () => {
    const page = await open();
    await page.evaluate(`
      console.log('not recorded');
      Stackline.addBreadcrumb({ message: 'added by the page' });
      fetch('/api/data').then(() => Stackline.captureMessage('core only'));
    `);
    const ev = await eventWhere((e) => e.message === 'core only');
    assert.deepEqual(ev.breadcrumbs.map((b) => `${b.category} ${b.message}`), ['default added by the page']);
    await page.close();
  });

  test('the ESM core and the ESM breadcrumbs module work together', async () => {
    const page = await browser.newPage();
    await page.goto(`${origin}/module-crumbs.html`);
    await page.evaluate(async ({ key, endpoint }) => {
      const S = await import('/stackline.min.mjs');
      const { breadcrumbs } = await import('/stackline.breadcrumbs.min.mjs');
      S.init({ ingestKey: key, endpoint, integrations: [breadcrumbs({ http: false })] });
      console.info('from the module');
      await fetch('/api/data');
      S.captureMessage('esm with crumbs');
      await S.flush(3000);
    }, { key: KEY, endpoint: ingest.url });
    const ev = await eventWhere((e) => e.message === 'esm with crumbs');
    assert.deepEqual(ev.breadcrumbs.map((b) => `${b.category} ${b.message}`), ['console from the module']);
    await page.close();
  });

  test('unhandled rejection: captured', async () => {
    const page = await open();
    await page.evaluate(`setTimeout(() => { Promise.reject(new RangeError('browser rejection')); }, 0); 1`);
    const ev = await eventWhere((e) => e.exception?.message === 'browser rejection');
    assert.ok(ev);
    assert.equal(ev.tags.mechanism, 'onunhandledrejection');
    await page.close();
  });

  test('leaving the page: an event captured right before navigation still arrives (keepalive)', async (t) => {
    // The CORS preflight is held back, so the POST cannot have left before the page unloads:
    // only a keepalive request outlives it.
    const slow = await ingestServer(undefined, { preflightDelayMs: 400 });
    t.after(() => slow.close());
    const page = await browser.newPage();
    await page.goto(`${origin}/leaving.html`);
    await page.addScriptTag({ url: '/stackline.min.js' });
    await page.evaluate(`
      Stackline.init({ ingestKey: '${KEY}', endpoint: '${slow.url}' });
      Stackline.captureMessage('captured while leaving', 'warning');
      location.href = '/next.html';
    `);
    await page.waitForURL(`${origin}/next.html`);
    await waitFor(() => slow.events().length > 0, { timeoutMs: 5000 });
    assert.equal(slow.events()[0]?.message, 'captured while leaving', 'the event was lost when the page went away');
    await page.close();
  });

  test('the ESM bundle works as a module; getStats counts', async () => {
    const page = await browser.newPage();
    await page.goto(`${origin}/module.html`);
    const stats = await page.evaluate(async ({ key, endpoint }) => {
      const S = await import('/stackline.min.mjs');
      S.init({ ingestKey: key, endpoint, captureUnhandled: false });
      S.captureException(new Error('from the ESM bundle'));
      await S.flush(3000);
      return S.getStats();
    }, { key: KEY, endpoint: ingest.url });
    assert.equal(stats.sent, 1);
    assert.equal(stats.captured, 1);
    assert.ok(await eventWhere((e) => e.exception?.message === 'from the ESM bundle'));
    await page.close();
  });

  test('missing key: one console warning, the page carries on', async () => {
    const page = await browser.newPage();
    const warnings = [];
    page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
    await page.goto(`${origin}/nokey.html`);
    await page.addScriptTag({ url: '/stackline.min.js' });
    const result = await page.evaluate(`Stackline.init({ endpoint: '${ingest.url}' }); Stackline.captureMessage('x'); Stackline.captureMessage('y'); 'still running'`);
    assert.equal(result, 'still running');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^\[stackline\] no ingest key/);
    await page.close();
  });
});
