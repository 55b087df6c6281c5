import { Command } from 'commander';
import type { Backup__Output } from '../gen/berth/v1/Backup';
import type { BinlogArchive__Output } from '../gen/berth/v1/BinlogArchive';
import type { Operation__Output } from '../gen/berth/v1/Operation';
import type { PortalClient } from '../gen/berth/v1/Portal';
import type { AsyncClient } from '../rpc';
import { collect, cpuOpt, sizeOpt } from '../cliopts';
import { formatSize } from '../units';
import { addBackupPolicyCommands } from './backup-policy';

interface Out {
  json: () => boolean;
  print: (v: unknown) => void;
  table: (head: string[], rows: (string | number)[][]) => void;
  // Follows an operation with its progress until it ends (or the timeout passes).
  follow: (opId: string, timeoutMs: number) => Promise<Operation__Output>;
  opFailed: (op: Operation__Output) => boolean;
}

// "50M" per second, or a plain number of bytes per second.
function rateOpt(v: string): number {
  return sizeOpt(v);
}

// `berthctl backup ...` and `berthctl restore ...` (docs/backup.md).
export function addBackupCommands(program: Command, portal: () => AsyncClient<PortalClient>, out: Out): void {
  const backup = program.command('backup').description('full physical backups in the manager\'s backup repository');

  async function finish(op: Operation__Output, o: { wait?: boolean; timeout: number }, what: string): Promise<Operation__Output> {
    if (o.wait) op = await out.follow(op.id, o.timeout * 1000);
    if (!out.json()) process.stdout.write(`operation ${op.id} (${what}): ${op.state}${op.error ? `: ${op.error}` : ''}${o.wait ? '' : `; berthctl operation wait ${op.id}`}\n`);
    if (o.wait) out.opFailed(op);
    return op;
  }

  // An incremental's method reads "mariabackup+<parent>".
  const row = (b: Backup__Output) => [b.id, b.instance, b.flavor, b.status, b.parent ? `${b.method}+${b.parent}` : b.method, b.sourceInstance ? `${b.sourceInstance}@${b.sourceNode}` : '', formatSize(b.storedBytes), b.gtid.length > 40 ? `${b.gtid.slice(0, 37)}...` : b.gtid, b.createdAt];
  const head = ['ID', 'INSTANCE', 'FLAVOR', 'STATUS', 'METHOD', 'SOURCE', 'STORED', 'GTID', 'CREATED'];

  backup
    .command('create <instance>')
    .description('take a full physical backup (of a healthy replica when the instance is in a cluster), or an incremental one')
    .option('--rate <bytes/s>', "bandwidth limit, e.g. 50M (default: the manager's --backup-rate)", rateOpt)
    .option('--allow-primary', 'back up the primary of a cluster that has no healthy replica')
    .option('--incremental', 'MariaDB: only the pages changed since the newest complete backup (read from the same server)')
    .option('--wait', 'follow the backup until it ends, with its progress')
    .option('--timeout <seconds>', 'how long --wait waits', Number, 6 * 3600)
    .action(async (instance: string, o: { rate?: number; allowPrimary?: boolean; incremental?: boolean; wait?: boolean; timeout: number }) => {
      const res = await portal().createBackup({ instance, rateBytesPerSecond: o.rate ?? 0, allowPrimary: !!o.allowPrimary, incremental: !!o.incremental });
      if (!out.json()) process.stdout.write(`backup ${res.backup!.id} of ${res.backup!.instance} started${res.backup!.parent ? ` (incremental on ${res.backup!.parent})` : ''}\n`);
      const op = await finish(res.operation!, o, 'backup');
      if (out.json()) out.print({ backup: o.wait ? await portal().getBackup({ id: res.backup!.id }) : res.backup, operation: op });
    });

  backup
    .command('list [instance]')
    .description('backups in the catalog, newest first')
    .option('--limit <n>', 'at most this many', Number, 100)
    .action(async (instance: string | undefined, o: { limit: number }) => {
      const res = await portal().listBackups({ instance: instance ?? '', limit: o.limit });
      if (out.json()) out.print(res.backups);
      else out.table(head, res.backups.map(row));
    });

  backup
    .command('get <id>')
    .description('one backup')
    .action(async (id: string) => {
      const b = await portal().getBackup({ id });
      if (out.json()) out.print(b);
      else {
        out.table(head, [row(b)]);
        if (b.message) process.stdout.write(`${b.message}\n`);
      }
    });

  backup
    .command('delete <id>')
    .description("remove a backup's objects from the repository, then its catalog entry")
    .action(async (id: string) => {
      const b = await portal().deleteBackup({ id });
      if (out.json()) out.print(b);
      else process.stdout.write(`backup ${b.id} of ${b.instance} deleted\n`);
    });

  backup
    .command('sync')
    .description('rebuild the catalog from the repository alone (a new manager, a lost store)')
    .action(async () => {
      const r = await portal().syncBackupCatalog({});
      if (out.json()) out.print(r);
      else process.stdout.write(`added ${r.added.length} (${r.added.join(', ')}); ${r.incomplete.length} incomplete, never usable; ${r.refused.length} refused${r.refused.length ? `: ${r.refused.join('; ')}` : ''}\n`);
    });

  // Continuous binlog archiving of a cluster (docs/backup.md).
  const archive = backup.command('archive').description("continuous binlog archiving of a cluster's primary, off its host");
  const showArchive = (a: BinlogArchive__Output) => {
    if (out.json()) return out.print(a);
    out.table(['CLUSTER', 'ENABLED', 'NODE', 'SOURCE', 'RUNNING', 'PIECES', 'STORED', 'LAG'], [[a.cluster, String(a.enabled), a.node, a.sourceInstance, String(a.running), a.pieces, formatSize(a.storedBytes), `${a.lagSeconds.toFixed(1)} s`]]);
    if (a.gap) process.stdout.write(`GAP: ${a.gap}\n`);
    if (a.error) process.stdout.write(`error: ${a.error}\n`);
  };
  archive
    .command('enable <cluster>')
    .description('archive the primary\'s binlogs continuously into the repository')
    .action(async (cluster: string) => showArchive(await portal().setBinlogArchiving({ cluster, enabled: true })));
  archive
    .command('disable <cluster>')
    .description('stop archiving (the archived pieces stay)')
    .action(async (cluster: string) => showArchive(await portal().setBinlogArchiving({ cluster, enabled: false })));
  archive
    .command('status <cluster>')
    .description('where the archiver runs, what it archived, its lag, gaps')
    .action(async (cluster: string) => showArchive(await portal().getBinlogArchive({ cluster })));
  addBackupPolicyCommands(backup, portal, out);

  program
    .command('restore <backup>')
    .description('restore a backup as a NEW instance (never over a live one), placed by the scheduler')
    .requiredOption('--as <name>', 'the new instance\'s name')
    .option('--cpu <cores>', 'CPU (default: the backed-up instance\'s)', cpuOpt)
    .option('--memory <size>', 'memory (default: the backed-up instance\'s)', sizeOpt)
    .option('--disk <size>', 'disk reservation (default: the backed-up instance\'s)', sizeOpt)
    .option('--node <name>', 'place it on this node')
    .option('--constraint <expr>', 'node label constraint, repeatable', collect, [])
    .option('--to <time>', 'point in time, UTC: "YYYY-MM-DD HH:MM:SS" (rolled forward with the binary logs up to, not including, that second)')
    .option('--until-gtid <gtid>', 'point in time as a transaction: rolled forward up to and including it (MySQL uuid:N, MariaDB domain-server-seq)')
    .option('--wait', 'follow the restore until it ends, with its progress')
    .option('--timeout <seconds>', 'how long --wait waits', Number, 6 * 3600)
    .action(async (id: string, o: { as: string; cpu?: number; memory?: number; disk?: number; node?: string; constraint: string[]; to?: string; untilGtid?: string; wait?: boolean; timeout: number }) => {
      const shape = o.cpu || o.memory || o.disk ? { cpuMillis: o.cpu ?? 0, memoryBytes: o.memory ?? 0, diskBytes: o.disk ?? 0 } : null;
      const res = await portal().restoreBackup({ backup: id, name: o.as, resources: shape, node: o.node ?? '', constraints: o.constraint, to: o.to ?? '', untilGtid: o.untilGtid ?? '' });
      if (!out.json()) process.stdout.write(`restoring backup ${id} as ${res.instance!.name} on ${res.instance!.node} (${res.instance!.host}:${res.instance!.port}); its admin password: berthctl instance credentials ${res.instance!.name}\n`);
      const op = await finish(res.operation!, o, 'restore');
      if (out.json()) out.print({ instance: o.wait ? await portal().getInstance({ instance: res.instance!.id }) : res.instance, operation: op });
    });
}
