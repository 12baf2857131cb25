// The exemplar reservoir of one histogram: for each attribute set and bucket it keeps the FIRST
// measurement of the current export interval (value, time, trace and span id) until the exporter
// takes it. Taking empties it, so no exemplar is ever sent twice: Prometheus rejects an exemplar
// that is not newer than the last one of its series.
//
// First-seen, not the latest or a random pick: the histogram marks the measured span as an exemplar
// while that span is still open (histogram.ts), so the choice must be final when it is made. A
// later measurement replacing it would leave a marked span whose exemplar is never exported.
//
// The record path (offer) is hot: no sorting, no JSON, no string building and no allocation once
// an attribute set is known (attribute-trie.ts). Memory is bounded: at most `maxAttributeSets`
// attribute sets (default 2000, the SDK's default cardinality limit); measurements of further sets
// are not kept and are counted in `droppedMeasurements`. Like the SDK's cumulative storage, known
// sets are kept for the life of the process (their exemplars only until taken).
import type { Attributes } from '@opentelemetry/api';
import { canonicalAttributesKey } from './attributes.ts';
import { AttributeTrie } from './attribute-trie.ts';
import { bucketIndex } from './buckets.ts';
import { MONOTONIC_CLOCK, type ExemplarClock } from './clock.ts';

export const DEFAULT_MAX_ATTRIBUTE_SETS = 2000;

/** One exemplar taken for export. */
export interface Exemplar {
  /** The measurement, in the instrument's unit. */
  value: number;
  /** When it was recorded, in milliseconds since the epoch. */
  timeUnixMs: number;
  /** Lowercase hex ids of the span it was recorded in, if any. */
  traceId: string | undefined;
  spanId: string | undefined;
}

/** The exemplars taken for one attribute set, ordered by bucket. */
export interface ExemplarBatch {
  attributes: Attributes;
  exemplars: Exemplar[];
}

/** A bucket's exemplar of this interval; `time` NaN while it has none. */
class Cell {
  value = 0;
  time = Number.NaN;
  traceId: string | undefined = undefined;
  spanId: string | undefined = undefined;
}

/** The cells of one attribute set. */
class Series {
  readonly attributes: Attributes;
  readonly canonicalKey: string;
  readonly cells: Cell[];
  pending = 0;

  constructor(attributes: Attributes, canonicalKey: string, buckets: number) {
    this.attributes = { ...attributes };
    this.canonicalKey = canonicalKey;
    this.cells = Array.from({ length: buckets }, () => new Cell());
  }
}

export class ExemplarReservoir {
  readonly boundaries: readonly number[];
  /** Measurements not kept because `maxAttributeSets` attribute sets were already known. */
  droppedMeasurements = 0;

  readonly #maxAttributeSets: number;
  readonly #clock: ExemplarClock;
  readonly #trie = new AttributeTrie<Series>();
  /** Every series by canonical key: the same set given in another key order shares its series. */
  readonly #series = new Map<string, Series>();
  #pending = 0;

  constructor(boundaries: readonly number[], maxAttributeSets = DEFAULT_MAX_ATTRIBUTE_SETS, clock: ExemplarClock = MONOTONIC_CLOCK) {
    this.boundaries = [...boundaries];
    this.#maxAttributeSets = maxAttributeSets;
    this.#clock = clock;
  }

  /** Attribute sets known (at most maxAttributeSets). */
  get size(): number {
    return this.#series.size;
  }

  /** Exemplars waiting for export. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Offers a measurement (hot path). Returns true when it becomes its bucket's exemplar of this
   * interval, which the next take() then hands to the exporter.
   */
  offer(value: number, attributes: Attributes, traceId: string | undefined, spanId: string | undefined): boolean {
    const series = this.#trie.lookup(attributes, () => this.#newSeries(attributes));
    if (series === undefined) {
      this.droppedMeasurements++;
      return false;
    }
    const cell = series.cells[bucketIndex(this.boundaries, value)]!;
    if (!Number.isNaN(cell.time)) return false; // the bucket has its exemplar for this interval
    cell.value = value;
    cell.time = this.#clock.now();
    cell.traceId = traceId;
    cell.spanId = spanId;
    series.pending++;
    this.#pending++;
    return true;
  }

  #newSeries(attributes: Attributes): Series | undefined {
    const key = canonicalAttributesKey(attributes);
    const known = this.#series.get(key);
    if (known !== undefined) return known;
    if (this.#series.size >= this.#maxAttributeSets) return undefined;
    const series = new Series(attributes, key, this.boundaries.length + 1);
    this.#series.set(key, series);
    return series;
  }

  /** Removes and returns this interval's exemplars, by canonical attribute key. */
  take(): Map<string, ExemplarBatch> {
    const out = new Map<string, ExemplarBatch>();
    if (this.#pending === 0) return out;
    const unixOffsetMs = this.#clock.unixOffsetMs();
    for (const series of this.#series.values()) {
      if (series.pending === 0) continue;
      const exemplars: Exemplar[] = [];
      for (const cell of series.cells) {
        if (Number.isNaN(cell.time)) continue;
        exemplars.push({ value: cell.value, timeUnixMs: cell.time + unixOffsetMs, traceId: cell.traceId, spanId: cell.spanId });
        cell.time = Number.NaN;
        cell.traceId = undefined;
        cell.spanId = undefined;
      }
      this.#pending -= series.pending;
      series.pending = 0;
      out.set(series.canonicalKey, { attributes: series.attributes, exemplars });
    }
    return out;
  }
}
