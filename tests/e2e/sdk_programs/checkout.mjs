// A shop's checkout on the built JS SDK: it reports to Stackline, then fails with an error
// nobody catches. Node prints it and exits 1, as without the SDK.
import { writeSync } from 'node:fs';
import { getStats, init } from '@stackline/sdk';

init({
  ingestKey: process.env.APP_INGEST_KEY,
  endpoint: process.env.APP_ENDPOINT,
  commitSha: process.env.APP_COMMIT_SHA,
});
// Registered after init(), so it runs after the SDK's own exit handler has delivered.
process.on('exit', () => writeSync(1, `${JSON.stringify(getStats())}\n`));

function chargeCard(order) {
  throw new TypeError(`card declined for order ${order.id}`); // the line Stackline must show
}

setTimeout(() => chargeCard({ id: process.env.APP_ORDER }), 0);
