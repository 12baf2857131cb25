// The histogram's buckets, as the SDK and OTLP count them: explicit upper bounds, each inclusive,
// and one overflow bucket above the last bound.

/** The SDK's default explicit bucket boundaries, used when the instrument gives no advice. */
export const SDK_DEFAULT_HISTOGRAM_BOUNDARIES: readonly number[] = Object.freeze([0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000]);

/** Boundaries as the SDK uses them: sorted, without infinities. */
export function normaliseBoundaries(boundaries: readonly number[]): number[] {
  return [...boundaries].sort((a, b) => a - b).filter((b) => Number.isFinite(b));
}

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
