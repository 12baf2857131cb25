// Running the repository's docker-compose.yml for real, for test/compose-stack.test.ts: the docker and
// docker compose CLIs, the stand-in override where no registry is reachable, and what the engine
// says about the containers (users, ports, memory, start times, health).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pinnedVersions, repoRoot, run, type RunResult } from '../../native/tools.ts';

/** The compose project the test runs under (native/docker-engine.sh down removes its leftovers). */
export const PROJECT = 'spike-to-trace-test';
export const STANDIN_OVERRIDE = 'native/standins/compose.yaml';

/** Runs the docker CLI; throws with its output when it fails. */
export async function docker(args: string[], timeoutMs = 120_000): Promise<string> {
  const result = await run('docker', args, { timeoutMs });
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')} exited with ${result.code}:\n${result.stderr.slice(-3000)}${result.stdout.slice(-1000)}`);
  return result.stdout;
}

/** Why the compose test cannot run here (no engine, no compose plugin), or false when it can. */
export async function dockerMissing(): Promise<string | false> {
  const info = await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 20_000 }).catch(
    (error: unknown): RunResult => ({ code: 127, stdout: '', stderr: String(error) }),
  );
  if (info.code !== 0)
    return `no Docker engine answers (docker info: ${(info.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}); \`sh native/docker-engine.sh up\` sets one up, as .ci/run does`;
  const compose = await run('docker', ['compose', 'version'], { timeoutMs: 20_000 });
  if (compose.code !== 0) return 'the docker compose plugin is missing; `sh native/docker-engine.sh up` builds it';
  return false;
}

/** The stand-in images the override names, and whether all of them are present locally. */
export async function standinsPresent(): Promise<boolean> {
  const v = pinnedVersions();
  const images = [
    `spike-to-trace-standin/node:${v.NODE_VERSION}-bookworm-slim`,
    `spike-to-trace-standin/otelcol-contrib:${v.OTELCOL_VERSION}`,
    `spike-to-trace-standin/tempo:${v.TEMPO_VERSION}`,
    `spike-to-trace-standin/prometheus:v${v.PROMETHEUS_VERSION}`,
    `spike-to-trace-standin/k6:${v.K6_VERSION}`,
  ];
  if (!existsSync(path.join(repoRoot, STANDIN_OVERRIDE))) return false;
  const found = await run('docker', ['image', 'inspect', '--format', '{{.Id}}', ...images]);
  return found.code === 0;
}

/** The compose files of the scale-out profile, over the sampling profile's. */
export const SCALE_OUT_FILES = ['docker-compose.sampling.yml', 'docker-compose.scale-out.yml'];
const STANDIN_SCALE_OUT_OVERRIDE = 'native/standins/compose.scale-out.yaml';

/**
 * `docker compose` for the test project, with a profile's files over docker-compose.yml, and the
 * stand-in overrides when the stand-ins are used.
 */
export function composer(useStandins: boolean, profileFiles: string[] = []) {
  const standins = useStandins ? [STANDIN_OVERRIDE, ...(profileFiles.includes('docker-compose.scale-out.yml') ? [STANDIN_SCALE_OUT_OVERRIDE] : [])] : [];
  const files = ['docker-compose.yml', ...profileFiles, ...standins].flatMap((file) => ['-f', file]);
  return (args: string[], timeoutMs = 120_000) => docker(['compose', '-p', PROJECT, ...files, ...args], timeoutMs);
}

export interface ContainerFacts {
  id: string;
  service: string;
  startedAt: number;
  /** End of the first passing health check, when the container has a healthcheck. */
  firstHealthyAt?: number;
  /** The memory limit, bytes (0: none). */
  memoryLimit: number;
  /** Published ports as host ip:port. */
  published: string[];
  /** The image's size, bytes. */
  imageSize: number;
  image: string;
}

interface Inspected {
  Id: string;
  Image: string;
  Config: { Labels: Record<string, string> };
  State: { StartedAt: string; Health?: { Log?: Array<{ End: string; ExitCode: number }> } };
  HostConfig: { Memory: number };
  NetworkSettings: { Ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> };
}

/** What the engine says about every container of the test project. */
export async function containers(): Promise<ContainerFacts[]> {
  const ids = (await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${PROJECT}`])).split('\n').filter(Boolean);
  if (ids.length === 0) return [];
  const inspected = JSON.parse(await docker(['inspect', ...ids])) as Inspected[];
  const sizes = new Map<string, number>();
  for (const image of new Set(inspected.map((c) => c.Image))) {
    sizes.set(image, Number((await docker(['image', 'inspect', '--format', '{{.Size}}', image])).trim()));
  }
  return inspected.map((c) => {
    const healthy = c.State.Health?.Log?.find((entry) => entry.ExitCode === 0);
    return {
      id: c.Id,
      service: c.Config.Labels['com.docker.compose.service'] ?? '',
      startedAt: Date.parse(c.State.StartedAt),
      firstHealthyAt: healthy ? Date.parse(healthy.End) : undefined,
      memoryLimit: c.HostConfig.Memory,
      published: Object.values(c.NetworkSettings.Ports ?? {}).flatMap((bindings) => (bindings ?? []).map((b) => `${b.HostIp}:${b.HostPort}`)),
      imageSize: sizes.get(c.Image) ?? 0,
      image: c.Image,
    };
  });
}

/** The user ids of every process in a container, as the host sees them. */
export async function processUids(id: string): Promise<number[]> {
  // The engine needs a pid column to map the host's ps output to the container.
  const out = await docker(['top', id, '-eo', 'pid,uid']);
  return out
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/)[1])
    .filter((uid): uid is string => uid !== undefined)
    .map(Number);
}

/**
 * Samples `docker stats` every few seconds and keeps each container's peak memory use, so a test
 * can compare the peaks with the limits.
 */
export function startMemorySampler(intervalMs = 3000) {
  const peaks = new Map<string, number>();
  let stopped = false;
  const sample = async () => {
    const out = await docker(['stats', '--no-stream', '--format', '{{.Name}}\t{{.MemUsage}}']).catch(() => '');
    for (const line of out.split('\n').filter(Boolean)) {
      const [name = '', usage = ''] = line.split('\t');
      const bytes = parseBytes(usage.split('/')[0]!.trim());
      if (name.startsWith(`${PROJECT}-`)) peaks.set(name, Math.max(peaks.get(name) ?? 0, bytes));
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await sample();
      await sleep(intervalMs);
    }
  })();
  return {
    peaks,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, kB: 1000, MB: 1000 ** 2, GB: 1000 ** 3 };

/** "123.4MiB" as bytes. */
export function parseBytes(text: string): number {
  const match = /^([\d.]+)\s*([A-Za-z]+)$/.exec(text.trim());
  if (!match) return 0;
  return Number(match[1]) * (UNITS[match[2]!] ?? 1);
}
