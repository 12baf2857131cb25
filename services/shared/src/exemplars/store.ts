// The exemplar reservoir: for every histogram, attribute set and bucket it keeps the LATEST
// measurement offered (value, time, trace id, span id) until the exporter takes it.
//
// The record path (ExemplarInstrument.offer) is hot and stays cheap: no sorting, no JSON, no
// string building and no allocation once an attribute set is known. Attribute sets are found
// through a trie of Maps keyed by the attribute names and values in the order they are given
// (see TrieNode); the canonical form (sorted, typed) is only computed at export.
//
// Memory is bounded: at most `maxAttributeSets` attribute sets per instrument (default 2000, the
// SDK's default cardinality limit). Measurements of further attribute sets are not kept and are
// counted in `droppedMeasurements`. Like the SDK's cumulative storage, which folds further
// attribute sets into its overflow series, known attribute sets are kept for the life of the
// process (their exemplars only until exported), so a data point and its exemplars always agree.
import type { Attributes, SpanContext } from "@opentelemetry/api";
import { exemplarFilterFromEnv, type ExemplarFilter } from "./filter.ts";

export const DEFAULT_MAX_ATTRIBUTE_SETS = 2000;

const INVALID_TRACE_ID = "00000000000000000000000000000000";
const INVALID_SPAN_ID = "0000000000000000";
const SAMPLED_FLAG = 1; // TraceFlags.SAMPLED, as a plain number on the hot path

export interface ExemplarStoreOptions {
  /** Which measurements may become exemplars. Default: OTEL_METRICS_EXEMPLAR_FILTER, else always_on. */
  filter?: ExemplarFilter;
  /** Attribute sets kept per instrument. Default 2000. */
  maxAttributeSets?: number;
  /** Clock of the exemplar timestamps. Default MONOTONIC_CLOCK. */
  clock?: ExemplarClock;
}

/**
 * Where exemplar timestamps come from. `now()` is read on the record path; `unixOffsetMs()` turns
 * its readings into milliseconds since the epoch and is read once per export.
 */
export interface ExemplarClock {
  now(): number;
  unixOffsetMs(): number;
}

/**
 * performance.now(), converted to wall-clock time with the offset measured at each export, so
 * the timestamps agree with Date.now() however far the monotonic clock has drifted since the
 * process started (performance.timeOrigin + performance.now() does not). A caller that has just
 * read performance.now() (the request middleware, for the duration) passes that reading to
 * offer()/record() and saves a clock read, which is a good part of the record cost.
 */
export const MONOTONIC_CLOCK: ExemplarClock = Object.freeze({
  now: () => performance.now(),
  unixOffsetMs: () => Date.now() - performance.now(),
});

/** One exemplar taken for export. */
export interface PendingExemplar {
  /** The measurement, in the instrument's unit. */
  value: number;
  /** When it was recorded, in milliseconds since the epoch. */
  timeUnixMs: number;
  /** Index of the histogram bucket it falls in (upper bound inclusive, like the SDK and OTLP). */
  bucket: number;
  /** Lowercase hex trace id of the span it was recorded in, if any. */
  traceId: string | undefined;
  /** Lowercase hex span id of the span it was recorded in, if any. */
  spanId: string | undefined;
}

/** The exemplars taken for one attribute set, ordered by bucket. */
export interface ExemplarBatch {
  attributes: Attributes;
  exemplars: PendingExemplar[];
}

// ---- canonical attribute keys (export side) --------------------------------------------------

type Canonical = null | string | number | boolean | Canonical[] | { b: string } | { kv: [string, Canonical][] };

const byKey = (a: [string, Canonical], b: [string, Canonical]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

function canonicalValue(value: unknown): Canonical {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return value;
  }
  if (value instanceof Uint8Array) return { b: Buffer.from(value).toString("base64") };
  if (Array.isArray(value)) return value.map(canonicalValue);
  if (typeof value === "object") {
    return { kv: Object.entries(value).map(([k, v]): [string, Canonical] => [k, canonicalValue(v)]).sort(byKey) };
  }
  return String(value);
}

/** Canonical key of [name, value] pairs (plain JS attribute values): order-independent, type-sensitive. */
export function canonicalKeyFromEntries(entries: [string, unknown][]): string {
  return JSON.stringify(entries.map(([k, v]): [string, Canonical] => [k, canonicalValue(v)]).sort(byKey));
}

/** Canonical key of an attribute set; the exporter computes the same from decoded OTLP attributes. */
export function canonicalAttributesKey(attributes: Attributes): string {
  return canonicalKeyFromEntries(Object.entries(attributes));
}

// ---- buckets ---------------------------------------------------------------------------------

/** Index of the bucket `value` falls in: the first boundary >= value, else the overflow bucket. */
export function bucketIndex(boundaries: readonly number[], value: number): number {
  let lo = 0;
  let hi = boundaries.length - 1;
  let found = boundaries.length;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (boundaries[mid]! < value) {
      lo = mid + 1;
    } else {
      found = mid;
      hi = mid - 1;
    }
  }
  return found;
}

// ---- record side -----------------------------------------------------------------------------

/** The latest measurement of one bucket. `time` NaN: empty. One small object per bucket keeps an offer to a few cache lines. */
class Cell {
  value = 0;
  time = Number.NaN;
  traceId: string | undefined = undefined;
  spanId: string | undefined = undefined;
}

/** Latest-per-bucket cells of one attribute set. */
class Series {
  readonly attributes: Attributes;
  readonly cells: Cell[];
  pending = 0;
  private _canonicalKey: string | undefined;

  constructor(attributes: Attributes, buckets: number) {
    this.attributes = { ...attributes };
    this.cells = Array.from({ length: buckets }, () => new Cell());
  }

  get canonicalKey(): string {
    this._canonicalKey ??= canonicalAttributesKey(this.attributes);
    return this._canonicalKey;
  }
}

/**
 * One level per attribute, in the order the attributes are given. A node's children are keyed
 * by the value of the attribute `name` (the first name seen at that depth); another name at the
 * same depth (rare: attribute sets of another shape) gets a sibling node in `otherNames`. Names and
 * values that come from the same string objects (attribute names, route templates, method names)
 * reuse V8's cached string hashes, so the lookup costs one string comparison and one Map.get per
 * attribute. Attribute sets given in another key order end in another leaf; the export merges
 * them by canonical key.
 */
class TrieNode {
  name: string | undefined = undefined;
  children: Map<unknown, TrieNode> | undefined = undefined;
  otherNames: Map<string, TrieNode> | undefined = undefined;
  series: Series | undefined = undefined;
}

/** Map key of an attribute value: primitives as they are, arrays (rare) as a string. */
function trieKey(value: unknown): unknown {
  return typeof value === "object" && value !== null ? "\u0000" + JSON.stringify(value) : value;
}

/** The reservoir of one histogram instrument, aligned with its bucket boundaries. */
export class ExemplarInstrument {
  readonly name: string;
  readonly boundaries: readonly number[];
  /** Measurements not kept because `maxAttributeSets` attribute sets were already known. */
  droppedMeasurements = 0;

  private readonly _filter: ExemplarFilter;
  private readonly _maxAttributeSets: number;
  private readonly _clock: ExemplarClock;
  private readonly _buckets: number;
  private readonly _root = new TrieNode();
  private readonly _series: Series[] = [];
  private _pending = 0;

  constructor(name: string, boundaries: readonly number[], filter: ExemplarFilter, maxAttributeSets: number, clock: ExemplarClock) {
    this.name = name;
    this.boundaries = [...boundaries];
    this._buckets = boundaries.length + 1;
    this._filter = filter;
    this._maxAttributeSets = maxAttributeSets;
    this._clock = clock;
  }

  /** Attribute sets known (at most maxAttributeSets). */
  get size(): number {
    return this._series.length;
  }

  /** Exemplars waiting for export. */
  get pending(): number {
    return this._pending;
  }

  /**
   * Offers a measurement (hot path).
   * @param spanContext the span it was made in; null or undefined: none.
   * @param time when it was made, on the store's clock; default: now.
   */
  offer(value: number, attributes: Attributes, spanContext: SpanContext | null | undefined, time?: number): void {
    const filter = this._filter;
    if (filter === "always_off") return;
    // The SDK histogram ignores NaN and negative values; so does the reservoir.
    if (!(value >= 0)) return;

    let traceId: string | undefined;
    let spanId: string | undefined;
    let sampled = false;
    if (spanContext != null) {
      const t = spanContext.traceId;
      const s = spanContext.spanId;
      // Cheap validity check; the exporter checks the hex before encoding the ids.
      if (t.length === 32 && s.length === 16 && t !== INVALID_TRACE_ID && s !== INVALID_SPAN_ID) {
        traceId = t;
        spanId = s;
        sampled = (spanContext.traceFlags & SAMPLED_FLAG) === SAMPLED_FLAG;
      }
    }
    if (filter === "trace_based" && !sampled) return;

    const series = this._seriesOf(attributes);
    if (series === undefined) return;

    const at = time ?? this._clock.now();
    if (at !== at) return; // NaN marks an empty cell
    const cell = series.cells[bucketIndex(this.boundaries, value)]!;
    if (cell.time !== cell.time) {
      series.pending++;
      this._pending++;
    }
    cell.value = value;
    cell.time = at;
    cell.traceId = traceId;
    cell.spanId = spanId;
  }

  /** The series of an attribute set, created if the cap allows; undefined (and counted) if not. */
  private _seriesOf(attributes: Attributes): Series | undefined {
    let node = this._root;
    for (const name in attributes) {
      const value = trieKey(attributes[name]);
      let level = node;
      if (level.name !== name) {
        if (level.name === undefined) {
          level.name = name;
        } else {
          const sibling = level.otherNames?.get(name);
          if (sibling !== undefined) {
            level = sibling;
          } else {
            if (this._full()) return undefined;
            level.otherNames ??= new Map();
            const fresh = new TrieNode();
            fresh.name = name;
            level.otherNames.set(name, fresh);
            level = fresh;
          }
        }
      }
      const next = level.children?.get(value);
      if (next !== undefined) {
        node = next;
        continue;
      }
      // Unknown attribute set: grow the trie only if a new series may be created.
      if (this._full()) return undefined;
      level.children ??= new Map();
      const child = new TrieNode();
      level.children.set(value, child);
      node = child;
    }
    if (node.series === undefined) {
      if (this._full()) return undefined;
      node.series = new Series(attributes, this._buckets);
      this._series.push(node.series);
    }
    return node.series;
  }

  /** True (and the measurement counted as dropped) when no further attribute set may be added. */
  private _full(): boolean {
    if (this._series.length < this._maxAttributeSets) return false;
    this.droppedMeasurements++;
    return true;
  }

  /** Removes and returns the pending exemplars, grouped by canonical attribute key. */
  take(): Map<string, ExemplarBatch> {
    if (this._pending === 0) return new Map();
    const out = new Map<string, { attributes: Attributes; byBucket: (PendingExemplar | undefined)[] }>();
    const unixOffsetMs = this._clock.unixOffsetMs();
    for (const series of this._series) {
      if (series.pending === 0) continue;
      let entry: { attributes: Attributes; byBucket: (PendingExemplar | undefined)[] } | undefined;
      for (let b = 0; b < this._buckets; b++) {
        const cell = series.cells[b]!;
        if (Number.isNaN(cell.time)) continue;
        const timeUnixMs = cell.time + unixOffsetMs;
        if (entry === undefined) {
          entry = out.get(series.canonicalKey);
          if (entry === undefined) {
            entry = { attributes: series.attributes, byBucket: new Array(this._buckets) };
            out.set(series.canonicalKey, entry);
          }
        }
        const previous = entry.byBucket[b];
        // Two leaves can hold the same attribute set (different key order): keep the latest.
        if (previous === undefined || previous.timeUnixMs <= timeUnixMs) {
          entry.byBucket[b] = {
            value: cell.value,
            timeUnixMs,
            bucket: b,
            traceId: cell.traceId,
            spanId: cell.spanId,
          };
        }
        cell.time = Number.NaN;
        cell.traceId = undefined;
        cell.spanId = undefined;
        series.pending--;
        this._pending--;
      }
    }
    const result = new Map<string, ExemplarBatch>();
    for (const [canonical, entry] of out) {
      result.set(canonical, {
        attributes: entry.attributes,
        exemplars: entry.byBucket.filter((e): e is PendingExemplar => e !== undefined),
      });
    }
    return result;
  }
}

/**
 * Exemplars of the histograms of one MeterProvider, waiting for its exporter. Create one per
 * MeterProvider/exporter pair (two exporters sharing a store would each get only part of them);
 * getDefaultExemplarStore() is the process-wide one the services use.
 */
export class ExemplarStore {
  readonly filter: ExemplarFilter;
  readonly maxAttributeSets: number;
  /** Exemplars taken for export that matched no data point (e.g. one the SDK folded into its overflow series). */
  unmatchedExemplars = 0;

  readonly clock: ExemplarClock;
  private readonly _instruments = new Map<string, ExemplarInstrument>();

  constructor(options: ExemplarStoreOptions = {}) {
    this.filter = options.filter ?? exemplarFilterFromEnv();
    this.maxAttributeSets = options.maxAttributeSets ?? DEFAULT_MAX_ATTRIBUTE_SETS;
    this.clock = options.clock ?? MONOTONIC_CLOCK;
  }

  /**
   * The reservoir of the histogram `name` (the OTel instrument name, as exported), created on
   * first use. `boundaries` are the histogram's explicit bucket boundaries; the first registration
   * of a name wins.
   */
  instrument(name: string, boundaries: readonly number[]): ExemplarInstrument {
    let instrument = this._instruments.get(name);
    if (instrument === undefined) {
      instrument = new ExemplarInstrument(name, boundaries, this.filter, this.maxAttributeSets, this.clock);
      this._instruments.set(name, instrument);
    }
    return instrument;
  }

  /** The reservoir of an instrument, if registered. */
  get(name: string): ExemplarInstrument | undefined {
    return this._instruments.get(name);
  }

  /** True when exemplars wait for export (cheap: lets the exporter skip re-encoding). */
  hasPending(): boolean {
    for (const instrument of this._instruments.values()) {
      if (instrument.pending > 0) return true;
    }
    return false;
  }

  /** Attribute sets known, over all instruments. */
  get size(): number {
    let n = 0;
    for (const instrument of this._instruments.values()) n += instrument.size;
    return n;
  }

  /** Exemplars waiting for export, over all instruments. */
  get pending(): number {
    let n = 0;
    for (const instrument of this._instruments.values()) n += instrument.pending;
    return n;
  }

  /** Measurements dropped by the attribute-set cap, over all instruments. */
  get droppedMeasurements(): number {
    let n = 0;
    for (const instrument of this._instruments.values()) n += instrument.droppedMeasurements;
    return n;
  }
}

let defaultStore: ExemplarStore | undefined;

/**
 * The process-wide store shared by the request middleware and the telemetry setup (one
 * MeterProvider and one exporter per service process). Created on first use, which is when
 * OTEL_METRICS_EXEMPLAR_FILTER is read.
 */
export function getDefaultExemplarStore(): ExemplarStore {
  defaultStore ??= new ExemplarStore();
  return defaultStore;
}
