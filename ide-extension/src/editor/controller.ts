// Puts the parts together: one tracker and poll schedule per working copy, the session, and
// the views that show what the trackers found.

import * as vscode from 'vscode';

import { ApiError, checkServerUrl, StacklineApi } from '../core/api';
import { incidentDocument, incidentForClipboard, shortSha, type DocumentLinkSpan } from '../core/details';
import { parseOpenLink } from '../core/deeplink';
import { Git } from '../core/git';
import type { Status } from '../core/model';
import { NotificationGate, type Notice, type NoticeMemory } from '../core/notify';
import { diskLineCounter, Placer } from '../core/placement';
import { PollScheduler } from '../core/schedule';
import { SessionManager, SignInRequired } from '../core/session';
import { RepositoryTracker, type PlacedFrame, type TrackedIncident, type TrackerState } from '../core/tracker';
import { fileUri, Marks } from './marks';
import { signIn, type SignInRequest } from './signin';
import { IncidentTree, type Node } from './tree';
import { builtInGit, discover, type WorkingCopy } from './workspace';

type GitHubCopy = Extract<WorkingCopy, { kind: 'github' }>;

interface Entry {
  copy: GitHubCopy;
  git: Git;
  placer: Placer;
  tracker: RepositoryTracker;
  scheduler: PollScheduler;
  head: string | undefined;
  subscriptions: vscode.Disposable[];
}

export const EXTENSION_ID = 'stackline.stackline';
const NOTICE_MEMORY = 'stackline.notices';
export const DETAILS_SCHEME = 'stackline';

/** Something a command was given: a tree node, `{ id }` from a link, or an id. */
type IncidentArg = Node | { id: string } | string | undefined;

export class Controller implements vscode.Disposable {
  private api: StacklineApi | undefined;
  private session: SessionManager | undefined;
  private configProblem: string | undefined;
  private readonly entries = new Map<string, Entry>();
  private problems: Extract<WorkingCopy, { kind: 'problem' }>[] = [];
  private readonly gate: NotificationGate;
  private readonly marks: Marks;
  private readonly tree = new IncidentTree();
  private readonly treeView: vscode.TreeView<Node>;
  private readonly status = vscode.window.createStatusBarItem('stackline.status', vscode.StatusBarAlignment.Left, 10);
  private readonly detailsChanged = new vscode.EventEmitter<vscode.Uri>();
  private readonly documentLinks = new Map<string, DocumentLinkSpan[]>();
  private readonly subscriptions: vscode.Disposable[] = [];
  /** What was said already in this episode, so that nothing is said twice in a row. */
  private readonly said = new Set<string>();
  private gitApi: Awaited<ReturnType<typeof builtInGit>>;
  private discovering: Promise<void> | undefined;
  /** The remotes each git repository had when last looked at, to notice a change. */
  private readonly remotesSeen = new Map<string, string>();
  private readonly log = vscode.window.createOutputChannel('Stackline', { log: true });

  constructor(private readonly context: vscode.ExtensionContext) {
    this.gate = new NotificationGate(context.globalState.get<NoticeMemory>(NOTICE_MEMORY));
    this.marks = new Marks(() => this.config().get<boolean>('decorations', true));
    this.treeView = vscode.window.createTreeView('stackline.incidents', { treeDataProvider: this.tree, showCollapseAll: true });
    this.status.name = 'Stackline';
    this.subscriptions.push(
      this.log,
      this.marks,
      this.treeView,
      this.status,
      this.detailsChanged,
      vscode.workspace.registerTextDocumentContentProvider(DETAILS_SCHEME, {
        onDidChange: this.detailsChanged.event,
        provideTextDocumentContent: (uri) => this.detailsText(uri),
      }),
      vscode.languages.registerDocumentLinkProvider({ scheme: DETAILS_SCHEME }, { provideDocumentLinks: (doc) => this.detailsLinks(doc) }),
      vscode.window.onDidChangeWindowState((state) => this.focusChanged(state.focused)),
      vscode.workspace.onDidSaveTextDocument((doc) => this.fileSaved(doc.uri)),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.rediscover()),
      vscode.workspace.onDidChangeConfiguration((e) => this.configurationChanged(e)),
      context.secrets.onDidChange((e) => {
        if (this.session && e.key === `stackline.session:${this.api?.baseUrl}`) void this.sessionChangedElsewhere();
      }),
    );
  }

  private config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration('stackline');
  }

  async start(): Promise<void> {
    this.connect();
    this.gitApi = await builtInGit();
    if (this.gitApi) {
      const gitApi = this.gitApi;
      const watch = (repository: (typeof gitApi.repositories)[number]): void => {
        const key = repository.rootUri.fsPath;
        this.subscriptions.push(
          repository.state.onDidChange(() => {
            const remotes = JSON.stringify(repository.state.remotes.map((r) => [r.name, r.fetchUrl, r.pushUrl]));
            if (this.remotesSeen.get(key) !== remotes) {
              const first = !this.remotesSeen.has(key);
              this.remotesSeen.set(key, remotes);
              // A remote added, removed or changed may change which repository this is.
              if (!first || repository.state.remotes.length) void this.rediscover();
            }
          }),
        );
      };
      gitApi.repositories.forEach(watch);
      this.subscriptions.push(
        gitApi.onDidOpenRepository((repository) => {
          watch(repository);
          void this.rediscover();
        }),
      );
    }
    this.log.info(`server ${this.api?.baseUrl ?? `not set (${this.configProblem})`}; built-in git ${this.gitApi ? 'in use' : 'absent'}`);
    await this.rediscover();
  }

  // Connection and discovery.

  private connect(): void {
    const url = this.config().get<string>('serverUrl', 'http://127.0.0.1:8080');
    try {
      checkServerUrl(url);
      this.api = new StacklineApi({ baseUrl: url, userAgent: `stackline-vscode/${this.context.extension.packageJSON.version}` });
      this.session = new SessionManager(this.api, this.context.secrets);
      this.configProblem = undefined;
    } catch (error) {
      this.api = undefined;
      this.session = undefined;
      this.configProblem = `stackline.serverUrl: ${(error as Error).message}`;
      this.sayOnce('config', () => void vscode.window.showErrorMessage(`Stackline: ${this.configProblem}`, 'Open Settings').then((c) => {
        if (c) void vscode.commands.executeCommand('workbench.action.openSettings', 'stackline.serverUrl');
      }));
    }
    void this.updateSignedInContext();
  }

  private rediscover(): Promise<void> {
    // One discovery at a time; a request during one runs again after it.
    const run = async (): Promise<void> => {
      const copies = await discover(this.gitApi, this.config().get<string[]>('githubHosts', ['github.com']));
      const wanted = new Map(copies.filter((c): c is GitHubCopy => c.kind === 'github').map((c) => [`${c.root}\0${c.repo.slug}`, c]));
      for (const [key, entry] of this.entries) {
        if (!wanted.has(key)) this.dropEntry(key, entry);
      }
      for (const [key, copy] of wanted) {
        const existing = this.entries.get(key);
        if (existing) existing.copy = copy;
        else this.addEntry(key, copy);
      }
      this.problems = copies.filter((c): c is Extract<WorkingCopy, { kind: 'problem' }> => c.kind === 'problem');
      for (const copy of copies) {
        this.log.info(
          copy.kind === 'github'
            ? `${copy.root}: ${copy.repo.slug} (remote ${copy.remote})`
            : `${copy.folder.uri.fsPath}: ${copy.problem}${copy.detail ? ` (${copy.detail})` : ''}`,
        );
      }
      for (const problem of this.problems) this.tellProblem(problem);
      this.render();
    };
    const previous = this.discovering ?? Promise.resolve();
    const next = previous.then(run, run);
    this.discovering = next.finally(() => {
      if (this.discovering === next) this.discovering = undefined;
    });
    return next;
  }

  private addEntry(key: string, copy: GitHubCopy): void {
    if (!this.api || !this.session) return;
    const git = new Git(copy.root);
    const placer = new Placer(git, diskLineCounter(copy.root));
    const tracker = new RepositoryTracker(copy.repo, git, placer, this.api, this.session, this.gate, {
      changed: () => this.render(),
      stateChanged: (state, previous) => this.stateChanged(entry, state, previous),
      notices: (notices) => this.notify(entry, notices),
    });
    const scheduler = new PollScheduler({
      poll: async () => {
        await this.followHead(entry);
        return tracker.poll();
      },
      intervalSeconds: () => this.config().get<number>('pollIntervalSeconds', 45),
    });
    const entry: Entry = { copy, git, placer, tracker, scheduler, head: undefined, subscriptions: [] };
    if (copy.git) {
      entry.subscriptions.push(copy.git.state.onDidChange(() => void this.followHead(entry)));
    }
    this.entries.set(key, entry);
    scheduler.setFocused(vscode.window.state.focused);
    void scheduler.start();
  }

  private dropEntry(key: string, entry: Entry): void {
    entry.scheduler.stop();
    for (const s of entry.subscriptions) s.dispose();
    this.entries.delete(key);
  }

  /** HEAD moved (a checkout, a commit, a pull): every line is placed again. */
  private async followHead(entry: Entry): Promise<void> {
    const head = await entry.git.head();
    if (head === entry.head) return;
    const first = entry.head === undefined;
    entry.head = head;
    if (!first) await entry.tracker.replace();
  }

  private configurationChanged(event: vscode.ConfigurationChangeEvent): void {
    if (event.affectsConfiguration('stackline.serverUrl')) {
      for (const [key, entry] of this.entries) this.dropEntry(key, entry);
      this.said.clear();
      this.connect();
      void this.rediscover();
    } else if (event.affectsConfiguration('stackline.githubHosts')) {
      void this.rediscover();
    } else if (event.affectsConfiguration('stackline.decorations')) {
      this.render();
    }
  }

  private focusChanged(focused: boolean): void {
    for (const entry of this.entries.values()) entry.scheduler.setFocused(focused);
    // Caught up on focus: HEAD may have moved while the editor was in the background.
    if (focused) for (const entry of this.entries.values()) void this.followHead(entry);
  }

  private fileSaved(uri: vscode.Uri): void {
    if (uri.scheme !== 'file') return;
    for (const entry of this.entries.values()) {
      if (uri.fsPath.startsWith(entry.copy.root) && entry.tracker.incidents.length) void entry.tracker.replace();
    }
  }

  private async sessionChangedElsewhere(): Promise<void> {
    // Another window signed in or out: follow it.
    await this.updateSignedInContext();
    if (await this.session?.current()) {
      this.said.delete('signIn');
      await this.refreshAll();
    }
  }

  // Rendering.

  private render(): void {
    const entries = [...this.entries.values()];
    this.marks.render(entries.map((e) => ({ root: e.copy.root, incidents: e.tracker.incidents })));
    this.tree.update(entries.map((e) => ({ slug: e.copy.repo.slug, root: e.copy.root, state: e.tracker.state, incidents: e.tracker.incidents })));
    const open = entries.reduce((n, e) => n + e.tracker.incidents.filter((t) => t.incident.status === 'open').length, 0);
    this.treeView.badge = open ? { value: open, tooltip: `${open} open production incident${open === 1 ? '' : 's'}` } : undefined;
    this.renderStatus(entries, open);
    for (const uri of this.openDetailsUris()) this.detailsChanged.fire(uri);
  }

  private renderStatus(entries: Entry[], open: number): void {
    const states = entries.map((e) => e.tracker.state.kind);
    const slugs = entries.map((e) => e.copy.repo.slug).join(', ');
    this.status.command = 'workbench.view.extension.stackline';
    if (this.configProblem) {
      this.status.text = '$(error) Stackline: settings';
      this.status.tooltip = this.configProblem;
      this.status.command = { command: 'workbench.action.openSettings', title: 'Settings', arguments: ['stackline.serverUrl'] };
    } else if (entries.length === 0) {
      this.status.hide();
      return;
    } else if (states.includes('signedOut')) {
      this.status.text = '$(account) Stackline: sign in';
      this.status.tooltip = `Sign in to see the production incidents of ${slugs}`;
      this.status.command = 'stackline.signIn';
    } else if (states.includes('offline')) {
      this.status.text = '$(cloud-offline) Stackline: offline';
      this.status.tooltip = entries.map((e) => (e.tracker.state.kind === 'offline' ? e.tracker.state.message : '')).filter(Boolean)[0];
    } else if (states.includes('error') || states.includes('rateLimited')) {
      const state = entries.map((e) => e.tracker.state).find((s) => s.kind === 'error' || s.kind === 'rateLimited') as { message: string };
      this.status.text = `$(warning) Stackline: ${open}`;
      this.status.tooltip = `Stackline could not refresh: ${state.message}`;
    } else if (states.every((s) => s === 'noProject')) {
      this.status.text = '$(circle-slash) Stackline: no project';
      this.status.tooltip = `No Stackline project for ${slugs}`;
    } else if (states.every((s) => s === 'starting')) {
      this.status.text = '$(sync~spin) Stackline';
      this.status.tooltip = `Asking ${this.api?.baseUrl} for the incidents of ${slugs}`;
    } else {
      this.status.text = open ? `$(error) Stackline: ${open}` : '$(check) Stackline: 0';
      this.status.tooltip = `${open} open production incident${open === 1 ? '' : 's'} in ${slugs}`;
    }
    this.status.show();
  }

  // What is said to the user, once per episode.

  private sayOnce(key: string, say: () => void): void {
    if (this.said.has(key)) return;
    this.said.add(key);
    say();
  }

  private stateChanged(entry: Entry, state: TrackerState, previous: TrackerState): void {
    const slug = entry.copy.repo.slug;
    this.log.info(`${slug}: ${previous.kind} -> ${state.kind}${'message' in state ? ` (${state.message})` : ''}`);
    this.render();
    // Leaving a state makes it worth saying again the next time.
    this.said.delete(`${previous.kind}:${slug}`);
    if (state.kind === 'ok') this.said.delete('signIn');
    if (state.kind === 'signedOut') {
      void this.updateSignedInContext();
      this.sayOnce('signIn', () => {
        const text =
          state.reason === 'expired'
            ? 'Your Stackline session has ended. Sign in again to keep seeing production incidents.'
            : `Sign in to Stackline to see the production incidents of ${slug} in the editor.`;
        void vscode.window.showInformationMessage(text, 'Sign in to Stackline').then((choice) => {
          if (choice) void vscode.commands.executeCommand('stackline.signIn');
        });
      });
    } else if (state.kind === 'noProject') {
      this.sayOnce(`noProject:${slug}`, () => {
        void vscode.window.showInformationMessage(`No Stackline project for ${slug}.`, 'Create Project').then((choice) => {
          if (choice) void vscode.env.openExternal(vscode.Uri.parse(this.dashboardUrl(`/projects/new?repo=${encodeURIComponent(slug)}`)));
        });
      });
    } else if (state.kind === 'error') {
      this.sayOnce(`error:${slug}`, () => void vscode.window.showWarningMessage(`Stackline could not refresh ${slug}: ${state.message}`));
    }
  }

  private dashboardUrl(path: string): string {
    const configured = this.config().get<string>('dashboardUrl', '');
    const base = configured || 'http://127.0.0.1:8081';
    return base.replace(/\/+$/, '') + path;
  }

  private tellProblem(problem: Extract<WorkingCopy, { kind: 'problem' }>): void {
    if (problem.problem !== 'notGitHub') return; // a folder without git or remotes is not news
    this.sayOnce(`notGitHub:${problem.root}`, () => {
      void vscode.window.showInformationMessage(
        `Stackline: ${problem.folder.name}'s git remote is not on GitHub (${problem.detail}). For GitHub Enterprise, add its host to stackline.githubHosts.`,
      );
    });
  }

  private notify(entry: Entry, notices: Notice[]): void {
    void this.context.globalState.update(NOTICE_MEMORY, this.gate.memory());
    if (!this.config().get<boolean>('notifications', true)) return;
    for (const notice of notices) {
      if (notice.kind === 'more') {
        void vscode.window.showWarningMessage(`${notice.count} more new production incidents in ${notice.repo}.`, 'Show').then((c) => {
          if (c) void vscode.commands.executeCommand('workbench.view.extension.stackline');
        });
        continue;
      }
      const { incident } = notice;
      const text =
        notice.kind === 'new'
          ? `New in production (${entry.copy.repo.slug}): ${incident.title}`
          : `Came back after it was resolved (${entry.copy.repo.slug}): ${incident.title}`;
      void vscode.window.showWarningMessage(text, 'Open', 'Ignore').then(async (choice) => {
        if (choice === 'Open') await this.openIncident(incident.id, true);
        if (choice === 'Ignore') await this.setStatus(incident.id, 'ignored');
      });
    }
  }

  // Commands.

  async signIn(request?: SignInRequest): Promise<boolean> {
    if (!this.api || !this.session) {
      void vscode.window.showErrorMessage(`Stackline: ${this.configProblem ?? 'no server configured'}`);
      return false;
    }
    const session = await signIn(this.api, this.log, request);
    if (!session) return false;
    await this.session.save(session);
    this.log.info(`signed in as ${session.user.login}`);
    this.said.clear();
    await this.updateSignedInContext();
    void vscode.window.showInformationMessage(`Signed in to Stackline as ${session.user.login}.`);
    await this.refreshAll();
    return true;
  }

  async signOut(): Promise<void> {
    await this.session?.signOut();
    for (const entry of this.entries.values()) {
      entry.tracker.clear();
      entry.scheduler.stop();
    }
    await this.updateSignedInContext();
    this.said.add('signIn'); // they just chose this: no prompt to sign back in
    for (const [key, entry] of [...this.entries]) this.dropEntry(key, entry);
    await this.rediscover();
  }

  async refreshAll(): Promise<void> {
    await Promise.all(
      [...this.entries.values()].map(async (entry) => {
        // A tracker that was idle (signed out) is woken up; a running one polls now.
        await entry.scheduler.start();
      }),
    );
  }

  private async updateSignedInContext(): Promise<void> {
    const signedIn = Boolean(this.session && (await this.session.current()));
    await vscode.commands.executeCommand('setContext', 'stackline.signedIn', signedIn);
  }

  private locate(id: string): { entry: Entry; tracked: TrackedIncident | undefined } | undefined {
    for (const entry of this.entries.values()) {
      const tracked = entry.tracker.find(id);
      if (tracked) return { entry, tracked };
    }
    return undefined;
  }

  /** The incident a command is about: its argument, else the one under the cursor, else a pick. */
  async incidentFrom(arg: IncidentArg): Promise<string | undefined> {
    if (typeof arg === 'string') return arg;
    if (arg && 'kind' in arg && arg.kind === 'incident') return arg.tracked.incident.id;
    if (arg && 'id' in arg && typeof arg.id === 'string') return arg.id;
    const editor = vscode.window.activeTextEditor;
    if (editor) {
      const [mark] = this.marks.at(editor.document.uri, editor.selection.active.line);
      if (mark) return mark.tracked.incident.id;
    }
    const all = [...this.entries.values()].flatMap((e) => e.tracker.incidents);
    if (all.length === 0) {
      void vscode.window.showInformationMessage('Stackline: no open incidents in this workspace.');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      all.map((t) => ({ label: t.incident.title, description: `×${t.incident.count}`, id: t.incident.id })),
      { title: 'Stackline incident' },
    );
    return picked?.id;
  }

  async setStatus(id: string, status: Status): Promise<void> {
    const found = this.locate(id) ?? this.firstEntry();
    if (!found) return;
    try {
      await found.entry.tracker.setStatus(id, status);
      void vscode.window.setStatusBarMessage(`Stackline: incident ${status === 'open' ? 'reopened' : status}`, 4000);
    } catch (error) {
      this.commandFailed(`could not change the incident`, error);
    }
  }

  private firstEntry(): { entry: Entry; tracked: undefined } | undefined {
    const entry = [...this.entries.values()][0];
    return entry ? { entry, tracked: undefined } : undefined;
  }

  private commandFailed(what: string, error: unknown): void {
    if (error instanceof SignInRequired) {
      this.said.delete('signIn');
      void vscode.window.showInformationMessage(`Stackline: ${error.message}.`, 'Sign in to Stackline').then((c) => {
        if (c) void vscode.commands.executeCommand('stackline.signIn');
      });
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    this.log.error(`${what}: ${message}`);
    void vscode.window.showErrorMessage(`Stackline ${what}: ${message}`);
  }

  /** Opens the working-copy line of a frame (the culprit by default). */
  async openFrame(arg: { id: string; index?: number; culprit?: boolean }): Promise<void> {
    const found = this.locate(arg.id);
    if (!found?.tracked) {
      await this.openIncident(arg.id, false);
      return;
    }
    const { tracked, entry } = found;
    const frames: PlacedFrame[] = [...(tracked.culprit ? [tracked.culprit] : []), ...tracked.related];
    const frame = arg.index === undefined ? tracked.culprit : frames.find((f) => f.index === arg.index) ?? tracked.culprit;
    if (!frame || !frame.placement.found) {
      void vscode.window.showInformationMessage(`Stackline: ${frame?.frame.file ?? 'the file'} is not in this working copy.`);
      return;
    }
    await this.reveal(fileUri(entry.copy.root, frame.placement.file), frame.placement.line);
  }

  private async reveal(uri: vscode.Uri, line: number): Promise<vscode.TextEditor> {
    const document = await vscode.workspace.openTextDocument(uri);
    const target = Math.min(Math.max(0, line - 1), document.lineCount - 1);
    const position = new vscode.Position(target, document.lineAt(target).firstNonWhitespaceCharacterIndex);
    return vscode.window.showTextDocument(document, { selection: new vscode.Range(position, position), preview: false });
  }

  /** `stackline:/owner/repo/TypeError 01a23d94.md?<id>`: the tab reads as the incident. */
  detailsUri(slug: string, id: string, exceptionType = 'Incident'): vscode.Uri {
    const name = `${exceptionType.replace(/[^\w.$-]+/g, '_').slice(0, 60)} ${id.slice(0, 8)}`;
    return vscode.Uri.from({ scheme: DETAILS_SCHEME, path: `/${slug}/${name}.md`, query: id });
  }

  private openDetailsUris(): vscode.Uri[] {
    return vscode.workspace.textDocuments.filter((d) => d.uri.scheme === DETAILS_SCHEME).map((d) => d.uri);
  }

  /** The details view of an incident, beside the code (`beside`) or in the active group. */
  async openIncident(id: string, withLine: boolean, hint?: Entry): Promise<void> {
    const found = this.locate(id) ?? (hint ? { entry: hint, tracked: undefined } : this.firstEntry());
    if (!found) {
      void vscode.window.showInformationMessage('Stackline: open a working copy of a GitHub repository first.');
      return;
    }
    if (withLine && found.tracked?.culprit?.placement.found) await this.openFrame({ id });
    const uri = this.detailsUri(found.entry.copy.repo.slug, id, found.tracked?.incident.exceptionType);
    try {
      // The `.md` path makes it Markdown; the provider makes it read-only.
      const document = await vscode.workspace.openTextDocument(uri);
      await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: withLine });
    } catch (error) {
      this.commandFailed('could not open the incident', error);
    }
  }

  private async detailsText(uri: vscode.Uri): Promise<string> {
    const [, owner, repo] = uri.path.split('/');
    const id = uri.query;
    const entry = [...this.entries.values()].find((e) => e.copy.repo.slug.toLowerCase() === `${owner}/${repo}`.toLowerCase());
    if (!entry) return `# Stackline\n\nNo working copy of ${owner}/${repo} is open.\n`;
    let tracked = entry.tracker.find(id);
    const detail = tracked?.detail ?? (await entry.tracker.detail(id).catch(() => undefined));
    if (!detail) return `# Stackline\n\nIncident ${id} could not be loaded: it may have been deleted, or you are signed out.\n`;
    if (!tracked) {
      // Not among the open incidents (resolved or ignored): placed for this view only.
      const frames = await Promise.all(
        (detail.latestEvent?.frames ?? []).map(async (frame, index) => ({
          frame,
          index,
          placement: frame.inApp && frame.file && frame.line ? await entry.placer.place(detail.latestEvent?.commitSha ?? undefined, frame.file, frame.line) : undefined,
        })),
      );
      const culprit = frames.find((f) => f.placement?.found);
      const { text, links } = incidentDocument(detail, { now: new Date(), frames, culprit: culprit?.placement, head: entry.head });
      this.documentLinks.set(uri.toString(), links);
      return text;
    }
    tracked = { ...tracked, detail };
    const placed = new Map([...(tracked.culprit ? [tracked.culprit] : []), ...tracked.related].map((f) => [f.index, f.placement]));
    const frames = (detail.latestEvent?.frames ?? []).map((frame, index) => ({ frame, index, placement: placed.get(index) }));
    const { text, links } = incidentDocument(detail, {
      now: new Date(),
      suspect: tracked.suspect,
      frames,
      culprit: tracked.culprit?.placement,
      head: entry.head,
    });
    this.documentLinks.set(uri.toString(), links);
    return text;
  }

  private detailsLinks(document: vscode.TextDocument): vscode.DocumentLink[] {
    const [, owner, repo] = document.uri.path.split('/');
    const entry = [...this.entries.values()].find((e) => e.copy.repo.slug.toLowerCase() === `${owner}/${repo}`.toLowerCase());
    if (!entry) return [];
    return (this.documentLinks.get(document.uri.toString()) ?? []).map((span) => {
      const link = new vscode.DocumentLink(
        new vscode.Range(span.line, span.start, span.line, span.end),
        fileUri(entry.copy.root, span.file).with({ fragment: `L${span.fileLine}` }),
      );
      link.tooltip = 'Open this line in the working copy';
      return link;
    });
  }

  async openOnGitHub(id: string): Promise<void> {
    const found = this.locate(id);
    const url = found?.tracked?.incident.githubUrl;
    if (!url) {
      void vscode.window.showInformationMessage('Stackline: this incident has no GitHub link (no commit or no file in the repository).');
      return;
    }
    await vscode.env.openExternal(vscode.Uri.parse(url));
  }

  async copyMarkdown(id: string): Promise<void> {
    const found = this.locate(id);
    try {
      const detail = found?.tracked?.detail ?? (found ? await found.entry.tracker.detail(id) : undefined);
      if (!detail) return;
      await vscode.env.clipboard.writeText(incidentForClipboard(detail, found?.tracked?.suspect, new Date()));
      void vscode.window.setStatusBarMessage('Stackline: incident copied as Markdown', 4000);
    } catch (error) {
      this.commandFailed('could not copy the incident', error);
    }
  }

  /** Fetches the incident's commit in a terminal, where the user sees git and can answer it. */
  async fetchCommit(id: string): Promise<void> {
    const found = this.locate(id);
    const commit = found?.tracked?.commit;
    if (!found || !commit || !/^[0-9a-f]{7,64}$/i.test(commit)) return;
    const terminal = vscode.window.createTerminal({ name: `Stackline: fetch ${shortSha(commit)}`, cwd: found.entry.copy.root });
    terminal.show();
    terminal.sendText(`git fetch ${found.entry.copy.remote} ${commit}`);
    const sub = vscode.window.onDidCloseTerminal((closed) => {
      if (closed === terminal) {
        sub.dispose();
        void found.entry.tracker.replace();
      }
    });
    // Placed again on the next poll too, in case the terminal stays open.
    found.entry.placer.invalidate();
  }

  /** `vscode://stackline.stackline/open?repo=owner/repo&incident=<id>`. */
  async handleUri(uri: vscode.Uri): Promise<void> {
    const link = parseOpenLink(uri.path, uri.query);
    if ('error' in link) {
      void vscode.window.showErrorMessage(`Stackline: ${link.error}.`);
      return;
    }
    if (this.discovering) await this.discovering;
    const entry = [...this.entries.values()].find((e) => e.copy.repo.slug.toLowerCase() === link.repo.toLowerCase());
    if (!entry) {
      void vscode.window.showWarningMessage(`Stackline: open a working copy of ${link.repo} to see this incident.`);
      return;
    }
    if (!entry.tracker.find(link.incident)) await entry.scheduler.trigger();
    if (entry.tracker.find(link.incident)) {
      await this.openIncident(link.incident, true);
      return;
    }
    // Resolved or ignored incidents are not polled: open their details, placed on demand.
    try {
      await entry.tracker.detail(link.incident);
      await this.openIncident(link.incident, false, entry);
    } catch (error) {
      if (error instanceof ApiError && error.kind === 'notFound') {
        void vscode.window.showWarningMessage(`Stackline: no incident ${link.incident} of yours in ${link.repo}.`);
      } else {
        this.commandFailed('could not open the link', error);
      }
    }
  }

  dispose(): void {
    for (const [key, entry] of [...this.entries]) this.dropEntry(key, entry);
    for (const s of this.subscriptions) s.dispose();
  }
}
