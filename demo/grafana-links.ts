// Grafana: the uids the demo relies on, and the links it prints (the dashboard over the demo's time
// range, Explore on the trace, Explore on the TraceQL search).
//
// The uids are read from the files Grafana is provisioned with, so they cannot drift:
//   the dashboard's uid        grafana/dashboards/spike-to-trace.json, field "uid"
//   the data sources' uids     grafana/provisioning/datasources/datasources.yaml, by type
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../native/tools.ts';
import type { DemoConfig } from './config.ts';

export const DASHBOARD_FILE = join(repoRoot, 'grafana', 'dashboards', 'spike-to-trace.json');
export const DATASOURCES_FILE = join(repoRoot, 'grafana', 'provisioning', 'datasources', 'datasources.yaml');
export const TRACEQL_SLOW_INVENTORY = '{ resource.service.name = "inventory" && duration > 1s }';

export interface GrafanaUids {
  dashboard: string;
  prometheus: string;
  tempo: string;
}

let uids: GrafanaUids | undefined;

/** The dashboard's and the two data sources' uids, from the provisioning files (read once). */
export function grafanaUids(): GrafanaUids {
  if (uids) return uids;
  const dashboard = (JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { uid?: unknown }).uid;
  if (typeof dashboard !== 'string' || dashboard === '') throw new Error(`${DASHBOARD_FILE} has no uid`);
  const { datasources = [] } = parse(readFileSync(DATASOURCES_FILE, 'utf8')) as { datasources?: Array<{ type?: string; uid?: string }> };
  const uidOf = (type: string): string => {
    const uid = datasources.find((datasource) => datasource.type === type)?.uid;
    if (!uid) throw new Error(`${DATASOURCES_FILE} has no ${type} data source with a uid`);
    return uid;
  };
  uids = { dashboard, prometheus: uidOf('prometheus'), tempo: uidOf('tempo') };
  return uids;
}

export interface GrafanaLinks {
  dashboard: string;
  exploreTrace: string;
  exploreTraceQL: string;
  traceql: string;
}

/** Explore in the current URL format: ?schemaVersion=1&panes={"<pane id>": {datasource, queries, range}}. */
export function exploreUrl(grafana: string, pane: { datasource: string; queries: Array<Record<string, unknown>>; from: number; to: number | 'now' }): string {
  const panes = {
    demo: {
      datasource: pane.datasource,
      queries: pane.queries,
      range: { from: String(pane.from), to: String(pane.to) },
    },
  };
  return `${grafana}/explore?schemaVersion=1&orgId=1&panes=${encodeURIComponent(JSON.stringify(panes))}`;
}

/** The dashboard over the demo's time range, Explore on the trace, Explore on the TraceQL search. */
export function grafanaLinks(config: DemoConfig, range: { fromMs: number; toMs: number | 'now' }, traceId: string): GrafanaLinks {
  const grafana = config.urls.grafana;
  const { dashboard, tempo: tempoUid } = grafanaUids();
  const tempo = { type: 'tempo', uid: tempoUid };
  return {
    dashboard: `${grafana}/d/${dashboard}?orgId=1&from=${range.fromMs}&to=${range.toMs}`,
    exploreTrace: exploreUrl(grafana, {
      datasource: tempoUid,
      queries: [{ refId: 'A', datasource: tempo, queryType: 'traceql', query: traceId }],
      from: range.fromMs,
      to: range.toMs,
    }),
    exploreTraceQL: exploreUrl(grafana, {
      datasource: tempoUid,
      queries: [{ refId: 'A', datasource: tempo, queryType: 'traceql', query: TRACEQL_SLOW_INVENTORY, limit: 20, tableType: 'traces' }],
      from: range.fromMs,
      to: range.toMs,
    }),
    traceql: TRACEQL_SLOW_INVENTORY,
  };
}
