// SpiderMonkey cases for test_spidermonkey.py, run by gjs: each case throws, and /*@name*/ marks
// the code a frame points at (SpiderMonkey points at `new` and at a callee's name).
"use strict";

function inner() {
  throw /*@inner*/new Error("plain");
}

function outer() {
  return /*@outer*/inner();
}

class Widget {
  constructor() {
    /*@construct*/outer();
  }
}

class Gauge {
  get size() {
    throw /*@getter*/new Error("getter");
  }
}

function nested() {
  return [1]./*@outer-map*/map(function () {
    return [2]./*@inner-map*/map(() => /*@arrow*/new Widget());
  });
}

const registry = {};
registry["on@load"] = function () {
  throw /*@computed*/new Error("a name with an @ in it");
};

async function readRow() {
  await null;
  throw /*@read-row*/new Error("async");
}

async function handler() {
  await /*@await*/readRow();
}

function compileRule(source) {
  return /*@compile-rule*/new Function("order", source);
}

function applyRule(rule, order) {
  return /*@apply-rule*/rule(order);
}

const plugins = [];

function installPlugin(source) {
  plugins.push(/*@install*/eval(source));
}

function runPlugins(page) {
  return plugins.map((plugin) => plugin./*@run-plugin*/decorate(page));
}

const cases = {
  calls() {
    /*@calls*/nested();
  },
  getter() {
    return /*@size*/new Gauge().size;
  },
  computedName() {
    registry./*@on-load*/onLoad();
  },
  evalCode() {
    /*@eval*/eval("(function evaluated() { throw new Error('eval'); })()");
  },
  newFunction() {
    /*@new-function*/new Function("throw new Error('new Function')")/*@new-function-call*/();
  },
  asyncChain: handler,
  generatedLater() {
    applyRule/*@generated-later*/(compileRule("return order.total.amount;"), {});
  },
  evalLater() {
    installPlugin("({ decorate(page) { return page.title.trim(); } })");
    /*@eval-later*/runPlugins({});
  },
};
registry.onLoad = registry["on@load"];

async function main() {
  const stacks = {};
  for (const [name, run] of Object.entries(cases)) {
    try {
      await run();
    } catch (error) {
      stacks[name] = error.stack;
    }
  }
  print(JSON.stringify(stacks));
}

main();
