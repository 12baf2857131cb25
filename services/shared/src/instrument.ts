// Loaded with `node --import @spike-to-trace/shared/instrument.ts <service>/src/main.ts`, before the
// service's own modules, so that the http instrumentation patches node:http before anything uses it.
// No ESM loader hook is needed: the http instrumentation patches node:http's module object and its
// Server prototype, which ES modules share with CommonJS, and the route template comes from the
// services' own middleware (request-metrics.ts), not from an instrumentation of express.
import { serviceIdentityOf, startTelemetry } from './telemetry.ts';

startTelemetry(serviceIdentityOf(process.argv[1]));
