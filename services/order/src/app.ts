import { getJson } from '@spike-to-trace/shared/http-client.ts';
import { createServiceApp, parseId } from '@spike-to-trace/shared/http.ts';
import { inSpan } from '@spike-to-trace/shared/tracing.ts';
import type { Express } from 'express';

export interface OrderConfig {
  inventoryUrl: string;
  pricingUrl: string;
  /** Deadline for each call to inventory or pricing; above the 3 s slow path on purpose. */
  downstreamTimeoutMs: number;
}

interface Stock {
  itemId: number;
  available: number;
}

interface Price {
  itemId: number;
  unitPrice: number;
  currency: string;
}

const TRACER = 'order';

// Orders are simulated: order n is for item n, in a quantity between 1 and 5.
const quantityOf = (orderId: number) => (orderId % 5) + 1;

export function createOrderApp(config: OrderConfig): Express {
  return createServiceApp('order', (app) => {
    app.get('/orders/:id', async (req, res) => {
      const orderId = parseId(req.params.id, 'order id');
      const userId = req.get('x-user-id');
      const attributes = { 'order.id': orderId, ...(userId ? { 'user.id': userId } : {}) };

      const order = await inSpan(TRACER, 'fetch-order-details', attributes, async (span) => {
        const itemId = orderId;
        const quantity = quantityOf(orderId);
        // Both downstream calls run in parallel; each has its own span so the waterfall shows
        // which of them was slow.
        const [stock, price] = await Promise.all([
          inSpan(TRACER, 'check-inventory', { 'order.id': orderId }, () =>
            getJson<Stock>('inventory', `${config.inventoryUrl}/stock/${itemId}`, { timeoutMs: config.downstreamTimeoutMs }),
          ),
          inSpan(TRACER, 'calculate-price', { 'order.id': orderId }, () =>
            getJson<Price>('pricing', `${config.pricingUrl}/price/${itemId}`, { timeoutMs: config.downstreamTimeoutMs }),
          ),
        ]);
        const total = Math.round(price.unitPrice * quantity * 100) / 100;
        span.setAttribute('order.total', total);
        return {
          orderId,
          itemId,
          quantity,
          inStock: stock.available >= quantity,
          unitPrice: price.unitPrice,
          total,
          currency: price.currency,
        };
      });
      res.json(order);
    });
  });
}
