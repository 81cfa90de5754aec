import { addBreadcrumb, setTag } from '@stackline/sdk';

// Two requests meet here (?with=the other's id): each sets its own tag and breadcrumb, then
// waits until the other has arrived, so that both scopes hold data before either fails.
const arrivals = new Map<string, { arrived: Promise<void>; arrive: () => void }>();

function arrival(id: string): { arrived: Promise<void>; arrive: () => void } {
  let found = arrivals.get(id);
  if (!found) {
    let arrive = (): void => undefined;
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    found = { arrived, arrive };
    arrivals.set(id, found);
  }
  return found;
}

export async function GET(request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  const { id } = await context.params;
  setTag('order_id', id);
  addBreadcrumb({ category: 'order', message: `loading order ${id}` });
  const partner = new URL(request.url).searchParams.get('with');
  if (partner) {
    arrival(id).arrive();
    await arrival(partner).arrived;
  }
  return id.startsWith('card-') ? chargeCard(id) : reserveStock(id);
}

function chargeCard(id: string): Response {
  throw new Error(`the card was declined for order ${id}`); // card: the line Stackline must show
}

function reserveStock(id: string): Response {
  throw new RangeError(`no stock left for order ${id}`); // stock: the line Stackline must show
}
