// Errors that carry other errors, printed as Node prints them (util.inspect: what console.error,
// loggers and the uncaught-error report print), and generated code called after it was made.
// Each case returns the text; markers, as in cases.cjs, mark the code a frame points at.
"use strict";

const util = require("node:util");

function readConfig() {
  throw /*@chain-inner*/new SyntaxError("unexpected token in settings.json");
}

function loadConfig() {
  try {
    /*@chain-inner-call*/readConfig();
  } catch (error) {
    throw /*@chain-middle*/new Error("cannot load the configuration", { cause: error });
  }
}

function startServer() {
  try {
    /*@chain-middle-call*/loadConfig();
  } catch (error) {
    const failure = /*@chain-outer*/new Error("the server did not start", { cause: error });
    failure.code = "E_START";
    throw failure;
  }
}

function chargeCard(card) {
  if (!card.number) throw /*@charge*/new TypeError("the card has no number");
}

function refund(order) {
  try {
    /*@refund-call*/chargeCard({});
  } catch (error) {
    return /*@refund*/new Error(`order ${order} was not refunded`, { cause: error });
  }
  return null;
}

function settle(orders) {
  const failures = orders.map((order) => /*@settle-map*/refund(order));
  throw /*@aggregate*/new AggregateError(failures, `${failures.length} orders failed`);
}

function compileTemplate(source) {
  return /*@compile*/new Function("data", `return ${source};`);
}

function renderPage(template, data) {
  return /*@render*/template(data);
}

const plugins = [];

function installPlugin(source) {
  plugins.push(/*@install*/eval(source));
}

function runPlugins(page) {
  return plugins.map((plugin) => plugin./*@run-plugin*/decorate(page));
}

exports.cases = {
  causeChain() {
    /*@cause-chain*/startServer();
  },
  aggregate() {
    /*@settle*/settle([7, 8]);
  },
  ownProperties() {
    const error = /*@own-properties*/new RangeError("port out of range");
    error.code = "ERR_SOCKET_BAD_PORT";
    throw error;
  },
  nonErrorCause() {
    throw /*@non-error-cause*/new Error("rejected", { cause: { status: 503, retry: true } });
  },
  template() {
    const template = compileTemplate("data.user.name.toUpperCase()");
    /*@template*/renderPage(template, {});
  },
  evalLater() {
    installPlugin("({ decorate(page) { return page.title.trim(); } })");
    /*@eval-later*/runPlugins({});
  },
};

// Every case as util.inspect prints it, and as error.stack, which carries no causes.
const printed = {};
for (const [name, run] of Object.entries(exports.cases)) {
  try {
    run();
  } catch (error) {
    printed[name] = { inspected: util.inspect(error), stack: error.stack };
  }
}
process.stdout.write(JSON.stringify(printed));
