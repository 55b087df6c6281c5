import type { Command } from 'commander';
import type { PortalClient } from '../gen/berth/v1/Portal';
import type { AsyncClient } from '../rpc';

interface Out {
  json: () => boolean;
  print: (v: unknown) => void;
}

// `cluster ack-failover`: joins the `cluster` command group (made here when it does not exist yet).
export function addFailoverCommands(program: Command, portal: () => AsyncClient<PortalClient>, out: Out): void {
  const cluster = program.commands.find((c) => c.name() === 'cluster') ?? program.command('cluster').description('replicated clusters: a primary and replicas on distinct hosts');
  cluster
    .command('ack-failover <cluster>')
    .description("acknowledge the cluster's last automatic failover: its alert ends and the next automatic failover may happen within --failover-period")
    .action(async (name: string) => {
      const r = await portal().acknowledgeFailover({ cluster: name });
      if (out.json()) out.print(r);
      else process.stdout.write(`${name}: ${r.message}\n`);
    });
  const instance = program.commands.find((c) => c.name() === 'instance') ?? program.command('instance').description('MySQL instances');
  instance
    .command('discarded [instance]')
    .description('data directories berth kept in a trash instead of deleting (mysqld had run on them): where they are, what they held that the server that stayed lacks, how to read their binlogs')
    .option('--limit <n>', 'at most this many, newest first', (v) => Number(v), 100)
    .action(async (name: string | undefined, o: { limit: number }) => {
      const { items } = await portal().listDiscardedData({ instance: name ?? '', limit: o.limit });
      if (out.json()) return out.print(items);
      if (items.length === 0) return void process.stdout.write('nothing discarded\n');
      for (const d of items) {
        const held = d.unseenCount < 0 ? 'not read (could not be started)' : d.unseenCount === 0 ? 'nothing the server that stayed lacks' : `${d.unseenCount} transactions the server that stayed lacks: ${d.unseenGtids}`;
        process.stdout.write(`${d.at} ${d.instance}${d.cluster ? ` (cluster ${d.cluster})` : ''}: ${d.reason}\n  where: ${d.node}:${d.path}\n  held:  ${held}\n  binlogs: ${d.readBinlogs}\n`);
      }
    });
}
