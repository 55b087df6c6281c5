import type { OperationDeps } from './deps';
import { agentCreateRequest, instanceIdOf, mustInstance } from './deps';
import type { InstanceRow } from '../store/instances';
import type { OperationType, StepContext } from './types';

export interface CreateParams {
  instanceId: string;
}

type Ctx = StepContext<CreateParams>;

// Builds a reserved instance on its node. The reservation (step 0) is made and recorded in the
// transaction that records the operation (see InstanceOps.reserve); undoing it frees it.
export function createOperation(d: OperationDeps): OperationType<CreateParams> {
  const fleet = d.fleet;
  // Instances whose agent answered this process's create with a running container (the agent
  // answers only once mysqld took a login): verify-running needs no second call for them. Held
  // in memory only, so after a restart verify-running asks the agent.
  const answered = new Set<string>();
  return {
    type: 'create',
    // The row is gone when the undos worked. When they did not (the node went silent, say), the
    // reservation stays and the instance says what is left to clean: delete retries it.
    // An instance whose data was kept already says so (keepData).
    failed: (ctx, f) => {
      const i = fleet.store.instances.get(instanceIdOf(ctx));
      if (!f.clean && i && !dataKept(i)) fleet.updateInstance(i.id, { state: 'failed', message: `create failed and was not fully undone: ${f.error}` });
    },
    steps: [
      { name: 'reserve', run: async () => undefined, undo: async (ctx) => void fleet.releaseInstance(instanceIdOf(ctx)) },
      { name: 'create-container', run: (ctx) => createContainer(d, ctx, answered), undo: (ctx) => (answered.delete(instanceIdOf(ctx)), keepData(d, ctx)) },
      { name: 'verify-running', run: (ctx) => verifyRunning(d, ctx, answered) },
    ],
  };
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
