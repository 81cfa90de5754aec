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

const plugins = [];

function installPlugin(source) {
  plugins.push(/*@install*/eval(source));
}

function runPlugins(page) {
  return plugins.map((plugin) => plugin./*@run-plugin*/decorate(page));
}

function charge() {
  throw /*@charge*/new TypeError("the card was declined");
}

function checkout() {
  try {
    /*@charge-call*/charge();
  } catch (error) {
    throw /*@checkout*/new Error("checkout failed", { cause: error });
  }
}

/*@calls*/capture("calls", () => [1]./*@map*/map(() => /*@arrow*/new Widget()));
/*@eval-case*/capture("evalCode", () => /*@eval*/eval("throw new TypeError('eval')"));
installPlugin("({ decorate(page) { return page.title.trim(); } })");
/*@eval-later-case*/capture("evalLater", () => /*@eval-later*/runPlugins({}));
// A browser's error.stack leaves the cause out: an SDK sends the cause's own stack beside it.
try {
  /*@checkout-case*/checkout();
} catch (error) {
  window.stacks.cause = error.stack;
  window.stacks.causeOfCause = error.cause.stack;
}

window.addEventListener("error", (event) => {
  window.stacks[`uncaught ${event.error.message}`] = event.error.stack;
});
setTimeout(function tick() {
  /*@tick*/inner();
});
// Code from a string has no script URL: V8 prints its frames at <anonymous>.
setTimeout("throw new Error('from a string')");
