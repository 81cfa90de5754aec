// A pricing rule the app loads from its own repository and runs in a vm context.
const rate = order.customer.tier === "gold" ? 0.2 : 0.1;
order.coupon./*@vm-rule*/code.length * rate;
