import fs from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../src/errors';
import type { Logger } from '../src/log';
import type { Flavor } from '../src/mysql/dialect';
import { answers } from './session';
import type { DockerEngine } from './docker';
import type { InstanceStatus } from './instance/lifecycle';
import { Repeat } from './repeat';
import { enforceBinlogCap } from './instance/binlog';
import { layoutFor } from './instance/layout';

export interface InstanceUsage {
  usedDiskBytes: number;
  usedMemoryBytes: number;
  usedCpuMillis: number;
  mysqldUnresponsive: boolean;
  measuredAtMs: number;
}

export interface UsageConfig {
  // How often memory, CPU and the mysqld probe are refreshed.
  intervalMs: number;
  // How often each instance directory is walked for its size (a walk reads every inode).
  diskIntervalMs: number;
  pingTimeoutMs: number;
  // Probes in a row that must fail before mysqld is reported unresponsive: one slow answer on a
  // busy host is not an outage.
  failuresToReport: number;
}

export const DEFAULT_USAGE_CONFIG: UsageConfig = { intervalMs: 5000, diskIntervalMs: 30_000, pingTimeoutMs: 2000, failuresToReport: 2 };

// Measures what each instance really uses, in the background, so the heartbeat only reads a
// cache and stays cheap: data directory bytes (a du-like walk, at most every diskIntervalMs),
// memory and CPU from the Docker stats API (one-shot), and whether mysqld answers on its socket.
export class UsageProbe {
  private readonly cache = new Map<string, InstanceUsage>();
  private readonly diskAt = new Map<string, number>();
  private readonly cpuPrev = new Map<string, { totalNs: number; atMs: number }>();
  private readonly pingFailures = new Map<string, number>();
  private readonly repeat: Repeat;

  constructor(
    private readonly docker: Pick<DockerEngine, 'usage'>,
    private readonly list: () => Promise<InstanceStatus[]>,
    private readonly cfg: UsageConfig,
    private readonly log: Logger,
  ) {
    this.repeat = new Repeat(cfg.intervalMs, () => this.refresh(), (err) => this.log.warn({ err: errorMessage(err) }, 'measuring instance usage failed'));
  }

  start(): void {
    this.repeat.start();
  }

  stop(): void {
    this.repeat.stop();
  }

  get(id: string): InstanceUsage | undefined {
    return this.cache.get(id);
  }

  async refresh(): Promise<void> {
    const list = await this.list();
    const seen = new Set<string>();
    await Promise.all(
      list.map(async (i) => {
        seen.add(i.id);
        const prev = this.cache.get(i.id);
        const now = Date.now();
        let usedDiskBytes = prev?.usedDiskBytes ?? 0;
        if (!prev || now - (this.diskAt.get(i.id) ?? 0) >= this.cfg.diskIntervalMs) {
          usedDiskBytes = await dirBytes(layoutFor(i.diskPath, i.id).root);
          this.diskAt.set(i.id, now);
          if (i.state === 'running' && i.diskBytes) await this.capBinlogs(i, i.diskBytes);
        }
        let usedMemoryBytes = 0;
        let usedCpuMillis = 0;
        let mysqldUnresponsive = false;
        if (i.state === 'running') {
          const s = await this.stats(i.id, i.containerId, now);
          usedMemoryBytes = s.memoryBytes;
          usedCpuMillis = s.cpuMillis;
          const ok = await answers(layoutFor(i.diskPath, i.id).socket, this.cfg.pingTimeoutMs);
          const failures = ok ? 0 : (this.pingFailures.get(i.id) ?? 0) + 1;
          this.pingFailures.set(i.id, failures);
          mysqldUnresponsive = failures >= this.cfg.failuresToReport;
        } else {
          this.pingFailures.delete(i.id);
        }
        this.cache.set(i.id, { usedDiskBytes, usedMemoryBytes, usedCpuMillis, mysqldUnresponsive, measuredAtMs: now });
      }),
    );
    for (const id of this.cache.keys()) {
      if (!seen.has(id)) {
        this.cache.delete(id);
        this.diskAt.delete(id);
        this.cpuPrev.delete(id);
        this.pingFailures.delete(id);
      }
    }
  }

  private async capBinlogs(i: InstanceStatus, diskBytes: number): Promise<void> {
    const to = await enforceBinlogCap(layoutFor(i.diskPath, i.id).socket, i.flavor as Flavor, diskBytes).catch((err: Error) => void this.log.warn({ instance: i.id, err: err.message }, 'binlog cap check failed'));
    if (to) this.log.info({ instance: i.id, purgedTo: to }, 'binary logs over their share of the disk reservation: oldest purged');
  }

  private async stats(id: string, containerId: string, now: number): Promise<{ memoryBytes: number; cpuMillis: number }> {
    try {
      const { memoryBytes, cpuTotalNs: totalNs } = await this.docker.usage(containerId);
      const prev = this.cpuPrev.get(id);
      this.cpuPrev.set(id, { totalNs, atMs: now });
      const cpuMillis = prev && now > prev.atMs && totalNs >= prev.totalNs ? Math.round((totalNs - prev.totalNs) / 1e6 / (now - prev.atMs) * 1000) : 0;
      return { memoryBytes, cpuMillis };
    } catch {
      return { memoryBytes: 0, cpuMillis: 0 };
    }
  }
}

// Bytes allocated on disk under dir (blocks, as du counts them: a sparse file counts what it holds).
export async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        stack.push(p);
      } else if (e.isFile()) {
        try {
          total += (await fs.lstat(p)).blocks * 512;
        } catch {
          // removed while we walked
        }
      }
    }
  }
  return total;
}
