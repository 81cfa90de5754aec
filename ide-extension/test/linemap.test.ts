import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { Git } from '../src/core/git';
import { mapLine, parseHunks } from '../src/core/linemap';
import { diskLineCounter, Placer } from '../src/core/placement';
import { ADA, GRACE, lines, TestRepo } from './gitrepo';

const repos: TestRepo[] = [];
after(() => repos.forEach((r) => r.remove()));

function repo(): TestRepo {
  const made = new TestRepo();
  repos.push(made);
  return made;
}

test('hunk headers of every shape', () => {
  assert.deepEqual(parseHunks('@@ -3 +3 @@\n-a\n+b\n@@ -10,0 +11,2 @@\n+c\n+d\n@@ -20,2 +22,0 @@ fn()\n-e\n-f\n'), [
    { oldStart: 3, oldCount: 1, newStart: 3, newCount: 1 },
    { oldStart: 10, oldCount: 0, newStart: 11, newCount: 2 },
    { oldStart: 20, oldCount: 2, newStart: 22, newCount: 0 },
  ]);
});

test('lines move with what was added and removed above them; changed lines are approximate', () => {
  const hunks = parseHunks('@@ -2,0 +3,4 @@\n@@ -5 +9 @@\n@@ -8,2 +11,0 @@\n@@ -12,3 +14,1 @@\n');
  assert.deepEqual(mapLine(hunks, 1), { line: 1, exact: true });
  assert.deepEqual(mapLine(hunks, 2), { line: 2, exact: true });
  assert.deepEqual(mapLine(hunks, 3), { line: 7, exact: true });
  assert.deepEqual(mapLine(hunks, 5), { line: 9, exact: false }); // edited
  assert.deepEqual(mapLine(hunks, 6), { line: 10, exact: true });
  assert.deepEqual(mapLine(hunks, 8), { line: 12, exact: false }); // removed: the line after the gap
  assert.deepEqual(mapLine(hunks, 10), { line: 12, exact: true });
  assert.deepEqual(mapLine(hunks, 13), { line: 14, exact: false }); // three became one
  assert.deepEqual(mapLine(hunks, 15), { line: 15, exact: true });
});

/** A small seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

test('every unchanged line is found exactly where git put it, through commits and uncommitted edits', async () => {
  for (let seed = 1; seed <= 12; seed++) {
    const rand = random(seed);
    const r = repo();
    const original = lines(60, `seed ${seed} original`);
    r.write('src/app.js', original.join('\n') + '\n');
    const incidentCommit = r.commit('the deployed version', ADA);
    let current = [...original];
    let serial = 0;
    const edit = (): void => {
      const at = Math.floor(rand() * (current.length + 1));
      const roll = rand();
      if (roll < 0.4) current.splice(at, 0, ...lines(1 + Math.floor(rand() * 4), `added ${seed}.${serial++}`));
      else if (roll < 0.7 && current.length > 5) current.splice(Math.min(at, current.length - 1), 1 + Math.floor(rand() * 2));
      else if (current.length > 0) current[Math.min(at, current.length - 1)] = `edited ${seed}.${serial++}`;
    };
    for (let i = 0; i < 6; i++) edit();
    r.write('src/app.js', current.join('\n') + '\n');
    r.commit('later work', GRACE);
    for (let i = 0; i < 3; i++) edit(); // and edits not committed yet
    r.write('src/app.js', current.join('\n') + '\n');

    const placer = new Placer(new Git(r.root), diskLineCounter(r.root));
    for (const [index, text] of original.entries()) {
      const placement = await placer.place(incidentCommit, 'src/app.js', index + 1);
      assert.ok(placement.found);
      const now = current.indexOf(text);
      if (now >= 0) {
        assert.equal(placement.line, now + 1, `seed ${seed}: "${text}"`);
        assert.equal(placement.exact, true, `seed ${seed}: "${text}"`);
      } else {
        assert.equal(placement.exact, false, `seed ${seed}: "${text}" is gone, so its place is approximate`);
        assert.ok(placement.line >= 1 && placement.line <= current.length);
      }
    }
  }
});

test('a renamed file is followed; a deleted one is missing; a short one clamps', async () => {
  const r = repo();
  r.write('src/users.js', lines(20, 'users').join('\n') + '\n');
  r.write('src/gone.js', 'x\n');
  r.write('src/short.js', lines(30, 'short').join('\n') + '\n');
  const incidentCommit = r.commit('deployed');
  r.git('mv', 'src/users.js', 'src/accounts.js');
  r.write('src/accounts.js', ['// header', ...lines(20, 'users')].join('\n') + '\n');
  r.git('rm', '--quiet', 'src/gone.js');
  r.write('src/short.js', lines(5, 'short').join('\n') + '\n');
  r.commit('rename, delete, shorten');

  const placer = new Placer(new Git(r.root), diskLineCounter(r.root));
  const renamed = await placer.place(incidentCommit, 'src/users.js', 10);
  assert.deepEqual(renamed, { found: true, file: 'src/accounts.js', line: 11, exact: true, originalFile: 'src/users.js', originalLine: 10 });
  assert.deepEqual(await placer.place(incidentCommit, 'src/gone.js', 1), {
    found: false,
    originalFile: 'src/gone.js',
    originalLine: 1,
    reason: 'fileMissing',
  });
  const clamped = await placer.place(incidentCommit, 'src/short.js', 25);
  assert.ok(clamped.found);
  assert.equal(clamped.line, 5);
  assert.equal(clamped.exact, false);
  // The server's line is past the end of the file even at the commit.
  const beyond = await placer.place(incidentCommit, 'src/short.js', 400);
  assert.ok(beyond.found && beyond.note === 'beyondEnd' && beyond.line === 5);
});

test('a commit this clone does not have, no commit at all, and a path that climbs out', async () => {
  const r = repo();
  r.write('src/app.js', lines(10).join('\n') + '\n');
  r.commit('only commit');
  const placer = new Placer(new Git(r.root), diskLineCounter(r.root));
  const missing = await placer.place('4f2a9c1e8b7d6a5f40312c1b0a9f8e7d6c5b4a39', 'src/app.js', 4);
  assert.ok(missing.found && missing.note === 'commitNotInClone' && missing.line === 4 && !missing.exact);
  const none = await placer.place(undefined, 'src/app.js', 4);
  assert.ok(none.found && none.note === 'noCommit' && none.line === 4);
  const climbing = await placer.place(undefined, '../../etc/passwd', 1);
  assert.equal(climbing.found, false);
});

test('a repository with no commits and a detached HEAD', async () => {
  const empty = repo();
  empty.write('src/app.js', 'a\nb\n');
  const git = new Git(empty.root);
  assert.equal(await git.head(), undefined);
  const placed = await new Placer(git, diskLineCounter(empty.root)).place('4f2a9c1e8b7d6a5f40312c1b0a9f8e7d6c5b4a39', 'src/app.js', 2);
  assert.ok(placed.found && placed.note === 'commitNotInClone');

  const r = repo();
  r.write('src/app.js', lines(10).join('\n') + '\n');
  const first = r.commit('first');
  r.write('src/app.js', ['new top', ...lines(10)].join('\n') + '\n');
  r.commit('second');
  r.git('checkout', '--quiet', '--detach', 'HEAD');
  const detached = await new Placer(new Git(r.root), diskLineCounter(r.root)).place(first, 'src/app.js', 3);
  assert.ok(detached.found && detached.line === 4 && detached.exact);
});
