// Deploy facts found from each host's variables, and the default scrubbing.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import * as S from '../dist/esm/node.js';
import { quiet, scriptedTransport } from './helpers.mjs';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const HOST_VARS = [
  'STACKLINE_COMMIT_SHA', 'STACKLINE_ENVIRONMENT', 'STACKLINE_RELEASE', 'VERCEL_GIT_COMMIT_SHA', 'VERCEL_ENV', 'GITHUB_SHA', 'GITHUB_ACTIONS',
  'RENDER', 'RENDER_GIT_COMMIT', 'IS_PULL_REQUEST', 'HEROKU_SLUG_COMMIT', 'SOURCE_VERSION', 'NETLIFY', 'COMMIT_REF', 'CONTEXT', 'CF_PAGES',
  'CF_PAGES_COMMIT_SHA', 'CF_PAGES_BRANCH', 'RAILWAY_GIT_COMMIT_SHA', 'RAILWAY_ENVIRONMENT_NAME', 'FLY_APP_NAME', 'SOURCE_COMMIT', 'NODE_ENV',
];

async function eventWith(vars, options = {}) {
  const saved = {};
  for (const k of HOST_VARS) {
    saved[k] = process.env[k];
    delete process.env[k];
  }
  Object.assign(process.env, vars);
  try {
    const t = scriptedTransport();
    S.init(quiet({ transport: t, ...options }));
    S.captureMessage('probe');
    await S.flush(1000);
    return t.events()[0];
  } finally {
    for (const k of HOST_VARS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

afterEach(() => S.close(0));

describe('commit and environment are found automatically', () => {
  const cases = [
    ['Vercel', { VERCEL_GIT_COMMIT_SHA: SHA, VERCEL_ENV: 'preview' }, SHA, 'preview'],
    ['GitHub Actions', { GITHUB_ACTIONS: 'true', GITHUB_SHA: SHA, NODE_ENV: 'test' }, SHA, 'test'],
    ['Render', { RENDER: 'true', RENDER_GIT_COMMIT: SHA }, SHA, 'production'],
    ['Render pull request preview', { RENDER: 'true', RENDER_GIT_COMMIT: SHA, IS_PULL_REQUEST: 'true' }, SHA, 'preview'],
    ['Heroku', { HEROKU_SLUG_COMMIT: SHA }, SHA, 'production'],
    ['Heroku build', { SOURCE_VERSION: SHA }, SHA, 'production'],
    ['Netlify', { NETLIFY: 'true', COMMIT_REF: SHA, CONTEXT: 'deploy-preview' }, SHA, 'preview'],
    ['Cloudflare Pages', { CF_PAGES: '1', CF_PAGES_COMMIT_SHA: SHA, CF_PAGES_BRANCH: 'feature/x' }, SHA, 'preview'],
    ['Railway', { RAILWAY_GIT_COMMIT_SHA: SHA, RAILWAY_ENVIRONMENT_NAME: 'staging' }, SHA, 'staging'],
    ['Fly (build arg)', { FLY_APP_NAME: 'app', SOURCE_COMMIT: SHA }, SHA, 'production'],
    ['our own variables win', { STACKLINE_COMMIT_SHA: SHA, VERCEL_GIT_COMMIT_SHA: 'f'.repeat(40), STACKLINE_ENVIRONMENT: 'canary', VERCEL_ENV: 'production' }, SHA, 'canary'],
    ['a short or odd SHA is not sent', { GITHUB_SHA: 'abc1234' }, undefined, 'production'],
    ['uppercase SHA is normalised', { VERCEL_GIT_COMMIT_SHA: SHA.toUpperCase() }, SHA, 'production'],
    ['nothing known', {}, undefined, 'production'],
  ];
  for (const [name, vars, sha, environment] of cases) {
    test(name, async () => {
      const ev = await eventWith(vars);
      assert.equal(ev.commit_sha, sha);
      assert.equal(ev.environment, environment);
    });
  }

  test('init options win over the environment', async () => {
    const ev = await eventWith({ VERCEL_GIT_COMMIT_SHA: SHA, VERCEL_ENV: 'preview' }, { commitSha: 'e'.repeat(40), environment: 'qa', release: '2.0.0' });
    assert.equal(ev.commit_sha, 'e'.repeat(40));
    assert.equal(ev.environment, 'qa');
    assert.equal(ev.release, '2.0.0');
  });

  test('environment variables themselves are never sent', async () => {
    process.env.SOME_SECRET_FOR_TEST = 'ENVSECRETVALUE';
    try {
      const t = scriptedTransport();
      S.init(quiet({ transport: t }));
      S.captureException(new Error('x'));
      await S.flush(1000);
      assert.ok(!t.bodies[0].includes('ENVSECRETVALUE'));
    } finally {
      delete process.env.SOME_SECRET_FOR_TEST;
    }
  });
});

describe('scrubbing', () => {
  async function one(fn, options) {
    const t = scriptedTransport();
    S.init(quiet({ transport: t, ...options }));
    fn();
    await S.flush(1000);
    return { ev: t.events()[0], body: t.bodies[0] };
  }

  test('request URLs: userinfo removed, secret-looking query and fragment values filtered, the rest kept', async () => {
    const { ev } = await one(() =>
      S.captureException(new Error('x'), { request: { method: 'post', url: 'https://bob:pw@shop.example/cb?code=OAUTHCODE&state=ok&access_token=AT&page=3#id_token=IDT' } }),
    );
    assert.deepEqual(ev.request, { method: 'POST', url: 'https://shop.example/cb?code=[Filtered]&state=ok&access_token=[Filtered]&page=3#id_token=[Filtered]' });
  });

  test('messages and stacks: credentials in text are filtered', async () => {
    const err = new Error(`GET https://u:p@api.example/v1?apikey=K123&x=1 failed with Authorization: Bearer eyJhbGciOi.abc.def using slk_${'k'.repeat(42)}`);
    const { ev, body } = await one(() => S.captureException(err));
    for (const leaked of ['K123', 'eyJhbGciOi', 'k'.repeat(42), 'u:p@']) assert.ok(!body.includes(leaked), `${leaked} leaked`);
    assert.match(ev.exception.message, /apikey=\[Filtered\]&x=1/);
    assert.match(ev.exception.message, /Bearer \[Filtered\]/);
    assert.match(ev.exception.stack, /^Error: GET https:\/\/\[Filtered\]@api\.example/);
  });

  test('scrubFields adds names; beforeSend scrubs anything else', async () => {
    const { ev } = await one(() => S.captureException(new Error('lookup ?ssn=123-45&zip=1 for customer 42')), {
      scrubFields: ['ssn'],
      beforeSend: (e) => ({ ...e, exception: { ...e.exception, message: e.exception.message.replace(/customer \d+/, 'customer [id]') } }),
    });
    assert.equal(ev.exception.message, 'lookup ?ssn=[Filtered]&zip=1 for customer [id]');
  });
});
