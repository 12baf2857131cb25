import { intFromEnv, serve } from '@spike-to-trace/shared/http.ts';
import { createPricingApp } from './app.ts';

await serve(createPricingApp(), { name: 'pricing', port: intFromEnv('PORT', 8082, { min: 0, max: 65535 }) });
