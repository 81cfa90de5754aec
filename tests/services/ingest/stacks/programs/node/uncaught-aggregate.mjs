// An ES module that dies of an AggregateError from async code; each sub-error is printed in
// the error's `[errors]` block, one of them with a cause of its own.
async function ping(host) {
  await null;
  throw /*@ping*/new Error(`${host} did not answer`);
}

async function checkAll(hosts) {
  const results = await Promise.allSettled(hosts.map((host) => ping(host)));
  const errors = results.map((result) => result.reason);
  errors.push(/*@late*/new Error("no host answered", { cause: errors[0] }));
  throw /*@check-all*/new AggregateError(errors, "every health check failed");
}

/*@check-all-call*/await checkAll(["db", "cache"]);
