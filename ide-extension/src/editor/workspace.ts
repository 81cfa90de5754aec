// The GitHub repositories open in the editor: one per working copy, found through the built-in
// git extension when it is there, else from the files git keeps.

import * as vscode from 'vscode';

import { folderFacts, workingCopies, type WorkingCopy as CoreWorkingCopy } from '../core/workingcopy';

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
  | (Extract<CoreWorkingCopy<vscode.WorkspaceFolder>, { kind: 'github' }> & { git?: GitRepository })
  | Extract<CoreWorkingCopy<vscode.WorkspaceFolder>, { kind: 'problem' }>;

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

/** Every working copy of the workspace's folders; folders inside one working copy share it. */
export async function discover(git: GitApi | undefined, githubHosts: readonly string[]): Promise<WorkingCopy[]> {
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
  const repositories = new Map<string, GitRepository>();
  const facts = await Promise.all(
    folders.map((folder) => {
      const viaGit = git?.getRepository(folder.uri) ?? undefined;
      if (viaGit) repositories.set(viaGit.rootUri.fsPath, viaGit);
      const known = viaGit
        ? { root: viaGit.rootUri.fsPath, remotes: viaGit.state.remotes.map((r) => ({ name: r.name, fetchUrl: r.fetchUrl, pushUrl: r.pushUrl })) }
        : undefined;
      return folderFacts(folder, folder.uri.fsPath, known);
    }),
  );
  return workingCopies(facts, githubHosts).map((copy) => {
    const repository = copy.kind === 'github' ? repositories.get(copy.root) : undefined;
    return repository && copy.kind === 'github' ? { ...copy, git: repository } : copy;
  });
}
