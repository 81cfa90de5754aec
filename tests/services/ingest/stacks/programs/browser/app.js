// Chromium cases for test_browser.py, a classic script: each case throws and its stack lands in
// window.stacks; /*@name*/ marks the code a frame points at.
"use strict";

window.stacks = {};

function capture(name, run) {
  try {
    /*@capture*/run();
  } catch (error) {
    window.stacks[name] = error.stack;
  }
}

function inner() {
  throw /*@inner*/new Error("plain");
}

class Widget {
  constructor() {
    /*@construct*/inner();
  }
}

/*@calls*/capture("calls", () => [1]./*@map*/map(() => /*@arrow*/new Widget()));
/*@eval-case*/capture("evalCode", () => /*@eval*/eval("throw new TypeError('eval')"));

window.addEventListener("error", (event) => {
  window.stacks[`uncaught ${event.error.message}`] = event.error.stack;
});
setTimeout(function tick() {
  /*@tick*/inner();
});
// Code from a string has no script URL: V8 prints its frames at <anonymous>.
setTimeout("throw new Error('from a string')");
