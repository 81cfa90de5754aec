// Run by `gjs -m`: frames of an ES module, which SpiderMonkey prints as file URLs.
function explode() {
  throw /*@module*/new Error("module");
}

try {
  /*@module-top*/explode();
} catch (error) {
  print(JSON.stringify({ module: error.stack }));
}
