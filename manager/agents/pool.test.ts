import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { NodesTable } from '../store/nodes';
import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import type { AsyncClient } from '../../src/rpc';
import { AgentPool, orderedAgent } from './pool';

describe('AgentPool', () => {
  it('following registrations, reads a node address once and again only after the node registers', () => {
    let address = '127.0.0.9:7401';
    let reads = 0;
    const nodes = { get: (name: string) => (reads++, name === 'a' ? { name, agentAddress: address } : undefined) } as unknown as NodesTable;
    const events = new EventEmitter();
    const pool = new AgentPool(nodes);
    pool.followRegistrations((l) => events.on('e', l));
    const first = pool.for('a');
    expect(pool.for('a')).toBe(first);
    expect(reads).toBe(1);
    events.emit('e', { kind: 'node.cordoned', subject: 'a' });
    pool.for('a');
    expect(reads).toBe(1);
    address = '127.0.0.9:7402';
    events.emit('e', { kind: 'node.registered', subject: 'a' });
    expect(pool.for('a')).not.toBe(first);
    expect(reads).toBe(2);
    expect(() => pool.for('b')).toThrow(/not registered/);
    pool.close();
  });

  it('without it, reads the address on every call (as before)', () => {
    let reads = 0;
    const nodes = { get: (name: string) => (reads++, { name, agentAddress: '127.0.0.9:7401' }) } as unknown as NodesTable;
    const pool = new AgentPool(nodes);
    pool.for('a');
    pool.for('a');
    expect(reads).toBe(2);
    pool.close();
  });
});

describe('orderedAgent (agent/write-gate.ts is the other half)', () => {
  it('numbers every SetReadOnly when it is asked for and adds a write grant only to an open', async () => {
    const sent: Record<string, unknown>[] = [];
    const fake = { setReadOnly: async (req: Record<string, unknown>) => (sent.push(req), {}) } as unknown as AsyncClient<AgentClient>;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const agent = orderedAgent(fake, async (id) => (await held, { baseMs: 1234, grantMs: 4000, leased: id === 'p' }));
    const opening = agent.setReadOnly({ id: 'p', readOnly: false });
    // A close asked for while the open waits for its grant is numbered after it, and sent first.
    await agent.setReadOnly({ id: 'p', readOnly: true });
    release();
    await opening;
    expect(sent.map((r) => r.readOnly)).toEqual([true, false]);
    const [close, open] = sent as [{ seq: number }, { seq: number }];
    expect(close.seq).toBeGreaterThan(open.seq);
    expect(close).not.toHaveProperty('grantBaseMs');
    expect(open).toMatchObject({ id: 'p', grantBaseMs: 1234, grantMs: 4000, leased: true });
  });
});
