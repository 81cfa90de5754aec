// Reports one error after another, each sent before the next is made, so that the gateway
// sees every envelope the SDK does not hold back. How many: the first argument.
import * as Sentry from "@sentry/node";

function fail(attempt) {
  throw new Error(`attempt ${attempt} failed`);
}

const attempts = Number(process.argv[2]);
for (let attempt = 0; attempt < attempts; attempt += 1) {
  try {
    fail(attempt);
  } catch (error) {
    Sentry.captureException(error);
  }
  await Sentry.flush(20000);
}
