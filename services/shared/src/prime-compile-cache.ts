// Fills Node's compile cache (NODE_COMPILE_CACHE) for one service: preloaded after the telemetry
// entry, it lets the service start as it always does and stops it (SIGTERM, the graceful path) as
// soon as it listens; Node writes the cache as the process exits.
//
//   NODE_COMPILE_CACHE=<dir> PORT=0 OTEL_SDK_DISABLED=true node \
//     --import @spike-to-trace/shared/instrument.ts --import @spike-to-trace/shared/prime-compile-cache.ts \
//     services/<service>/src/main.ts
//
// Why: the cache holds the services' TypeScript with its types already stripped. Started from it,
// Node never loads its type stripper, a WebAssembly module whose memory stays resident, and each
// service is about 20 MiB smaller for as long as it runs. The Dockerfile fills the cache when it
// builds an image, the native stack before it starts the services. Node checks each entry against
// the file's content, so a changed file is stripped again, never served stale; and it keeps the
// cache per user id, so it must be filled by the user that runs the service.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenThenStop(this: net.Server, ...args: unknown[]) {
  this.once('listening', () => process.kill(process.pid, 'SIGTERM'));
  return listen.apply(this, args as Parameters<typeof listen>);
} as typeof listen;
