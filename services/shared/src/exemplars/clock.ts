// When exemplars are stamped: performance.now() on the record path (cheap, monotonic), turned into
// wall-clock time with the offset measured at each export, so the timestamps agree with Date.now()
// however far the monotonic clock has drifted since the process started (performance.timeOrigin +
// performance.now() does not).

export interface ExemplarClock {
  /** Read on the record path. */
  now(): number;
  /** Milliseconds to add to now()'s readings for milliseconds since the epoch; read once per export. */
  unixOffsetMs(): number;
}

export const MONOTONIC_CLOCK: ExemplarClock = Object.freeze({
  now: () => performance.now(),
  unixOffsetMs: () => Date.now() - performance.now(),
});
