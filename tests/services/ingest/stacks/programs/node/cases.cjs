// CommonJS cases for test_node.py: each one throws; /*@name*/ marks the code a frame points at.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const thrower = require("lib-thrower");
const unicode = require("./my app/été/unicode.cjs");

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

  static create() {
    return /*@static*/new Widget();
  }
}

const build = () => Widget./*@arrow*/create();

const service = {
  load() {
    throw /*@load*/new Error("called through an alias");
  },
};
// V8 names the property a method was called through when it differs from the function's name.
const api = { fetch: service.load };

async function readRow() {
  await null;
  throw /*@read-row*/new Error("async");
}

async function handler() {
  /*@await-all*/await Promise.all([readRow()]);
}

exports.cases = {
  calls() {
    return [1]./*@anonymous-caller*/map(function () {
      return /*@anonymous*/build();
    });
  },
  methodAlias() {
    return api./*@alias*/fetch();
  },
  evalCode() {
    return /*@eval*/eval("(function evaluated() { throw new Error('eval'); })()");
  },
  newFunction() {
    return /*@new-function*/new Function("throw new Error('new Function')")/*@new-function-call*/();
  },
  jsonParse() {
    return JSON./*@json*/parse("{bad");
  },
  missingFile() {
    return fs./*@read-file*/readFileSync(path.join(__dirname, "missing.txt"));
  },
  nodeModules() {
    return thrower./*@package-call*/explode();
  },
  unicodePath() {
    return unicode./*@unicode-call*/fail();
  },
  frameLikeMessage() {
    const message = "first\n    at fake (/fake.js:1:1)\n    at alsoFake (/fake.js:2:2)\nlast";
    throw /*@frame-like*/new Error(message);
  },
  asyncChain: handler,
  promiseExecutor() {
    return /*@promise*/new Promise(function executor() {
      throw /*@executor*/new Error("rejected by its executor");
    });
  },
  requireBroken() {
    /*@require*/require("./broken.cjs");
  },
};

exports.die = function die() {
  throw /*@die*/new TypeError("nobody caught this");
};
