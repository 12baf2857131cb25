// The TCP addresses a process listens on, from /proc (Linux): its socket inodes from /proc/<pid>/fd,
// matched against the LISTEN rows of /proc/net/tcp and tcp6.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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
