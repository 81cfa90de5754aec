import assert from 'node:assert/strict';
import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { findRepository, parseRemotes, readRemotes } from '../src/core/gitconfig';
import { chooseRemote } from '../src/core/remote';
import { TestRepo } from './gitrepo';

const repos: TestRepo[] = [];
after(() => repos.forEach((r) => r.remove()));

function repo(): TestRepo {
  const made = new TestRepo();
  repos.push(made);
  return made;
}

test('remotes written by git are read from .git/config', async () => {
  const r = repo();
  r.git('remote', 'add', 'upstream', 'git@github.com:octo-org/shop-api.git');
  r.git('remote', 'add', 'origin', 'https://github.com/ada/shop-api.git');
  r.git('remote', 'set-url', '--push', 'origin', 'git@github.com:ada/shop-api.git');
  const files = await findRepository(r.root);
  assert.ok(files);
  assert.equal(files.root, realpathSync(r.root));
  const remotes = await readRemotes(files);
  assert.deepEqual(
    remotes.map((x) => [x.name, x.fetchUrl, x.pushUrl]),
    [
      ['upstream', 'git@github.com:octo-org/shop-api.git', undefined],
      ['origin', 'https://github.com/ada/shop-api.git', 'git@github.com:ada/shop-api.git'],
    ],
  );
  const choice = chooseRemote(remotes, ['github.com']);
  assert.equal(choice.kind === 'github' && choice.repo.slug, 'ada/shop-api');
});

test('a workspace opened on a subfolder finds the repository above it', async () => {
  const r = repo();
  r.git('remote', 'add', 'origin', 'git@github.com:octo-org/monorepo.git');
  mkdirSync(join(r.root, 'services', 'api', 'src'), { recursive: true });
  const files = await findRepository(join(r.root, 'services', 'api', 'src'));
  assert.equal(files?.root, realpathSync(r.root));
});

test('a linked worktree reads the shared config through its .git file', async () => {
  const r = repo();
  r.write('README.md', 'hello\n');
  r.commit('first');
  r.git('remote', 'add', 'origin', 'git@github.com:octo-org/shop-api.git');
  const tree = join(r.root, '..', `${realpathSync(r.root).split('/').pop()}-feature`);
  r.git('worktree', 'add', '--quiet', tree);
  try {
    const files = await findRepository(tree);
    assert.ok(files);
    assert.equal(files.root, realpathSync(tree));
    assert.notEqual(files.gitDir, join(r.root, '.git'));
    const remotes = await readRemotes(files);
    assert.equal(remotes[0]?.fetchUrl, 'git@github.com:octo-org/shop-api.git');
  } finally {
    r.git('worktree', 'remove', '--force', tree);
  }
});

test('a folder outside any repository has none', async () => {
  const r = repo();
  // The test's own temp folder is not a repository; a folder in / certainly is not either.
  assert.equal(await findRepository('/proc/self'), undefined);
  r.remove();
});

test('config syntax: quotes, comments, case and other sections', () => {
  const config = [
    '[core]',
    '\trepositoryformatversion = 0',
    '[remote "origin"]',
    '\tURL = "git@github.com:octo-org/shop.git" ; a comment',
    '\turl = git@github.com:octo-org/second-url-ignored.git',
    '\tfetch = +refs/heads/*:refs/remotes/origin/*',
    '# [remote "commented"]',
    '[remote "with \\"quote\\""]',
    '\turl = https://github.com/o/r.git # trailing',
    '[branch "main"]',
    '\tremote = origin',
    '\turl = not-a-remote-url',
  ].join('\n');
  assert.deepEqual(parseRemotes(config), [
    { name: 'origin', fetchUrl: 'git@github.com:octo-org/shop.git' },
    { name: 'with "quote"', fetchUrl: 'https://github.com/o/r.git' },
  ]);
});
