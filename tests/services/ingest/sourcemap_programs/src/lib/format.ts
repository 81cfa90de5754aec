// TypeScript, so the map points into code esbuild rewrote. The emoji before the failing call is
// two UTF-16 units of the original column, and of every later column of a one-line bundle.
export interface Amount {
  cents: number;
  currency: string | null;
}

export function formatAmount(amount: Amount): string {
  const whole: number = Math.trunc(amount.cents / 100);
  return `💶 ${whole} ${(amount.currency as string).toUpperCase()}`;
}

export const formatAll = (amounts: Amount[]): string[] =>
  amounts.map((amount) => formatAmount(amount));
