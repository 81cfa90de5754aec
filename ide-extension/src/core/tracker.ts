// One repository's open incidents, kept current: polled with ETags, each incident's latest
// event fetched when it changes, its frames placed in the working copy, its culprit line
// blamed at the incident's commit.

import { ApiError, type StacklineApi } from './api';
import { describeSuspect } from './blame';
import type { Git } from './git';
import type { Frame, Incident, IncidentDetail, Status } from './model';
import type { Notice, NotificationGate } from './notify';
import type { Placement, Placer } from './placement';
import type { GitHubRepo } from './remote';
import type { PollOutcome } from './schedule';
import { SignInRequired, type SessionManager } from './session';

export interface PlacedFrame {
  frame: Frame;
  /** Index in the latest event's frames, innermost first. */
  index: number;
  placement: Placement;
}

export interface TrackedIncident {
  incident: Incident;
  detail: IncidentDetail | undefined;
  /** The commit the placed lines are from: the latest event's. */
  commit: string | null;
  culprit: PlacedFrame | undefined;
  /** The other in-app frames that name a repository file. */
  related: PlacedFrame[];
  suspect: string | undefined;
}

export type TrackerState =
  | { kind: 'starting' }
  | { kind: 'ok' }
  | { kind: 'signedOut'; reason: 'signedOut' | 'expired' }
  | { kind: 'noProject' }
  | { kind: 'offline'; message: string }
  | { kind: 'rateLimited'; message: string }
  | { kind: 'error'; message: string };

export interface TrackerEvents {
  changed(): void;
  stateChanged(state: TrackerState, previous: TrackerState): void;
  notices(notices: Notice[]): void;
}

const MAX_PAGES = 5;
const DETAIL_CONCURRENCY = 4;

export class RepositoryTracker {
  private etag: string | null = null;
  private list: Incident[] = [];
  private readonly details = new Map<string, IncidentDetail>();
  private readonly suspects = new Map<string, string | undefined>();
  private tracked: TrackedIncident[] = [];
  private stateValue: TrackerState = { kind: 'starting' };

  constructor(
    readonly repo: GitHubRepo,
    private readonly git: Git,
    private readonly placer: Placer,
    private readonly api: StacklineApi,
    private readonly session: SessionManager,
    private readonly gate: NotificationGate,
    private readonly events: TrackerEvents,
  ) {}

  get state(): TrackerState {
    return this.stateValue;
  }

  get incidents(): readonly TrackedIncident[] {
    return this.tracked;
  }

  find(id: string): TrackedIncident | undefined {
    return this.tracked.find((t) => t.incident.id === id);
  }

  /** One poll; never throws. What it found is in `state` and the incidents. */
  async poll(): Promise<PollOutcome> {
    try {
      const changed = await this.fetchList();
      this.setState({ kind: 'ok' });
      if (changed) {
        await this.place();
        this.events.notices(this.gate.consider(this.repo.slug, this.list));
        this.events.changed();
      }
      return { kind: 'ok' };
    } catch (error) {
      return this.failed(error);
    }
  }

  /** Places every incident again (a file was saved, HEAD moved), without asking the server. */
  async replace(): Promise<void> {
    this.placer.invalidate();
    await this.place();
    this.events.changed();
  }

  /** Changes an incident's status on the server, then polls so every view agrees. */
  async setStatus(id: string, status: Status): Promise<Incident> {
    const updated = await this.session.withToken((token) => this.api.setStatus(token, id, status));
    this.etag = null;
    await this.poll();
    return updated;
  }

  /** The incident with its latest event, from the cache or the server. */
  async detail(id: string): Promise<IncidentDetail> {
    const cached = this.details.get(id);
    if (cached) return cached;
    const detail = await this.session.withToken((token) => this.api.getIncident(token, id));
    this.details.set(id, detail);
    return detail;
  }

  /** Signed out here: drop what was shown, so no one else's incidents stay on screen. */
  clear(): void {
    this.etag = null;
    this.list = [];
    this.tracked = [];
    this.details.clear();
    this.events.changed();
  }

  private async fetchList(): Promise<boolean> {
    const first = await this.session.withToken((token) => this.api.listIncidents(token, this.repo.slug, { etag: this.etag }));
    if (first.notModified) return false;
    const incidents = [...first.page.incidents];
    let cursor = first.page.nextCursor;
    for (let page = 1; cursor && page < MAX_PAGES; page++) {
      const next = await this.session.withToken((token) => this.api.listIncidents(token, this.repo.slug, { cursor }));
      if (next.notModified) break;
      incidents.push(...next.page.incidents);
      cursor = next.page.nextCursor;
    }
    await this.fetchDetails(incidents);
    this.list = incidents;
    this.etag = first.etag;
    return true;
  }

  private async fetchDetails(incidents: Incident[]): Promise<void> {
    const ids = new Set(incidents.map((i) => i.id));
    for (const id of this.details.keys()) if (!ids.has(id)) this.details.delete(id);
    const stale = incidents.filter((i) => {
      const cached = this.details.get(i.id);
      return !cached || cached.lastSeen.getTime() !== i.lastSeen.getTime() || cached.count !== i.count;
    });
    for (let i = 0; i < stale.length; i += DETAIL_CONCURRENCY) {
      await Promise.all(
        stale.slice(i, i + DETAIL_CONCURRENCY).map(async (incident) => {
          try {
            this.details.set(incident.id, await this.session.withToken((token) => this.api.getIncident(token, incident.id)));
          } catch (error) {
            // Resolved or deleted between the list and this call: the list has the rest.
            if (!(error instanceof ApiError && error.kind === 'notFound')) throw error;
          }
        }),
      );
    }
  }

  private async place(): Promise<void> {
    const tracked: TrackedIncident[] = [];
    for (const incident of this.list) {
      tracked.push(await this.placeIncident(incident, this.details.get(incident.id)));
    }
    this.tracked = tracked;
  }

  private async placeIncident(incident: Incident, detail: IncidentDetail | undefined): Promise<TrackedIncident> {
    const event = detail?.latestEvent ?? null;
    const commit = event ? event.commitSha : incident.commitSha;
    const frames: PlacedFrame[] = [];
    if (event) {
      for (const [index, frame] of event.frames.entries()) {
        if (!frame.inApp || !frame.file || !frame.line) continue;
        frames.push({ frame, index, placement: await this.placer.place(commit ?? undefined, frame.file, frame.line) });
      }
    }
    // The culprit is the incident's, as the latest event shows it (its line at that event's
    // commit); without the event, the incident's own, which names the first event's line.
    let culprit = frames.find((f) => f.frame.file === incident.culprit?.file && f.frame.function === incident.culprit?.function) ?? frames[0];
    if (!culprit && incident.culprit?.line) {
      const frame: Frame = {
        file: incident.culprit.file,
        line: incident.culprit.line,
        column: incident.culprit.column,
        function: incident.culprit.function,
        inApp: true,
        absPath: incident.culprit.file,
        githubUrl: incident.githubUrl,
      };
      culprit = { frame, index: 0, placement: await this.placer.place(commit ?? undefined, frame.file!, frame.line!) };
    }
    return {
      incident,
      detail,
      commit,
      culprit,
      related: frames.filter((f) => f !== culprit),
      suspect: culprit ? await this.suspect(commit, culprit, incident) : undefined,
    };
  }

  private async suspect(commit: string | null, culprit: PlacedFrame, incident: Incident): Promise<string | undefined> {
    if (!commit || !culprit.frame.file || !culprit.frame.line) return undefined;
    const key = `${commit}\0${culprit.frame.file}\0${culprit.frame.line}\0${incident.firstSeen.toISOString()}`;
    if (this.suspects.has(key)) return this.suspects.get(key);
    const resolved = await this.placer.resolveCommit(commit);
    if (!resolved) return undefined; // not cached: the commit may be fetched later
    const blame = await this.git.blame(resolved, culprit.frame.file, culprit.frame.line);
    const sentence = blame ? describeSuspect(blame, incident.firstSeen) : undefined;
    this.suspects.set(key, sentence);
    return sentence;
  }

  private failed(error: unknown): PollOutcome {
    if (error instanceof SignInRequired) {
      this.setState({ kind: 'signedOut', reason: error.reason });
      this.clear();
      return { kind: 'idle' };
    }
    if (error instanceof ApiError) {
      switch (error.kind) {
        case 'notFound':
          if (error.detail.field === 'repo') {
            this.setState({ kind: 'noProject' });
            if (this.list.length) this.clear();
            return { kind: 'ok' };
          }
          this.setState({ kind: 'error', message: error.message });
          return { kind: 'failed' };
        case 'offline':
        case 'timeout':
          this.setState({ kind: 'offline', message: error.message });
          return { kind: 'ok' };
        case 'rateLimited':
        case 'unavailable':
          this.setState(
            error.kind === 'rateLimited'
              ? { kind: 'rateLimited', message: error.message }
              : { kind: 'offline', message: error.message },
          );
          return { kind: 'retryAfter', seconds: error.detail.retryAfterSeconds ?? 60 };
        default:
          this.setState({ kind: 'error', message: error.message });
          return { kind: 'failed' };
      }
    }
    this.setState({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
    return { kind: 'failed' };
  }

  private setState(state: TrackerState): void {
    const previous = this.stateValue;
    this.stateValue = state;
    if (previous.kind !== state.kind) this.events.stateChanged(state, previous);
  }
}
