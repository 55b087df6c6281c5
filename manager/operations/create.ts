import type { OperationDeps } from './deps';
import { instanceIdOf, mustInstance } from './deps';
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
    failed: (ctx, f) => {
      const id = instanceIdOf(ctx);
      if (!f.clean && fleet.store.instances.get(id)) fleet.updateInstance(id, { state: 'failed', message: `create failed and was not fully undone: ${f.error}` });
    },
    steps: [
      { name: 'reserve', run: async () => undefined, undo: async (ctx) => void fleet.releaseInstance(instanceIdOf(ctx)) },
      { name: 'create-container', run: (ctx) => createContainer(d, ctx, answered), undo: (ctx) => (answered.delete(instanceIdOf(ctx)), removeContainer(d, instanceIdOf(ctx))) },
      { name: 'verify-running', run: (ctx) => verifyRunning(d, ctx, answered) },
    ],
  };
}

async function createContainer(d: OperationDeps, ctx: Ctx, answered: Set<string>): Promise<{ containerId: string; flavor: string; version: string }> {
  const i = mustInstance(d, instanceIdOf(ctx));
  // Group-committed (state/fleet.ts commit): a burst of creates shares its fsyncs.
  await d.fleet.commit(() => d.fleet.updateInstance(i.id, { state: 'creating' }));
  const res = await d.agents.for(i.node).createInstance(
    {
      id: i.id,
      name: i.name,
      image: i.image,
      resources: { cpuMillis: i.cpuMillis, memoryBytes: i.memoryBytes, diskBytes: i.diskBytes },
      port: i.port,
      diskPath: i.diskPath,
      serverId: i.serverId,
      adminUser: i.adminUser,
      adminPassword: i.adminPassword,
    },
    d.agentCreateDeadlineMs,
  );
  await d.fleet.commit(() => d.fleet.updateInstance(i.id, { state: 'creating', flavor: res.flavor, version: res.version, containerId: res.containerId }));
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
export async function removeContainer(d: OperationDeps, id: string): Promise<void> {
  const i = d.fleet.store.instances.get(id);
  if (i) await d.agents.for(i.node).removeInstance({ id, node: i.node, diskPath: i.diskPath }, d.agentRemoveDeadlineMs ?? 120_000);
}
