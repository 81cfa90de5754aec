// Signing in: GitHub's device flow through Stackline's own GitHub app (the default, which
// works in every editor), the GitHub account the editor is signed in with where the server
// accepts it, or the local sign-in of a Stackline running on this machine.

import * as os from 'node:os';
import * as vscode from 'vscode';

import { ApiError, isLoopbackHost, type StacklineApi } from '../core/api';
import type { Session } from '../core/model';

export type SignInMethod = 'device' | 'editorGitHub' | 'local';

/** What `stackline.signIn` accepts as an argument, so that a link or a test can skip the picker. */
export interface SignInRequest {
  method?: SignInMethod;
  login?: string;
}

function describe(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.kind === 'offline' || error.kind === 'timeout') return `Stackline is not answering: ${error.message}`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

async function pickMethod(api: StacklineApi): Promise<SignInMethod | undefined> {
  const items: (vscode.QuickPickItem & { method: SignInMethod })[] = [
    {
      method: 'device',
      label: '$(github) Sign in with GitHub',
      detail: 'Enter a one-time code on GitHub. Works in every editor.',
    },
    {
      method: 'editorGitHub',
      label: '$(account) Use the GitHub account signed in to this editor',
      detail: 'One click, where your Stackline server accepts it.',
    },
  ];
  if (isLoopbackHost(new URL(api.baseUrl).hostname)) {
    items.push({ method: 'local', label: '$(vm) Local sign-in', detail: 'For Stackline running on this machine (make run).' });
  }
  const picked = await vscode.window.showQuickPick(items, { title: 'Sign in to Stackline', placeHolder: api.baseUrl });
  return picked?.method;
}

async function deviceFlow(api: StacklineApi, log: vscode.LogOutputChannel): Promise<Session | undefined> {
  const started = await api.deviceStart();
  log.info(`device code issued; waiting for it at ${started.verificationUri}`);
  // The code goes to the clipboard at once, as GitHub's own editors do; the notification
  // offers to open the page. Polling starts now, so typing the code by hand works too.
  await vscode.env.clipboard.writeText(started.userCode);
  const open = 'Open GitHub';
  void vscode.window
    .showInformationMessage(`To sign in to Stackline, enter the code ${started.userCode} at ${started.verificationUri} (copied).`, open)
    .then(async (choice) => {
      if (choice === open) await vscode.env.openExternal(vscode.Uri.parse(started.verificationUri)).then(undefined, () => false);
    });
  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Waiting for GitHub: enter ${started.userCode} (copied)`,
      cancellable: true,
    },
    async (_progress, cancelled) => {
      let interval = Math.max(1, started.interval);
      const deadline = Date.now() + started.expiresIn * 1000;
      while (Date.now() < deadline && !cancelled.isCancellationRequested) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, interval * 1000);
          cancelled.onCancellationRequested(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        if (cancelled.isCancellationRequested) return undefined;
        try {
          return await api.devicePoll(started.deviceCode);
        } catch (error) {
          if (error instanceof ApiError && error.detail.code === 'authorization_pending') continue;
          if (error instanceof ApiError && error.detail.code === 'slow_down') {
            interval = Math.max(interval + 5, error.detail.retryAfterSeconds ?? 0);
            continue;
          }
          if (error instanceof ApiError && (error.kind === 'offline' || error.kind === 'timeout' || error.kind === 'unavailable')) continue;
          throw error;
        }
      }
      if (!cancelled.isCancellationRequested) throw new Error('the code expired before it was entered on GitHub; sign in again');
      return undefined;
    },
  );
}

async function editorGitHub(api: StacklineApi, log: vscode.LogOutputChannel): Promise<Session | undefined> {
  const github = await vscode.authentication.getSession('github', ['read:user'], { createIfNone: true });
  try {
    return await api.exchangeGitHubToken(github.accessToken);
  } catch (error) {
    if (error instanceof ApiError && (error.kind === 'forbidden' || error.kind === 'unauthorized' || error.kind === 'badRequest')) {
      const device = 'Sign in with a Code';
      const choice = await vscode.window.showWarningMessage(
        `This Stackline server did not accept the editor's GitHub account (${error.message}). Sign in with a one-time code instead?`,
        device,
      );
      return choice === device ? deviceFlow(api, log) : undefined;
    }
    throw error;
  }
}

async function local(api: StacklineApi, login: string | undefined): Promise<Session | undefined> {
  const name =
    login ??
    (await vscode.window.showInputBox({
      title: 'Local sign-in',
      prompt: 'A login name for this machine’s Stackline',
      value: os.userInfo().username.replace(/[^A-Za-z0-9-]/g, '') || 'octocat',
      validateInput: (v) => (/^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}$/.test(v) ? undefined : 'Letters, digits and single hyphens, up to 39'),
    }));
  if (!name) return undefined;
  try {
    return await api.devLogin(name);
  } catch (error) {
    if (error instanceof ApiError && error.kind === 'notFound') {
      throw new Error('local sign-in is switched off on this server; sign in with GitHub');
    }
    throw error;
  }
}

/** Runs a sign-in and answers its session, or undefined if the user gave up. Errors are shown. */
export async function signIn(api: StacklineApi, log: vscode.LogOutputChannel, request: SignInRequest = {}): Promise<Session | undefined> {
  const method = request.method ?? (await pickMethod(api));
  if (!method) return undefined;
  log.info(`signing in (${method})`);
  try {
    const session =
      method === 'device' ? await deviceFlow(api, log) : method === 'editorGitHub' ? await editorGitHub(api, log) : await local(api, request.login);
    if (!session) log.info('sign-in given up');
    return session;
  } catch (error) {
    log.error(`sign-in failed: ${describe(error)}`);
    void vscode.window.showErrorMessage(`Stackline sign-in failed: ${describe(error)}`);
    return undefined;
  }
}
