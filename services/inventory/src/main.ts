import { intFromEnv, serve } from '@spike-to-trace/shared/http.ts';
import { createInventoryApp } from './app.ts';
import { slowPathSettingsFromEnv } from './slow-path.ts';

await serve(createInventoryApp(slowPathSettingsFromEnv()), { name: 'inventory', port: intFromEnv('PORT', 8081, { min: 0, max: 65535 }) });
