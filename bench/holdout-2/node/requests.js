// A request handler whose failure the app logs with console.error("...", error): util.format
// puts the prefix on the first line, then the error as util.inspect prints it.
"use strict";
const util = require("node:util");

class PaymentGateway {
  charge(amount) {
    if (amount > this.limit.max) return false;
    return true;
  }
}

function handleCheckout(request) {
  const gateway = new PaymentGateway();
  try {
    return gateway.charge(request.amount);
  } catch (error) {
    throw /*@logged-prefix*/new Error(`checkout ${request.id} failed`, { cause: error });
  }
}

exports.loggedPrefix = () => {
  try {
    handleCheckout({ id: "c-9", amount: 12 });
  } catch (error) {
    return util.format("request failed:", error);
  }
};
