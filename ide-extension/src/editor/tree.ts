// The "Stackline" view: open incidents grouped by file, newest first.

import * as vscode from 'vscode';

import { ago } from '../core/details';
import type { TrackedIncident, TrackerState } from '../core/tracker';
import { fileUri } from './marks';

export interface TreeSource {
  slug: string;
  root: string;
  state: TrackerState;
  incidents: readonly TrackedIncident[];
}

export type Node =
  | { kind: 'repo'; source: TreeSource }
  | { kind: 'file'; source: TreeSource; file: string; missing: boolean; incidents: TrackedIncident[] }
  | { kind: 'incident'; source: TreeSource; tracked: TrackedIncident };

function fileOf(tracked: TrackedIncident): { file: string; missing: boolean } {
  const placement = tracked.culprit?.placement;
  if (!placement) return { file: '(no file in the repository)', missing: true };
  return placement.found ? { file: placement.file, missing: false } : { file: placement.originalFile, missing: true };
}

function byNewest(a: TrackedIncident, b: TrackedIncident): number {
  return b.incident.lastSeen.getTime() - a.incident.lastSeen.getTime();
}

function stateLabel(state: TrackerState): string | undefined {
  switch (state.kind) {
    case 'noProject':
      return 'no Stackline project';
    case 'offline':
      return 'offline';
    case 'signedOut':
      return 'signed out';
    case 'rateLimited':
      return 'rate limited';
    case 'error':
      return 'error';
    default:
      return undefined;
  }
}

export class IncidentTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private sources: TreeSource[] = [];

  constructor(private readonly now: () => Date = () => new Date()) {}

  update(sources: TreeSource[]): void {
    this.sources = sources;
    this.changed.fire(undefined);
  }

  getChildren(node?: Node): Node[] {
    if (!node) {
      const visible = this.sources.filter((s) => s.incidents.length > 0 || s.state.kind !== 'ok');
      if (this.sources.length === 1 && this.sources[0]!.state.kind === 'ok') return this.files(this.sources[0]!);
      if (visible.length === 0) return [];
      return this.sources.map((source) => ({ kind: 'repo', source }));
    }
    if (node.kind === 'repo') return this.files(node.source);
    if (node.kind === 'file') return [...node.incidents].sort(byNewest).map((tracked) => ({ kind: 'incident', source: node.source, tracked }));
    return [];
  }

  private files(source: TreeSource): Node[] {
    const groups = new Map<string, { missing: boolean; incidents: TrackedIncident[] }>();
    for (const tracked of source.incidents) {
      const { file, missing } = fileOf(tracked);
      const group = groups.get(file) ?? { missing, incidents: [] };
      group.incidents.push(tracked);
      groups.set(file, group);
    }
    // Files ordered by their newest incident.
    return [...groups.entries()]
      .sort(([, a], [, b]) => byNewest([...a.incidents].sort(byNewest)[0]!, [...b.incidents].sort(byNewest)[0]!))
      .map(([file, group]) => ({ kind: 'file', source, file, missing: group.missing, incidents: group.incidents }));
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'repo') {
      const item = new vscode.TreeItem(node.source.slug, vscode.TreeItemCollapsibleState.Expanded);
      const state = stateLabel(node.source.state);
      item.description = state ?? `${node.source.incidents.length} open`;
      item.iconPath = new vscode.ThemeIcon('repo');
      item.id = `repo:${node.source.root}`;
      return item;
    }
    if (node.kind === 'file') {
      const item = new vscode.TreeItem(node.file, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `file:${node.source.root}:${node.file}`;
      if (node.missing) {
        item.description = 'not in this working copy';
        item.iconPath = new vscode.ThemeIcon('warning');
      } else {
        item.resourceUri = fileUri(node.source.root, node.file);
        item.iconPath = vscode.ThemeIcon.File;
        item.description = `${node.incidents.length}`;
      }
      return item;
    }
    const { incident, culprit } = node.tracked;
    const item = new vscode.TreeItem(`${incident.exceptionType}: ${incident.message.split('\n', 1)[0] || incident.title}`);
    item.id = `incident:${incident.id}`;
    const line = culprit?.placement.found ? `:${culprit.placement.line}${culprit.placement.exact ? '' : ' ≈'}` : '';
    item.description = `${line ? `line${line} · ` : ''}×${incident.count} · ${ago(incident.lastSeen, this.now())}${incident.status === 'open' ? '' : ` · ${incident.status}`}`;
    item.tooltip = new vscode.MarkdownString(
      `**${incident.title}**\n\n${incident.count} events · last seen ${ago(incident.lastSeen, this.now())} · ${incident.status}${
        incident.regression ? ' · came back after it was resolved' : ''
      }`,
    );
    item.iconPath = new vscode.ThemeIcon(incident.regression ? 'issue-reopened' : 'error', new vscode.ThemeColor('errorForeground'));
    item.contextValue = `incident-${incident.status}`;
    // A file that is not in the working copy has no line to jump to: the details open instead.
    item.command = culprit?.placement.found
      ? { command: 'stackline.openFrame', title: 'Go to the failing line', arguments: [{ id: incident.id, index: culprit.index, culprit: true }] }
      : { command: 'stackline.openIncident', title: 'Open incident details', arguments: [{ id: incident.id }] };
    return item;
  }
}
