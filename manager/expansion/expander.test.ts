import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { UsageMap } from '../state/usage';
import { createInstance, fleetEngine } from '../../test/harness/operation-types';
import { FleetState } from '../state/fleet';
import { Store } from '../store/index';
import { Expander } from './expander';
import { DEFAULT_POLICY, type AutoExpandMode } from './policy';

const M = 1024 ** 2;
const G = 1024 ** 3;

const agent = {
  createInstance: async (r: { id: string }) => ({ containerId: `c-${r.id}`, flavor: 'mariadb', version: '10.11.0' }),
  inspectInstance: async () => ({ state: 'running' }),
  resizeInstance: async (r: { resources: { cpuMillis: number; memoryBytes: number } }) => ({ nanoCpus: r.resources.cpuMillis * 1e6, memoryBytes: r.resources.memoryBytes, memorySwapBytes: r.resources.memoryBytes, bufferPoolBytes: 0, maxConnections: 100, uptimeSeconds: 1, applyMs: 1 }),
};

async function setup(mode: AutoExpandMode) {
  const fleet = FleetState.load(Store.open(':memory:'));
  fleet.registerNode({ name: 'a', agentAddress: 'a:1', host: '127.0.0.9', labels: {}, cpuMillis: 4000, memoryBytes: 8 * G, portMin: 3301, portMax: 3310, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: Date.now(), disks: [{ path: '/d', totalBytes: 10 * G, freeBytes: 9 * G }] }, []);
  const usage = new UsageMap();
  const { engine, deps } = fleetEngine(fleet, { for: () => agent }, { usage });
  const { instance, operation } = await createInstance(engine, fleet, { name: 'db', shape: { cpuMillis: 500, memoryBytes: G, diskBytes: G }, node: 'a' });
  await engine.wait(operation.id, 5000);
  const events: string[] = [];
  fleet.onEvent((e) => e.kind.startsWith('expansion.') && events.push(`${e.kind} ${e.message}`));
  const expander = new Expander({ fleet, engine, usage, ops: deps, log: createLogger('test', 'silent') }, { ...DEFAULT_POLICY, mode });
  const report = (usedDiskBytes: number) => usage.report('a', [{ id: instance.id, usedDiskBytes, usedMemoryBytes: 100 * M, usageMeasuredAtMs: Date.now() }]);
  return { fleet, engine, instance, expander, events, report };
}

describe('Expander', () => {
  it('on: data over 80% of the reservation grows it in place, once (cooldown), with an event and a listed decision', async () => {
    const { fleet, engine, instance, expander, events, report } = await setup('on');
    report(500 * M);
    expect(await expander.tick()).toEqual([]);
    report(900 * M);
    const [d] = await expander.tick();
    expect(d).toMatchObject({ instanceId: instance.id, trigger: 'disk', outcome: 'acted', change: { diskBytes: 1536 * M } });
    expect((await engine.wait(d!.operationId, 5000))!.state).toBe('succeeded');
    expect(fleet.store.instances.get(instance.id)!.diskBytes).toBe(1536 * M);
    expect(events).toEqual([expect.stringMatching(/^expansion.acted data .*\(over 80%\).*resize operation started/)]);
    // Still over 80% of the old size a moment later (usage not re-measured): cooldown.
    report(1300 * M);
    const [again] = await expander.tick();
    expect(again).toMatchObject({ outcome: 'skipped' });
    expect(again!.detail).toMatch(/cooldown/);
    expect(expander.list()[0]).toEqual(again);
  });

  it('reads only instances that can lead to a proposal: a quiet one is left alone until its disk nears pressure', async () => {
    const { fleet, instance, expander } = await setup('plan');
    const usage = (expander as unknown as { d: { usage: UsageMap } }).d.usage;
    const reads: string[] = [];
    const get = fleet.store.instances.get.bind(fleet.store.instances);
    fleet.store.instances.get = (id: string) => (reads.push(id), get(id));
    const all = fleet.store.instances.all.bind(fleet.store.instances);
    fleet.store.instances.all = () => (reads.push('all'), all());
    const beat = (freeBytes: number) => {
      usage.report('a', [{ id: instance.id, usedDiskBytes: 100 * M, usedMemoryBytes: 100 * M, usageMeasuredAtMs: Date.now(), resources: { diskBytes: G, memoryBytes: G } }]);
      fleet.snapshot.touch('a', Date.now(), [{ path: '/d', totalBytes: 10 * G, freeBytes }]);
    };
    beat(9 * G);
    expect(await expander.tick()).toEqual([]);
    expect(reads).toEqual([]);
    // Under the pressure threshold (10% free): its instances are looked at and moved off.
    beat(512 * M);
    const [d] = await expander.tick();
    expect(d).toMatchObject({ instanceId: instance.id, trigger: 'disk-pressure', outcome: 'planned' });
  });

  it('plan: decides and lists, changes nothing', async () => {
    const { fleet, instance, expander, report } = await setup('plan');
    report(900 * M);
    const [d] = await expander.tick();
    expect(d).toMatchObject({ outcome: 'planned', operationId: '' });
    expect(d!.detail).toMatch(/^in-place/);
    expect(fleet.store.instances.get(instance.id)!.diskBytes).toBe(G);
  });
});
