// The exemplars of the histograms of one MeterProvider, waiting for its exporter: one reservoir per
// histogram, and the settings they share. telemetry.ts creates the services' store and hands it to
// their histograms and to the exporter; two exporters sharing a store would each get only part.
import { DEFAULT_MAX_ATTRIBUTE_SETS, ExemplarReservoir } from './reservoir.ts';
import { MONOTONIC_CLOCK, type ExemplarClock } from './clock.ts';
import { exemplarFilterFromEnv, type ExemplarFilter } from './filter.ts';

export interface ExemplarStoreOptions {
  /** Which measurements may become exemplars. Default: OTEL_METRICS_EXEMPLAR_FILTER, else always_on. */
  filter?: ExemplarFilter;
  /** Attribute sets kept per histogram. Default 2000. */
  maxAttributeSets?: number;
  /** Clock of the exemplar timestamps. Default MONOTONIC_CLOCK. */
  clock?: ExemplarClock;
}

export class ExemplarStore {
  readonly filter: ExemplarFilter;
  readonly maxAttributeSets: number;
  /** Exemplars taken for export that matched no data point (e.g. one the SDK folded into its overflow series). */
  unmatchedExemplars = 0;

  readonly #clock: ExemplarClock;
  readonly #reservoirs = new Map<string, ExemplarReservoir>();

  constructor(options: ExemplarStoreOptions = {}) {
    this.filter = options.filter ?? exemplarFilterFromEnv();
    this.maxAttributeSets = options.maxAttributeSets ?? DEFAULT_MAX_ATTRIBUTE_SETS;
    this.#clock = options.clock ?? MONOTONIC_CLOCK;
  }

  /**
   * The reservoir of the histogram `name` (its OpenTelemetry instrument name, as exported), created
   * on first use with the histogram's explicit bucket boundaries; the first registration of a name wins.
   */
  reservoir(name: string, boundaries: readonly number[]): ExemplarReservoir {
    let reservoir = this.#reservoirs.get(name);
    if (reservoir === undefined) {
      reservoir = new ExemplarReservoir(boundaries, this.maxAttributeSets, this.#clock);
      this.#reservoirs.set(name, reservoir);
    }
    return reservoir;
  }

  /** The reservoir of a histogram, if registered. */
  get(name: string): ExemplarReservoir | undefined {
    return this.#reservoirs.get(name);
  }

  /** Exemplars waiting for export, over all histograms (0 lets the exporter skip re-encoding). */
  get pending(): number {
    let n = 0;
    for (const reservoir of this.#reservoirs.values()) n += reservoir.pending;
    return n;
  }

  /** Attribute sets known, over all histograms. */
  get size(): number {
    let n = 0;
    for (const reservoir of this.#reservoirs.values()) n += reservoir.size;
    return n;
  }

  /** Measurements dropped by the attribute-set cap, over all histograms. */
  get droppedMeasurements(): number {
    let n = 0;
    for (const reservoir of this.#reservoirs.values()) n += reservoir.droppedMeasurements;
    return n;
  }
}
