// Which measurements may become exemplars: the OTEL_METRICS_EXEMPLAR_FILTER setting of the
// OpenTelemetry specification (always_on | always_off | trace_based).
//
// The specification's default is trace_based. This demo defaults to always_on, so that every
// request can become an exemplar: with the demo's 100 % sampling the two behave the same for
// requests, and always_on also keeps exemplars for measurements made outside any span.
import { diag } from '@opentelemetry/api';

export type ExemplarFilter = 'always_on' | 'always_off' | 'trace_based';

export const EXEMPLAR_FILTERS: readonly ExemplarFilter[] = ['always_on', 'always_off', 'trace_based'];

/** The default of this demo (the specification's default is trace_based). */
export const DEFAULT_EXEMPLAR_FILTER: ExemplarFilter = 'always_on';

function isExemplarFilter(value: string): value is ExemplarFilter {
  return (EXEMPLAR_FILTERS as readonly string[]).includes(value);
}

/**
 * Reads OTEL_METRICS_EXEMPLAR_FILTER. Unset or empty gives the default; an unknown value logs a
 * warning through the OpenTelemetry diag logger (and `warn`, when given) and gives the default.
 */
export function exemplarFilterFromEnv(env: NodeJS.ProcessEnv = process.env, warn: (message: string) => void = (message) => diag.warn(message)): ExemplarFilter {
  const raw = env.OTEL_METRICS_EXEMPLAR_FILTER;
  if (raw === undefined) return DEFAULT_EXEMPLAR_FILTER;
  const value = raw.trim().toLowerCase();
  if (value === '') return DEFAULT_EXEMPLAR_FILTER;
  if (isExemplarFilter(value)) return value;
  warn(`OTEL_METRICS_EXEMPLAR_FILTER is '${raw}', but only ${EXEMPLAR_FILTERS.join(', ')} are allowed; ` + `using '${DEFAULT_EXEMPLAR_FILTER}'.`);
  return DEFAULT_EXEMPLAR_FILTER;
}
