import { HttpError, shortened } from '@spike-to-trace/shared/http.ts';

/**
 * The deliberate bug's switch. With probability `rate` a stock lookup takes the slow path, an
 * N+1 loop that costs about `delayMs` in total instead of about 100 ms. Changed at runtime through
 * PUT /admin/slow-path for the live demo.
 */
export interface SlowPathSettings {
  rate: number;
  delayMs: number;
}

const MAX_DELAY_MS = 60_000;

export function slowPathSettingsFromEnv(env = process.env): SlowPathSettings {
  return validateSlowPathSettings(
    {
      rate: env.SLOW_PATH_RATE === undefined || env.SLOW_PATH_RATE === '' ? 0.02 : Number(env.SLOW_PATH_RATE),
      delayMs: env.SLOW_PATH_DELAY_MS === undefined || env.SLOW_PATH_DELAY_MS === '' ? 3000 : Number(env.SLOW_PATH_DELAY_MS),
    },
    (message) => new Error(`invalid slow path environment: ${message} (SLOW_PATH_RATE, SLOW_PATH_DELAY_MS)`),
  );
}

export class SlowPath {
  #settings: SlowPathSettings;

  constructor(settings: SlowPathSettings) {
    this.#settings = { ...settings };
  }

  get settings(): SlowPathSettings {
    return { ...this.#settings };
  }

  /** Rolls the dice for one request. */
  triggers(): boolean {
    return this.#settings.rate > 0 && Math.random() < this.#settings.rate;
  }

  /**
   * Applies a PUT body: `rate`, `delayMs` or both; what is left out keeps its value. Anything else
   * (not an object, no field, an unknown field, a value out of range) is a 400 that changes nothing.
   */
  update(body: unknown): SlowPathSettings {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HttpError(400, `body must be a JSON object like {"rate": 0.5, "delayMs": 3000}, got ${described(body)}`);
    }
    const unknownKeys = Object.keys(body).filter((key) => key !== 'rate' && key !== 'delayMs');
    if (unknownKeys.length > 0) throw new HttpError(400, `unknown field(s): ${unknownKeys.join(', ')}; allowed: rate, delayMs`);
    const { rate, delayMs } = body as { rate?: unknown; delayMs?: unknown };
    if (rate === undefined && delayMs === undefined) throw new HttpError(400, 'give rate (0 to 1), delayMs (milliseconds) or both');
    this.#settings = validateSlowPathSettings(
      { rate: rate === undefined ? this.#settings.rate : rate, delayMs: delayMs === undefined ? this.#settings.delayMs : delayMs },
      (message) => new HttpError(400, message),
    );
    return this.settings;
  }
}

/** What a body that is no object was, for the error message; an array may nest too deep to print. */
function described(body: unknown): string {
  if (body === undefined) return 'no body';
  return Array.isArray(body) ? 'an array' : shortened(JSON.stringify(body));
}

function validateSlowPathSettings(input: { rate: unknown; delayMs: unknown }, fail: (message: string) => Error): SlowPathSettings {
  const { rate, delayMs } = input;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw fail(`rate must be a number from 0 to 1, got ${JSON.stringify(rate)}`);
  }
  if (typeof delayMs !== 'number' || !Number.isInteger(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) {
    throw fail(`delayMs must be an integer from 0 to ${MAX_DELAY_MS}, got ${JSON.stringify(delayMs)}`);
  }
  return { rate, delayMs };
}
