// Runs every case of cases.cjs and module.mjs and prints {case: error.stack} as JSON for the cases
// that threw, then dies of an uncaught error so that the test also reads Node's own report.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const commonjs = require("./cases.cjs");
const { cases: esm } = await import("./my app/été/module.mjs");

const stacks = {};
for (const [name, run] of Object.entries({ ...commonjs.cases, ...esm })) {
  try {
    await run();
  } catch (error) {
    stacks[name] = error.stack;
  }
}
process.stdout.write(JSON.stringify(stacks));
commonjs.die();
