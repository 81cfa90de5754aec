// The extension's logic against a real Stackline stack: tests/e2e/test_ide_extension.py starts
// one and runs this file with STACKLINE_TEST_URL set. A real Node program fails in a real git
// repository; the incident is then followed to where the failing line is now.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';

import { ApiError, StacklineApi, type FetchLike } from '../../src/core/api';
import { Git } from '../../src/core/git';
import type { Session } from '../../src/core/model';
import { NotificationGate, type Notice } from '../../src/core/notify';
import { diskLineCounter, Placer } from '../../src/core/placement';
import { SessionManager, SignInRequired, type SecretStore } from '../../src/core/session';
import { RepositoryTracker, type TrackerState } from '../../src/core/tracker';
import { ADA, GRACE, TestRepo } from '../gitrepo';

const BASE = process.env.STACKLINE_TEST_URL;
if (!BASE) throw new Error('STACKLINE_TEST_URL is not set: tests/e2e/test_ide_extension.py runs these tests against a stack it starts');

class MemorySecrets implements SecretStore {
  readonly values = new Map<string, string>();
  async get(key: string) {
    return this.values.get(key);
  }
  async store(key: string, value: string) {
    this.values.set(key, value);
  }
  async delete(key: string) {
    this.values.delete(key);
  }
}

/** Every answer's status, to see the 304s. */
const statuses: number[] = [];
const counting: FetchLike = async (input, init) => {
  const response = await fetch(input, init);
  statuses.push(response.status);
  return response;
};

const api = new StacklineApi({ baseUrl: BASE, fetch: counting });
const slug = `ide-test/shop-${randomUUID().slice(0, 8)}`;
const repo = new TestRepo();
let session: Session;
let ingestKey: string;
let deployed: string;

const PROGRAM = (padding: string[]) =>
  [
    ...padding,
    'function getUser(users, id) {',
    '  return users[id].name;',
    '}',
    'try {',
    '  getUser({}, "42");',
    '} catch (error) {',
    '  console.log(JSON.stringify({ type: error.name, message: error.message, stack: error.stack }));',
    '}',
    '',
  ].join('\n');

async function call(method: string, path: string, token: string, body?: unknown): Promise<Response> {
  return fetch(`${BASE}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

before(async () => {
  session = await api.devLogin(`ide-${randomUUID().slice(0, 8)}`);
  const created = await call('POST', '/api/projects', session.accessToken, { name: 'Shop', repo: slug });
  assert.equal(created.status, 201, await created.clone().text());
  ingestKey = ((await created.json()) as { ingest_key: string }).ingest_key;

  repo.git('remote', 'add', 'origin', `git@github.com:${slug}.git`);
  repo.write('src/users.js', PROGRAM([]));
  deployed = repo.commit('Read the user name straight from the map', ADA);
  const error = JSON.parse(execFileSync('node', ['src/users.js'], { cwd: repo.root, encoding: 'utf8' })) as Record<string, string>;
  const sent = await fetch(`${BASE}/api/ingest`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ingestKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      platform: 'node',
      exception: error,
      commit_sha: deployed,
      environment: 'production',
      deploy_root: repo.root,
    }),
  });
  assert.equal(sent.status, 200, await sent.text());
  // Work after the deploy: five lines above the failing one.
  repo.write('src/users.js', PROGRAM(['// Users.', '// The map is keyed by id.', '', "'use strict';", '']));
  repo.commit('Document the users module', GRACE);
});

after(() => repo.remove());

function tracker(forRepo: string, secrets: MemorySecrets, notices: Notice[][] = [], states: TrackerState[] = []): RepositoryTracker {
  const git = new Git(repo.root);
  return new RepositoryTracker(
    { host: 'github.com', owner: forRepo.split('/')[0]!, name: forRepo.split('/')[1]!, slug: forRepo },
    git,
    new Placer(git, diskLineCounter(repo.root)),
    api,
    new SessionManager(api, secrets),
    new NotificationGate(),
    { changed: () => undefined, stateChanged: (state) => states.push(state), notices: (n) => notices.push(n) },
  );
}

test('the incident is on the line the failing code moved to, with its suspect commit', async () => {
  const secrets = new MemorySecrets();
  await new SessionManager(api, secrets).save(session);
  const t = tracker(slug, secrets);
  assert.deepEqual(await t.poll(), { kind: 'ok' });
  assert.equal(t.state.kind, 'ok');
  assert.equal(t.incidents.length, 1);
  const [tracked] = t.incidents;
  assert.equal(tracked!.incident.exceptionType, 'TypeError');
  assert.equal(tracked!.commit, deployed);
  const culprit = tracked!.culprit!;
  assert.equal(culprit.frame.function, 'getUser');
  assert.equal(culprit.frame.line, 2);
  assert.deepEqual(culprit.placement, { found: true, file: 'src/users.js', line: 7, exact: true, originalFile: 'src/users.js', originalLine: 2 });
  // The call site is in the repository too: a related frame, also moved.
  assert.ok(tracked!.related.some((r) => r.placement.found && r.placement.line === 10 && r.frame.line === 5));
  assert.match(tracked!.suspect!, new RegExp(`^last changed in \`${deployed.slice(0, 7)}\` by Ada Lovelace, .* before the incident: Read the user name straight from the map$`));
});

test('an unchanged list costs a 304, and a status change shows at the next poll', async () => {
  const secrets = new MemorySecrets();
  await new SessionManager(api, secrets).save(session);
  const t = tracker(slug, secrets);
  await t.poll();
  statuses.length = 0;
  await t.poll();
  assert.deepEqual(statuses, [304]);
  const id = t.incidents[0]!.incident.id;
  await t.setStatus(id, 'resolved');
  assert.equal(t.incidents.length, 0);
  await t.setStatus(id, 'open');
  assert.equal(t.incidents.length, 1);
});

test('a repository with no project says so, and keeps polling', async () => {
  const secrets = new MemorySecrets();
  await new SessionManager(api, secrets).save(session);
  const states: TrackerState[] = [];
  const t = tracker('ide-test/no-such-project', secrets, [], states);
  assert.deepEqual(await t.poll(), { kind: 'ok' });
  assert.equal(t.state.kind, 'noProject');
  assert.deepEqual(states.map((s) => s.kind), ['noProject']);
});

test('renewal: a tampered access token is replaced through the refresh token', async () => {
  const fresh = await api.devLogin(`ide-${randomUUID().slice(0, 8)}`);
  const secrets = new MemorySecrets();
  const manager = new SessionManager(api, secrets);
  await manager.save({ ...fresh, accessToken: `${fresh.accessToken.slice(0, -6)}AAAAAA` });
  // Another user's account has no projects: the answer is the API's 404 for the repository,
  // which it can only give once the token was accepted.
  const error = await manager.withToken((token) => api.listIncidents(token, slug)).catch((e: unknown) => e);
  assert.ok(error instanceof ApiError && error.kind === 'notFound' && error.detail.field === 'repo', String(error));
  const renewed = await manager.current();
  assert.notEqual(renewed!.refreshToken, fresh.refreshToken);
  assert.notEqual(renewed!.accessToken, fresh.accessToken);
});

test('a session ended elsewhere asks for a sign-in, and the tracker stops', async () => {
  const fresh = await api.devLogin(`ide-${randomUUID().slice(0, 8)}`);
  await api.logout(fresh.refreshToken);
  const secrets = new MemorySecrets();
  const manager = new SessionManager(api, secrets);
  await manager.save({ ...fresh, accessToken: `${fresh.accessToken.slice(0, -6)}AAAAAA` });
  const error = await manager.withToken((token) => api.listIncidents(token, slug)).catch((e: unknown) => e);
  assert.ok(error instanceof SignInRequired && error.reason === 'expired', String(error));
  assert.equal(await manager.current(), undefined);

  await manager.save({ ...fresh, accessToken: `${fresh.accessToken.slice(0, -6)}AAAAAA` });
  const states: TrackerState[] = [];
  const t = tracker(slug, secrets, [], states);
  assert.deepEqual(await t.poll(), { kind: 'idle' });
  assert.deepEqual(states, [{ kind: 'signedOut', reason: 'expired' }]);
});

test('a new incident is told once, after the first listing', async () => {
  const secrets = new MemorySecrets();
  await new SessionManager(api, secrets).save(session);
  const notices: Notice[][] = [];
  const t = tracker(slug, secrets, notices);
  await t.poll();
  assert.deepEqual(notices, [[]]);
  const sent = await fetch(`${BASE}/api/ingest`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ingestKey}` },
    body: JSON.stringify({ platform: 'python', message: 'payment provider timed out', commit_sha: deployed }),
  });
  assert.equal(sent.status, 200);
  await t.poll();
  assert.deepEqual((notices[1] as Notice[]).map((n) => n.kind === 'new' && n.incident.message), ['payment provider timed out']);
  await t.poll();
  assert.equal(notices.length, 2); // a 304: nothing changed, nothing told
});
