// An incident told in Markdown: for the hover, the details view and "Copy as Markdown".

import { timeBetween } from './blame';
import type { Frame, Incident, IncidentDetail } from './model';
import type { Placement } from './placement';

/**
 * Text that Markdown shows as it is, inline. Only what can start markup mid-line is escaped:
 * the text never starts a line, so `#`, `-` or `1.` cannot make a heading or a list.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>|~]/g, '\\$&');
}

/** Inline code that survives backticks in the text. */
export function code(text: string): string {
  const longest = Math.max(0, ...Array.from(text.matchAll(/`+/g), (m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

export function ago(date: Date, now: Date): string {
  return now.getTime() - date.getTime() < 60_000 ? 'just now' : `${timeBetween(date, now)} ago`;
}

export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 7) : 'unknown';
}

/** "12 events · first seen 3 days ago · last seen 5 minutes ago · production, staging". */
export function summaryLine(incident: Incident, now: Date): string {
  const parts = [
    `${incident.count} event${incident.count === 1 ? '' : 's'}`,
    `first seen ${ago(incident.firstSeen, now)}`,
    `last seen ${ago(incident.lastSeen, now)}`,
  ];
  const environments = incident.environments.length ? incident.environments : incident.environment ? [incident.environment] : [];
  if (environments.length) parts.push(environments.join(', '));
  return parts.join(' · ');
}

/** Why the marked line is not exactly the incident's, or undefined when it is. */
export function placementNote(placement: Placement | undefined, commit: string | null): string | undefined {
  if (!placement) return undefined;
  if (!placement.found) return `The file \`${placement.originalFile}\` is not in this working copy.`;
  const at = `line ${placement.originalLine} of \`${placement.originalFile}\` at \`${shortSha(commit)}\``;
  switch (placement.note) {
    case 'lineChanged':
      return `Approximate: the line has changed since the incident's commit (it was ${at}).`;
    case 'commitNotInClone':
      return `Approximate: commit \`${shortSha(commit)}\` is not in this clone, so the line could not be followed to where it is now. Fetch it to place it exactly.`;
    case 'noCommit':
      return 'Approximate: the event did not say which commit was deployed; the line is as the stack gave it.';
    case 'gitFailed':
      return 'Approximate: git could not compare the working copy with the incident\'s commit; the line is as the stack gave it.';
    case 'beyondEnd':
      return `Approximate: ${at} is past the end of the file as it is now.`;
    default:
      return placement.originalLine !== placement.line || placement.originalFile !== placement.file
        ? `Moved: the code was at ${at}.`
        : undefined;
  }
}

export interface DetailOptions {
  now: Date;
  /** The suspect commit sentence, when blame found one. */
  suspect?: string | undefined;
  placement?: Placement | undefined;
  /** Where each in-app frame (by index) is in the working copy. */
  framePlacements?: ReadonlyMap<number, Placement> | undefined;
  /** A link target for a frame (opening the file at the line), or undefined for no link. */
  frameLink?: ((frame: Frame, index: number) => string | undefined) | undefined;
  /** Extra links shown at the end (actions). */
  actions?: { label: string; target: string }[] | undefined;
  /** Show the raw stack as the runtime printed it. */
  rawStack?: boolean;
}

function frameLabel(frame: Frame, placement: Placement | undefined): string {
  let where = frame.file ? `${frame.file}:${frame.line ?? '?'}${frame.column ? `:${frame.column}` : ''}` : frame.absPath || '?';
  // In-app frames are named where they are in the working copy now.
  if (placement?.found && (placement.line !== frame.line || placement.file !== frame.file)) {
    where = `${placement.file}:${placement.line}${placement.exact ? '' : ' ≈'}`;
  }
  return `${frame.function || '<anonymous>'} (${where})`;
}

export function incidentMarkdown(incident: Incident | IncidentDetail, options: DetailOptions): string {
  const lines: string[] = [];
  lines.push(`**${escapeMarkdown(incident.exceptionType)}**${incident.message ? `: ${escapeMarkdown(firstLine(incident.message))}` : ''}`);
  lines.push('');
  lines.push(`${summaryLine(incident, options.now)} · ${incident.status}`);
  lines.push('');
  const commitPart = incident.commitSha ? `Commit ${code(shortSha(incident.commitSha))}` : 'No commit reported';
  const regression = incident.regression
    ? ` · came back ${ago(incident.regression.at, options.now)}${incident.regression.commitSha ? ` at ${code(shortSha(incident.regression.commitSha))}` : ''}`
    : '';
  lines.push(`${commitPart}${regression}`);
  const note = placementNote(options.placement, incident.commitSha);
  if (note) lines.push('', `_${note}_`);
  if (options.suspect) lines.push('', `Suspect: ${options.suspect}`);

  const detail = 'latestEvent' in incident ? incident.latestEvent : undefined;
  if (detail && detail.frames.length) {
    lines.push('', '**Stack** (innermost first)', '');
    detail.frames.forEach((frame, index) => {
      const label = escapeMarkdown(frameLabel(frame, options.framePlacements?.get(index)));
      const target = frame.inApp && frame.file ? options.frameLink?.(frame, index) : undefined;
      const text = target ? `[${label}](${target})` : frame.inApp ? label : `_${label}_`;
      lines.push(`${index + 1}. ${text}`);
    });
  }
  if (detail && detail.processingErrors.length) {
    lines.push('', ...detail.processingErrors.map((e) => `- _${escapeMarkdown(e)}_`));
  }
  if (detail && options.rawStack && detail.rawStack) {
    lines.push('', '**As the runtime printed it**', '', '```', detail.rawStack.replace(/```/g, '`\u200b``'), '```');
  }
  const links = [...(incident.githubUrl ? [{ label: 'View on GitHub', target: incident.githubUrl }] : []), ...(options.actions ?? [])];
  if (links.length) lines.push('', links.map((l) => `[${l.label}](${l.target})`).join(' · '));
  return lines.join('\n');
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** The whole incident as Markdown for a ticket or a chat: no editor-only links. */
export function incidentForClipboard(incident: Incident | IncidentDetail, suspect: string | undefined, now: Date): string {
  return [
    `### ${escapeMarkdown(incident.title)}`,
    '',
    incidentMarkdown(incident, { now, suspect, rawStack: true, frameLink: (frame) => frame.githubUrl ?? undefined }),
  ].join('\n');
}

export interface DocumentLinkSpan {
  /** 0-based line and columns of the link text in the document. */
  line: number;
  start: number;
  end: number;
  /** Repository-relative file and 1-based line in the working copy. */
  file: string;
  fileLine: number;
}

export interface PlacedFrameView {
  frame: Frame;
  index: number;
  placement: Placement | undefined;
}

/**
 * The details view: plain text that reads well as it is (it opens in a read-only editor),
 * with the place of every in-app frame in the working copy where a link can go.
 */
export function incidentDocument(
  incident: Incident | IncidentDetail,
  options: { now: Date; suspect?: string | undefined; frames: PlacedFrameView[]; culprit?: Placement | undefined; head?: string | undefined },
): { text: string; links: DocumentLinkSpan[] } {
  const out: string[] = [];
  const links: DocumentLinkSpan[] = [];
  const row = (label: string, value: string): void => {
    out.push(`${label.padEnd(13)}${value}`);
  };
  out.push(`# ${incident.exceptionType}${incident.message ? `: ${firstLine(incident.message)}` : ''}`, '');
  row('Repository', incident.repo);
  row('Status', incident.regression ? `${incident.status} (came back ${ago(incident.regression.at, options.now)})` : incident.status);
  row('Events', `${incident.count} (first seen ${ago(incident.firstSeen, options.now)}, last seen ${ago(incident.lastSeen, options.now)})`);
  const environments = incident.environments.length ? incident.environments.join(', ') : incident.environment ?? 'not reported';
  row('Environments', environments);
  const head = options.head ? ` (this working copy is at ${shortSha(options.head)})` : '';
  row('Commit', incident.commitSha ? `${shortSha(incident.commitSha)}${head}` : 'not reported');
  if (options.suspect) row('Suspect', options.suspect);
  const note = placementNote(options.culprit, incident.commitSha);
  if (note) row('Line', note);
  if (incident.githubUrl) row('GitHub', incident.githubUrl);
  if (incident.message.includes('\n')) out.push('', '## Message', '', ...incident.message.split('\n').map((l) => `    ${l}`));

  const detail = 'latestEvent' in incident ? incident.latestEvent : undefined;
  if (options.frames.length) {
    out.push('', '## Stack (innermost first)', '');
    const width = Math.min(40, Math.max(...options.frames.map((f) => (f.frame.function || '<anonymous>').length)));
    for (const { frame, index, placement } of options.frames) {
      const name = (frame.function || '<anonymous>').padEnd(width);
      const prefix = `${String(index + 1).padStart(3)}. ${name}  `;
      if (frame.inApp && frame.file && placement?.found) {
        const where = `${placement.file}:${placement.line}`;
        links.push({ line: out.length, start: prefix.length, end: prefix.length + where.length, file: placement.file, fileLine: placement.line });
        const moved = placement.line !== frame.line || placement.file !== frame.file ? `  (was ${frame.file}:${frame.line}${placement.exact ? '' : ', approximate'})` : '';
        out.push(`${prefix}${where}${moved}`);
      } else if (frame.inApp && frame.file) {
        out.push(`${prefix}${frame.file}:${frame.line ?? '?'}  (not in this working copy)`);
      } else {
        out.push(`${prefix}${frame.absPath || frame.file || '?'}${frame.line ? `:${frame.line}` : ''}  (library)`);
      }
    }
  }
  if (detail?.processingErrors.length) out.push('', '## Notes', '', ...detail.processingErrors.map((e) => `- ${e}`));
  if (detail?.rawStack) out.push('', '## As the runtime printed it', '', ...detail.rawStack.split('\n').map((l) => `    ${l}`));
  out.push('');
  return { text: out.join('\n'), links };
}
