// Which incidents deserve a notification: one that is new, or a resolved one that came back,
// never twice for the same thing, and at most a few a minute.

import type { Incident } from './model';

export type Notice =
  | { kind: 'new'; incident: Incident }
  | { kind: 'regression'; incident: Incident }
  /** More than the budget allows at once: one summary instead of the rest. */
  | { kind: 'more'; count: number; repo: string };

/** What has been told already, kept across restarts by the caller. */
export interface NoticeMemory {
  /** Repositories seen before: their first listing is taken in silently. */
  repos: string[];
  /** `id` for new incidents, `id@<regression time>` for regressions. */
  told: string[];
}

const MAX_PER_WINDOW = 3;
const WINDOW_MS = 60_000;
const MAX_REMEMBERED = 2_000;

export class NotificationGate {
  private readonly repos: Set<string>;
  private readonly told: Set<string>;
  private sentAt: number[] = [];

  constructor(
    memory: NoticeMemory = { repos: [], told: [] },
    private readonly now: () => number = Date.now,
  ) {
    this.repos = new Set(memory.repos);
    this.told = new Set(memory.told);
  }

  memory(): NoticeMemory {
    return { repos: [...this.repos], told: [...this.told].slice(-MAX_REMEMBERED) };
  }

  /**
   * The notices for one listing of a repository's open incidents. The first listing of a
   * repository is remembered without notices: what was already open when the editor first
   * met it is not news, and the tree and the status bar show it.
   */
  consider(repo: string, incidents: readonly Incident[]): Notice[] {
    const fresh: Notice[] = [];
    const firstSight = !this.repos.has(repo);
    this.repos.add(repo);
    // Oldest first, so that a burst is told in the order it happened.
    for (const incident of [...incidents].sort((a, b) => a.lastSeen.getTime() - b.lastSeen.getTime())) {
      const newKey = incident.id;
      const regressionKey = incident.regression ? `${incident.id}@${incident.regression.at.toISOString()}` : undefined;
      const isNew = !this.told.has(newKey);
      const isRegression = regressionKey !== undefined && !this.told.has(regressionKey);
      this.remember(newKey);
      if (regressionKey) this.remember(regressionKey);
      if (firstSight) continue;
      if (isNew && !incident.regression) fresh.push({ kind: 'new', incident });
      else if (isRegression) fresh.push({ kind: 'regression', incident });
      else if (isNew) fresh.push({ kind: 'new', incident });
    }
    return this.budget(repo, fresh);
  }

  private budget(repo: string, notices: Notice[]): Notice[] {
    const now = this.now();
    this.sentAt = this.sentAt.filter((t) => now - t < WINDOW_MS);
    const room = MAX_PER_WINDOW - this.sentAt.length;
    if (room <= 0 || notices.length === 0) return [];
    const shown = notices.length <= room ? notices : [...notices.slice(0, room - 1), { kind: 'more' as const, count: notices.length - room + 1, repo }];
    for (let i = 0; i < shown.length; i++) this.sentAt.push(now);
    return shown;
  }

  private remember(key: string): void {
    // Re-inserted at the end, so that trimming the memory forgets the oldest first.
    this.told.delete(key);
    this.told.add(key);
  }
}
