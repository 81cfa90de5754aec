// Orders, loaded asynchronously: the failing function is only reached after an await, so no
// call site names it and its minified name stays in the stack. Built and deployed as is.
const ORDERS = { 7: { id: 7, lines: [] } };

async function loadOrder(id) {
  await Promise.resolve();
  const order = ORDERS[id];
  return order.total./*@amount*/amount;
}

async function checkout(id) {
  const amount = await loadOrder(id);
  return amount;
}

checkout(7).catch((error) => {
  process.stdout.write(JSON.stringify({ stack: error.stack }));
});
