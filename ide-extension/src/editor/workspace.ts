// The GitHub repositories open in the editor: one per working copy, found through the built-in
// git extension when it is there, else from the files git keeps.

import * as vscode from 'vscode';

import { findRepository, readRemotes } from '../core/gitconfig';
import { chooseRemote, type GitHubRepo, type Remote, type RemoteChoice } from '../core/remote';

// The part of the built-in git extension's API (extensions/git/src/api/git.d.ts) used here.
interface GitRepositoryState {
  readonly HEAD: { readonly commit?: string } | undefined;
  readonly remotes: readonly { readonly name: string; readonly fetchUrl?: string; readonly pushUrl?: string }[];
  readonly onDidChange: vscode.Event<void>;
}
interface GitRepository {
  readonly rootUri: vscode.Uri;
  readonly state: GitRepositoryState;
}
interface GitApi {
  readonly state: 'uninitialized' | 'initialized';
  readonly onDidChangeState: vscode.Event<'uninitialized' | 'initialized'>;
  readonly repositories: readonly GitRepository[];
  readonly onDidOpenRepository: vscode.Event<GitRepository>;
  getRepository(uri: vscode.Uri): GitRepository | null;
}
interface GitExtension {
  readonly enabled: boolean;
  getAPI(version: 1): GitApi;
}

export type WorkingCopy =
  | { kind: 'github'; root: string; repo: GitHubRepo; remote: string; folders: vscode.WorkspaceFolder[]; git?: GitRepository }
  | { kind: 'problem'; root: string | undefined; folder: vscode.WorkspaceFolder; problem: 'noRepository' | 'noRemote' | 'notGitHub'; detail?: string };

/** The built-in git extension's API once it is ready, or undefined without it. */
export async function builtInGit(): Promise<GitApi | undefined> {
  const extension = vscode.extensions.getExtension<GitExtension>('vscode.git');
  if (!extension) return undefined;
  try {
    const exports = extension.isActive ? extension.exports : await extension.activate();
    if (!exports?.enabled) return undefined;
    const api = exports.getAPI(1);
    if (api.state !== 'initialized') {
      // Wait for it to scan the workspace, but not forever: the files are a fine fallback.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5_000);
        const sub = api.onDidChangeState((state) => {
          if (state === 'initialized') {
            clearTimeout(timer);
            sub.dispose();
            resolve();
          }
        });
      });
    }
    return api;
  } catch {
    return undefined;
  }
}

async function inspect(folder: vscode.WorkspaceFolder, git: GitApi | undefined, githubHosts: readonly string[]): Promise<WorkingCopy> {
  let root: string | undefined;
  let remotes: Remote[] = [];
  const viaGit = git?.getRepository(folder.uri) ?? undefined;
  if (viaGit) {
    root = viaGit.rootUri.fsPath;
    remotes = viaGit.state.remotes.map((r) => ({ name: r.name, fetchUrl: r.fetchUrl, pushUrl: r.pushUrl }));
  }
  // The git extension fills in a repository's remotes after it opens it: until then, and
  // without it, the files git keeps say the same.
  if (remotes.length === 0) {
    const files = await findRepository(root ?? folder.uri.fsPath);
    if (files) {
      root ??= files.root;
      remotes = await readRemotes(files);
    }
  }
  if (!root) return { kind: 'problem', root, folder, problem: 'noRepository' };
  const choice: RemoteChoice = chooseRemote(remotes, githubHosts);
  if (choice.kind === 'none') return { kind: 'problem', root, folder, problem: 'noRemote' };
  if (choice.kind === 'notGitHub') return { kind: 'problem', root, folder, problem: 'notGitHub', detail: choice.urls.join(', ') };
  return { kind: 'github', root, repo: choice.repo, remote: choice.remote, folders: [folder], ...(viaGit ? { git: viaGit } : {}) };
}

/** Every working copy of the workspace's folders; folders inside one working copy share it. */
export async function discover(git: GitApi | undefined, githubHosts: readonly string[]): Promise<WorkingCopy[]> {
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
  const found = await Promise.all(folders.map((f) => inspect(f, git, githubHosts)));
  const byRoot = new Map<string, WorkingCopy>();
  const problems: WorkingCopy[] = [];
  for (const copy of found) {
    if (copy.kind === 'problem') {
      problems.push(copy);
      continue;
    }
    const seen = byRoot.get(copy.root);
    if (seen && seen.kind === 'github') seen.folders.push(...copy.folders);
    else byRoot.set(copy.root, copy);
  }
  return [...byRoot.values(), ...problems];
}
