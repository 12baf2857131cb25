// The data frame Grafana's server sends its frontend for a Prometheus exemplar query, built from
// the `data` array of Prometheus's /api/v1/query_exemplars, in the JSON wire form the frontend
// decodes (dataFrameFromJSON in @grafana/data).
//
// Facts taken from Grafana's Go source (package promlib, github.com/grafana/grafana):
//   pkg/promlib/converter/prom.go             one frame per series: fields Time and Value (the series
//     labels on Value), then one string field per exemplar label in order of appearance (blank where
//     an exemplar lacks it); meta.custom = {"resultType": "exemplar"}; timestamps cut to whole
//     milliseconds (time.UnixMilli(int64(seconds * 1000))); values parsed as float64.
//   pkg/promlib/querydata/response.go         processExemplars merges those frames into one through
//     exemplar.Framer, after a sampler.
//   pkg/promlib/querydata/exemplar/framer.go  the merged frame: name "exemplar", the query's refId,
//     the meta of the series frames, fields Time ([]time.Time) and Value ([]float64) without labels,
//     then one []string field per label name, series and exemplar labels alike, sorted by name
//     (labels.go, GetNames). A row takes a label from the exemplar where its series has that
//     exemplar label, else from the series labels, else "".
//   pkg/promlib/models/result.go              resultType "exemplar" is how both sides tell the frame.
// Read at these commits of the repository (framer.go 7dd51483, labels.go acfb6826, response.go
// 00aaabde, prom.go 08627cf7, result.go 3af0110a), not at a release tag (v13.2.0's tree was out of
// reach): compare them with v13.2.1, the pinned Grafana, when that is possible.
//
// Left out on purpose: the server's sampler (the standard-deviation sampler by default) thins dense
// exemplars per step; it drops dots and never changes a dot's labels or links, so every exemplar given
// here is kept, in input order. So is meta.executedQueryString, which the merged frame keeps only when
// one series answered and only the query inspector shows.
import type { PromExemplarSeries } from '../../native/stack-apis.ts';

/** A field of a data frame in Grafana's JSON wire form (plugin SDK data.Frame marshalled to JSON). */
export interface WireField {
  name: string;
  type: 'time' | 'number' | 'string';
  typeInfo: { frame: 'time.Time' | 'float64' | 'string' };
}

export interface WireFrame {
  schema: { name: string; refId: string; meta: { custom: { resultType: 'exemplar' } }; fields: WireField[] };
  data: { values: Array<Array<number | string>> };
}

/** Prometheus's exemplar answer as Grafana's server hands it to the frontend: one frame, or none. */
export function exemplarFrame(series: PromExemplarSeries[], refId: string): WireFrame | undefined {
  const rows = series.flatMap((s) => {
    // The exemplar labels of this series: its converter frame has a column for each of them.
    const exemplarLabelNames = new Set(s.exemplars.flatMap((e) => Object.keys(e.labels)));
    return s.exemplars.map((e) => ({
      timeMs: Math.trunc(e.timestamp * 1000),
      value: Number.parseFloat(e.value),
      label: (name: string) => (exemplarLabelNames.has(name) ? (e.labels[name] ?? '') : (s.seriesLabels[name] ?? '')),
    }));
  });
  // No exemplar at all: the framer adds no frame.
  if (rows.length === 0) return undefined;

  const names = new Set(series.flatMap((s) => [...Object.keys(s.seriesLabels), ...s.exemplars.flatMap((e) => Object.keys(e.labels))]));
  // Go's sort of strings compares bytes; label names are ASCII, where UTF-16 order is the same.
  const labelNames = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    schema: {
      name: 'exemplar',
      refId,
      meta: { custom: { resultType: 'exemplar' } },
      fields: [
        { name: 'Time', type: 'time', typeInfo: { frame: 'time.Time' } },
        { name: 'Value', type: 'number', typeInfo: { frame: 'float64' } },
        ...labelNames.map((name): WireField => ({ name, type: 'string', typeInfo: { frame: 'string' } })),
      ],
    },
    data: {
      values: [rows.map((r) => r.timeMs), rows.map((r) => r.value), ...labelNames.map((name) => rows.map((r) => r.label(name)))],
    },
  };
}
