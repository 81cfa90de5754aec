// An order service that logs failures the way most Node loggers do: util.inspect of the error.
"use strict";
const util = require("node:util");

const inventory = { widget: { stock: 3 } };

function reserve(sku, quantity) {
  const item = inventory[sku];
  return item.stock - quantity;
}

function placeOrder(order) {
  try {
    return reserve(order.sku, order.quantity);
  } catch (error) {
    throw /*@cause-logged*/new Error(`order ${order.id} could not be placed`, { cause: error });
  }
}

exports.causeLogged = () => {
  try {
    placeOrder({ id: 17, sku: "gadget", quantity: 1 });
  } catch (error) {
    return util.inspect(error);
  }
};
