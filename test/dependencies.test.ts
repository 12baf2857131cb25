// Every package.json declares what its code imports, and nothing else: the root package for the
// tests, the native toolchain, the demo and the load generator; each workspace for its src/. A
// package counts as used when the code imports it, when a script runs its binary, or when it is the
// @types package of something used.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../native/tools.ts';

interface PackageJson {
  name: string;
  workspaces?: string[];
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** Binaries the scripts run, by the package that provides them. */
const BINARIES: Record<string, string> = { tsc: 'typescript', biome: '@biomejs/biome' };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    if (statSync(file).isDirectory()) return sourceFiles(file);
    return /\.(ts|js|mjs)$/.test(name) ? [file] : [];
  });
}

/** The bare package names a source file imports (node: builtins, relative paths and k6 modules aside). */
function importedPackages(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const patterns = [
    /(?:^|\n)\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g, // import … from <specifier>, export … from <specifier>
    /(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g, // import <specifier>
    /\bimport\(\s*['"]([^'"]+)['"]/g, // import(<specifier>)
    // node --import <specifier> in a child process's arguments; the native stack's own entry is the
    // shared workspace's, there by the workspaces rather than declared by the root.
    /['"]--import['"],\s*['"]((?!@spike-to-trace\/)[^'"]+)['"]/g,
  ];
  const specifiers = patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1]!));
  return specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && s !== 'k6' && !s.startsWith('k6/'))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!));
}

function usedBy(pkg: PackageJson, roots: string[], scriptFiles: string[]): Set<string> {
  const used = new Set(roots.flatMap((dir) => sourceFiles(path.join(repoRoot, dir))).flatMap(importedPackages));
  const scripts = [...Object.values(pkg.scripts ?? {}), ...scriptFiles.map((file) => readFileSync(path.join(repoRoot, file), 'utf8'))].join('\n');
  for (const [binary, provider] of Object.entries(BINARIES)) if (new RegExp(`\\b${binary}\\b`).test(scripts)) used.add(provider);
  for (const name of [...used]) used.add(`@types/${name.replace(/^@([^/]+)\//, '$1__')}`);
  used.add('@types/node'); // the Node built-ins every package uses
  return used;
}

const root = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as PackageJson;
const packages: Array<{ dir: string; pkg: PackageJson; roots: string[]; scriptFiles: string[] }> = [
  { dir: '.', pkg: root, roots: ['test', 'native', 'demo', 'loadgen'], scriptFiles: ['native/test.sh'] },
  ...(root.workspaces ?? []).map((dir) => ({
    dir,
    pkg: JSON.parse(readFileSync(path.join(repoRoot, dir, 'package.json'), 'utf8')) as PackageJson,
    roots: [`${dir}/src`],
    scriptFiles: [],
  })),
];

for (const { dir, pkg, roots, scriptFiles } of packages) {
  test(`${dir}/package.json (${pkg.name}) declares exactly what its code uses`, () => {
    const used = usedBy(pkg, roots, scriptFiles);
    const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]);
    const typesOnly = (name: string) => name.startsWith('@types/');
    assert.deepEqual([...used].filter((name) => !typesOnly(name) && !declared.has(name)).sort(), [], 'imported or run, but not declared');
    assert.deepEqual([...declared].filter((name) => !used.has(name)).sort(), [], 'declared, but never imported or run');
  });
}

// npm ci refuses a lock file that lacks an optional dependency of any platform ("Missing: … from lock
// file"), and an npm install on one platform can leave the others out (npm/cli#4828): a clone on
// macOS or Windows, or a musl machine, would fail where this one passes.
test('package-lock.json holds every optional dependency of every platform', () => {
  const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { optionalDependencies?: Record<string, string> }>;
  };
  const missing: string[] = [];
  for (const [location, entry] of Object.entries(lock.packages)) {
    for (const name of Object.keys(entry.optionalDependencies ?? {})) {
      const nested = `${location}/node_modules/${name}`;
      if (!lock.packages[nested] && !lock.packages[`node_modules/${name}`]) missing.push(`${name} (optional dependency of ${location})`);
    }
  }
  assert.deepEqual(missing, []);
});
