import { setTimeout as sleep } from 'node:timers/promises';

/** The item has no price list entry: a data problem the pricing service cannot answer around. */
export class PriceNotFoundError extends Error {
  constructor(itemId: number) {
    super(`no price list entry for item ${itemId}`);
    this.name = 'PriceNotFoundError';
  }
}

export interface Price {
  itemId: number;
  unitPrice: number;
  currency: string;
}

/** Items 1..9999 are in the catalog; anything above is unknown, which the demo uses as its error path. */
export const CATALOG_SIZE = 9999;

/**
 * A simulated price catalog: a few milliseconds of "lookup", deterministic prices so that an
 * order's total is the same every time.
 */
export class PriceCatalog {
  async lookup(itemId: number): Promise<Price> {
    await sleep(2 + Math.random() * 8);
    if (itemId > CATALOG_SIZE) throw new PriceNotFoundError(itemId);
    const unitPrice = 5 + ((itemId * 7919) % 9500) / 100;
    return { itemId, unitPrice, currency: 'EUR' };
  }
}
