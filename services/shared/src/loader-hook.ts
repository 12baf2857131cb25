// The services are ES modules. require()-based patching never sees an ES module import, so the
// import-in-the-middle loader hook that @opentelemetry/instrumentation ships must be registered
// before the services' modules load; without it the express instrumentation silently produces
// nothing (the server spans lose their route). It is told to wrap express only, the one module the
// services import that an instrumentation patches by name (http is required by express itself, and
// http-client.ts calls it through its module object, which the http instrumentation patches):
// wrapping every other module costs start-up time and memory for nothing. With
// OTEL_SDK_DISABLED=true nothing is registered.
import { getBooleanFromEnv } from '@opentelemetry/core';
import { register } from 'node:module';

export function registerLoaderHook(): void {
  if (getBooleanFromEnv('OTEL_SDK_DISABLED')) return;
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: ['express'] } });
}
