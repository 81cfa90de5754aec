// A promise rejected with nobody to catch it: Sentry's unhandled-rejection handler reports it.
import * as Sentry from "@sentry/node";

async function loadInventory(store) {
  await Promise.resolve();
  throw new RangeError(`store ${store} has no inventory`); // the line Stackline must show
}

// After Sentry's own handler (registered by init) has captured it: send, then end.
process.on("unhandledRejection", async () => {
  await Sentry.flush(20000);
  process.exit(0);
});

loadInventory("berlin-3");
