// Real git repositories for the tests, made in a temporary folder.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface Author {
  name: string;
  email: string;
  /** Seconds since the epoch. */
  time: number;
}

export const ADA: Author = { name: 'Ada Lovelace', email: 'ada@example.com', time: 1_764_000_000 };
export const GRACE: Author = { name: 'Grace Hopper', email: 'grace@example.com', time: 1_764_259_200 };

export class TestRepo {
  readonly root: string;

  constructor(prefix = 'stackline-repo-') {
    this.root = mkdtempSync(join(tmpdir(), prefix));
    this.git('init', '--quiet', '--initial-branch=main');
  }

  git(...args: string[]): string {
    return execFileSync('git', args, {
      cwd: this.root,
      encoding: 'utf8',
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_SYSTEM: '/dev/null', LC_ALL: 'C' },
    });
  }

  write(file: string, text: string): void {
    const path = join(this.root, file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }

  commit(message: string, author: Author = ADA): string {
    this.git('add', '--all');
    const date = `${author.time} +0000`;
    execFileSync('git', ['-c', `user.name=${author.name}`, '-c', `user.email=${author.email}`, 'commit', '--quiet', '-m', message], {
      cwd: this.root,
      env: {
        ...process.env,
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_CONFIG_SYSTEM: '/dev/null',
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_DATE: date,
        GIT_AUTHOR_NAME: author.name,
        GIT_AUTHOR_EMAIL: author.email,
        GIT_COMMITTER_NAME: author.name,
        GIT_COMMITTER_EMAIL: author.email,
      },
    });
    return this.git('rev-parse', 'HEAD').trim();
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** `count` numbered lines, each unique, for following lines through edits. */
export function lines(count: number, tag = 'line'): string[] {
  return Array.from({ length: count }, (_, i) => `${tag} ${i + 1}`);
}
