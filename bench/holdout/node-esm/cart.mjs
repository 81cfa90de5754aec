// A cart in an ES module: a class whose method fails inside an array callback.
export class Cart {
  constructor(lines) {
    this.lines = lines;
  }

  total() {
    return this.lines.reduce((sum, line) => sum + line.price./*@esm-method*/amount * line.quantity, 0);
  }
}

export function checkout() {
  try {
    new Cart([{ price: { amount: 5 }, quantity: 1 }, { quantity: 2 }]).total();
  } catch (error) {
    return error.stack;
  }
}
