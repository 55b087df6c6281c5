import { Command, InvalidArgumentError, Option } from 'commander';
import type { Cluster__Output } from '../gen/berth/v1/Cluster';
import type { ClusterEndpoints__Output } from '../gen/berth/v1/ClusterEndpoints';
import type { Operation__Output } from '../gen/berth/v1/Operation';
import type { PortalClient } from '../gen/berth/v1/Portal';
import type { AsyncClient } from '../rpc';
import { collect, cpuOpt, sizeOpt } from '../cliopts';
import { formatCpu, formatSize } from '../units';

interface Out {
  json: () => boolean;
  print: (v: unknown) => void;
  table: (head: string[], rows: (string | number)[][]) => void;
  waitFor: (opId: string, timeoutMs: number) => Promise<Operation__Output>;
  opFailed: (op: Operation__Output) => boolean;
}

function countOpt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`want a whole number, got "${v}"`);
  return n;
}

// The failover's lower bound, and what its old primary's rebuild measured once it has.
const lostOf = (h: { lostTransactions: number; measuredLost: number }) => (h.measuredLost >= 0 ? `${h.lostTransactions} (measured ${h.measuredLost})` : String(h.lostTransactions));
const abbreviate = (gtids: string) => (gtids.length > 60 ? `${gtids.slice(0, 57)}...` : gtids);

// `berthctl cluster ...`: replicated clusters (a primary and replicas on distinct hosts).
export function addClusterCommands(program: Command, portal: () => AsyncClient<PortalClient>, out: Out): void {
  const cluster = program.command('cluster').description('replicated clusters: a primary and 0-5 replicas on distinct hosts');

  // Ends an operation-returning command: waits when asked, prints, sets the exit code.
  async function finish(op: Operation__Output, o: { wait?: boolean; timeout: number }, what: string): Promise<void> {
    if (o.wait) op = await out.waitFor(op.id, o.timeout * 1000);
    if (out.json()) out.print(op);
    else process.stdout.write(`operation ${op.id} (${what}): ${op.state}${op.error ? `: ${op.error}` : ''}${o.wait ? '' : `; berthctl operation wait ${op.id}`}\n`);
    if (o.wait) out.opFailed(op);
  }
  const waitable = (c: Command, seconds: number) => c.option('--wait', 'wait until it has finished').option('--timeout <seconds>', 'how long --wait waits', Number, seconds);

  waitable(
    cluster
      .command('create <name>')
      .description('place a primary and N replicas on distinct hosts, seed the replicas from the primary, replicate by GTID')
      .requiredOption('--cpu <cores>', 'CPU of each member: 2, 0.5 or 500m', cpuOpt)
      .requiredOption('--memory <size>', 'memory of each member: 1G', sizeOpt)
      .requiredOption('--disk <size>', 'disk reservation of each member: 20G', sizeOpt)
      .option('--replicas <n>', 'replicas besides the primary (0-5)', countOpt, 2)
      .addOption(new Option('--replication <mode>', 'semi-sync (default with replicas), async, or group (a consensus cluster: MySQL Group Replication, single-primary)').choices(['async', 'semi-sync', 'group']))
      .option('--members <n>', 'group: 3, 5 or 7 members on distinct hosts', countOpt, 3)
      .option('--group-mode <mode>', 'group: single-primary (multi-primary is refused)', 'single-primary')
      .option('--group-consistency <level>', 'group: EVENTUAL, BEFORE_ON_PRIMARY_FAILOVER (default), BEFORE, AFTER or BEFORE_AND_AFTER')
      .option('--member-weight <n>', 'group: election weight of every member, 0-100 (default 50)', countOpt, 0)
      .option('--semi-sync-timeout <ms>', 'semi-sync: the primary goes on asynchronously after this long without an acknowledgement', countOpt, 0)
      .option('--image <ref>', "MySQL or MariaDB image (default: the manager's)")
      .addOption(new Option('--flavor <flavor>', "the manager's image for this flavor (instead of --image)").choices(['mysql', 'mariadb']).conflicts('image'))
      .option('--constraint <expr>', 'node label constraint for every member, repeatable: zone=a, "zone in (a,b)"; prefix ~ for a preference', collect, [])
      .option('--spread-over <label>', 'members on distinct values of this label too (zone, rack); prefix ~ for a preference')
      .option('--strategy <name>', "spread, binpack or weighted (default: the manager's)"),
    1800,
  ).action(async (name: string, o: { cpu: number; memory: number; disk: number; replicas: number; replication?: string; members: number; groupMode: string; groupConsistency?: string; memberWeight: number; semiSyncTimeout: number; image?: string; flavor?: string; constraint: string[]; spreadOver?: string; strategy?: string; wait?: boolean; timeout: number }) => {
    const res = await portal().createCluster({
      name,
      resources: { cpuMillis: o.cpu, memoryBytes: o.memory, diskBytes: o.disk },
      // A group takes members, not replicas.
      replicas: o.replication === 'group' ? 0 : o.replicas,
      replication: o.replication ?? '',
      ...(o.replication === 'group' ? { members: o.members, groupMode: o.groupMode, groupConsistency: o.groupConsistency ?? '', memberWeight: o.memberWeight } : {}),
      semiSyncTimeoutMs: o.semiSyncTimeout,
      image: o.image ?? '',
      flavor: o.flavor ?? '',
      constraints: o.constraint,
      spreadOver: o.spreadOver ?? '',
      strategy: o.strategy ?? '',
    });
    let op = res.operation!;
    if (o.wait) op = await out.waitFor(op.id, o.timeout * 1000);
    const c = res.credentials!;
    if (out.json()) {
      out.print({ cluster: res.cluster, operation: op, credentials: c });
    } else {
      const members = res.cluster!.members.map((m) => `${m.instance!.name} (${m.role}) on ${m.instance!.node}`).join(', ');
      process.stdout.write(
        `cluster ${name}: ${members}\n` +
          `primary: ${c.host}:${c.port}, user ${c.user} (password: berthctl instance credentials ${res.cluster!.members[0]!.instance!.name})\n` +
          `operation ${op.id}: ${op.state}${op.error ? `: ${op.error}` : ''}\n`,
      );
    }
    if (o.wait) out.opFailed(op);
  });

  cluster
    .command('get <name>')
    .description("a cluster's members: roles, GTID positions, lag and health, asked of the agents now")
    .action(async (name: string) => {
      const c = await portal().getCluster({ name });
      if (out.json()) return out.print(c);
      header(c);
      if (c.replication === 'group') return groupTable(c);
      out.table(
        ['MEMBER', 'ROLE', 'HEALTH', 'NODE', 'ADDRESS', 'EXECUTED GTIDS', 'LAG', 'SOURCE', 'PROBLEM'],
        c.members.map((m) => [
          m.instance!.name,
          m.role + (m.fenced ? ' (fenced)' : ''),
          m.health,
          m.instance!.node,
          `${m.instance!.host}:${m.instance!.port}`,
          abbreviate(m.executedGtids),
          m.role === 'replica' ? `${m.secondsBehind < 0 ? '?' : m.secondsBehind} s, ${m.lagTransactions} trx` : '',
          m.source,
          m.lastError,
        ]),
      );
    });

  // A consensus cluster's members as each sees itself in the group.
  function groupTable(c: Cluster__Output): void {
    if (c.flavor === 'mariadb') return galeraTable(c);
    process.stdout.write(`group ${c.groupName}, consistency ${c.groupConsistency}, member weight ${c.memberWeight}\n`);
    out.table(
      ['MEMBER', 'ROLE', 'HEALTH', 'NODE', 'ADDRESS', 'GROUP STATE', 'GROUP ROLE', 'VERSION', 'QUEUE'],
      c.members.map((m) => [m.instance!.name, m.role, m.health, m.instance!.node, `${m.instance!.host}:${m.instance!.port}`, m.groupState, m.groupRole, m.groupVersion, String(m.lagTransactions)]),
    );
  }

  // Galera: berth's writer is the primary; each member's wsrep state as it sees itself.
  function galeraTable(c: Cluster__Output): void {
    process.stdout.write(`galera cluster ${c.name}: one writer chosen by berth (the primary), the others read-only\n`);
    out.table(
      ['MEMBER', 'ROLE', 'HEALTH', 'NODE', 'ADDRESS', 'WSREP STATE', 'CLUSTER STATUS', 'SIZE', 'READY', 'PROVIDER', 'QUEUE'],
      c.members.map((m) => [m.instance!.name, m.role === 'primary' ? 'writer' : 'reader', m.health, m.instance!.node, `${m.instance!.host}:${m.instance!.port}`, m.groupState, m.groupRole, String(m.groupSize), m.groupReady ? 'ON' : 'OFF', m.groupVersion, String(m.lagTransactions)]),
    );
  }

  function header(c: Cluster__Output): void {
    const r = c.resources;
    process.stdout.write(
      `cluster ${c.name}: ${c.state}, ${c.replication}${c.replication === 'semi-sync' ? ` (timeout ${c.semiSyncTimeoutMs} ms)` : ''}, ${c.flavor || c.image}, ` +
        `${r ? `${formatCpu(r.cpuMillis)} cpu / ${formatSize(r.memoryBytes)} / ${formatSize(r.diskBytes)}` : ''} per member${c.message ? `\n${c.message}` : ''}\n` +
        (c.problem ? `PROBLEM: ${c.problem}\n` : ''),
    );
  }

  cluster
    .command('list')
    .description('every cluster, its state and primary')
    .action(async () => {
      const all: Cluster__Output[] = [];
      let pageToken = '';
      do {
        const r = await portal().listClusters({ pageToken, pageSize: 0 });
        all.push(...r.clusters);
        pageToken = r.nextPageToken;
      } while (pageToken);
      if (out.json()) return out.print(all);
      out.table(
        ['NAME', 'STATE', 'REPLICATION', 'MEMBERS', 'PRIMARY', 'ENDPOINT'],
        all.map((c) => [c.name, c.state, c.replication, c.members.length, c.primary, c.endpoints?.primary ? `${c.endpoints.primary.host}:${c.endpoints.primary.port}` : '']),
      );
    });

  cluster
    .command('endpoints <name>')
    .description("where to write and read: the stable endpoints (rw, ro: they follow switchovers and failovers), then the primary and the replicas themselves")
    .action(async (name: string) => {
      const e: ClusterEndpoints__Output = await portal().getClusterEndpoints({ name });
      if (out.json()) return out.print(e);
      const stable = e.stable.map((x) => [`${x.kind} endpoint`, `${x.host}:${x.port}`, `(router ${x.node})`]);
      const rows = [...(e.primary ? [e.primary] : []), ...e.replicas].map((x) => [x.role, `${x.host}:${x.port}`, x.instance]);
      out.table(['ROLE', 'ADDRESS', 'INSTANCE'], [...stable, ...rows]);
    });

  cluster
    .command('history <name>')
    .description('switchovers and failovers, newest first')
    .option('--limit <n>', 'at most this many', countOpt, 100)
    .action(async (name: string, o: { limit: number }) => {
      const { entries } = await portal().listClusterHistory({ cluster: name, limit: o.limit });
      if (out.json()) return out.print(entries);
      out.table(
        ['WHEN', 'KIND', 'OUTCOME', 'FROM', 'TO', 'BLOCKED', 'LOST', 'REASON'],
        entries.map((h) => [h.finishedAt, h.kind, h.outcome, h.fromInstance, h.toInstance, h.blockedMs < 0 ? '' : `${h.blockedMs} ms`, lostOf(h), h.reason || h.message]),
      );
    });

  waitable(cluster.command('delete <name>').description('remove every member, its container and files, and the cluster'), 600).action(async (name: string, o: { wait?: boolean; timeout: number }) =>
    finish(await portal().deleteCluster({ name }), o, 'cluster delete'),
  );

  waitable(
    cluster
      .command('add-replica <name>')
      .description('a new replica seeded from a hot copy of the primary, on a host without a member')
      .option('--node <node>', 'on this node (default: the scheduler picks)'),
    3600,
  ).action(async (name: string, o: { node?: string; wait?: boolean; timeout: number }) => finish(await portal().addReplica({ cluster: name, node: o.node ?? '' }), o, 'add replica'));

  waitable(cluster.command('remove-replica <name> <instance>').description('remove one replica (never the primary: switch over first)'), 600).action(
    async (name: string, instance: string, o: { wait?: boolean; timeout: number }) => finish(await portal().removeReplica({ cluster: name, instance }), o, 'remove replica'),
  );

  waitable(
    cluster
      .command('switchover <name>')
      .description('planned and lossless: the primary role moves to a replica (named, or the most advanced healthy one)')
      .option('--to <instance>', 'the replica to promote'),
    300,
  ).action(async (name: string, o: { to?: string; wait?: boolean; timeout: number }) => finish(await portal().switchover({ cluster: name, to: o.to ?? '' }), o, 'switchover'));
}
