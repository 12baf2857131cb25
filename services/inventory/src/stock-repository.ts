import { inSpan } from '@spike-to-trace/shared/tracing.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SlowPath } from './slow-path.ts';

export interface Stock {
  itemId: number;
  available: number;
  warehouses: number;
}

/** Every item is stocked in this many warehouses. */
export const WAREHOUSE_COUNT = 30;
/** The slow path's queries: one for the warehouse list, then one per warehouse (the N+1). */
export const SLOW_PATH_QUERIES = WAREHOUSE_COUNT + 1;

const TRACER = 'inventory';
const DB_ATTRIBUTES = { 'db.system.name': 'postgresql', 'db.namespace': 'inventory' };

/**
 * Stock levels from a simulated database. The normal path reads the aggregated stock row in one
 * query (about 50–150 ms). The slow path is the demo's deliberate bug, an N+1 query pattern: it
 * lists the warehouses and then queries each warehouse's stock one by one, WAREHOUSE_COUNT
 * sequential queries that add up to the configured delay (3 s by default). In a trace it shows as
 * a staircase of "query-stock-db" spans under "get-stock".
 */
export class StockRepository {
  readonly #slowPath: SlowPath;

  constructor(slowPath: SlowPath) {
    this.#slowPath = slowPath;
  }

  async getStock(itemId: number): Promise<Stock> {
    const slow = this.#slowPath.triggers();
    return inSpan(TRACER, 'get-stock', { 'item.id': itemId, 'inventory.slow_path': slow }, async () => {
      if (!slow) return this.#queryAggregatedStock(itemId);
      return this.#sumStockWarehouseByWarehouse(itemId, this.#slowPath.settings.delayMs);
    });
  }

  async #queryAggregatedStock(itemId: number): Promise<Stock> {
    await this.#query('SELECT available FROM stock_totals WHERE item_id = $1', {}, 45 + Math.random() * 90);
    let total = 0;
    for (let warehouse = 1; warehouse <= WAREHOUSE_COUNT; warehouse++) total += unitsInWarehouse(itemId, warehouse);
    return { itemId, available: total, warehouses: WAREHOUSE_COUNT };
  }

  async #sumStockWarehouseByWarehouse(itemId: number, totalDelayMs: number): Promise<Stock> {
    const perQueryMs = totalDelayMs / SLOW_PATH_QUERIES;
    await this.#query('SELECT id FROM warehouses', {}, perQueryMs);
    let total = 0;
    for (let warehouse = 1; warehouse <= WAREHOUSE_COUNT; warehouse++) {
      await this.#query('SELECT available FROM stock WHERE item_id = $1 AND warehouse_id = $2', { 'warehouse.id': warehouse }, perQueryMs);
      total += unitsInWarehouse(itemId, warehouse);
    }
    return { itemId, available: total, warehouses: WAREHOUSE_COUNT };
  }

  /** One simulated round trip to the database, as a client span. */
  async #query(statement: string, attributes: Record<string, number>, latencyMs: number): Promise<void> {
    await inSpan(TRACER, 'query-stock-db', { ...DB_ATTRIBUTES, 'db.query.text': statement, ...attributes }, () => simulateLatency(latencyMs));
  }
}

/**
 * Waits at least `ms` by the monotonic clock. Node's timers run on the event loop's millisecond
 * clock and may fire up to a millisecond early; over the slow path's 31 queries that added up to
 * about 13 ms short, and the bug must cost at least the configured delay.
 */
async function simulateLatency(ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  for (let left = ms; left > 0; left = deadline - performance.now()) await sleep(left);
}

/** Deterministic stock levels, so that answers are stable: 0..19 units per item and warehouse. */
function unitsInWarehouse(itemId: number, warehouse: number): number {
  return (itemId * 31 + warehouse * 17) % 20;
}
