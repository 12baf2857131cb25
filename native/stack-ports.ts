// The native stack's ports: the plan (every port moves with its environment variable, which the
// README lists), and two checks: before anything starts (a taken port is refused with one line naming
// it and what holds it), and once each component answers (the answer must come from this stack's own
// process, not from another stack that happens to listen there).
import { createServer } from 'node:net';
import { listeningAddresses, portHolder } from './listeners.ts';

/**
 * The port plan: compose's ports, except Tempo's OTLP ports, which the Collector owns here. Each moves
 * with its variable (a second stack beside the first, a port taken by something else).
 */
const PORT_PLAN = {
  order: ['ORDER_PORT', 8080],
  inventory: ['INVENTORY_PORT', 8081],
  pricing: ['PRICING_PORT', 8082],
  collectorGrpc: ['OTELCOL_OTLP_GRPC_PORT', 4317],
  collectorHttp: ['OTELCOL_OTLP_HTTP_PORT', 4318],
  collectorHealth: ['OTELCOL_HEALTH_PORT', 13133],
  collectorMetrics: ['OTELCOL_METRICS_PORT', 8888],
  tempoHttp: ['TEMPO_HTTP_PORT', 3200],
  tempoGrpc: ['TEMPO_GRPC_PORT', 9095],
  tempoOtlpGrpc: ['TEMPO_OTLP_GRPC_PORT', 4417],
  tempoOtlpHttp: ['TEMPO_OTLP_HTTP_PORT', 4418],
  prometheus: ['PROMETHEUS_PORT', 9090],
  k6Api: ['K6_API_PORT', 6565],
  // The scale-out profile's gateways: gateway i listens on base + 10 i and the three ports after it.
  gatewayBase: ['OTELCOL_GATEWAY_PORT_BASE', 14317],
} as const satisfies Record<string, readonly [string, number]>;

export type PortName = keyof typeof PORT_PLAN;

function portFromEnv(variable: string, fallback: number): number {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${variable} must be a port number from 1 to 65535, got ${JSON.stringify(raw)}`);
  return port;
}

export const ports = Object.fromEntries(Object.entries(PORT_PLAN).map(([name, [variable, fallback]]) => [name, portFromEnv(variable, fallback)])) as Record<
  PortName,
  number
>;

/** Every port variable with its default, for the README's list and the tests. */
export const PORT_VARIABLES: ReadonlyArray<{ variable: string; fallback: number }> = Object.values(PORT_PLAN).map(([variable, fallback]) => ({
  variable,
  fallback,
}));

/** A port a component listens on, and the variable that moves it. */
export interface PortUse {
  port: number;
  variable: string;
}

/** The plan's ports by name, as PortUses. */
export const portUses = (...names: PortName[]): PortUse[] => names.map((name) => ({ port: ports[name], variable: PORT_PLAN[name][0] }));

/** Gateway i's ports (1-based): OTLP gRPC, OTLP HTTP, health, metrics. */
export function gatewayPorts(i: number): { grpc: number; http: number; health: number; metrics: number } {
  const base = ports.gatewayBase + 10 * i;
  return { grpc: base, http: base + 1, health: base + 2, metrics: base + 3 };
}

/** Can this process listen on 127.0.0.1:port right now? (What the component will try.) */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws, with one line per taken port, unless every port the components listen on is free. */
export async function refuseTakenPorts(components: ReadonlyArray<{ name: string; ports: PortUse[] }>): Promise<void> {
  const taken: string[] = [];
  for (const component of components) {
    for (const { port, variable } of component.ports) {
      if (await portFree(port)) continue;
      const holder = portHolder(port);
      taken.push(
        `port ${port} (${variable}, for ${component.name}) is taken${holder ? ` by ${holder}` : ''}: stop it, or move the port with ${variable}=<free port>`,
      );
    }
  }
  if (taken.length > 0) throw new Error(`the native stack cannot start:\n  ${taken.join('\n  ')}`);
}

/**
 * Is the process that answered the component's ready URL the component itself? On Linux the ready
 * port must be one of its own listening sockets; elsewhere (no /proc) its being alive is what can be
 * checked, and the ports were free just before it started.
 */
export function answersItself(component: { readyUrl: string }, pid: number): boolean {
  const port = Number(new URL(component.readyUrl).port);
  try {
    return listeningAddresses(pid).some((address) => address.endsWith(`:${port}`));
  } catch {
    return true; // no /proc to read: refuseTakenPorts and the liveness check stand for it
  }
}
