// Runs each case of the CommonJS holdout programs and prints {case: stack text} as JSON.
"use strict";
const cases = {
  ...require("./orders.js"),
  ...require("./templates.js"),
  ...require("./router.js"),
  ...require("./jobs.js"),
};
const out = {};
for (const [name, run] of Object.entries(cases)) out[name] = run();
Promise.all(Object.entries(out).map(async ([k, v]) => [k, await v])).then((entries) => {
  process.stdout.write(JSON.stringify(Object.fromEntries(entries)));
});
