// The SDK's limits are the ingest schema's (sdk/schema/ingest-event.schema.json, generated from
// the gateway's models), read from the schema, so a change to one without the other fails here;
// and the check every sent body goes through (helpers.mjs) refuses what the gateway would.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { build } from 'esbuild';
import { ROOT, SCHEMA, bodyProblems } from './helpers.mjs';

/** The SDK's own constants, from its sources (they are not part of the public API). */
async function internals() {
  const out = await build({
    stdin: {
      contents: "export { LIMITS } from './event.ts'; export { MAX_BATCH_EVENTS } from './queue.ts';",
      resolveDir: join(ROOT, 'src'),
      loader: 'ts',
    },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    logLevel: 'error',
  });
  return import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);
}

const { LIMITS, MAX_BATCH_EVENTS } = await internals();
const defs = SCHEMA.$defs;
const event = defs.IngestEvent.properties;
/** maxLength of a string field, or of the string branch of an optional one. */
const maxLength = (field) => (field.anyOf ?? [field]).find((b) => b.type === 'string').maxLength;

const SDK_AND_SCHEMA = {
  'tags per event': [LIMITS.tags, event.tags.maxProperties],
  'tag key': [LIMITS.tagKey, event.tags.propertyNames.maxLength],
  'tag value': [LIMITS.tagValue, event.tags.additionalProperties.maxLength],
  'breadcrumbs per event': [LIMITS.breadcrumbs, event.breadcrumbs.maxItems],
  'breadcrumb message': [LIMITS.breadcrumbMessage, maxLength(defs.Breadcrumb.properties.message)],
  'breadcrumb category': [LIMITS.category, maxLength(defs.Breadcrumb.properties.category)],
  'request url': [LIMITS.url, maxLength(defs.RequestInfo.properties.url)],
  'request method': [LIMITS.method, maxLength(defs.RequestInfo.properties.method)],
  environment: [LIMITS.environment, maxLength(event.environment)],
  release: [LIMITS.release, maxLength(event.release)],
  'deploy root': [LIMITS.deployRoot, maxLength(event.deploy_root)],
  'runtime and sdk name': [LIMITS.nameVersion, maxLength(defs.NameVersion.properties.name)],
  'runtime and sdk version': [LIMITS.nameVersion, maxLength(defs.NameVersion.properties.version)],
  'exception type': [LIMITS.exceptionType, maxLength(defs.ExceptionIn.properties.type)],
  fingerprint: [LIMITS.fingerprint, maxLength(event.fingerprint)],
  'events per request': [MAX_BATCH_EVENTS, defs.IngestBatch.properties.events.maxItems],
};

for (const [limit, [sdk, schema]] of Object.entries(SDK_AND_SCHEMA)) {
  test(`the SDK cuts to the schema's limit: ${limit}`, () => {
    // Equal, not merely within: a lower SDK limit would throw away what the API keeps.
    assert.equal(typeof schema, 'number', `${limit}: the schema states no limit`);
    assert.equal(sdk, schema, `${limit}: the SDK cuts at ${sdk}, the ingest API takes ${schema}`);
  });
}

const body = (fields) =>
  JSON.stringify({
    events: [{ event_id: '0b5e3d3a-54a1-4b8e-9d1c-2f6a1e0c9b7d', timestamp: '2026-01-01T00:00:00Z', platform: 'node', message: 'm', ...fields }],
  });

test('a body the gateway takes passes the check', () => {
  assert.deepEqual(bodyProblems(body({})), []);
});

const REFUSED = {
  '51 tags': [body({ tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) }), '/tags'],
  'a long breadcrumb': [body({ breadcrumbs: [{ message: 'm'.repeat(1025) }] }), '/breadcrumbs/0/message'],
  'an unknown field': [body({ colour: 'red' }), 'must NOT have additional properties'],
  'a malformed id': [body({ event_id: 'not-a-uuid' }), '/event_id'],
  'an unknown level': [body({ level: 'loud' }), '/level'],
  'a naive timestamp': [body({ timestamp: '2026-01-01T00:00:00' }), '/timestamp'],
  'no exception or message': [body({ message: undefined }), 'neither exception nor message'],
  'no events': [JSON.stringify({ events: [] }), '0 events'],
  'a lone surrogate': [body({ message: '\ud800' }), 'lone surrogate'],
  'a body past 1 MiB': [body({ message: 'm'.repeat(1024 * 1024) }), 'bytes'],
};

for (const [what, [refused, problem]] of Object.entries(REFUSED)) {
  test(`the check refuses what the gateway would: ${what}`, () => {
    const found = bodyProblems(refused);
    assert.ok(found.some((p) => p.includes(problem)), JSON.stringify(found));
  });
}
