// Prints {case: stack} for the ES module cases that are caught.
import { checkout } from "./cart.mjs";

process.stdout.write(JSON.stringify({ esmMethod: checkout() }));
