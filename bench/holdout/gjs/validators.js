// Validators generated from a schema with new Function, called by validate(); run by gjs.
"use strict";

function generate(schema) {
  const checks = Object.keys(schema).map((key) => `if (typeof value.${key}.length !== "number") return false;`);
  return new Function("value", checks.join("\n") + "\nreturn true;");
}

function validate(validator, value) {
  return /*@gjs-function*/validator(value);
}

class Thermostat {
  set target(celsius) {
    this._target = celsius./*@gjs-setter*/toFixed(1);
  }
}

function configure(settings) {
  const thermostat = new Thermostat();
  thermostat.target = settings.target;
  return thermostat;
}

const stacks = {};
try {
  validate(generate({ name: "string", tags: "array" }), { name: "x" });
} catch (error) {
  stacks.gjsFunction = error.stack;
}
try {
  configure({});
} catch (error) {
  stacks.gjsSetter = error.stack;
}
print(JSON.stringify(stacks));
