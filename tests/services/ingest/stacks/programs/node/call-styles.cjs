// One function failing the same way, called in the ways that change what V8 prints for it: as a
// method of a plain object (`Object.parseConfig`), plainly (`parseConfig`), through a property of
// another name (`Object.parseConfig [as load]`), and an async caller that resumed after an
// await (`async boot`) or did not (`boot`). Prints {case: error.stack} as JSON.
"use strict";

function parseConfig(text) {
  return JSON.parse(text).port./*@parse-config*/toFixed(0);
}

const config = { parseConfig };
const loader = { load: parseConfig };

async function readSettings(cached) {
  if (!cached) await null;
  throw /*@read-settings*/new TypeError("the settings are missing");
}

async function boot(cached) {
  await /*@style-boot*/readSettings(cached);
}

function run(action) {
  try {
    /*@style-run*/action();
  } catch (error) {
    return error.stack;
  }
  return null;
}

async function main() {
  const stacks = {
    method: run(() => config./*@style-method*/parseConfig("{}")),
    plain: run(() => /*@style-plain*/parseConfig("{}")),
    alias: run(() => loader./*@style-alias*/load("{}")),
  };
  for (const [name, cached] of [["bootCached", true], ["bootAwaited", false]]) {
    try {
      await boot(cached);
    } catch (error) {
      stacks[name] = error.stack;
    }
  }
  process.stdout.write(JSON.stringify(stacks));
}

// From the event loop, as a server's handlers are: the module's own code is not below main.
setImmediate(main);
