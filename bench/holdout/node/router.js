// Handlers looked up by route and called with the request as `this`.
"use strict";

const handlers = {
  showInvoice() {
    return this.params.invoice./*@dispatch*/total.toFixed(2);
  },
};

function dispatch(route, request) {
  const handler = handlers[route];
  return handler.call(request);
}

exports.dispatch = () => {
  try {
    dispatch("showInvoice", { params: {} });
  } catch (error) {
    return error.stack;
  }
};
