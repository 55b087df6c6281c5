import { DEFAULT_SCHEDULER_CONFIG, type FilterContext, type NodeSnapshot, type PlacementRequest } from './types';

// Hand-built snapshots for the scheduler's unit tests: an idle 8-core, 32G node with one 500G disk.
export const G = 1024 ** 3;
export const NOW = 1_000_000;
export const ctx = (over: Omit<Partial<FilterContext>, 'config'> & { config?: Partial<FilterContext['config']> } = {}): FilterContext => ({
  now: NOW,
  ...over,
  config: { ...DEFAULT_SCHEDULER_CONFIG, ...over.config },
});

export function testNode(name: string, over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    name,
    host: `127.0.0.${name.length}`,
    labels: {},
    cordoned: false,
    lastHeartbeatMs: NOW,
    capacity: { cpuMillis: 8000, memoryBytes: 32 * G },
    allocated: { cpuMillis: 0, memoryBytes: 0 },
    disks: [{ path: '/data1', totalBytes: 500 * G, freeBytes: 500 * G, allocatedBytes: 0 }],
    portMin: 3301,
    portMax: 3399,
    usedPorts: new Set(),
    instanceCount: 0,
    ...over,
  };
}

export const smallReq: PlacementRequest = { cpuMillis: 1000, memoryBytes: 2 * G, diskBytes: 20 * G };
