// The same app one deploy later: a function was added above the failing one, which moves its
// line and gives every function another minified name.
const ORDERS = { 7: { id: 7, lines: [] } };

function formatAmount(amount, currency) {
  const whole = Math.trunc(amount / 100);
  return `${whole} ${currency.toUpperCase()}`;
}

async function loadOrder(id) {
  await Promise.resolve();
  const order = ORDERS[id];
  return order.total./*@amount*/amount;
}

async function checkout(id) {
  const amount = await loadOrder(id);
  return formatAmount(amount, "eur");
}

checkout(7).catch((error) => {
  process.stdout.write(JSON.stringify({ stack: error.stack }));
});
