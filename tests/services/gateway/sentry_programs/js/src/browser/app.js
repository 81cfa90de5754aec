// A shop page's script, bundled and minified: Sentry's browser SDK reports its uncaught error.
// The page sets window.SHOP (the DSN and the release) before it loads the bundle.
import * as Sentry from "@sentry/browser";

Sentry.init({ dsn: window.SHOP.dsn, release: window.SHOP.release, environment: "production" });

function formatPrice(product) {
  return product.price.toFixed(2); // the line Stackline must show
}

function renderCart(products) {
  return products.map((product) => formatPrice(product)).join(", ");
}

// Registered after Sentry's own handler, so the error is captured by then: send, then say so.
window.addEventListener("error", () => {
  Sentry.flush(10000).then(() => {
    document.title = "sent";
  });
});

setTimeout(() => {
  document.body.textContent = renderCart([{ price: 3 }, { name: "gift card" }]);
});
