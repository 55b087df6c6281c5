import { describe, expect, it } from 'vitest';
import { Store } from '../store/index';
import { toInstance, toOperation } from './convert';

describe('API conversions', () => {
  it('shows an operation with its parameters, subjects, progress, outputs, parent and the step being undone', () => {
    const store = Store.open(':memory:');
    store.operations.insert({ id: 'op-parent', type: 'drain', params: { node: 'n1' }, subjects: [{ kind: 'node', name: 'n1' }], steps: ['migrate-all'] });
    store.operations.insert({ id: 'op-child', type: 'migrate', params: { instanceId: 'i-1' }, subjects: [{ kind: 'instance', name: 'i-1' }], steps: ['choose', 'copy'], parentId: 'op-parent', childKey: 'i-1' });
    store.operations.stepDone('op-child', 0, { target: 'n2' });
    store.operations.setProgress('op-child', { bytesDone: 5, bytesTotal: 10, phase: 'copying' });
    store.operations.startRollback('op-child', 1, 'copy: stream broken', 'stream broken');
    const child = toOperation(store.operations.get('op-child')!);
    expect(child).toMatchObject({
      type: 'migrate',
      instanceId: 'i-1',
      state: 'rolling_back',
      params: '{"instanceId":"i-1"}',
      subjects: [{ kind: 'instance', name: 'i-1' }],
      progress: { bytesDone: 5, bytesTotal: 10, phase: 'copying' },
      outputs: { choose: '{"target":"n2"}' },
      parentId: 'op-parent',
      undoingStep: 'copy',
      committed: false,
    });
    expect(toOperation(store.operations.get('op-parent')!)).toMatchObject({ instanceId: '', childIds: ['op-child'], progress: { bytesDone: 5, bytesTotal: 10 } });
  });

  it('fills the anti-affinity group under its new and its old name', () => {
    const store = Store.open(':memory:');
    store.nodes.register({ name: 'n1', agentAddress: 'x:1', host: '127.0.0.1', labels: {}, cpuMillis: 1000, memoryBytes: 1e9, portMin: 3301, portMax: 3302, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: 1, disks: [{ path: '/d', totalBytes: 1e10, freeBytes: 1e10 }] });
    const row = store.instances.insert({ id: 'i-1', name: 'db', serverId: 1, node: 'n1', diskPath: '/d', port: 3301, cpuMillis: 100, memoryBytes: 1, diskBytes: 1, image: 'x', state: 'running', adminUser: 'a', adminPassword: 'p', antiAffinityGroup: 'orders' });
    expect(toInstance(row, { host: '127.0.0.1', up: true })).toMatchObject({ antiAffinityGroup: 'orders', cluster: 'orders' });
  });
});
