// Reports with a key the platform refuses: one warning, reporting stops, the program runs on.
import { captureException, captureMessage, flush, getStats, init } from '@stackline/sdk';

init({ ingestKey: process.env.APP_INGEST_KEY, endpoint: process.env.APP_ENDPOINT });
try {
  JSON.parse('{');
} catch (error) {
  captureException(error);
}
await flush(10_000);
captureMessage('after the key was refused');
process.stdout.write(`${JSON.stringify(getStats())}\n`);
