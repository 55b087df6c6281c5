import type { Strategy } from '../types';
import { cpuShare, cpuShareAt, memoryShare, memoryShareAt, unreserved } from './share';

// Least allocated after placement wins: the mean of the CPU and memory shares the node would
// have left, so one busy resource does not hide behind an idle one. The disk with the most
// unreserved space takes it, for the same reason one level down.
export const spread: Strategy = {
  name: 'spread',
  score: (node, req) => (1 - (cpuShare(node, req) + memoryShare(node, req)) / 2) * 100,
  scores(fleet, req, _config, pass, out) {
    const rc = req.cpuMillis;
    const rm = req.memoryBytes;
    for (let i = 0, n = fleet.length; i < n; i++) if (pass[i] !== 0) out[i] = (1 - (cpuShareAt(fleet, i, rc) + memoryShareAt(fleet, i, rm)) / 2) * 100;
  },
  pickDisk: (disks) => disks.reduce((best, d) => (unreserved(d) > unreserved(best) ? d : best)),
};
