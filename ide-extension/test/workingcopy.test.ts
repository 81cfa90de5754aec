import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { folderFacts, workingCopies } from '../src/core/workingcopy';
import { TestRepo } from './gitrepo';

const made: string[] = [];
after(() => made.forEach((p) => rmSync(p, { recursive: true, force: true })));

test('a multi-root workspace: each folder its own repository, subfolders sharing theirs', async () => {
  const shop = new TestRepo();
  const billing = new TestRepo();
  const mirror = new TestRepo();
  const plain = mkdtempSync(join(tmpdir(), 'stackline-plain-'));
  made.push(shop.root, billing.root, mirror.root, plain);
  shop.git('remote', 'add', 'origin', 'git@github.com:octo-org/shop.git');
  billing.git('remote', 'add', 'upstream', 'https://github.com/octo-org/billing.git');
  mirror.git('remote', 'add', 'origin', 'https://gitlab.com/octo-org/shop.git');
  mkdirSync(join(shop.root, 'services', 'api'), { recursive: true });

  const folders = [
    { name: 'shop', path: shop.root },
    { name: 'billing', path: billing.root },
    { name: 'api', path: join(shop.root, 'services', 'api') },
    { name: 'notes', path: plain },
    { name: 'mirror', path: mirror.root },
  ];
  const facts = await Promise.all(folders.map((f) => folderFacts(f.name, f.path)));
  const copies = workingCopies(facts, ['github.com']);
  assert.deepEqual(
    copies.map((c) => (c.kind === 'github' ? `${c.repo.slug} via ${c.remote}: ${c.folders.join('+')}` : `${c.folder}: ${c.problem}`)),
    ['octo-org/shop via origin: shop+api', 'octo-org/billing via upstream: billing', 'notes: noRepository', 'mirror: notGitHub'],
  );
  const shopCopy = copies[0]!;
  assert.equal(shopCopy.root, realpathSync(shop.root));
});

test('what the git extension knows wins, and the files fill in remotes it has not read yet', async () => {
  const repo = new TestRepo();
  made.push(repo.root);
  repo.git('remote', 'add', 'origin', 'git@github.com:octo-org/shop.git');
  const known = await folderFacts('f', repo.root, { root: repo.root, remotes: [{ name: 'origin', fetchUrl: 'git@github.com:octo-org/other.git' }] });
  assert.equal(known.remotes[0]?.fetchUrl, 'git@github.com:octo-org/other.git');
  const notYet = await folderFacts('f', repo.root, { root: repo.root, remotes: [] });
  assert.equal(notYet.remotes[0]?.fetchUrl, 'git@github.com:octo-org/shop.git');
  const none = workingCopies([{ folder: 'f', root: repo.root, remotes: [] }], ['github.com']);
  assert.equal(none[0]?.kind === 'problem' && none[0].problem, 'noRemote');
});
