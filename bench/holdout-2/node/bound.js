// Event handlers bound to their controller and called by an emitter.
"use strict";
const { EventEmitter } = require("node:events");

class InventoryController {
  constructor() {
    this.counts = new Map();
  }

  onRestock(event) {
    const current = this.counts.get(event.sku);
    this.counts.set(event.sku, current./*@bound-handler*/valueOf() + event.quantity);
  }
}

exports.boundHandler = () => {
  const bus = new EventEmitter();
  const controller = new InventoryController();
  bus.on("restock", controller.onRestock.bind(controller));
  try {
    bus.emit("restock", { sku: "A-1", quantity: 3 });
  } catch (error) {
    return error.stack;
  }
};
