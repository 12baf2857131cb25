import { HttpError, createServiceApp, parseId } from '@spike-to-trace/shared/http.ts';
import { inSpan } from '@spike-to-trace/shared/tracing.ts';
import type { Express } from 'express';
import { PriceCatalog, PriceNotFoundError } from './price-catalog.ts';

export function createPricingApp(catalog = new PriceCatalog()): Express {
  return createServiceApp('pricing', (app) => {
    app.get('/price/:id', async (req, res) => {
      const itemId = parseId(req.params.id, 'item id');
      try {
        // inSpan records the exception on "lookup-price" and marks it ERROR.
        const price = await inSpan('pricing', 'lookup-price', { 'item.id': itemId }, () => catalog.lookup(itemId));
        res.json(price);
      } catch (error) {
        // Deliberately a 500, not a 404: an order for an item without a price is a server-side
        // failure, and it gives TraceQL { span.http.response.status_code = 500 } something to find.
        if (error instanceof PriceNotFoundError) throw new HttpError(500, error.message);
        throw error;
      }
    });
  });
}
