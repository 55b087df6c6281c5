import type { Filter } from '../types';
import { affinity } from './affinity';
import { cpu } from './cpu';
import { disk } from './disk';
import { labels } from './labels';
import { maxInstances } from './maxinstances';
import { memory } from './memory';
import { pinned } from './pinned';
import { port } from './port';
import { ready } from './ready';
import { topology } from './topology';

// Cheapest and most decisive first: the first failing filter is the node's reason, so a node
// outside the requested zone says so rather than that it is short of memory.
export const DEFAULT_FILTERS: Filter[] = [pinned, ready, labels, affinity, topology, maxInstances, cpu, memory, disk, port];

export const FILTERS: Record<string, Filter> = Object.fromEntries(DEFAULT_FILTERS.map((f) => [f.name, f]));
