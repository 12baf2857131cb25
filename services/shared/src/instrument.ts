// Loaded with `node --import @spike-to-trace/shared/instrument.ts <service>/src/main.ts`, before the
// service's own modules: the loader hook first (see loader-hook.ts), then the SDK, so that the
// instrumentations patch express and http before they load.
import { registerLoaderHook } from './loader-hook.ts';

registerLoaderHook();

// Imported only after the hook is in place.
const { startTelemetry, serviceIdentityOf } = await import('./telemetry.ts');
startTelemetry(serviceIdentityOf(process.argv[1]));
