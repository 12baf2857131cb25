import { requireAdminToken } from '@spike-to-trace/shared/admin-token.ts';
import { createServiceApp, parseId, requireJsonContentType } from '@spike-to-trace/shared/http.ts';
import type { Express } from 'express';
import { SlowPath, type SlowPathSettings } from './slow-path.ts';
import { StockRepository } from './stock-repository.ts';

export function createInventoryApp(slowPathSettings: SlowPathSettings, options: { adminToken?: string } = {}): Express {
  const slowPath = new SlowPath(slowPathSettings);
  const stock = new StockRepository(slowPath);
  return createServiceApp('inventory', (app) => {
    app.get('/stock/:id', async (req, res) => {
      res.json(await stock.getStock(parseId(req.params.id, 'item id')));
    });

    // The live demo's switch for the slow path (changing it may need ADMIN_TOKEN, reading it not).
    app.get('/admin/slow-path', (_req, res) => {
      res.json(slowPath.settings);
    });
    app.put('/admin/slow-path', requireAdminToken(options.adminToken), requireJsonContentType, (req, res) => {
      const settings = slowPath.update(req.body);
      console.log(`slow path set to rate=${settings.rate} delayMs=${settings.delayMs}`);
      res.json(settings);
    });
  });
}
