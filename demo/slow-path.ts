// The deliberate bug's switch: PUT /admin/slow-path on inventory (services/inventory/src/slow-path.ts).
import type { SlowPathSettings } from '../services/inventory/src/slow-path.ts';
import type { DemoConfig } from './config.ts';
import { describeFetchError, StepError } from './output.ts';

export type { SlowPathSettings };

/**
 * PUT /admin/slow-path {"rate": rate} on inventory, with ADMIN_TOKEN as a bearer token when it is set
 * (inventory then requires it); returns what inventory now runs with.
 */
export async function setSlowPath(config: DemoConfig, rate: number): Promise<SlowPathSettings> {
  const url = `${config.urls.inventory}/admin/slow-path`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...(process.env.ADMIN_TOKEN ? { authorization: `Bearer ${process.env.ADMIN_TOKEN}` } : {}) },
      body: JSON.stringify({ rate }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (error) {
    throw new StepError(`could not reach ${url}: ${describeFetchError(error, 5000)}`);
  }
  const text = await response.text();
  if (!response.ok) throw new StepError(`PUT ${url} answered ${response.status}: ${text.slice(0, 200)}`);
  const settings = JSON.parse(text) as SlowPathSettings;
  if (settings.rate !== rate) throw new StepError(`PUT ${url} answered rate ${settings.rate}, expected ${rate}`);
  return settings;
}

/** The curl that turns the slow path off by hand, for when the demo could not. */
export const slowPathOffByHand = (config: DemoConfig) =>
  `curl -X PUT -H 'content-type: application/json'${process.env.ADMIN_TOKEN ? ' -H "authorization: Bearer $ADMIN_TOKEN"' : ''} -d '{"rate":0}' ${config.urls.inventory}/admin/slow-path`;
