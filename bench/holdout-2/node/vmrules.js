// Rules run with vm.runInNewContext under their own file name, so stacks name the rule file.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

function applyRule(name, order) {
  const file = path.join(__dirname, "rules", `${name}.js`);
  return vm.runInNewContext(fs.readFileSync(file, "utf8"), { order }, { filename: file });
}

exports.vmRule = () => {
  try {
    applyRule("discount", { total: 10, customer: { tier: "gold" } });
  } catch (error) {
    return error.stack;
  }
};
