// The runner's side of the graceful stop (lib/graceful-stop.js has k6's side and why): a small HTTP
// endpoint on 127.0.0.1 that answers "stop" once asked to, and counts the VUs that have sent what
// they held. requestStop() resolves when every VU k6 initialised has, or after the grace period.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StopControl {
  /** STOP_URL for k6. */
  url: string;
  /** Asks the VUs to stop; resolves with how many reported their spans sent, of how many k6 had. */
  requestStop: (graceMs: number) => Promise<{ flushed: number; vus: number }>;
  close: () => void;
}

export async function startStopControl(): Promise<StopControl> {
  let stopping = false;
  const flushed = new Set<string>();
  let initialised = 0;
  let allFlushed: () => void = () => {};
  const everyVuFlushed = () => initialised > 0 && flushed.size >= initialised;

  const server = createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://control').searchParams;
    if (query.get('flushed') === '1') {
      flushed.add(query.get('vu') ?? '');
      initialised = Math.max(initialised, Number(query.get('initialised')) || 0);
      if (everyVuFlushed()) allFlushed();
    }
    res.writeHead(stopping ? 200 : 204).end(stopping ? 'stop' : undefined);
  });
  // k6 keeps its connections alive; they must not hold the runner open after the run.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/stop`,
    requestStop: async (graceMs) => {
      stopping = true;
      await new Promise<void>((resolve) => {
        allFlushed = resolve;
        if (everyVuFlushed()) resolve();
        setTimeout(resolve, graceMs).unref();
      });
      return { flushed: flushed.size, vus: initialised };
    },
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
