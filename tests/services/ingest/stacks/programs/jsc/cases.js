// JavaScriptCore cases for test_javascriptcore.py, run by jsc: each case throws. JavaScriptCore
// points at the end of a callee, so /*^name*/ sits there and the frame points at the marker itself.
// Sloppy mode on purpose: in strict mode JavaScriptCore makes proper tail calls, and the frames of
// `return f()` callers vanish from the stack.

function inner() {
  throw new Error/*^inner*/("plain");
}

function outer() {
  return inner/*^outer*/();
}

class Widget {
  constructor() {
    outer/*^construct*/();
  }
}

function nested() {
  return [1].map/*^outer-map*/(function () {
    return [2].map/*^inner-map*/(() => new Widget/*^arrow*/());
  });
}

var plugins = [];

function installPlugin(source) {
  plugins.push(eval(source));
}

function runPlugins(page) {
  return plugins.map(function (plugin) {
    return plugin.decorate/*^run-plugin*/(page);
  });
}

var cases = {
  calls() {
    nested/*^calls*/();
  },
  evalCode() {
    eval/*^eval*/("(function evaluated() { throw new Error('eval'); })()");
  },
  jsonParse() {
    JSON.parse/*^json*/("{bad");
  },
  evalLater() {
    installPlugin("({ decorate(page) { return page.title.trim(); } })");
    runPlugins/*^eval-later*/({});
  },
};

var stacks = {};
for (const [name, run] of Object.entries(cases)) {
  try {
    run/*^run*/();
  } catch (error) {
    stacks[name] = error.stack;
  }
}
try {
  throw new Error/*^global*/("global code");
} catch (error) {
  stacks.globalCode = error.stack;
}
print(JSON.stringify(stacks));
