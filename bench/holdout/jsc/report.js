// A report builder whose formula language compiles with eval; run by jsc. Sloppy mode, as
// scripts on the web are.
function evaluateFormula(formula, row) {
  with (row) {
    return eval/*^jsc-eval*/(formula);
  }
}

function buildReport(rows) {
  return rows.map(function (row) {
    return evaluateFormula("total.amount * rate", row);
  });
}

function Aggregator(name) {
  this.name = name;
}
Aggregator.prototype.sum = function (values) {
  return values.reduce(function (acc, v) {
    return acc + v.weight.value/*^jsc-proto*/;
  }, 0);
};

var stacks = {};
try {
  buildReport([{ total: { amount: 3 }, rate: 2 }, { rate: 1 }]);
} catch (error) {
  stacks.jscEval = error.stack;
}
try {
  new Aggregator("weights").sum([{ weight: { value: 2 } }, {}]);
} catch (error) {
  stacks.jscProto = error.stack;
}
print(JSON.stringify(stacks));
