import type { Strategy } from '../types';
import { cpuShare, cpuShareAt, diskShare, diskShareAt, memoryShare, memoryShareAt, unreserved } from './share';

// Most allocated after placement wins, so free capacity stays together on fewer, emptier hosts
// where large shapes still fit. All three resources count: a host full on CPU but with idle disk
// is not "full". The disk is the best fit: the one left with the least unreserved space.
export const binpack: Strategy = {
  name: 'binpack',
  score: (node, req) => ((cpuShare(node, req) + memoryShare(node, req) + diskShare(node, req)) / 3) * 100,
  scores(fleet, req, _config, pass, out) {
    const rc = req.cpuMillis;
    const rm = req.memoryBytes;
    const rd = req.diskBytes;
    for (let i = 0, n = fleet.length; i < n; i++) {
      if (pass[i] !== 0) out[i] = ((cpuShareAt(fleet, i, rc) + memoryShareAt(fleet, i, rm) + diskShareAt(fleet, i, rd)) / 3) * 100;
    }
  },
  pickDisk: (disks) => disks.reduce((best, d) => (unreserved(d) < unreserved(best) ? d : best)),
};
