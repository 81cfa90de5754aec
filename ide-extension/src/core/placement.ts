// Where a line an incident names (a file and line at the deployed commit) is in the working
// copy now: through the diff from that commit to the working tree, renames included.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import type { Git } from './git';
import { mapLine, type Hunk } from './linemap';

/** Why a place is not exactly the line the incident names. */
export type PlaceNote =
  /** The line itself was edited or removed since the commit: this is the nearest line. */
  | 'lineChanged'
  /** The incident's commit is not in this clone: the line is as the incident gives it. */
  | 'commitNotInClone'
  /** The event carried no commit: the line is as the incident gives it. */
  | 'noCommit'
  /** The line is past the end of the file as it is now: this is the last line. */
  | 'beyondEnd'
  /** git could not compare the commit with the working tree: the line is as given. */
  | 'gitFailed';

export type Placement =
  | {
      found: true;
      /** Repository-relative path in the working copy (a renamed file's new path). */
      file: string;
      line: number;
      exact: boolean;
      note?: PlaceNote;
      originalFile: string;
      originalLine: number;
    }
  | { found: false; originalFile: string; originalLine: number; reason: 'fileMissing' };

export type LineCounter = (relativePath: string) => Promise<number | undefined>;

/** Counts the lines of a file on disk under `root`, undefined when it is not a readable file. */
export function diskLineCounter(root: string): LineCounter {
  return async (relativePath) => {
    const absolute = path.resolve(root, relativePath);
    // A path from the server must stay inside the working copy.
    if (absolute !== root && !absolute.startsWith(root + path.sep)) return undefined;
    try {
      const text = await fs.readFile(absolute, 'utf8');
      if (text.length === 0) return 1;
      const newlines = text.split('\n').length - 1;
      return text.endsWith('\n') ? newlines : newlines + 1;
    } catch {
      return undefined;
    }
  };
}

export class Placer {
  private readonly commits = new Map<string, Promise<string | undefined>>();
  private readonly hunks = new Map<string, Promise<Hunk[]>>();
  private readonly renames = new Map<string, Promise<Map<string, string>>>();

  constructor(
    private readonly git: Git,
    private readonly lines: LineCounter,
  ) {}

  /** Forget what was read of the working tree (a file was saved, HEAD moved). */
  invalidate(): void {
    this.hunks.clear();
    this.renames.clear();
  }

  /** Whether this clone holds `commit`; cached, since commits do not change. */
  resolveCommit(commit: string): Promise<string | undefined> {
    let found = this.commits.get(commit);
    if (!found) {
      found = this.git.resolveCommit(commit);
      this.commits.set(commit, found);
      // A commit that is missing now may arrive with the next fetch: do not cache a miss.
      void found.then((sha) => {
        if (!sha) this.commits.delete(commit);
      });
    }
    return found;
  }

  async place(commit: string | undefined, file: string, line: number): Promise<Placement> {
    const resolved = commit ? await this.resolveCommit(commit) : undefined;
    let current = file;
    let count = await this.lines(file);
    if (count === undefined && resolved) {
      const renames = await this.cached(this.renames, resolved, () => this.git.renames(resolved)).catch(() => new Map<string, string>());
      const renamed = renames.get(file);
      if (renamed) {
        current = renamed;
        count = await this.lines(renamed);
      }
    }
    if (count === undefined) return { found: false, originalFile: file, originalLine: line, reason: 'fileMissing' };

    let mapped = { line, exact: true };
    let note: PlaceNote | undefined;
    if (!commit) {
      note = 'noCommit';
    } else if (!resolved) {
      note = 'commitNotInClone';
    } else {
      try {
        const hunks = await this.cached(this.hunks, `${resolved}\0${file}\0${current}`, () =>
          this.git.diffHunks(resolved, file, current === file ? undefined : current),
        );
        mapped = mapLine(hunks, line);
        if (!mapped.exact) note = 'lineChanged';
      } catch {
        note = 'gitFailed';
      }
    }
    if (mapped.line > count) {
      mapped = { line: count, exact: false };
      note = 'beyondEnd';
    }
    return {
      found: true,
      file: current,
      line: Math.max(1, mapped.line),
      exact: mapped.exact && note === undefined,
      ...(note ? { note } : {}),
      originalFile: file,
      originalLine: line,
    };
  }

  private cached<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
    let value = cache.get(key);
    if (!value) {
      value = load();
      cache.set(key, value);
      void value.catch(() => cache.delete(key));
    }
    return value;
  }
}
