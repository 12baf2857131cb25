// Follows exemplar links with Grafana's own frontend code, in a process of its own (jsdom and the
// shims below must not leak into the tests). test/support/grafana-exemplar-links.ts runs it:
//
//   node exemplar-links.ts <node_modules of install.ts>    stdin: JSON requests, stdout: JSON answers
//
// A request: { datasources (the provisioned list), exemplars (query_exemplars `data`), refId, query };
// stdin holds an array of them, answered in order in one process (loading the packages takes seconds,
// a request milliseconds), each with services set up afresh.
// The path, all of it Grafana's code but the two stand-ins marked below:
//   1. a PrometheusDatasource (@grafana/prometheus) built from the provisioned instance settings
//      runs the query as a dashboard panel with exemplars on does (target exemplar: true);
//   2. its request reaches a stand-in for Grafana's server, which records it and answers with the
//      exemplar frame that server would send (exemplar-frame.ts);
//   3. the data source decodes the answer and runs transformV2, which attaches the links of
//      jsonData.exemplarTraceIdDestinations, naming each destination through getDataSourceSrv();
//   4. per exemplar row, as the exemplar tooltip does (field.getLinks({ valueRowIndex }) on every
//      field with links), @grafana/data's getLinksSupplier builds each link and maps an internal one
//      to Explore (mapInternalLinkToExplore): the query and URL a click opens.
//
// The Grafana packages, jsdom and rxjs are loaded with createRequire from the tool cache, never
// imported: they are not installed beside the repository, so TypeScript has no types for them. The
// interfaces below declare the little of each that this file uses, as far as it uses it.
import { createRequire, registerHooks } from 'node:module';
import type { PromExemplarSeries } from '../../native/stack-apis.ts';
import { exemplarFrame, type WireFrame } from './exemplar-frame.ts';

// Loading Grafana's frontend packages reaches modules of its UI that only a bundler can load. Never
// run here, they are replaced:
//   *.css              stylesheets @grafana/ui imports (uPlot's, the data grid's, the slider's);
//   monaco-promql      the PromQL editor's grammar, an ES module with extensionless imports that
//                      Node cannot load; MonacoQueryField reads promLanguageDefinition.id at load time.
const STUBS: Record<string, string> = { css: 'module.exports = {};', promql: "module.exports = { promLanguageDefinition: { id: 'promql' } };" };
registerHooks({
  resolve(specifier, context, next) {
    if (specifier.endsWith('.css')) return { url: 'stub:css', format: 'commonjs', shortCircuit: true };
    if (specifier === 'monaco-promql') return { url: 'stub:promql', format: 'commonjs', shortCircuit: true };
    return next(specifier, context);
  },
  load(url, context, next) {
    if (url.startsWith('stub:')) return { format: 'commonjs', source: STUBS[url.slice(5)], shortCircuit: true };
    return next(url, context);
  },
});

// stdout carries the answer alone: Grafana's modules log through console.
globalThis.console = new console.Console(process.stderr, process.stderr);

/** A request on stdin. The data sources as provisioned (YAML keys), not Grafana's instance settings. */
interface HarnessRequest {
  datasources: ProvisionedDatasource[];
  exemplars: PromExemplarSeries[];
  refId?: string;
  query?: string;
}

interface ProvisionedDatasource {
  uid: string;
  name: string;
  type: string;
  url?: string;
  access?: string;
  editable?: boolean;
  isDefault?: boolean;
  jsonData?: Record<string, unknown>;
}

/** Grafana's DataSourceInstanceSettings, the keys the Prometheus data source reads. */
interface InstanceSettings {
  id: number;
  uid: string;
  name: string;
  type: string;
  url?: string;
  access: string;
  readOnly: boolean;
  isDefault: boolean;
  jsonData: Record<string, unknown>;
  meta: { id: string; name: string; type: 'datasource'; info: { logos: Record<string, string> } };
}

/** A data source reference as Grafana passes it around: a uid or name, or { uid, type }. */
type DataSourceRef = string | { uid?: string } | null | undefined;

interface DataFrame {
  name?: string;
  length: number;
  fields: Field[];
  meta?: { custom?: { resultType?: string }; dataTopic?: string };
}

interface Field {
  name: string;
  values: unknown[];
  config: { links?: DataLink[] };
}

/** A link of a field's config; internal ones open a data source in Explore. */
interface DataLink {
  title?: string;
  url?: string;
  internal?: { datasourceUid?: string; datasourceName?: string; query?: unknown };
}

/** A link built for one row (@grafana/data's LinkModel). */
interface LinkModel {
  title: string;
  href: string;
  interpolatedParams?: { query?: unknown };
}

/** What Grafana's interpolation receives: the row a link is built for, under __dataContext. */
interface ScopedVars {
  __dataContext?: { value?: { frame: DataFrame; field: Field; rowIndex?: number } };
}

type ReplaceVariables = (text: unknown, scopedVars?: ScopedVars) => unknown;

/** rxjs's Observable, as far as it is used: built here, consumed by lastValueFrom. */
interface Observable<T> {
  subscribe(observer: Partial<Subscriber<T>>): unknown;
}

interface Subscriber<T> {
  next(value: T): void;
  complete(): void;
}

interface TemplateSrv {
  replace(text: string): string;
  getVariables(): unknown[];
  containsTemplate(): boolean;
  updateTimeRange(): void;
  getAdhocFilters(): unknown[];
}

interface DataSourceSrv {
  getInstanceSettings(ref: DataSourceRef): InstanceSettings | undefined;
  getList(): InstanceSettings[];
  get(ref: DataSourceRef): Promise<never>;
  reload(): Promise<void>;
  registerRuntimeDataSource(): void;
}

/** The data source's request to Grafana's server (/api/ds/query) and the answer of the stand-in. */
interface FetchRequest {
  url: string;
  data: { queries: Array<Record<string, unknown>> };
}

interface FetchResponse {
  data: { results: Record<string, { status: number; frames: WireFrame[] }> };
  status: number;
  ok: boolean;
  url: string;
}

/** The panel's query (DataQueryRequest) and its answer (DataQueryResponse). */
interface QueryRequest {
  app: string;
  requestId: string;
  timezone: string;
  range: { from: unknown; to: unknown; raw: { from: unknown; to: unknown } };
  interval: string;
  intervalMs: number;
  maxDataPoints: number;
  scopedVars: Record<string, unknown>;
  startTime: number;
  targets: Array<Record<string, unknown>>;
}

interface QueryResponse {
  data: DataFrame[];
  error?: unknown;
}

interface Jsdom {
  JSDOM: new (html: string, options: { url: string }) => { window: Record<string, unknown> };
}

interface Rxjs {
  Observable: new <T>(subscribe: (subscriber: Subscriber<T>) => void) => Observable<T>;
  lastValueFrom<T>(source: Observable<T>): Promise<T>;
}

interface GrafanaRuntime {
  setDataSourceSrv(srv: DataSourceSrv): void;
  setTemplateSrv(srv: TemplateSrv): void;
  setBackendSrv(srv: { fetch(request: FetchRequest): Observable<FetchResponse> }): void;
}

interface GrafanaData {
  /** A moment-like DateTime; only passed on to the data source. */
  dateTime(epochMs: number): unknown;
  getFieldDisplayValuesProxy(options: { frame: DataFrame; rowIndex: number }): Record<string, unknown>;
  getLinksSupplier(
    frame: DataFrame,
    field: Field,
    fieldScopedVars: Record<string, unknown>,
    replaceVariables: ReplaceVariables,
  ): (options: { valueRowIndex: number }) => LinkModel[];
}

interface GrafanaPrometheus {
  PrometheusDatasource: new (
    settings: InstanceSettings,
    templateSrv: TemplateSrv,
  ) => {
    query(request: QueryRequest): Observable<QueryResponse>;
  };
}

// The packages live in the tool cache, not beside this file: resolve them from there. CommonJS
// builds throughout, so that every package shares one @grafana/runtime (its service singletons).
const load = createRequire(`${process.argv[2]}/`);
installBrowserGlobals(load('jsdom') as Jsdom);
const { Observable, lastValueFrom } = load('rxjs') as Rxjs;
const runtime = load('@grafana/runtime') as GrafanaRuntime;
const grafanaData = load('@grafana/data') as GrafanaData;
const { PrometheusDatasource } = load('@grafana/prometheus') as GrafanaPrometheus;

/** A browser for Grafana's modules: jsdom's window, document and the like as globals, plus shims. */
function installBrowserGlobals({ JSDOM }: Jsdom): void {
  // A URL gives the page an origin: without one jsdom's localStorage throws, and the packages use it.
  const { window } = new JSDOM('<!doctype html><html><body></body></html>', { url: 'http://localhost:3000/' });
  // @grafana/runtime's config reads this at load time (and warns without it): Grafana's defaults.
  window.grafanaBootData = { settings: {}, user: {}, navTree: [] };
  const define = (name: string, value: unknown) => Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  for (const name of Object.getOwnPropertyNames(window)) if (!(name in globalThis)) define(name, window[name]);
  // Node has Event classes of its own, which jsdom's dispatchEvent rejects: uPlot (in @grafana/ui)
  // dispatches a CustomEvent on window as it loads.
  for (const name of ['Event', 'EventTarget', 'CustomEvent']) define(name, window[name]);
  // jsdom has no matchMedia, which uPlot also calls as it loads (to follow the pixel ratio).
  const matchMedia = (media: string) => ({ matches: false, media, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {} });
  define('matchMedia', matchMedia);
  window.matchMedia = matchMedia;
}

/** Grafana's instance settings of a provisioned data source, as its /api/frontend/settings lists them. */
function instanceSettings(ds: ProvisionedDatasource, index: number): InstanceSettings {
  return {
    id: index + 1,
    uid: ds.uid,
    name: ds.name,
    type: ds.type,
    url: ds.url,
    access: ds.access ?? 'proxy',
    readOnly: ds.editable === false,
    isDefault: ds.isDefault === true,
    jsonData: ds.jsonData ?? {},
    meta: { id: ds.type, name: ds.type, type: 'datasource', info: { logos: {} } },
  };
}

/**
 * Stand-in for Grafana's data source service (it lives in the app, not in a package). Looks up as the
 * app's DatasourceSrv.getInstanceSettings does: by uid, then by name (then by numeric id, unused
 * here); anything else is unknown, and transformV2 then adds no link.
 */
function dataSourceSrv(settings: InstanceSettings[]): DataSourceSrv {
  const find = (ref: DataSourceRef) => {
    const key = typeof ref === 'string' ? ref : ref?.uid;
    return settings.find((s) => s.uid === key) ?? settings.find((s) => s.name === key);
  };
  return {
    getInstanceSettings: find,
    getList: () => settings,
    get: async (ref) => {
      throw new Error(`no data source instance for ${JSON.stringify(ref)} in this harness`);
    },
    reload: async () => {},
    registerRuntimeDataSource() {},
  };
}

/**
 * Stand-in for the app's template service, limited to what an exemplar link uses: ${__value.raw}
 * and ${__data.fields[...]} resolve as the app's macros do (the raw value of the row; a field's
 * display text through @grafana/data's getFieldDisplayValuesProxy, "" for a missing field). Any other
 * variable throws, so that a later Grafana whose link needs more fails here instead of passing.
 */
function replaceVariables(text: unknown, scopedVars?: ScopedVars): unknown {
  if (typeof text !== 'string' || !text.includes('$')) return text;
  const context = scopedVars?.__dataContext?.value;
  return text.replace(/\$\{([^}]+)\}|\$(\w+)/g, (match, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!; // the pattern's one alternative or the other matched
    if (context && context.rowIndex !== undefined) {
      if (name === '__value.raw') return String(context.field.values[context.rowIndex] ?? '');
      const field = /^__data\.fields\[(?:"([^"]+)"|'([^']+)'|(\d+))\]$/.exec(name);
      if (field) {
        const proxy = grafanaData.getFieldDisplayValuesProxy({ frame: context.frame, rowIndex: context.rowIndex });
        return String(proxy[(field[1] ?? field[2] ?? field[3])!] ?? '');
      }
    }
    throw new Error(`variable ${match} is not supported by this harness (text: ${text})`);
  });
}

/** Query text passes through as written: the server stand-in never runs it. */
const templateSrv: TemplateSrv = {
  replace: (text) => text,
  getVariables: () => [],
  containsTemplate: () => false,
  updateTimeRange() {},
  getAdhocFilters: () => [],
};

async function main(input: HarnessRequest) {
  const { datasources, exemplars, refId = 'A', query = 'http_request_duration_seconds_bucket' } = input;
  const settings = datasources.map(instanceSettings);
  runtime.setDataSourceSrv(dataSourceSrv(settings));
  runtime.setTemplateSrv(templateSrv);

  // Stand-in for Grafana's server: records the query request, answers with the exemplar frame.
  const frame = exemplarFrame(exemplars, refId);
  const sent: Array<{ url: string; queries: FetchRequest['data']['queries'] }> = [];
  runtime.setBackendSrv({
    fetch: (request) =>
      new Observable<FetchResponse>((subscriber) => {
        sent.push({ url: request.url, queries: request.data.queries });
        subscriber.next({ data: { results: { [refId]: { status: 200, frames: frame ? [frame] : [] } } }, status: 200, ok: true, url: request.url });
        subscriber.complete();
      }),
  });

  const prometheus = settings.find((s) => s.type === 'prometheus');
  if (!prometheus) throw new Error('no Prometheus data source is provisioned');
  const datasource = new PrometheusDatasource(prometheus, templateSrv);
  const times = exemplars.flatMap((s) => s.exemplars.map((e) => e.timestamp * 1000));
  const from = grafanaData.dateTime(Math.min(Date.now(), ...times) - 3_600_000);
  const to = grafanaData.dateTime(Math.max(Date.now(), ...times));
  const target = { refId, expr: query, range: true, instant: false, exemplar: true, datasource: { type: 'prometheus', uid: prometheus.uid } };
  const response = await lastValueFrom(
    datasource.query({
      app: 'dashboard',
      requestId: 'exemplar-links',
      timezone: 'browser',
      range: { from, to, raw: { from, to } },
      interval: '15s',
      intervalMs: 15_000,
      maxDataPoints: 1000,
      scopedVars: {},
      startTime: Date.now(),
      targets: [target],
    }),
  );
  if (response.error) throw new Error(`query failed: ${JSON.stringify(response.error)}`);

  const out = [];
  for (const df of response.data.filter((f) => f.meta?.custom?.resultType === 'exemplar')) {
    for (let row = 0; row < df.length; row++) {
      const links = [];
      for (const field of df.fields.filter((f) => f.config.links?.length)) {
        const models = grafanaData.getLinksSupplier(df, field, {}, replaceVariables)({ valueRowIndex: row });
        for (const [i, model] of models.entries()) links.push(describeLink(field, field.config.links![i]!, model));
      }
      const labels = Object.fromEntries(df.fields.slice(2).map((f) => [f.name, f.values[row]]));
      out.push({ time: df.fields[0]!.values[row], value: df.fields[1]!.values[row], labels, links });
    }
  }
  return { sent, frame: frame ?? null, dataTopic: response.data.find((f) => f.name === 'exemplar')?.meta?.dataTopic, exemplars: out };
}

/** The Explore state an internal link's URL carries in its `left` parameter. */
interface ExploreState {
  datasource?: string;
  queries: unknown[];
  panelsState?: unknown;
}

/** A link as the tooltip offers it; for an internal one, the Explore state its URL opens. */
function describeLink(field: Field, config: DataLink, model: LinkModel) {
  const link = { title: model.title, field: field.name, internal: Boolean(config.internal), url: model.href };
  if (!config.internal) return link;
  const left = new URL(model.href, 'http://localhost:3000').searchParams.get('left');
  if (left === null) throw new Error(`internal link ${model.href} carries no Explore state (no left parameter)`);
  const explore = JSON.parse(left) as ExploreState;
  return {
    ...link,
    datasourceUid: explore.datasource,
    datasourceName: config.internal.datasourceName,
    query: model.interpolatedParams?.query ?? explore.queries[0],
    panelsState: explore.panelsState,
  };
}

/** What a thrown value has to say: its stack where it has one (errors of jsdom's realm too). */
function stackOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'stack' in error ? error.stack : undefined;
}

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk);
try {
  const answers = [];
  for (const request of JSON.parse(Buffer.concat(chunks).toString()) as HarnessRequest[]) answers.push(await main(request));
  const answer = JSON.stringify(answers);
  // Exit once written rather than when the event loop drains: nothing the UI modules may schedule matters.
  process.stdout.write(answer, () => process.exit(0));
} catch (error) {
  process.stderr.write(`${stackOf(error) ?? error}\n`);
  process.exit(1);
}
