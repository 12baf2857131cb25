// Where the natively built tools live (otelcol, prometheus, promtool, k6, otlp-decode, compose-check, tempo,
// and the Kubernetes toolchain of the chart's tests), resolved exactly as native/versions.sh does, and
// small helpers to run them.
//
// native/build-tools.sh (`npm run tools`) builds them into $TOOLS_DIR/bin. A missing tool makes
// the test that needs it fail with a message saying so, never skip silently: only Tempo may be
// absent, where no one gave its source and GitHub is out of reach (see tempoSkipReason).
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type ToolName =
  | 'otelcol'
  | 'prometheus'
  | 'promtool'
  | 'k6'
  | 'otlp-decode'
  | 'compose-check'
  | 'tempo'
  // The Helm chart's tests (docs/KUBERNETES.md).
  | 'helm'
  | 'k8s-validate'
  | 'etcd'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kubectl'
  | 'kwok';

/** Like sh's ${NAME:-default}: unset and empty both fall back. */
function envOr(name: string, fallback: () => string): string {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback() : value;
}

/** TOOLS_DIR as native/versions.sh computes it: ${TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spike-to-trace}. */
export function toolsDir(): string {
  return envOr('TOOLS_DIR', () =>
    path.join(
      envOr('XDG_CACHE_HOME', () => path.join(envOr('HOME', homedir), '.cache')),
      'spike-to-trace',
    ),
  );
}

/** Where a tool is (or would be): $TOOLS_DIR/bin/<name>. */
export function toolPath(name: ToolName): string {
  return path.join(toolsDir(), 'bin', name);
}

/** An existing regular file (links followed) that this process may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false; // follows the links in bin/
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The tool's path; throws (so the calling test fails) with what to do when it is not built. */
export function requireTool(name: ToolName): string {
  const file = toolPath(name);
  if (!isExecutableFile(file)) {
    throw new Error(`${name} is not built: ${file} is missing or not executable. Run \`npm run tools\` (native/build-tools.sh) first.`);
  }
  return file;
}

/** The tool's path, or undefined when it is not there (for Tempo, which may be unavailable). */
export function findTool(name: ToolName): string | undefined {
  const file = toolPath(name);
  return isExecutableFile(file) ? file : undefined;
}

/**
 * Why the tests that need Tempo must skip, or false when Tempo is built. build-tools.sh leaves the
 * reason in bin/tempo.unavailable only where neither TEMPO_SRC nor TEMPO_BIN was given and no clone
 * of the tag was possible; a Tempo missing for any other reason throws, so the test fails.
 */
export function tempoSkipReason(): string | false {
  if (findTool('tempo')) return false;
  const note = path.join(toolsDir(), 'bin', 'tempo.unavailable');
  if (existsSync(note)) return readFileSync(note, 'utf8').trim();
  throw new Error(`tempo is not built (${toolPath('tempo')} is missing) and build-tools.sh left no reason: run \`npm run tools\` and read its tempo line.`);
}

/** The pinned versions from .env (NAME=value lines; comments and blank lines ignored). */
export function pinnedVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const line of readFileSync(path.join(repoRoot, '.env'), 'utf8').split('\n')) {
    const match = /^\s*([A-Z][A-Z0-9_]*)=(.*?)\s*$/.exec(line);
    if (match) versions[match[1]!] = match[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return versions;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a binary to completion, optionally feeding stdin. Never throws on a non-zero exit: check `code`. */
export function run(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: Uint8Array | string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd ?? repoRoot, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${file} ${args.join(' ')}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : -1),
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString() + (signal ? `\n(killed by ${signal})` : ''),
      });
    });
    child.stdin.on('error', () => {}); // the tool may exit before reading all of its input
    child.stdin.end(options.input ?? '');
  });
}

/** A readable failure message for a run that was expected to succeed. */
export function describeRun(what: string, result: RunResult): string {
  return `${what} exited with ${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}
