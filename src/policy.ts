// Who may call the agent-facing services, one entry per RPC (the portal's and the admin HTTP
// server's tables are in manager/auth/policy.ts). The attack suite (test/attack-matrix.test.ts)
// is generated from these tables: it calls every method of every service as every kind of
// caller, and fails for a method that has no entry here.

// Registry (the manager's side for agents): only a node certificate naming the node the request
// is about (NodeInfo.name, HeartbeatRequest.node), not revoked.
export const REGISTRY_POLICY: Record<string, 'own-node'> = {
  Register: 'own-node',
  Heartbeat: 'own-node',
};

// Agent: the manager's certificate; a hot copy's source (StreamBackup) also answers the target
// node's certificate carrying the manager's grant for that instance and node. Revoked
// certificates are refused whatever they name.
export type AgentCaller = 'manager' | 'manager-or-granted-node';
export const AGENT_POLICY: Record<string, AgentCaller> = {
  CreateInstance: 'manager',
  StartInstance: 'manager',
  StopInstance: 'manager',
  RemoveInstance: 'manager',
  InspectInstance: 'manager',
  ListInstances: 'manager',
  ResizeInstance: 'manager',
  StreamBackup: 'manager-or-granted-node',
  SeedInstance: 'manager',
  CreateReplicationUser: 'manager',
  DropReplicationUser: 'manager',
  ConfigureReplica: 'manager',
  StartReplica: 'manager',
  StopReplica: 'manager',
  ResetReplica: 'manager',
  GetReplicaStatus: 'manager',
  SetReadOnly: 'manager',
  KillClientConnections: 'manager',
  WaitForGtid: 'manager',
  StartGroupReplication: 'manager',
  GetGroupStatus: 'manager',
  BackupInstance: 'manager',
  ArchiveBinlogs: 'manager',
  ApplyBinlogs: 'manager',
  RunBinlogArchiver: 'manager',
  StopBinlogArchiver: 'manager',
  VerifyTables: 'manager',
  ApplyRouter: 'manager',
};
