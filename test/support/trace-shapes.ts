// The spans a complete order trace holds, per service, as the services define them: the reference
// the end-to-end and fault tests compare what Tempo returns with. Derived from the services' code,
// never from the data under test (a reference read from the same traces it judges would shrink with
// a lost service and report "0 lost"); test/services.test.ts checks it against real traces.
import { SLOW_PATH_QUERIES } from '../../services/inventory/src/stock-repository.ts';

/** Spans per service in one trace. */
export type SpanCounts = Record<string, number>;

/** The kinds of order a test sends: answered normally, on inventory's slow path, or to pricing's error path. */
export type OrderKind = 'normal' | 'slow path' | 'error path';

/**
 * Order's spans: its SERVER span, fetch-order-details, check-inventory and calculate-price, and the
 * CLIENT span of each of its two calls.
 */
const ORDER_SPANS = 6;
/** Inventory's on the normal path: its SERVER span, get-stock and one query-stock-db. */
const INVENTORY_SPANS = 3;
/** Inventory's on the slow path: its SERVER span, get-stock and the N+1 queries. */
const INVENTORY_SLOW_SPANS = 2 + SLOW_PATH_QUERIES;
/** Pricing's: its SERVER span and lookup-price (which records the exception on the error path). */
const PRICING_SPANS = 2;
/** k6's own CLIENT span, the root of every trace k6 starts (loadgen/lib/client-spans.js). */
export const K6_SPANS = 1;

/**
 * The complete shapes of one kind of order, one per way inventory may have answered: an order on the
 * error path still asks inventory, which may take its slow path while pricing fails fast.
 */
export function completeShapes(kind: OrderKind, options: { fromK6: boolean }): SpanCounts[] {
  const k6: SpanCounts = options.fromK6 ? { k6: K6_SPANS } : {};
  const shape = (inventory: number): SpanCounts => ({ ...k6, order: ORDER_SPANS, inventory, pricing: PRICING_SPANS });
  if (kind === 'normal') return [shape(INVENTORY_SPANS)];
  if (kind === 'slow path') return [shape(INVENTORY_SLOW_SPANS)];
  return [shape(INVENTORY_SPANS), shape(INVENTORY_SLOW_SPANS)];
}

export const totalOf = (counts: SpanCounts) => Object.values(counts).reduce((sum, n) => sum + n, 0);

/**
 * The shape a trace was meant to have: of the kind's complete shapes, the smallest that holds at
 * least what was found (so a slow-path error order with some of its queries lost is judged against
 * the slow shape, and one with nothing from inventory against the normal one).
 */
export function expectedShape(kind: OrderKind, found: SpanCounts, options: { fromK6: boolean }): SpanCounts {
  const shapes = completeShapes(kind, options).sort((a, b) => totalOf(a) - totalOf(b));
  return shapes.find((shape) => Object.entries(found).every(([service, n]) => n <= (shape[service] ?? 0))) ?? shapes.at(-1)!;
}

/** Spans missing per service, compared with the shape the trace was meant to have. */
export function missingSpans(kind: OrderKind, found: SpanCounts, options: { fromK6: boolean }): SpanCounts {
  const expected = expectedShape(kind, found, options);
  return Object.fromEntries(Object.entries(expected).map(([service, n]) => [service, Math.max(0, n - (found[service] ?? 0))]));
}
