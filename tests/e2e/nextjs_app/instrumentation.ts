// What the SDK's README tells a Next.js app to write: init() once per server, and every
// error a route handler, a page or a server action throws goes to onRequestError.
import { captureRequestError, init } from '@stackline/sdk';

export function register(): void {
  init({
    ingestKey: process.env.APP_INGEST_KEY,
    endpoint: process.env.APP_ENDPOINT,
    commitSha: process.env.APP_COMMIT_SHA,
  });
}

export const onRequestError = captureRequestError;
