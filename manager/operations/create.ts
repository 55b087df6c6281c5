import { alreadyExists, failedPrecondition, resourceExhausted } from '../../src/errors';
import type { Shape } from '../../src/validate';
import { explain } from '../scheduler/schedule';
import type { OperationDeps } from './deps';
import { agentCreateRequest, instanceIdOf, mustInstance } from './deps';
import type { InstanceRow } from '../store/instances';
import { newId, newPassword, placementRequest, type PlacementOptions } from './placement';
import type { Admission, AdmitContext, OperationType, StepContext } from './types';

export interface CreateParams {
  instanceId: string;
}

// A new instance, validated at the API edge; or the same create again on the data a failed one
// kept (dataKept), from its container step.
export interface NewInstance extends PlacementOptions {
  name: string;
  shape: Shape;
  image?: string;
}
export type CreateRequest = NewInstance | { retryInstanceId: string };

type Ctx = StepContext<CreateParams>;

// Builds a reserved instance on its node. Admission chooses the node and reserves it in the
// transaction that records the operation (release() frees it when the create is undone).
export function createOperation(d: OperationDeps): OperationType<CreateParams, CreateRequest> {
  const fleet = d.fleet;
  // Instances whose agent answered this process's create with a running container (the agent
  // answers only once mysqld took a login): verify-running needs no second call for them. Held
  // in memory only, so after a restart verify-running asks the agent.
  const answered = new Set<string>();
  return {
    type: 'create',
    admit: (r, a) => ('retryInstanceId' in r ? admitRetry(d, r.retryInstanceId) : admitNew(d, r, a)),
    release: { run: (ctx) => void fleet.releaseInstance(instanceIdOf(ctx)) },
    // The row is gone when the undos worked. When they did not (the node went silent, say), the
    // reservation stays and the instance says what is left to clean: delete retries it.
    // An instance whose data was kept already says so (keepData).
    failed: (ctx, f) => {
      const i = fleet.store.instances.get(instanceIdOf(ctx));
      if (!f.clean && i && !dataKept(i)) fleet.updateInstance(i.id, { state: 'failed', message: `create failed and was not fully undone: ${f.error}` });
    },
    steps: [
      { name: 'create-container', run: (ctx) => createContainer(d, ctx, answered), undo: (ctx) => (answered.delete(instanceIdOf(ctx)), keepData(d, ctx)) },
      { name: 'verify-running', run: (ctx) => verifyRunning(d, ctx, answered) },
    ],
  };
}

// Choice and reservation in one synchronous step: nothing else runs between the scheduler
// reading the snapshot and the row that claims the resources being written, so two concurrent
// creates can never both take the last gigabyte. Group-committed (Engine.submit): a burst of
// creates is decided one after another, each on the snapshot with the ones before it applied.
function admitNew(d: OperationDeps, req: NewInstance, a: AdmitContext): Admission<CreateParams> {
  const { placementReq, strategy } = placementRequest(d, req.shape, req);
  if (d.fleet.store.instances.find(req.name)) throw alreadyExists(`an instance named ${req.name} already exists`);
  const t0 = process.hrtime.bigint();
  const r = d.fleet.snapshot.schedule(placementReq, { now: a.now, config: d.scheduler }, { strategy });
  d.onSchedule?.(Number(process.hrtime.bigint() - t0) / 1e9, r.ok);
  if (!r.ok) throw resourceExhausted(explain(r));
  const { node, diskPath, port } = r.placement;
  const instance = d.fleet.reserveInstance({
    id: newId('i'),
    name: req.name,
    serverId: d.fleet.store.instances.nextServerId(),
    node,
    diskPath,
    port,
    ...req.shape,
    image: req.image || d.defaultImage || '',
    state: 'pending',
    adminUser: d.adminUser ?? 'admin',
    adminPassword: newPassword(),
    antiAffinityGroup: req.antiAffinityGroup ?? '',
  });
  const soft = r.relaxedSoft ? ', preferences dropped: no node met them' : '';
  d.fleet.event('create.started', instance.id, `${req.name} placed on ${node} port ${port} (${diskPath})${soft}`);
  // A new instance: no other operation can hold it yet.
  return { params: { instanceId: instance.id }, subjects: [{ kind: 'instance', name: instance.id }], ifBusy: 'refuse' };
}

// A create that failed after mysqld had started kept the instance's data and reservation
// (keepData): asked for again, it runs again on them.
function admitRetry(d: OperationDeps, id: string): Admission<CreateParams> {
  const i = d.fleet.store.instances.get(id);
  if (!i || !dataKept(i)) throw failedPrecondition(`instance ${i?.name ?? id} is ${i?.state ?? 'gone'}: nothing to retry`);
  d.fleet.updateInstance(i.id, { state: 'pending', message: '' });
  d.fleet.event('create.retried', i.id, `create of ${i.name} retried on its kept data`);
  return { params: { instanceId: i.id }, subjects: [{ kind: 'instance', name: i.id }], ifBusy: 'refuse' };
}

async function createContainer(d: OperationDeps, ctx: Ctx, answered: Set<string>): Promise<{ containerId: string; flavor: string; version: string }> {
  const i = mustInstance(d, instanceIdOf(ctx));
  // Group-committed (state/fleet.ts commit): a burst of creates shares its fsyncs.
  await d.fleet.commit(() => d.fleet.updateInstance(i.id, { state: 'creating' }));
  const res = await d.agents.for(i.node).createInstance(
    agentCreateRequest(i, !!d.requireMysqlTls),
    d.agentCreateDeadlineMs,
  );
  await d.fleet.commit(() => {
    d.fleet.updateInstance(i.id, { state: 'creating', flavor: res.flavor, version: res.version, containerId: res.containerId });
    d.fleet.store.instanceTls.set(i.id, { tls: res.tls, required: res.tlsRequired });
  });
  if (res.state === 'running') answered.add(i.id);
  return { containerId: res.containerId, flavor: res.flavor, version: res.version };
}

async function verifyRunning(d: OperationDeps, ctx: Ctx, answered: Set<string>): Promise<void> {
  const id = instanceIdOf(ctx);
  if (!answered.delete(id)) {
    const i = mustInstance(d, id);
    const res = await d.agents.for(i.node).inspectInstance({ id: i.id });
    if (res.state !== 'running') throw new Error(`container is ${res.state}, not running`);
  }
  await d.fleet.commit(() => d.fleet.updateInstance(id, { state: 'running', message: '' }));
}

// Whatever the agent made (directories, an init container, a half-started mysqld) goes.
// keepStartedData: files on which mysqld has run stay where they are (the answer says so).
export async function removeContainer(d: OperationDeps, id: string, keepStartedData = false): Promise<{ dataKept: boolean; dataPath: string }> {
  const i = d.fleet.store.instances.get(id);
  if (!i) return { dataKept: false, dataPath: '' };
  const r = await d.agents.for(i.node).removeInstance({ id, node: i.node, diskPath: i.diskPath, keepStartedData }, d.agentRemoveDeadlineMs ?? 120_000);
  return { dataKept: r.dataKept, dataPath: r.dataPath };
}

export const DATA_KEPT = 'create failed after mysqld had started';
export const dataKept = (i: InstanceRow) => i.state === 'failed' && i.message.startsWith(DATA_KEPT);

// Once mysqld has come up on the new data directory a client may already have written to it:
// an undo never throws that away. The container goes; the data and the reservation (its port
// and disk) stay, and the instance is failed with the path, until the DBA decides: the same
// CreateInstance again retries on this data, a DeleteInstance moves it to the trash. Throwing
// here stops the undo before the reservation is released.
async function keepData(d: OperationDeps, ctx: Ctx): Promise<void> {
  const id = instanceIdOf(ctx);
  const { dataKept: kept, dataPath } = await removeContainer(d, id, true);
  if (!kept) return;
  const i = mustInstance(d, id);
  const where = `${i.node}:${dataPath}`;
  d.fleet.change(() => {
    d.fleet.updateInstance(id, { state: 'failed', containerId: '', message: `${DATA_KEPT} (${ctx.failure}): container removed, data kept at ${where}; create it again with the same name and shape to retry on this data, or delete it (the data goes to the trash)` });
    d.fleet.event('create.data_kept', id, `data of ${i.name} kept at ${where}`);
  });
  throw new Error(`container removed, data kept at ${where} (mysqld had started on it): the reservation stays`);
}
