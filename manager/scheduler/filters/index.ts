import type { Filter } from '../types';
import { cpu } from './cpu';
import { disk } from './disk';
import { memory } from './memory';
import { pinned } from './pinned';
import { port } from './port';
import { ready } from './ready';

// Cheapest and most decisive first: the first failing filter is the node's reason.
export const DEFAULT_FILTERS: Filter[] = [pinned, ready, cpu, memory, disk, port];
