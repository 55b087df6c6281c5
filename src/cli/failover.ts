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
}
