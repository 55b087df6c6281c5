import type { Flavor } from '../../src/mysql/dialect';
import { onSocket } from '../session';

// Binary logs must never fill a disk on their own: expiry by age (my.cnf) does not bound their
// size, and MariaDB 10.11 has no max_binlog_total_size. The agent caps their total at a share
// of the disk reservation by purging the oldest files. A file a connected replica still reads
// is kept by the server itself (PURGE stops before it), so a migration's catch-up never loses
// its source.
export const BINLOG_SHARE = 0.25;

export interface BinlogFile {
  name: string;
  bytes: number;
}

// The file to purge up to (exclusive, as PURGE BINARY LOGS TO means), or undefined when the
// total is within the cap. The newest file (being written) is never purged.
export function purgeTarget(files: readonly BinlogFile[], capBytes: number): string | undefined {
  let total = files.reduce((n, f) => n + f.bytes, 0);
  let i = 0;
  while (total > capBytes && i < files.length - 1) total -= files[i++]!.bytes;
  return i > 0 ? files[i]!.name : undefined;
}

export async function enforceBinlogCap(socket: string, flavor: Flavor, diskBytes: number): Promise<string | undefined> {
  return onSocket(
    socket,
    flavor,
    async (s) => {
      const rows = await s.rows<{ Log_name: string; File_size: number | string }>(s.d.binaryLogs());
      const to = purgeTarget(rows.map((r) => ({ name: r.Log_name, bytes: Number(r.File_size) })), Math.floor(diskBytes * BINLOG_SHARE));
      if (to) await s.run([s.d.purgeBinaryLogsTo(to)]);
      return to;
    },
    { timeoutMs: 2000 },
  );
}
