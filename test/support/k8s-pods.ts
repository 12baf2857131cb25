// A rendered workload's container as it would run, for the tools that check its configuration: its
// mounted ConfigMaps written out as the kubelet would project them (under a scratch folder standing
// for the container's root), its arguments pointing there, and its environment as the chart sets it.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KubeObject } from '../../native/chart.ts';

// biome-ignore lint/suspicious/noExplicitAny: a pod spec read field by field
export type Container = any;

/** The pod spec of a Deployment, StatefulSet or Job. */
// biome-ignore lint/suspicious/noExplicitAny: as Container
export function podSpecOf(workload: KubeObject): any {
  const spec = workload.spec?.template?.spec;
  if (!spec) throw new Error(`${workload.kind}/${workload.metadata.name} has no pod template`);
  return spec;
}

/** The workload's one container. */
export function containerOf(workload: KubeObject): Container {
  const containers = podSpecOf(workload).containers ?? [];
  if (containers.length !== 1) throw new Error(`${workload.kind}/${workload.metadata.name}: expected one container, found ${containers.length}`);
  return containers[0];
}

/** The name of the workload's first pod: <name>-0 for a StatefulSet, and a stand-in for the others. */
export const firstPodName = (workload: KubeObject): string => `${workload.metadata.name}-0`;

/**
 * The container's environment as the chart sets it (nothing of this process's), with fieldRef
 * metadata.name resolved to podName. Any other valueFrom throws: nothing the tools could resolve.
 */
export function containerEnv(container: Container, podName: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (typeof variable.value === 'string') env[variable.name] = variable.value;
    else if (variable.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[variable.name] = podName;
    else throw new Error(`env ${variable.name}: ${JSON.stringify(variable.valueFrom)} cannot be resolved outside a cluster`);
  }
  return env;
}

export interface Mounted {
  /** The scratch folder that stands for the container's /. */
  root: string;
  /** mountPath -> readOnly, for every volume mount of the container. */
  mounts: Map<string, boolean>;
  /** Every file written, relative to the container's / (e.g. /etc/prometheus/rules/latency.yml). */
  files: string[];
  /** A path of the container, inside root. */
  at(containerPath: string): string;
  /** The container's args with every path under a mount moved into root. */
  args: string[];
}

/**
 * Writes the files of the container's projected ConfigMap volumes under root as the kubelet lays them
 * out (keys at the mount path, or at items[].path), and makes the folders of its other volumes.
 */
export function mountContainer(workload: KubeObject, objects: KubeObject[], root: string): Mounted {
  const spec = podSpecOf(workload);
  const container = containerOf(workload);
  const at = (containerPath: string) => path.join(root, containerPath);
  const mounts = new Map<string, boolean>();
  const files: string[] = [];
  for (const mount of container.volumeMounts ?? []) {
    mounts.set(mount.mountPath, mount.readOnly === true);
    mkdirSync(at(mount.mountPath), { recursive: true });
    // biome-ignore lint/suspicious/noExplicitAny: a volume read field by field
    const volume = (spec.volumes ?? []).find((v: any) => v.name === mount.name);
    if (!volume) throw new Error(`${workload.metadata.name}: volumeMount ${mount.name} has no volume`);
    for (const source of volume.projected?.sources ?? []) {
      const name = source.configMap?.name;
      const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
      if (!configMap) throw new Error(`${workload.metadata.name}: ConfigMap ${name} is not rendered`);
      const data = configMap.data ?? {};
      const items: { key: string; path: string }[] = source.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      for (const item of items) {
        if (!(item.key in data)) throw new Error(`ConfigMap ${name} has no key ${item.key}`);
        const file = path.posix.join(mount.mountPath, item.path);
        mkdirSync(path.dirname(at(file)), { recursive: true });
        writeFileSync(at(file), data[item.key]!);
        files.push(file);
      }
    }
  }
  const byLength = [...mounts.keys()].sort((a, b) => b.length - a.length);
  const args = (container.args ?? []).map((arg: string) => {
    const mount = byLength.find((m) => arg.includes(`${m}/`));
    return mount ? arg.replace(`${mount}/`, `${at(mount)}/`) : arg;
  });
  return { root, mounts, files, at, args };
}
