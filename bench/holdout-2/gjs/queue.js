// A job queue run by gjs: jobs are async methods, their handlers compiled by an indirect eval.
"use strict";

const handlers = {};

function register(name, source) {
  handlers[name] = (0, eval)(`(${source})`);
}

class Queue {
  constructor() {
    this.jobs = [];
  }

  async drain() {
    await null;
    for (const job of this.jobs) {
      /*@gjs-indirect-eval*/handlers[job.type](job);
    }
  }
}

class Clock {
  async tick(schedule) {
    await null;
    return schedule.next./*@gjs-async-method*/getTime();
  }
}

const stacks = {};
register("email", "function (job) { return job.to.toLowerCase(); }");
const queue = new Queue();
queue.jobs.push({ type: "email" });
queue
  .drain()
  .catch((error) => {
    stacks.gjsIndirectEval = error.stack;
  })
  .then(() => new Clock().tick({}))
  .catch((error) => {
    stacks.gjsAsyncMethod = error.stack;
  })
  .then(() => print(JSON.stringify(stacks)));
