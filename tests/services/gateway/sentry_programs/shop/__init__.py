"""A small shop app, instrumented with Sentry's SDKs only, as apps moving to Stackline are."""
