// A server that reads its settings after an await, then dies of an uncaught rejection.
import { settings } from "./settings.mjs";

async function listen() {
  await Promise.resolve();
  return { port: settings.port, host: settings.host };
}

await listen();
