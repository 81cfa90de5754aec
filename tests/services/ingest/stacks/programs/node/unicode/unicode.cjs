// Installed under "my app/été/": a path with a space and non-ASCII characters.
exports.fail = function fail() {
  throw /*@unicode*/new Error("thrown from a folder with a space and an accent");
};
