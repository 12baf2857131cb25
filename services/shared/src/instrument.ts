// Loaded with `node --import @spike-to-trace/shared/instrument.ts <service>/src/main.ts`, before the
// service's own modules, so that the instrumentations patch express and http before they load.
//
// The services are ES modules. require()-based patching never sees an ES module import, so the
// import-in-the-middle loader hook that @opentelemetry/instrumentation ships must be registered
// first; without it the express instrumentation silently produces no spans.
import { register } from 'node:module';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

// Imported only after the hook is in place.
const { startTelemetry, serviceIdentityOf } = await import('./telemetry.ts');
startTelemetry(serviceIdentityOf(process.argv[1]));
