// Where a line of a file at one commit is now, read from `git diff -U0 <commit> -- <file>`.

export interface Hunk {
  oldStart: number;
  oldCount: number;
  newStart: number;
  newCount: number;
}

export interface MappedLine {
  line: number;
  /** False when the line itself was edited or removed: the place is the nearest one. */
  exact: boolean;
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/** The hunks of a unified diff of one file, in order. Anything else in the text is skipped. */
export function parseHunks(diff: string): Hunk[] {
  const hunks: Hunk[] = [];
  for (const line of diff.split('\n')) {
    const m = HUNK.exec(line);
    if (!m) continue;
    hunks.push({
      oldStart: Number(m[1]),
      oldCount: m[2] === undefined ? 1 : Number(m[2]),
      newStart: Number(m[3]),
      newCount: m[4] === undefined ? 1 : Number(m[4]),
    });
  }
  return hunks;
}

/**
 * Where 1-based `line` of the old file is in the new one. Lines untouched by the diff move by
 * what was added and removed above them. A line inside a changed block maps to the same
 * offset within the block's replacement (clamped to it), or, when the block was only removed,
 * to the line that now follows the gap; both are marked not exact.
 */
export function mapLine(hunks: readonly Hunk[], line: number): MappedLine {
  let shift = 0;
  for (const h of hunks) {
    // With -U0 a pure insertion names the old line it follows (oldCount 0); a removal
    // or replacement names the first old line it touches.
    if (h.oldCount === 0) {
      if (h.oldStart < line) {
        shift += h.newCount;
        continue;
      }
      break;
    }
    const oldEnd = h.oldStart + h.oldCount - 1;
    if (oldEnd < line) {
      shift += h.newCount - h.oldCount;
      continue;
    }
    if (h.oldStart > line) break;
    // The line is inside this changed block.
    if (h.newCount === 0) return { line: Math.max(1, h.newStart + 1), exact: false };
    const offset = Math.min(line - h.oldStart, h.newCount - 1);
    return { line: h.newStart + offset, exact: false };
  }
  return { line: line + shift, exact: true };
}
