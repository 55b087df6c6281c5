import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { UsageMap } from '../state/usage';
import { FleetState } from '../state/fleet';
import { Store } from '../store/index';
import { createInstance, fleetEngine } from '../../test/harness/operation-types';
import type { ResizeRequest } from './resize';

const G = 1024 ** 3;
const shape = { cpuMillis: 1000, memoryBytes: G, diskBytes: 10 * G };

// An agent that applies resizes in memory and answers with what it "read back".
class FakeAgent {
  calls: string[] = [];
  // Fails resizes to this many bytes of memory.
  failResize?: { memoryBytes: number; error: string };
  async createInstance(r: { id: string }) {
    return { containerId: `c-${r.id}`, flavor: 'mariadb', version: '10.11.0' };
  }
  async inspectInstance() {
    return { state: 'running' };
  }
  async removeInstance() {
    return { existed: true };
  }
  async resizeInstance(r: { id: string; resources: { cpuMillis: number; memoryBytes: number } }) {
    this.calls.push(`resize ${r.resources.memoryBytes / G}G`);
    if (this.failResize?.memoryBytes === r.resources.memoryBytes) throw new Error(this.failResize.error);
    const m = r.resources.memoryBytes;
    return { nanoCpus: r.resources.cpuMillis * 1e6, memoryBytes: m, memorySwapBytes: m, bufferPoolBytes: m / 2, maxConnections: 100, uptimeSeconds: 10, applyMs: 5 };
  }
}

async function setup() {
  const fleet = FleetState.load(Store.open(':memory:'));
  const node = (name: string) => ({ name, agentAddress: `${name}:1`, host: '127.0.0.9', labels: {}, cpuMillis: 4000, memoryBytes: 4 * G, portMin: 3301, portMax: 3310, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: Date.now(), disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] });
  fleet.registerNode(node('a'), []);
  const agent = new FakeAgent();
  const { engine } = fleetEngine(fleet, { for: () => agent }, { usage: new UsageMap() });
  const x = { resize: (r: ResizeRequest) => engine.submit('resize', r) };
  const made = await Promise.all(['one', 'two'].map(async (name) => {
    const { instance, operation } = await createInstance(engine, fleet, { name, shape, node: 'a' });
    expect((await engine.wait(operation.id, 5000))!.state).toBe('succeeded');
    return instance;
  }));
  return { fleet, agent, engine, x, made };
}

describe('resize operation (in place)', () => {
  it('reserves the new shape with the operation, applies it through the agent, records what was read back', async () => {
    const { fleet, agent, engine, x, made } = await setup();
    const op = await x.resize({ instance: 'one', change: { memoryBytes: 2 * G }, mode: 'auto' });
    expect(op).toMatchObject({ type: 'resize', params: { decision: 'in-place', from: shape, to: { ...shape, memoryBytes: 2 * G } } });
    // Reserved at once, before the agent was asked.
    expect(fleet.snapshot.get('a')!.allocated.memoryBytes).toBe(3 * G);
    const done = await engine.wait(op.id, 5000);
    expect(done!.state).toBe('succeeded');
    expect(JSON.parse(done!.steps[0]!.output)).toMatchObject({ memoryBytes: 2 * G, bufferPoolBytes: G });
    expect(agent.calls).toEqual(['resize 2G']);
    expect(fleet.store.instances.get(made[0]!.id)!.memoryBytes).toBe(2 * G);
  });

  it('two resizes for the last memory: the second is refused in the same synchronous check', async () => {
    const { fleet, x } = await setup();
    // 4G offered, 2G taken: each asks for 1.5G more.
    // Submitted in one turn: admitted one after the other in the same group commit.
    const first = x.resize({ instance: 'one', change: { memoryBytes: 2.5 * G }, mode: 'in-place' });
    await expect(x.resize({ instance: 'two', change: { memoryBytes: 2.5 * G }, mode: 'in-place' })).rejects.toThrow(expect.objectContaining({ code: status.RESOURCE_EXHAUSTED, message: expect.stringMatching(/memory/) }));
    expect(fleet.snapshot.get('a')!.allocated.memoryBytes).toBe(3.5 * G);
    await first;
  });

  it('a failed apply gives the old shape back (reservation and agent)', async () => {
    const { fleet, agent, engine, x, made } = await setup();
    agent.failResize = { memoryBytes: 2 * G, error: 'docker said no' };
    const op = await x.resize({ instance: 'one', change: { memoryBytes: 2 * G }, mode: 'in-place' });
    const done = await engine.wait(op.id, 20_000);
    expect(done!.state).toBe('failed');
    expect(agent.calls).toEqual(['resize 2G', 'resize 2G', 'resize 2G', 'resize 1G']);
    expect(fleet.store.instances.get(made[0]!.id)!.memoryBytes).toBe(G);
    expect(fleet.snapshot.get('a')!.allocated.memoryBytes).toBe(2 * G);
  }, 30_000);

  it('an agent that cannot go back either: the bigger reservation is kept (the limits may be the new ones)', async () => {
    const { fleet, agent, engine, x } = await setup();
    agent.failResize = { memoryBytes: 2 * G, error: 'docker said no' };
    const op = await x.resize({ instance: 'one', change: { memoryBytes: 2 * G }, mode: 'in-place' });
    agent.resizeInstance = async () => {
      throw new Error('agent gone');
    };
    const done = await engine.wait(op.id, 20_000);
    expect(done!.state).toBe('failed');
    expect(done!.error).toMatch(/left behind/);
    expect(fleet.snapshot.get('a')!.allocated.memoryBytes).toBe(3 * G);
  }, 30_000);

  it('the current shape: an operation recorded done, nothing asked of the agent', async () => {
    const { agent, engine, x } = await setup();
    const op = await x.resize({ instance: 'one', change: { memoryBytes: G }, mode: 'auto' });
    expect((await engine.wait(op.id, 5000))!.state).toBe('succeeded');
    expect(agent.calls).toEqual([]);
  });

  it('a resize while another operation holds the instance is refused, naming it', async () => {
    const { x } = await setup();
    const first = await x.resize({ instance: 'one', change: { memoryBytes: 1.5 * G }, mode: 'in-place' });
    await expect(x.resize({ instance: 'one', change: { cpuMillis: 2000 }, mode: 'in-place' })).rejects.toThrow(expect.objectContaining({ code: status.FAILED_PRECONDITION, message: expect.stringContaining(first.id) }));
  });
});
