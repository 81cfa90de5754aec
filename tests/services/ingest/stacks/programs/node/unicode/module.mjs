// Installed under "my app/été/": an ES module, whose frames V8 prints as percent-encoded file URLs.
function explode() {
  throw /*@esm*/new SyntaxError("thrown in an ES module");
}

export const cases = {
  esmCall() {
    return /*@esm-call*/explode();
  },
  async esmAsync() {
    await null;
    /*@esm-async*/explode();
  },
};
