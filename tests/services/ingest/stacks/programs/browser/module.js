// Chromium cases for test_browser.py, an ES module script: an async chain that rejects.
async function load() {
  await null;
  throw /*@load*/new RangeError("module");
}

async function start() {
  /*@start*/await load();
}

start().catch((error) => {
  window.stacks.asyncModule = error.stack;
});
