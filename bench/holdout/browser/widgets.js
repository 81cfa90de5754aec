// Widgets in an ES module: an async loader whose failure surfaces through a class method.
class Dashboard {
  constructor(api) {
    this.api = api;
  }

  async refresh() {
    const data = await this.api.load();
    return data.widgets./*@browser-async*/map((w) => w.id);
  }
}

new Dashboard({ load: async () => ({}) })
  .refresh()
  .catch((error) => {
    window.holdout.browserAsync = error.stack;
  });
