// Read-only questions to git about one working copy: HEAD, whether a commit is here, what
// changed in a file since a commit, and who last changed a line.

import { execFile } from 'node:child_process';

import { parseBlamePorcelain, type BlameLine } from './blame';
import { parseHunks, type Hunk } from './linemap';

export class GitError extends Error {}

export type Runner = (args: readonly string[], cwd: string) => Promise<string>;

const TIMEOUT_MS = 15_000;
const MAX_OUTPUT = 16 * 1024 * 1024;

/** Runs the `git` on PATH; never prompts, never takes the index lock. */
export function gitRunner(binary = 'git'): Runner {
  return (args, cwd) =>
    new Promise((resolve, reject) => {
      execFile(
        binary,
        // No pager, no colour, no external diff or text conversion the user configured.
        ['-c', 'core.quotepath=off', '-c', 'color.ui=false', ...args],
        {
          cwd,
          timeout: TIMEOUT_MS,
          maxBuffer: MAX_OUTPUT,
          windowsHide: true,
          env: {
            ...process.env,
            GIT_TERMINAL_PROMPT: '0',
            // A diff against the working tree may refresh the index; this keeps it from
            // writing, so Stackline never changes anything in the repository.
            GIT_OPTIONAL_LOCKS: '0',
            LC_ALL: 'C',
          },
        },
        (error, stdout, stderr) => {
          if (error) reject(new GitError(`git ${args[0]}: ${String(stderr).trim() || error.message}`));
          else resolve(String(stdout));
        },
      );
    });
}

const SHA = /^[0-9a-f]{7,64}$/i;

export class Git {
  constructor(
    readonly root: string,
    private readonly run: Runner = gitRunner(),
  ) {}

  /** The commit checked out, or undefined in a repository with no commits yet. */
  async head(): Promise<string | undefined> {
    try {
      return (await this.run(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], this.root)).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /** The full id of `sha` if this clone holds that commit. */
  async resolveCommit(sha: string): Promise<string | undefined> {
    if (!SHA.test(sha)) return undefined;
    try {
      return (await this.run(['rev-parse', '--verify', '--quiet', `${sha}^{commit}`], this.root)).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The hunks between `file` at `commit` and the working tree, uncommitted edits included;
   * `renamedTo` names the file's path now when it was renamed since.
   */
  async diffHunks(commit: string, file: string, renamedTo?: string): Promise<Hunk[]> {
    const paths = renamedTo ? ['-M', commit, '--', file, renamedTo] : ['--no-renames', commit, '--', file];
    const out = await this.run(['diff', '--no-ext-diff', '--no-textconv', '--unified=0', ...paths], this.root);
    return parseHunks(out);
  }

  /** Files renamed between `commit` and the working tree: old path to new path. */
  async renames(commit: string): Promise<Map<string, string>> {
    const out = await this.run(['diff', '--no-ext-diff', '--name-status', '-z', '-M', '--diff-filter=R', commit, '--'], this.root);
    const fields = out.split('\0');
    const renamed = new Map<string, string>();
    for (let i = 0; i + 2 < fields.length; i += 3) {
      if (fields[i]!.startsWith('R')) renamed.set(fields[i + 1]!, fields[i + 2]!);
    }
    return renamed;
  }

  /** Whether `file` exists at `commit`. */
  async existsAt(commit: string, file: string): Promise<boolean> {
    try {
      await this.run(['cat-file', '-e', `${commit}:${file}`], this.root);
      return true;
    } catch {
      return false;
    }
  }

  /** Who last changed 1-based `line` of `file` as of `commit`. */
  async blame(commit: string, file: string, line: number): Promise<BlameLine | undefined> {
    try {
      const out = await this.run(['blame', '--porcelain', '-L', `${line},${line}`, commit, '--', file], this.root);
      return parseBlamePorcelain(out);
    } catch {
      return undefined;
    }
  }
}
