import assert from 'node:assert/strict';
import { test } from 'node:test';

import { chooseRemote, parseRemoteUrl, redactCredentials } from '../src/core/remote';

const forms: [string, string, string][] = [
  ['https://github.com/octo-org/shop-api.git', 'github.com', 'octo-org/shop-api'],
  ['https://github.com/octo-org/shop-api', 'github.com', 'octo-org/shop-api'],
  ['https://github.com/octo-org/shop-api/', 'github.com', 'octo-org/shop-api'],
  ['http://github.com/octo-org/shop-api.git', 'github.com', 'octo-org/shop-api'],
  ['https://x-access-token:ghs_abc@github.com/octo-org/shop-api.git', 'github.com', 'octo-org/shop-api'],
  ['https://GitHub.com:443/octo-org/shop.api.git', 'github.com', 'octo-org/shop.api'],
  ['git@github.com:octo-org/shop-api.git', 'github.com', 'octo-org/shop-api'],
  ['git@github.com:octo-org/shop-api', 'github.com', 'octo-org/shop-api'],
  ['github.com:octo-org/shop-api.git', 'github.com', 'octo-org/shop-api'],
  ['ssh://git@github.com/octo-org/shop-api.git', 'github.com', 'octo-org/shop-api'],
  ['ssh://git@ssh.github.com:443/octo-org/shop-api.git', 'ssh.github.com', 'octo-org/shop-api'],
  ['git+ssh://git@github.com/octo-org/shop_api.git', 'github.com', 'octo-org/shop_api'],
  ['git://github.com/octo-org/shop-api.git', 'github.com', 'octo-org/shop-api'],
  ['https://ghe.example.com/platform/billing.git', 'ghe.example.com', 'platform/billing'],
  ['git@ghe.example.com:platform/billing.git', 'ghe.example.com', 'platform/billing'],
];

test('every remote URL form gives its host and owner/name', () => {
  for (const [url, host, slug] of forms) {
    const parsed = parseRemoteUrl(url);
    assert.ok(parsed, url);
    assert.equal(parsed.host, host, url);
    assert.equal(`${parsed.owner}/${parsed.name}`, slug, url);
  }
});

test('URLs that do not name a repository are refused', () => {
  for (const url of [
    '',
    '/srv/git/shop.git',
    '../shop',
    'file:///srv/git/shop.git',
    'https://github.com/octo-org',
    'https://github.com/octo-org/shop-api/tree/main',
    'https://github.com/-octo/shop',
    'https://github.com/octo--org/shop',
    'https://github.com/octo-org/..',
    'git@github.com:octo-org/sh op.git',
    'not a url at all',
  ]) {
    assert.equal(parseRemoteUrl(url), undefined, url);
  }
});

test('origin is preferred, then upstream, then the others by name', () => {
  const hosts = ['github.com'];
  const pick = (remotes: { name: string; fetchUrl: string }[]) => {
    const choice = chooseRemote(remotes, hosts);
    return choice.kind === 'github' ? `${choice.remote}=${choice.repo.slug}` : choice.kind;
  };
  assert.equal(
    pick([
      { name: 'upstream', fetchUrl: 'git@github.com:octo-org/shop.git' },
      { name: 'origin', fetchUrl: 'git@github.com:ada/shop.git' },
    ]),
    'origin=ada/shop',
  );
  assert.equal(
    pick([
      { name: 'zeta', fetchUrl: 'git@github.com:z/shop.git' },
      { name: 'upstream', fetchUrl: 'git@github.com:octo-org/shop.git' },
      { name: 'alpha', fetchUrl: 'git@github.com:a/shop.git' },
    ]),
    'upstream=octo-org/shop',
  );
  assert.equal(
    pick([
      { name: 'zeta', fetchUrl: 'git@github.com:z/shop.git' },
      { name: 'alpha', fetchUrl: 'git@github.com:a/shop.git' },
    ]),
    'alpha=a/shop',
  );
  // An origin elsewhere gives way to a GitHub remote.
  assert.equal(
    pick([
      { name: 'origin', fetchUrl: 'git@gitlab.com:ada/shop.git' },
      { name: 'upstream', fetchUrl: 'https://github.com/octo-org/shop' },
    ]),
    'upstream=octo-org/shop',
  );
});

test('a remote on another host is not GitHub unless the host is listed', () => {
  const remotes = [{ name: 'origin', fetchUrl: 'https://user:secret@gitlab.com/ada/shop.git' }];
  const choice = chooseRemote(remotes, ['github.com']);
  assert.equal(choice.kind, 'notGitHub');
  assert.deepEqual(choice.kind === 'notGitHub' && choice.urls, ['https://gitlab.com/ada/shop.git']);
  const enterprise = chooseRemote([{ name: 'origin', fetchUrl: 'git@ghe.example.com:platform/billing.git' }], ['github.com', 'GHE.example.com']);
  assert.equal(enterprise.kind === 'github' && enterprise.repo.slug, 'platform/billing');
  assert.equal(chooseRemote([], ['github.com']).kind, 'none');
});

test('credentials never leave a remote URL that is shown', () => {
  assert.equal(redactCredentials('https://x-access-token:ghs_abc@github.com/o/r.git'), 'https://github.com/o/r.git');
  assert.equal(redactCredentials('git@github.com:o/r.git'), 'git@github.com:o/r.git');
});
