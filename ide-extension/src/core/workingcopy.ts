// The working copies of an editor's folders: each folder's repository and the GitHub
// repository it reports to, with folders inside one working copy counted once.

import { findRepository, readRemotes } from './gitconfig';
import { chooseRemote, type GitHubRepo, type Remote } from './remote';

export interface FolderFacts<F> {
  folder: F;
  /** The working copy's top folder, or undefined outside any repository. */
  root: string | undefined;
  remotes: Remote[];
}

export type WorkingCopy<F> =
  | { kind: 'github'; root: string; repo: GitHubRepo; remote: string; folders: F[] }
  | { kind: 'problem'; root: string | undefined; folder: F; problem: 'noRepository' | 'noRemote' | 'notGitHub'; detail?: string };

/**
 * What git says of a folder: the repository holding it and its remotes. `known` is what the
 * editor's git extension already knows; the files git keeps fill in what it does not (it
 * reads a repository's remotes some time after opening it).
 */
export async function folderFacts<F>(folder: F, path: string, known?: { root: string; remotes: Remote[] }): Promise<FolderFacts<F>> {
  if (known && known.remotes.length) return { folder, root: known.root, remotes: known.remotes };
  const files = await findRepository(known?.root ?? path);
  if (!files) return { folder, root: known?.root, remotes: [] };
  return { folder, root: known?.root ?? files.root, remotes: await readRemotes(files) };
}

export function workingCopies<F>(facts: readonly FolderFacts<F>[], githubHosts: readonly string[]): WorkingCopy<F>[] {
  const byRoot = new Map<string, Extract<WorkingCopy<F>, { kind: 'github' }>>();
  const problems: WorkingCopy<F>[] = [];
  for (const { folder, root, remotes } of facts) {
    if (!root) {
      problems.push({ kind: 'problem', root, folder, problem: 'noRepository' });
      continue;
    }
    const seen = byRoot.get(root);
    if (seen) {
      seen.folders.push(folder);
      continue;
    }
    const choice = chooseRemote(remotes, githubHosts);
    if (choice.kind === 'none') problems.push({ kind: 'problem', root, folder, problem: 'noRemote' });
    else if (choice.kind === 'notGitHub') problems.push({ kind: 'problem', root, folder, problem: 'notGitHub', detail: choice.urls.join(', ') });
    else byRoot.set(root, { kind: 'github', root, repo: choice.repo, remote: choice.remote, folders: [folder] });
  }
  return [...byRoot.values(), ...problems];
}
