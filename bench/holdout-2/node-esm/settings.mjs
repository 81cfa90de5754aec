// Settings behind a Proxy that validates every read.
const values = { port: 8080 };

export const settings = new Proxy(values, {
  get(target, key) {
    if (!(key in target)) {
      throw /*@uncaught-rejection*/new RangeError(`unknown setting ${String(key)}`);
    }
    return target[key];
  },
});
