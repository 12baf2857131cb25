// Every Grafana dashboard of the repository type-checked against @grafana/schema at the Grafana
// version pinned in .env: the dashboard model, each panel plugin's options and custom field config,
// field overrides, and the targets (test/support/grafana-schema.ts says which type checks what).
// Grafana cannot run here, so this check by reading is what proves the dashboard JSON well formed.
// The negative control breaks a copy of a dashboard once per kind of check and requires each break
// to be reported where it is: the check can fail.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { allPanels, dashboardsDir, loadDashboards, type DashboardPanel, type LoadedDashboard } from './support/dashboards.ts';
import {
  checkDashboardsAgainstSchema,
  checkSchemaTypesResolve,
  formatSchemaDiagnostics,
  installedSchemaVersion,
  type Key,
  type SchemaDiagnostic,
} from './support/grafana-schema.ts';
import { pinnedVersions, repoRoot } from '../native/tools.ts';

const grafanaVersion = pinnedVersions().GRAFANA_VERSION;
const dashboards = loadDashboards();

test('@grafana/schema is installed at GRAFANA_VERSION from .env', () => {
  assert.ok(grafanaVersion, '.env pins GRAFANA_VERSION');
  assert.equal(installedSchemaVersion(), grafanaVersion, 'node_modules/@grafana/schema is the pinned Grafana version: run npm install');
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  assert.equal(manifest.devDependencies?.['@grafana/schema'], grafanaVersion, 'package.json pins @grafana/schema to GRAFANA_VERSION exactly');
});

test('every type the check uses resolves in the installed @grafana/schema', () => {
  // Compiled without skipLibCheck: an import the package's own declarations cannot resolve would
  // otherwise turn part of a type into any in silence, and the check would pass everything there.
  const diagnostics = checkSchemaTypesResolve();
  assert.deepEqual(diagnostics, []);
});

test('every dashboard JSON type-checks against @grafana/schema', (t) => {
  assert.ok(dashboards.length > 0, `dashboards in ${dashboardsDir}`);
  const { diagnostics, checks } = checkDashboardsAgainstSchema(dashboards);
  t.diagnostic(`checked with satisfies: ${[...checks].map(([type, count]) => `${type} x${count}`).join(', ')}`);
  // The check is not vacuous: each kind of check had something to check.
  const panels = dashboards.flatMap(({ dashboard }) => allPanels(dashboard));
  assert.equal(checks.get('Json<Dashboard>'), dashboards.length);
  assert.equal((checks.get('Json<Panel>') ?? 0) + (checks.get('Json<RowPanel>') ?? 0), panels.length);
  assert.ok(checks.has('Json<panel_timeseries.Options>'), 'timeseries options are checked');
  assert.ok(checks.has('Json<panel_timeseries.FieldConfig>'), 'timeseries custom field config is checked');
  const queryChecks = [...checks].filter(([type]) => type === 'Query' || type.startsWith('Json<query_')).reduce((n, [, count]) => n + count, 0);
  assert.equal(
    queryChecks,
    panels.reduce((n, panel) => n + (panel.targets?.length ?? 0), 0),
    'every target is checked',
  );
  assert.equal(
    diagnostics.length,
    0,
    `${diagnostics.length} diagnostic(s) against @grafana/schema ${installedSchemaVersion()} ` +
      `(TypeScript reports one excess or missing property per checked object: fixing one may reveal the next):\n` +
      formatSchemaDiagnostics(diagnostics),
  );
});

// ---------------------------------------------------------------------------------------------------
// Negative control
// ---------------------------------------------------------------------------------------------------

interface ExpectedDiagnostic {
  keys: Key[];
  code: number;
}

/** A deep copy of a dashboard with one break per kind of check, and where each must be reported. */
function brokenCopy(original: LoadedDashboard): { broken: LoadedDashboard; expected: ExpectedDiagnostic[] } {
  const dashboard = structuredClone(original.dashboard);
  const panels = dashboard.panels;
  const expected: ExpectedDiagnostic[] = [];
  type TimeseriesPanel = DashboardPanel & {
    options: { legend: Record<string, unknown>; tooltip: Record<string, unknown> };
    fieldConfig: { defaults: { custom: Record<string, unknown> }; overrides: { matcher: unknown; properties: { id: string; value?: unknown }[] }[] };
  };
  const at = panels.findIndex((panel) => panel.type === 'timeseries' && (panel.targets?.length ?? 0) > 0);
  assert.ok(at >= 0, 'the dashboard has a timeseries panel with targets');
  const timeseries = panels[at] as TimeseriesPanel;

  // The dashboard model: refresh is an interval string.
  dashboard.refresh = 10;
  expected.push({ keys: ['refresh'], code: 2322 });
  // Panel: gridPos is an object {h, w, x, y}.
  panels[0]!.gridPos = '0,0,24,5';
  expected.push({ keys: ['panels', 0, 'gridPos'], code: 2322 });
  // Timeseries options: a misspelled key in the legend (excess-property check).
  timeseries.options.legend.dispalyMode = 'table';
  delete timeseries.options.legend.displayMode;
  expected.push({ keys: ['panels', at, 'options', 'legend', 'dispalyMode'], code: 2353 });
  // Timeseries custom field config: a draw style the GraphDrawStyle enum does not have (literal types).
  timeseries.fieldConfig.defaults.custom.drawStyle = 'lines';
  expected.push({ keys: ['panels', at, 'fieldConfig', 'defaults', 'custom', 'drawStyle'], code: 2820 });
  // Field override: an id that names no custom field config property of the timeseries plugin.
  timeseries.fieldConfig.overrides = [{ matcher: { id: 'byName', options: 'x' }, properties: [{ id: 'custom.lineStyl', value: { fill: 'dash' } }] }];
  expected.push({ keys: ['panels', at, 'fieldConfig', 'overrides', 0, 'properties', 0, 'value'], code: 2339 });
  // Target: refId is required.
  delete timeseries.targets![0]!.refId;
  expected.push({ keys: ['panels', at, 'targets', 0], code: 1360 });
  // A panel in a collapsed row is checked too: here with a tooltip mode that does not exist.
  const nested = structuredClone(original.dashboard.panels[at]) as TimeseriesPanel;
  nested.id = 9999;
  nested.options.tooltip.mode = 'all';
  panels.push({ id: 9998, type: 'row', title: 'collapsed', collapsed: true, gridPos: { h: 1, w: 24, x: 0, y: 999 }, panels: [nested] });
  expected.push({ keys: ['panels', panels.length - 1, 'panels', 0, 'options', 'tooltip', 'mode'], code: 2322 });

  return { broken: { file: original.file, dashboard }, expected };
}

const byPath = (a: ExpectedDiagnostic, b: ExpectedDiagnostic) => JSON.stringify(a.keys).localeCompare(JSON.stringify(b.keys));
const sameDiagnostic = (a: SchemaDiagnostic, b: SchemaDiagnostic) => a.path === b.path && a.code === b.code && a.message === b.message;

test('negative control: a broken copy of the dashboard is reported, each break at its JSON path', () => {
  const original = dashboards.find(({ file }) => file.endsWith('spike-to-trace.json'));
  assert.ok(original, 'grafana/dashboards/spike-to-trace.json');
  const { broken, expected } = brokenCopy(original);
  const before = checkDashboardsAgainstSchema([original]).diagnostics;
  const after = checkDashboardsAgainstSchema([broken]).diagnostics;
  // What the dashboard itself may have aside, the breaks and nothing else are new.
  const added = after.filter((diagnostic) => !before.some((known) => sameDiagnostic(known, diagnostic)));
  const report = formatSchemaDiagnostics(added);
  assert.deepEqual(added.map(({ keys, code }) => ({ keys, code })).sort(byPath), expected.sort(byPath), `the diagnostics of the broken copy:\n${report}`);
  for (const diagnostic of added) assert.equal(diagnostic.file, 'grafana/dashboards/spike-to-trace.json');
  // The message names the offending key or value.
  assert.match(report, /'"dispalyMode"' does not exist/);
  assert.match(report, /Type '"lines"' is not assignable/);
  assert.match(report, /Property 'lineStyl' does not exist/);
  assert.match(report, /Property 'refId' is missing/);
});
