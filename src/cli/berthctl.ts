import * as grpc from '@grpc/grpc-js';
import Table from 'cli-table3';
import { Command } from 'commander';
import { cpuOpt, hostPortOpt, sizeOpt } from '../cliopts';
import type { Instance__Output } from '../gen/berth/v1/Instance';
import type { Node__Output } from '../gen/berth/v1/Node';
import type { Operation__Output } from '../gen/berth/v1/Operation';
import type { PortalClient } from '../gen/berth/v1/Portal';
import { portalProto } from '../proto';
import { asyncClient, isServiceError, type AsyncClient } from '../rpc';
import { formatCpu, formatSize } from '../units';

const program = new Command('berthctl')
  .description('berth: MySQL instances on your own hosts')
  .option('--manager <host:port>', "the manager's gRPC address (or BERTH_MANAGER)", hostPortOpt, process.env.BERTH_MANAGER ?? '127.0.0.1:7400')
  .option('--json', 'print JSON for scripts instead of tables')
  .showHelpAfterError();

let client: AsyncClient<PortalClient> | undefined;
function portal(): AsyncClient<PortalClient> {
  const Portal = portalProto().berth.v1.Portal;
  return (client ??= asyncClient(new Portal(program.opts<{ manager: string }>().manager, grpc.credentials.createInsecure())));
}
const json = () => Boolean(program.opts<{ json?: boolean }>().json);
const print = (value: unknown) => process.stdout.write(JSON.stringify(value, null, 2) + '\n');

function table(head: string[], rows: (string | number)[][]): void {
  const t = new Table({ head, style: { head: [], border: [] }, chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' } });
  t.push(...rows.map((r) => r.map(String)));
  process.stdout.write(t.toString() + '\n');
}

const shape = (r: { cpuMillis: number; memoryBytes: number; diskBytes: number } | null) =>
  r ? `${formatCpu(r.cpuMillis)} cpu / ${formatSize(r.memoryBytes)} / ${formatSize(r.diskBytes)}` : '';

function instanceRows(list: Instance__Output[]): void {
  table(
    ['NAME', 'ID', 'STATE', 'NODE', 'ADDRESS', 'CPU', 'MEMORY', 'DISK', 'VERSION'],
    list.map((i) => [
      i.name,
      i.id,
      i.state,
      i.node,
      `${i.host}:${i.port}`,
      formatCpu(i.resources?.cpuMillis ?? 0),
      formatSize(i.resources?.memoryBytes ?? 0),
      formatSize(i.resources?.diskBytes ?? 0),
      i.version ? `${i.flavor} ${i.version}` : '',
    ]),
  );
}

async function waitFor(opId: string, timeoutMs: number): Promise<Operation__Output> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const slice = Math.max(1000, Math.min(30_000, deadline - Date.now()));
    const op = await portal().waitOperation({ id: opId, timeoutMs: slice }, slice + 10_000);
    if (op.state !== 'running' || Date.now() >= deadline) return op;
  }
}

function opFailed(op: Operation__Output): boolean {
  if (op.state === 'succeeded') return false;
  process.stderr.write(op.state === 'running' ? `operation ${op.id} is still running (berthctl operation wait ${op.id})\n` : `operation ${op.id} failed: ${op.error}\n`);
  process.exitCode = 1;
  return true;
}

const instance = program.command('instance').description('MySQL instances');

instance
  .command('create')
  .description('place a new instance on the node the scheduler picks')
  .requiredOption('--name <name>', 'instance name (lowercase letters, digits, -)')
  .requiredOption('--cpu <cores>', 'CPU: 2, 0.5 or 500m', cpuOpt)
  .requiredOption('--memory <size>', 'memory: 1G, 512M', sizeOpt)
  .requiredOption('--disk <size>', 'disk reservation: 20G', sizeOpt)
  .option('--image <ref>', "MySQL or MariaDB image (default: the manager's)")
  .option('--node <name>', 'place on this node only')
  .option('--wait', 'wait until it is running (or failed)')
  .option('--timeout <seconds>', 'how long --wait waits', Number, 600)
  .action(async (o: { name: string; cpu: number; memory: number; disk: number; image?: string; node?: string; wait?: boolean; timeout: number }) => {
    const res = await portal().createInstance({
      name: o.name,
      resources: { cpuMillis: o.cpu, memoryBytes: o.memory, diskBytes: o.disk },
      image: o.image ?? '',
      node: o.node ?? '',
    });
    let op = res.operation!;
    let inst = res.instance!;
    if (o.wait) {
      op = await waitFor(op.id, o.timeout * 1000);
      if (op.state === 'succeeded') inst = await portal().getInstance({ instance: inst.id });
    }
    const c = res.credentials!;
    if (json()) {
      print({ id: inst.id, name: inst.name, node: inst.node, host: c.host, port: c.port, user: c.user, password: c.password, state: inst.state, operation: op });
    } else {
      process.stdout.write(
        `${inst.name} (${inst.id}) on ${inst.node}, ${c.host}:${c.port}, ${shape(inst.resources)}: ${inst.state}\n` +
          `connect: mariadb -h ${c.host} -P ${c.port} -u ${c.user} -p   (password: berthctl instance credentials ${inst.name})\n` +
          (o.wait ? '' : `operation ${op.id}: berthctl operation wait ${op.id}\n`),
      );
    }
    if (o.wait) opFailed(op);
  });

instance
  .command('list')
  .description('list instances')
  .option('--node <name>', 'only on this node')
  .action(async (o: { node?: string }) => {
    const { instances } = await portal().listInstances({ node: o.node ?? '' });
    if (json()) print(instances);
    else instanceRows(instances);
  });

instance
  .command('get <instance>')
  .description('show one instance (by name or id)')
  .action(async (ref: string) => {
    const i = await portal().getInstance({ instance: ref });
    if (json()) print(i);
    else instanceRows([i]);
  });

instance
  .command('credentials <instance>')
  .description("print the instance's admin user and password")
  .action(async (ref: string) => {
    const c = await portal().getCredentials({ instance: ref });
    if (json()) print(c);
    else process.stdout.write(`host: ${c.host}\nport: ${c.port}\nuser: ${c.user}\npassword: ${c.password}\n`);
  });

instance
  .command('delete <instance>')
  .description('stop and remove an instance, its container and its files')
  .option('--wait', 'wait until it is gone')
  .option('--timeout <seconds>', 'how long --wait waits', Number, 300)
  .action(async (ref: string, o: { wait?: boolean; timeout: number }) => {
    let op = await portal().deleteInstance({ instance: ref });
    if (o.wait) op = await waitFor(op.id, o.timeout * 1000);
    if (json()) print(op);
    else process.stdout.write(`operation ${op.id} (delete): ${op.state}${op.error ? `: ${op.error}` : ''}\n`);
    if (o.wait) opFailed(op);
  });

const node = program.command('node').description('hosts running an agent');

function nodeRows(list: Node__Output[]): void {
  table(
    ['NAME', 'STATE', 'HOST', 'CPU (ALLOC/CAP)', 'MEMORY (ALLOC/CAP)', 'DISK (ALLOC/CAP)', 'INSTANCES', 'PORTS', 'LABELS'],
    list.map((n) => [
      n.name,
      n.state + (n.cordoned ? ',cordoned' : ''),
      n.host,
      `${formatCpu(n.allocated?.cpuMillis ?? 0)}/${formatCpu(n.capacity?.cpuMillis ?? 0)}`,
      `${formatSize(n.allocated?.memoryBytes ?? 0)}/${formatSize(n.capacity?.memoryBytes ?? 0)}`,
      `${formatSize(n.allocated?.diskBytes ?? 0)}/${formatSize(n.capacity?.diskBytes ?? 0)}`,
      n.instanceCount,
      `${n.portMin}-${n.portMax}`,
      Object.entries(n.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    ]),
  );
}

node
  .command('list')
  .description('list nodes with capacity and allocation')
  .action(async () => {
    const { nodes } = await portal().listNodes({});
    if (json()) print(nodes);
    else nodeRows(nodes);
  });

for (const [cmd, desc] of [
  ['cordon', 'stop placing new instances on a node'],
  ['uncordon', 'allow new instances on a node again'],
] as const) {
  node
    .command(`${cmd} <name>`)
    .description(desc)
    .action(async (name: string) => {
      const n = cmd === 'cordon' ? await portal().cordonNode({ name }) : await portal().uncordonNode({ name });
      if (json()) print(n);
      else nodeRows([n]);
    });
}

const operation = program.command('operation').description('long-running operations');
operation
  .command('get <id>')
  .action(async (id: string) => {
    const op = await portal().getOperation({ id });
    if (json()) print(op);
    else table(['STEP', 'STATE', 'STARTED', 'FINISHED', 'ERROR'], op.steps.map((s) => [s.name, s.state, s.startedAt, s.finishedAt, s.error]));
  });
operation
  .command('wait <id>')
  .option('--timeout <seconds>', 'how long to wait', Number, 600)
  .action(async (id: string, o: { timeout: number }) => {
    const op = await waitFor(id, o.timeout * 1000);
    if (json()) print(op);
    else process.stdout.write(`operation ${op.id} (${op.type}): ${op.state}${op.error ? `: ${op.error}` : ''}\n`);
    opFailed(op);
  });

program
  .parseAsync()
  .catch((err: unknown) => {
    if (isServiceError(err)) {
      const code = grpc.status[err.code] ?? String(err.code);
      if (json()) print({ error: { code, message: err.details } });
      else process.stderr.write(`berthctl: ${code}: ${err.details}\n`);
    } else {
      process.stderr.write(`berthctl: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    process.exitCode = 1;
  })
  .finally(() => client?.close());
