// The load profiles of loadgen/main.js, as plain data: no k6 import here, so that Node
// (loadgen/run.ts, demo/demo.ts and the tests) can read the same list k6 runs.
//
// One scenario runs per k6 run, chosen by the environment variable SCENARIO. The knobs are our own
// variables (RATE, DURATION, VUS, SPIKE_RATE): K6_VUS / K6_DURATION / --vus / --duration would
// replace the scenario by k6's default one, so do not use them with this script.

/** @typedef {Record<string, string | undefined>} Env */

/** Every scenario name with a one-line description (the order is the one usage messages print). */
export const SCENARIOS = Object.freeze({
  smoke: 'a few VUs for ~30 s (DURATION, VUS) with strict thresholds: does everything answer?',
  steady: 'constant arrival rate: RATE req/s (default 20) for DURATION (default 5m)',
  spike: 'RATE req/s (default 10), a jump to SPIKE_RATE (default 100) held for DURATION (default 1m), back to RATE',
  soak: 'constant arrival rate: RATE req/s (default 10) for DURATION (default 1h)',
  background: 'gentle constant arrival rate: RATE req/s (default 5) for DURATION (default 24h), what docker compose runs',
});

/** @type {readonly string[]} */
export const SCENARIO_NAMES = Object.freeze(Object.keys(SCENARIOS));

/** Share of requests sent to the error path (order ids above 9999, which pricing cannot price). */
export const DEFAULT_ERROR_SHARE = 0.02;

/**
 * Responses at least this slow count as the slow path (inventory's N+1, ~3 s by design), and are
 * kept out of the "normal path" latency trend. The normal path answers in 50..150 ms.
 */
export const SLOW_RESPONSE_MS = 2000;

/** @param {string} name */
export function isScenarioName(name) {
  return Object.hasOwn(SCENARIOS, name);
}

/** A usage line for an unknown scenario name. */
export function unknownScenarioMessage(name) {
  return `unknown scenario ${JSON.stringify(name)}; choose one of: ${SCENARIO_NAMES.join(', ')}`;
}

/**
 * A positive number from the environment, or the fallback when unset or empty. Anything else throws
 * with the variable's name, so a typo fails the run at once instead of running a different load.
 * @param {Env} env
 * @param {string} name
 * @param {number} fallback
 * @param {{ integer?: boolean, min?: number, max?: number }} [limits]
 */
export function numberFromEnv(env, name, fallback, limits = {}) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  const { integer = false, min = 0, max = Number.MAX_SAFE_INTEGER } = limits;
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new Error(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * A k6 duration ("30s", "5m", "1h30m", "1.5h") from the environment, or the fallback.
 * @param {Env} env
 * @param {string} name
 * @param {string} fallback
 */
export function durationFromEnv(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(raw)) {
    throw new Error(`${name} must be a duration like 30s, 5m or 1h30m, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

/**
 * SETUP_WAIT: seconds setup() waits for order's /healthz (default 20; 120 for background, which
 * compose starts together with the stack).
 * @param {Env} env
 * @param {string} scenario
 */
export function setupWaitFromEnv(env, scenario) {
  return numberFromEnv(env, 'SETUP_WAIT', scenario === 'background' ? 120 : 20, { min: 0, max: 3600 });
}

/**
 * VUs an arrival-rate scenario may need: rate × latency, with room for the 3 s slow path (at the
 * demo's 20 % that is rate × 0.6 VUs more). k6 starts the ones above preAllocatedVUs only if needed.
 */
function vusFor(rate, headroom = 4) {
  return { preAllocatedVUs: Math.max(5, Math.ceil(rate * 0.5)), maxVUs: Math.max(20, Math.ceil(rate * headroom)) };
}

/**
 * The k6 scenario object for a name.
 * @param {string} name
 * @param {Env} env
 */
export function scenarioFor(name, env) {
  switch (name) {
    case 'smoke':
      return {
        executor: 'constant-vus',
        vus: numberFromEnv(env, 'VUS', 3, { integer: true, min: 1, max: 50 }),
        duration: durationFromEnv(env, 'DURATION', '30s'),
        gracefulStop: '10s',
      };
    case 'steady':
    case 'soak':
    case 'background': {
      const defaults = { steady: [20, '5m'], soak: [10, '1h'], background: [5, '24h'] }[name];
      const rate = numberFromEnv(env, 'RATE', defaults[0], { min: 0.1, max: 1000 });
      // A fractional RATE (2.5/s) becomes a rate per 10 s, which k6 spreads just as evenly.
      const whole = Number.isInteger(rate);
      return {
        executor: 'constant-arrival-rate',
        rate: whole ? rate : Math.round(rate * 10),
        timeUnit: whole ? '1s' : '10s',
        duration: durationFromEnv(env, 'DURATION', defaults[1]),
        ...vusFor(rate),
        gracefulStop: '10s',
      };
    }
    case 'spike': {
      const base = numberFromEnv(env, 'RATE', 10, { min: 1, max: 1000, integer: true });
      const peak = numberFromEnv(env, 'SPIKE_RATE', 100, { min: 1, max: 2000, integer: true });
      const hold = durationFromEnv(env, 'DURATION', '1m');
      return {
        executor: 'ramping-arrival-rate',
        startRate: base,
        timeUnit: '1s',
        stages: [
          { target: base, duration: '30s' }, // baseline
          { target: peak, duration: '10s' }, // the spike arrives
          { target: peak, duration: hold }, // and stays
          { target: base, duration: '10s' }, // it goes
          { target: base, duration: '30s' }, // recovery at the baseline
        ],
        ...vusFor(peak, 2),
        gracefulStop: '10s',
      };
    }
    default:
      throw new Error(unknownScenarioMessage(name));
  }
}

/**
 * Thresholds that fail the run (k6 exits 99) when the services misbehave. They look at the valid
 * orders only (tag flow:valid): the error-path requests (flow:error_path) answer 502 by design and
 * are judged by their checks alone, and setup's readiness probes (flow:probe) by nothing.
 *   - http_req_failed{flow:valid}: valid orders that did not answer 200;
 *   - checks: status and body checks of both flows (an error path that stops answering 502 fails
 *     its check);
 *   - http_req_duration{flow:valid} p(90): robust against the slow path (~2 % at ~3 s by design,
 *     far below 10 %), so the deliberate bug alone does not fail a run, but a general slowdown does;
 *   - order_duration_normal p(95): latency of the valid orders that did NOT take the slow path
 *     (answered in under SLOW_RESPONSE_MS);
 *   - order_slow_responses: the share of valid orders that took the slow path; a 10 % ceiling
 *     leaves the designed 2 % alone and catches a slow path turned up (the live demo's 20 %);
 *   - order_refused: the share of orders the services refused as overloaded (503): above 1 %, the
 *     rate is more than this machine serves, and the summary says so by name;
 *   - order_failed_slowly: valid orders that ended in a gateway error or a timeout, which overload
 *     must never cause (the services refuse fast instead).
 * smoke is strict and aborts early when valid orders fail; spike tolerates queueing at the peak;
 * background never aborts (the traffic must go on in compose) and nobody reads its verdict.
 * @param {string} name
 */
export function thresholdsFor(name) {
  const strict = name === 'smoke';
  const normalP95 = name === 'spike' ? 1500 : 500;
  const validP90 = name === 'spike' ? 2000 : 750;
  return {
    'http_req_failed{flow:valid}': strict ? [{ threshold: 'rate<0.01', abortOnFail: true, delayAbortEval: '5s' }] : ['rate<0.02'],
    checks: [strict ? 'rate>0.99' : 'rate>0.98'],
    'http_req_duration{flow:valid}': [`p(90)<${validP90}`],
    order_duration_normal: [`p(95)<${normalP95}`],
    order_slow_responses: ['rate<0.10'],
    order_refused: ['rate<0.01'],
    order_failed_slowly: ['rate<0.01'],
  };
}
