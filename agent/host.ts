import fs from 'node:fs/promises';
import os from 'node:os';

export interface DiskProbe {
  path: string;
  totalBytes: number;
  freeBytes: number;
}

export async function probeDisk(path: string): Promise<DiskProbe> {
  const s = await fs.statfs(path);
  // bavail, not bfree: what an unprivileged mysqld can actually write.
  return { path, totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
}

export function probeCpuMillis(): number {
  return os.availableParallelism() * 1000;
}

export function probeMemoryBytes(): number {
  return os.totalmem();
}

// Ports in [min, max] that something on this host is listening on (IPv4 or IPv6, any address).
// The scheduler must not hand them out even when it was not berth that took them.
export async function listeningPorts(min: number, max: number): Promise<number[]> {
  const found = new Set<number>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await fs.readFile(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] !== '0A') continue; // TCP_LISTEN
      const port = parseInt(cols[1]?.split(':')[1] ?? '', 16);
      if (port >= min && port <= max) found.add(port);
    }
  }
  return [...found].sort((a, b) => a - b);
}
