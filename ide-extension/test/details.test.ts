import assert from 'node:assert/strict';
import { test } from 'node:test';

import { code, escapeMarkdown, incidentDocument, incidentMarkdown, placementNote } from '../src/core/details';
import { parseOpenLink, openLink } from '../src/core/deeplink';
import type { IncidentDetail } from '../src/core/model';

const now = new Date('2026-12-03T12:00:00Z');
const detail: IncidentDetail = {
  id: 'abc',
  repo: 'octo-org/shop',
  status: 'open',
  title: 'TypeError in src/users.js:2',
  exceptionType: 'TypeError',
  message: "Cannot read properties of undefined (reading 'name') *not bold*",
  culprit: { file: 'src/users.js', line: 2, column: 20, function: 'getUser' },
  commitSha: '4f2a9c1e8b7d6a5f40312c1b0a9f8e7d6c5b4a39',
  environment: 'production',
  count: 12,
  firstSeen: new Date('2026-11-30T12:00:00Z'),
  lastSeen: new Date('2026-12-03T11:55:00Z'),
  githubUrl: 'https://github.com/octo-org/shop/blob/4f2a9c1/src/users.js#L2',
  environments: ['production', 'staging'],
  regression: null,
  latestEvent: {
    id: 'e',
    occurredAt: new Date('2026-12-03T11:55:00Z'),
    commitSha: '4f2a9c1e8b7d6a5f40312c1b0a9f8e7d6c5b4a39',
    environment: 'production',
    rawStack: 'TypeError: boom\n    at getUser (/app/src/users.js:2:20)',
    frames: [
      { file: 'src/users.js', line: 2, column: 20, function: 'getUser', inApp: true, absPath: '/app/src/users.js', githubUrl: null },
      { file: null, line: 1105, column: 14, function: 'Module._compile', inApp: false, absPath: 'node:internal/modules/cjs/loader', githubUrl: null },
    ],
    processingErrors: [],
  },
};

test('the hover tells what, how often, where it moved, the suspect, and links the frames', () => {
  const text = incidentMarkdown(detail, {
    now,
    suspect: 'last changed in `abc1234` by Ada, 3 days before the incident: Fix',
    placement: { found: true, file: 'src/users.js', line: 7, exact: true, originalFile: 'src/users.js', originalLine: 2 },
    frameLink: (_f, i) => `command:open?${i}`,
  });
  assert.match(text, /^\*\*TypeError\*\*: Cannot read properties of undefined \(reading 'name'\) \\\*not bold\\\*/);
  assert.match(text, /12 events · first seen 3 days ago · last seen 5 minutes ago · production, staging · open/);
  assert.match(text, /Commit `4f2a9c1`/);
  assert.match(text, /Moved: the code was at line 2 of `src\/users.js` at `4f2a9c1`/);
  assert.match(text, /Suspect: last changed in `abc1234` by Ada/);
  assert.match(text, /1\. \[getUser \(src\/users\.js:2:20\)\]\(command:open\?0\)/);
  assert.match(text, /2\. _Module\.\\_compile/); // a library frame: no link
  assert.match(text, /\[View on GitHub\]\(https:\/\/github\.com\/octo-org\/shop\/blob\/4f2a9c1\/src\/users\.js#L2\)/);
});

test('each reason a line is not exact says so', () => {
  const at = { found: true as const, file: 'a.js', line: 3, exact: false, originalFile: 'a.js', originalLine: 2 };
  assert.match(placementNote({ ...at, note: 'lineChanged' }, 'abcdef0123')!, /^Approximate: the line has changed/);
  assert.match(placementNote({ ...at, note: 'commitNotInClone' }, 'abcdef0123')!, /commit `abcdef0` is not in this clone/);
  assert.match(placementNote({ ...at, note: 'noCommit' }, null)!, /did not say which commit/);
  assert.match(placementNote({ ...at, note: 'beyondEnd' }, 'abcdef0123')!, /past the end/);
  assert.match(placementNote({ found: false, originalFile: 'a.js', originalLine: 2, reason: 'fileMissing' }, null)!, /not in this working copy/);
  assert.equal(placementNote({ ...at, exact: true, line: 2 }, 'abc'), undefined);
});

test('the details document links each in-app frame at its place now', () => {
  const { text, links } = incidentDocument(detail, {
    now,
    frames: [
      { frame: detail.latestEvent!.frames[0]!, index: 0, placement: { found: true, file: 'src/users.js', line: 7, exact: true, originalFile: 'src/users.js', originalLine: 2 } },
      { frame: detail.latestEvent!.frames[1]!, index: 1, placement: undefined },
    ],
    head: 'abcdef0123456789',
  });
  const lines = text.split('\n');
  assert.equal(links.length, 1);
  const link = links[0]!;
  assert.equal(lines[link.line]!.slice(link.start, link.end), 'src/users.js:7');
  assert.equal(link.fileLine, 7);
  assert.match(lines[link.line]!, /\(was src\/users\.js:2\)/);
  assert.match(text, /node:internal\/modules\/cjs\/loader:1105 {2}\(library\)/);
  assert.match(text, /Commit {7}4f2a9c1 \(this working copy is at abcdef0\)/);
  assert.match(text, /## As the runtime printed it\n\n {4}TypeError: boom/);
});

test('inline code survives backticks', () => {
  assert.equal(code('a`b'), '``a`b``');
  assert.equal(code('`x'), '`` `x ``');
  assert.equal(escapeMarkdown('[x](y) *a* <b>'), '\\[x\\](y) \\*a\\* \\<b\\>');
});

test('deep links: parsed, refused, and made', () => {
  assert.deepEqual(parseOpenLink('/open', 'repo=octo-org/shop&incident=0b7c6d1e-0000-4000-8000-000000000001'), {
    repo: 'octo-org/shop',
    incident: '0b7c6d1e-0000-4000-8000-000000000001',
  });
  assert.ok('error' in parseOpenLink('/delete', 'repo=a/b&incident=x'));
  assert.ok('error' in parseOpenLink('/open', 'repo=../etc&incident=x'));
  assert.ok('error' in parseOpenLink('/open', 'repo=a/b&incident=../../x'));
  assert.ok('error' in parseOpenLink('/open', 'repo=a/..&incident=x'));
  assert.equal(openLink('vscode', 'stackline.stackline', { repo: 'o/r', incident: 'i-1' }), 'vscode://stackline.stackline/open?repo=o%2Fr&incident=i-1');
});
