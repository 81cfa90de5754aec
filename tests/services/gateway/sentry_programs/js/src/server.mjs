// An Express app whose route fails, with Sentry's Express error handler; it calls the route
// twice itself, then flushes Sentry's queue and stops.
import * as Sentry from "@sentry/node";
import express from "express";

const carts = { c1: { items: [] } };

function totalOf(cart, id) {
  // Each failure says which cart: Sentry's SDK drops an event identical to the one before.
  if (cart === undefined) throw new TypeError(`no cart ${id}`); // the line Stackline must show
  return cart.items.reduce((sum, item) => sum + item.price, 0);
}

function cartTotal(id) {
  return totalOf(carts[id], id);
}

const app = express();
app.get("/carts/:id", (req, res) => {
  res.json({ total: cartTotal(req.params.id) });
});
Sentry.setupExpressErrorHandler(app);
app.use((err, req, res, next) => {
  res.status(500).json({ error: "internal" });
});

const server = app.listen(0, "127.0.0.1", async () => {
  const { port } = server.address();
  for (const id of ["c404", "c405"]) {
    const answer = await fetch(`http://127.0.0.1:${port}/carts/${id}`);
    if (answer.status !== 500) throw new Error(`expected 500, got ${answer.status}`);
  }
  await Sentry.flush(20000);
  server.close();
});
