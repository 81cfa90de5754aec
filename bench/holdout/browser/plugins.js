// Plugins arrive as source text and are installed with eval; the host calls them later.
"use strict";

window.holdout = {};

const registry = [];

function install(source) {
  registry.push(eval(source));
}

function runPlugins(page) {
  return registry.map((plugin) => /*@browser-eval*/plugin.decorate(page));
}

install("({ decorate(page) { return page.title.trim(); } })");
try {
  runPlugins({});
} catch (error) {
  window.holdout.browserEval = error.stack;
}
