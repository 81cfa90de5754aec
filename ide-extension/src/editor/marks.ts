// What the editor shows on the failing lines: a diagnostic in the Problems panel, the
// exception and count after the line (as Error Lens does), and a hover with the whole story.

import * as path from 'node:path';
import * as vscode from 'vscode';

import { incidentMarkdown, shortSha } from '../core/details';
import type { Placement } from '../core/placement';
import type { TrackedIncident } from '../core/tracker';

/** A repository's incidents as the marks need them. */
export interface MarkSource {
  root: string;
  incidents: readonly TrackedIncident[];
}

export interface LineMark {
  uri: vscode.Uri;
  line: number; // 0-based
  tracked: TrackedIncident;
}

function found(placement: Placement): placement is Extract<Placement, { found: true }> {
  return placement.found;
}

export function fileUri(root: string, relative: string): vscode.Uri {
  return vscode.Uri.file(path.join(root, ...relative.split('/')));
}

/** The culprit line of every incident whose file is in the working copy. */
export function culpritMarks(sources: readonly MarkSource[]): LineMark[] {
  const marks: LineMark[] = [];
  for (const source of sources) {
    for (const tracked of source.incidents) {
      const placement = tracked.culprit?.placement;
      if (placement && found(placement)) {
        marks.push({ uri: fileUri(source.root, placement.file), line: placement.line - 1, tracked });
      }
    }
  }
  return marks;
}

/** Command links in hovers: only Stackline's own commands run from them. */
export const HOVER_COMMANDS = ['stackline.openFrame', 'stackline.openIncident', 'stackline.resolve', 'stackline.ignore', 'stackline.fetchCommit'];

export function commandLink(command: string, args: unknown): string {
  return `command:${command}?${encodeURIComponent(JSON.stringify([args]))}`;
}

function lineRange(line: number, column: number | null | undefined, exact: boolean): vscode.Range {
  // The end is clamped to the line by the editor; the start is the column only when the line
  // is exactly the one that failed.
  const start = exact && column ? column - 1 : 0;
  return new vscode.Range(line, start, line, Number.MAX_SAFE_INTEGER);
}

export class Marks implements vscode.Disposable {
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('stackline');
  private readonly decoration = vscode.window.createTextEditorDecorationType({
    isWholeLine: true,
    backgroundColor: new vscode.ThemeColor('inputValidation.errorBackground'),
    overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.errorForeground'),
    overviewRulerLane: vscode.OverviewRulerLane.Right,
    after: { margin: '0 0 0 2em', color: new vscode.ThemeColor('editorError.foreground'), fontStyle: 'italic' },
  });
  private marks: LineMark[] = [];
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly decorationsEnabled: () => boolean,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.subscriptions.push(
      vscode.window.onDidChangeVisibleTextEditors(() => this.decorate()),
      vscode.languages.registerHoverProvider({ scheme: 'file' }, { provideHover: (doc, pos) => this.hover(doc, pos) }),
    );
  }

  /** The incidents on a line of a file, culprits first. */
  at(uri: vscode.Uri, line: number): LineMark[] {
    return this.marks.filter((m) => m.line === line && m.uri.toString() === uri.toString());
  }

  all(): readonly LineMark[] {
    return this.marks;
  }

  render(sources: readonly MarkSource[]): void {
    this.marks = culpritMarks(sources);
    const byFile = new Map<string, { uri: vscode.Uri; diagnostics: vscode.Diagnostic[] }>();
    for (const mark of this.marks) {
      const { tracked } = mark;
      const incident = tracked.incident;
      const placement = tracked.culprit!.placement as Extract<Placement, { found: true }>;
      const message = `${incident.exceptionType}${incident.message ? `: ${incident.message.split('\n', 1)[0]}` : ''} (${incident.count} in production${
        placement.exact ? '' : ', approximate line'
      })`;
      const diagnostic = new vscode.Diagnostic(
        lineRange(mark.line, tracked.culprit!.frame.column, placement.exact),
        message,
        incident.status === 'open' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Information,
      );
      diagnostic.source = 'Stackline';
      diagnostic.code = incident.githubUrl
        ? { value: `incident ${incident.id.slice(0, 8)}`, target: vscode.Uri.parse(incident.githubUrl) }
        : `incident ${incident.id.slice(0, 8)}`;
      const source = sources.find((s) => s.incidents.includes(tracked))!;
      diagnostic.relatedInformation = tracked.related.flatMap((r) =>
        r.placement.found
          ? [
              new vscode.DiagnosticRelatedInformation(
                new vscode.Location(fileUri(source.root, r.placement.file), new vscode.Position(r.placement.line - 1, 0)),
                `frame ${r.index + 1}: ${r.frame.function || '<anonymous>'}${r.placement.exact ? '' : ' (approximate line)'}`,
              ),
            ]
          : [],
      );
      const key = mark.uri.toString();
      const entry = byFile.get(key) ?? { uri: mark.uri, diagnostics: [] };
      entry.diagnostics.push(diagnostic);
      byFile.set(key, entry);
    }
    this.diagnostics.clear();
    for (const { uri, diagnostics } of byFile.values()) this.diagnostics.set(uri, diagnostics);
    this.decorate();
  }

  private decorate(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      if (!this.decorationsEnabled()) {
        editor.setDecorations(this.decoration, []);
        continue;
      }
      const key = editor.document.uri.toString();
      const lines = new Map<number, LineMark[]>();
      for (const mark of this.marks) {
        if (mark.uri.toString() !== key) continue;
        lines.set(mark.line, [...(lines.get(mark.line) ?? []), mark]);
      }
      const options: vscode.DecorationOptions[] = [];
      for (const [line, marks] of lines) {
        if (line >= editor.document.lineCount) continue;
        const first = marks[0]!.tracked.incident;
        const more = marks.length > 1 ? ` +${marks.length - 1} more` : '';
        const approximate = marks.every((m) => m.tracked.culprit?.placement.found && !m.tracked.culprit.placement.exact) ? ' (approximate)' : '';
        options.push({
          range: new vscode.Range(line, 0, line, 0),
          renderOptions: { after: { contentText: `${first.exceptionType} ×${first.count} in production${approximate}${more}` } },
        });
      }
      editor.setDecorations(this.decoration, options);
    }
  }

  private hover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const marks = this.at(document.uri, position.line);
    if (marks.length === 0) return undefined;
    const now = this.now();
    const contents = marks.map(({ tracked }) => {
      const markdown = new vscode.MarkdownString(
        incidentMarkdown(tracked.detail ?? tracked.incident, {
          now,
          suspect: tracked.suspect,
          placement: tracked.culprit?.placement,
          framePlacements: new Map([...(tracked.culprit ? [tracked.culprit] : []), ...tracked.related].map((f) => [f.index, f.placement])),
          frameLink: (_frame, index) => commandLink('stackline.openFrame', { id: tracked.incident.id, index }),
          actions: [
            { label: 'Details', target: commandLink('stackline.openIncident', { id: tracked.incident.id }) },
            { label: 'Resolve', target: commandLink('stackline.resolve', { id: tracked.incident.id }) },
            { label: 'Ignore', target: commandLink('stackline.ignore', { id: tracked.incident.id }) },
            ...(tracked.culprit?.placement.found && tracked.culprit.placement.note === 'commitNotInClone' && tracked.commit
              ? [{ label: `Fetch ${shortSha(tracked.commit)}`, target: commandLink('stackline.fetchCommit', { id: tracked.incident.id }) }]
              : []),
          ],
        }),
      );
      markdown.isTrusted = { enabledCommands: HOVER_COMMANDS };
      markdown.supportThemeIcons = true;
      return markdown;
    });
    return new vscode.Hover(contents, new vscode.Range(position.line, 0, position.line, Number.MAX_SAFE_INTEGER));
  }

  dispose(): void {
    this.diagnostics.dispose();
    this.decoration.dispose();
    for (const s of this.subscriptions) s.dispose();
  }
}
