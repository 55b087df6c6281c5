import { createLogger, type Logger } from '../../src/log';
import type { NewInstance } from '../../manager/operations/create';
import type { OperationDeps } from '../../manager/operations/deps';
import type { RequestKey } from '../../manager/operations/request-scope';
import { registerOperationTypes } from '../../manager/operations/index';
import { DEFAULT_SCHEDULER_CONFIG } from '../../manager/scheduler/types';
import { Engine, type EngineOptions } from '../../manager/operations/engine';
import type { IfBusy, OperationType, Subject } from '../../manager/operations/types';
import { FleetState } from '../../manager/state/fleet';
import type { Store } from '../../manager/store/index';

// Operation types made up by the engine's own tests: admitted as asked (the subjects and the
// busy rule come with the request), so a test states only its steps.
export interface TestRequest {
  params?: Record<string, unknown>;
  subjects: Subject[];
  ifBusy?: IfBusy;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TestType = Omit<OperationType<any, TestRequest>, 'admit'>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TestTypes = Record<string, OperationType<any, TestRequest>>;

export function withAdmit(t: TestType): TestTypes[string] {
  return { admit: (r) => ({ params: r.params ?? {}, subjects: r.subjects, ifBusy: r.ifBusy ?? 'wait' }), ...t };
}

export function testEngine(store: Store, log: Logger, types: TestType[] = [], opts?: EngineOptions): Engine<TestTypes> {
  const engine = new Engine<TestTypes>(FleetState.load(store), log, opts);
  for (const t of types) engine.register(withAdmit(t));
  return engine;
}

// The manager's own operation types over a fleet and (fake) agents, as main.ts wires them.
export function fleetEngine(fleet: FleetState, agents: unknown, o: Partial<OperationDeps> & EngineOptions = {}): { engine: Engine; deps: OperationDeps } {
  const { rollForwardRetries, rollForwardBackoffMs, ...over } = o;
  const deps: OperationDeps = { fleet, agents: agents as OperationDeps['agents'], defaultImage: 'img', adminUser: 'admin', scheduler: DEFAULT_SCHEDULER_CONFIG, agentCreateDeadlineMs: 1000, ...over };
  const engine = new Engine(fleet, createLogger('test', 'silent'), { rollForwardRetries, rollForwardBackoffMs });
  registerOperationTypes(engine, deps);
  return { engine, deps };
}

// A create as the portal submits it, answered with the instance it reserved.
export async function createInstance(engine: Engine, fleet: FleetState, req: NewInstance, request?: RequestKey) {
  const operation = await engine.submit('create', req, { request });
  return { instance: fleet.store.instances.get(operation.params.instanceId)!, operation };
}
