import type { SeedProgress } from '../../src/gen/berth/v1/SeedProgress';

// Bytes and rate of a copy, reported at most every `everyMs`.
export class Progress {
  done = 0;
  total = 0;
  private readonly t0 = Date.now();
  private last = 0;

  constructor(private readonly everyMs = 500) {}

  due(now = Date.now()): boolean {
    if (now - this.last < this.everyMs) return false;
    this.last = now;
    return true;
  }

  seconds(now = Date.now()): number {
    return (now - this.t0) / 1000;
  }

  report(phase: string, now = Date.now()): SeedProgress {
    const s = this.seconds(now);
    return { phase, bytesDone: this.done, bytesTotal: Math.max(this.total, this.done), bytesPerSecond: s > 0 ? Math.round(this.done / s) : 0 };
  }
}

// xtrabackup_binlog_info: "binlog.000003<TAB>1234<TAB>0-1-7" (the GTID field is absent before
// the first transaction, and MariaDB may list several domains).
export function parseBinlogInfo(text: string): string {
  const line = text.split('\n').find((l) => l.trim().length > 0);
  if (!line) return '';
  const fields = line.trim().split(/\s+/);
  return fields.slice(2).join('').replace(/^'|'$/g, '');
}
