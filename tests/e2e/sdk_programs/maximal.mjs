// Every limit of an event overrun at once, in plain text and in characters JSON escapes to six
// bytes (over 1 MiB until shortened): the gateway must take both events.
import { addBreadcrumb, captureException, flush, getStats, init, setTags } from '@stackline/sdk';

const LONG = 5000;
const tags = (prefix) => Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`${prefix}-${i}-${'k'.repeat(100)}`, 'v'.repeat(LONG)]));

init({
  ingestKey: process.env.APP_INGEST_KEY,
  endpoint: process.env.APP_ENDPOINT,
  environment: 'e'.repeat(LONG),
  release: 'r'.repeat(LONG),
  deployRoot: `/${'d'.repeat(LONG)}`,
  tags: tags('init'),
  breadcrumbs: { console: false, http: false },
});
setTags(tags('later'));

for (const text of ['x', '\x01']) {
  for (let i = 0; i < 150; i++) addBreadcrumb({ message: `${text}?token=x `.repeat(LONG), category: 'c'.repeat(LONG), level: 'loud' });
  let error;
  for (let depth = 0; depth < 6; depth++) {
    error = new Error(text.repeat(20_000), error ? { cause: error } : undefined);
    error.name = 'E'.repeat(1000);
    error.stack = `${error.name}: ${error.message}\n` + `    at f (/srv/app/${text.repeat(100)}.js:1:1)\n`.repeat(200);
  }
  captureException(error, {
    tags: tags('call'),
    fingerprint: 'f'.repeat(LONG),
    request: { method: 'M'.repeat(100), url: `https://${'h'.repeat(LONG)}/?q=${text.repeat(LONG)}` },
  });
}
await flush(10_000);
process.stdout.write(`${JSON.stringify(getStats())}\n`);
