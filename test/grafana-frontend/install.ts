// Installs this directory's npm packages (Grafana's frontend packages, React, jsdom) on demand, into
// the tool cache rather than the clone: $TOOLS_DIR/grafana-frontend/<hash of package-lock.json>/.
//
// The tree is some 450 packages that only one test needs, so it stays out of the root workspaces
// and of every fresh clone's `npm ci`. Keyed by the lock file's hash, an install is reused until the
// lock changes, and a second run costs one stat. `npm ci` runs in a temporary sibling directory that
// is renamed into place only once it has finished: an interrupted install is never taken as done.
//
//   node test/grafana-frontend/install.ts     prints the node_modules directory, installing if needed
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toolsDir } from '../../native/tools.ts';

export const packageDir = path.dirname(fileURLToPath(import.meta.url));

/** The files npm ci needs, copied into the install directory. .npmrc carries legacy-peer-deps. */
const INSTALL_FILES = ['package.json', 'package-lock.json', '.npmrc'];

/** Written last into a finished install; its absence marks a directory that is not one. */
const DONE_MARKER = '.install-complete';

/** $TOOLS_DIR/grafana-frontend/<first 16 hex digits of sha256(package-lock.json)>. */
export function installDir(): string {
  const hash = createHash('sha256')
    .update(readFileSync(path.join(packageDir, 'package-lock.json')))
    .digest('hex')
    .slice(0, 16);
  return path.join(toolsDir(), 'grafana-frontend', hash);
}

/** The node_modules directory holding the packages, installed first if this lock has none yet. */
export function ensureGrafanaFrontend(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): string {
  const dir = installDir();
  if (existsSync(path.join(dir, DONE_MARKER))) return path.join(dir, 'node_modules');
  removeAbandonedStaging(dir);

  const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(staging, { recursive: true });
  try {
    for (const file of INSTALL_FILES) copyFileSync(path.join(packageDir, file), path.join(staging, file));
    log(`grafana-frontend: npm ci into ${dir} (once per package-lock.json)`);
    const started = Date.now();
    // No lifecycle scripts: none of the locked packages has one, and none should start running. npm's
    // report goes to stderr, so that stdout stays the caller's (a test's, or this script's answer).
    execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: staging, stdio: ['ignore', 2, 2] });
    writeFileSync(path.join(staging, DONE_MARKER), `${new Date().toISOString()} npm ci took ${Date.now() - started} ms\n`);
    try {
      renameSync(staging, dir);
    } catch (error) {
      // Another process finished the same install first: its copy is as good as ours. Anything else
      // in the way was not made here (every install is renamed into place with its marker).
      if (!existsSync(path.join(dir, DONE_MARKER))) throw new Error(`cannot install into ${dir}: ${error} (remove it and run again)`);
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return path.join(dir, 'node_modules');
}

/**
 * Staging directories of installs killed midway, some 500 MB each. Judged by age, not by pid: the
 * cache may be shared with other machines or containers, whose processes are invisible here. An
 * install takes a minute or two.
 */
function removeAbandonedStaging(dir: string): void {
  const parent = path.dirname(dir);
  if (!existsSync(parent)) return;
  const prefix = `${path.basename(dir)}.tmp-`;
  for (const name of readdirSync(parent).filter((entry) => entry.startsWith(prefix))) {
    const staging = path.join(parent, name);
    if (Date.now() - statSync(staging).mtimeMs > 3_600_000) rmSync(staging, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(`${ensureGrafanaFrontend()}\n`);
