// The extension's entry point: commands, the deep-link handler, and the controller.

import * as vscode from 'vscode';

import type { Status } from './core/model';
import { Controller } from './editor/controller';
import type { SignInRequest } from './editor/signin';

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const controller = new Controller(context);
  context.subscriptions.push(controller);

  const onIncident = (run: (id: string) => Promise<void>) => async (arg?: unknown) => {
    const id = await controller.incidentFrom(arg as Parameters<Controller['incidentFrom']>[0]);
    if (id) await run(id);
  };
  const status = (value: Status) => onIncident((id) => controller.setStatus(id, value));

  context.subscriptions.push(
    vscode.commands.registerCommand('stackline.signIn', (request?: SignInRequest) => controller.signIn(request)),
    vscode.commands.registerCommand('stackline.signOut', () => controller.signOut()),
    vscode.commands.registerCommand('stackline.refresh', () => controller.refreshAll()),
    vscode.commands.registerCommand('stackline.openIncident', onIncident((id) => controller.openIncident(id, true))),
    vscode.commands.registerCommand('stackline.resolve', status('resolved')),
    vscode.commands.registerCommand('stackline.ignore', status('ignored')),
    vscode.commands.registerCommand('stackline.reopen', status('open')),
    vscode.commands.registerCommand('stackline.openOnGitHub', onIncident((id) => controller.openOnGitHub(id))),
    vscode.commands.registerCommand('stackline.copyMarkdown', onIncident((id) => controller.copyMarkdown(id))),
    vscode.commands.registerCommand('stackline.openFrame', (arg: { id: string; index?: number }) => controller.openFrame(arg)),
    vscode.commands.registerCommand('stackline.fetchCommit', onIncident((id) => controller.fetchCommit(id))),
    vscode.window.registerUriHandler({ handleUri: (uri) => controller.handleUri(uri) }),
  );
  await controller.start();
}

export function deactivate(): void {
  // Everything is disposed through the context's subscriptions.
}
