// The extension in a real VS Code extension host (code-server), against a real Stackline
// stack holding a real incident. tests/e2e/test_ide_extension.py prepares the stack, the git
// repository and the editor, then loads this module, which VS Code runs as extension tests.
// What only the page can see (notifications, the status bar, the tree, screenshots) is asked
// of the harness through files in the control folder.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

interface Plan {
  /** The gateway itself, for the test's own API calls. */
  apiUrl: string;
  repo: string;
  file: string;
  /** The failing line at the deployed commit, and where it is in the working copy. */
  deployedLine: number;
  movedLine: number;
  deployedCommit: string;
  suspectAuthor: string;
  suspectSubject: string;
  ingestKey: string;
  control: string;
}

const plan = JSON.parse(fs.readFileSync(process.env.STACKLINE_E2E_PLAN!, 'utf8')) as Plan;
const logFile = path.join(plan.control, 'host.log');

function log(line: string): void {
  fs.appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
}

let asked = 0;

/** Asks the harness for what only the page shows; answers its JSON. */
async function ask<T>(kind: string, arg: unknown = null): Promise<T> {
  const n = ++asked;
  const answer = path.join(plan.control, `${n}.answer.json`);
  fs.writeFileSync(path.join(plan.control, `${n}.tmp`), JSON.stringify({ kind, arg }));
  fs.renameSync(path.join(plan.control, `${n}.tmp`), path.join(plan.control, `${n}.ask.json`));
  return eventually(`the harness to answer ${kind}`, async () => (fs.existsSync(answer) ? (JSON.parse(fs.readFileSync(answer, 'utf8')) as T) : undefined));
}

/** Waits for `probe` to answer something; a hang guard, not a speed check. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, guardMs = 60_000): Promise<T> {
  const deadline = Date.now() + guardMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function api<T>(method: string, route: string, token: string, body?: unknown): Promise<T> {
  const response = await fetch(plan.apiUrl + route, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  check(response.ok, `${method} ${route}: ${response.status} ${await response.clone().text()}`);
  return (await response.json()) as T;
}

async function ownToken(): Promise<string> {
  const response = await fetch(`${plan.apiUrl}/api/auth/dev-login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ login: 'octocat' }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

function stacklineDiagnostics(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'Stackline');
}

async function toasts(text: string): Promise<number> {
  return ask<number>('toasts', text);
}

async function statusBar(): Promise<string> {
  return ask<string>('statusbar');
}

async function refresh(): Promise<void> {
  await vscode.commands.executeCommand('stackline.refresh');
}

const root = vscode.workspace.workspaceFolders![0]!.uri;
const file = vscode.Uri.joinPath(root, ...plan.file.split('/'));

const steps: [string, () => Promise<void>][] = [
  [
    'before sign-in: one "Sign in to Stackline" prompt, however often it polls',
    async () => {
      const extension = vscode.extensions.getExtension('stackline.stackline');
      check(extension, 'the extension is installed');
      await extension.activate();
      await eventually('the sign-in prompt', async () => (await toasts('Sign in to Stackline to see')) === 1);
      await refresh();
      await refresh();
      check((await toasts('Sign in to Stackline to see')) === 1, 'the prompt was shown more than once');
      await eventually('the status bar to ask for a sign-in', async () => (await statusBar()).includes('Stackline: sign in'));
      await vscode.commands.executeCommand('notifications.clearAll');
    },
  ],
  [
    'signed in, the diagnostic lands on the line the failing code moved to',
    async () => {
      const signedIn = await vscode.commands.executeCommand<boolean>('stackline.signIn', { method: 'local', login: 'octocat' });
      check(signedIn === true, 'the local sign-in failed');
      const [diagnostic] = await eventually('the diagnostic', () => {
        const found = stacklineDiagnostics(file);
        return found.length ? found : undefined;
      });
      check(diagnostic!.range.start.line === plan.movedLine - 1, `diagnostic on line ${diagnostic!.range.start.line + 1}, not ${plan.movedLine}`);
      check(diagnostic!.severity === vscode.DiagnosticSeverity.Error, 'an open incident is an error');
      check(/TypeError: Cannot read properties of undefined/.test(diagnostic!.message), diagnostic!.message);
      check(
        (diagnostic!.relatedInformation ?? []).some((r) => r.location.uri.toString() === file.toString()),
        'the other in-app frames are related information',
      );
      await eventually('the status bar count', async () => (await statusBar()).includes('Stackline: 1'));
      const document = await vscode.workspace.openTextDocument(file);
      const editor = await vscode.window.showTextDocument(document, { preview: false });
      const line = new vscode.Position(plan.movedLine - 1, 4);
      editor.selection = new vscode.Selection(line, line);
      editor.revealRange(new vscode.Range(line, line), vscode.TextEditorRevealType.InCenter);
      await vscode.commands.executeCommand('workbench.view.extension.stackline');
      await vscode.commands.executeCommand('notifications.clearAll');
      await eventually('the tree rows', async () => (await ask<string[]>('tree')).some((r) => r.includes('TypeError')));
      await ask('screenshot', 'marked-line');
    },
  ],
  [
    'the hover shows the exception, the count, the stack and the suspect commit',
    async () => {
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', file, new vscode.Position(plan.movedLine - 1, 4));
      const text = hovers
        .flatMap((h) => h.contents)
        .map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))
        .join('\n');
      log(`hover:\n${text}`);
      check(text.includes('**TypeError**'), 'the hover names the exception');
      check(/1 event · first seen/.test(text), 'the hover counts the events');
      check(text.includes(`Moved: the code was at line ${plan.deployedLine} of`), 'the hover says the line moved');
      check(
        text.includes(`Suspect: last changed in \`${plan.deployedCommit.slice(0, 7)}\` by ${plan.suspectAuthor}`) && text.includes(plan.suspectSubject),
        'the hover names the suspect commit',
      );
      check(text.includes('command:stackline.openFrame'), 'the frames link to their lines');
      check(
        text.includes(`/${plan.repo}/blob/${plan.deployedCommit}/${plan.file}#L${plan.deployedLine})`) && text.includes('[View on GitHub]('),
        'the hover links the permalink at the deployed commit',
      );
      await vscode.commands.executeCommand('editor.action.showHover');
      await ask('screenshot', 'hover');
      await vscode.commands.executeCommand('editor.action.hideHover' as string).then(undefined, () => undefined);
    },
  ],
  [
    'the tree lists the incident under its file',
    async () => {
      await vscode.commands.executeCommand('workbench.view.extension.stackline');
      const rows = await eventually('the tree rows', async () => {
        const found = await ask<string[]>('tree');
        return found.some((r) => r.includes('TypeError')) ? found : undefined;
      });
      check(rows.some((r) => r.includes(plan.file)), `the tree groups by file: ${rows.join(' | ')}`);
      await ask('screenshot', 'tree');
    },
  ],
  [
    'the deep link opens the file at the line, with the details beside it',
    async () => {
      const token = await ownToken();
      const listed = await api<{ incidents: { id: string }[] }>('GET', `/api/incidents?repo=${encodeURIComponent(plan.repo)}&status=open`, token);
      const id = listed.incidents[0]!.id;
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      const link = vscode.Uri.parse(`${vscode.env.uriScheme}://stackline.stackline/open?repo=${encodeURIComponent(plan.repo)}&incident=${id}`);
      await vscode.commands.executeCommand('vscode.open', link);
      const editor = await eventually('the file to open', () => {
        const found = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === file.toString());
        return found;
      });
      check(editor.selection.active.line === plan.movedLine - 1, `the link opened line ${editor.selection.active.line + 1}`);
      const details = await eventually(
        'the details view',
        () => vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme === 'stackline' && e.document.uri.query === id)?.document,
      );
      check(details.languageId === 'markdown', `the details are ${details.languageId}`);
      check(details.getText().includes(`Suspect      last changed in \`${plan.deployedCommit.slice(0, 7)}\``), details.getText());
      check(details.getText().includes(`${plan.file}:${plan.movedLine}  (was ${plan.file}:${plan.deployedLine})`), details.getText());
      await ask('screenshot', 'details');
    },
  ],
  [
    'resolve changes the incident through the API and clears the line',
    async () => {
      const token = await ownToken();
      const listed = await api<{ incidents: { id: string }[] }>('GET', `/api/incidents?repo=${encodeURIComponent(plan.repo)}&status=open`, token);
      const id = listed.incidents[0]!.id;
      await vscode.commands.executeCommand('stackline.resolve', { id });
      const stored = await api<{ status: string }>('GET', `/api/incidents/${id}`, token);
      check(stored.status === 'resolved', `the incident is ${stored.status}`);
      await eventually('the diagnostic to go', () => stacklineDiagnostics(file).length === 0);
      await eventually('the status bar to count none', async () => (await statusBar()).includes('Stackline: 0'));
      await vscode.commands.executeCommand('stackline.reopen', { id });
      check((await api<{ status: string }>('GET', `/api/incidents/${id}`, token)).status === 'open', 'reopened');
      await eventually('the diagnostic to come back', () => stacklineDiagnostics(file).length === 1);
    },
  ],
  [
    'a new incident is told once, with Open and Ignore',
    async () => {
      await vscode.commands.executeCommand('notifications.clearAll');
      const sent = await fetch(`${plan.apiUrl}/api/ingest`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${plan.ingestKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ platform: 'node', message: 'payment provider timed out', commit_sha: plan.deployedCommit, environment: 'production' }),
      });
      check(sent.ok, `ingest answered ${sent.status}`);
      await refresh();
      await eventually('the notification', async () => (await toasts('New in production')) === 1);
      await refresh();
      check((await toasts('New in production')) === 1, 'told twice');
      const buttons = await ask<string[]>('toastButtons', 'New in production');
      check(buttons.includes('Open') && buttons.includes('Ignore'), `buttons: ${buttons.join(', ')}`);
      await eventually('the status bar count', async () => (await statusBar()).includes('Stackline: 2'));
      const token = await ownToken();
      const listed = await api<{ incidents: { id: string; message: string }[] }>('GET', `/api/incidents?repo=${encodeURIComponent(plan.repo)}&status=open`, token);
      const message = listed.incidents.find((i) => i.message === 'payment provider timed out')!;
      await vscode.commands.executeCommand('stackline.ignore', message.id);
      check((await api<{ status: string }>('GET', `/api/incidents/${message.id}`, token)).status === 'ignored', 'ignored through the API');
      await eventually('the status bar count', async () => (await statusBar()).includes('Stackline: 1'));
      await vscode.commands.executeCommand('notifications.clearAll');
    },
  ],
  [
    'copy as Markdown puts the incident on the clipboard',
    async () => {
      const token = await ownToken();
      const listed = await api<{ incidents: { id: string }[] }>('GET', `/api/incidents?repo=${encodeURIComponent(plan.repo)}&status=open`, token);
      await vscode.commands.executeCommand('stackline.copyMarkdown', listed.incidents[0]!.id);
      const copied = await vscode.env.clipboard.readText();
      check(copied.startsWith('### TypeError in src/profile.mjs'), copied);
      check(copied.includes('Suspect: last changed in'), copied);
    },
  ],
  [
    'a gateway that is down, hangs, fails or answers nonsense: said once, never thrown',
    async () => {
      await vscode.commands.executeCommand('notifications.clearAll');
      await ask('proxy', 'down');
      await refresh();
      await eventually('offline in the status bar', async () => (await statusBar()).includes('offline'));
      check(stacklineDiagnostics(file).length === 1, 'what was known stays on screen while offline');
      for (const mode of ['error500', 'html', 'shape']) {
        await ask('proxy', mode);
        await refresh();
        await refresh();
      }
      const told = await toasts('Stackline could not refresh');
      check(told === 1, `the failure was told ${told} times`);
      await ask('proxy', 'hang');
      await refresh(); // gives up after the client's timeout, then carries on
      await eventually('offline after the hang', async () => (await statusBar()).includes('offline'));
      await ask('proxy', 'pass');
      await refresh();
      await eventually('back to normal', async () => (await statusBar()).includes('Stackline: 1'));
      await vscode.commands.executeCommand('notifications.clearAll');
    },
  ],
  [
    'a 401 that a refresh cannot fix asks to sign in again, once',
    async () => {
      await ask('proxy', 'revoked');
      await refresh();
      await eventually('the sign-in prompt', async () => (await toasts('Your Stackline session has ended')) === 1);
      await refresh();
      check((await toasts('Your Stackline session has ended')) === 1, 'asked more than once');
      check(stacklineDiagnostics(file).length === 0, 'nothing stays on screen after the session ended');
      await ask('proxy', 'pass');
      check((await vscode.commands.executeCommand<boolean>('stackline.signIn', { method: 'local', login: 'octocat' })) === true, 'signed in again');
      await eventually('the diagnostic after signing in again', () => stacklineDiagnostics(file).length === 1);
    },
  ],
  [
    'sign out forgets the session and clears the editor, without a prompt',
    async () => {
      await vscode.commands.executeCommand('notifications.clearAll');
      await vscode.commands.executeCommand('stackline.signOut');
      check(stacklineDiagnostics(file).length === 0, 'the diagnostic stayed after sign-out');
      await eventually('the status bar to ask for a sign-in', async () => (await statusBar()).includes('Stackline: sign in'));
      await refresh();
      check((await toasts('Sign in to Stackline')) === 0, 'a prompt right after signing out');
    },
  ],
  [
    'the default sign-in: a device code approved on GitHub; a GitHub account without a project is told so, once',
    async () => {
      const signingIn = vscode.commands.executeCommand<boolean>('stackline.signIn', { method: 'device' });
      const code = await ask<string>('approveDevice');
      log(`approved device code ${code}`);
      check((await signingIn) === true, 'the device sign-in failed');
      check((await vscode.env.clipboard.readText()) === code, 'the code was copied for the user');
      // The GitHub account is another Stackline user than the local one: it owns no project.
      await eventually('the status bar to say there is no project', async () => (await statusBar()).includes('no project'));
      await eventually('the message', async () => (await toasts(`No Stackline project for ${plan.repo}`)) === 1);
      await refresh();
      await refresh();
      check((await toasts(`No Stackline project for ${plan.repo}`)) === 1, 'told more than once');
      const buttons = await ask<string[]>('toastButtons', `No Stackline project for ${plan.repo}`);
      check(buttons.includes('Create Project'), `buttons: ${buttons.join(', ')}`);
    },
  ],
];

export async function run(): Promise<void> {
  for (const [name, step] of steps) {
    log(`step: ${name}`);
    try {
      await step();
    } catch (error) {
      log(`FAILED: ${name}: ${error instanceof Error ? error.stack : String(error)}`);
      await ask('screenshot', 'failure').catch(() => undefined);
      throw error;
    }
    log(`ok: ${name}`);
  }
}
