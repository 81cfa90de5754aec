// A shop's profile page on the built JS SDK. It reads a user that is not there and fails
// with an error nobody catches; the SDK reports it before Node exits.
import { init } from '@stackline/sdk';

init({
  ingestKey: process.env.APP_INGEST_KEY,
  endpoint: process.env.APP_ENDPOINT,
  commitSha: process.env.APP_COMMIT_SHA,
  environment: 'production',
});

function displayName(users, id) {
  return users[id].name.trim(); // the line Stackline must show
}

setTimeout(() => console.log(displayName({}, '42')), 0);
