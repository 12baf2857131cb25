// The demo's options: command-line flags, the environment, and the stack it runs against.
import { UsageError } from '../loadgen/run.ts';
import { urls as nativeUrls } from '../native/stack.ts';
import { detectStack, type StackInfo } from './checks.ts';

export interface DemoUrls {
  order: string;
  inventory: string;
  pricing: string;
  collectorHealth: string;
  prometheus: string;
  tempo: string;
  grafana: string;
}

export interface DemoConfig {
  urls: DemoUrls;
  rehearse: boolean;
  allowMissingTempo: boolean;
  /** Native or compose: decides the hints, and whether Grafana is required (see detectStack). */
  stack: StackInfo;
  /** Share of stock lookups on the slow path while the bug is on. */
  slowRate: number;
  /** Requests per second of the background load. */
  loadRate: number;
  builtinLoad: boolean;
  /** Longest wait for a metric to move, in ms. */
  stepTimeoutMs: number;
  /** How often Prometheus and Tempo are polled, in ms. */
  pollMs: number;
  /** The p99 above which we call it a spike (seconds). */
  spikeSeconds: number;
}

const VALUE_OPTIONS = ['--slow-rate', '--load-rate', '--step-timeout'];
const KNOWN = new Set(['--rehearse', '--allow-missing-tempo', '--builtin-load', ...VALUE_OPTIONS, '--help', '-h']);

export function usage(): string {
  return 'usage: npm run demo -- [--rehearse] [--allow-missing-tempo] [--slow-rate 0.2] [--load-rate 10] [--builtin-load] [--step-timeout 180]';
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/** The configuration from the arguments (without node and the script) and the environment; throws UsageError. */
export function configFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env, stack: StackInfo = detectStack(env)): DemoConfig {
  const flag = (name: string) => argv.includes(name);
  const value = (name: string): string | undefined => {
    const index = argv.indexOf(name);
    if (index === -1) return undefined;
    const next = argv[index + 1];
    if (next === undefined || next.startsWith('--')) throw new UsageError(`${name} needs a value`);
    return next;
  };
  for (const [index, arg] of argv.entries()) {
    const previous = argv[index - 1];
    const isValue = previous !== undefined && VALUE_OPTIONS.includes(previous);
    if (!isValue && !KNOWN.has(arg)) throw new UsageError(`unknown option ${arg}`);
  }
  const number = (name: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    if (raw === undefined || raw === '') return fallback;
    const parsed = Number(raw);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) throw new UsageError(`${name} must be a number from ${min} to ${max}, got ${raw}`);
    return parsed;
  };
  return {
    urls: {
      order: trimSlash(env.ORDER_URL || nativeUrls.order),
      inventory: trimSlash(env.INVENTORY_URL || nativeUrls.inventory),
      pricing: trimSlash(env.PRICING_URL || nativeUrls.pricing),
      collectorHealth: trimSlash(env.COLLECTOR_HEALTH_URL || nativeUrls.collectorHealth),
      prometheus: trimSlash(env.PROMETHEUS_URL || nativeUrls.prometheus),
      tempo: trimSlash(env.TEMPO_URL || nativeUrls.tempo),
      grafana: trimSlash(env.GRAFANA_URL || 'http://localhost:3000'),
    },
    rehearse: flag('--rehearse') || !process.stdin.isTTY,
    allowMissingTempo: flag('--allow-missing-tempo'),
    stack,
    slowRate: number('--slow-rate', value('--slow-rate') ?? env.DEMO_SLOW_RATE, 0.2, 0.01, 1),
    loadRate: number('--load-rate', value('--load-rate') ?? env.DEMO_LOAD_RATE, 10, 1, 200),
    builtinLoad: flag('--builtin-load'),
    stepTimeoutMs: number('--step-timeout', value('--step-timeout') ?? env.DEMO_STEP_TIMEOUT, 180, 10, 3600) * 1000,
    pollMs: 5000,
    spikeSeconds: 1,
  };
}
