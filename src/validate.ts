import { invalidArgument } from './errors';

// Instance and node names end up in container names, directory names and MySQL-facing tools:
// keep them to a DNS label so they are safe in all of them.
const NAME = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkName(what: string, name: string | undefined): string {
  if (!name) throw invalidArgument(`${what} is required`);
  if (!NAME.test(name)) {
    throw invalidArgument(
      `${what} "${name.length > 70 ? name.slice(0, 64) + '…' : name}" is not valid: use 1-63 lowercase letters, digits and '-', starting with a letter and not ending with '-'`,
    );
  }
  return name;
}

export const LIMITS = {
  minCpuMillis: 100,
  maxCpuMillis: 256_000,
  minMemoryBytes: 256 * 1024 ** 2,
  maxMemoryBytes: 4 * 1024 ** 4,
  minDiskBytes: 64 * 1024 ** 2,
  maxDiskBytes: 1024 ** 5,
} as const;

export interface Shape {
  cpuMillis: number;
  memoryBytes: number;
  diskBytes: number;
}

// Proto3 scalars arrive as 0 when unset; a shape of 0 is never meant, so 0 reads as "missing".
export function checkShape(r: { cpuMillis?: number; memoryBytes?: number; diskBytes?: number } | null | undefined): Shape {
  if (!r) throw invalidArgument('resources are required: cpu, memory and disk');
  const { cpuMillis = 0, memoryBytes = 0, diskBytes = 0 } = r;
  const whole = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!whole(cpuMillis) || cpuMillis < LIMITS.minCpuMillis || cpuMillis > LIMITS.maxCpuMillis) {
    throw invalidArgument(`cpu must be between ${LIMITS.minCpuMillis}m and ${LIMITS.maxCpuMillis / 1000} cores (got ${cpuMillis}m)`);
  }
  if (!whole(memoryBytes) || memoryBytes < LIMITS.minMemoryBytes || memoryBytes > LIMITS.maxMemoryBytes) {
    throw invalidArgument(`memory must be between 256M and 4T (got ${memoryBytes} bytes)`);
  }
  if (!whole(diskBytes) || diskBytes < LIMITS.minDiskBytes || diskBytes > LIMITS.maxDiskBytes) {
    throw invalidArgument(`disk must be between 64M and 1P (got ${diskBytes} bytes)`);
  }
  return { cpuMillis, memoryBytes, diskBytes };
}

// The one set of input checks, called once at each edge (the gRPC portal, the admin HTTP API,
// the agent's RPCs) so that code behind an edge can trust what it gets.

const IMAGE = /^[a-z0-9][a-z0-9._/:@-]{0,254}$/;
const INSTANCE_ID = /^i-[0-9a-f]{10,32}$/;
const STRATEGY = /^[a-z]{1,32}$/;

export function checkImage(image: string | undefined): string | undefined {
  if (!image) return undefined;
  if (!IMAGE.test(image)) throw invalidArgument(`image "${image.slice(0, 80)}" is not a valid image reference`);
  return image;
}

export function checkInstanceId(id: string | undefined): string {
  if (!id || !INSTANCE_ID.test(id)) throw invalidArgument(`instance id "${(id ?? '').slice(0, 40)}" is not a berth instance id`);
  return id;
}

export function checkStrategyName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  if (!STRATEGY.test(name)) throw invalidArgument(`unknown strategy "${name.slice(0, 40)}": use spread, binpack or weighted`);
  return name;
}

// The anti-affinity group: its new field wins; the old `cluster` field is still read.
export function checkAntiAffinityGroup(r: { antiAffinityGroup?: string; cluster?: string }): string | undefined {
  if (r.antiAffinityGroup && r.cluster && r.antiAffinityGroup !== r.cluster) {
    throw invalidArgument(`anti_affinity_group "${r.antiAffinityGroup}" and the deprecated cluster "${r.cluster}" disagree: set only anti_affinity_group`);
  }
  if (r.antiAffinityGroup) return checkName('anti-affinity group', r.antiAffinityGroup);
  return r.cluster ? checkName('cluster (anti-affinity group)', r.cluster) : undefined;
}

export interface NodeInfoInput {
  name: string;
  agentAddress: string;
  host: string;
  portMin: number;
  portMax: number;
  disks: unknown[];
}

export function checkNodeInfo<T extends NodeInfoInput>(n: T | null | undefined): T {
  if (!n) throw invalidArgument('node is required');
  checkName('node name', n.name);
  if (!n.agentAddress || !n.host) throw invalidArgument('agent address and host are required');
  if (n.portMin < 1 || n.portMax > 65535 || n.portMin > n.portMax) throw invalidArgument(`bad port range ${n.portMin}-${n.portMax}`);
  if (n.disks.length === 0) throw invalidArgument('a node needs at least one data disk');
  return n;
}

export interface AgentCreateInput {
  id: string;
  name: string;
  image: string;
  resources?: { cpuMillis?: number; memoryBytes?: number; diskBytes?: number } | null;
  port: number;
  diskPath: string;
  serverId: number;
  adminUser: string;
  adminPassword: string;
  replica?: boolean;
  semiSyncTimeoutMs?: number;
  group?: GroupConfigInput | null;
}

export interface GroupConfigInput {
  groupName: string;
  localAddress: string;
  seeds: string[];
  allowlist: string[];
  memberWeight: number;
  consistency: string;
  autorejoinTries: number;
  // MariaDB Galera (AgentGroupConfig.galera_*): empty cluster name means none.
  galeraClusterName?: string;
  galeraAddress?: string;
  galeraPeers?: string[];
  galeraIstAddress?: string;
  galeraSstAddress?: string;
  galeraIncomingAddress?: string;
  galeraBootstrap?: boolean;
  galeraSstUser?: string;
  galeraSstPassword?: string;
  galeraGtidDomain?: number;
}

export const GROUP_CONSISTENCY = ['EVENTUAL', 'BEFORE_ON_PRIMARY_FAILOVER', 'BEFORE', 'AFTER', 'BEFORE_AND_AFTER'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Host names or IPv4 addresses only: these go into my.cnf, where a space, comma or newline
// would change what the server reads.
const HOST = /^[A-Za-z0-9.-]{1,253}$/;
function checkHostPort(what: string, a: string): string {
  const m = /^([^:]+):(\d{1,5})$/.exec(a);
  if (!m || !HOST.test(m[1]!) || Number(m[2]) < 1 || Number(m[2]) > 65535) throw invalidArgument(`${what} "${a.slice(0, 60)}" is not host:port`);
  return a;
}

// A consensus cluster member's group settings, before they are written into its my.cnf.
export function checkGroupConfig(g: GroupConfigInput) {
  if (!UUID.test(g.groupName)) throw invalidArgument(`group name "${g.groupName.slice(0, 40)}" is not a lower-case UUID`);
  checkHostPort('group local address', g.localAddress);
  if (g.seeds.length < 1 || g.seeds.length > 9) throw invalidArgument(`a group has 1 to 9 seeds, got ${g.seeds.length}`);
  g.seeds.forEach((s) => checkHostPort('group seed', s));
  if (g.allowlist.length < 1 || g.allowlist.length > 9) throw invalidArgument(`a group allowlist has 1 to 9 hosts, got ${g.allowlist.length}`);
  for (const h of g.allowlist) if (!HOST.test(h)) throw invalidArgument(`group allowlist host "${h.slice(0, 60)}" is not a host name or address`);
  if (!Number.isInteger(g.memberWeight) || g.memberWeight < 0 || g.memberWeight > 100) throw invalidArgument(`member weight ${g.memberWeight} is not between 0 and 100`);
  if (!(GROUP_CONSISTENCY as readonly string[]).includes(g.consistency)) throw invalidArgument(`group consistency "${g.consistency.slice(0, 40)}" is not one of ${GROUP_CONSISTENCY.join(', ')}`);
  if (!Number.isInteger(g.autorejoinTries) || g.autorejoinTries < 0 || g.autorejoinTries > 2016) throw invalidArgument(`autorejoin tries ${g.autorejoinTries} is not between 0 and 2016`);
  const galera = g.galeraClusterName ? { galera: checkGaleraConfig(g) } : {};
  return { groupName: g.groupName, localAddress: g.localAddress, seeds: [...g.seeds], allowlist: [...g.allowlist], memberWeight: g.memberWeight, consistency: g.consistency, autorejoinTries: g.autorejoinTries, ...galera };
}

// Galera's part of a member's my.cnf: names, addresses and the state transfer account, none of
// which may carry a space, quote, comma, semicolon or newline (wsrep_provider_options and
// wsrep_sst_auth are lists split on those).
const GALERA_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const SECRET = /^[A-Za-z0-9_-]{8,64}$/;
function checkGaleraConfig(g: GroupConfigInput) {
  if (!GALERA_NAME.test(g.galeraClusterName!)) throw invalidArgument(`galera cluster name "${g.galeraClusterName!.slice(0, 40)}" is not letters, digits, _ or -`);
  const peers = g.galeraPeers ?? [];
  if (peers.length < 1 || peers.length > 9) throw invalidArgument(`a galera cluster has 1 to 9 peers, got ${peers.length}`);
  peers.forEach((p) => checkHostPort('galera peer', p));
  if (!USER.test(g.galeraSstUser ?? '')) throw invalidArgument('the galera state transfer user is letters, digits and _ (1-32)');
  if (!SECRET.test(g.galeraSstPassword ?? '')) throw invalidArgument('the galera state transfer password is 8-64 letters, digits, _ or -');
  const domain = g.galeraGtidDomain ?? 0;
  if (!Number.isInteger(domain) || domain < 1 || domain > 2 ** 32 - 1) throw invalidArgument(`galera GTID domain ${domain} is out of range`);
  return {
    clusterName: g.galeraClusterName!,
    address: checkHostPort('galera address', g.galeraAddress ?? ''),
    peers: [...peers],
    istAddress: checkHostPort('galera IST address', g.galeraIstAddress ?? ''),
    sstAddress: checkHostPort('galera SST address', g.galeraSstAddress ?? ''),
    incomingAddress: checkHostPort('galera incoming address', g.galeraIncomingAddress ?? ''),
    bootstrap: !!g.galeraBootstrap,
    sstUser: g.galeraSstUser!,
    sstPassword: g.galeraSstPassword!,
    gtidDomain: domain,
  };
}
const USER = /^[A-Za-z0-9_]{1,32}$/;

// What an agent accepts in CreateInstance; the node-specific checks (port range, disks) are
// the agent's, against its own configuration.
export function checkAgentCreate(r: AgentCreateInput) {
  const shape = checkShape(r.resources);
  if (!r.adminUser || !r.adminPassword) throw invalidArgument('admin user and password are required');
  if (!r.image) throw invalidArgument('image is required');
  if (!Number.isSafeInteger(r.serverId) || r.serverId < 1 || r.serverId > 2 ** 32 - 1) throw invalidArgument(`server id ${r.serverId} is out of range`);
  if (!Number.isSafeInteger(r.port) || r.port < 1 || r.port > 65535) throw invalidArgument(`port ${r.port} is out of range`);
  if (!r.diskPath || !r.diskPath.startsWith('/')) throw invalidArgument('disk path must be absolute');
  return {
    spec: { id: checkInstanceId(r.id), name: checkName('instance name', r.name), image: checkImage(r.image)!, ...shape, port: r.port, diskPath: r.diskPath, serverId: r.serverId, replica: !!r.replica, semiSyncTimeoutMs: checkSemiSyncTimeout(r.semiSyncTimeoutMs ?? 0), ...(r.group ? { group: checkGroupConfig(r.group) } : {}) },
    admin: { user: r.adminUser, password: r.adminPassword },
  };
}

// 0: no semi-sync. Otherwise between 100 ms and an hour.
export function checkSemiSyncTimeout(ms: number): number {
  if (!Number.isSafeInteger(ms) || ms < 0 || (ms > 0 && ms < 100) || ms > 3_600_000) throw invalidArgument(`semi-sync timeout ${ms} ms is out of range (100 ms to 1 h)`);
  return ms;
}

// A resize names only what changes (0: keep); each field set must be a valid shape value.
export function checkShapeChange(r: { cpuMillis?: number; memoryBytes?: number; diskBytes?: number } | null | undefined): Partial<Shape> {
  const { cpuMillis = 0, memoryBytes = 0, diskBytes = 0 } = r ?? {};
  if (!cpuMillis && !memoryBytes && !diskBytes) throw invalidArgument('a resize needs at least one of cpu, memory and disk');
  const full = checkShape({ cpuMillis: cpuMillis || LIMITS.minCpuMillis, memoryBytes: memoryBytes || LIMITS.minMemoryBytes, diskBytes: diskBytes || LIMITS.minDiskBytes });
  return { ...(cpuMillis ? { cpuMillis: full.cpuMillis } : {}), ...(memoryBytes ? { memoryBytes: full.memoryBytes } : {}), ...(diskBytes ? { diskBytes: full.diskBytes } : {}) };
}

const RESIZE_MODES = ['auto', 'in-place', 'migrate'] as const;
export function checkResizeMode(mode: string | undefined): (typeof RESIZE_MODES)[number] {
  if (!mode) return 'auto';
  if (!(RESIZE_MODES as readonly string[]).includes(mode)) throw invalidArgument(`mode "${mode.slice(0, 40)}" is not one of ${RESIZE_MODES.join(', ')}`);
  return mode as (typeof RESIZE_MODES)[number];
}
