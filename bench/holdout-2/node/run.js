// Runs each case and prints {case: text} as JSON.
"use strict";
const cases = {
  ...require("./requests.js"),
  ...require("./bound.js"),
  ...require("./vmrules.js"),
  ...require("./deep.js"),
};
const out = {};
for (const [name, run] of Object.entries(cases)) out[name] = run();
process.stdout.write(JSON.stringify(out));
