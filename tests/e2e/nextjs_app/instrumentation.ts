// What the SDK's README tells a Next.js app to write: init() once per server, and every
// error a route handler, a page or a server action throws goes to onRequestError.
import { captureRequestError, init } from '@stackline/sdk';

export function register(): void {
  init({
    ingestKey: process.env.APP_INGEST_KEY,
    endpoint: process.env.APP_ENDPOINT,
    commitSha: process.env.APP_COMMIT_SHA,
  });
  // The test waits for this line: requests that reach the server before register() has run
  // are not isolated yet (see the SDK's README, "Next.js").
  console.log('instrumentation registered');
}

export const onRequestError = captureRequestError;
