import type { Strategy } from '../types';
import { binpack } from './binpack';
import { weightedShare, weightedShareAt } from './share';
import { spread } from './spread';

// Swarm-style weighted mix: sum of weight × (allocated + requested) / capacity per resource.
// Positive weights pack that resource, negative ones spread it, zero ignores it; the default
// 1/1/1 ranks like binpack. The disk choice follows the sign of the disk weight.
export const weighted: Strategy = {
  name: 'weighted',
  score: (node, req, config) => weightedShare(node, req, config.weights),
  scores(fleet, req, config, pass, out) {
    const { cpuMillis: rc, memoryBytes: rm, diskBytes: rd } = req;
    const { cpu: wc, memory: wm, disk: wd } = config.weights;
    for (let i = 0, n = fleet.length; i < n; i++) if (pass[i] !== 0) out[i] = weightedShareAt(fleet, i, rc, rm, rd, wc, wm, wd);
  },
  pickDisk: (disks, req, config) => (config.weights.disk < 0 ? spread : binpack).pickDisk(disks, req, config),
};
