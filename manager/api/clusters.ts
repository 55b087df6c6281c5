import type { Logger } from '../../src/log';
import { invalidArgument, notFound } from '../../src/errors';
import type { PortalHandlers } from '../../src/gen/berth/v1/Portal';
import { unary } from '../../src/rpc';
import { checkName, checkSemiSyncTimeout, checkShape, checkStrategyName } from '../../src/validate';
import type { Engine } from '../operations/engine';
import { DEFAULT_GROUP_CONSISTENCY, DEFAULT_MEMBER_WEIGHT, GROUP_SIZES } from '../clusters/group';
import { GROUP_CONSISTENCY } from '../../src/validate';
import { DEFAULT_SEMI_SYNC_TIMEOUT_MS, MAX_CLUSTER_NAME, MAX_REPLICAS, REPLICATION_MODES, type ReplicationMode } from '../clusters/types';
import { clusterView, endpointsOf, toHistoryEntry, type ViewDeps } from './cluster-view';
import { parseConstraints, parseSpreadOver } from '../scheduler/constraints';
import { toOperation, servingNode } from './convert';
import { requestedImage, type FlavorImages } from './flavor';
import { pageOf } from './paging';

export interface ClusterApiDeps extends ViewDeps {
  engine: Engine;
  images: FlavorImages;
  log: Logger;
}

type ClusterHandlers = Pick<
  PortalHandlers,
  'CreateCluster' | 'GetCluster' | 'ListClusters' | 'DeleteCluster' | 'GetClusterEndpoints' | 'ListClusterHistory' | 'AddReplica' | 'RemoveReplica' | 'Switchover'
>;

export function checkClusterName(name: string): string {
  checkName('cluster name', name);
  if (name.length > MAX_CLUSTER_NAME) throw invalidArgument(`cluster name "${name}" is too long: at most ${MAX_CLUSTER_NAME} characters (members are named <cluster>-<n>)`);
  return name;
}

// Replicas 0-5; semi-sync (the default with replicas) needs at least one, async takes no timeout.
export function checkReplication(req: { replicas: number; replication: string; semiSyncTimeoutMs: number }): { replicas: number; replication: ReplicationMode; semiSyncTimeoutMs: number } {
  if (!Number.isInteger(req.replicas) || req.replicas < 0 || req.replicas > MAX_REPLICAS) throw invalidArgument(`replicas must be between 0 and ${MAX_REPLICAS}, got ${req.replicas}`);
  const replication = (req.replication || (req.replicas > 0 ? 'semi-sync' : 'async')) as ReplicationMode;
  if (!REPLICATION_MODES.includes(replication) || replication === 'group') throw invalidArgument(`replication "${req.replication.slice(0, 40)}" is not one of ${REPLICATION_MODES.join(', ')}`);
  if (replication === 'semi-sync' && req.replicas === 0) throw invalidArgument('semi-sync replication needs at least one replica to acknowledge writes');
  if (replication === 'async' && req.semiSyncTimeoutMs) throw invalidArgument('semi_sync_timeout_ms applies to semi-sync replication only');
  const semiSyncTimeoutMs = replication === 'semi-sync' ? checkSemiSyncTimeout(req.semiSyncTimeoutMs || DEFAULT_SEMI_SYNC_TIMEOUT_MS) : 0;
  return { replicas: req.replicas, replication, semiSyncTimeoutMs };
}

export interface GroupRequest {
  members: number;
  consistency: string;
  memberWeight: number;
}

// A consensus cluster: 3, 5 or 7 members, single-primary only, a known consistency level and a
// weight of 0-100 (0: 50). Replicas and a semi-sync timeout belong to replicated clusters.
export function checkGroup(req: { replicas: number; semiSyncTimeoutMs: number; members: number; groupMode: string; groupConsistency: string; memberWeight: number }): GroupRequest {
  if (req.groupMode && req.groupMode !== 'single-primary') throw invalidArgument(`group mode "${req.groupMode.slice(0, 40)}" is not supported: berth runs groups single-primary (one writer the group elects); multi-primary is refused`);
  if (!GROUP_SIZES.includes(req.members)) throw invalidArgument(`a group has 3, 5 or 7 members (a majority must survive a failure), got ${req.members}`);
  if (req.replicas) throw invalidArgument('replicas applies to async and semi-sync clusters: a group takes members');
  if (req.semiSyncTimeoutMs) throw invalidArgument('semi_sync_timeout_ms applies to semi-sync replication only');
  const consistency = req.groupConsistency || DEFAULT_GROUP_CONSISTENCY;
  if (!(GROUP_CONSISTENCY as readonly string[]).includes(consistency)) throw invalidArgument(`group consistency "${consistency.slice(0, 40)}" is not one of ${GROUP_CONSISTENCY.join(', ')}`);
  if (!Number.isInteger(req.memberWeight) || req.memberWeight < 0 || req.memberWeight > 100) throw invalidArgument(`member weight must be between 0 and 100, got ${req.memberWeight}`);
  return { members: req.members, consistency, memberWeight: req.memberWeight || DEFAULT_MEMBER_WEIGHT };
}

// Thin, as the rest of the portal: validate, then submit the operation or read the store.
export function clusterHandlers(d: ClusterApiDeps): ClusterHandlers {
  const { log } = d;
  const find = (name: string) => {
    checkClusterName(name);
    const c = d.store.clusters.get(name);
    if (!c) throw notFound(`no cluster ${name}`);
    return c;
  };
  return {
    CreateCluster: unary(log, 'CreateCluster', async (req) => {
      const name = checkClusterName(req.name);
      const shape = checkShape(req.resources);
      const group = req.replication === 'group' ? checkGroup(req) : undefined;
      const repl = group ? undefined : checkReplication(req);
      const image = requestedImage(req, d.images);
      const constraints = parseConstraints(req.constraints);
      const spreadOver = parseSpreadOver(req.spreadOver);
      const strategy = checkStrategyName(req.strategy);
      const placement = { name, shape, image, constraints, spreadOver, strategy };
      const [operation, firstId] = group
        ? await d.engine.submit('cluster-group-create', { ...placement, ...group }).then((op) => [op, op.params.memberIds[0]!] as const)
        : await d.engine.submit('cluster-create', { ...placement, ...repl! }).then((op) => [op, op.params.primaryId] as const);
      const p = d.store.instances.get(firstId)!;
      const host = servingNode(d.snapshot, p.node, d.scheduler, Date.now()).host;
      return { cluster: await clusterView(d, find(name), false), operation: toOperation(operation), credentials: { instanceId: p.id, host, port: p.port, user: p.adminUser, password: p.adminPassword } };
    }),
    GetCluster: unary(log, 'GetCluster', (req) => clusterView(d, find(req.name), true)),
    ListClusters: unary(log, 'ListClusters', async (req) => {
      const { items, next } = pageOf(d.store.clusters.all(), (c) => c.name, req);
      return { clusters: await Promise.all(items.map((c) => clusterView(d, c, false))), nextPageToken: next };
    }),
    DeleteCluster: unary(log, 'DeleteCluster', (req) => d.engine.submit('cluster-delete', { cluster: find(req.name).name }).then(toOperation)),
    AddReplica: unary(log, 'AddReplica', (req) => {
      const c = find(req.cluster);
      if (req.node) checkName('node name', req.node);
      return d.engine.submit('cluster-add-replica', { cluster: c.name, node: req.node || undefined }).then(toOperation);
    }),
    RemoveReplica: unary(log, 'RemoveReplica', (req) => d.engine.submit('cluster-remove-replica', { cluster: find(req.cluster).name, instance: req.instance }).then(toOperation)),
    Switchover: unary(log, 'Switchover', (req) => d.engine.submit('cluster-switchover', { cluster: find(req.cluster).name, to: req.to || undefined }).then(toOperation)),
    GetClusterEndpoints: unary(log, 'GetClusterEndpoints', (req) => endpointsOf(d, find(req.name).name)),
    ListClusterHistory: unary(log, 'ListClusterHistory', (req) => {
      const c = find(req.cluster);
      if (req.limit > 1000) throw invalidArgument(`limit must be at most 1000, got ${req.limit}`);
      return { entries: d.store.clusters.history(c.name, req.limit || 100).map(toHistoryEntry) };
    }),
  };
}

