// Three levels of causes, printed with util.inspect at a depth the app chose.
"use strict";
const util = require("node:util");

function query() {
  throw new Error("connection reset");
}

function repository() {
  try {
    query();
  } catch (error) {
    throw new Error("users query failed", { cause: error });
  }
}

function service() {
  try {
    repository();
  } catch (error) {
    throw new Error("could not list users", { cause: error });
  }
}

function controller() {
  try {
    service();
  } catch (error) {
    throw /*@deep-inspect*/new Error("GET /users failed", { cause: error });
  }
}

exports.deepInspect = () => {
  try {
    controller();
  } catch (error) {
    return util.inspect(error, { depth: 6 });
  }
};
