import { intFromEnv, serve } from '@spike-to-trace/shared/http.ts';
import { createInventoryApp } from './app.ts';
import { slowPathSettingsFromEnv } from './slow-path.ts';

const app = createInventoryApp(slowPathSettingsFromEnv(), { adminToken: process.env.ADMIN_TOKEN });
await serve(app, { name: 'inventory', port: intFromEnv('PORT', 8081, { min: 0, max: 65535 }) });
