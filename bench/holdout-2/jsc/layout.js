// A layout engine run by jsc: measures computed by generated functions and by property getters.
// Sloppy mode, as scripts on the web are.
function compileMeasure(expression) {
  return new Function("box", "return " + expression + ";");
}

function measure(box, expression) {
  var fn = compileMeasure(expression);
  return fn/*^jsc-function-later*/(box);
}

function Box(width) {
  this.width = width;
}
Object.defineProperty(Box.prototype, "area", {
  get: function () {
    return this.width * this.size.height/*^jsc-getter*/;
  },
});

var stacks = {};
try {
  measure({ width: 3 }, "box.padding.left + box.width");
} catch (error) {
  stacks.jscFunctionLater = error.stack;
}
try {
  new Box(2).area;
} catch (error) {
  stacks.jscGetter = error.stack;
}
print(JSON.stringify(stacks));
