// A ledger whose average divides by the number of entries.
export function divideEvenly(total, parts) {
  if (parts === 0) {
    throw new RangeError(`cannot divide ${total} into zero parts`);
  }
  return total / parts;
}

export class Ledger {
  constructor(entries) {
    if (!Array.isArray(entries)) {
      throw new TypeError("a ledger needs a list of entries");
    }
    this.entries = entries;
  }

  average() {
    const sum = this.entries.reduce((total, entry) => total + entry.cents, 0);
    return divideEvenly(sum, this.entries.length);
  }
}
