// The commit that last changed a line, from `git blame --porcelain`.

export interface BlameLine {
  sha: string;
  author: string;
  authorMail: string;
  /** When the commit was authored. */
  authorTime: Date;
  summary: string;
  /** True for a line that no commit holds yet (uncommitted edits). */
  uncommitted: boolean;
}

/** The first line's blame in porcelain output, or undefined when the output holds none. */
export function parseBlamePorcelain(output: string): BlameLine | undefined {
  const lines = output.split('\n');
  const header = /^([0-9a-f]{40}|[0-9a-f]{64}) \d+ \d+/.exec(lines[0] ?? '');
  if (!header) return undefined;
  const fields = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line.startsWith('\t')) break; // the line's content ends the headers
    const space = line.indexOf(' ');
    const key = space === -1 ? line : line.slice(0, space);
    if (!fields.has(key)) fields.set(key, space === -1 ? '' : line.slice(space + 1));
  }
  const sha = header[1]!;
  const seconds = Number(fields.get('author-time'));
  return {
    sha,
    author: fields.get('author') ?? '',
    authorMail: (fields.get('author-mail') ?? '').replace(/^<|>$/g, ''),
    authorTime: new Date(Number.isFinite(seconds) ? seconds * 1000 : 0),
    summary: fields.get('summary') ?? '',
    uncommitted: /^0+$/.test(sha),
  };
}

/** "3 days", "5 hours", "just": how long before `later` the time `earlier` was. */
export function timeBetween(earlier: Date, later: Date): string {
  const seconds = Math.round((later.getTime() - earlier.getTime()) / 1000);
  const abs = Math.abs(seconds);
  const units: [number, string][] = [
    [365 * 86400, 'year'],
    [30 * 86400, 'month'],
    [7 * 86400, 'week'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, unit] of units) {
    if (abs >= size) {
      const n = Math.floor(abs / size);
      return `${n} ${unit}${n === 1 ? '' : 's'}`;
    }
  }
  return `${abs} second${abs === 1 ? '' : 's'}`;
}

/**
 * "last changed in `abc1234` by Ada, 3 days before the incident: Fix the cart total".
 * `incidentTime` is when the incident was first seen.
 */
export function describeSuspect(blame: BlameLine, incidentTime: Date): string {
  if (blame.uncommitted) return 'the line has uncommitted changes at that commit';
  const delta = incidentTime.getTime() - blame.authorTime.getTime();
  const when =
    delta >= 0
      ? `${timeBetween(blame.authorTime, incidentTime)} before the incident`
      : `${timeBetween(incidentTime, blame.authorTime)} after the incident was first seen`;
  const who = blame.author || blame.authorMail || 'an unknown author';
  const subject = blame.summary ? `: ${blame.summary}` : '';
  return `last changed in \`${blame.sha.slice(0, 7)}\` by ${who}, ${when}${subject}`;
}
