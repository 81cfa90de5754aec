import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { describeSuspect, parseBlamePorcelain, timeBetween } from '../src/core/blame';
import { Git } from '../src/core/git';
import { ADA, GRACE, lines, TestRepo } from './gitrepo';

const repos: TestRepo[] = [];
after(() => repos.forEach((r) => r.remove()));

test('blame at the incident commit names the commit, author and subject that last touched the line', async () => {
  const r = new TestRepo();
  repos.push(r);
  r.write('src/cart.js', lines(10, 'cart').join('\n') + '\n');
  const first = r.commit('Add the cart', ADA);
  const changed = lines(10, 'cart');
  changed[6] = 'return items.reduce((sum, i) => sum + i.price, 0);';
  r.write('src/cart.js', changed.join('\n') + '\n');
  const deployed = r.commit('Sum the cart with reduce', GRACE);
  r.write('src/cart.js', ['// later', ...changed].join('\n') + '\n');
  r.commit('A later change the incident never ran', ADA);

  const git = new Git(r.root);
  const suspect = await git.blame(deployed, 'src/cart.js', 7);
  assert.ok(suspect);
  assert.equal(suspect.sha, deployed);
  assert.equal(suspect.author, 'Grace Hopper');
  assert.equal(suspect.authorMail, 'grace@example.com');
  assert.equal(suspect.summary, 'Sum the cart with reduce');
  assert.equal(suspect.authorTime.getTime(), GRACE.time * 1000);
  const untouched = await git.blame(deployed, 'src/cart.js', 2);
  assert.equal(untouched?.sha, first);

  const incident = new Date((GRACE.time + 3 * 86400 + 3600) * 1000);
  assert.equal(
    describeSuspect(suspect, incident),
    `last changed in \`${deployed.slice(0, 7)}\` by Grace Hopper, 3 days before the incident: Sum the cart with reduce`,
  );
  assert.equal(await git.blame(deployed, 'src/missing.js', 1), undefined);
});

test('porcelain of an uncommitted line, and output that is not porcelain', () => {
  const uncommitted = parseBlamePorcelain(
    '0000000000000000000000000000000000000000 3 3 1\nauthor Not Committed Yet\nauthor-mail <not.committed.yet>\nauthor-time 1764000000\nsummary Version of a.js from a.js\nfilename a.js\n\tx\n',
  );
  assert.equal(uncommitted?.uncommitted, true);
  assert.match(describeSuspect(uncommitted!, new Date()), /uncommitted/);
  assert.equal(parseBlamePorcelain('fatal: no such path'), undefined);
});

test('durations read as people say them', () => {
  const t = (s: number) => timeBetween(new Date(0), new Date(s * 1000));
  assert.equal(t(59), '59 seconds');
  assert.equal(t(60), '1 minute');
  assert.equal(t(2 * 3600 + 5), '2 hours');
  assert.equal(t(86400), '1 day');
  assert.equal(t(15 * 86400), '2 weeks');
  assert.equal(t(400 * 86400), '1 year');
});
