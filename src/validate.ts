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
}

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
    spec: { id: checkInstanceId(r.id), name: checkName('instance name', r.name), image: checkImage(r.image)!, ...shape, port: r.port, diskPath: r.diskPath, serverId: r.serverId, replica: !!r.replica, semiSyncTimeoutMs: checkSemiSyncTimeout(r.semiSyncTimeoutMs ?? 0) },
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
