import * as grpc from '@grpc/grpc-js';
import Table from 'cli-table3';
import { Command, Option } from 'commander';
import { collect, cpuOpt, hostPortOpt, sizeOpt } from '../cliopts';
import type { Instance__Output } from '../gen/berth/v1/Instance';
import type { Node__Output } from '../gen/berth/v1/Node';
import type { Operation__Output } from '../gen/berth/v1/Operation';
import type { PortalClient } from '../gen/berth/v1/Portal';
import { isServiceError, type AsyncClient } from '../rpc';
import { portalClient, rawPortalClient, type ConnectionFlags } from './connect';
import { followEvents, ProgressLine, watchOperation } from './watch';
import { addSecurityCommands } from './security';
import { addClusterCommands } from './cluster';
import { addFailoverCommands } from './failover';
import { addBackupCommands } from './backup';
import { formatCpu, formatSize } from '../units';
import { VERSION } from '../version';
import { adminTokenFile, readTokenFile } from '../security/admin-token-file';

const program = new Command('berthctl')
  .description('berth: MySQL instances on your own hosts')
  .option('--manager <host:port>', "the manager's gRPC address (or BERTH_MANAGER; default 127.0.0.1:7400)", hostPortOpt)
  .option('--ca <file>', 'fleet CA certificate (or BERTH_CA)')
  .option('--cert <file>', 'client certificate (or BERTH_CERT)')
  .option('--key <file>', 'client private key (or BERTH_KEY)')
  .option('--token <token>', 'bearer token instead of a client certificate (or BERTH_TOKEN)')
  .option('--insecure', 'plaintext, for a manager started with --insecure (or BERTH_INSECURE=1)')
  .option('--config <file>', 'config file (default: BERTH_CONFIG, $BERTH_STATE_DIR/berthctl.json, .berth/berthctl.json, ~/.config/berth/berthctl.json)')
  .option('--json', 'print JSON for scripts instead of tables')
  .option('--request-id <id>', 'idempotency key of the change this command makes (default: a new one per run); running the command again with the same key answers with what the first run did, never doing it twice')
  .version(VERSION)
  .showHelpAfterError();

let client: AsyncClient<PortalClient> | undefined;
function portal(): AsyncClient<PortalClient> {
  return (client ??= portalClient(program.opts<ConnectionFlags>()));
}
let streams: ReturnType<typeof rawPortalClient> | undefined;
function rawPortal(): ReturnType<typeof rawPortalClient> {
  return (streams ??= rawPortalClient(program.opts<ConnectionFlags>()));
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
    ['NAME', 'ID', 'STATE', 'NODE', 'ADDRESS', 'CPU', 'MEMORY', 'DISK', 'VERSION', 'CLUSTER ROLE'],
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
      i.clusterName ? `${i.clusterRole} of ${i.clusterName}${i.fenced ? ' (fenced)' : ''}` : '',
    ]),
  );
}

// Still moving (forward or undoing); stuck, succeeded and failed have ended for a waiter.
const ACTIVE = ['running', 'rolling_back'];

// Live progress while waiting (WatchOperations), on stderr so stdout keeps only the answer: one
// line rewritten in place on a terminal, a line per change otherwise. A manager without the
// stream, or a stream that breaks, leaves the rest of the wait to WaitOperation.
async function waitFor(opId: string, timeoutMs: number): Promise<Operation__Output> {
  const deadline = Date.now() + timeoutMs;
  const { raw, meta } = rawPortal();
  const line = new ProgressLine();
  const tty = process.stderr.isTTY;
  let shown = '';
  const seen = await watchOperation(raw, meta, opId, timeoutMs, (op) => {
    const text = line.text(op);
    if (text === shown) return;
    shown = text;
    process.stderr.write(tty ? `\r\x1b[K${text}` : `${text}\n`);
  });
  if (tty && shown) process.stderr.write('\n');
  if (seen && !ACTIVE.includes(seen.state)) return portal().getOperation({ id: opId });
  for (;;) {
    const slice = Math.max(1000, Math.min(30_000, deadline - Date.now()));
    const op = await portal().waitOperation({ id: opId, timeoutMs: slice }, slice + 10_000);
    if (!ACTIVE.includes(op.state) || Date.now() >= deadline) return op;
  }
}

function opFailed(op: Operation__Output): boolean {
  if (op.state === 'succeeded') return false;
  const why = ACTIVE.includes(op.state)
    ? `is still ${op.state === 'running' ? 'running' : 'rolling back'} (berthctl operation wait ${op.id})`
    : op.state === 'stuck'
      ? `is stuck and needs a person: ${op.error} (then berthctl operation retry ${op.id})`
      : `failed: ${op.error}`;
  process.stderr.write(`operation ${op.id} ${why}\n`);
  process.exitCode = 1;
  return true;
}

// Lists come in pages of at most 1000: follow next_page_token to the end.
async function allPages<R extends { nextPageToken: string }, T>(get: (token: string) => Promise<R>, items: (r: R) => T[]): Promise<T[]> {
  const out: T[] = [];
  let token = '';
  do {
    const r = await get(token);
    out.push(...items(r));
    token = r.nextPageToken;
  } while (token);
  return out;
}

const instance = program.command('instance').description('MySQL instances');

interface PlacementFlags {
  node?: string;
  constraint?: string[];
  antiAffinityGroup?: string;
  cluster?: string;
  spreadOver?: string;
  strategy?: string;
}

// The placement flags create and plan share.
function placementFlags(c: Command): Command {
  return c
    .option('--node <name>', 'place on this node only')
    .option('--constraint <expr>', 'node label constraint, repeatable: zone=a, rack!=r3, "zone in (a,b)"; prefix ~ for a preference', collect, [])
    .option('--anti-affinity-group <name>', 'instances of one anti-affinity group never share a host')
    .option('--cluster <name>', 'deprecated: the old name of --anti-affinity-group')
    .option('--spread-over <label>', 'with --anti-affinity-group: members on distinct values of this label (rack, zone); prefix ~ for a preference')
    .option('--strategy <name>', "spread, binpack or weighted (default: the manager's)");
}

function antiAffinityGroup(o: PlacementFlags): string {
  if (o.cluster) process.stderr.write('berthctl: --cluster is deprecated and will be removed: use --anti-affinity-group\n');
  return o.antiAffinityGroup ?? o.cluster ?? '';
}

const placementFields = (o: PlacementFlags) => ({
  node: o.node ?? '',
  constraints: o.constraint ?? [],
  antiAffinityGroup: antiAffinityGroup(o),
  spreadOver: o.spreadOver ?? '',
  strategy: o.strategy ?? '',
});

const create = instance
  .command('create')
  .description('place a new instance on the node the scheduler picks')
  .requiredOption('--name <name>', 'instance name (lowercase letters, digits, -)')
  .requiredOption('--cpu <cores>', 'CPU: 2, 0.5 or 500m', cpuOpt)
  .requiredOption('--memory <size>', 'memory: 1G, 512M', sizeOpt)
  .requiredOption('--disk <size>', 'disk reservation: 20G', sizeOpt)
  .option('--image <ref>', "MySQL or MariaDB image (default: the manager's)")
  .addOption(new Option('--flavor <flavor>', "the manager's image for this flavor (instead of --image)").choices(['mysql', 'mariadb']).conflicts('image'))
  .option('--wait', 'wait until it is running (or failed)')
  .option('--timeout <seconds>', 'how long --wait waits', Number, 600)
placementFlags(create).action(
  async (o: PlacementFlags & { name: string; cpu: number; memory: number; disk: number; image?: string; flavor?: string; wait?: boolean; timeout: number; requestId?: string }) => {
    const res = await portal().createInstance({
      requestId: o.requestId ?? '',
      name: o.name,
      resources: { cpuMillis: o.cpu, memoryBytes: o.memory, diskBytes: o.disk },
      image: o.image ?? '',
      flavor: o.flavor ?? '',
      ...placementFields(o),
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
  },
);

placementFlags(
  instance
    .command('plan')
    .description("dry run: every node's verdict for this shape (the filter it fails, or its score) and where it would go; places nothing")
    .option('--cpu <cores>', 'CPU: 2, 0.5 or 500m', cpuOpt)
    .option('--memory <size>', 'memory: 1G, 512M', sizeOpt)
    .option('--disk <size>', 'disk reservation: 20G', sizeOpt)
    .option('--resize <instance>', 'plan a resize of this instance instead (only the given sizes change): in place or migrate, and where')
    .option('--mode <mode>', 'with --resize: auto, in-place or migrate', 'auto'),
).action(async (o: PlacementFlags & { cpu?: number; memory?: number; disk?: number; resize?: string; mode: string }) => {
  if (!o.resize && !(o.cpu && o.memory && o.disk)) instance.error('berthctl instance plan: --cpu, --memory and --disk are required (or --resize NAME with the sizes that change)');
  const res = await portal().planInstance({
    resources: { cpuMillis: o.cpu ?? 0, memoryBytes: o.memory ?? 0, diskBytes: o.disk ?? 0 },
    ...placementFields(o),
    resizeInstance: o.resize ?? '',
    resizeMode: o.resize ? o.mode : '',
  });
  if (json()) {
    print(res);
    return;
  }
  if (o.resize) process.stdout.write(`resize ${o.resize} to ${shape(res.resizeShape)}: ${res.resizeDecision} (${res.resizeReason})\n`);
  if (o.resize && res.resizeDecision !== 'migrate') {
    if (res.resizeDecision === 'refused') process.exitCode = 2;
    return;
  }
  // Best first, then the rejected nodes grouped by filter.
  const rows = [...res.verdicts].sort((a, b) => Number(b.fits) - Number(a.fits) || b.score - a.score || a.filter.localeCompare(b.filter) || a.node.localeCompare(b.node));
  table(
    ['NODE', 'VERDICT', 'SCORE / REASON'],
    rows.map((v) => [v.node + (v.chosen ? ' *' : ''), v.fits ? 'fits' : `rejected by ${v.filter}`, v.fits ? v.score.toFixed(2) : v.reason]),
  );
  const p = res.placement;
  if (p) {
    process.stdout.write(`would place on ${p.node} (${p.host}:${p.port}, ${p.diskPath}) by ${res.strategy}${res.relaxedSoft ? '; preferences dropped: no node met them' : ''}\n`);
  } else {
    process.stdout.write(`${res.message}\n`);
    process.exitCode = 2;
  }
});

instance
  .command('list')
  .description('list instances')
  .option('--node <name>', 'only on this node')
  .action(async (o: { node?: string }) => {
    const instances = await allPages((pageToken) => portal().listInstances({ node: o.node ?? '', pageToken }), (r) => r.instances);
    if (json()) print(instances);
    else instanceRows(instances);
  });

instance
  .command('get <instance>')
  .description('show one instance (by name or id)')
  .action(async (ref: string) => {
    const i = await portal().getInstance({ instance: ref });
    if (json()) {
      print(i);
      return;
    }
    instanceRows([i]);
    // Where clients should connect: the address survives moves, switchovers and failovers.
    for (const e of i.endpoints) process.stdout.write(`${e.kind} endpoint: ${e.host}:${e.port} (router ${e.node})\n`);
  });

instance
  .command('credentials <instance>')
  .description("print the instance's admin user and password")
  .action(async (ref: string) => {
    const c = await portal().getCredentials({ instance: ref });
    if (json()) print(c);
    else process.stdout.write(`host: ${c.host}\nport: ${c.port}\nuser: ${c.user}\npassword: ${c.password}\n${c.endpoints.map((e) => `${e.kind} endpoint: ${e.host}:${e.port}\n`).join('')}`);
  });

instance
  .command('delete <instance>')
  .description('stop and remove an instance, its container and its files')
  .option('--wait', 'wait until it is gone')
  .option('--timeout <seconds>', 'how long --wait waits', Number, 300)
  .option('--force', 'its node is gone for good: release the reservation without calling the node (files may remain there; admin)')
  .action(async (ref: string, o: { wait?: boolean; timeout: number; force?: boolean; requestId?: string }) => {
    let op = await portal().deleteInstance({ instance: ref, force: !!o.force, requestId: o.requestId ?? '' });
    if (o.wait) op = await waitFor(op.id, o.timeout * 1000);
    if (json()) print(op);
    else process.stdout.write(`operation ${op.id} (delete): ${op.state}${op.error ? `: ${op.error}` : ''}\n`);
    if (o.wait) opFailed(op);
  });

instance
  .command('resize <instance>')
  .description('change the shape of an instance: in place when its node has room, else by migration to a node that has')
  .option('--cpu <cores>', 'new CPU: 2, 0.5 or 500m', cpuOpt)
  .option('--memory <size>', 'new memory: 4G', sizeOpt)
  .option('--disk <size>', 'new disk reservation: 100G (shrinks only down to what is used plus headroom)', sizeOpt)
  .option('--mode <mode>', 'auto (in place, else migrate), in-place or migrate', 'auto')
  .option('--node <name>', 'a migration goes to this node')
  .option('--constraint <expr>', 'node label constraint for a migration, repeatable', collect, [])
  .option('--strategy <name>', 'placement strategy for a migration')
  .option('--wait', 'follow the operation until it ends, with its progress')
  .option('--timeout <seconds>', 'how long --wait waits', Number, 3600)
  .action(async (ref: string, o: { cpu?: number; memory?: number; disk?: number; mode: string; node?: string; constraint: string[]; strategy?: string; wait?: boolean; timeout: number }) => {
    let op = await portal().resizeInstance({
      instance: ref,
      resources: { cpuMillis: o.cpu ?? 0, memoryBytes: o.memory ?? 0, diskBytes: o.disk ?? 0 },
      mode: o.mode,
      node: o.node ?? '',
      constraints: o.constraint,
      strategy: o.strategy ?? '',
    });
    if (!json()) process.stdout.write(`operation ${op.id} (${op.type}) started\n`);
    if (o.wait) op = await follow(op.id, o.timeout * 1000);
    if (json()) print(op);
    else process.stdout.write(`operation ${op.id} (${op.type}): ${op.state}${op.error ? `: ${op.error}` : ''}\n`);
    if (o.wait) opFailed(op);
  });

// Polls the operation and shows its step, bytes (with rate and ETA) and phase: one line
// rewritten in place on a terminal, a plain line per change otherwise.
async function follow(opId: string, timeoutMs: number): Promise<Operation__Output> {
  const deadline = Date.now() + timeoutMs;
  const tty = process.stderr.isTTY;
  let prev: { at: number; bytes: number } | undefined;
  let lastLine = '';
  for (;;) {
    const op = await portal().getOperation({ id: opId });
    const now = Date.now();
    const p = op.progress;
    const rate = prev && p && now > prev.at ? ((p.bytesDone - prev.bytes) * 1000) / (now - prev.at) : 0;
    prev = { at: now, bytes: p?.bytesDone ?? 0 };
    const line = followLine(op, rate);
    if (tty) process.stderr.write(`\r\x1b[K${line}`);
    else if (line !== lastLine) process.stderr.write(`${line}\n`);
    lastLine = line;
    if (!ACTIVE.includes(op.state) || now >= deadline) {
      if (tty) process.stderr.write('\n');
      return op;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function followLine(op: Operation__Output, rate: number): string {
  const step = op.undoingStep ? `undoing ${op.undoingStep}` : (op.steps.find((s) => s.state === 'running')?.name ?? op.state);
  const p = op.progress;
  const parts = [`${op.type} ${op.id}: ${step}`];
  if (p?.bytesTotal) {
    const eta = rate > 0 ? ` ETA ${Math.ceil((p.bytesTotal - p.bytesDone) / rate)} s` : '';
    parts.push(`${formatSize(p.bytesDone)} of ${formatSize(p.bytesTotal)} (${Math.floor((100 * p.bytesDone) / p.bytesTotal)}%)${rate > 0 ? `, ${formatSize(Math.round(rate))}/s` : ''}${eta}`);
  }
  if (p?.phase) parts.push(p.phase);
  return parts.join(', ');
}

const node = program.command('node').description('hosts running an agent');

node
  .command('drain <name>')
  .description('move every instance off a node (cordons it first), a few migrations at a time')
  .option('--wait', 'follow the drain until it ends')
  .option('--timeout <seconds>', 'how long --wait waits', Number, 6 * 3600)
  .action(async (name: string, o: { wait?: boolean; timeout: number }) => {
    let op = await portal().drainNode({ name });
    if (o.wait) op = await follow(op.id, o.timeout * 1000);
    if (json()) print(op);
    else process.stdout.write(`operation ${op.id} (drain): ${op.state}${progressText(op)}${op.error ? `: ${op.error}` : ''}\n`);
    if (o.wait) opFailed(op);
  });

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
    const nodes = await allPages((pageToken) => portal().listNodes({ pageToken }), (r) => r.nodes);
    if (json()) print(nodes);
    else nodeRows(nodes);
  });

node
  .command('remove <name>')
  .description('forget a node that is gone for good (its agent stopped); refused while instances are on it unless --force (admin)')
  .option('--force', 'also forget its instances (their files may remain on that host)')
  .action(async (name: string, o: { force?: boolean }) => {
    const r = await portal().removeNode({ name, force: !!o.force });
    if (json()) print(r);
    else process.stdout.write(`node ${r.name} removed${r.forgottenInstances.length ? `; instances forgotten: ${r.forgottenInstances.join(', ')}` : ''}\n`);
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
    else operationDetail(op);
  });
operation
  .command('retry <id>')
  .description('run a stuck operation again from its failed step, once its cause is fixed')
  .action(async (id: string) => {
    const op = await portal().retryOperation({ id });
    if (json()) print(op);
    else process.stdout.write(`operation ${op.id} (${op.type}): ${op.state}\n`);
  });
operation
  .command('wait <id>')
  .option('--timeout <seconds>', 'how long to wait', Number, 600)
  .action(async (id: string, o: { timeout: number }) => {
    const op = await waitFor(id, o.timeout * 1000);
    if (json()) print(op);
    else process.stdout.write(`operation ${op.id} (${op.type}): ${op.state}${progressText(op)}${op.error ? `: ${op.error}` : ''}\n`);
    opFailed(op);
  });

operation
  .command('watch [id]')
  .description('follow an operation as it runs (with no id: every operation, until interrupted)')
  .option('--subject <name>', 'only operations on this instance, node or cluster')
  .action(async (id: string | undefined, o: { subject?: string }) => {
    const { raw, meta } = rawPortal();
    const line = new ProgressLine();
    const call = raw.watchOperations({ id: id ?? '', subject: o.subject ?? '' }, meta.clone());
    call.on('data', (op: Operation__Output) => process.stdout.write(json() ? `${JSON.stringify(op)}\n` : `${line.text(op)}\n`));
    await new Promise<void>((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
  });

program
  .command('events')
  .description('follow the event history as it grows (resumes by itself after a broken connection)')
  .option('--kind <prefix>', 'only events whose kind starts so ("cluster." for every cluster event)')
  .option('--subject <name>', 'only events about this instance, node or cluster')
  .option('--after <id>', 'start after this event id (the last one printed before); default: from now', Number, 0)
  .action(async (o: { kind?: string; subject?: string; after: number }) => {
    const { raw, meta } = rawPortal();
    await followEvents(raw, meta, { afterId: o.after, kind: o.kind ?? '', subject: o.subject ?? '' }, (e) =>
      process.stdout.write(json() ? `${JSON.stringify(e)}\n` : `${e.id}  ${e.at}  ${e.kind}  ${e.subject}  ${e.message}\n`),
    );
  });

// ", copying, 1.2G of 4G (30%)": the phase and bytes when the operation reports them.
function progressText(op: Operation__Output): string {
  const p = op.progress;
  if (!p || (!p.phase && !p.bytesTotal)) return '';
  const bytes = p.bytesTotal ? `${formatSize(p.bytesDone)} of ${formatSize(p.bytesTotal)} (${Math.floor((100 * p.bytesDone) / p.bytesTotal)}%)` : '';
  return `, ${[p.phase, bytes].filter(Boolean).join(', ')}`;
}

function operationDetail(op: Operation__Output): void {
  const lines = [`operation ${op.id} (${op.type}): ${op.state}${progressText(op)}`];
  if (op.subjects.length) lines.push(`subjects: ${op.subjects.map((s) => `${s.kind} ${s.name}`).join(', ')}`);
  if (op.parentId) lines.push(`parent: ${op.parentId}`);
  if (op.childIds.length) lines.push(`children: ${op.childIds.join(', ')}`);
  if (op.undoingStep) lines.push(`undoing: ${op.undoingStep}`);
  if (op.error) lines.push(`error: ${op.error}`);
  process.stdout.write(lines.join('\n') + '\n');
  table(['STEP', 'STATE', 'TRIES', 'STARTED', 'FINISHED', 'OUTPUT / ERROR'], op.steps.map((s) => [s.name, s.state, s.attempts, s.startedAt, s.finishedAt, s.error || s.output]));
}

// Capacity comes from the manager's admin HTTP server (not the portal gRPC API).
interface CapRes { capacity: number; allocated: number; used: number; free: number; allocationPct: number }
interface CapGroup { cpu: CapRes; memory: CapRes; disk: CapRes; instances: { total: number }; nodes: { total: number; ready: number; down: number; cordoned: number } }

async function admin<T>(o: { admin: string; token?: string }, url: string): Promise<T> {
  const headers: Record<string, string> = {};
  // --token may land on the program (it is also the portal's flag) when written after `fit`.
  // Last, the token the manager made in its state directory (readable only by its user).
  const token = o.token || program.opts<ConnectionFlags>().token || readTokenFile(adminTokenFile(process.env.BERTH_STATE_DIR ?? '.berth'));
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(new URL(url, o.admin), { headers, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new Error(`cannot reach the admin server at ${o.admin}: ${(err as Error).message} (--admin or BERTH_ADMIN_URL)`);
  }
  const body = (await res.json().catch(() => ({}))) as T & { error?: { message: string } };
  if (!res.ok) throw new Error(`admin server answered ${res.status}: ${body.error?.message ?? res.statusText}${res.status === 401 ? ` (--token, BERTH_ADMIN_TOKEN, or the manager's ${adminTokenFile(process.env.BERTH_STATE_DIR ?? '.berth')} with BERTH_STATE_DIR)` : ''}`);
  return body;
}

const res3 = (r: CapRes, f: (n: number) => string) => `${f(r.allocated)}/${f(r.capacity)} (${Math.round(r.allocationPct)}%)`;
const capRow = (name: string, state: string, g: CapGroup): (string | number)[] => [
  name,
  state,
  res3(g.cpu, formatCpu),
  formatCpu(g.cpu.used),
  res3(g.memory, formatSize),
  formatSize(g.memory.used),
  formatSize(g.memory.free),
  res3(g.disk, formatSize),
  formatSize(g.disk.free),
  g.instances.total,
];

const adminOpts = (c: Command) =>
  c
    .option('--admin <url>', "the manager's admin HTTP address (or BERTH_ADMIN_URL)", process.env.BERTH_ADMIN_URL ?? 'http://127.0.0.1:7480')
    .option('--token <token>', 'admin bearer token (or BERTH_ADMIN_TOKEN; else $BERTH_STATE_DIR/admin-token, which the manager makes)', process.env.BERTH_ADMIN_TOKEN);

const capacity = adminOpts(program.command('capacity').description('fleet capacity: per zone, rack and node, allocated, used and free'))
  .option('--zone <zone>', 'only this zone')
  .action(async (o: { admin: string; token?: string; zone?: string }) => {
    type Repository = { spec: string; backups: number; backupBytes: number; binlogPieces: number; binlogBytes: number; freeBytes: number | null };
    type Report = { fleet: CapGroup; zones: (CapGroup & { zone: string })[]; racks: (CapGroup & { zone: string; rack: string })[]; nodes: (CapGroup & { name: string; state: string; cordoned: boolean })[]; repository?: Repository };
    const r = await admin<Report>(o, `/v1/capacity${o.zone ? `?zone=${encodeURIComponent(o.zone)}` : ''}`);
    if (json()) {
      print(r);
      return;
    }
    const nodesState = (g: CapGroup) => `${g.nodes.ready}/${g.nodes.total} ready${g.nodes.cordoned ? `, ${g.nodes.cordoned} cordoned` : ''}`;
    table(
      ['SCOPE', 'NODES/STATE', 'CPU ALLOC/CAP', 'CPU USED', 'MEM ALLOC/CAP', 'MEM USED', 'MEM FREE', 'DISK ALLOC/CAP', 'DISK FREE', 'INSTANCES'],
      [
        capRow('fleet', nodesState(r.fleet), r.fleet),
        ...r.zones.map((z) => capRow(`zone ${z.zone}`, nodesState(z), z)),
        ...r.racks.map((x) => capRow(`rack ${x.zone}/${x.rack}`, nodesState(x), x)),
        ...r.nodes.map((n) => capRow(n.name, n.state + (n.cordoned ? ',cordoned' : ''), n)),
      ],
    );
    const b = r.repository;
    if (b) process.stdout.write(`backup repository ${b.spec}: ${b.backups} backups ${formatSize(b.backupBytes)}, ${b.binlogPieces} binlog pieces ${formatSize(b.binlogBytes)}, ${b.freeBytes === null ? 'free space not known' : `${formatSize(b.freeBytes)} free`}\n`);
  });

capacity
  .command('fit')
  .description('how many more instances of a shape the fleet takes now, and what runs out first')
  .requiredOption('--cpu <cores>', 'CPU: 2, 0.5 or 500m', cpuOpt)
  .requiredOption('--memory <size>', 'memory: 8G', sizeOpt)
  .requiredOption('--disk <size>', 'disk reservation: 100G', sizeOpt)
  .option('--zone <zone>', 'only nodes in this zone')
  .action(async (_o: unknown, cmd: Command) => {
    // --admin and --token belong to `capacity`; they may be written before or after `fit`.
    const o = cmd.optsWithGlobals<{ admin: string; token?: string; cpu: number; memory: number; disk: number; zone?: string }>();
    const q = new URLSearchParams({ cpu: `${o.cpu}m`, memory: String(o.memory), disk: String(o.disk), ...(o.zone ? { zone: o.zone } : {}) });
    const r = await admin<{ results: { count: number; limitedBy: string; perNode: Record<string, number>; reasons: Record<string, number>; truncated: boolean }[] }>(o, `/v1/capacity/fit?${q}`);
    const f = r.results[0]!;
    if (json()) {
      print(f);
      return;
    }
    const what = `${formatCpu(o.cpu)} cpu / ${formatSize(o.memory)} / ${formatSize(o.disk)}${o.zone ? ` in zone ${o.zone}` : ''}`;
    process.stdout.write(
      `${f.count}${f.truncated ? '+' : ''} more instances of ${what} fit now` +
        (f.truncated ? ' (stopped counting)\n' : `; then ${f.limitedBy === 'nodes' ? 'no node is usable' : `${f.limitedBy} runs out first`}\n`),
    );
    if (Object.keys(f.perNode).length) table(['NODE', 'INSTANCES'], Object.entries(f.perNode).sort((a, b) => a[0].localeCompare(b[0])));
    if (Object.keys(f.reasons).length) process.stdout.write(`next one refused: ${Object.entries(f.reasons).map(([k, v]) => `${v} ${k}`).join(', ')}\n`);
  });

addSecurityCommands(program, portal, { json, print, table });
addClusterCommands(program, portal, { json, print, table, waitFor, opFailed });
addFailoverCommands(program, portal, { json, print });
addBackupCommands(program, portal, { json, print, table, follow, opFailed });

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
  .finally(() => {
    client?.close();
    streams?.raw.close();
  });
