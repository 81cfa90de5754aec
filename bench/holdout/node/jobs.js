// A job runner that reports every failed job at once as an AggregateError, logged with console.error.
"use strict";
const util = require("node:util");

async function sendEmail(job) {
  await null;
  if (!job.to) throw new TypeError(`job ${job.id} has no recipient`);
}

async function runAll(jobs) {
  const results = await Promise.allSettled(jobs.map(sendEmail));
  const failures = results.filter((r) => r.status === "rejected").map((r) => r.reason);
  if (failures.length) {
    throw /*@aggregate-logged*/new AggregateError(failures, `${failures.length} jobs failed`);
  }
}

exports.aggregateLogged = async () => {
  try {
    await runAll([{ id: 1 }, { id: 2, to: "a@example.com" }, { id: 3 }]);
  } catch (error) {
    // console.error(error) writes exactly this.
    return util.inspect(error);
  }
};
