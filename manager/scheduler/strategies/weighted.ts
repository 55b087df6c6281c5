import type { Strategy } from '../types';
import { binpack } from './binpack';
import { weightedShare } from './share';
import { spread } from './spread';

// Swarm-style weighted mix: sum of weight × (allocated + requested) / capacity per resource.
// Positive weights pack that resource, negative ones spread it, zero ignores it; the default
// 1/1/1 ranks like binpack. The disk choice follows the sign of the disk weight.
export const weighted: Strategy = {
  name: 'weighted',
  score: (node, req, config) => weightedShare(node, req, config.weights),
  pickDisk: (disks, req, config) => (config.weights.disk < 0 ? spread : binpack).pickDisk(disks, req, config),
};
