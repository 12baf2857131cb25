// The TCP addresses a process listens on, from /proc (Linux): its socket inodes from /proc/<pid>/fd,
// matched against the LISTEN rows of /proc/net/tcp and tcp6; and who holds a port, for the native
// stack's refusal to start on a taken one (native/stack.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** "127.0.0.1:3200", "0.0.0.0:9095", "[0:0:0:0:0:0:0:0]:4317"… for every listening TCP socket of `pid`. */
export function listeningAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (socket) inodes.add(socket[1]!);
    } catch {} // closed meanwhile
  }
  const addresses: string[] = [];
  for (const family of ['tcp', 'tcp6'] as const) {
    for (const row of readFileSync(`/proc/${pid}/net/${family}`, 'utf8').trim().split('\n').slice(1)) {
      const [, local, , state, , , , , , inode] = row.trim().split(/\s+/);
      if (state === '0A' && inodes.has(inode!)) addresses.push(decodeAddress(local!, family));
    }
  }
  return addresses;
}

/** /proc/net/tcp writes addresses as little-endian hex words, then the port in hex. */
function decodeAddress(local: string, family: 'tcp' | 'tcp6'): string {
  const [hexAddress, hexPort] = local.split(':') as [string, string];
  const port = Number.parseInt(hexPort, 16);
  const words = hexAddress.match(/.{8}/g)!.map((word) => word.match(/../g)!.reverse().join(''));
  if (family === 'tcp')
    return `${words[0]!
      .match(/../g)!
      .map((byte) => Number.parseInt(byte, 16))
      .join('.')}:${port}`;
  const groups = words
    .join('')
    .match(/.{4}/g)!
    .map((group) => Number.parseInt(group, 16).toString(16));
  return `[${groups.join(':')}]:${port}`; // uncompressed: [0:0:0:0:0:0:0:1]:9090
}

/** Is the address reachable from this machine only? */
export const isLoopback = (address: string) => /^127\.|^\[0:0:0:0:0:0:0:1\]|^\[0:0:0:0:0:ffff:7f/.test(address);

/**
 * Who listens on a TCP port of this machine, for a message: "pid 4242 (prometheus --config.file=…)"
 * from /proc on Linux, else from lsof where it is installed; undefined when it cannot be read (the
 * owner is another user's process, or neither source exists).
 */
export function portHolder(port: number): string | undefined {
  const fromProc = holderFromProc(port);
  if (fromProc) return fromProc;
  const lsof = spawnSync('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-Fpc'], { encoding: 'utf8', timeout: 3000 });
  const pid = /^p(\d+)$/m.exec(lsof.stdout ?? '')?.[1];
  const command = /^c(.+)$/m.exec(lsof.stdout ?? '')?.[1];
  return pid ? `pid ${pid}${command ? ` (${command})` : ''}` : undefined;
}

function holderFromProc(port: number): string | undefined {
  if (!existsSync('/proc/net/tcp')) return undefined;
  const inodes = new Set<string>();
  for (const family of ['tcp', 'tcp6']) {
    for (const row of readFileSync(`/proc/net/${family}`, 'utf8').trim().split('\n').slice(1)) {
      const [, local, , state, , , , , , inode] = row.trim().split(/\s+/);
      if (state === '0A' && Number.parseInt(local!.split(':')[1]!, 16) === port) inodes.add(inode!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (socket && inodes.has(socket[1]!)) {
          const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
          return `pid ${pid} (${command.length > 120 ? `${command.slice(0, 120)}…` : command})`;
        }
      }
    } catch {} // gone meanwhile, or not ours to read
  }
  return undefined;
}
