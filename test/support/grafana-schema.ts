// Type-checks Grafana dashboard JSON against @grafana/schema, the TypeScript types Grafana generates
// from the CUE schemas of its dashboard model, panel plugins and data source plugins, installed at
// the Grafana version pinned in .env. Grafana cannot run here: this check by reading is what proves
// a dashboard well formed. Used by test/grafana-schema.test.ts.
//
// Each dashboard becomes an in-memory TypeScript module (never written to disk) in which the JSON is
// an object literal checked with `satisfies`, so TypeScript applies excess-property checks (a
// misspelled or unknown key is an error) and literal types (an enum must hold one of its values).
// Where the package has a more precise type than the dashboard model, that part of the literal
// carries its own `satisfies`:
//
//   the dashboard                          Dashboard (package root; the classic JSON model)
//   every panel (rows' panels too)         Panel, or RowPanel for type "row"
//   panel.options                          Options of the panel plugin's panelcfg types
//   panel.fieldConfig.defaults.custom      FieldConfig of the panel plugin's panelcfg types
//   fieldConfig.overrides[].properties[]   the type of the field config property the id names
//   panel.targets[]                        the data source plugin's query type, else DataQuery
//
// A diagnostic is mapped back from its offset in the generated module to the JSON path it concerns.
//
// What the package (13.2.1) does not cover, so what stays unchecked beyond the dashboard model:
// - Query types for prometheus and tempo (nor loki): their targets are checked against the common
//   DataQuery only; expr, legendFormat, exemplar, range, instant, editorMode, query, limit, spss,
//   tableType are open keys (see DATASOURCE_QUERY_TYPES).
// - Custom field config of panel plugins without a FieldConfig type (nodeGraph and text here, which
//   have none to check), and the custom.* field overrides on them.
// - Free-form parts of the model itself: matcher options, transformation options, FieldConfig links.
// Keys the CUE schemas give a default (table's frameIndex: *0) are required in the generated types,
// so the JSON must spell them out, as Grafana does when it saves a dashboard. TypeScript reports one
// excess or missing property per checked object: fixing one may reveal the next.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../../native/tools.ts';

const require = createRequire(import.meta.url);

/** The installed @grafana/schema: its folder and package.json (version, exports map). */
export const schemaPackageDir = dirname(require.resolve('@grafana/schema/package.json'));

interface SchemaPackageJson {
  version: string;
  exports: Record<string, string | Record<string, string>>;
}

const schemaPackage = JSON.parse(readFileSync(join(schemaPackageDir, 'package.json'), 'utf8')) as SchemaPackageJson;

/** The version of the installed @grafana/schema. */
export function installedSchemaVersion(): string {
  return schemaPackage.version;
}

// ---------------------------------------------------------------------------------------------------
// What the package has types for
// ---------------------------------------------------------------------------------------------------

/**
 * Panel plugin ids whose folder in raw/composable is not the id itself. Every other folder is
 * matched by its name (timeseries, table, text, stat, gauge, ...).
 */
const PANEL_PLUGIN_IDS: Readonly<Record<string, string>> = {
  nodegraph: 'nodeGraph',
  statetimeline: 'state-timeline',
  statushistory: 'status-history',
  annotationslist: 'annolist',
  dashboardlist: 'dashlist',
};

/**
 * The query type of each data source plugin the package has one for, by plugin id. 13.2.1 ships
 * dataquery types only for azuremonitor, googlecloudmonitoring and cloudwatch (and cloudwatch has no
 * single query type, only one per query mode). There is none for prometheus, tempo or loki: their
 * targets are checked against the common DataQuery (refId, hide, queryType, datasource), their
 * plugin-specific keys (expr, legendFormat, exemplar, query, limit, tableType, ...) are left open.
 */
const DATASOURCE_QUERY_TYPES: Readonly<Record<string, { folder: string; typeName: string }>> = {
  'grafana-azure-monitor-datasource': { folder: 'azuremonitor', typeName: 'AzureMonitorQuery' },
  stackdriver: { folder: 'googlecloudmonitoring', typeName: 'CloudMonitoringQuery' },
};

/** The types of one panel plugin: the module to import and which of Options, FieldConfig it exports. */
export interface PanelPluginTypes {
  pluginId: string;
  specifier: string;
  alias: string;
  hasOptions: boolean;
  hasFieldConfig: boolean;
}

/** The query type of one data source plugin. */
export interface DatasourceQueryType {
  pluginId: string;
  specifier: string;
  alias: string;
  typeName: string;
}

/** The declaration file a subpath of the package's exports map resolves to (its "types" condition). */
function typesFileOf(exportKey: string): string {
  const entry = schemaPackage.exports[exportKey];
  const types = typeof entry === 'string' ? entry : entry?.types;
  if (!types) throw new Error(`@grafana/schema exports ${exportKey} without types`);
  return join(schemaPackageDir, types);
}

/** Every panel plugin with panelcfg types in the package, by panel plugin id, from its exports map. */
export function panelPluginTypes(): Map<string, PanelPluginTypes> {
  const out = new Map<string, PanelPluginTypes>();
  for (const key of Object.keys(schemaPackage.exports)) {
    const match = /^\.\/dist\/esm\/raw\/composable\/([^/]+)\/panelcfg\/x\/[A-Za-z0-9]+_types\.gen$/.exec(key);
    if (!match) continue;
    const folder = match[1]!;
    const declarations = readFileSync(typesFileOf(key), 'utf8');
    const pluginId = PANEL_PLUGIN_IDS[folder] ?? folder;
    out.set(pluginId, {
      pluginId,
      specifier: `@grafana/schema/${key.slice(2)}`,
      alias: `panel_${folder}`,
      hasOptions: /^export interface Options\b/m.test(declarations),
      hasFieldConfig: /^export interface FieldConfig\b/m.test(declarations),
    });
  }
  return out;
}

/** The data source query types of DATASOURCE_QUERY_TYPES, located through the exports map. */
export function datasourceQueryTypes(): Map<string, DatasourceQueryType> {
  const out = new Map<string, DatasourceQueryType>();
  for (const [pluginId, { folder, typeName }] of Object.entries(DATASOURCE_QUERY_TYPES)) {
    const key = Object.keys(schemaPackage.exports).find((k) => k.startsWith(`./dist/esm/raw/composable/${folder}/dataquery/x/`));
    if (!key) throw new Error(`@grafana/schema ${schemaPackage.version} has no dataquery types for ${folder}`);
    out.set(pluginId, { pluginId, specifier: `@grafana/schema/${key.slice(2)}`, alias: `query_${folder}`, typeName });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The generated module
// ---------------------------------------------------------------------------------------------------

/**
 * The helpers every generated module declares. Json<T> is a schema type as JSON can spell it: JSON
 * has no enums, so each string enum member becomes its string value (`${E.Table}` is "table"), as
 * Grafana reads it. Numeric enums stay: TypeScript accepts exactly their member values as numbers.
 * Everything else is mapped through unchanged, optional keys stay optional.
 */
const PRELUDE = `type Json<T> =
  0 extends 1 & T ? T
  : unknown extends T ? T
  : T extends string ? (string extends T ? T : \`\${T}\`)
  : T extends number | bigint | boolean | symbol | null | undefined ? T
  : T extends (...args: never[]) => unknown ? T
  : { [K in keyof T]: Json<T[K]> };
/** A target of a data source plugin the package has no query type for: the DataQuery keys are checked, the plugin's own keys are open. */
type Query = Json<DataQuery> & { [key: string]: unknown };
`;

export type Key = string | number;

interface Span {
  start: number;
  end: number;
  keys: Key[];
  path: string;
}

interface GeneratedModule {
  /** The dashboard JSON file, relative to the repository. */
  file: string;
  /** Where the module pretends to live: next to the JSON, so module resolution finds node_modules. */
  fileName: string;
  text: string;
  spans: Span[];
  /** How often each type was used with `satisfies`. */
  checks: Map<string, number>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A readable JSON path: panels[1] (id 2 "Title").options.legend, targets[0] (refId A), ... */
function displayPath(keys: readonly Key[], values: readonly unknown[]): string {
  let out = '';
  keys.forEach((key, i) => {
    if (typeof key === 'string') {
      out += /^[A-Za-z_$][\w$]*$/.test(key) ? `${out ? '.' : ''}${key}` : `[${JSON.stringify(key)}]`;
      return;
    }
    out += `[${key}]`;
    const value = values[i + 1];
    if (!isObject(value)) return;
    const parent = keys[i - 1];
    if (parent === 'panels') out += ` (id ${String(value.id)}${value.title ? ` ${JSON.stringify(value.title)}` : ''}, ${String(value.type)})`;
    else if (parent === 'targets' && value.refId !== undefined) out += ` (refId ${String(value.refId)})`;
    else if (parent === 'properties' && value.id !== undefined) out += ` (${String(value.id)})`;
  });
  return out || '(dashboard)';
}

/** The nearest enclosing panel of a path: its depth in keys, or -1. */
function enclosingPanelDepth(keys: readonly Key[]): number {
  for (let depth = keys.length; depth >= 2; depth--) {
    if (typeof keys[depth - 1] === 'number' && keys[depth - 2] === 'panels') return depth;
  }
  return -1;
}

class ModuleWriter {
  body = '';
  readonly spans: Span[] = [];
  readonly imports = new Map<string, string>(); // alias -> specifier
  readonly checks = new Map<string, number>(); // satisfies type -> count
  private readonly panelTypes: Map<string, PanelPluginTypes>;
  private readonly queryTypes: Map<string, DatasourceQueryType>;

  constructor(panelTypes: Map<string, PanelPluginTypes>, queryTypes: Map<string, DatasourceQueryType>) {
    this.panelTypes = panelTypes;
    this.queryTypes = queryTypes;
  }

  /** The type the value at this path must satisfy on its own, when there is one. */
  private schemaTypeAt(keys: readonly Key[], values: readonly unknown[], value: unknown): string | undefined {
    if (keys.length === 0) return 'Json<Dashboard>';
    if (typeof keys.at(-1) === 'number' && keys.at(-2) === 'panels') return isObject(value) && value.type === 'row' ? 'Json<RowPanel>' : 'Json<Panel>';
    const depth = enclosingPanelDepth(keys);
    if (depth < 0) return undefined;
    const panel = values[depth];
    if (!isObject(panel) || panel.type === 'row') return undefined;
    const rel = keys.slice(depth);
    // A panel type the package has no panelcfg types for keeps only the dashboard model's check
    // (Panel), where options and the custom field config are free-form records.
    const plugin = this.panelTypes.get(String(panel.type));
    const use = (types: PanelPluginTypes): string => {
      this.imports.set(types.alias, types.specifier);
      return types.alias;
    };
    if (rel.length === 1 && rel[0] === 'options') return plugin?.hasOptions ? `Json<${use(plugin)}.Options>` : undefined;
    if (rel.length === 3 && rel.join('.') === 'fieldConfig.defaults.custom') {
      return plugin?.hasFieldConfig ? `Json<${use(plugin)}.FieldConfig>` : undefined;
    }
    if (rel.length === 6 && rel[0] === 'fieldConfig' && rel[1] === 'overrides' && rel[3] === 'properties' && rel[5] === 'value') {
      const id = str((values.at(-2) as Record<string, unknown> | undefined)?.id); // the { id, value } property
      if (id === undefined) return undefined;
      // The id names a field config property: "custom.<key>" one of the plugin's FieldConfig, any
      // other one of the dashboard model's FieldConfig. A key that does not exist is an error there.
      let base: string;
      let path: string[];
      if (id.startsWith('custom.')) {
        if (!plugin?.hasFieldConfig) return undefined;
        base = `Json<${use(plugin)}.FieldConfig>`;
        path = id.slice('custom.'.length).split('.');
      } else {
        base = 'Json<FieldConfig>';
        path = id.split('.');
      }
      return path.reduce((type, key) => `NonNullable<${type}>[${JSON.stringify(key)}]`, base);
    }
    if (rel.length === 2 && rel[0] === 'targets' && typeof rel[1] === 'number') {
      const ref = isObject(value) && isObject(value.datasource) ? value.datasource : isObject(panel.datasource) ? panel.datasource : undefined;
      const query = this.queryTypes.get(str(ref?.type) ?? '');
      if (!query) return 'Query';
      this.imports.set(query.alias, query.specifier);
      return `Json<${query.alias}.${query.typeName}>`;
    }
    return undefined;
  }

  /** Writes value as a TypeScript literal, wrapped in `(... satisfies T)` where it has its own type. */
  write(value: unknown, keys: Key[] = [], values: unknown[] = [value], indent = ''): void {
    const start = this.body.length;
    const type = this.schemaTypeAt(keys, values, value);
    if (type) this.body += '(';
    const inner = `${indent}  `;
    if (Array.isArray(value)) {
      if (value.length === 0) this.body += '[]';
      else {
        this.body += '[\n';
        value.forEach((item, i) => {
          this.body += inner;
          this.write(item, [...keys, i], [...values, item], inner);
          this.body += i < value.length - 1 ? ',\n' : '\n';
        });
        this.body += `${indent}]`;
      }
    } else if (isObject(value)) {
      const entries = Object.entries(value);
      if (entries.length === 0) this.body += '{}';
      else {
        this.body += '{\n';
        entries.forEach(([key, item], i) => {
          // The span of a property covers its key, so an excess-property error maps to it.
          const propertyStart = this.body.length + inner.length;
          this.body += `${inner}${JSON.stringify(key)}: `;
          this.write(item, [...keys, key], [...values, item], inner);
          this.spans.push({ start: propertyStart, end: this.body.length, keys: [...keys, key], path: displayPath([...keys, key], [...values, item]) });
          this.body += i < entries.length - 1 ? ',\n' : '\n';
        });
        this.body += `${indent}}`;
      }
    } else {
      this.body += value === undefined ? 'undefined' : JSON.stringify(value);
    }
    if (type) {
      this.body += ` satisfies ${type})`;
      this.checks.set(type, (this.checks.get(type) ?? 0) + 1);
    }
    this.spans.push({ start, end: this.body.length, keys, path: displayPath(keys, values) });
  }
}

/** The generated module of one dashboard. */
function generateModule(
  file: string,
  dashboard: unknown,
  panelTypes: Map<string, PanelPluginTypes>,
  queryTypes: Map<string, DatasourceQueryType>,
): GeneratedModule {
  const writer = new ModuleWriter(panelTypes, queryTypes);
  writer.write(dashboard);
  const relativeFile = relative(repoRoot, file);
  const header =
    `// Generated in memory by test/support/grafana-schema.ts from ${relativeFile}; never written to disk.\n` +
    `import type { Dashboard, DataQuery, FieldConfig, Panel, RowPanel } from '@grafana/schema';\n` +
    [...writer.imports]
      .sort()
      .map(([alias, specifier]) => `import type * as ${alias} from '${specifier}';\n`)
      .join('') +
    PRELUDE +
    'export const dashboard = ';
  const shift = header.length;
  return {
    file: relativeFile,
    fileName: `${file}.schema-check.ts`,
    text: `${header}${writer.body};\n`,
    spans: writer.spans.map((span) => ({ ...span, start: span.start + shift, end: span.end + shift })),
    checks: writer.checks,
  };
}

// ---------------------------------------------------------------------------------------------------
// Compiling
// ---------------------------------------------------------------------------------------------------

/** The project's compiler options (tsconfig.json: strict, nodenext), for in-memory modules. */
function compilerOptions(): ts.CompilerOptions {
  const configFile = join(repoRoot, 'tsconfig.json');
  const { config, error } = ts.readConfigFile(configFile, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const { options, errors } = ts.convertCompilerOptionsFromJson((config as { compilerOptions?: unknown }).compilerOptions, repoRoot, configFile);
  if (errors.length > 0) throw new Error(errors.map((e) => ts.flattenDiagnosticMessageText(e.messageText, '\n')).join('\n'));
  // strict is the point, whatever tsconfig.json says one day; the generated modules need no @types.
  return { ...options, strict: true, noEmit: true, types: [] };
}

// Library and package declarations parsed once, shared by every program of this process.
const sourceFileCache = new Map<string, ts.SourceFile>();

/** Compiles in-memory modules (file name -> text) with the project's options; all diagnostics. */
function compileInMemory(modules: ReadonlyMap<string, string>, overrides: ts.CompilerOptions = {}): readonly ts.Diagnostic[] {
  const options = { ...compilerOptions(), ...overrides };
  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.fileExists = (fileName) => modules.has(fileName) || fileExists(fileName);
  host.readFile = (fileName) => modules.get(fileName) ?? readFile(fileName);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const text = modules.get(fileName);
    if (text !== undefined) return ts.createSourceFile(fileName, text, languageVersion, true, ts.ScriptKind.TS);
    let sourceFile = sourceFileCache.get(fileName);
    if (!sourceFile) {
      sourceFile = getSourceFile(fileName, languageVersion, onError, shouldCreate);
      if (sourceFile) sourceFileCache.set(fileName, sourceFile);
    }
    return sourceFile;
  };
  const program = ts.createProgram({ rootNames: [...modules.keys()], options, host });
  return ts.getPreEmitDiagnostics(program);
}

/** One diagnostic, located in the dashboard it concerns. */
export interface SchemaDiagnostic {
  /** The dashboard JSON file, relative to the repository (or the file TypeScript reported). */
  file: string;
  /** The JSON path as keys: ['panels', 1, 'options', 'legend']. */
  keys: Key[];
  /** The same, readable: panels[1] (id 2 "Title", timeseries).options.legend */
  path: string;
  code: number;
  message: string;
}

export interface DashboardInput {
  file: string;
  dashboard: unknown;
}

export interface SchemaCheckResult {
  diagnostics: SchemaDiagnostic[];
  /** Every type a part of some dashboard was checked against with `satisfies`, and how often. */
  checks: Map<string, number>;
}

/**
 * Type-checks dashboards against @grafana/schema: every diagnostic (none: each dashboard is what
 * the schema of the installed Grafana version describes), and what was checked against what.
 */
export function checkDashboardsAgainstSchema(dashboards: readonly DashboardInput[]): SchemaCheckResult {
  const panelTypes = panelPluginTypes();
  const queryTypes = datasourceQueryTypes();
  const modules = new Map(
    dashboards.map(({ file, dashboard }) => {
      const module = generateModule(file, dashboard, panelTypes, queryTypes);
      return [module.fileName, module] as const;
    }),
  );
  const checks = new Map<string, number>();
  for (const module of modules.values()) for (const [type, count] of module.checks) checks.set(type, (checks.get(type) ?? 0) + count);
  const diagnostics = compileInMemory(new Map([...modules].map(([fileName, module]) => [fileName, module.text])));
  return { diagnostics: diagnostics.map((diagnostic) => locate(diagnostic, modules)), checks };
}

function locate(diagnostic: ts.Diagnostic, modules: ReadonlyMap<string, GeneratedModule>): SchemaDiagnostic {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  const module = diagnostic.file ? modules.get(diagnostic.file.fileName) : undefined;
  if (!module || diagnostic.start === undefined) {
    return { file: diagnostic.file ? relative(repoRoot, diagnostic.file.fileName) : '(compiler)', keys: [], path: '', code: diagnostic.code, message };
  }
  // The innermost span around the offset: the deepest JSON node the diagnostic is about.
  let best: Span | undefined;
  for (const span of module.spans) {
    if (span.start <= diagnostic.start && diagnostic.start < span.end && (!best || span.end - span.start < best.end - best.start)) best = span;
  }
  return { file: module.file, keys: best?.keys ?? [], path: best?.path ?? '(generated header)', code: diagnostic.code, message };
}

/** Diagnostics as an assertion message: one block per diagnostic, file, JSON path, message. */
export function formatSchemaDiagnostics(diagnostics: readonly SchemaDiagnostic[]): string {
  return diagnostics.map(({ file, path, code, message }) => `${file} ${path}\n  TS${code}: ${message.replaceAll('\n', '\n    ')}`).join('\n');
}

/**
 * Compiles a module that names every type the check can use (each panel plugin's Options and
 * FieldConfig, each data source query type): the diagnostics, none when the package's exports map,
 * the plugin table and the type names above all agree with the installed package.
 */
export function checkSchemaTypesResolve(): string[] {
  const lines = [`import type { Dashboard, DataQuery, FieldConfig, Panel, RowPanel } from '@grafana/schema';`];
  const names = ['Dashboard', 'DataQuery', 'FieldConfig', 'Panel', 'RowPanel'];
  for (const plugin of panelPluginTypes().values()) {
    lines.push(`import type * as ${plugin.alias} from '${plugin.specifier}';`);
    if (plugin.hasOptions) names.push(`${plugin.alias}.Options`);
    if (plugin.hasFieldConfig) names.push(`${plugin.alias}.FieldConfig`);
  }
  for (const query of datasourceQueryTypes().values()) {
    lines.push(`import type * as ${query.alias} from '${query.specifier}';`);
    names.push(`${query.alias}.${query.typeName}`);
  }
  // unknown extends T holds only for any and unknown: a type that did not resolve.
  lines.push(...names.map((name, i) => `export type Resolved${i} = unknown extends ${name} ? 'unresolved: ${name}' : true;`));
  lines.push(`export const resolved: [${names.map((_, i) => `Resolved${i}`).join(', ')}] = [${names.map(() => 'true').join(', ')}];`);
  const fileName = join(repoRoot, 'test', 'support', 'grafana-schema-types.check.ts');
  return compileInMemory(new Map([[fileName, `${lines.join('\n')}\n`]]), { skipLibCheck: false }).map((diagnostic) =>
    ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'),
  );
}
