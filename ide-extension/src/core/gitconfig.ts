// A working copy's root and remotes read from the files git keeps, for when the editor's
// built-in git extension is absent or disabled.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import type { Remote } from './remote';

export interface RepositoryFiles {
  /** The working copy's top folder. */
  root: string;
  /** Where this working copy's HEAD lives (a linked worktree has its own). */
  gitDir: string;
  /** The `config` shared by every worktree of the repository. */
  configPath: string;
}

async function readIfFile(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The repository holding `start`, looking in `start` and then each parent, as git does: a
 * `.git` folder, or a `.git` file (`gitdir: ...`) for linked worktrees and submodules.
 */
export async function findRepository(start: string): Promise<RepositoryFiles | undefined> {
  let dir = path.resolve(start);
  for (;;) {
    const dotGit = path.join(dir, '.git');
    let gitDir: string | undefined;
    if (await isDirectory(dotGit)) {
      gitDir = dotGit;
    } else {
      const pointer = await readIfFile(dotGit);
      const match = pointer ? /^gitdir:\s*(.+?)\s*$/m.exec(pointer) : null;
      if (match) gitDir = path.resolve(dir, match[1]!);
    }
    if (gitDir) {
      const common = (await readIfFile(path.join(gitDir, 'commondir')))?.trim();
      const commonDir = common ? path.resolve(gitDir, common) : gitDir;
      return { root: dir, gitDir, configPath: path.join(commonDir, 'config') };
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function unquote(value: string): string {
  let out = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '"') quoted = !quoted;
    else if (c === '\\' && i + 1 < value.length) {
      const next = value[++i]!;
      out += next === 'n' ? '\n' : next === 't' ? '\t' : next;
    } else if (!quoted && (c === '#' || c === ';')) break;
    else out += c;
  }
  return out.trim();
}

/** The remotes a git config file declares (`[remote "name"]` with `url` and `pushurl`). */
export function parseRemotes(config: string): Remote[] {
  const remotes = new Map<string, Remote>();
  let current: Remote | undefined;
  for (const raw of config.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]/.exec(line);
    if (section) {
      const name = section[2]?.replace(/\\(.)/g, '$1');
      if (section[1]!.toLowerCase() === 'remote' && name !== undefined) {
        current = remotes.get(name) ?? { name };
        remotes.set(name, current);
      } else {
        current = undefined;
      }
      continue;
    }
    if (!current) continue;
    const entry = /^([A-Za-z][A-Za-z0-9-]*)\s*=\s*(.*)$/.exec(line);
    if (!entry) continue;
    const key = entry[1]!.toLowerCase();
    // The first url wins, as it does for git fetch.
    if (key === 'url' && current.fetchUrl === undefined) current.fetchUrl = unquote(entry[2]!);
    if (key === 'pushurl' && current.pushUrl === undefined) current.pushUrl = unquote(entry[2]!);
  }
  return [...remotes.values()];
}

export async function readRemotes(files: RepositoryFiles): Promise<Remote[]> {
  const config = await readIfFile(files.configPath);
  return config === undefined ? [] : parseRemotes(config);
}
