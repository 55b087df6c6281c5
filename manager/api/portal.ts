import * as grpc from '@grpc/grpc-js';
import type { PortalHandlers } from '../../src/gen/berth/v1/Portal';
import { BerthError, failedPrecondition, invalidArgument, notFound, permissionDenied } from '../../src/errors';
import { callerOf, checkRequestId, priorRequest, requestKey, withRequestIds } from './requests';
import { portalRequestMethods } from './request-methods';
import type { OperationRow } from '../store/operations';
import type { Logger } from '../../src/log';
import { portalProto } from '../../src/proto';
import { guarded, unary } from '../../src/rpc';
import { portalGuard, principalOf, type PortalAuth } from '../auth/principal';
import { tokenHandlers } from '../auth/token-rpcs';
import { certHandlers } from './cert-rpcs';
import type { RevocationState } from '../state/revocations';
import { planOfMemberResize } from '../clusters/guard';
import { checkAntiAffinityGroup, checkImage, checkName, checkShape, checkStrategyName } from '../../src/validate';
import { parseConstraints, parseSpreadOver } from '../scheduler/constraints';
import type { OperationDeps } from '../operations/deps';
import { planCreate, type PlacementOptions } from '../operations/placement';
import { removeNode } from '../operations/nodes';
import { dataKept } from '../operations/create';
import type { Engine } from '../operations/engine';
import type { Snapshot } from '../scheduler/snapshot';
import type { FleetState } from '../state/fleet';
import type { SchedulerConfig } from '../scheduler/types';
import type { Store } from '../store/index';
import { stableEndpoints } from './stable-endpoints';
import type { InstanceRow } from '../store/instances';
import { explain } from '../scheduler/schedule';
import { servingNode, toInstance, toNode, toOperation } from './convert';
import { planResize, resizeRequest } from './resize';
import { requestedImage, type FlavorImages } from './flavor';
import { pageOf } from './paging';
import { failoverHandlers } from './failover-rpcs';
import { clusterHandlers } from './clusters';
import { watchHandlers } from './watch';
import type { ViewDeps } from './cluster-view';
import { backupHandlers } from './backups';
import { binlogArchiveHandlers } from './binlog-archives';
import type { ArchiveView } from '../health/binlog-archiver';
import { backupPolicyHandlers } from './backup-policies';
import type { TargetStatus } from '../backups/status';
import type { BackupOps } from '../operations/backups';

const MAX_WAIT_MS = 15 * 60_000;

export interface PortalDeps {
  store: Store;
  snapshot: Snapshot;
  // What the operation types are built from: the dry runs (PlanInstance) read the same.
  ops: OperationDeps;
  engine: Engine;
  fleet: FleetState;
  scheduler: SchedulerConfig;
  log: Logger;
  images: FlavorImages;
  // Who may call what (manager/auth): every RPC passes the guard first.
  auth: PortalAuth;
  // The fleet CA (PEM) that signed the nodes' MySQL certificates, handed to clients with the
  // credentials of an instance that serves TLS.
  mysqlCaPem?: string;
  // The agents answer GetCluster's live status.
  agents: ViewDeps['agents'];
  // Certificate revocation (RevokeCertificate); the guard checks callers against it (auth.revoked).
  revocations: RevocationState;
  // The cluster reconciler's side: why a cluster has no writable primary, and acknowledging a
  // blocked failover runs it at once.
  failover?: { problem: NonNullable<ViewDeps['problem']>; acknowledged(cluster: string): Promise<string | undefined> };
  // Backups and restores (refused with FAILED_PRECONDITION when no repository is configured).
  backups: BackupOps;
  // Per target a backup policy covers (the backup scheduler's status).
  backupStatus?: () => TargetStatus[];
  adminUser: string;
  // The binlog archiver reconciler's view of each archive.
  archiveView?: (cluster: string) => ArchiveView | undefined;
}

// The same create asked for twice: same shape, same image (or none given), same pinned node and
// anti-affinity group. A different shape under a taken name stays ALREADY_EXISTS.
function sameCreate(i: InstanceRow, r: { cpuMillis: number; memoryBytes: number; diskBytes: number; image: string; node?: string; group: string }): boolean {
  return (
    i.cpuMillis === r.cpuMillis &&
    i.memoryBytes === r.memoryBytes &&
    i.diskBytes === r.diskBytes &&
    (!r.image || r.image === i.image) &&
    (!r.node || r.node === i.node) &&
    r.group === i.antiAffinityGroup
  );
}

// What makes two CreateInstance calls the same request (for request ids).
const createFields = (r: { name: string; resources?: unknown; image: string; node: string; constraints: string[]; cluster: string; antiAffinityGroup: string; spreadOver: string; strategy: string; flavor: string }) => ({
  name: r.name, resources: r.resources ?? null, image: r.image, node: r.node, constraints: r.constraints, cluster: r.cluster,
  antiAffinityGroup: r.antiAffinityGroup, spreadOver: r.spreadOver, strategy: r.strategy, flavor: r.flavor,
});

// Thin: validate, then hand over to operations or read the store. Every bad input is refused
// here, before anything is written.
export function addPortal(server: grpc.Server, d: PortalDeps): void {
  const { store, log } = d;
  const nodeOf = (i: InstanceRow) => servingNode(d.snapshot, i.node, d.scheduler, Date.now());
  const hostOf = (i: InstanceRow) => nodeOf(i).host;
  const findInstance = (ref: string) => {
    if (!ref) throw invalidArgument('instance (an id or a name) is required');
    const i = store.instances.find(ref);
    if (!i) throw notFound(`no instance ${ref}`);
    return i;
  };
  const findNode = (name: string) => {
    checkName('node name', name);
    const n = store.nodes.get(name);
    if (!n) throw notFound(`no node ${name}`);
    return n;
  };
  // The placement fields shared by CreateInstance and PlanInstance; any bad one is refused here.
  const placementOpts = (r: { node: string; constraints: string[]; cluster: string; antiAffinityGroup: string; spreadOver: string; strategy: string }): PlacementOptions => {
    if (r.node) checkName('node name', r.node);
    return {
      node: r.node || undefined,
      constraints: parseConstraints(r.constraints),
      antiAffinityGroup: checkAntiAffinityGroup(r),
      spreadOver: parseSpreadOver(r.spreadOver),
      strategy: checkStrategyName(r.strategy),
    };
  };
  const instanceOut = (i: InstanceRow) => {
    const t = store.instanceTls.get(i.id);
    return { ...toInstance(i, nodeOf(i)), tls: t.tls, tlsRequired: t.required, endpoints: stableEndpoints(store, { instance: i }) };
  };
  const credentialsOf = (i: InstanceRow) => {
    const t = store.instanceTls.get(i.id);
    return { instanceId: i.id, host: hostOf(i), port: i.port, user: i.adminUser, password: i.adminPassword, tls: t.tls, tlsRequired: t.required, caCertificate: t.tls ? (d.mysqlCaPem ?? '') : '', endpoints: stableEndpoints(store, { instance: i }) };
  };
  const nodeOut = (name: string) => toNode(store.nodes.get(name)!, d.snapshot.get(name), d.scheduler, Date.now());

  const h: Omit<PortalHandlers, 'CreateToken' | 'ListTokens' | 'RevokeToken'> = {
    CreateInstance: unary(log, 'CreateInstance', async (req, call) => {
      const name = checkName('instance name', req.name);
      const shape = checkShape(req.resources);
      const image = requestedImage(req, d.images);
      const opts = placementOpts(req);
      const key = requestKey(callerOf(call), checkRequestId(req.requestId), 'CreateInstance', createFields(req));
      // The creator gets the new instance's credentials with the answer. A repeated create
      // answers about an instance that may be anyone's (same name and shape is all it takes), so
      // its credentials go only where GetCredentials would send them: to an admin, and as an
      // audited read. Everyone else gets the instance and its operation without them. A retry
      // under the caller's own request id is the creator itself (ids are per caller): it gets
      // them again, audited.
      const out = (instance: InstanceRow, operation: OperationRow | undefined, answer: 'new' | 'own-retry' | 'by-name') => ({
        instance: instanceOut(instance),
        operation: operation ? toOperation(operation) : null,
        credentials:
          answer === 'new' ? credentialsOf(instance)
          : answer === 'own-retry' ? credentialsRead(call, instance, 'CreateInstance retried with its request_id')
          : auditedCredentials(call, instance, 'CreateInstance repeated by name'),
      });
      // A request id seen before: what that call made, as it stands now.
      const prior = () => {
        const r = priorRequest(store, key);
        if (!r) return undefined;
        const i = store.instances.get(r.instanceId);
        if (!i) throw failedPrecondition(`request_id ${r.id} created instance ${r.instanceId}, which has been deleted since`);
        return out(i, store.operations.get(r.operationId), 'own-retry');
      };
      // Retry-safe without a request id too: a caller that lost the answer (the manager died, a
      // timeout) and asks again for the same name, shape and options gets the instance it
      // already has and its operation.
      const replay = () => {
        const i = store.instances.find(name);
        if (!i || !sameCreate(i, { ...shape, image: image ?? '', node: opts.node, group: opts.antiAffinityGroup ?? '' })) return undefined;
        if (dataKept(i)) return d.engine.submit('create', { retryInstanceId: i.id }, { request: key }).then((op) => out(store.instances.get(i.id)!, op, 'by-name'));
        const op = store.operations.page({ type: 'create', instance: i.id, limit: 1, offset: 0 }).items[0];
        return op && out(i, op, 'by-name');
      };
      const again = prior() ?? replay();
      if (again) return again;
      try {
        const operation = await d.engine.submit('create', { name, shape, image, ...opts }, { request: key });
        return out(store.instances.get(operation.params.instanceId)!, operation, 'new');
      } catch (err) {
        // Another call with this name or this key committed first (a client's retry racing its
        // first attempt): answer as that one.
        if (err instanceof BerthError && err.code === grpc.status.ALREADY_EXISTS) return prior() ?? replay() ?? Promise.reject(err);
        throw err;
      }
    }),
    GetInstance: unary(log, 'GetInstance', (req) => {
      const i = findInstance(req.instance);
      return instanceOut(i);
    }),
    ListInstances: unary(log, 'ListInstances', (req) => {
      if (req.node) findNode(req.node);
      const rows = req.node ? store.instances.onNode(req.node) : store.instances.all();
      const { items, next } = pageOf(rows, (i) => `${i.createdAt}\u0000${i.id}`, req);
      return { instances: items.map(instanceOut), nextPageToken: next };
    }),
    DeleteInstance: unary(log, 'DeleteInstance', (req, call) => {
      if (req.force) mustBeAdmin(call, 'a forced delete');
      // request_id: withRequestIds below.
      return d.engine.submit('delete', { instance: findInstance(req.instance).id, force: req.force }).then(toOperation);
    }),
    GetCredentials: unary(log, 'GetCredentials', (req, call) => credentialsRead(call, findInstance(req.instance), 'GetCredentials')),
    PlanInstance: unary(log, 'PlanInstance', (req) => {
      if (req.resizeInstance) return planOfMemberResize(planResize(d.ops, req), findInstance(req.resizeInstance), req.resizeMode);
      const shape = checkShape(req.resources);
      const { result, verdicts, strategy } = planCreate(d.ops, shape, placementOpts(req));
      const chosen = result.ok ? result.placement.node : '';
      return {
        verdicts: verdicts.map((v) => ({
          node: v.node,
          fits: v.score !== undefined,
          filter: v.filter ?? '',
          reason: v.reason ?? '',
          score: v.score ?? 0,
          chosen: v.node === chosen,
        })),
        placement: result.ok ? result.placement : null,
        message: result.ok ? '' : explain(result),
        strategy,
        relaxedSoft: result.ok && result.relaxedSoft,
      };
    }),
    ListNodes: unary(log, 'ListNodes', (req) => {
      const { items, next } = pageOf(store.nodes.all(), (n) => n.name, req);
      return { nodes: items.map((n) => nodeOut(n.name)), nextPageToken: next };
    }),
    CordonNode: unary(log, 'CordonNode', (req) => cordon(req.name, true)),
    UncordonNode: unary(log, 'UncordonNode', (req) => cordon(req.name, false)),
    GetOperation: unary(log, 'GetOperation', (req) => {
      const op = store.operations.get(req.id);
      if (!op) throw notFound(`no operation ${req.id}`);
      return toOperation(op);
    }),
    WaitOperation: unary(log, 'WaitOperation', async (req, call) => {
      if (!store.operations.get(req.id)) throw notFound(`no operation ${req.id}`);
      const timeout = Math.min(req.timeoutMs || 60_000, MAX_WAIT_MS);
      // A client that cancels (or whose deadline passes) stops being a listener at once.
      const gone = new AbortController();
      call.once('cancelled', () => gone.abort());
      return toOperation((await d.engine.wait(req.id, timeout, gone.signal))!);
    }, MAX_WAIT_MS + 30_000),
    ResizeInstance: unary(log, 'ResizeInstance', (req) => d.engine.submit('resize', resizeRequest(req)).then(toOperation)),
    DrainNode: unary(log, 'DrainNode', (req) => {
      findNode(req.name);
      return d.engine.submit('drain', { node: req.name }).then(toOperation);
    }),
    RemoveNode: unary(log, 'RemoveNode', (req) => {
      findNode(req.name);
      return { name: req.name, forgottenInstances: removeNode(d.ops, (id) => d.engine.busy(id), req.name, req.force) };
    }),
    RetryOperation: unary(log, 'RetryOperation', (req) => {
      if (!store.operations.get(req.id)) throw notFound(`no operation ${req.id}`);
      return toOperation(d.engine.retry(req.id));
    }),
  };

  // Every read of an instance's admin password is an event naming who and which instance.
  function credentialsRead(call: object, i: InstanceRow, via: string) {
    const who = principalOf(call)?.who ?? 'unknown';
    d.fleet.event('credentials.read', i.id, `${who} read the admin credentials of ${i.name} (${via})`);
    log.info({ instance: i.id, who, via }, 'credentials read');
    return credentialsOf(i);
  }

  // Credentials for an answer that is not the caller's own new instance: admin only, audited.
  function auditedCredentials(call: object, i: InstanceRow, via: string) {
    const p = principalOf(call);
    if (p && p.role !== 'admin') return null;
    return credentialsRead(call, i, via);
  }

  function mustBeAdmin(call: object, what: string): void {
    const p = principalOf(call);
    if (p && p.role !== 'admin') throw permissionDenied(`${what} needs the admin role; ${p.who} has ${p.role}`);
  }

  function cordon(name: string, cordoned: boolean) {
    findNode(name);
    d.fleet.setCordoned(name, cordoned);
    return nodeOut(name);
  }

  const clusters = clusterHandlers({ store, snapshot: d.snapshot, scheduler: d.scheduler, agents: d.agents, engine: d.engine, images: d.images, log, problem: d.failover?.problem });
  const all = { ...h, ...clusters, ...tokenHandlers(d.auth.tokens, (kind, subject, message) => d.fleet.event(kind, subject, message), log), ...certHandlers(d.revocations, log), ...failoverHandlers(d.fleet, log, d.failover?.acknowledged), ...watchHandlers({ store, fleet: d.fleet, operation: (id) => d.engine.get(id), log }), ...backupHandlers({ store, backups: d.backups, images: d.images, adminUser: d.adminUser, log, instanceOut }), ...binlogArchiveHandlers({ fleet: d.fleet, backup: d.ops.backup, view: d.archiveView ?? (() => undefined), log }), ...backupPolicyHandlers({ store, backups: d.backups, status: d.backupStatus ?? (() => []), log }) };
  // Every mutating RPC takes a request_id (api/requests.ts); the guard runs first, so ids are per caller.
  const retrySafe = withRequestIds(all, portalRequestMethods({ store, snapshot: d.snapshot, scheduler: d.scheduler, agents: d.agents, tokens: d.auth.tokens }), store);
  server.addService(portalProto().berth.v1.Portal.service, guarded(retrySafe, portalGuard(d.auth)));
}
