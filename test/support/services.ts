// Starts the real services as child processes for tests, each with in-memory span capture.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { repoRoot } from '../../native/tools.ts';
import type { RecordedSpan } from './in-memory-telemetry.ts';

export type { RecordedSpan };

export interface RunningService {
  name: string;
  url: string;
  process: ChildProcess;
  output: () => string;
  spans: () => Promise<RecordedSpan[]>;
  /** Collects the service's metrics now: the ExportMetricsServiceRequest its exporter would send. */
  metrics: () => Promise<Uint8Array>;
  stop: () => Promise<void>;
}

/** Starts services/<name>/src/main.ts on a free port and resolves once it listens. */
export async function startService(name: string, env: Record<string, string> = {}): Promise<RunningService> {
  const child = fork(`services/${name}/src/main.ts`, [], {
    cwd: repoRoot,
    execArgv: ['--import', './test/support/in-memory-telemetry.ts'],
    env: { ...process.env, PORT: '0', OTEL_SDK_DISABLED: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s:\n${output}`)), 20_000);
    const check = () => {
      const match = /listening on port (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening:\n${output}`));
    });
  });

  return {
    name,
    url: `http://127.0.0.1:${port}`,
    process: child,
    output: () => output,
    spans: async () => {
      const reply = once(child, 'message') as Promise<[{ spans: RecordedSpan[] }]>;
      child.send('spans');
      const [message] = await reply;
      return message.spans;
    },
    metrics: async () => {
      const reply = once(child, 'message') as Promise<[{ metrics: string }]>;
      child.send('metrics');
      const [message] = await reply;
      return Buffer.from(message.metrics, 'base64');
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
