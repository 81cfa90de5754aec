// Run by `jsc -m`: frames of an ES module's top level, which JavaScriptCore calls "module code".
function explode() {
  throw new Error/*^module*/("module");
}

try {
  explode/*^module-top*/();
} catch (error) {
  print(JSON.stringify({ module: error.stack }));
}
