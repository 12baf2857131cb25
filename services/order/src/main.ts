import { intFromEnv, serve } from '@spike-to-trace/shared/http.ts';
import { createOrderApp } from './app.ts';

const app = createOrderApp({
  inventoryUrl: process.env.INVENTORY_URL ?? 'http://localhost:8081',
  pricingUrl: process.env.PRICING_URL ?? 'http://localhost:8082',
  downstreamTimeoutMs: intFromEnv('DOWNSTREAM_TIMEOUT_MS', 5000, { min: 1, max: 600_000 }),
});
await serve(app, { name: 'order', port: intFromEnv('PORT', 8080, { min: 0, max: 65535 }) });
