// Throws in each way a bundle's frames differ: renamed functions, a method, a constructor,
// anonymous callbacks through a native frame, awaits. Node prints the stacks as JSON; a page
// finds them in window.stacks.
import { formatAll } from "./lib/format.ts";
import { Ledger } from "./lib/ledger.js";
import { loadRecord } from "./lib/records.js";

function reportAverage(entries) {
  const ledger = new Ledger(entries);
  return ledger.average();
}

function stackOf(action) {
  try {
    action();
  } catch (error) {
    return error.stack;
  }
  return "no error";
}

async function collect() {
  const stacks = {
    average: stackOf(() => reportAverage([])),
    constructor: stackOf(() => reportAverage("not a list")),
    format: stackOf(() => formatAll([{ cents: 1250, currency: null }])),
  };
  try {
    await loadRecord(7);
  } catch (error) {
    stacks.async = error.stack;
  }
  return stacks;
}

collect().then((stacks) => {
  if (typeof window === "undefined") {
    console.log(JSON.stringify(stacks));
  } else {
    window.stacks = stacks;
  }
});
