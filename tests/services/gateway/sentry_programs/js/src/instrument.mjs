// Sentry's setup as its docs give it for Node, loaded with `node --import`: the DSN and the
// release come from SENTRY_DSN and SENTRY_RELEASE.
import * as Sentry from "@sentry/node";

Sentry.init({
  dsn: process.env.SENTRY_DSN,
  release: process.env.SENTRY_RELEASE,
  environment: "production",
  tracesSampleRate: 1.0,
});
