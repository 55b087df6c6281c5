// JSON Schemas shared by the routes; they validate input, shape output and feed the OpenAPI document.
export const CPU_PATTERN = '^\\d+(\\.\\d+)?m?$';
export const SIZE_PATTERN = '^\\d+(\\.\\d+)?[kKmMgGtTpP]?(i?[bB])?$';

const num = { type: 'number' } as const;
const str = { type: 'string' } as const;

const resource = {
  type: 'object',
  description: 'CPU in millicores; memory and disk in bytes',
  properties: { capacity: num, allocated: num, used: num, free: num, allocationPct: num, overcommit: num },
} as const;

const counts = {
  instances: { type: 'object', properties: { total: num, byState: { type: 'object', additionalProperties: num } } },
  nodes: { type: 'object', properties: { total: num, ready: num, down: num, cordoned: num } },
} as const;

const group = { cpu: resource, memory: resource, disk: resource, ...counts } as const;

const disk = {
  type: 'object',
  properties: {
    path: str,
    totalBytes: num,
    allocatedBytes: num,
    usedBytes: num,
    instancesUsedBytes: num,
    freeBytes: num,
    allocatableBytes: num,
    allocationPct: num,
    freePct: num,
  },
} as const;

export const nodeCapacitySchema = {
  type: 'object',
  properties: {
    name: str,
    host: str,
    zone: str,
    rack: str,
    labels: { type: 'object', additionalProperties: str },
    state: str,
    cordoned: { type: 'boolean' },
    schedulable: { type: 'boolean' },
    lastHeartbeatMs: num,
    ...group,
    disks: { type: 'array', items: disk },
  },
} as const;

export const capacityReportSchema = {
  type: 'object',
  properties: {
    at: str,
    fleet: { type: 'object', properties: group },
    zones: { type: 'array', items: { type: 'object', properties: { zone: str, ...group } } },
    racks: { type: 'array', items: { type: 'object', properties: { zone: str, rack: str, ...group } } },
    nodes: { type: 'array', items: nodeCapacitySchema },
    // With a backup repository: what the catalog says it holds, and its free space when known.
    repository: {
      type: 'object',
      properties: { spec: str, backups: num, backupBytes: num, binlogPieces: num, binlogBytes: num, usedBytes: num, freeBytes: { type: ['number', 'null'] } },
    },
  },
} as const;

export const fitResultSchema = {
  type: 'object',
  properties: {
    shape: { type: 'object', properties: { cpuMillis: num, memoryBytes: num, diskBytes: num, zone: str } },
    count: num,
    perNode: { type: 'object', additionalProperties: num },
    limitedBy: { type: 'string', enum: ['cpu', 'memory', 'disk', 'ports', 'nodes', 'limit'] },
    reasons: { type: 'object', additionalProperties: num },
    truncated: { type: 'boolean' },
  },
} as const;

export const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'page size' },
  offset: { type: 'integer', minimum: 0, default: 0, description: 'items to skip' },
} as const;

export const page = (items: object) =>
  ({
    type: 'object',
    properties: { items: { type: 'array', items }, total: num, limit: num, offset: num, next: { type: 'integer', nullable: true } },
  }) as const;

export const errorSchema = { type: 'object', properties: { error: { type: 'object', properties: { code: str, message: str } } } } as const;
