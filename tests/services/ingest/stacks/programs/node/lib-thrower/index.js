// A package the test installs under node_modules: frames from code that is not the app's.
exports.explode = function explode() {
  throw /*@package*/new RangeError("thrown inside a package");
};
