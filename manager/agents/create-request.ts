import type { InstanceRow } from '../store/instances';

// What the agent's CreateInstance needs to build the instance its row describes; callers
// override what differs (a migration's target, a cluster member's replica settings).
// requireTls: mysqld refuses plaintext clients (a new instance under --mysql-require-tls; a
// migration's target when the instance required it: its clients keep what they had).
export function agentCreateRequest(i: InstanceRow, requireTls = false) {
  return {
    requireTls,
    id: i.id,
    name: i.name,
    image: i.image,
    resources: { cpuMillis: i.cpuMillis, memoryBytes: i.memoryBytes, diskBytes: i.diskBytes },
    port: i.port,
    diskPath: i.diskPath,
    serverId: i.serverId,
    adminUser: i.adminUser,
    adminPassword: i.adminPassword,
  };
}
